package posixaio

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// suspendNoEINTR is AioSuspend, called again with the same timeout after
// EINTR: a timed aio_suspend fails with EINTR when any signal reaches the
// thread (see TestSuspendEINTR), and Go's runtime sends SIGURG to its
// threads at any time (so does a NotifySuspend queue's ringer that reaches
// a thread just after the reaper left aio_suspend on it).
func suspendNoEINTR(list []*Aiocb, d time.Duration) error {
	for {
		if err := AioSuspend(list, d); err != unix.EINTR {
			return err
		}
	}
}

func TestSuspendTimeout(t *testing.T) {
	r, w := pipe(t)
	a := newCb(t, r, make([]byte, 4), 0)
	a.Read()
	start := time.Now()
	if err := suspendNoEINTR([]*Aiocb{a}, 30*time.Millisecond); err != unix.EAGAIN {
		t.Fatalf("aio_suspend timeout: %v, want EAGAIN", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	if err := suspendNoEINTR([]*Aiocb{a}, 0); err != unix.EAGAIN {
		t.Fatalf("aio_suspend zero timeout: %v, want EAGAIN", err)
	}
	go func() { time.Sleep(20 * time.Millisecond); unix.Write(w, []byte("wake")) }()
	if err := AioSuspend([]*Aiocb{nil, a}, -1); err != nil {
		t.Fatalf("aio_suspend: %v", err)
	}
	if a.Error() != nil {
		t.Fatalf("aio_suspend returned with the request unfinished: %v", a.Error())
	}
	// Already finished: returns at once.
	if err := AioSuspend([]*Aiocb{a}, 0); err != nil {
		t.Fatalf("aio_suspend on a finished request: %v", err)
	}
}

// interruptThread sends SIGURG (Go's preemption signal, which Go's handler
// ignores outside Go code) to thread tid every 2ms until stop is set.
func interruptThread(tid int, stop *atomic.Bool, sent *atomic.Int64) {
	pid := unix.Getpid()
	for !stop.Load() {
		if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
			sent.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSuspendEINTR: Go installs its handlers with SA_RESTART, so the kernel
// restarts an untimed futex wait, but a timed one (aio_suspend with a
// timeout) fails with EINTR. Suspend retries with the time left.
func TestSuspendEINTR(t *testing.T) {
	r, w := pipe(t)
	a := newCb(t, r, make([]byte, 4), 0)
	a.Read()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stop atomic.Bool
	var sent atomic.Int64
	go interruptThread(unix.Gettid(), &stop, &sent)
	defer stop.Store(true)

	if err := AioSuspend([]*Aiocb{a}, 5*time.Second); err != unix.EINTR {
		t.Fatalf("timed aio_suspend under signals: %v, want EINTR", err)
	}
	start := time.Now()
	if err := Suspend([]*Aiocb{a}, 100*time.Millisecond); err != unix.EAGAIN {
		t.Fatalf("Suspend under signals: %v, want EAGAIN after the timeout", err)
	}
	if d := time.Since(start); d < 95*time.Millisecond || d > 3*time.Second {
		t.Fatalf("Suspend timed out after %v, want ~100ms", d)
	}
	go func() { time.Sleep(100 * time.Millisecond); unix.Write(w, []byte("done")) }()
	n0 := sent.Load()
	if err := AioSuspend([]*Aiocb{a}, -1); err != nil {
		t.Fatalf("untimed aio_suspend under signals: %v", err)
	}
	if sent.Load()-n0 < 5 {
		t.Fatalf("only %d signals sent during the wait", sent.Load()-n0)
	}
	if a.Error() != nil {
		t.Fatal("untimed aio_suspend returned before the request finished")
	}
}

// TestLioWaitUnderSignals: LioListio(LioWait) returns only when every
// request finished, however many signals hit the waiting thread.
func TestLioWaitUnderSignals(t *testing.T) {
	r, w := pipe(t)
	b := newCb(t, r, make([]byte, 4), 0)
	c := newCb(t, r, make([]byte, 4), 0)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stop atomic.Bool
	var sent atomic.Int64
	go interruptThread(unix.Gettid(), &stop, &sent)
	defer stop.Store(true)
	go func() {
		time.Sleep(60 * time.Millisecond)
		unix.Write(w, []byte("abcd"))
		time.Sleep(60 * time.Millisecond)
		unix.Write(w, []byte("efgh"))
	}()
	if err := LioListio(LioWait, []*Aiocb{b, c}, nil); err != nil {
		t.Fatalf("lio_listio(LIO_WAIT): %v", err)
	}
	if b.Error() != nil || c.Error() != nil || string(b.Buf())+string(c.Buf()) != "abcdefgh" {
		t.Fatalf("after LIO_WAIT: %v %v %q %q", b.Error(), c.Error(), b.Buf(), c.Buf())
	}
	if sent.Load() < 10 {
		t.Fatalf("only %d signals sent", sent.Load())
	}
}
