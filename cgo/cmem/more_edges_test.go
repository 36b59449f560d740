package cmem

import (
	"errors"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMoreAllocAlignments(t *testing.T) {
	before := Live()
	page := unix.Getpagesize()
	for _, size := range []int{1, 7, 4095, mmapMin - 1, mmapMin, mmapMin + 1} {
		for _, align := range []int{8, 16, 64, page, 2 * page, 1 << 21, 1 << 24} {
			b, err := Alloc(size, align)
			if err != nil {
				t.Fatalf("Alloc(%d, %d): %v", size, align, err)
			}
			if uintptr(b.Ptr())%uintptr(align) != 0 || len(b.Bytes()) != size {
				t.Errorf("Alloc(%d, %d): %p len %d", size, align, b.Ptr(), len(b.Bytes()))
			}
			bs := b.Bytes()
			for i := range bs {
				if bs[i] != 0 {
					t.Fatalf("not zero")
				}
				bs[i] = 0xff
			}
			if err := b.Free(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct{ size, align int }{{8, -8}, {8, 1}, {8, 2}, {8, 6}, {8, 24}, {8, 1 << 63 >> 1 * -1}, {mmapMin, 12}, {mmapMin, -4096}} {
		if b, err := Alloc(c.size, c.align); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Alloc(%d, %d) = %v, %v", c.size, c.align, b, err)
		}
	}
	for _, c := range []struct{ size, align int }{{8, 1 << 62}, {mmapMin, 1 << 62}, {1 << 62, 1 << 62}, {int(^uint(0) >> 1), 8}, {int(^uint(0)>>1) - mmapMin, 1 << 20}} {
		if b, err := Alloc(c.size, c.align); !errors.Is(err, unix.ENOMEM) {
			t.Errorf("Alloc(%d, %d) = %v, %v; want ENOMEM", c.size, c.align, b, err)
			if b != nil {
				b.Free()
			}
		}
	}
	if Live() != before {
		t.Fatalf("live %d -> %d", before, Live())
	}
}

func TestMoreFreeRaces(t *testing.T) {
	before := Live()
	for i := 0; i < 100; i++ {
		b, err := Alloc(4096*(1+i%64), 4096)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var ok, dbl int32
		var mu sync.Mutex
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = b.Bytes()
				_ = b.Ptr()
				err := b.Free()
				mu.Lock()
				if err == nil {
					ok++
				} else if err == ErrDoubleFree {
					dbl++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if ok != 1 || dbl != 3 {
			t.Fatalf("Free: %d ok, %d double", ok, dbl)
		}
		if b.Bytes() != nil || b.Ptr() != nil {
			t.Fatal("visible after Free")
		}
	}
	var zb Buf
	if zb.Free() != ErrDoubleFree || zb.Bytes() != nil || zb.Ptr() != nil {
		t.Fatal("zero Buf")
	}
	var zv Iovecs
	if zv.Free() != ErrDoubleFree || zv.Ptr() != nil {
		t.Fatal("zero Iovecs")
	}
	if Live() != before {
		t.Fatalf("live %d -> %d", before, Live())
	}
}

func TestMoreIovecs(t *testing.T) {
	before := Live()
	for _, bufs := range [][][]byte{nil, {}, {nil}, {{}, nil}, make([][]byte, 1024)} {
		v, err := NewIovecs(bufs)
		if err != nil {
			t.Fatal(err)
		}
		if v.Len() != len(bufs) || v.Ptr() == nil {
			t.Fatalf("len %d ptr %v", v.Len(), v.Ptr())
		}
		if err := v.Free(); err != nil {
			t.Fatal(err)
		}
		if v.Free() != ErrDoubleFree || v.Ptr() != nil {
			t.Fatal("double")
		}
	}
	// C memory (a Buf) in an iovec: Pin does nothing for it, Free unpins
	// the Go buffers.
	cb, err := Alloc(4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	g := make([]byte, 10)
	v, err := NewIovecs([][]byte{cb.Bytes(), g[3:5]})
	if err != nil {
		t.Fatal(err)
	}
	type iov struct {
		base unsafe.Pointer
		n    uintptr
	}
	arr := unsafe.Slice((*iov)(v.Ptr()), 2)
	if arr[0].base != cb.Ptr() || arr[0].n != 4096 || arr[1].base != unsafe.Pointer(&g[3]) || arr[1].n != 2 {
		t.Fatalf("iovecs %+v", arr)
	}
	v.Free()
	cb.Free()
	if Live() != before {
		t.Fatalf("live %d -> %d", before, Live())
	}
}
