package cmem

/*
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrDoubleFree is returned by Free on memory that was already freed.
var ErrDoubleFree = errors.New("cmem: memory already freed")

var live atomic.Int64

// Live returns the number of Bufs and Iovecs allocated and not yet freed.
func Live() int64 { return live.Load() }

// Buf is a zeroed, aligned block of C memory.
type Buf struct {
	mu sync.Mutex
	p  unsafe.Pointer
	n  int
	// mapped is the length of the anonymous mapping at p behind a large Buf
	// (mmapMin and up), 0 for one from posix_memalign.
	mapped uintptr
}

// mmapMin is the size from which Alloc maps fresh anonymous memory instead
// of calling posix_memalign and memset: the kernel's pages are zero already
// and are only committed when touched, so a large O_DIRECT buffer costs no
// resident memory, and no time, until it is used. (glibc's malloc maps such
// sizes itself, from 128 KiB, but posix_memalign's contract does not say
// the memory is zero, so it would still have to be cleared page by page.)
const mmapMin = 128 << 10

// Alloc returns size bytes of zeroed C memory aligned to align bytes. align
// must be a power of two and a multiple of the pointer size, and size must
// be positive: otherwise it returns unix.EINVAL, as posix_memalign does. Out
// of memory gives unix.ENOMEM. Below 128 KiB the memory comes from
// posix_memalign(3) and is cleared with memset; from 128 KiB it is a fresh
// anonymous mmap(2) (trimmed to align where align is above the page size),
// whose pages the kernel commits, zeroed, when they are first touched.
func Alloc(size, align int) (*Buf, error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 || align%int(unsafe.Sizeof(uintptr(0))) != 0 {
		return nil, unix.EINVAL
	}
	if size >= mmapMin {
		return allocMapped(size, align)
	}
	var p unsafe.Pointer
	if rc := C.posix_memalign(&p, C.size_t(align), C.size_t(size)); rc != 0 {
		return nil, unix.Errno(rc)
	}
	C.memset(p, 0, C.size_t(size))
	live.Add(1)
	return &Buf{p: p, n: size}, nil
}

// allocMapped is Alloc from mmapMin up: an anonymous private mapping of
// size bytes (rounded up to pages), aligned to align by mapping align more
// and unmapping the ends.
func allocMapped(size, align int) (*Buf, error) {
	page := unix.Getpagesize()
	length := (size + page - 1) &^ (page - 1)
	extra := 0
	if align > page {
		extra = align
	}
	if length+extra < size { // overflow
		return nil, unix.ENOMEM
	}
	// MmapPtr and MunmapPtr, not Mmap and Munmap: unix.Munmap unmaps only a
	// whole mapping that unix.Mmap returned, and refused (EINVAL, nothing
	// unmapped) both the trimming of the ends and Free's munmap of the
	// trimmed middle, so every Buf aligned above the page size leaked its
	// mapping and the ends.
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(length+extra), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	if extra > 0 {
		head := int((uintptr(align) - uintptr(p)%uintptr(align)) % uintptr(align))
		if head > 0 {
			unix.MunmapPtr(p, uintptr(head))
		}
		if tail := extra - head; tail > 0 {
			unix.MunmapPtr(unsafe.Add(p, head+length), uintptr(tail))
		}
		p = unsafe.Add(p, head)
	}
	live.Add(1)
	return &Buf{p: p, n: size, mapped: uintptr(length)}, nil
}

// Bytes returns the memory as a slice, or nil after Free.
func (b *Buf) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(b.p), b.n)
}

// Ptr returns the address of the memory, or nil after Free.
func (b *Buf) Ptr() unsafe.Pointer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p
}

// Len returns the size given to Alloc.
func (b *Buf) Len() int { return b.n }

// Free releases the memory (free(3), or munmap(2) for a mapped Buf). The
// caller must make sure no operation still uses it. A second Free returns
// ErrDoubleFree.
func (b *Buf) Free() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.p == nil {
		return ErrDoubleFree
	}
	if b.mapped != 0 {
		unix.MunmapPtr(b.p, b.mapped)
		b.mapped = 0
	} else {
		C.free(b.p)
	}
	b.p = nil
	live.Add(-1)
	return nil
}
