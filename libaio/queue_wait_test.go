package libaio

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// A goroutine with one request at a time waits for its events in
// io_getevents once it has done so a few times in a row, and reads the
// right data; a poll that takes longer than the inline budget falls back to
// the reaper.
func TestQueueInlineWait(t *testing.T) {
	testutil.CheckLeaks(t)
	const n = 32
	content := pattern(n*4096, 31)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	q := testQueue(t, 8)
	buf := alignedGo(4096)
	// A read whose event the reaper collected before its goroutine reached
	// Wait needs no inline wait; on a loaded machine (make check runs the
	// packages' tests in parallel on 2 CPUs) a whole round of 32 can go that
	// way, so up to 10 rounds are read before this fails.
	const rounds = 10
	for r := 0; r < rounds && q.inlineWaits.Load() == 0; r++ {
		for i := 0; i < n; i++ {
			off := int64(i*7%n) * 4096
			h, err := q.Read(fd, buf, off)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := h.Wait(context.Background()); got != 4096 || err != nil || !bytes.Equal(buf, content[off:off+4096]) {
				t.Fatalf("read %d = %d, %v", i, got, err)
			}
		}
	}
	if q.inlineWaits.Load() == 0 {
		// O_DIRECT reads take tens of microseconds on this device.
		t.Errorf("%d lone O_DIRECT reads in a row, no wait in io_getevents", rounds*n)
	}

	// A 50 ms poll outlasts the inline budget: its waiter waits in io_getevents for
	// each step, then falls back to the reaper. It makes fewer waits when the machine
	// stalls during a step long enough for the answer to come then, and none when the
	// answer came before Wait began: such an attempt is repeated, up to 5 times.
	r, w := pipe(t)
	steps := int64(len(completion.LoneWaitSteps))
	var got int64
	for attempt := 0; attempt < 5 && got == 0; attempt++ {
		primeLone(t, q, r, w)
		waits := q.inlineWaits.Load()
		h, err := q.Poll(r, unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			time.Sleep(50 * time.Millisecond)
			unix.Write(w, []byte("x"))
		}()
		// Only a Wait whose context cannot end waits inline; within bounds it.
		var mask int
		within(t, 10*time.Second, "Wait of a lone poll", func() {
			mask, err = h.Wait(context.Background())
		})
		if err != nil || mask&unix.POLLIN == 0 || !h.IsDone() {
			t.Fatalf("poll = %#x, %v (done %v)", mask, err, h.IsDone())
		}
		got = q.inlineWaits.Load() - waits
		<-wrote
		unix.Read(r, make([]byte, 1))
		if got > steps {
			t.Errorf("a 50 ms poll made %d inline waits, more than the %d steps of the budget", got, steps)
		}
	}
	if got == 0 {
		t.Errorf("in 5 attempts, the waiter of a lone 50 ms poll never waited in io_getevents")
	}
}

// Close while the lone waiter is in io_getevents: the poll is cancelled, the
// waiter returns, Close destroys the context only after it left.
func TestQueueCloseDuringInlineWait(t *testing.T) {
	testutil.CheckLeaks(t)
	steps := completion.LoneWaitSteps
	completion.LoneWaitSteps = []int64{5e9}
	defer func() { completion.LoneWaitSteps = steps }()
	q, err := NewQueue(8)
	if err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	primeLone(t, q, r, w)
	h, err := q.Poll(r, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := h.Wait(context.Background())
		res <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for q.inlineWaits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	if q.inlineWaits.Load() == 0 {
		t.Fatal("the lone poll's waiter never waited in io_getevents")
	}
	start := time.Now()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-res:
		if err != nil && !errors.Is(err, unix.ECANCELED) {
			t.Errorf("poll cancelled by Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter still blocked after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close and the waiter took %v: the cancelled poll did not wake the waiter", d)
	}
}

// primeLone runs polls of the pipe r, one at a time, each answered through w
// soon after its Wait began, until the queue waits for lone requests in
// io_getevents.
func primeLone(t *testing.T, q *Queue, r, w int) {
	t.Helper()
	for i := 0; i < 4*completion.LoneStreak && q.lone.Streak() <= completion.LoneStreak; i++ {
		h, err := q.Poll(r, unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(200 * time.Microsecond)
			unix.Write(w, []byte("x"))
		}()
		if _, err := h.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		unix.Read(r, make([]byte, 1))
	}
	if q.lone.Streak() <= completion.LoneStreak {
		t.Fatalf("after %d lone polls the streak is %d", 4*completion.LoneStreak, q.lone.Streak())
	}
}
