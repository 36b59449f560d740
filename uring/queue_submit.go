package uring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// begin takes a slot in the handle table (its handle is op.Handle()). With
// a nil ctx it fails with ErrBusy when every slot is in flight; otherwise it
// waits for a slot.
func (q *Queue) begin(ctx context.Context) (*completion.Op, error) {
	var op *completion.Op
	var err error
	if ctx == nil {
		_, op, err = q.table.Begin()
	} else {
		_, op, err = q.table.BeginWait(ctx)
	}
	return op, err
}

// submit runs one operation through the queue: it takes a slot in the
// handle table (begin), lets pin pin what the kernel will use (pin may be
// nil), stages the SQE that prep fills under the staging lock and commits
// it. Neither function escapes, so the closures cost no allocation.
func (q *Queue) submit(ctx context.Context, pin func(op *completion.Op), prep func(s *SQE)) (*completion.Handle, error) {
	op, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	return q.stage(op, pin, prep)
}

// control submits an operation that acts on another one (Cancel,
// PollRemove, TimeoutRemove): submit without a context, but once every
// ordinary slot is in flight it takes one of the table's reserve slots
// (controlReserve), so that operations which never end by themselves and
// hold every slot can still be removed. The kernel answers such requests at
// once, so the reserve is held only briefly.
func (q *Queue) control(prep func(s *SQE)) (*completion.Handle, error) {
	_, op, err := q.table.BeginReserved()
	if err != nil {
		return nil, err
	}
	return q.stage(op, nil, prep)
}

// stage is submit's part after the slot was taken: pin, stage, commit.
func (q *Queue) stage(op *completion.Op, pin func(op *completion.Op), prep func(s *SQE)) (*completion.Handle, error) {
	if pin != nil {
		pin(op)
	}
	s := q.slot(op)
	if s == nil {
		return nil, ErrClosed
	}
	prep(s)
	return q.commit(s, op)
}

// run is submit without a context for an operation whose arguments were
// converted first (path names, socket addresses): a conversion error is
// returned before a slot is taken. Link.run is its chain counterpart.
func (q *Queue) run(pin func(op *completion.Op), prep func(s *SQE), err error) (*completion.Handle, error) {
	if err != nil {
		return nil, err
	}
	return q.submit(nil, pin, prep)
}

// slot locks the staging area and returns a zeroed SQE for op. It returns
// nil (unlocked, op aborted with ErrClosed) when the queue is closing.
func (q *Queue) slot(op *completion.Op) *SQE {
	q.smu.Lock()
	if q.closed {
		q.smu.Unlock()
		q.table.Abort(op, ErrClosed)
		return nil
	}
	q.staged = append(q.staged, staged{op: op})
	return &q.staged[len(q.staged)-1].sqe
}

// commit sets the SQE's user data, unlocks the staging area and submits
// unless another goroutine is already submitting (it will pick this SQE up).
// It returns op's handle. An opcode that the kernel's probe reports as
// unsupported is not staged: op is aborted and commit returns an
// *UnsupportedOpError (the kernel would fail the SQE with -EINVAL).
func (q *Queue) commit(s *SQE, op *completion.Op) (*completion.Handle, error) {
	if err := q.checkOp(s.Opcode); err != nil {
		// s is the entry slot just appended under this same lock.
		q.staged[len(q.staged)-1] = staged{}
		q.staged = q.staged[:len(q.staged)-1]
		q.smu.Unlock()
		q.table.Abort(op, err)
		return nil, err
	}
	h := op.Handle() // before kickLocked: the op may complete at once
	s.SetUserData(op.UserData())
	q.kickLocked()
	return h, nil
}

// checkOp returns an *UnsupportedOpError when the probe taken at
// NewQueueConfig says the kernel lacks opcode op; nil when it has it or
// when the kernel could not be probed (before Linux 5.6: the kernel's own
// -EINVAL then reaches the handle).
func (q *Queue) checkOp(op uint8) error {
	if q.probe == nil || q.probe.OpSupported(op) {
		return nil
	}
	return &UnsupportedOpError{Op: op}
}

