package uring

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// requireInlineWait skips unless the queue can wait for a lone request in
// the kernel (IORING_FEAT_EXT_ARG, Linux 5.11).
func requireInlineWait(t *testing.T, q *Queue) {
	t.Helper()
	if !q.canWaitInline {
		testutil.FeatureMissing(t, 5, 11, "IORING_FEAT_EXT_ARG", errors.New("not in the ring's features"))
	}
}

// lonePipeReads runs n reads of one byte from a pipe, one at a time, each
// answered by a writer after delay, and checks the bytes.
func lonePipeReads(t *testing.T, q *Queue, n int, delay time.Duration) {
	t.Helper()
	r, w := testPipe(t)
	for i := 0; i < n; i++ {
		buf := make([]byte, 1)
		h, err := q.Read(r, buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		go func(b byte) {
			time.Sleep(delay)
			unix.Write(w, []byte{b})
		}(byte('a' + i%26))
		if n, err := h.Wait(nil); n != 1 || err != nil || buf[0] != byte('a'+i%26) {
			t.Fatalf("read %d = %d, %v, %q", i, n, err, buf)
		}
	}
}

// A goroutine with one request at a time waits for its CQEs in the kernel
// once it has done so a few times in a row (and gets the right data); with
// other requests in flight it parks as before.
func TestQueueInlineWait(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireInlineWait(t, q)
	primeLone(t, q)
	lonePipeReads(t, q, 4, 200*time.Microsecond)
	if q.inlineWaits.Load() == 0 {
		t.Fatal("lone reads in a row, no wait in io_uring_enter")
	}

	// Many goroutines: Waits that find others in flight reset the streak.
	q2 := newTestQueue(t, QueueConfig{})
	r, w := testPipe(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1)
			h, err := q2.Read(r, buf, 0)
			if err != nil {
				t.Error(err)
				return
			}
			if n, err := h.Wait(nil); n != 1 || err != nil {
				t.Errorf("read = %d, %v", n, err)
			}
		}()
	}
	for q2.InFlight() < 8 {
		time.Sleep(time.Millisecond)
	}
	unix.Write(w, []byte("12345678"))
	wg.Wait()
	if q2.inlineWaits.Load() != 0 {
		t.Errorf("%d inline waits with 8 requests in flight", q2.inlineWaits.Load())
	}
}

// A lone request that takes longer than the inline budget: the waiter gives
// up waiting in the kernel and parks; the reaper completes it.
func TestQueueInlineWaitGivesUp(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireInlineWait(t, q)
	primeLone(t, q)
	waits := q.inlineWaits.Load()
	lonePipeReads(t, q, 1, 50*time.Millisecond) // ~3 ms of inline budget, then the gate
	// Each step of the budget is one inline wait; fewer when the writer's
	// 50 ms run out during a step the VM stalled (the read completes there),
	// never more, and never none: the waiter starts in the kernel.
	if got, steps := q.inlineWaits.Load()-waits, int64(len(completion.LoneWaitSteps)); got < 1 || got > steps {
		t.Errorf("a 50 ms read made %d inline waits, want 1 to the %d steps of the budget", got, steps)
	}
}

// Close while a goroutine waits in io_uring_enter for its lone read: the
// read is cancelled, the waiter returns, and Close unmaps the ring only
// after the waiter has left the kernel.
func TestQueueCloseDuringInlineWait(t *testing.T) {
	testutil.CheckLeaks(t)
	steps := completion.LoneWaitSteps
	completion.LoneWaitSteps = []int64{5e9} // one long wait, so that Close finds it there
	defer func() { completion.LoneWaitSteps = steps }()
	q := newTestQueue(t, QueueConfig{Entries: 8})
	requireInlineWait(t, q)
	primeLone(t, q)
	r, _ := testPipe(t)
	h, err := q.Read(r, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := h.Wait(nil)
		res <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for q.inlineWaiting.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	if q.inlineWaiting.Load() == 0 {
		t.Fatal("the lone read's waiter never waited in the kernel")
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, unix.ECANCELED) && !errors.Is(err, unix.EINTR) {
			t.Errorf("read cancelled by Close = %v, want ECANCELED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter still blocked after Close")
	}
}

// primeLone runs lone pipe reads until the queue waits for lone requests in
// the kernel (a read that completed before its Wait does not count).
func primeLone(t *testing.T, q *Queue) {
	t.Helper()
	for i := 0; i < 4*completion.LoneStreak && q.lone.Streak() <= completion.LoneStreak; i++ {
		lonePipeReads(t, q, 1, 200*time.Microsecond)
	}
	if q.lone.Streak() <= completion.LoneStreak {
		t.Fatalf("after %d lone reads the streak is %d", 4*completion.LoneStreak, q.lone.Streak())
	}
}

// A live multishot stream (a server's multishot accept, here a multishot
// poll that never fires) keeps its slot in flight; lone requests besides it
// are still waited for in the kernel, and the stream goes on working.
func TestQueueInlineWaitBesideMultishot(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireInlineWait(t, q)
	pr, pw := testPipe(t)
	m, err := q.PollMultishot(pr, unix.POLLIN)
	msStarted(t, q, m, err)
	primeLone(t, q)
	lonePipeReads(t, q, 4, 200*time.Microsecond)
	if q.inlineWaits.Load() == 0 {
		t.Fatal("lone reads beside a live multishot poll: no wait in io_uring_enter")
	}
	if _, err := unix.Write(pw, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if res, flags, err := next(t, m); err != nil || flags&CQEFMore == 0 || res&unix.POLLIN == 0 {
		t.Fatalf("multishot poll after the inline waits: %#x, %#x, %v", res, flags, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !testutil.Settle(5*time.Second, func() bool { return q.msLive.Load() == 0 }) {
		t.Errorf("live multishot count %d after Close", q.msLive.Load())
	}
}
