package cmem

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAlloc(t *testing.T) {
	before := Live()
	// Below mmapMin (posix_memalign), at it and above (mmap, trimmed to
	// alignments above the page size), with a size that is no multiple of
	// the page.
	for _, size := range []int{12345, mmapMin, mmapMin + 12345, 3<<20 + 1} {
		for _, align := range []int{8, 512, 4096, 1 << 16, 1 << 20} {
			b, err := Alloc(size, align)
			if err != nil {
				t.Fatalf("Alloc(%d, %d): %v", size, align, err)
			}
			if uintptr(b.Ptr())%uintptr(align) != 0 {
				t.Errorf("Alloc(%d, %d): address %p", size, align, b.Ptr())
			}
			bs := b.Bytes()
			if len(bs) != size || b.Len() != size {
				t.Errorf("Alloc(%d, %d): len %d", size, align, len(bs))
			}
			for i, c := range bs {
				if c != 0 {
					t.Fatalf("Alloc(%d, %d): byte %d not zeroed", size, align, i)
				}
			}
			bs[0], bs[size-1] = 1, 1
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
	}
	if Live() != before {
		t.Fatalf("live %d -> %d", before, Live())
	}
}

// A large Alloc commits no memory until it is touched: 256 MiB of it leave
// the resident set (statm) almost as it was, where posix_memalign and
// memset made all of it resident at once.
func TestAllocLargeNotResident(t *testing.T) {
	rss := func() int {
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			t.Fatal(err)
		}
		var size, res int
		if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
			t.Fatal(err)
		}
		return res * os.Getpagesize()
	}
	r0 := rss()
	b, err := Alloc(256<<20, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	if grew := rss() - r0; grew > 16<<20 {
		t.Errorf("Alloc(256 MiB) made %d MiB resident before any use", grew>>20)
	}
	// Touched pages are there, zeroed, and hold what is written.
	bs := b.Bytes()
	for i := 0; i < len(bs); i += 1 << 20 {
		if bs[i] != 0 {
			t.Fatalf("byte %d not zero", i)
		}
		bs[i] = byte(i >> 20)
	}
	for i := 0; i < len(bs); i += 1 << 20 {
		if bs[i] != byte(i>>20) {
			t.Fatalf("byte %d lost its value", i)
		}
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
