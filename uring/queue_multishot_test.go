package uring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// msListener returns a loopback TCP listening socket, closed at the end of
// the test, and its address.
func msListener(t *testing.T) (int, unix.Sockaddr) {
	t.Helper()
	lfd, sa := loopbackListener(t, 128)
	t.Cleanup(func() { unix.Close(lfd) })
	return lfd, sa
}

// msDial connects a client to sa and sends msg; the client is closed at
// the end of the test.
func msDial(t *testing.T, sa unix.Sockaddr, msg string) int {
	t.Helper()
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Error(err)
		return -1
	}
	t.Cleanup(func() { unix.Close(cfd) })
	a := *sa.(*unix.SockaddrInet4) // Connect writes into it: one per dialer
	if err := unix.Connect(cfd, &a); err != nil {
		t.Error(err)
		return cfd
	}
	if msg != "" {
		if _, err := unix.Write(cfd, []byte(msg)); err != nil {
			t.Error(err)
		}
	}
	return cfd
}

// msStarted fails the test if starting m failed, and skips it (naming the
// feature) when the kernel refused the request as too old: a NOP round
// trip reaps the -EINVAL such a kernel posts at once.
func msStarted(t *testing.T, q *Queue, m *Multishot, err error) *Multishot {
	t.Helper()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	h, err := q.Nop()
	mustRes(t, h, err, 0)
	select {
	case <-m.Done():
		_, _, err := m.Next(context.Background())
		if errors.Is(err, ErrNotSupported) {
			var u *UnsupportedFeatureError
			errors.As(err, &u)
			testutil.FeatureMissing(t, u.Major, u.Minor, u.Feature, err)
		}
		t.Fatalf("multishot request ended at once: %v", err)
	default:
	}
	return m
}

// buffered returns how many CQEs m holds that Next has not returned.
func (m *Multishot) buffered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buf) - m.head
}

// waitBuffered waits (at most 5s) until m holds n CQEs.
func waitBuffered(t *testing.T, m *Multishot, n int) {
	t.Helper()
	if !testutil.Settle(5*time.Second, func() bool { return m.buffered() == n }) {
		t.Fatalf("buffered CQEs: %d, want %d", m.buffered(), n)
	}
}

// next is Next with a 10 s limit.
func next(t *testing.T, m *Multishot) (int32, uint32, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, flags, err := m.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Next: no CQE in 10s")
	}
	return res, flags, err
}

// nextCtx is Next(ctx) that fails the test if it has not returned in 10s
// (a Next that ignores an ended ctx would spin or wait for ever).
func nextCtx(t *testing.T, m *Multishot, ctx context.Context) (int32, uint32, error) {
	t.Helper()
	type ret struct {
		res   int32
		flags uint32
		err   error
	}
	c := make(chan ret, 1)
	go func() { r, f, err := m.Next(ctx); c <- ret{r, f, err} }()
	select {
	case r := <-c:
		return r.res, r.flags, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Next with an ended ctx did not return in 10s")
	}
	return 0, 0, nil
}

// readMsg reads what a client sent on fd (a few bytes, at once).
func readMsg(t *testing.T, fd int) string {
	t.Helper()
	b := make([]byte, 64)
	n, err := unix.Read(fd, b)
	if err != nil {
		t.Errorf("read fd %d: %v", fd, err)
		return ""
	}
	return string(b[:n])
}

// msEnd checks that m's next CQE is the final one with errno e, and that
// ErrMultishotDone follows for ever.
func msEnd(t *testing.T, m *Multishot, e unix.Errno) {
	t.Helper()
	res, flags, err := next(t, m)
	if !errors.Is(err, e) || flags&CQEFMore != 0 {
		t.Fatalf("final Next = %d, %#x, %v; want %v without F_MORE", res, flags, err, e)
	}
	select {
	case <-m.Done():
	default:
		t.Fatal("Done not closed after the final CQE")
	}
	for i := 0; i < 3; i++ {
		if _, _, err := m.Next(context.Background()); err != ErrMultishotDone {
			t.Fatalf("Next after the end = %v; want ErrMultishotDone", err)
		}
	}
}

