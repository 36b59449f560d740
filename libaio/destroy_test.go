package libaio

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// within runs f in a goroutine and fails the test if it has not returned after d (the
// goroutine is then left behind: the test reports a hang instead of hanging).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s still blocked after %v", what, d)
	}
}

// A GetEvents (or PGetEvents) waiting with no timeout does not hold Destroy off: it
// returns ErrClosed (C's io_getevents returns EINVAL once io_destroy killed the
// context), Destroy returns, and a Submit made meanwhile returns ErrClosed instead of
// waiting behind Destroy.
func TestDestroyWakesGetEvents(t *testing.T) {
	for _, pget := range []bool{false, true} {
		c, err := Setup(4)
		if err != nil {
			t.Fatal(err)
		}
		res := make(chan error, 1)
		go func() {
			evs := make([]Event, 1)
			for {
				var err error
				if pget {
					_, err = c.PGetEvents(1, evs, nil, nil)
				} else {
					_, err = c.GetEvents(1, evs, nil)
				}
				if err != unix.EINTR {
					res <- err
					return
				}
			}
		}()
		time.Sleep(30 * time.Millisecond) // let it block in io_getevents
		destroyed := make(chan error, 1)
		go func() { destroyed <- c.Destroy() }()
		// Until Destroy has started (a fixed sleep may end before the goroutine ran).
		for deadline := time.Now().Add(10 * time.Second); c.users.Load()&closing == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("Destroy not started after 10 s")
			}
		}
		time.Sleep(30 * time.Millisecond) // and waits for GetEvents
		within(t, 3*time.Second, "Submit during Destroy", func() {
			var cb Iocb
			cb.PrepFsync(0)
			if n, err := c.Submit([]*Iocb{&cb}); n != 0 || err != ErrClosed {
				t.Errorf("Submit while Destroy waits = %d, %v; want ErrClosed", n, err)
			}
		})
		within(t, 3*time.Second, "Destroy with a GetEvents waiting", func() {
			if err := <-destroyed; err != nil {
				t.Errorf("Destroy: %v", err)
			}
		})
		if err := <-res; err != ErrClosed {
			t.Errorf("pget=%v: waiting GetEvents after Destroy = %v; want ErrClosed", pget, err)
		}
	}
}

// ringHeadTail reads the head and tail of c's completion ring (the kernel's struct
// aio_ring, mapped at the io_context_t address: id, nr, head, tail, ...).
func ringHeadTail(c *Context) (head, tail uint32) {
	p := unsafe.Pointer(c.ctx)
	return atomic.LoadUint32((*uint32)(unsafe.Add(p, 8))), atomic.LoadUint32((*uint32)(unsafe.Add(p, 12)))
}

// A GetEvents woken by Destroy returns the events it had already reaped, as one
// io_getevents returns the events it gathered when its context dies.
//
// Destroy comes once the fsync's event has been posted and taken from the ring (by
// the waiting GetEvents: nothing else reaps): a fixed sleep was too short where the
// fsync took longer (a disk busy with other writes), and GetEvents then rightly
// returned ErrClosed with no event.
func TestDestroyDuringGetEventsKeepsEvents(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 30), unix.O_RDWR)
	c, err := Setup(4)
	if err != nil {
		t.Fatal(err)
	}
	var cb Iocb
	cb.PrepFsync(fd)
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	evs := make([]Event, 2)
	go func() {
		for {
			// 2 events, of which only the fsync's will ever come
			n, err := c.GetEvents(2, evs, nil)
			if err != unix.EINTR {
				res <- result{n, err}
				return
			}
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if head, tail := ringHeadTail(c); tail != 0 && head == tail {
			break // posted and reaped
		}
		if time.Now().After(deadline) {
			head, tail := ringHeadTail(c)
			c.Destroy() // ends the GetEvents
			t.Fatalf("the fsync's event not posted and reaped by GetEvents after 30 s (ring head %d, tail %d)", head, tail)
		}
	}
	time.Sleep(20 * time.Millisecond) // it holds the first event, and most likely waits for the second
	within(t, 3*time.Second, "Destroy with a GetEvents(2) waiting", func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	r := <-res
	if r.n != 1 || r.err != nil || !evs[0].ObjIs(&cb) || evs[0].Res != 0 {
		t.Errorf("GetEvents(2) ended by Destroy = %d, %v, %+v; want the fsync's event", r.n, r.err, evs[0])
	}
}

// A QueueRun callback that calls Submit while Destroy waits for the QueueRun gets
// ErrClosed instead of deadlocking (Destroy waits for QueueRun, QueueRun for the
// callback, the callback for Destroy).
func TestDestroyDuringQueueRunCallback(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 31), unix.O_RDWR)
	c, err := QueueInit(4)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan struct{})
	release := make(chan struct{})
	var subErr error
	var cb, cb2 Iocb
	cb.PrepFsync(fd)
	cb.SetCallback(func(*Context, *Iocb, int64, int64) {
		close(in)
		<-release
		cb2.PrepFsync(fd)
		_, subErr = c.Submit([]*Iocb{&cb2})
	})
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		for {
			if _, err := c.QueueRun(); err != nil {
				t.Errorf("QueueRun: %v", err)
				return
			}
			select {
			case <-in:
				return
			default:
			}
		}
	}()
	<-in
	destroyed := make(chan error, 1)
	go func() { destroyed <- c.QueueRelease() }()
	for c.users.Load()&closing == 0 {
		time.Sleep(time.Millisecond) // until QueueRelease has started
	}
	time.Sleep(20 * time.Millisecond) // and waits for QueueRun
	close(release)
	within(t, 3*time.Second, "QueueRun whose callback submits during QueueRelease", func() { <-ran })
	within(t, 3*time.Second, "QueueRelease", func() {
		if err := <-destroyed; err != nil {
			t.Errorf("QueueRelease: %v", err)
		}
	})
	if !errors.Is(subErr, ErrClosed) {
		t.Errorf("Submit in a callback during QueueRelease = %v; want ErrClosed", subErr)
	}
}

