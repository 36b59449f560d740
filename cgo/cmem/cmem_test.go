package cmem

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

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
