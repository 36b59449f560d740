package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestKernelVersion(t *testing.T) {
	ma, mi := KernelVersion()
	if ma < 2 || mi < 0 {
		t.Fatalf("KernelVersion() = %d.%d from %q", ma, mi, Release())
	}
	if !KernelAtLeast(ma, mi) || KernelAtLeast(ma+1, 0) || KernelAtLeast(ma, mi+1) {
		t.Fatal("KernelAtLeast disagrees with KernelVersion")
	}
}

func TestTempDirSupportsDirectIO(t *testing.T) {
	d := TempDir(t)
	p := filepath.Join(d, "x")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("O_DIRECT in TempDir %s: %v", d, err)
	}
	unix.Close(fd)
	if err := SupportsDirectIO("/dev/shm"); err == nil {
		t.Error("/dev/shm (tmpfs) accepted as an O_DIRECT disk directory")
	}
}

// TestLeakedFDs: a pipe opened after the baseline is reported with what it
// is, and nothing is once it is closed.
func TestLeakedFDs(t *testing.T) {
	primePoller()
	before := openFDs()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	leaked := leakedFDs(before)
	if len(leaked) != 2 || !strings.Contains(leaked[0], "pipe:") {
		t.Errorf("open pipe: leaked = %q, want its two ends", leaked)
	}
	unix.Close(p[0])
	unix.Close(p[1])
	if leaked := leakedFDs(before); len(leaked) != 0 {
		t.Errorf("after close: leaked = %q", leaked)
	}
}
