package uring

import (
	"runtime"
	"time"
)

// reap is the reaper goroutine. It parks on the eventfd that the kernel
// signals for every CQE it posts (io_uring_register_eventfd) and drains the
// CQ. Reading the eventfd before draining means a CQE posted during a drain
// leaves the counter non-zero, so no wake-up is lost. The eventfd is on Go's
// network poller: the parked reaper holds no OS thread, and EINTR never
// reaches it.
func (q *Queue) reap() {
	defer close(q.reaperDone)
	q.reapInline()
	for {
		if _, err := q.notif.Wait(); err != nil {
			// ErrClosed: Close has seen every completion.
			q.reapInline()
			return
		}
		// While the reaper completes handles, callers only stage their
		// SQEs; the reaper then yields once so the goroutines it woke can
		// stage their next operations, and submits them all together.
		q.smu.Lock()
		q.reaping = true
		q.smu.Unlock()
		if q.reapInline() > 0 {
			runtime.Gosched()
		}
		q.smu.Lock()
		q.reaping = false
		q.kickLocked()
	}
}

// reapInline drains the CQ unless another goroutine is already draining
// (which will then drain again: see drain). It returns the number of
// handles it completed.
func (q *Queue) reapInline() int {
	q.pending.Store(true)
	return q.drain()
}

// drain empties the CQ, completing every handle. Only one goroutine drains
// at a time; a goroutine that finds the CQ busy leaves pending set, and the
// drainer loops once more after it unlocks, so no CQE is left behind.
func (q *Queue) drain() int {
	done := 0
	for q.pending.Load() {
		if !q.rmu.TryLock() {
			return done
		}
		q.pending.Store(false)
		done += q.drainLocked()
		q.rmu.Unlock()
	}
	q.watchOverflow()
	return done
}

// overflowCheck is how soon, once operations are in flight, the overflow
// check first looks for completions left on the kernel's overflow list;
// while it finds none and no drain took half the CQ at once, its interval
// doubles up to overflowCheckMax (a queue with a multishot request always
// in flight would otherwise wake 100 times a second for ever).
const (
	overflowCheck    = 10 * time.Millisecond
	overflowCheckMax = time.Second
)

// watchOverflow arms the overflow check (checkOverflow) if operations are
// in flight and it is not armed yet; every drain calls it.
//
// With IORING_FEAT_NODROP a CQE that does not fit the CQ goes to the
// kernel's overflow list (IORING_SQ_CQ_OVERFLOW), and the CQEs after it
// follow it there until a drain flushes the list (PeekBatchCQE). The kernel
// signals the eventfd only when the CQ tail moves, so a CQE that goes to
// the list wakes nobody. A drain that frees a full CQ can make its last
// check of the flag just before a kernel that still saw the CQ full sets
// it: that CQE, and every one after it, then waits on the list with no
// wake-up to come (TestLinkStressSmallSQ hung so, 1 run in a few thousand:
// a 4-entry SQ and 256 operations in flight). While anything is in flight,
// a timer therefore looks at the flag (first after overflowCheck, then
// less often: see there) and wakes the reaper when it is set, whose drain
// flushes the list. Such a race then
// costs overflowCheck while the CQ is busy (a drain took half of it at
// once since the last check), at most overflowCheckMax otherwise.
func (q *Queue) watchOverflow() {
	if q.ovfTimer == nil || q.ovfArmed.Load() || q.table.InFlight() == 0 {
		return
	}
	if q.ovfArmed.CompareAndSwap(false, true) {
		q.ovfTimer.Reset(time.Duration(q.ovfEvery.Load()))
	}
}

// checkOverflow is the overflow check's timer function: it wakes the
// reaper if CQEs wait on the overflow list, and fires again while
// operations are in flight, sooner when the CQ was busy or overflowed.
func (q *Queue) checkOverflow() {
	q.ovfChecks.Add(1)
	every := time.Duration(q.ovfEvery.Load())
	switch {
	case q.ring.SQFlags()&SQCQOverflow != 0: // 0 once Close freed the ring
		q.ovfWakes.Add(1)
		q.notif.Signal() // ErrClosed after Close: nothing left to reap
		every = overflowCheck
	case q.ovfBusy.Swap(false):
		every = overflowCheck
	default:
		every = min(2*every, overflowCheckMax)
	}
	if q.table.InFlight() > 0 {
		q.ovfEvery.Store(int64(every))
		q.ovfTimer.Reset(every)
		return
	}
	q.ovfEvery.Store(int64(overflowCheck))
	q.ovfArmed.Store(false)
	// An operation begun before the Store whose drain found the check
	// still armed: arm it again for that one.
	q.watchOverflow()
}

// drainLocked runs with q.rmu held. It copies CQEs out, advances the CQ
// head (io_uring_cq_advance) so the kernel can reuse the entries, and
// completes the handles. PeekBatchCQE flushes completions the kernel kept
// aside after a CQ overflow (IORING_FEAT_NODROP, IORING_SQ_CQ_OVERFLOW) once
// the CQ is empty, so looping until it returns 0 loses none.
func (q *Queue) drainLocked() int {
	total := 0
	for {
		n := q.ring.PeekBatchCQE(q.cqes)
		if n == 0 {
			return total
		}
		total += n
		if n >= q.ovfBusyN && q.ovfTimer != nil && !q.ovfBusy.Load() {
			q.ovfBusy.Store(true) // the overflow check looks again soon
		}
		q.subSeq.Load() // pairs with the Add in flush (race detector only)
		done := q.done[:0]
		for _, c := range q.cqes[:n] {
			done = append(done, doneCQE{ud: c.UserData, res: c.Res, flags: c.Flags})
		}
		q.ring.CQAdvance(uint32(n))
		for i := range done {
			d := &done[i]
			if d.flags&CQEFMore != 0 {
				// Not the last CQE of a multishot request: its slot stays
				// in flight (queue_multishot.go). One-shot operations
				// never set F_MORE (SEND_ZC is refused), so this branch is
				// never taken on their path.
				q.more(d)
				continue
			}
			if d.ud != internalUserData {
				q.fin.Add(q.table, d.ud, int64(d.res), d.flags)
			}
		}
		q.fin.Flush()
		q.done = done[:0]
	}
}
