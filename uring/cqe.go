package uring

// #include "aiokit_uring.h"
import "C"

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cqeSize is sizeof(struct io_uring_cqe) without the CQE32 extension.
const cqeSize = 16

// cqeAt returns the CQE at ring position pos (io_uring_cqe_index).
func (r *Ring) cqeAt(pos uint32) *CQE {
	// The shift count is masked so that the compiler drops Go's check for
	// counts past the operand's width (cqeLog is 4 or 5).
	return (*CQE)(unsafe.Add(r.cqes, uintptr(pos&r.cqMask)<<(r.cqeLog&63)))
}

// CQReady returns the completions ready to be reaped (io_uring_cq_ready:
// acquire load of the kernel's tail minus our head).
func (r *Ring) CQReady() uint32 {
	if r == nil || r.c == nil {
		return 0
	}
	return atomic.LoadUint32(r.cqTail) - *r.cqHead
}

// CQAdvance marks n completions as consumed (io_uring_cq_advance): a release
// store of head+n to the kernel's CQ head, after which the kernel may reuse
// those entries.
//
// Unlike liburing, n is held to the completions ready (CQReady): C stores
// head+n whatever n is, and a head past the kernel's tail (CQESeen twice on
// the last CQE, CQAdvance of more than PeekBatchCQE returned) makes
// io_uring_cq_ready report 2^32-1, the peeks return stale entries as
// completions, and the CQEs the kernel posts next land under the head and
// are never seen. A caller that consumes only what it was given cannot tell
// the difference (TestRawAppCQOverrun).
func (r *Ring) CQAdvance(n uint32) {
	if n == 0 || r == nil || r.c == nil {
		return
	}
	head := *r.cqHead
	if ready := atomic.LoadUint32(r.cqTail) - head; n > ready {
		n = ready
	}
	atomic.StoreUint32(r.cqHead, head+n)
}

// CQESeen marks one completion returned by PeekCQE/WaitCQE* as consumed
// (io_uring_cqe_seen); c == nil is a no-op, and so is a call with no
// completion ready (see CQAdvance).
func (r *Ring) CQESeen(c *CQE) {
	if c != nil {
		r.CQAdvance(1)
	}
}

// peek is __io_uring_peek_cqe: it returns the head CQE (nil if none) and the
// number available, skipping liburing's internal timeout CQEs on kernels
// without IORING_FEAT_EXT_ARG.
func (r *Ring) peek() (*CQE, uint32, error) {
	for {
		tail := atomic.LoadUint32(r.cqTail)
		head := *r.cqHead
		avail := tail - head
		if avail == 0 {
			return nil, 0, nil
		}
		cqe := r.cqeAt(head)
		if r.features&FeatExtArg == 0 && cqe.UserData == UdataTimeout {
			res := cqe.Res
			r.CQAdvance(1)
			if res < 0 {
				return nil, avail, unix.Errno(-res)
			}
			continue
		}
		return cqe, avail, nil
	}
}

// cqNeedsEnter is liburing's cq_ring_needs_enter: completions may be hidden
// in the kernel (IOPOLL, overflow list, pending task work).
func (r *Ring) cqNeedsEnter() bool {
	return r.flags&SetupIOPoll != 0 || atomic.LoadUint32(r.sqFlags)&(SQCQOverflow|SQTaskrun) != 0
}

// PeekCQE returns the next completion without waiting (io_uring_peek_cqe),
// or unix.EAGAIN when there is none. It is pure Go unless the kernel holds
// hidden completions (IOPOLL, CQ overflow, task work), in which case it
// calls io_uring_peek_cqe to flush them. Call CQESeen when done with it.
func (r *Ring) PeekCQE() (*CQE, error) {
	if r == nil || r.c == nil {
		return nil, ErrClosed
	}
	cqe, _, err := r.peek()
	if err != nil {
		// As io_uring_peek_cqe: the error of the first peek (the -ETIME
		// of a liburing timeout CQE it consumed, before Linux 5.11) is
		// not returned; io_uring_wait_cqe_nr(0) looks again.
		return r.WaitCQENr(0)
	}
	if cqe != nil {
		return cqe, nil
	}
	if !r.cqNeedsEnter() {
		return nil, unix.EAGAIN
	}
	res := C.aiokit_peek_cqe(&r.c.ring)
	if res.ret < 0 {
		return nil, unix.Errno(-res.ret)
	}
	return cqeFromC(res.cqe), nil
}