// TestQueueAcceptMultishot accepts N loopback connections that 4 goroutines
// dial at once with one multishot accept read by 3 goroutines: every
// connection arrives exactly once on a usable descriptor (each reads its
// own client's message). Cancel then ends the stream with -ECANCELED, and
// no descriptor, operation or pin is left.
func TestQueueAcceptMultishot(t *testing.T) {
	fd0 := testutil.FDCount()
	t.Run("streams", func(t *testing.T) {
		q := newTestQueue(t, QueueConfig{})
		lfd, sa := msListener(t)
		m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
		msStarted(t, q, m, err)
		if q.InFlight() != 1 {
			t.Fatalf("in flight: %d, want 1 (the multishot slot)", q.InFlight())
		}

		const dialers, per = 4, 8
		var wg sync.WaitGroup
		for d := 0; d < dialers; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					msDial(t, sa, fmt.Sprintf("c%d-%d", d, i))
				}
			}()
		}
		var mu sync.Mutex
		var got []string
		var fds []int
		var rg sync.WaitGroup
		left := make(chan struct{}, dialers*per)
		for i := 0; i < dialers*per; i++ {
			left <- struct{}{}
		}
		close(left)
		for r := 0; r < 3; r++ {
			rg.Add(1)
			go func() {
				defer rg.Done()
				for range left {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					fd, flags, err := m.Next(ctx)
					cancel()
					if err != nil || flags&CQEFMore == 0 {
						t.Errorf("Next = %d, %#x, %v; want a descriptor with F_MORE", fd, flags, err)
						return
					}
					s := readMsg(t, int(fd))
					mu.Lock()
					got = append(got, s)
					fds = append(fds, int(fd))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		rg.Wait()
		var want []string
		for d := 0; d < dialers; d++ {
			for i := 0; i < per; i++ {
				want = append(want, fmt.Sprintf("c%d-%d", d, i))
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("accepted connections (by message):\n%v\nwant each of\n%v", got, want)
		}
		for _, fd := range fds {
			if err := unix.Close(fd); err != nil {
				t.Errorf("close accepted fd %d: %v", fd, err)
			}
		}
		if q.InFlight() != 1 {
			t.Fatalf("in flight before Cancel: %d, want 1", q.InFlight())
		}
		if err := m.Cancel(); err != nil {
			t.Fatal(err)
		}
		msEnd(t, m, unix.ECANCELED)
		if n := q.InFlight(); n != 0 {
			t.Fatalf("in flight after the final CQE: %d", n)
		}
		if len(q.ms.set) != 0 {
			t.Fatalf("ended stream still registered for Close")
		}
		q.Close()
	})
	if !testutil.Settle(5*time.Second, func() bool { return testutil.FDCount() <= fd0 }) {
		t.Fatalf("descriptors: %d at the start, %d at the end:\n%s", fd0, testutil.FDCount(), testutil.ListFDs())
	}
}

// TestQueuePollMultishot arms one multishot poll on a pipe that gets data
// several times: CQEs that arrive while nobody calls Next are buffered and
// come out in order, each with POLLIN and F_MORE; the slot stays in flight
// throughout; Cancel ends the stream.
func TestQueuePollMultishot(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	r, w := testPipe(t)
	m, err := q.PollMultishot(r, unix.POLLIN)
	msStarted(t, q, m, err)
	b := make([]byte, 1)
	// Three wake-ups with no Next: the pipe is emptied after each, so
	// each write is a new readiness.
	for i := 0; i < 3; i++ {
		if _, err := unix.Write(w, []byte{'a' + byte(i)}); err != nil {
			t.Fatal(err)
		}
		waitBuffered(t, m, i+1)
		if _, err := unix.Read(r, b); err != nil {
			t.Fatal(err)
		}
	}
	if q.InFlight() != 1 {
		t.Fatalf("in flight: %d, want 1", q.InFlight())
	}
	for i := 0; i < 3; i++ {
		res, flags, err := next(t, m)
		if err != nil || res&unix.POLLIN == 0 || flags&CQEFMore == 0 {
			t.Fatalf("Next %d = %#x, %#x, %v; want POLLIN with F_MORE", i, res, flags, err)
		}
	}
	// And with Next waiting.
	for i := 0; i < 3; i++ {
		got := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, flags, err := m.Next(ctx)
			if err == nil && (res&unix.POLLIN == 0 || flags&CQEFMore == 0) {
				err = fmt.Errorf("%#x, flags %#x", res, flags)
			}
			got <- err
		}()
		time.Sleep(time.Millisecond)
		if _, err := unix.Write(w, []byte{'x'}); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("waiting Next %d: %v", i, err)
		}
		if _, err := unix.Read(r, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Cancel(); err != nil {
		t.Fatal(err)
	}
	msEnd(t, m, unix.ECANCELED)
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight after the end: %d", n)
	}
	if err := m.Cancel(); err != nil {
		t.Fatalf("Cancel of an ended stream: %v", err)
	}
}

