package posixaio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// waitSecond waits up to 10 s for h, the read queued behind one that was
// cancelled, and fails the test if glibc stranded it (see pa_cancel).
func waitSecond(t *testing.T, trial int, what string, h *completion.Handle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	n, err := h.Wait(ctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("trial %d: %s; the next read of the descriptor did not complete in 10 s", trial, what)
	}
	if err != nil || n != 4096 {
		t.Fatalf("trial %d: next read: %d, %v", trial, n, err)
	}
}

// cancelKeepsNextRunning submits a read through qa and one of the same
// block through qb, cancels the first and wants the second done, 500
// times (TestQueueCancelKeepsNextRunning with qa == qb).
func cancelKeepsNextRunning(t *testing.T, qa, qb *Queue) {
	testutil.CheckLeaks(t)
	fd, _ := tempFile(t, pattern(4096, 1))
	a, b := make([]byte, 4096), make([]byte, 4096)
	canceled := 0
	for trial := 0; trial < 500; trial++ {
		ha, err := qa.Read(fd, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := qb.Read(fd, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := qa.Cancel(ha)
		if err != nil {
			t.Fatal(err)
		}
		if r == Canceled {
			canceled++
		}
		waitSecond(t, trial, fmt.Sprintf("Cancel(first read) = %d", r), hb)
		if _, err := ha.Wait(nil); err != nil && !errors.Is(err, unix.ECANCELED) {
			t.Fatalf("trial %d: first read: %v", trial, err)
		}
	}
	t.Logf("%d of 500 first reads cancelled", canceled)
}

// TestQueueCancelKeepsNextRunning across two queues: the read stranded by
// glibc's cancel bug may be another Queue's request on the same descriptor,
// which the cancelling queue must submit again too.
func TestQueueCancelKeepsOtherQueueRunning(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		cancelKeepsNextRunning(t, newQueue(t, 8, m), newQueue(t, 8, m))
	})
}

// Close cancels the queue's requests; one of another queue queued behind
// them on the same descriptor must still run.
func TestQueueCloseKeepsOtherQueueRunning(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		testutil.CheckLeaks(t)
		fd, _ := tempFile(t, pattern(4096, 1))
		qb := newQueue(t, 8, m)
		a, b := make([]byte, 4096), make([]byte, 4096)
		for trial := 0; trial < 200; trial++ {
			qa, err := NewQueueOptions(8, QueueOptions{Notify: m})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := qa.Read(fd, a, 0); err != nil {
				t.Fatal(err)
			}
			hb, err := qb.Read(fd, b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := qa.Close(); err != nil {
				t.Fatal(err)
			}
			waitSecond(t, trial, "Close of the first queue", hb)
		}
	})
}

// Several queues (both notify modes) read the same two descriptors from
// many goroutines, cancel at random (Cancel, contexts that end) while
// another goroutine keeps opening, using, cancelling in and closing
// queues of its own on them: every request completes (a cancel in one
// queue takes the others' requests back and submits them again), reads
// return the file's bytes, and nothing leaks.
func TestQueuesShareDescriptorsStress(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(64<<10, 5)
	fdA, _ := tempFile(t, content)
	fdB, err := unix.Dup(fdA)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fdB)
	fds := []int{fdA, fdB}
	// A stranded request also keeps its queue's Close (a cleanup) waiting:
	// end the test binary with every goroutine's stack rather than at
	// -timeout. Registered before the queues, so it stops after their Close.
	watchdog := time.AfterFunc(60*time.Second, func() {
		panic("TestQueuesShareDescriptorsStress: still running after 60 s (a request stranded?)")
	})
	t.Cleanup(func() { watchdog.Stop() })
	qs := []*Queue{newQueue(t, 16, NotifySuspend), newQueue(t, 16, NotifyThread), newQueue(t, 16, NotifySuspend)}
	stop := time.Now().Add(1500 * time.Millisecond)
	// done waits for h, 10 s at most, and checks a finished read.
	done := func(h *completion.Handle, buf []byte, off int, what string) {
		select {
		case <-h.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("%s: not done 10 s after its submission or cancel", what)
			return
		}
		n, err := h.Result()
		switch {
		case errors.Is(err, unix.ECANCELED):
		case err != nil || n != len(buf):
			t.Errorf("%s: %d, %v", what, n, err)
		case !bytes.Equal(buf, content[off:off+n]):
			t.Errorf("%s: wrong bytes", what)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			buf := make([]byte, 4096)
			for i := 0; time.Now().Before(stop); i++ {
				q := qs[r.IntN(len(qs))]
				off := r.IntN(len(content)/4096) * 4096
				h, err := q.Read(fds[r.IntN(2)], buf, int64(off))
				if errors.Is(err, ErrBusy) {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				if err != nil {
					t.Errorf("worker %d: Read: %v", g, err)
					return
				}
				what := fmt.Sprintf("worker %d read %d", g, i)
				switch r.IntN(3) {
				case 0:
					if _, err := q.Cancel(h); err != nil {
						t.Errorf("%s: Cancel: %v", what, err)
					}
				case 1:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(200))*time.Microsecond)
					h.Wait(ctx)
					cancel()
				}
				done(h, buf, off, what)
			}
		}(g)
	}
	wg.Add(1)
	go func() { // queues that come and go on the same descriptors
		defer wg.Done()
		for round := 0; time.Now().Before(stop); round++ {
			q, err := NewQueueOptions(8, QueueOptions{Notify: NotifyMode(round % 2)})
			if err != nil {
				t.Errorf("NewQueueOptions: %v", err)
				return
			}
			var hs [4]*completion.Handle
			var bufs [4][]byte
			for i := range hs {
				bufs[i] = make([]byte, 4096)
				if hs[i], err = q.Read(fds[i%2], bufs[i], int64(i*4096)); err != nil {
					t.Errorf("round %d: Read %d: %v", round, i, err)
				}
			}
			if hs[0] != nil {
				q.Cancel(hs[0])
			}
			if err := q.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			for i, h := range hs {
				if h != nil {
					done(h, bufs[i], i*4096, fmt.Sprintf("round %d read %d", round, i))
				}
			}
		}
	}()
	wg.Wait()
}
