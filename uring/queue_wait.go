package uring

// #include "aiokit_uring.h"
import "C"

import (
	"runtime"

	"github.com/aiokit/aio/cgo/completion"
)

// Waiting for a lone request in the kernel.
//
// A completion normally reaches its waiter in three hops: the kernel
// signals the queue's eventfd, Go's poller wakes the reaper goroutine, and
// the reaper wakes the waiter. When one goroutine keeps a single request in
// flight (QD 1: a sequential reader), those hops are most of the cost of a
// fast device's read. So Handle.Wait without a context first calls
// waitInline: once several Waits in a row found their operation alone in
// flight, and while it still is the only one, the waiting
// goroutine itself waits for the CQE in io_uring_enter (io_uring_wait_cqes
// with a timeout through IORING_FEAT_EXT_ARG, so no SQE is involved) and
// drains the CQ, like the C loop does. At most one goroutine waits that way
// (it holds an OS thread meanwhile, as a blocking syscall does; the others
// park as before), and it gives up after about 3 ms of waiting, or as soon
// as other operations are in flight, leaving the rest to the reaper. It
// waits holding the drain lock, so no CQE is reaped under it meanwhile: the
// reaper, still woken by the eventfd, and submitters that drain after
// io_uring_submit find the lock taken and leave their drain pending, which
// the waiter runs when it leaves the kernel.

// waitInline is the table's waiter (completion.Table.SetWaiter).
//
// An io_uring_enter that fails with anything but -ETIME or -EINTR (EINVAL
// when a seccomp profile refuses IORING_ENTER_EXT_ARG, which the ring's
// features claim) would fail the same way on every step of every later
// Wait: the queue then stops waiting inline for good (inlineRefused), and
// the waiters park as on a kernel without EXT_ARG.
func (q *Queue) waitInline(h *completion.Handle) bool {
	if q.inlineRefused.Load() || !q.lone.Enter(q.aloneInFlight()) {
		return false
	}
	defer q.lone.Leave()
	q.inlineWaiting.Add(1)
	defer q.inlineWaiting.Add(-1)
	if q.table.Closed() {
		return false // Close may be about to unmap the ring
	}
	for i, yields := 0, 0; i < len(completion.LoneWaitSteps); {
		if h.IsDone() || !q.aloneInFlight() {
			break
		}
		// Wait holding the drain lock, as the C loop owns its ring: the
		// handle completes under it, so holding it, either the CQE is still
		// in the CQ or the handle is done. Others that drain meanwhile
		// (the reaper, woken by the eventfd; a submitter) find it taken,
		// leave their work pending, and it is done below.
		if !q.rmu.TryLock() {
			if yields++; yields > 1000 {
				break
			}
			runtime.Gosched() // someone is draining: let them finish
			continue
		}
		if h.IsDone() {
			q.rmu.Unlock()
			break
		}
		q.inlineWaits.Add(1)
		ret := C.aiokit_wait_one(&q.ring.c.ring, C.longlong(completion.LoneWaitSteps[i]))
		if ret == 0 {
			q.drainLocked()
		}
		q.rmu.Unlock()
		q.drain() // what others left pending meanwhile
		if ret != 0 && ret != -C.ETIME && ret != -C.EINTR {
			q.inlineRefused.Store(true)
			break
		}
		i++ // -ETIME or -EINTR: look again, with the next step
	}
	return h.IsDone()
}

// aloneInFlight reports whether one operation is in flight besides the
// multishot streams, whose slots stay in flight for the life of a stream
// (a server's multishot accept would otherwise keep every lone request
// from being waited for in the kernel). Their CQEs reach an inline waiter
// too; it drains them as any drainer does.
func (q *Queue) aloneInFlight() bool {
	if q.table.Lone() {
		return true
	}
	m := q.msLive.Load()
	return m > 0 && q.table.InFlight() == int(m)+1
}

// waitInlineDone waits until no goroutine is inside waitInline: Close calls
// it after the last completion and before the ring is unmapped.
func (q *Queue) waitInlineDone() {
	for q.inlineWaiting.Load() != 0 {
		runtime.Gosched()
	}
}
