package completion

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func checkStats(t *testing.T) {
	t.Helper()
	ops0, pins0 := Stats()
	t.Cleanup(func() {
		ops, pins := Stats()
		if ops != ops0 || pins != pins0 {
			t.Errorf("leak: live ops %d -> %d, live pins %d -> %d", ops0, ops, pins0, pins)
		}
	})
}

func TestResultConvention(t *testing.T) {
	checkStats(t)
	tab := NewTable(4)
	h1, op1, _ := tab.Begin()
	h2, op2, _ := tab.Begin()
	h3, op3, _ := tab.Begin()
	if _, err := h1.Result(); err != ErrPending {
		t.Fatalf("Result before completion: %v, want ErrPending", err)
	}
	if op1.UserData() == 0 || op1.UserData() == op2.UserData() {
		t.Fatalf("bad user data %#x %#x", op1.UserData(), op2.UserData())
	}
	tab.Complete(op1.UserData(), 4096, 7)
	tab.Complete(op2.UserData(), -int64(unix.EBADF), 0)
	abortErr := errors.New("submit failed")
	tab.Abort(op3, abortErr)
	if n, err := h1.Wait(context.Background()); n != 4096 || err != nil || h1.Flags() != 7 {
		t.Errorf("h1 = %d, %v, flags %d", n, err, h1.Flags())
	}
	if n, err := h2.Wait(context.Background()); n != 0 || !errors.Is(err, unix.EBADF) || h2.Res() != -int64(unix.EBADF) {
		t.Errorf("h2 = %d, %v", n, err)
	}
	if _, err := h3.Result(); err != abortErr {
		t.Errorf("h3 = %v", err)
	}
	if tab.Complete(op1.UserData(), 1, 0) {
		t.Error("stale user data completed twice")
	}
	if tab.InFlight() != 0 {
		t.Errorf("in flight %d", tab.InFlight())
	}
}

func TestUserDataGenerations(t *testing.T) {
	tab := NewTable(1)
	seen := map[uint64]bool{}
	for i := 0; i < 100; i++ {
		_, op, err := tab.Begin()
		if err != nil {
			t.Fatal(err)
		}
		ud := op.UserData()
		if seen[ud] || ud == 0 || ud == ^uint64(0) {
			t.Fatalf("user data %#x reused or reserved", ud)
		}
		seen[ud] = true
		if tab.Lookup(ud) != op {
			t.Fatal("lookup failed")
		}
		tab.Complete(ud, 0, 0)
		if tab.Lookup(ud) != nil {
			t.Fatal("lookup of completed op succeeded")
		}
	}
}

func TestBusyAndClosed(t *testing.T) {
	checkStats(t)
	tab := NewTable(2)
	_, a, _ := tab.Begin()
	_, b, _ := tab.Begin()
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("full table: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := tab.BeginWait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("BeginWait on full table: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		h, op, err := tab.BeginWait(context.Background())
		if err == nil {
			tab.Complete(op.UserData(), 0, 0)
			_, err = h.Wait(context.Background())
		}
		got <- err
	}()
	tab.Complete(a.UserData(), 0, 0)
	if err := <-got; err != nil {
		t.Fatalf("BeginWait after a slot freed: %v", err)
	}
	tab.Close()
	select {
	case <-tab.Drained():
		t.Fatal("drained with an op in flight")
	default:
	}
	if _, _, err := tab.Begin(); err != ErrClosed {
		t.Fatalf("Begin after Close: %v", err)
	}
	if _, _, err := tab.BeginWait(context.Background()); err != ErrClosed {
		t.Fatalf("BeginWait after Close: %v", err)
	}
	tab.Complete(b.UserData(), 0, 0)
	select {
	case <-tab.Drained():
	case <-time.After(5 * time.Second):
		t.Fatal("not drained after last completion")
	}
}

// TestPinKeepsMemoryUntilCompletion fails if pinned memory is released (and
// so may be reused by the allocator) before the completion is reaped.
func TestPinKeepsMemoryUntilCompletion(t *testing.T) {
	checkStats(t)
	tab := NewTable(1)
	var finalized atomic.Bool
	h, op, _ := tab.Begin()
	func() {
		buf := new([4096]byte)
		runtime.SetFinalizer(buf, func(*[4096]byte) { finalized.Store(true) })
		op.Pin(buf)
	}()
	if _, pins := Stats(); pins < 1 {
		t.Fatalf("live pins = %d while in flight", pins)
	}
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if finalized.Load() {
		t.Fatal("pinned buffer was collected while its operation was in flight")
	}
	tab.Complete(op.UserData(), 0, 0)
	h.Wait(context.Background())
	for i := 0; i < 50 && !finalized.Load(); i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if !finalized.Load() {
		t.Fatal("buffer still reachable after its completion: the slot kept a reference")
	}
}

