package uring

// #include "aiokit_uring.h"
import "C"

import (
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// Submit publishes every SQE obtained since the last submit to the kernel and
// calls io_uring_enter(2) (io_uring_submit): one cgo call per batch. It
// returns the number of SQEs the kernel consumed. With [SetupSQPoll] the C
// library only enters the kernel when the poll thread needs a wakeup.
func (r *Ring) Submit() (int, error) {
	if r == nil || r.c == nil {
		return 0, ErrClosed
	}
	return retInt(int(C.aiokit_submit(r.addr())))
}

// SubmitAndWait submits like Submit and waits until waitNr completions are
// ready (io_uring_submit_and_wait). EINTR is retried (the submitted SQEs are
// not submitted twice: liburing recomputes what is left). As in C, a signal
// that interrupts the wait after SQEs were submitted ends the call with
// their count and no error, possibly before waitNr completions are ready:
// the kernel reports the submission, not the interrupted wait. Check the CQ
// (or wait again with WaitCQENr) for what is needed.
func (r *Ring) SubmitAndWait(waitNr uint32) (int, error) {
	if r == nil || r.c == nil {
		return 0, ErrClosed
	}
	if waitNr > 0 {
		r.yield.BeforeBlock()
	}
	for {
		ret := C.aiokit_submit_and_wait(r.addr(), C.uint(waitNr))
		if ret == -C.EINTR {
			r.eintr.Add(1)
			continue
		}
		return retInt(int(ret))
	}
}

// SubmitAndWaitTimeout submits, then waits at most ts (nil: no limit) for
// waitNr completions with sigmask installed (io_uring_submit_and_wait_timeout).
// It returns the first completion (nil if none) and liburing's non-negative
// return value as C gets it, which is not always the number of SQEs
// submitted (liburing 2.3 can return 0, e.g. when a completion was ready
// before it entered the kernel). EINTR is retried with the remaining time
// unless sigmask is non-nil.
func (r *Ring) SubmitAndWaitTimeout(waitNr uint32, ts *KernelTimespec, sigmask *unix.Sigset_t) (*CQE, int, error) {
	if r == nil || r.c == nil {
		return nil, 0, ErrClosed
	}
	n, c, err := r.timedWait(ts, sigmask, func(a C.struct_aiokit_wait_arg) C.struct_aiokit_cqe_ret {
		return C.aiokit_submit_and_wait_timeout(&r.c.ring, C.uint(waitNr), a)
	})
	var cqe *CQE
	if c != nil {
		cqe = cqeFromC(c)
	}
	return cqe, n, err
}

// SubmitAndGetEvents submits and flushes pending completions into the CQ
// ring without waiting (io_uring_submit_and_get_events).
func (r *Ring) SubmitAndGetEvents() (int, error) {
	if r == nil || r.c == nil {
		return 0, ErrClosed
	}
	return retInt(int(C.io_uring_submit_and_get_events(&r.c.ring)))
}

// GetEvents enters the kernel to flush completions (overflowed ones, task
// work) into the CQ ring without submitting (io_uring_get_events).
func (r *Ring) GetEvents() error {
	if r == nil || r.c == nil {
		return ErrClosed
	}
	return errRet(int(C.io_uring_get_events(&r.c.ring)))
}

// SQRingWait waits, on an [SetupSQPoll] ring with a full SQ, until the poll
// thread consumed entries (io_uring_sqring_wait). It returns at once on other
// rings or when there is space.
func (r *Ring) SQRingWait() error {
	if r == nil || r.c == nil {
		return ErrClosed
	}
	if r.flags&SetupSQPoll == 0 || r.SQSpaceLeft() > 0 {
		return nil
	}
	r.yield.BeforeBlock()
	for {
		ret := C.__io_uring_sqring_wait(&r.c.ring)
		if ret == -C.EINTR {
			r.eintr.Add(1)
			continue
		}
		return errRet(int(ret))
	}
}

// Setup is the raw io_uring_setup(2) syscall wrapper of liburing
// (io_uring_setup): it returns the new ring fd and fills p. Map the rings
// with [QueueMmap]. EPERM/ENOSYS match [ErrUnavailable] (but see
// [ErrSQPollPerm]).
func Setup(entries uint32, p *Params) (int, error) {
	if p == nil {
		return 0, unix.EFAULT
	}
	ret := int(C.io_uring_setup(C.uint(entries), (*C.struct_io_uring_params)(unsafe.Pointer(p))))
	if ret < 0 {
		return 0, setupErr(ret, p.Flags)
	}
	return ret, nil
}

// Enter is the raw io_uring_enter(2) wrapper (io_uring_enter). sig may be nil.
func Enter(fd int, toSubmit, minComplete, flags uint32, sig *unix.Sigset_t) (int, error) {
	ret := C.io_uring_enter(cFd(fd), C.uint(toSubmit), C.uint(minComplete), C.uint(flags),
		(*C.sigset_t)(unsafe.Pointer(sig)))
	return retInt(int(ret))
}

// Enter2 is the raw io_uring_enter(2) wrapper with an argument size
// (io_uring_enter2): with [EnterExtArg] arg points to a [GeteventsArg] and sz
// is its size; otherwise arg is a sigset and sz its size. arg must not
// contain Go pointers.
func Enter2(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, sz uintptr) (int, error) {
	ret := C.io_uring_enter2(cFd(fd), C.uint(toSubmit), C.uint(minComplete), C.uint(flags),
		(*C.sigset_t)(arg), C.size_t(sz))
	return retInt(int(ret))
}

// Register is the raw io_uring_register(2) wrapper (io_uring_register).
// arg must not contain Go pointers (copy such arrays to C memory first).
func Register(fd int, opcode uint32, arg unsafe.Pointer, nrArgs uint32) (int, error) {
	return retInt(int(C.io_uring_register(cFd(fd), C.uint(opcode), arg, C.uint(nrArgs))))
}

// cFd is fd for liburing's unsigned fd parameters: one C's int cannot hold
// is -1 (EBADF), not its low 32 bits (fileio.FD32).
func cFd(fd int) C.uint { return C.uint(uint32(fileio.FD32(fd))) }

// SubmitAndWaitFor is SubmitAndWaitTimeout with a time.Duration timeout and
// no sigmask.
func (r *Ring) SubmitAndWaitFor(waitNr uint32, d time.Duration) (*CQE, int, error) {
	ts := DurationToTimespec(d)
	return r.SubmitAndWaitTimeout(waitNr, &ts, nil)
}
