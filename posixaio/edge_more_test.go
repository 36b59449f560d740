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

// TestEdgeCancelDuringRequeue: Queue.Cancel of a request still queued in
// glibc must not answer AllDone while a cancel on another queue takes the
// descriptor's requests back and submits them again (pa_requeue), which
// clears the slots' armed flags meanwhile.
func TestEdgeCancelDuringRequeue(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		testutil.CheckLeaks(t)
		const n = 64
		for round := 0; round < 5; round++ {
			r, w := pipe(t)
			blocker := newCb(t, r, make([]byte, 1), 0)
			if err := blocker.Read(); err != nil {
				t.Fatal(err)
			}
			qa, qb := newQueue(t, n, m), newQueue(t, 2, m)
			var ha []*completion.Handle
			for i := 0; i < n; i++ {
				h, err := qa.Read(r, make([]byte, 1), 0)
				if err != nil {
					t.Fatal(err)
				}
				ha = append(ha, h)
			}
			target, err := qb.Read(r, make([]byte, 1), 0)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, h := range ha {
					qa.Cancel(h)
				}
			}()
			time.Sleep(200 * time.Microsecond)
			res, err := qb.Cancel(target)
			<-done
			if err != nil || res != Canceled {
				// The pipe is empty and a raw read runs ahead of the
				// target on its descriptor: it cannot have finished.
				t.Errorf("round %d: Cancel of a queued read = %d, %v; want Canceled (%d); target done: %v",
					round, res, err, Canceled, target.IsDone())
			}
			unix.Close(w) // the blocker and whatever is left read EOF
			if _, err := target.Wait(context.Background()); err != nil && !errors.Is(err, unix.ECANCELED) {
				t.Fatal(err)
			}
			for _, h := range ha {
				h.Wait(context.Background())
			}
			waitDone(t, blocker)
			qa.Close()
			qb.Close()
		}
	})
}