// TestMultishotCancelMidStream: connections accepted while nobody calls
// Next stay buffered through Cancel; Next returns each (usable) and then
// -ECANCELED; a connection made after the stream ended is not accepted.
// Close of another stream with buffered descriptors closes them (their
// clients read EOF) and makes Next return ErrClosed.
func TestMultishotCancelMidStream(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStarted(t, q, m, err)
	for i := 0; i < 3; i++ {
		msDial(t, sa, fmt.Sprint("m", i))
	}
	waitBuffered(t, m, 3)
	if err := m.Cancel(); err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	msDial(t, sa, "late") // stays in the listener's backlog
	for i := 0; i < 3; i++ {
		fd, flags, err := next(t, m)
		if err != nil || flags&CQEFMore == 0 {
			t.Fatalf("Next %d after Cancel = %d, %#x, %v; want a buffered descriptor", i, fd, flags, err)
		}
		if s := readMsg(t, int(fd)); s != fmt.Sprint("m", i) {
			t.Errorf("connection %d read %q, want m%d (order)", i, s, i)
		}
		unix.Close(int(fd))
	}
	msEnd(t, m, unix.ECANCELED)

	// Close: the queue closes what Next did not return. The listener's
	// backlog still holds "late", which the new stream accepts first.
	m2, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStarted(t, q, m2, err)
	clients := []int{msDial(t, sa, ""), msDial(t, sa, "")} // no data: a clean EOF, not a reset
	waitBuffered(t, m2, 3)
	fd0 := testutil.FDCount()
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.FDCount(); got != fd0-3 {
		t.Errorf("descriptors after Close: %d, want %d (3 buffered closed)", got, fd0-3)
	}
	for _, c := range clients {
		b := make([]byte, 8)
		if n, err := msReadBy(c, b, time.Now().Add(5*time.Second)); n != 0 || err != nil {
			t.Errorf("client read after the server side was closed: %d, %v; want EOF", n, err)
		}
	}
	if _, _, err := m2.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v; want ErrClosed", err)
	}
	if err := m2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight after Close: %d", n)
	}
}

