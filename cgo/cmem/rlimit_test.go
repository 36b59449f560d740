package cmem_test

// C allocation failures for real: sizes no allocator gives, and RLIMIT_AS
// tight in a child process. Alloc returns the errno (ENOMEM), never
// panics, and counts nothing live; RLIMIT_MEMLOCK does not apply to it
// (malloc'd memory is not locked: uring's TestRlimitMemlockRegisterBuffers).

import (
	"errors"
	"math"
	"testing"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// allocFails checks that Alloc(size, align) fails with ENOMEM and leaves
// no live allocation.
func allocFails(t *testing.T, size, align int) {
	t.Helper()
	live := cmem.Live()
	b, err := cmem.Alloc(size, align)
	if b != nil || !errors.Is(err, unix.ENOMEM) {
		if b != nil {
			b.Free()
		}
		t.Errorf("Alloc(%d, %d) = %v, %v; want nil, ENOMEM", size, align, b, err)
	}
	if n := cmem.Live(); n != live {
		t.Errorf("Alloc(%d, %d) failed: live allocations %d -> %d", size, align, live, n)
	}
}

// TestAllocHuge: sizes beyond any address space fail with ENOMEM.
func TestAllocHuge(t *testing.T) {
	testutil.CheckLeaks(t)
	allocFails(t, math.MaxInt, 4096)
	allocFails(t, math.MaxInt-4095, 4096)
	allocFails(t, 1<<62, 64)
}

// TestRlimitAS, in a child process whose address space has 256 MiB left
// (room for a new malloc arena of 64 MiB): Alloc of 1 GiB (which the
// machine would give without the limit) fails with ENOMEM; 1 MiB still
// works.
func TestRlimitAS(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	testutil.CheckLeaks(t)
	testutil.LimitAddressSpace(t, 256<<20)
	for i := 0; i < 3; i++ {
		allocFails(t, 1<<30, 4096)
	}
	b, err := cmem.Alloc(1<<20, 4096)
	if err != nil {
		t.Fatalf("Alloc(1 MiB) with 256 MiB of address space left: %v", err)
	}
	b.Free()
}