func TestWaitHonoursContext(t *testing.T) {
	checkStats(t)
	tab := NewTable(2)
	var cancelled atomic.Uint64
	tab.SetCanceler(func(ud uint64) { cancelled.Store(ud) })
	h, op, _ := tab.Begin()
	op.PinBytes(make([]byte, 16))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := h.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait: %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Wait ignored its context")
	}
	if cancelled.Load() != op.UserData() {
		t.Fatalf("canceler got %#x, want %#x", cancelled.Load(), op.UserData())
	}
	if _, pins := Stats(); pins < 1 || tab.InFlight() != 1 {
		t.Fatal("cancel released memory before the completion")
	}
	tab.Complete(op.UserData(), -int64(unix.ECANCELED), 0)
	if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("after completion: %v", err)
	}
	// A cancelled context after completion returns the result, not ctx.Err().
	if _, err := h.Wait(ctx); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("Wait on a done handle: %v", err)
	}
}

// Wait with a nil context waits like context.Background() (no panic), and a
// table's waiter runs first and may finish the wait itself; one that says
// "not done" leaves the handle to park as usual.
func TestWaitNilContextAndWaiter(t *testing.T) {
	checkStats(t)
	tab := NewTable(2)
	var calls atomic.Int32
	tab.SetWaiter(func(h *Handle) bool {
		if calls.Add(1) == 1 {
			return false // the first time: park
		}
		ud := h.UserData()
		tab.Complete(ud, 7, 0) // the second: complete it here, as a backend waiting in the kernel would
		return true
	})
	h, op, _ := tab.Begin()
	go func() {
		time.Sleep(10 * time.Millisecond)
		tab.Complete(op.UserData(), 5, 0)
	}()
	if n, err := h.Wait(nil); n != 5 || err != nil {
		t.Fatalf("Wait(nil) = %d, %v; want 5 from the completer", n, err)
	}
	h2, _, _ := tab.Begin()
	if n, err := h2.Wait(context.Background()); n != 7 || err != nil || calls.Load() != 2 {
		t.Fatalf("Wait with a waiter that completes = %d, %v (%d calls)", n, err, calls.Load())
	}
}

func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line")
	return 0
}

// TestManyWaitersOneReaper: 1000 goroutines wait at once, one reaper parked
// on a Notifier completes them; nobody misses a wake-up and the waiters hold
// no OS thread.
func TestManyWaitersOneReaper(t *testing.T) {
	checkStats(t)
	const n = 1000
	tab := NewTable(n)
	nt, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ready []uint64
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		for {
			if _, err := nt.Wait(); err != nil {
				return
			}
			mu.Lock()
			batch := ready
			ready = nil
			mu.Unlock()
			for _, ud := range batch {
				tab.Complete(ud, int64(ud&0xffff), 0)
			}
		}
	}()
	var wg sync.WaitGroup
	var started sync.WaitGroup
	handles := make([]*Handle, n)
	for i := 0; i < n; i++ {
		h, op, err := tab.Begin()
		if err != nil {
			t.Fatal(err)
		}
		op.PinBytes(make([]byte, 8))
		handles[i] = h
		wg.Add(1)
		started.Add(1)
		go func(i int) {
			defer wg.Done()
			started.Done()
			var n int
			var err error
			if i%2 == 0 {
				n, err = handles[i].Wait(context.Background())
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				n, err = handles[i].Wait(ctx)
				cancel()
			}
			if err != nil || uint64(n) != handles[i].UserData()&0xffff {
				t.Errorf("waiter %d: %d, %v", i, n, err)
			}
		}(i)
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond)
	if th := threads(t); th > 64 {
		t.Errorf("%d OS threads with %d goroutines waiting: waiters hold threads", th, n)
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		ready = append(ready, handles[i].UserData())
		mu.Unlock()
		if err := nt.Signal(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("waiters missed wake-ups: %d still in flight", tab.InFlight())
	}
	nt.Close()
	<-reaped
}

