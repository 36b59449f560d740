package libaio

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// blockSubmitters makes every submitter of q block inside io_submit on a read of an
// empty blocking pipe (the kernel runs pipe reads inside io_submit), so that requests
// made meanwhile stay queued. It returns the write ends (a byte releases one submitter)
// and the readers' results; a read that a signal interrupted marks a as interrupted
// (see blockedAttempts). ok is false if the submitters were not all taken.
func blockSubmitters(a *blockedAttempt, q *Queue) (ws []int, reads chan error, ok bool) {
	t := a.t
	t.Helper()
	q.smu.Lock()
	n := len(q.batches)
	q.smu.Unlock()
	reads = make(chan error, n)
	for i := 0; i < n; i++ {
		r, w := pipe(t)
		ws = append(ws, w)
		go func() {
			h, err := q.Read(r, make([]byte, 1), 0)
			if err == nil {
				_, err = h.Wait(context.Background())
			}
			reads <- a.check(err)
		}()
	}
	if !a.waitFor("the submitters to be taken", func() bool {
		q.smu.Lock()
		defer q.smu.Unlock()
		return len(q.batches) == 0 && len(q.pending) == 0
	}) {
		return ws, reads, false
	}
	time.Sleep(50 * time.Millisecond) // and to be inside io_submit
	return ws, reads, true
}

// A blockedAttempt is one try of a test whose submitters block in blocking pipe reads
// inside io_submit. A signal to such a thread ends its read with EINTR (docs/libaio.md:
// the kernel cannot restart it), and Go's runtime sends SIGURG at any time, also to a
// goroutine's thread that is just entering the cgo call: the submitter is then released
// before the test meant to, and what the attempt saw afterwards says nothing about the
// queue. blockedAttempts discards the failures of an interrupted attempt and tries again.
type blockedAttempt struct {
	t    *testing.T
	errs []string
	intr atomic.Bool
}

// Errorf records a failure of the attempt.
func (a *blockedAttempt) Errorf(format string, args ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, args...))
}

// check marks the attempt interrupted if err, the result of a blocking pipe read, is
// EINTR; it returns err.
func (a *blockedAttempt) check(err error) error {
	if errors.Is(err, unix.EINTR) {
		a.intr.Store(true)
	}
	return err
}

// waitFor is waitFor recording a time-out as a failure of the attempt (false); it
// gives up at once when the attempt was interrupted.
func (a *blockedAttempt) waitFor(what string, cond func() bool) bool {
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if a.intr.Load() {
			return false
		}
		if time.Now().After(end) {
			a.Errorf("timed out waiting for %s", what)
			return false
		}
	}
	return true
}

// blockedAttempts runs attempt until one was not interrupted (at most 5 times) and
// reports that one's failures. attempt must release and wait for every blocking read
// it started before it returns, so that each one's EINTR, if any, is seen.
func blockedAttempts(t *testing.T, attempt func(a *blockedAttempt)) {
	t.Helper()
	for i := 1; i <= 5; i++ {
		a := &blockedAttempt{t: t}
		attempt(a)
		if !a.intr.Load() {
			for _, e := range a.errs {
				t.Error(e)
			}
			return
		}
		t.Logf("attempt %d: a signal interrupted a blocking pipe read inside io_submit (EINTR); its failures, discarded: %q", i, a.errs)
	}
	t.Fatal("5 attempts in a row had a blocking pipe read interrupted by a signal")
}