// TestEdgeLongLists: glibc keeps per-entry arrays of aio_suspend's and
// lio_listio's lists on the caller's stack; long lists (even of nil
// entries) crashed the process with SIGSEGV. They must give glibc's answers.
func TestEdgeLongLists(t *testing.T) {
	testutil.CheckLeaks(t)
	live := LiveAiocbs()
	// Only nil entries: aio_suspend returns 0 at once, lio_listio queues
	// nothing and returns 0, in both modes.
	// (An 8 MiB thread stack held 2^20 entries of neither.)
	nils := make([]*Aiocb, 1<<20+1<<18)
	if err := AioSuspend(nils[:1<<18], time.Second); err != nil {
		t.Errorf("AioSuspend(2^18 nil entries) = %v, want nil", err)
	}
	for _, mode := range []int{LioNowait, LioWait} {
		if err := LioListio(mode, nils, nil); err != nil {
			t.Errorf("LioListio(%d, 2^20+2^18 nil entries) = %v, want nil", mode, err)
		}
	}

	// One request in progress among many nil entries: a timed wait times
	// out, an untimed one returns when it finishes.
	r, w := pipe(t)
	a := newCb(t, r, make([]byte, 1), 0)
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	list := make([]*Aiocb, 1<<20)
	list[len(list)-1] = a
	start := time.Now()
	if err := Suspend(list, 20*time.Millisecond); err != unix.EAGAIN {
		t.Errorf("Suspend(2^20 entries, one reading an empty pipe, 20ms) = %v, want EAGAIN", err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("Suspend timed out after %v, want 20ms", d)
	}
	// The same request in every entry (glibc waits on it once per entry):
	// the untimed wait returns once a write lets it finish.
	for i := range list {
		list[i] = a
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		unix.Write(w, []byte{7})
	}()
	if err := Suspend(list, -1); err != nil {
		t.Errorf("Suspend(2^20 entries) after the write = %v", err)
	}
	if n, err := a.Return(); n != 1 || err != nil {
		t.Errorf("read: %d, %v", n, err)
	}

	// LioWait of more real members than fit the small-list path, spread
	// over a few descriptors, each reading its own 16 bytes.
	const members = 5000
	data := pattern(members*16, 9)
	_, path := tempFile(t, data)
	var fds []int
	for i := 0; i < 8; i++ {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	cbs := make([]*Aiocb, 0, 2*members)
	bufs := make([][]byte, members)
	for i := 0; i < members; i++ {
		bufs[i] = make([]byte, 16)
		c := newCb(t, fds[i%len(fds)], bufs[i], int64(i*16))
		cbs = append(cbs, c, nil)
	}
	if err := LioListio(LioWait, cbs, nil); err != nil {
		t.Fatalf("LioListio(LioWait, %d members) = %v", members, err)
	}
	for i := 0; i < members; i++ {
		if n, err := cbs[2*i].Return(); n != 16 || err != nil || string(bufs[i]) != string(data[i*16:i*16+16]) {
			t.Fatalf("member %d: %d, %v, data ok %v", i, n, err, string(bufs[i]) == string(data[i*16:i*16+16]))
		}
	}
	for _, c := range cbs {
		if c != nil {
			if err := c.Free(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.Free(); err != nil {
		t.Fatal(err)
	}
	if got := LiveAiocbs(); got != live {
		t.Errorf("LiveAiocbs %d -> %d", live, got)
	}
}

// TestEdgeClosedGetters: a freed Aiocb's getters give what a nil *Aiocb's
// give (the type's doc), Sigevent included, and a closed ThreadSink's Drain
// gives ErrClosed also for an empty out, as the zero sink's does.
func TestEdgeClosedGetters(t *testing.T) {
	var nilCb *Aiocb
	a := NewAiocb()
	if err := a.SetSigevent(Sigevent{Notify: SigevSignal, Signo: int(unix.SIGUSR1), Value: 5}); err != nil {
		t.Fatal(err)
	}
	if err := a.Prep(3, make([]byte, 8), 9); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(); err != nil {
		t.Fatal(err)
	}
	type getters struct {
		fd, nbytes, prio, op int
		off                  int64
		buf                  []byte
		ev                   Sigevent
	}
	get := func(c *Aiocb) getters {
		return getters{c.Fildes(), c.Nbytes(), c.Reqprio(), c.LioOpcode(), c.Offset(), c.Buf(), c.Sigevent()}
	}
	if g, n := get(a), get(nilCb); g.fd != n.fd || g.nbytes != n.nbytes || g.prio != n.prio || g.op != n.op ||
		g.off != n.off || g.buf != nil || g.ev != n.ev || a.Ptr() != nil {
		t.Errorf("getters after Free %+v, of a nil *Aiocb %+v", g, n)
	}

	var zero ThreadSink
	s, err := NewThreadSink(16)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Drain(nil, true); n != 0 || err != nil {
		t.Errorf("Drain(nil) of an open sink = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, sk := range map[string]*ThreadSink{"zero": &zero, "closed": s} {
		for _, out := range [][]uint64{nil, make([]uint64, 4)} {
			if _, _, err := sk.Drain(out, true); err != ErrClosed {
				t.Errorf("%s sink: Drain(len %d) = %v, want ErrClosed", name, len(out), err)
			}
		}
	}
}

// TestEdgeCloseLateSubmission: a Read whose slot was taken before Close
// but which reaches glibc only after Close cancelled the queued requests
// (it waited for pa_cancel_lock meanwhile) must not be queued behind the
// running read of a pipe: it was, and once that read finished it ran and
// kept Close waiting for ever on the empty pipe. Every read but the
// running one must complete with ECANCELED before the pipe has data.
func TestEdgeCloseLateSubmission(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		testutil.CheckLeaks(t)
		for round := 0; round < 10; round++ {
			r, w := pipe(t)
			q, err := NewQueueOptions(4096, QueueOptions{Notify: m})
			if err != nil {
				t.Fatal(err)
			}
			first, err := q.Read(r, make([]byte, 1), 0)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond) // a glibc thread runs it, blocked in read
			submitted := make(chan []*completion.Handle)
			go func() {
				var hs []*completion.Handle
				for {
					h, err := q.Read(r, make([]byte, 1), 0)
					if err == ErrClosed {
						break
					}
					if err == nil {
						hs = append(hs, h)
					}
				}
				submitted <- hs
			}()
			time.Sleep(200 * time.Microsecond)
			done := make(chan error, 1)
			go func() { done <- q.Close() }()
			hs := <-submitted
			deadline := time.Now().Add(2 * time.Second)
			late := 0
			for _, h := range hs {
				select {
				case <-h.Done():
				case <-time.After(time.Until(deadline)):
				}
				if !h.IsDone() {
					late++
				} else if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
					t.Errorf("round %d: a read submitted behind the running one: %v, want ECANCELED", round, err)
				}
			}
			if late > 0 {
				unix.Close(w) // lets the running read and the late ones end
				<-done
				t.Fatalf("round %d: %d of %d reads submitted while Close ran were not cancelled: Close would wait for them once the running read finished",
					round, late, len(hs))
			}
			unix.Write(w, []byte{1}) // the running read finishes
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				unix.Close(w)
				<-done
				t.Fatalf("round %d: Close still waiting 2 s after the running read finished", round)
			}
			if n, err := first.Wait(context.Background()); n != 1 && !errors.Is(err, unix.ECANCELED) {
				t.Fatalf("round %d: first read: %d, %v", round, n, err)
			}
		}
	})
}