// GetEvents waits for min_nr events however long that takes, reaping the first ones as
// they come (one event at once, the second 150 ms later: both in one call), and a
// timeout longer than one slice of the wait still ends the call on time with what it has.
func TestGetEventsLongWait(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 32), unix.O_RDWR)
	c := testContext(t, 4)
	r, w := pipe(t)
	var sync, poll Iocb
	sync.PrepFsync(fd)
	poll.PrepPoll(r, unix.POLLIN)
	if n, err := c.Submit([]*Iocb{&sync, &poll}); n != 2 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		unix.Write(w, []byte("x"))
	}()
	evs := make([]Event, 3)
	start := time.Now()
	got := 0
	for got < 2 {
		n, err := c.GetEvents(2-got, evs[got:2], nil)
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		got += n
	}
	if el := time.Since(start); el < 140*time.Millisecond {
		t.Errorf("GetEvents(2) returned after %v, before the pipe was written", el)
	}
	if !(evs[0].ObjIs(&sync) && evs[1].ObjIs(&poll)) && !(evs[1].ObjIs(&sync) && evs[0].ObjIs(&poll)) {
		t.Errorf("events %+v; want the fsync's and the poll's", evs[:2])
	}
	unix.Read(r, make([]byte, 1))

	// One event now, none later: a 250 ms timeout returns it after 250 ms. (A buffered
	// read of cached data, which completes inside io_submit: an fsync may take longer
	// than 250 ms on a busy disk.)
	sync.PrepPread(fd, cbuf(t, 4096), 0)
	if n, err := c.Submit([]*Iocb{&sync}); n != 1 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	start = time.Now()
	deadline := start.Add(250 * time.Millisecond)
	got = 0
	calls := 0
	for got < 2 {
		rem := time.Until(deadline)
		if rem <= 0 {
			break
		}
		ts := unix.NsecToTimespec(int64(rem))
		n, err := c.GetEvents(2-got, evs[got:2], &ts) // a signal may end it early, as in C
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		got += n
		calls++
	}
	el := time.Since(start)
	if got != 1 || !evs[0].ObjIs(&sync) {
		t.Errorf("GetEvents(2, 250ms) with one event: %d events, %+v", got, evs[0])
	}
	if el < 240*time.Millisecond || el > 2*time.Second {
		t.Errorf("GetEvents(2, 250ms) with one event returned after %v (%d calls)", el, calls)
	}
}

// Destroy's unregistration does not remove the entry of a newer Context that io_setup
// gave the same ring address: QueueRun callbacks of that Context still get it.
func TestRegistrationSameAddress(t *testing.T) {
	c, err := Setup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	old := &Context{ctx: c.ctx} // a destroyed Context that had the same address
	registerContext(old)
	registerContext(c) // io_setup gave the address to c, which registered
	unregisterContext(old)
	callbacks.Lock()
	got := callbacks.ctxs[uintptr(unsafe.Pointer(c.ctx))]
	callbacks.Unlock()
	if got != c {
		t.Fatalf("after the old Context's unregistration the address maps to %p; want %p", got, c)
	}
}

// Setup racing Destroy, which often hands the new context the ring address just
// unmapped: the new Context's QueueRun callbacks get it, never nil.
func TestRegistrationRace(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 33), unix.O_RDWR)
	cb := new(Iocb)
	// Each io_destroy waits for an RCU grace period (about 10 ms): bound the loop by time.
	for i, end := 0, time.Now().Add(2*time.Second); i < 300 && time.Now().Before(end); i++ {
		a, err := Setup(1)
		if err != nil {
			t.Fatal(err)
		}
		var b *Context
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.Destroy() }()
		go func() {
			defer wg.Done()
			for b == nil {
				b, _ = Setup(1) // EAGAIN while aio-max-nr is reached
			}
		}()
		wg.Wait()
		var got *Context
		called := false
		cb.PrepFsync(fd)
		cb.SetCallback(func(c *Context, _ *Iocb, _, _ int64) { got, called = c, true })
		if n, err := b.Submit([]*Iocb{cb}); n != 1 || err != nil {
			t.Fatalf("Submit: %d, %v", n, err)
		}
		for deadline := time.Now().Add(5 * time.Second); !called && time.Now().Before(deadline); {
			if _, err := b.QueueRun(); err != nil {
				t.Fatal(err)
			}
		}
		b.Destroy()
		if !called {
			t.Fatalf("iteration %d: callback never called", i)
		}
		if got != b {
			t.Fatalf("iteration %d: callback got Context %p, want %p", i, got, b)
		}
	}
}