// TestMultishotNextContext: Next with an ended ctx returns ctx.Err() and
// loses nothing: the CQE buffered meanwhile comes with the next Next; a
// ctx that ends while Next waits returns too, and the CQE that arrives
// after it is not lost either.
func TestMultishotNextContext(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	r, w := testPipe(t)
	m, err := q.PollMultishot(r, unix.POLLIN)
	msStarted(t, q, m, err)
	b := make([]byte, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	if _, _, err := nextCtx(t, m, ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing to return = %v; want DeadlineExceeded", err)
	}
	cancel()
	unix.Write(w, []byte("x"))
	waitBuffered(t, m, 1)
	unix.Read(r, b)
	if _, _, err := nextCtx(t, m, ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with an ended ctx = %v; want its error", err)
	}
	gone, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, _, err := nextCtx(t, m, gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled ctx = %v; want context.Canceled", err)
	}
	if res, flags, err := next(t, m); err != nil || res&unix.POLLIN == 0 || flags&CQEFMore == 0 {
		t.Fatalf("Next after the ctx errors = %#x, %#x, %v; want the buffered POLLIN", res, flags, err)
	}

	// A ctx that ends while Next waits; the CQE after it is delivered.
	ctx3, cancel3 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, _, err := m.Next(ctx3); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	cancel3()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Next = %v; want context.Canceled", err)
	}
	unix.Write(w, []byte("y"))
	if res, _, err := next(t, m); err != nil || res&unix.POLLIN == 0 {
		t.Fatalf("Next after a waiting Next's ctx ended = %#x, %v", res, err)
	}
	unix.Read(r, b)
	if q.InFlight() != 1 {
		t.Fatalf("in flight: %d, want 1: an ended ctx must not cancel the stream", q.InFlight())
	}
	m.Cancel()
	msEnd(t, m, unix.ECANCELED)
}

// TestQueueCloseMultishot closes a queue with live streams: one with
// accepted descriptors nobody took, a poll, and a stream with a Next
// waiting. Close returns, the waiting Next gets ErrClosed, the buffered
// descriptors are closed (their clients read EOF; the process's descriptor
// count is back), and every later use gives ErrClosed.
func TestQueueCloseMultishot(t *testing.T) {
	fd0 := testutil.FDCount()
	t.Run("close", func(t *testing.T) {
		q := newTestQueue(t, QueueConfig{})
		lfd, sa := msListener(t)
		ma, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
		msStarted(t, q, ma, err)
		clients := []int{msDial(t, sa, ""), msDial(t, sa, "")}
		waitBuffered(t, ma, 2)
		r, w := testPipe(t)
		mp, err := q.PollMultishot(r, unix.POLLIN)
		msStarted(t, q, mp, err)
		unix.Write(w, []byte("z"))
		waitBuffered(t, mp, 1)
		r2, _ := testPipe(t)
		mw, err := q.PollMultishot(r2, unix.POLLIN)
		msStarted(t, q, mw, err)
		errc := make(chan error, 1)
		go func() { _, _, err := mw.Next(nil); errc <- err }()
		time.Sleep(10 * time.Millisecond)

		closeWithin(t, q, 5*time.Second)
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("waiting Next = %v; want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Next still waiting after Queue.Close")
		}
		for _, c := range clients {
			b := make([]byte, 8)
			if n, err := msReadBy(c, b, time.Now().Add(5*time.Second)); n != 0 || err != nil {
				t.Errorf("client read after Queue.Close: %d, %v; want EOF (buffered descriptor closed)", n, err)
			}
		}
		for name, m := range map[string]*Multishot{"accept": ma, "poll": mp, "waited": mw} {
			if _, _, err := m.Next(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("%s: Next after Close = %v; want ErrClosed", name, err)
			}
			if err := m.Cancel(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s: Cancel after Close = %v; want ErrClosed", name, err)
			}
			if err := m.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s: Close after Queue.Close = %v; want ErrClosed", name, err)
			}
			select {
			case <-m.Done():
			default:
				t.Errorf("%s: Done not closed after Queue.Close", name)
			}
		}
		if _, err := q.AcceptMultishot(lfd, 0); !errors.Is(err, ErrClosed) {
			t.Errorf("AcceptMultishot after Close = %v; want ErrClosed", err)
		}
		if _, err := q.PollMultishot(r, unix.POLLIN); !errors.Is(err, ErrClosed) {
			t.Errorf("PollMultishot after Close = %v; want ErrClosed", err)
		}
	})
	if !testutil.Settle(5*time.Second, func() bool { return testutil.FDCount() <= fd0 }) {
		t.Fatalf("descriptors: %d at the start, %d at the end:\n%s", fd0, testutil.FDCount(), testutil.ListFDs())
	}
}

