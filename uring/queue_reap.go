package uring

import "runtime"

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
	return done
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
