package posixaio

import (
	"context"
	"errors"
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
		t.Fatalf("trial %d: %s; the other queue's read of the descriptor did not complete in 10 s", trial, what)
	}
	if err != nil || n != 4096 {
		t.Fatalf("trial %d: other queue's read: %d, %v", trial, n, err)
	}
}

// TestQueueCancelKeepsNextRunning across two queues: the read stranded by
// glibc's cancel bug may be another Queue's request on the same descriptor,
// which the cancelling queue must submit again too.
func TestQueueCancelKeepsOtherQueueRunning(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		testutil.CheckLeaks(t)
		fd, _ := tempFile(t, pattern(4096, 1))
		qa, qb := newQueue(t, 8, m), newQueue(t, 8, m)
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
			waitSecond(t, trial, "Cancel of the first queue's read", hb)
			if _, err := ha.Wait(nil); err != nil && !errors.Is(err, unix.ECANCELED) {
				t.Fatalf("trial %d: first read: %v", trial, err)
			}
		}
		t.Logf("%d of 500 first reads cancelled", canceled)
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