// release writes a byte to each of ws and waits for the n blocking reads of reads.
func (a *blockedAttempt) release(ws []int, reads chan error) {
	for _, w := range ws {
		unix.Write(w, []byte("x"))
	}
	for range ws {
		if err := <-reads; err != nil && !errors.Is(err, unix.EINTR) {
			a.Errorf("blocking read: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func queued(q *Queue) int {
	q.smu.Lock()
	defer q.smu.Unlock()
	return len(q.pending)
}

// cancelWait calls h.Wait with an ended context (which asks the Queue to cancel h) and
// returns whether the handle is done within d afterwards.
func cancelWait(t *testing.T, h *completion.Handle, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait(ended ctx) = %v; want context.Canceled", err)
	}
	select {
	case <-h.Done():
		return true
	case <-time.After(d):
		return false
	}
}

// A request whose Wait context ends while it is still queued for a submitter (every
// submitter busy inside io_submit) is not submitted later: it completes at once with
// ECANCELED, what io_cancel gives a request it cancels before the kernel ran it. Before,
// io_cancel answered EINVAL for the iocb not yet submitted, and the poll was submitted
// afterwards and stayed in flight until its fd became ready.
func TestQueueCancelQueued(t *testing.T) {
	testutil.CheckLeaks(t)
	blockedAttempts(t, func(a *blockedAttempt) {
		q := testQueue(t, 8)
		q.SetInlineReads(false)
		pr, _ := pipe(t) // never written: the poll stays in flight once submitted
		ws, reads, ok := blockSubmitters(a, q)
		defer func() { a.release(ws, reads) }()
		if !ok {
			return
		}
		h, err := q.Poll(pr, unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		if n := queued(q); n != 1 {
			a.Errorf("%d requests queued; want the poll", n)
		}
		done := cancelWait(t, h, 2*time.Second)
		a.release(ws, reads)
		ws = nil
		if !done {
			select {
			case <-h.Done():
				a.Errorf("poll cancelled while queued completed only after the submitters went on: %v", resultOf(h))
			case <-time.After(500 * time.Millisecond):
				a.Errorf("poll cancelled while queued was submitted and stays in flight")
				return // q.Close cancels it
			}
		}
		if n, err := h.Result(); n != 0 || !errors.Is(err, unix.ECANCELED) {
			a.Errorf("poll cancelled while queued: %d, %v; want ECANCELED", n, err)
		}
		if q.InFlight() != 0 {
			a.Errorf("InFlight %d", q.InFlight())
		}
	})
}

// A request cancelled after a submitter took it from the queue, while that submitter's
// io_submit is still busy with an earlier request of the batch (a blocking pipe read):
// the submitter cancels it once io_submit returned, and the poll completes (res 0, as
// io_cancel's poll; or ECANCELED if the submitter saw the cancel before io_submit).
func TestQueueCancelDuringSubmit(t *testing.T) {
	testutil.CheckLeaks(t)
	blockedAttempts(t, func(a *blockedAttempt) {
		q := testQueue(t, 8)
		q.SetInlineReads(false)
		pr, _ := pipe(t)
		ws, reads, ok := blockSubmitters(a, q)
		if !ok {
			a.release(ws, reads)
			return
		}
		r2, w2 := pipe(t)
		read2, err := q.Read(r2, make([]byte, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		// The second read is a blocking pipe read inside io_submit too.
		defer func() {
			a.release(ws, reads)
			unix.Write(w2, []byte("x"))
			_, err := testutil.WaitHandle(t, read2, "second read")
			a.check(err)
		}()
		h, err := q.Poll(pr, unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		if n := queued(q); n != 2 {
			a.Errorf("%d requests queued; want the read and the poll", n)
			return
		}
		// Release one submitter: it takes the read and the poll, and blocks in io_submit
		// on the read, before the poll (its own Read returns only after that io_submit).
		unix.Write(ws[0], []byte("x"))
		if !a.waitFor("the submitter to take the queue", func() bool { return queued(q) == 0 }) {
			return
		}
		time.Sleep(50 * time.Millisecond)
		if read2.IsDone() {
			a.Errorf("second read done before its pipe was written: %v", resultOf(read2))
			return
		}
		if cancelWait(t, h, 100*time.Millisecond) {
			t.Logf("poll done while io_submit was still blocked: %v", resultOf(h))
		}
		unix.Write(w2, []byte("x"))
		if n, err := read2.Wait(context.Background()); n != 1 || err != nil {
			a.Errorf("second read: %d, %v", n, err)
		}
		select {
		case <-h.Done():
		case <-time.After(2 * time.Second):
			a.Errorf("poll cancelled during its batch's io_submit stays in flight")
			return
		}
		t.Logf("poll cancelled during io_submit: %s", resultOf(h))
		if n, err := h.Result(); !(n == 0 && err == nil) && !errors.Is(err, unix.ECANCELED) {
			a.Errorf("poll cancelled during io_submit: %d, %v; want 0 or ECANCELED", n, err)
		}
	})
}

func resultOf(h *completion.Handle) string {
	n, err := h.Result()
	return fmt.Sprintf("%d, %v", n, err)
}
