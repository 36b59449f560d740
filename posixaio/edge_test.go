package posixaio

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// TestWideIntArguments: int arguments outside C's int fail as a bad value does
// (EINVAL, ErrBadSigevent) instead of being taken for their low 32 bits.
func TestWideIntArguments(t *testing.T) {
	t.Run("LioListioMode", func(t *testing.T) {
		// A bad mode must give EINVAL at once (documented). 1<<32 wraps to
		// LIO_WAIT (0), which also bypasses the binding's own LIO_WAIT
		// emulation and blocks inside glibc's unsafe LIO_WAIT.
		r, w := pipe(t)
		a := newCb(t, r, make([]byte, 1), 0)
		a.SetLioOpcode(LioRead)
		done := make(chan error, 1)
		go func() { done <- LioListio(1<<32, []*Aiocb{a}, nil) }()
		select {
		case err := <-done:
			if err != unix.EINVAL {
				t.Errorf("LioListio(mode 1<<32) = %v, want EINVAL", err)
			}
		case <-time.After(time.Second):
			unix.Write(w, []byte("x"))
			err := <-done
			t.Errorf("LioListio(mode 1<<32) blocked in glibc's LIO_WAIT until the pipe got data, then returned %v; want EINVAL at once", err)
		}
	})
	t.Run("FsyncOp", func(t *testing.T) {
		fd, _ := tempFile(t, pattern(512, 1))
		a := newCb(t, fd, nil, 0)
		err := a.Fsync(1<<32 | OSync)
		if err == nil {
			waitDone(t, a)
		}
		if err != unix.EINVAL {
			t.Errorf("Fsync(1<<32|O_SYNC) = %v, want EINVAL (bad op)", err)
		}
	})
	t.Run("Reqprio", func(t *testing.T) {
		fd, _ := tempFile(t, pattern(512, 1))
		a := newCb(t, fd, make([]byte, 16), 0)
		setErr := a.SetReqprio(1 << 32)
		var readErr error
		if setErr == nil {
			readErr = a.Read()
			if readErr == nil {
				waitDone(t, a)
			}
		}
		if setErr == nil && readErr == nil {
			t.Errorf("SetReqprio(1<<32) accepted (Reqprio() = %d) and Read succeeded; want EINVAL (reqprio outside 0..%d)", a.Reqprio(), PrioDeltaMax)
		}
	})
	t.Run("QueueSize", func(t *testing.T) {
		for _, n := range []int{completion.MaxTableSize + 1, 1 << 50} {
			if q, err := NewQueue(n); err != unix.EINVAL || q != nil {
				t.Errorf("NewQueue(%d) = %v, %v; want EINVAL", n, q, err)
			}
		}
	})
	t.Run("RTSignal", func(t *testing.T) {
		s, err := RTSignal(math.MaxInt)
		if err == nil {
			t.Errorf("RTSignal(MaxInt) = %d, nil; want ErrBadSigevent", int(s))
		}
	})
}

// TestSinkIDNotReused: a sink id carries a generation beside its slot, so a
// notification of a closed sink's Sigevent (a request still in flight when it
// closed) does not reach the sink that got its slot, and the closed sink's
// Drain gives ErrClosed.
func TestSinkIDNotReused(t *testing.T) {
	old, err := NewThreadSink(16)
	if err != nil {
		t.Fatal(err)
	}
	ev := old.Sigevent(42) // made while old was open
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if got := old.Sigevent(43); got.Value>>40 != 0 {
		t.Errorf("Sigevent of a closed sink names sink %d, want none", got.Value>>40)
	}
	var fresh *ThreadSink
	for i := 0; i < 4096; i++ {
		s, err := NewThreadSink(16)
		if err != nil {
			t.Fatal(err)
		}
		if s.id&4095 == old.id&4095 {
			fresh = s
			break
		}
		s.Close()
	}
	if fresh == nil {
		t.Fatal("no sink got the closed sink's slot back")
	}
	defer fresh.Close()
	if fresh.id == old.id {
		t.Fatalf("the sink in the closed sink's slot has its id %#x", old.id)
	}
	fd, _ := tempFile(t, pattern(512, 1))
	a := newCb(t, fd, make([]byte, 512), 0)
	if err := a.SetSigevent(ev); err != nil {
		t.Fatal(err)
	}
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a)
	time.Sleep(100 * time.Millisecond) // let the notification thread run
	buf := make([]uint64, 4)
	if n, _, _ := fresh.Drain(buf, false); n != 0 {
		t.Errorf("a new sink received %v from a notification of the closed sink's Sigevent (want it dropped)", buf[:n])
	}
	if n, _, err := old.Drain(buf, false); err != ErrClosed {
		t.Errorf("Drain of the closed sink = %v, %v; want ErrClosed", buf[:n], err)
	}
}

// readers starts n goroutines that call q.Read of 16 bytes of fd in a loop,
// pausing pause after each, until stop is set; once q is closed every call
// fails at once with ErrClosed.
func readers(q *Queue, fd, n int, pause time.Duration, stop *atomic.Bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16)
			for !stop.Load() {
				if h, err := q.Read(fd, buf, 0); err == nil {
					h.Wait(context.Background())
				}
				time.Sleep(pause)
			}
		}()
	}
	return &wg
}

// TestCloseAfterLateSubmission: a NotifyThread queue's Close returns although
// Reads that fail with ErrClosed run while it shuts the reaper down (a Begin on
// the closed table counted itself in flight for a moment, and a reaper that
// looked then parked for good). The callers stop 20ms after Close started.
func TestCloseAfterLateSubmission(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 1))
	for round := 0; round < 30; round++ {
		q, err := NewQueueOptions(4, QueueOptions{Notify: NotifyThread})
		if err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		wg := readers(q, fd, 3, 0, &stop)
		time.Sleep(time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- q.Close() }()
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		wg.Wait() // no Read call is running any more
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			t.Fatalf("round %d: Close still blocked 5s after the last Read returned (in flight %d, submitters %d; reaper goroutine parked in ThreadSink.Wait: %v)",
				round, q.InFlight(), q.submitters.Load(), strings.Contains(stacks, "(*Queue).reap("))
		}
	}
}

// TestCloseWithErrClosedCallers: Close waits until no submission that began is
// inside Read/Write/Fsync; goroutines that keep calling Read (each call failing
// at once with ErrClosed) do not keep it from returning (they did while every
// call counted itself).
func TestCloseWithErrClosedCallers(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 1))
	q, err := NewQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	wg := readers(q, fd, 4, 0, &stop)
	defer func() { stop.Store(true); wg.Wait() }()
	time.Sleep(time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- q.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_, rerr := q.Read(fd, make([]byte, 1), 0)
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		where := "?"
		for _, g := range strings.Split(stacks, "\n\n") {
			if !strings.Contains(g, "(*Queue).Close") {
				continue
			}
			for _, line := range strings.Split(g, "\n") {
				if strings.Contains(line, "posixaio/queue.go:") {
					where = strings.TrimSpace(line)
					break
				}
			}
		}
		t.Errorf("Close has not returned after 5s although every new Read fails at once (%v): it is at %s (the spin on q.submitters, now %d); InFlight() = %d (a Begin on the closed table counts itself in flight for a moment)",
			rerr, where, q.submitters.Load(), q.InFlight())
		stop.Store(true)
		<-done
	}
}