// PeekBatchCQE fills cqes with up to len(cqes) ready completions and returns
// how many (io_uring_peek_batch_cqe). It is pure Go unless the ring is empty
// and the kernel flags an overflow or pending task work, when it enters the
// kernel once (io_uring_get_events) to flush them, as liburing does. Call
// CQAdvance(n) after processing them.
func (r *Ring) PeekBatchCQE(cqes []*CQE) int {
	if r == nil || r.c == nil {
		return 0
	}
	// An empty cqes still flushes an overflow or pending task work, as
	// liburing's does.
	flushed := false
	for {
		ready := r.CQReady()
		if ready > 0 {
			n := uint32(len(cqes))
			if n > ready {
				n = ready
			}
			head := *r.cqHead
			cqes = cqes[:n]
			for i := range cqes {
				cqes[i] = r.cqeAt(head + uint32(i))
			}
			return int(n)
		}
		if flushed || atomic.LoadUint32(r.sqFlags)&(SQCQOverflow|SQTaskrun) == 0 {
			return 0
		}
		C.io_uring_get_events(&r.c.ring)
		flushed = true
	}
}

// ForEachCQE calls fn for each ready completion, in order, without consuming
// them, until fn returns false (the io_uring_for_each_cqe macro). It returns
// the number visited; pass it to CQAdvance.
func (r *Ring) ForEachCQE(fn func(*CQE) bool) uint32 {
	if r == nil || r.c == nil {
		return 0
	}
	head := *r.cqHead
	var n uint32
	for head+n != atomic.LoadUint32(r.cqTail) {
		n++
		if !fn(r.cqeAt(head + n - 1)) {
			break
		}
	}
	return n
}

// WaitCQE returns the next completion, waiting for one if necessary
// (io_uring_wait_cqe). A ready completion is found in pure Go; otherwise it
// calls io_uring_wait_cqe_nr, which blocks the OS thread in
// io_uring_enter(2).
//
// EINTR: a signal delivered to the waiting thread (Go's runtime sends them)
// makes io_uring_enter fail with EINTR; WaitCQE retries, so EINTR is never
// returned. The same holds for WaitCQENr and SubmitAndWait, and for the
// timeout variants, which retry with the time that is left.
func (r *Ring) WaitCQE() (*CQE, error) {
	if r == nil || r.c == nil {
		return nil, ErrClosed
	}
	// As io_uring_wait_cqe: an error of the first peek (the -ETIME of a
	// liburing timeout CQE it consumed, before Linux 5.11) is not
	// returned; io_uring_wait_cqe_nr(1) looks again, and waits.
	if cqe, _, err := r.peek(); err == nil && cqe != nil {
		return cqe, nil
	}
	return r.WaitCQENr(1)
}

// WaitCQENr waits until n completions are ready and returns the first
// (io_uring_wait_cqe_nr). n == 0 behaves like PeekCQE. EINTR is retried.
func (r *Ring) WaitCQENr(n uint32) (*CQE, error) {
	if r == nil || r.c == nil {
		return nil, ErrClosed
	}
	if n > 0 {
		r.yield.BeforeBlock()
	}
	for {
		res := C.aiokit_wait_cqe_nr(&r.c.ring, C.uint(n))
		if res.ret == -C.EINTR {
			r.eintr.Add(1)
			continue
		}
		if res.ret < 0 {
			return nil, unix.Errno(-res.ret)
		}
		return cqeFromC(res.cqe), nil
	}
}

