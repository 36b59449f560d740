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
}

// Alloc returns size bytes of zeroed C memory aligned to align bytes
// (posix_memalign). align must be a power of two and a multiple of the
// pointer size, and size must be positive: otherwise it returns
// unix.EINVAL, as posix_memalign does. Out of memory gives unix.ENOMEM.
func Alloc(size, align int) (*Buf, error) {
	if size <= 0 || align <= 0 {
		return nil, unix.EINVAL
	}
	var p unsafe.Pointer
	if rc := C.posix_memalign(&p, C.size_t(align), C.size_t(size)); rc != 0 {
		return nil, unix.Errno(rc)
	}
	C.memset(p, 0, C.size_t(size))
	live.Add(1)
	return &Buf{p: p, n: size}, nil
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

// Free releases the memory (free(3)). The caller must make sure no operation
// still uses it. A second Free returns ErrDoubleFree.
func (b *Buf) Free() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.p == nil {
		return ErrDoubleFree
	}
	C.free(b.p)
	b.p = nil
	live.Add(-1)
	return nil
}