// kickLocked runs with q.smu held and unlocks it. Unless a goroutine is
// already submitting, or the reaper is completing handles (it submits what
// their goroutines stage right after, so that they share one
// io_uring_enter), the caller becomes the submitter and flushes.
func (q *Queue) kickLocked() {
	if q.submitting || q.reaping || len(q.staged) == 0 {
		q.smu.Unlock()
		return
	}
	q.submitting = true
	q.smu.Unlock()
	q.flush()
}

// stageGroup stages a prepared chain (or a single SQE) atomically: its SQEs
// stay contiguous and reach the kernel in one io_uring_enter call.
func (q *Queue) stageGroup(sqes []SQE, ops []*completion.Op) error {
	for i := range sqes {
		if err := q.checkOp(sqes[i].Opcode); err != nil {
			return err
		}
	}
	q.smu.Lock()
	if q.closed {
		q.smu.Unlock()
		return ErrClosed
	}
	for i := range sqes {
		e := staged{sqe: sqes[i], op: ops[i]}
		if i == 0 {
			e.group = len(sqes)
		}
		q.staged = append(q.staged, e)
	}
	q.kickLocked()
	return nil
}

// stageCancel stages IORING_OP_ASYNC_CANCEL for user data ud (or every
// request with IORING_ASYNC_CANCEL_ANY), a request the queue makes for
// itself (user data internalUserData, completion ignored), unless the ring
// is gone.
func (q *Queue) stageCancel(ud uint64, flags int) {
	q.smu.Lock()
	if q.ringGone {
		q.smu.Unlock()
		return
	}
	q.staged = append(q.staged, staged{})
	s := &q.staged[len(q.staged)-1].sqe
	s.PrepCancel64(ud, flags)
	s.SetUserData(internalUserData)
	if testKernel.noAsyncCancel {
		s.Opcode = 0xff // tests: -EINVAL, as from a kernel without the opcode
	}
	q.cancels.Add(1)
	q.kickLocked()
}

// cancel is the table's canceler: Handle.Wait calls it when its context
// ends. The operation stays pinned until its own CQE arrives.
func (q *Queue) cancel(ud uint64) { q.stageCancel(ud, 0) }

// flush runs in the one goroutine that set q.submitting. It copies staged
// SQEs into the ring (whole chains only), calls io_uring_submit and repeats
// until nothing is staged and the kernel has consumed every SQE.
//
// While it runs, eventfd notifications are switched off
// (io_uring_cq_eventfd_toggle): the submitter drains the CQ itself after
// each io_uring_submit, so waking the reaper for completions posted inline
// would only cost a context switch. Before it stops it switches them back
// on and drains once more, which catches every CQE posted meanwhile.
func (q *Queue) flush() {
	backoff := 0
	quiet := q.canQuiet && q.ring.cqEventFDToggle(false) == nil
	for {
		if q.bpos == len(q.batch) {
			q.smu.Lock()
			if len(q.staged) == 0 && q.unsubmitted == 0 {
				if quiet {
					q.smu.Unlock()
					q.ring.cqEventFDToggle(true)
					quiet = false
					q.reapInline()
					continue
				}
				q.submitting = false
				q.smu.Unlock()
				return
			}
			q.batch, q.staged = q.staged, q.batch[:0]
			q.bpos = 0
			q.smu.Unlock()
		}
		filled := q.fill()
		// The kernel orders everything written before io_uring_enter before
		// the CQE it posts, but the race detector cannot see that edge. This
		// atomic store, loaded by the drainer after it sees CQEs, makes the
		// same order visible to it (see drainLocked).
		q.subSeq.Add(1)
		n, err := q.ring.Submit()
		// What the kernel has not consumed stays in the SQ and goes in with
		// the next submit. An SQPOLL thread consumes on its own once woken.
		if q.sqpoll {
			q.unsubmitted = 0
		} else {
			q.unsubmitted = int(q.ring.SQReady())
		}
		// With SQPOLL, io_uring_submit counts the SQEs still waiting for the
		// SQ thread: progress is what fill added (a full SQ spun here).
		progressed := n > 0 && (!q.sqpoll || filled > 0)
		if progressed {
			backoff = 0
		}
		if q.reapInline() > 0 {
			// Let the goroutines just woken stage their next operations,
			// so that they go in with the next io_uring_enter.
			runtime.Gosched()
		}
		if err == nil && progressed {
			continue
		}
		if err != nil && !transientSubmitErr(err) {
			if quiet {
				q.ring.cqEventFDToggle(true)
				q.reapInline()
			}
			q.failSubmit(err)
			return
		}
		// Nothing went in (EAGAIN, EBUSY with a full CQ, EINTR, or an
		// SQPOLL thread still busy): let the reaper make room and retry.
		backoff++
		if backoff < 8 {
			runtime.Gosched()
		} else {
			time.Sleep(time.Duration(min(backoff, 100)) * 10 * time.Microsecond)
		}
	}
}

