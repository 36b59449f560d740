package libaio

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// blockSubmitters makes every submitter of q block inside io_submit on a read of an
// empty blocking pipe (the kernel runs pipe reads inside io_submit), so that requests
// made meanwhile stay queued. It returns the write ends (a byte releases one submitter)
// and the readers' results.
func blockSubmitters(t *testing.T, q *Queue) (ws []int, reads chan error) {
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
			reads <- err
		}()
	}
	waitFor(t, "the submitters to be taken", func() bool {
		q.smu.Lock()
		defer q.smu.Unlock()
		return len(q.batches) == 0 && len(q.pending) == 0
	})
	time.Sleep(50 * time.Millisecond) // and to be inside io_submit
	return ws, reads
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
	q := testQueue(t, 8)
	q.SetInlineReads(false)
	pr, _ := pipe(t) // never written: the poll stays in flight once submitted
	ws, reads := blockSubmitters(t, q)
	h, err := q.Poll(pr, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	if n := queued(q); n != 1 {
		t.Fatalf("%d requests queued; want the poll", n)
	}
	done := cancelWait(t, h, 2*time.Second)
	for _, w := range ws {
		unix.Write(w, []byte("x"))
	}
	for range ws {
		if err := <-reads; err != nil {
			t.Errorf("blocking read: %v", err)
		}
	}
	if !done {
		select {
		case <-h.Done():
			t.Fatalf("poll cancelled while queued completed only after the submitters went on: %v", resultOf(h))
		case <-time.After(500 * time.Millisecond):
			t.Fatal("poll cancelled while queued was submitted and stays in flight")
		}
	}
	if n, err := h.Result(); n != 0 || !errors.Is(err, unix.ECANCELED) {
		t.Errorf("poll cancelled while queued: %d, %v; want ECANCELED", n, err)
	}
	if q.InFlight() != 0 {
		t.Errorf("InFlight %d", q.InFlight())
	}
}

// A request cancelled after a submitter took it from the queue, while that submitter's
// io_submit is still busy with an earlier request of the batch (a blocking pipe read):
// the submitter cancels it once io_submit returned, and the poll completes (res 0, as
// io_cancel's poll; or ECANCELED if the submitter saw the cancel before io_submit).
func TestQueueCancelDuringSubmit(t *testing.T) {
	testutil.CheckLeaks(t)
	q := testQueue(t, 8)
	q.SetInlineReads(false)
	pr, _ := pipe(t)
	ws, reads := blockSubmitters(t, q)
	r2, w2 := pipe(t)
	read2, err := q.Read(r2, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := q.Poll(pr, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	if n := queued(q); n != 2 {
		t.Fatalf("%d requests queued; want the read and the poll", n)
	}
	// Release one submitter: it takes the read and the poll, and blocks in io_submit on
	// the read, before the poll (its own Read returns only after that io_submit).
	unix.Write(ws[0], []byte("x"))
	waitFor(t, "the submitter to take the queue", func() bool { return queued(q) == 0 })
	time.Sleep(50 * time.Millisecond)
	if read2.IsDone() {
		t.Fatalf("second read done before its pipe was written: %v", resultOf(read2))
	}
	if cancelWait(t, h, 100*time.Millisecond) {
		t.Logf("poll done while io_submit was still blocked: %v", resultOf(h))
	}
	unix.Write(w2, []byte("x"))
	for _, w := range ws[1:] {
		unix.Write(w, []byte("x"))
	}
	for range ws {
		if err := <-reads; err != nil {
			t.Errorf("blocking read: %v", err)
		}
	}
	if n, err := read2.Wait(context.Background()); n != 1 || err != nil {
		t.Errorf("second read: %d, %v", n, err)
	}
	select {
	case <-h.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("poll cancelled during its batch's io_submit stays in flight")
	}
	t.Logf("poll cancelled during io_submit: %s", resultOf(h))
	if n, err := h.Result(); !(n == 0 && err == nil) && !errors.Is(err, unix.ECANCELED) {
		t.Errorf("poll cancelled during io_submit: %d, %v; want 0 or ECANCELED", n, err)
	}
}

func resultOf(h *completion.Handle) string {
	n, err := h.Result()
	return fmt.Sprintf("%d, %v", n, err)
}