func TestNotifierCloseWakesWait(t *testing.T) {
	nt, err := NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() { _, err := nt.Wait(); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	nt.Close()
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Fatalf("Wait after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
}

// Signal after Close writes nothing, even when the eventfd's number now
// names another file (it used to write 8 bytes into it), and says ErrClosed.
func TestNotifierSignalAfterClose(t *testing.T) {
	path := t.TempDir() + "/reused"
	// reuse closes a new Notifier and opens the file until it gets the
	// eventfd's number: open(2) returns the lowest free descriptor, so any
	// lower hole is filled first, and a number above the eventfd's means
	// another goroutine of the process took it meanwhile (reused is then
	// false, and the caller tries again).
	reuse := func() (reused bool) {
		nt, err := NewNotifier()
		if err != nil {
			t.Fatal(err)
		}
		if err := nt.Signal(); err != nil {
			t.Fatal(err)
		}
		fd := nt.FD()
		nt.Close()
		var fds []int
		defer func() {
			for _, f := range fds {
				unix.Close(f)
			}
		}()
		for {
			nfd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, nfd)
			if nfd > fd {
				return false
			}
			if nfd == fd {
				break
			}
		}
		if err := nt.Signal(); err != ErrClosed {
			t.Errorf("Signal after Close = %v, want ErrClosed", err)
		}
		if st, err := os.Stat(path); err != nil {
			t.Fatal(err)
		} else if st.Size() != 0 {
			t.Fatalf("Signal after Close wrote %d bytes into the file on the reused descriptor %d", st.Size(), fd)
		}
		return true
	}
	const attempts = 10
	for i := 0; i < attempts; i++ {
		if reuse() {
			return
		}
	}
	t.Fatalf("in %d attempts the file never got the closed eventfd's descriptor number", attempts)
}

// TestGCStress: GC at GOGC=1 with forced collections while "the kernel" (a
// locked OS thread that holds only raw addresses) writes into pinned
// buffers; every buffer must hold exactly what was written.
func TestGCStress(t *testing.T) {
	checkStats(t)
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	const n = 256
	tab := NewTable(n)
	type req struct {
		ud   uint64
		addr uintptr
		val  byte
	}
	reqs := make(chan req, n)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	go func() {
		// The kernel writes into the buffer by address: read(2) from a pipe
		// into the raw address, with no Go reference to the buffer here.
		runtime.LockOSThread()
		src := make([]byte, 4096)
		for r := range reqs {
			for i := range src {
				src[i] = r.val
			}
			unix.Write(p[1], src)
			got, _, errno := unix.Syscall(unix.SYS_READ, uintptr(p[0]), r.addr, 4096)
			res := int64(got)
			if errno != 0 {
				res = -int64(errno)
			}
			tab.Complete(r.ud, res, 0)
		}
	}()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
				_ = make([]byte, 64<<10)
			}
		}
	}()
	type pending struct {
		h   *Handle
		buf []byte
		val byte
	}
	var all []pending
	for i := 0; i < 2000; i++ {
		h, op, err := tab.BeginWait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		op.PinBytes(buf)
		v := byte(i%251 + 1)
		reqs <- req{op.UserData(), uintptr(unsafe.Pointer(&buf[0])), v}
		all = append(all, pending{h, buf, v})
	}
	close(reqs)
	for i, p := range all {
		if n, err := p.h.Wait(context.Background()); n != 4096 || err != nil {
			t.Fatalf("op %d: %d %v", i, n, err)
		}
		for j, c := range p.buf {
			if c != p.val {
				t.Fatalf("op %d byte %d = %d, want %d", i, j, c, p.val)
			}
		}
	}
	close(stop)
}

func BenchmarkBeginComplete(b *testing.B) {
	tab := NewTable(64)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h, op, _ := tab.Begin()
		op.PinBytes(buf)
		tab.Complete(op.UserData(), 1, 0)
		h.Wait(context.Background())
	}
}

// Lone lets a waiter in only after LoneStreak Waits in a row found their
// operation alone, one at a time; a Wait that finds others in flight resets
// the streak.
func TestLone(t *testing.T) {
	var l Lone
	for i := 0; i < LoneStreak; i++ {
		if l.Enter(true) {
			t.Fatalf("Enter allowed after %d lone Waits", i+1)
		}
	}
	if !l.Enter(true) {
		t.Fatalf("Enter refused after %d lone Waits", LoneStreak+1)
	}
	if l.Enter(true) {
		t.Fatal("a second inline waiter allowed while the first waits")
	}
	l.Leave()
	if !l.Enter(true) {
		t.Fatal("Enter refused after Leave")
	}
	l.Leave()
	if l.Enter(false) || l.Streak() != 0 {
		t.Fatalf("two in flight: streak %d, want reset", l.Streak())
	}
	if l.Enter(true) {
		t.Fatal("Enter allowed right after a reset")
	}
}

// Table.Lone agrees with InFlight() == 1 as operations start and finish on
// slots of different shards.
func TestTableLone(t *testing.T) {
	checkStats(t)
	tab := NewTable(40)
	var ops []*Op
	for i := 0; i < 40; i++ {
		if got, want := tab.Lone(), tab.InFlight() == 1; got != want {
			t.Fatalf("%d in flight: Lone %v", tab.InFlight(), got)
		}
		_, op, err := tab.Begin()
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	for _, op := range ops {
		tab.Complete(op.UserData(), 0, 0)
		if got, want := tab.Lone(), tab.InFlight() == 1; got != want {
			t.Fatalf("%d in flight: Lone %v", tab.InFlight(), got)
		}
	}
}

// TestHandleSize: one Handle is allocated per operation; 80 bytes is its
// size class on 64-bit platforms (88 bytes, as before the fields were
// reordered, cost the 96-byte class: more GC work per operation).
func TestHandleSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Handle{}) > 80 {
		t.Errorf("Handle is %d bytes, above the 80-byte size class", unsafe.Sizeof(Handle{}))
	}
}
