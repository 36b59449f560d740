package posixaio

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/schedyield"
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

// inFutex reports whether thread tid of this process is in a futex(2) call,
// from /proc/self/task/<tid>/syscall.
func inFutex(tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_FUTEX)
}

// writeAfterSignals waits until thread tid is in a futex wait and want more
// of interruptThread's signals (counted by sent) were sent to it from then
// on, and then writes msg to w. It gives up after 10 s (a slow machine only
// makes it wait longer) and returns whether the signals were sent; it writes
// msg either way, so that the waiting thread returns, unless stop is set
// (the test ended, and w may be closed).
func writeAfterSignals(tid int, stop *atomic.Bool, sent *atomic.Int64, want int64, w int, msg string) bool {
	deadline := time.Now().Add(10 * time.Second)
	ok := false
	n0 := int64(-1)
	for time.Now().Before(deadline) && !stop.Load() {
		if n0 < 0 && inFutex(tid) {
			n0 = sent.Load()
		}
		if n0 >= 0 && sent.Load()-n0 >= want {
			ok = true
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !stop.Load() {
		unix.Write(w, []byte(msg))
	}
	return ok
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
	// The data comes once 5 signals were sent to the thread while it waits
	// in the futex.
	tid := unix.Gettid()
	signaled := make(chan bool, 1)
	go func() { signaled <- writeAfterSignals(tid, &stop, &sent, 5, w, "done") }()
	if err := AioSuspend([]*Aiocb{a}, -1); err != nil {
		t.Fatalf("untimed aio_suspend under signals: %v", err)
	}
	if !<-signaled {
		t.Fatal("the untimed aio_suspend did not get 5 signals in 10s")
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
	// Each read gets its data after 5 signals reached the thread waiting
	// in LIO_WAIT's futex: before the first completion and between the two.
	tid := unix.Gettid()
	signaled := make(chan bool, 1)
	go func() {
		ok := writeAfterSignals(tid, &stop, &sent, 5, w, "abcd")
		signaled <- writeAfterSignals(tid, &stop, &sent, 5, w, "efgh") && ok
	}()
	if err := LioListio(LioWait, []*Aiocb{b, c}, nil); err != nil {
		t.Fatalf("lio_listio(LIO_WAIT): %v", err)
	}
	if b.Error() != nil || c.Error() != nil || string(b.Buf())+string(c.Buf()) != "abcdefgh" {
		t.Fatalf("after LIO_WAIT: %v %v %q %q", b.Error(), c.Error(), b.Buf(), c.Buf())
	}
	if !<-signaled {
		t.Fatal("LIO_WAIT did not get 5 signals before each completion in 10s")
	}
}

// AioSuspend waits through suspendGate (internal/schedyield): a wait that
// may block yields to the scheduler when none did for schedyield.Every; a
// zero timeout (a poll) does not count.
func TestAioSuspendYields(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 3))
	a := newCb(t, fd, make([]byte, 4096), 0)
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a)
	before := suspendGate.Last()
	if err := AioSuspend([]*Aiocb{a}, 0); err != nil {
		t.Fatal(err)
	}
	if suspendGate.Last() != before {
		t.Fatal("a polling AioSuspend went through the gate")
	}
	time.Sleep(schedyield.Every)
	for i := 0; i < schedyield.ClockEvery; i++ { // one call in ClockEvery reads the clock
		if err := AioSuspend([]*Aiocb{a}, -1); err != nil {
			t.Fatal(err)
		}
	}
	if suspendGate.Last() == before {
		t.Fatalf("%d AioSuspend waits %v after the last yield: none yielded", schedyield.ClockEvery, schedyield.Every)
	}
}
