package cmem

/*
#include <stdlib.h>
#include <sys/uio.h>
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Iovecs is an array of struct iovec in C memory describing Go buffers.
// The buffers are pinned (runtime.Pinner) for as long as the array lives,
// so the kernel may read the array and use the buffers until Free.
type Iovecs struct {
	mu     sync.Mutex
	p      *C.struct_iovec
	n      int
	pinner runtime.Pinner
}

// NewIovecs builds an iovec array for bufs in C memory (calloc(3); ENOMEM
// when it fails) and pins every non-empty buffer until Free. Empty buffers
// get a nil base and zero length; nil or empty bufs gives an array of
// length 0 (Len 0) that Free still releases. More than IOV_MAX (1024)
// buffers give unix.EINVAL, as preadv(2) would.
func NewIovecs(bufs [][]byte) (*Iovecs, error) {
	if len(bufs) > 1024 {
		return nil, unix.EINVAL
	}
	n := len(bufs)
	if n == 0 {
		n = 1
	}
	p := (*C.struct_iovec)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.struct_iovec{}))))
	if p == nil {
		return nil, unix.ENOMEM
	}
	v := &Iovecs{p: p, n: len(bufs)}
	arr := unsafe.Slice(p, n)
	for i, b := range bufs {
		if len(b) == 0 {
			continue
		}
		base := unsafe.SliceData(b)
		v.pinner.Pin(base)
		arr[i].iov_base = unsafe.Pointer(base)
		arr[i].iov_len = C.size_t(len(b))
	}
	live.Add(1)
	return v, nil
}

// Ptr returns the address of the first struct iovec (nil after Free).
func (v *Iovecs) Ptr() unsafe.Pointer {
	v.mu.Lock()
	defer v.mu.Unlock()
	return unsafe.Pointer(v.p)
}

// Len returns the number of iovecs.
func (v *Iovecs) Len() int { return v.n }

// Free unpins the buffers and frees the array. A second Free returns
// ErrDoubleFree.
func (v *Iovecs) Free() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.p == nil {
		return ErrDoubleFree
	}
	C.free(unsafe.Pointer(v.p))
	v.p = nil
	v.pinner.Unpin()
	live.Add(-1)
	return nil
}