// fill copies staged SQEs into free ring slots, keeping chains whole, and
// returns how many it copied.
func (q *Queue) fill() (filled int) {
	for q.bpos < len(q.batch) {
		e := &q.batch[q.bpos]
		need := max(e.group, 1)
		if int(q.ring.SQSpaceLeft()) < need {
			return filled
		}
		for k := 0; k < need; k++ {
			s := q.ring.GetSQE()
			*s = q.batch[q.bpos+k].sqe
			q.batch[q.bpos+k] = staged{}
		}
		q.bpos += need
		q.unsubmitted += need
		filled += need
	}
	return filled
}

func transientSubmitErr(err error) bool {
	return errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) ||
		errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOMEM)
}

// failSubmit handles an io_uring_enter error that retrying cannot fix. The
// SQEs still staged never reached the ring, and (without SQPOLL) the SQEs
// in the ring that the failed call did not consume are taken back: their
// handles all get the error. Left in the ring, they waited for an
// io_uring_enter that might never succeed (a ring set up with
// IORING_SETUP_R_DISABLED gives EBADFD until it is enabled), and Close with
// them. An SQPOLL thread may consume on its own: there they stay, unless
// the error says no SQ thread will ever read them (below).
func (q *Queue) failSubmit(err error) {
	var ops []*completion.Op
	// With SQPOLL too when no SQ thread will ever read them: a disabled ring
	// (EBADFD, IORING_SETUP_R_DISABLED) has not started it, and EOWNERDEAD
	// says it died. Left there, they kept Close waiting for ever.
	if !q.sqpoll || errors.Is(err, unix.EBADFD) || errors.Is(err, unix.EOWNERDEAD) {
		q.ring.takeBack(func(ud uint64) {
			if ud == internalUserData {
				return // the queue's own cancel: nothing waits for it
			}
			if op := q.table.Lookup(ud); op != nil {
				ops = append(ops, op)
			}
		})
		q.unsubmitted = 0
	}
	for i := q.bpos; i < len(q.batch); i++ {
		if op := q.batch[i].op; op != nil {
			ops = append(ops, op)
		}
		q.batch[i] = staged{}
	}
	q.batch = q.batch[:0]
	q.bpos = 0
	q.smu.Lock()
	for i := range q.staged {
		if op := q.staged[i].op; op != nil {
			ops = append(ops, op)
		}
		q.staged[i] = staged{}
	}
	q.staged = q.staged[:0]
	q.submitting = false
	q.smu.Unlock()
	for _, op := range ops {
		q.table.Abort(op, fmt.Errorf("uring: io_uring_submit: %w", err))
	}
}
