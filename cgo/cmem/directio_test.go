package cmem_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestDirectIOAlign is an external test because it needs testutil.TempDir
// (a disk directory that takes O_DIRECT; t.TempDir may be tmpfs), and
// testutil imports cmem.
func TestDirectIOAlign(t *testing.T) {
	path := filepath.Join(testutil.TempDir(t), "f")
	data := make([]byte, 8192)
	for i := range data {
		data[i] = byte(i%255 + 1)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Make the blocks real (not delayed allocation): a direct read of a
	// hole or delalloc range is served without the alignment check.
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("O_DIRECT open in %s: %v", path, err)
	}
	defer unix.Close(fd)
	mem, off, err := cmem.DirectIOAlign(fd)
	if err != nil {
		t.Fatal(err)
	}
	// Not a descriptor: -100 (AT_FDCWD to statx, the working directory),
	// -1, and fd + 2^32 (fd to a 32-bit int).
	for _, bad := range []int{-100, -1, fd + 1<<32} {
		if _, _, err := cmem.DirectIOAlign(bad); err != unix.EBADF {
			t.Errorf("DirectIOAlign(%d) = %v, want EBADF", bad, err)
		}
	}
	if mem == 0 || off == 0 || mem&(mem-1) != 0 || off&(off-1) != 0 {
		t.Fatalf("alignment mem=%d offset=%d", mem, off)
	}
	// The reported alignment works: an aligned O_DIRECT read succeeds.
	b, err := cmem.Alloc(8192, int(max(mem, 8)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	n, err := unix.Pread(fd, b.Bytes()[:4096], int64(off))
	if err != nil || n != 4096 {
		t.Fatalf("aligned O_DIRECT pread: %d %v", n, err)
	}
	// And a misaligned address fails with EINVAL, as the kernel says. (A
	// short misaligned read inside one page may still pass on some devices:
	// use a read that crosses a page.)
	if mem > 1 {
		bad := unsafe.Slice((*byte)(unsafe.Add(b.Ptr(), 1)), 4096)
		if _, err := unix.Pread(fd, bad, 0); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("misaligned O_DIRECT pread: %v, want EINVAL", err)
		}
	}
}
