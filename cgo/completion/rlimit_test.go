package completion_test

import (
	"errors"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestRlimitAS: CheckGoAlloc refuses, with ENOMEM, the Go memory of a
// table of MaxTableSize slots (128 MiB) in a child process whose address
// space has 100 MiB left, where the runtime's allocation would end the
// process; it allows a 4 MiB one, and everything without the limit. (Not
// less room: the runtime may reserve a new 64 MiB heap arena, and its
// metadata, at any moment, and dies if that fails.)
func TestRlimitAS(t *testing.T) {
	big := completion.TableBytes(completion.MaxTableSize)
	if big != 128<<20 {
		t.Errorf("TableBytes(MaxTableSize) = %d, want 128 MiB", big)
	}
	if !testutil.InChild(t) {
		if err := completion.CheckGoAlloc(big); err != nil {
			t.Errorf("CheckGoAlloc(%d) without a limit: %v", big, err)
		}
		return
	}
	testutil.LimitAddressSpace(t, 100<<20)
	if err := completion.CheckGoAlloc(big); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("CheckGoAlloc(%d) with 100 MiB of address space left: %v, want ENOMEM", big, err)
	}
	if err := completion.CheckGoAlloc(4 << 20); err != nil {
		t.Errorf("CheckGoAlloc(4 MiB) with 100 MiB of address space left: %v", err)
	}
	tab := completion.NewTable(1024)
	tab.Close()
}
