package posixaio

/*
#cgo CFLAGS: -D_GNU_SOURCE
#cgo LDFLAGS: -lrt -lpthread
#include <aio.h>
#include <errno.h>
#include <stdlib.h>
#include "notify.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// liveAiocbs counts Aiocbs allocated and not yet freed (tests use it).
var liveAiocbs atomic.Int64

// Aiocb is a struct aiocb in C memory: glibc keeps its address from
// submission until the request finished, so it never lives in Go memory.
//
// This is the raw layer: as in C, the caller decides when to call Error,
// Return and Free. The Go side adds what C lacks: the buffer given to SetBuf
// stays pinned for as long as the aiocb points at it (so at least until the
// request finished and Return was called), and every method that would let
// glibc touch freed or moving memory (Free, SetBuf, the setters, a second
// submission) refuses with ErrInProgress while aio_error reports EINPROGRESS.
// An Aiocb is not safe for concurrent use, except that Error, Return and
// Cancel may be called from any goroutine while the request runs. A nil
// *Aiocb behaves as a freed one: the setters, submissions, Error, Return and
// Cancel give ErrFreed, and the getters give what they give after Free.
type Aiocb struct {
	cb     *C.struct_aiocb
	pinner runtime.Pinner
	buf    []byte
	sig    Sigevent
	// seq is odd from the moment the aiocb is handed to glibc until aio_error
	// was seen to leave EINPROGRESS; while it is even, the checks that protect
	// glibc's copy need no cgo call. Each submission and each observed
	// completion adds 1, so a stale observation cannot disarm a newer
	// submission (its compare-and-swap fails).
	seq atomic.Uint64
	// armSeq is the seq value of the last arm and prevErr the __error_code
	// it replaced, for unarm (only the submitting goroutine uses them, as
	// the Aiocb is not safe for concurrent submissions).
	armSeq  uint64
	prevErr int32
	// prevPolicy is the __policy that lioListio replaced by noPolicy.
	prevPolicy C.int
}

// errorCode returns the address of glibc's status field, __error_code.
func (a *Aiocb) errorCode() *int32 { return (*int32)(unsafe.Pointer(&a.cb.__error_code)) }

// arm marks the aiocb as handed to glibc. It first stores EINPROGRESS in
// __error_code, which glibc itself stores only inside aio_read, once it has
// queued the request (notify.c's pa_submit does the same for a Queue's
// aiocbs): an observe from another goroutine that sees the mark then also
// sees EINPROGRESS, and cannot take the previous request's result for this
// one's and unmark an aiocb that glibc is about to own.
func (a *Aiocb) arm() {
	f := a.errorCode()
	a.prevErr = atomic.LoadInt32(f)
	atomic.StoreInt32(f, C.EINPROGRESS)
	s := a.seq.Load()
	if s&1 == 0 {
		s = a.seq.Add(1)
	}
	a.armSeq = s
}

// unarm undoes arm after glibc refused the submission. For some refusals
// glibc stores the errno in __error_code (EINVAL for a bad aio_reqprio,
// EAGAIN when it could start no thread); for the others (a bad aio_fsync
// op, a closed descriptor for aio_fsync, no memory for its request) it
// leaves the field alone, and then the previous value comes back, so that
// Error gives what aio_error gives in C.
func (a *Aiocb) unarm() {
	atomic.CompareAndSwapInt32(a.errorCode(), C.EINPROGRESS, a.prevErr)
	a.seq.CompareAndSwap(a.armSeq, a.armSeq+1)
}

// observe calls aio_error and disarms the aiocb if the request it belongs
// to has finished. While glibc's status field still says EINPROGRESS it
// answers that without the cgo call (aio_error would read the same field,
// under glibc's lock, and could just as well have run a moment earlier);
// any other value is confirmed by aio_error, whose lock guarantees that
// glibc is done with the aiocb.
func (a *Aiocb) observe() C.int {
	s := a.seq.Load()
	if atomic.LoadInt32(a.errorCode()) == C.EINPROGRESS {
		return C.EINPROGRESS
	}
	e := C.aio_error(a.cb)
	if e != C.EINPROGRESS && s&1 == 1 {
		a.seq.CompareAndSwap(s, s+1)
	}
	return e
}

// NewAiocb allocates a zeroed struct aiocb with calloc(3) (aio_fildes 0,
// aio_offset 0, no buffer, aio_reqprio 0, aio_lio_opcode LIO_READ) and sets
// aio_sigevent.sigev_notify to SIGEV_NONE, as C programs do after memset.
// Like a Go allocation (which ends the process), it panics when calloc
// cannot find the 168 bytes: the process is out of memory.
func NewAiocb() *Aiocb {
	p := C.calloc(1, C.sizeof_struct_aiocb)
	if p == nil {
		panic("posixaio: calloc(struct aiocb) failed")
	}
	a := &Aiocb{cb: (*C.struct_aiocb)(p), sig: Sigevent{Notify: SigevNone}}
	a.cb.aio_sigevent.sigev_notify = C.SIGEV_NONE
	liveAiocbs.Add(1)
	runtime.SetFinalizer(a, finalizeAiocb)
	return a
}

// finalizeAiocb frees an unreachable Aiocb, unless glibc still owns it: then
// it stays (and stays pinned) until a later collection finds it finished.
func finalizeAiocb(a *Aiocb) {
	if a.cb == nil {
		return
	}
	if a.inProgress() {
		runtime.SetFinalizer(a, finalizeAiocb)
		return
	}
	a.release()
}

func (a *Aiocb) release() {
	a.pinner.Unpin()
	a.buf = nil
	C.free(unsafe.Pointer(a.cb))
	a.cb = nil
	liveAiocbs.Add(-1)
}

func (a *Aiocb) inProgress() bool {
	if a == nil || a.cb == nil || a.seq.Load()&1 == 0 {
		return false
	}
	return a.observe() == C.EINPROGRESS
}

func (a *Aiocb) settable() error {
	if a == nil || a.cb == nil {
		return ErrFreed
	}
	if a.inProgress() {
		return ErrInProgress
	}
	return nil
}

// Free releases the C memory (free(3)) and unpins the buffer. It returns
// ErrInProgress while glibc still owns the aiocb (cancel it or wait first),
// and ErrFreed the second time (and for a nil *Aiocb, which it leaves
// alone).
func (a *Aiocb) Free() error {
	if err := a.settable(); err != nil {
		return err
	}
	runtime.SetFinalizer(a, nil)
	a.release()
	return nil
}

// Ptr returns the address of the C struct aiocb (nil after Free), for C code
// that wants to share it.
func (a *Aiocb) Ptr() unsafe.Pointer {
	if a == nil {
		return nil
	}
	return unsafe.Pointer(a.cb)
}

// SetFildes sets aio_fildes. An fd that C's int cannot hold is stored as
// -1 (glibc then answers EBADF), not as its low 32 bits, which could name
// another open file.
func (a *Aiocb) SetFildes(fd int) error {
	if err := a.settable(); err != nil {
		return err
	}
	a.cb.aio_fildes = cFd(fd)
	return nil
}

// cFd is fd as C's int, or -1 when it does not fit (fileio.FD32).
func cFd(fd int) C.int { return C.int(fileio.FD32(fd)) }

// Fildes returns aio_fildes (-1 after Free).
func (a *Aiocb) Fildes() int {
	if a == nil || a.cb == nil {
		return -1
	}
	return int(a.cb.aio_fildes)
}

// SetOffset sets aio_offset (an off64_t: the header maps aiocb to aiocb64 on
// 64-bit Linux). glibc does not check it at submission; a negative offset
// fails later with EINVAL from pread/pwrite, reported by Error.
func (a *Aiocb) SetOffset(off int64) error {
	if err := a.settable(); err != nil {
		return err
	}
	a.cb.aio_offset = C.__off64_t(off)
	return nil
}

// Offset returns aio_offset.
func (a *Aiocb) Offset() int64 {
	if a == nil || a.cb == nil {
		return 0
	}
	return int64(a.cb.aio_offset)
}

// SetBuf sets aio_buf and aio_nbytes to b. b's memory is pinned until the
// buffer is replaced or the aiocb freed. A nil or empty b sets aio_buf NULL and
// aio_nbytes 0 (glibc then transfers 0 bytes). For O_DIRECT files b must be
// suitably aligned (see cgo/cmem).
func (a *Aiocb) SetBuf(b []byte) error {
	if err := a.settable(); err != nil {
		return err
	}
	a.pinner.Unpin()
	a.buf = nil
	if len(b) > 0 {
		a.pinner.Pin(unsafe.SliceData(b))
		a.buf = b
	}
	setBufPtr(a.cb, b)
	return nil
}

// setBufPtr stores b's address and length in aio_buf and aio_nbytes. The
// address goes in as an integer: a pointer store would run Go's write
// barrier, which shades the slot's old value, and that may be the address of
// an earlier request's buffer that the garbage collector has freed since
// ("found pointer to free object"). C memory is not scanned, and b is pinned
// by the caller.
func setBufPtr(cb *C.struct_aiocb, b []byte) {
	var p uintptr
	if len(b) > 0 {
		p = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	}
	*(*uintptr)(unsafe.Pointer(&cb.aio_buf)) = p
	cb.aio_nbytes = C.size_t(len(b))
}

// Buf returns the buffer set with SetBuf.
func (a *Aiocb) Buf() []byte {
	if a == nil {
		return nil
	}
	return a.buf
}

// Nbytes returns aio_nbytes.
func (a *Aiocb) Nbytes() int {
	if a == nil || a.cb == nil {
		return 0
	}
	return int(a.cb.aio_nbytes)
}

// SetReqprio sets aio_reqprio: glibc runs the request at the calling thread's
// scheduling priority minus reqprio (0..PrioDeltaMax; others make the
// submission fail with EINVAL). Among queued requests for one descriptor,
// higher priorities run first.
func (a *Aiocb) SetReqprio(p int) error {
	if err := a.settable(); err != nil {
		return err
	}
	if p != int(int32(p)) {
		p = -1 // out of C's int: still refused at submission (EINVAL), not taken for its low 32 bits
	}
	a.cb.aio_reqprio = C.int(p)
	return nil
}

// Reqprio returns aio_reqprio.
func (a *Aiocb) Reqprio() int {
	if a == nil || a.cb == nil {
		return 0
	}
	return int(a.cb.aio_reqprio)
}

// SetLioOpcode sets aio_lio_opcode (LioRead, LioWrite or LioNop), which only
// lio_listio reads.
func (a *Aiocb) SetLioOpcode(op int) error {
	if err := a.settable(); err != nil {
		return err
	}
	if op != int(int32(op)) {
		op = -1 // out of C's int: an unknown opcode to glibc (EINVAL), not its low 32 bits
	}
	a.cb.aio_lio_opcode = C.int(op)
	return nil
}

// LioOpcode returns aio_lio_opcode.
func (a *Aiocb) LioOpcode() int {
	if a == nil || a.cb == nil {
		return 0
	}
	return int(a.cb.aio_lio_opcode)
}

// SetSigevent sets aio_sigevent, the notification glibc gives when this
// request finishes. See Sigevent for what is accepted.
func (a *Aiocb) SetSigevent(ev Sigevent) error {
	if err := a.settable(); err != nil {
		return err
	}
	if err := ev.fill(&a.cb.aio_sigevent); err != nil {
		return err
	}
	a.sig = ev
	return nil
}

// Sigevent returns what SetSigevent set (SIGEV_NONE for a fresh aiocb, after
// Free and for a nil *Aiocb).
func (a *Aiocb) Sigevent() Sigevent {
	if a == nil || a.cb == nil { // after Free, as for nil (the type's doc)
		return Sigevent{Notify: SigevNone}
	}
	return a.sig
}

// Prep sets aio_fildes, aio_buf/aio_nbytes (see SetBuf) and aio_offset at once.
func (a *Aiocb) Prep(fd int, b []byte, off int64) error {
	if err := a.SetBuf(b); err != nil {
		return err
	}
	a.cb.aio_fildes = cFd(fd)
	a.cb.aio_offset = C.__off64_t(off)
	return nil
}

func errnoOf(r C.int, err error) error {
	if r == 0 {
		return nil
	}
	if e, ok := err.(unix.Errno); ok && e != 0 {
		return e
	}
	return unix.EIO
}