// timedWait runs call with the timeout ts (nil: none) and sigmask (nil:
// unchanged) in a C argument of its own, retrying EINTR (unless a sigmask
// was given, when the caller asked to be interrupted) with the remaining
// time until the deadline; an expired deadline gives ETIME like the kernel.
// It returns the count or error of the last call and the CQE it gave.
func (r *Ring) timedWait(ts *KernelTimespec, sigmask *unix.Sigset_t, call func(a C.struct_aiokit_wait_arg) C.struct_aiokit_cqe_ret) (int, *C.struct_io_uring_cqe, error) {
	var a C.struct_aiokit_wait_arg
	if sigmask != nil {
		a.use_mask = 1
		*(*unix.Sigset_t)(unsafe.Pointer(&a.mask)) = *sigmask
	}
	var deadline time.Time
	if ts != nil {
		a.use_ts = 1
		deadline = time.Now().Add(ts.Duration())
		*(*KernelTimespec)(unsafe.Pointer(&a.ts)) = *ts
	}
	if ts == nil || ts.Sec != 0 || ts.Nsec != 0 {
		r.yield.BeforeBlock()
	}
	for {
		res := call(a)
		if res.ret != -C.EINTR || a.use_mask != 0 {
			n, err := retInt(int(res.ret))
			return n, res.cqe, err
		}
		r.eintr.Add(1)
		if ts != nil {
			left := time.Until(deadline)
			if left <= 0 {
				return 0, nil, unix.ETIME
			}
			*(*KernelTimespec)(unsafe.Pointer(&a.ts)) = DurationToTimespec(left)
		}
	}
}

// WaitCQEs waits for waitNr completions, at most ts (nil: no limit), with
// sigmask installed during the wait (nil: unchanged), and returns the first
// (io_uring_wait_cqes). A timeout gives unix.ETIME. EINTR is retried with the
// remaining time unless sigmask is non-nil, in which case it is returned.
//
// Before Linux 5.11 (no IORING_FEAT_EXT_ARG) liburing waits with a timeout
// SQE of its own (user data LIBURING_UDATA_TIMEOUT), which also submits
// what is in the SQ, as in C. Its CQE is never returned, but the -ETIME of
// one that expires after its wait ended with a CQE ends a later wait at
// once with ETIME, again as in C. WaitCQETimeout does the same.
func (r *Ring) WaitCQEs(waitNr uint32, ts *KernelTimespec, sigmask *unix.Sigset_t) (*CQE, error) {
	if r == nil || r.c == nil {
		return nil, ErrClosed
	}
	_, cqe, err := r.timedWait(ts, sigmask, func(a C.struct_aiokit_wait_arg) C.struct_aiokit_cqe_ret {
		return C.aiokit_wait_cqes(&r.c.ring, C.uint(waitNr), a)
	})
	return timedCQE(cqe, err)
}

// timedCQE is the result of a timed wait that gave cqe and err. Without
// IORING_FEAT_EXT_ARG (before Linux 5.11) liburing 2.3 waits with a timeout
// SQE of its own, and when that timeout expires it consumes the -ETIME
// CQE and returns the count it submitted (1), not -ETIME, with no CQE: that
// is ETIME here, as the man page and the kernels with EXT_ARG give,
// rather than a nil CQE without an error.
func timedCQE(cqe *C.struct_io_uring_cqe, err error) (*CQE, error) {
	if err != nil {
		return nil, err
	}
	if cqe == nil {
		return nil, unix.ETIME
	}
	return cqeFromC(cqe), nil
}

// WaitCQETimeout waits at most d for one completion
// (io_uring_wait_cqe_timeout); unix.ETIME when none arrived. EINTR is
// retried with the remaining time.
func (r *Ring) WaitCQETimeout(d time.Duration) (*CQE, error) {
	ts := DurationToTimespec(d)
	return r.WaitCQETimeoutTS(&ts)
}

// WaitCQETimeoutTS is WaitCQETimeout with a KernelTimespec (nil: no limit).
func (r *Ring) WaitCQETimeoutTS(ts *KernelTimespec) (*CQE, error) {
	if r == nil || r.c == nil {
		return nil, ErrClosed
	}
	_, cqe, err := r.timedWait(ts, nil, func(a C.struct_aiokit_wait_arg) C.struct_aiokit_cqe_ret {
		return C.aiokit_wait_cqe_timeout(&r.c.ring, a)
	})
	return timedCQE(cqe, err)
}

// WaitCQEsFor is WaitCQEs with a time.Duration timeout and no sigmask.
func (r *Ring) WaitCQEsFor(waitNr uint32, d time.Duration) (*CQE, error) {
	ts := DurationToTimespec(d)
	return r.WaitCQEs(waitNr, &ts, nil)
}