// TestMultishotConcurrentNext: several goroutines wait in Next while
// connections arrive together (the kernel posts their CQEs in one batch):
// every waiting Next gets one, none stays waiting with a CQE buffered.
func TestMultishotConcurrentNext(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStarted(t, q, m, err)
	const readers = 4
	for round := 0; round < 10; round++ {
		got := make(chan int32, readers)
		for r := 0; r < readers; r++ {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				fd, _, err := m.Next(ctx)
				if err != nil {
					fd = -1
				}
				got <- fd
			}()
		}
		time.Sleep(5 * time.Millisecond) // let them wait
		var wg sync.WaitGroup
		for c := 0; c < readers; c++ {
			wg.Add(1)
			go func() { defer wg.Done(); msDial(t, sa, "") }()
		}
		wg.Wait()
		for r := 0; r < readers; r++ {
			fd := <-got
			if fd < 0 {
				t.Fatalf("round %d: a Next got no descriptor (buffered: %d)", round, m.buffered())
			}
			unix.Close(int(fd))
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMultishotOldKernelError: a request whose only CQE is -EINVAL (here a
// multishot accept on a socket that does not listen, which the kernel
// refuses with EINVAL) comes back from Next as a plain EINVAL on a kernel
// that has the feature, and as an *UnsupportedFeatureError naming it
// (matching ErrNotSupported and EINVAL) when the kernel is older than the
// feature, which the test stands for by raising the version it needs.
func TestMultishotOldKernelError(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	for _, old := range []bool{false, true} {
		sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		m, err := q.AcceptMultishot(sfd, 0)
		if err != nil {
			t.Fatal(err)
		}
		<-m.Done()
		if old {
			m.since = [2]int{1 << 20, 0}
		} else if !testutil.KernelAtLeast(5, 19) {
			m.since = [2]int{0, 0} // an old kernel: the real EINVAL
		}
		_, _, err = next(t, m)
		var u *UnsupportedFeatureError
		switch {
		case !errors.Is(err, unix.EINVAL):
			t.Errorf("old %v: Next = %v; want EINVAL", old, err)
		case old != errors.As(err, &u), old != errors.Is(err, ErrNotSupported):
			t.Errorf("old %v: Next = %v (%T); UnsupportedFeatureError only for an old kernel", old, err, err)
		case old && !strings.Contains(err.Error(), "IORING_ACCEPT_MULTISHOT"):
			t.Errorf("error does not name the feature: %v", err)
		}
		if _, _, err := m.Next(nil); err != ErrMultishotDone {
			t.Errorf("Next after the final CQE = %v", err)
		}
		unix.Close(sfd)
	}
}

// TestMultishotBurstWakesAllWaiters: several goroutines are about to wait
// in Next (each found nothing buffered and is stopped by the test hook just
// before its select) when a burst of CQEs reaches the stream in one drain
// (the test holds the drain lock while the kernel posts them, then drains
// once). The burst leaves one signal in the channel, since nobody was
// parked on it: each Next that takes a CQE while more are buffered must
// pass the wake-up on, or every other waiter stays parked with CQEs
// buffered. Many rounds, each with a watchdog.
func TestMultishotBurstWakesAllWaiters(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStarted(t, q, m, err)
	var gate atomic.Pointer[chan struct{}] // closed when the burst is buffered
	at := make(chan struct{}, 16)          // a waiter reached the hook
	m.testPark = func() {
		if g := gate.Load(); g != nil {
			at <- struct{}{}
			<-*g
		}
	}
	for round := 0; round < 40; round++ {
		readers := 2 + round%4
		g := make(chan struct{})
		gate.Store(&g)
		got := make(chan int32, readers)
		for r := 0; r < readers; r++ {
			go func() {
				fd, _, err := m.Next(nil)
				if err != nil {
					fd = -1
				}
				got <- fd
			}()
		}
		for r := 0; r < readers; r++ {
			<-at
		}
		gate.Store(nil) // the waiters' next loops go straight to the select
		q.rmu.Lock()
		cq0 := q.ring.CQReady()
		for c := 0; c < readers; c++ {
			msDial(t, sa, "")
		}
		ok := testutil.Settle(5*time.Second, func() bool { return q.ring.CQReady() >= cq0+uint32(readers) })
		q.rmu.Unlock()
		if !ok {
			t.Fatalf("round %d: %d accept CQEs posted, want %d", round, q.ring.CQReady()-cq0, readers)
		}
		q.reapInline()              // the burst, in one drainLocked (here or the reaper's)
		waitBuffered(t, m, readers) // the waiters are still held before their select
		close(g)
		watchdog := time.After(3 * time.Second)
		for r := 0; r < readers; r++ {
			select {
			case fd := <-got:
				if fd < 0 {
					t.Fatalf("round %d: Next failed", round)
				}
				unix.Close(int(fd))
			case <-watchdog:
				t.Fatalf("round %d: %d of %d waiting Nexts still wait with %d CQEs buffered (lost wake-up)",
					round, readers-r, readers, m.buffered())
			}
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// endingCtx is a context whose Err turns non-nil (and Done closes) the
// first time Err is called after end was armed: it stands for a ctx that
// ends just as its Next is woken for a CQE.
// waitParkedInNext waits (10 s at most) until n goroutines are parked in
// the select of a multishot Next: a channel wakes its receivers in the
// order they parked, which a sleep does not ensure on a loaded machine.
func waitParkedInNext(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		k := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "uring.(*msStream).next(") {
				k++
			}
		}
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines parked in Next after 10 s, want %d", k, n)
		}
	}
}

type endingCtx struct {
	context.Context
	armed atomic.Bool
	once  sync.Once
	done  chan struct{}
}

func (c *endingCtx) Done() <-chan struct{} { return c.done }

func (c *endingCtx) Err() error {
	if !c.armed.Load() {
		return nil
	}
	c.once.Do(func() { close(c.done) })
	return context.Canceled
}

// TestMultishotCtxEndPassesWakeup: a Next woken for a CQE whose ctx has
// ended meanwhile returns ctx.Err() without the CQE; another Next waiting
// must still be woken for it (the first one passes the wake-up on), not
// wait until some later CQE arrives.
func TestMultishotCtxEndPassesWakeup(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	r, w := testPipe(t)
	m, err := q.PollMultishot(r, unix.POLLIN)
	msStarted(t, q, m, err)
	for round := 0; round < 5; round++ {
		ctx := &endingCtx{Context: context.Background(), done: make(chan struct{})}
		first := make(chan error, 1)
		go func() { _, _, err := m.Next(ctx); first <- err }()
		waitParkedInNext(t, 1) // the first waiter parks first: it gets the signal
		second := make(chan error, 1)
		go func() { _, _, err := m.Next(nil); second <- err }()
		waitParkedInNext(t, 2)
		ctx.armed.Store(true)
		if _, err := unix.Write(w, []byte{'x'}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-second:
			if err != nil {
				t.Fatalf("round %d: second Next = %v", round, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: second Next still waits with %d CQEs buffered (the ended ctx's Next kept the wake-up)", round, m.buffered())
		}
		select {
		case err := <-first:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: first Next = %v", round, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: the Next whose ctx ended did not return", round)
		}
		b := make([]byte, 8)
		unix.Read(r, b)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMultishotCQOverflowEnds: a multishot accept armed on a listener with
// a backlog, on a queue whose CQ holds 2 CQEs, accepts until the CQ is
// full; the kernel then ends the request with a final CQE (no F_MORE) that
// still carries an accepted descriptor. Next returns it like the others
// and then ErrMultishotDone; Multishot.Close and Queue.Close close it with
// the buffered ones (the descriptor count is back).
func TestMultishotCQOverflowEnds(t *testing.T) {
	for _, how := range []string{"next", "close", "queue-close"} {
		t.Run(how, func(t *testing.T) {
			lfd, sa := msListener(t)
			for i := 0; i < 8; i++ {
				msDial(t, sa, "")
			}
			q := newTestQueue(t, QueueConfig{Entries: 1})
			if n := q.ring.CQEntries(); n != 2 {
				t.Fatalf("CQ entries %d, want 2", n)
			}
			fd0 := testutil.FDCount()
			m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-m.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the stream did not end on a full CQ")
			}
			switch how {
			case "next":
				var fds []int
				for {
					fd, flags, err := next(t, m)
					if errors.Is(err, ErrNotSupported) {
						var u *UnsupportedFeatureError
						errors.As(err, &u)
						testutil.FeatureMissing(t, u.Major, u.Minor, u.Feature, err)
					}
					if err != nil {
						t.Fatalf("Next after %d descriptors: %v", len(fds), err)
					}
					fds = append(fds, int(fd))
					if flags&CQEFMore == 0 {
						break
					}
				}
				if len(fds) != 3 {
					t.Errorf("descriptors accepted: %d, want 3 (2 CQEs with F_MORE fill the CQ, the final one overflows)", len(fds))
				}
				for _, fd := range fds {
					if err := unix.Close(fd); err != nil {
						t.Errorf("close %d: %v", fd, err)
					}
				}
				if _, _, err := m.Next(nil); err != ErrMultishotDone {
					t.Errorf("Next after the final CQE = %v", err)
				}
			case "close":
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
			case "queue-close":
				closeWithin(t, q, 5*time.Second)
			}
			want := fd0
			if how == "queue-close" {
				want -= 2 // the ring and its eventfd
			}
			if got := testutil.FDCount(); got != want {
				t.Errorf("descriptors: %d before the stream, %d after (%s), want %d", fd0, got, how, want)
			}
		})
	}
}

// TestMultishotCloseAfterQueueClose: Multishot.Close after Queue.Close is
// ErrClosed, also for a stream that was read to its end before (and so
// was no longer among the streams the queue closes).
func TestMultishotCloseAfterQueueClose(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	r, _ := testPipe(t)
	ended, err := q.PollMultishot(r, unix.POLLIN)
	msStarted(t, q, ended, err)
	ended.Cancel()
	msEnd(t, ended, unix.ECANCELED)
	live, err := q.PollMultishot(r, unix.POLLIN)
	msStarted(t, q, live, err)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Multishot{"read to its end": ended, "live": live} {
		if err := m.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("Close of a stream %s, after Queue.Close: %v, want ErrClosed", name, err)
		}
	}
}

// A Multishot its users dropped without Close is closed once collected:
// the request is cancelled (its slot freed) and the descriptor it accepted
// and buffered is closed, so the client sees the end of the stream.
func TestMultishotDroppedIsClosed(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	// In a function of its own, so that no frame of this test keeps the
	// Multishot reachable.
	var clients []int
	func() {
		m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
		msStarted(t, q, m, err)
		clients = append(clients, msDial(t, sa, ""), msDial(t, sa, "x"))
		waitBuffered(t, m, 2)
	}()
	registered := func() int {
		q.ms.mu.Lock()
		defer q.ms.mu.Unlock()
		return len(q.ms.set)
	}
	// Close unregisters the stream last, after the final CQE and the
	// descriptors' close.
	collected := testutil.Settle(10*time.Second, func() bool {
		runtime.GC()
		return registered() == 0
	})
	if !collected {
		t.Fatalf("the dropped Multishot is still registered after 10 s of GCs (%d in flight)", q.InFlight())
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after the dropped Multishot was closed", n)
	}
	// The descriptors accepted for the clients were closed by the queue:
	// each client's read ends (0, or ECONNRESET where data was unread).
	for i, cfd := range clients {
		if err := unix.SetsockoptTimeval(cfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 8)
		if n, err := unix.Read(cfd, b); err == nil && n != 0 || err != nil && err != unix.ECONNRESET {
			t.Errorf("client %d read = %d, %v; want the end of the stream", i, n, err)
		}
	}
}
