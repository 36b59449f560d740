package posixaio

import (
	"os"
	"os/signal"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSigevNone: no notification; poll with aio_error.
func TestSigevNone(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 2))
	a := newCb(t, fd, make([]byte, 4096), 0)
	if a.Sigevent().Notify != SigevNone {
		t.Fatalf("fresh aiocb notify = %d", a.Sigevent().Notify)
	}
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	// Poll aio_error only (no aio_suspend, which is what this test is
	// about), for at most 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for a.Error() == unix.EINPROGRESS {
		if time.Now().After(deadline) {
			t.Fatal("request still in progress after 10s of polling aio_error")
		}
		time.Sleep(100 * time.Microsecond)
	}
	if n, err := a.Return(); n != 4096 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
}

// TestSigevThread: every request notifies through glibc's SIGEV_THREAD, which
// runs the C trampoline of a ThreadSink on a new thread.
func TestSigevThread(t *testing.T) {
	sink, err := NewThreadSink(64)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := tempFile(t, pattern(64*512, 4))
	const n = 40
	var cbs []*Aiocb
	for i := 0; i < n; i++ {
		a := newCb(t, fd, make([]byte, 512), int64(i*512))
		if err := a.SetSigevent(sink.Sigevent(uint64(1000 + i))); err != nil {
			t.Fatal(err)
		}
		if a.Sigevent().Notify != SigevThread {
			t.Fatal("Sigevent() lost the notification kind")
		}
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, a)
	}
	got := waitSink(t, sink, n)
	if len(got) != n {
		t.Fatalf("%d notifications for %d requests: %v", len(got), n, got)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, v := range got {
		if v != uint64(1000+i) {
			t.Fatalf("notification values %v", got)
		}
		// The notification comes after glibc stored the result.
		if err := cbs[i].Error(); err != nil {
			t.Fatalf("request %d: %v at its notification", i, err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := sink.Drain(make([]uint64, 1), false); err != ErrClosed {
		t.Fatalf("Drain after Close: %v", err)
	}
	// Notifications for a closed sink are dropped, not delivered to freed memory.
	a := newCb(t, fd, make([]byte, 512), 0)
	a.SetSigevent(sink.Sigevent(1))
	a.Read()
	if err := waitDone(t, a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
}

// TestSinkOverflow: more notifications than the ring holds set overflow.
func TestSinkOverflow(t *testing.T) {
	sink, err := NewThreadSink(1) // rounded up to 16
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	fd, _ := tempFile(t, pattern(4096, 4))
	var cbs []*Aiocb
	for i := 0; i < 40; i++ {
		a := newCb(t, fd, make([]byte, 16), 0)
		a.SetSigevent(sink.Sigevent(uint64(i)))
		a.Read()
		cbs = append(cbs, a)
	}
	for _, a := range cbs {
		waitDone(t, a)
	}
	// glibc's notification threads run after the requests are done: wait
	// for all 40 (a Drain meanwhile would make room, and on a loaded
	// machine could keep up with them).
	for deadline := time.Now().Add(30 * time.Second); sink.notified() < 40; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 40 notifications reached the sink in 30 s", sink.notified())
		}
	}
	buf := make([]uint64, 64)
	k, ov, _ := sink.Drain(buf, false)
	if k != 16 || !ov {
		t.Fatalf("40 notifications into a 16-entry ring: drained %d, overflow %v; want 16 and the loss reported", k, ov)
	}
	if k, ov, _ := sink.Drain(buf, false); k != 0 || ov {
		t.Fatalf("second Drain: %d, overflow %v; want nothing", k, ov)
	}
}

// TestSigevSignal: SIGEV_SIGNAL with a real-time signal above glibc's
// SIGRTMIN reaches os/signal.Notify.
func TestSigevSignal(t *testing.T) {
	if SigRTMin() != 34 || SigRTMax() != 64 {
		t.Fatalf("SIGRTMIN %d SIGRTMAX %d", SigRTMin(), SigRTMax())
	}
	if _, err := RTSignal(SigRTMax() - SigRTMin() + 1); err != ErrBadSigevent {
		t.Fatalf("RTSignal past SIGRTMAX: %v", err)
	}
	sig, err := RTSignal(3)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, sig)
	defer signal.Stop(ch)
	fd, _ := tempFile(t, pattern(4096, 4))
	a := newCb(t, fd, make([]byte, 4096), 0)
	if err := a.SetSigevent(Sigevent{Notify: SigevSignal, Signo: int(sig), Value: 42}); err != nil {
		t.Fatal(err)
	}
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-ch:
		if s != sig {
			t.Fatalf("got %v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no signal")
	}
	if err := a.Error(); err != nil {
		t.Fatalf("request unfinished at its signal: %v", err)
	}
	// A real-time signal nobody asked Go for is dropped by Go's handler: the
	// process survives.
	other, _ := RTSignal(4)
	b := newCb(t, fd, make([]byte, 16), 0)
	b.SetSigevent(Sigevent{Notify: SigevSignal, Signo: int(other)})
	b.Read()
	waitDone(t, b)
	time.Sleep(20 * time.Millisecond)
}

// TestZeroThreadSink: the zero ThreadSink and a nil *ThreadSink behave as a
// closed sink instead of panicking, and Wake after Close gives ErrClosed.
func TestZeroThreadSink(t *testing.T) {
	var zero ThreadSink
	var nilSink *ThreadSink
	for name, s := range map[string]*ThreadSink{"zero": &zero, "nil": nilSink} {
		buf := make([]uint64, 4)
		noPanic(t, name+" Drain", func() {
			if _, _, err := s.Drain(buf, true); err != ErrClosed {
				t.Errorf("%s sink: Drain %v, want ErrClosed", name, err)
			}
		})
		noPanic(t, name+" Wait", func() {
			if err := s.Wait(); err != ErrClosed {
				t.Errorf("%s sink: Wait %v, want ErrClosed", name, err)
			}
		})
		noPanic(t, name+" Wake", func() {
			if err := s.Wake(); err != ErrClosed {
				t.Errorf("%s sink: Wake %v, want ErrClosed", name, err)
			}
		})
		noPanic(t, name+" Close", func() {
			if err := s.Close(); err != ErrClosed {
				t.Errorf("%s sink: Close %v, want ErrClosed", name, err)
			}
		})
		noPanic(t, name+" Sigevent", func() {
			if ev := s.Sigevent(1); ev.Notify != SigevThread {
				t.Errorf("%s sink: Sigevent notify %d", name, ev.Notify)
			}
		})
	}
	s, err := NewThreadSink(16)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wake(); err != ErrClosed {
		t.Errorf("Wake after Close: %v, want ErrClosed", err)
	}
}
