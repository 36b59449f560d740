package cmem

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestAlloc(t *testing.T) {
	before := Live()
	for _, align := range []int{8, 512, 4096, 1 << 20} {
		b, err := Alloc(12345, align)
		if err != nil {
			t.Fatalf("Alloc(12345, %d): %v", align, err)
		}
		if uintptr(b.Ptr())%uintptr(align) != 0 {
			t.Errorf("align %d: address %p", align, b.Ptr())
		}
		bs := b.Bytes()
		if len(bs) != 12345 || b.Len() != 12345 {
			t.Errorf("len %d", len(bs))
		}
		for i, c := range bs {
			if c != 0 {
				t.Fatalf("byte %d not zeroed", i)
			}
		}
		bs[12344] = 1
		if err := b.Free(); err != nil {
			t.Fatal(err)
		}
		if err := b.Free(); err != ErrDoubleFree {
			t.Fatalf("second Free: %v", err)
		}
		if b.Bytes() != nil || b.Ptr() != nil {
			t.Fatal("memory visible after Free")
		}
	}
	if Live() != before {
		t.Fatalf("live %d -> %d", before, Live())
	}
}

func TestAllocBadInput(t *testing.T) {
	for _, c := range []struct{ size, align int }{{0, 4096}, {-1, 4096}, {4096, 0}, {4096, 3}, {4096, 4}, {4096, 4097}} {
		if b, err := Alloc(c.size, c.align); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Alloc(%d, %d) = %v, %v; want EINVAL", c.size, c.align, b, err)
		}
	}
	if _, err := Alloc(1<<62, 4096); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("huge Alloc: %v, want ENOMEM", err)
	}
}

func TestIovecsWithPreadv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("hello, iovec world"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	a, b, c := make([]byte, 5), []byte{}, make([]byte, 13)
	v, err := NewIovecs([][]byte{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	n, _, errno := unix.Syscall6(unix.SYS_PREADV, uintptr(fd), uintptr(v.Ptr()), uintptr(v.Len()), 0, 0, 0)
	if errno != 0 || n != 18 || string(a) != "hello" || string(c) != ", iovec world" {
		t.Fatalf("preadv = %d %v: %q %q", n, errno, a, c)
	}
	if err := v.Free(); err != nil {
		t.Fatal(err)
	}
	if err := v.Free(); err != ErrDoubleFree {
		t.Fatalf("second Free: %v", err)
	}
	if _, err := NewIovecs(make([][]byte, 1025)); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("1025 iovecs: %v", err)
	}
}

func TestDirectIOAlign(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
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
	mem, off, err := DirectIOAlign(fd)
	if err != nil {
		t.Fatal(err)
	}
	// Not a descriptor: -100 (AT_FDCWD to statx, the working directory),
	// -1, and fd + 2^32 (fd to a 32-bit int).
	for _, bad := range []int{-100, -1, fd + 1<<32} {
		if _, _, err := DirectIOAlign(bad); err != unix.EBADF {
			t.Errorf("DirectIOAlign(%d) = %v, want EBADF", bad, err)
		}
	}
	if mem == 0 || off == 0 || mem&(mem-1) != 0 || off&(off-1) != 0 {
		t.Fatalf("alignment mem=%d offset=%d", mem, off)
	}
	// The reported alignment works: an aligned O_DIRECT read succeeds.
	b, err := Alloc(8192, int(max(mem, 8)))
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
