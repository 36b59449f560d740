package posixaio

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// With GOMAXPROCS 1, a submission that arrives while the NotifySuspend
// reaper waits in aio_suspend (which, with one P, only sysmon handing the P
// over allows) sends its next waits to the suspender thread; requests then
// complete through it (and Go's poller) with their results, and Close
// stops the thread.
func TestSuspenderOneP(t *testing.T) {
	testutil.CheckLeaks(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	q := newQueue(t, 64, NotifySuspend)
	r, w := pipe(t)
	blocked, err := q.Read(r, make([]byte, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Reads of other pipes, each submitted while the reaper waits on the
	// blocked one (its list does not cover them: the submission signals
	// it), until a wait saw one arrive.
	type pend struct {
		w   int
		buf []byte
		h   *completion.Handle
	}
	var others []pend
	used := testutil.Settle(10*time.Second, func() bool {
		if q.sus.spWaits.Load() > 0 {
			return true
		}
		if q.sus.waits.Load() == 0 {
			return false // not waiting yet
		}
		r2, w2 := pipe(t)
		buf := make([]byte, 8)
		h, err := q.Read(r2, buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, pend{w2, buf, h})
		return false
	})
	if !used {
		t.Fatalf("with GOMAXPROCS 1 the reaper never waited on the suspender (%d waits, %d submissions during them)", q.sus.waits.Load(), len(others))
	}
	for i, p := range others {
		msg := []byte{'a' + byte(i%26)}
		if _, err := unix.Write(p.w, msg); err != nil {
			t.Fatal(err)
		}
		if n, err := testutil.WaitHandle(t, p.h, "pipe read"); n != 1 || err != nil || p.buf[0] != msg[0] {
			t.Fatalf("read %d = %d, %v, %q", i, n, err, p.buf[:1])
		}
	}
	if _, err := unix.Write(w, []byte("done")); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.WaitHandle(t, blocked, "blocked read"); n != 4 || err != nil {
		t.Fatalf("blocked read = %d, %v", n, err)
	}

	// Cached reads from many goroutines go on completing, right, through
	// the suspender.
	fd, _ := tempFile(t, pattern(1<<20, 5))
	want := pattern(1<<20, 5)
	before := q.sus.spWaits.Load()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := 0; i < 200; i++ {
				off := int64((g*200+i)%256) * 4096
				h, err := q.Read(fd, buf, off)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := testutil.WaitHandle(t, h, "cached read"); n != 4096 || err != nil || !bytes.Equal(buf, want[off:off+4096]) {
					t.Errorf("read at %d = %d, %v (or the wrong bytes)", off, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("suspender waits: %d before the cached reads, %d after; %d waits in all", before, q.sus.spWaits.Load(), q.sus.waits.Load())
	if err := testutil.CloseWithin(t, q, 10*time.Second, "Queue with a suspender"); err != nil {
		t.Fatal(err)
	}
	if q.sus.sp != nil {
		t.Error("Close left the suspender running")
	}
}
