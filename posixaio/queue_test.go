package posixaio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

var modes = []struct {
	name string
	mode NotifyMode
}{{"thread", NotifyThread}, {"suspend", NotifySuspend}}

// bothModes runs f once per NotifyMode.
func bothModes(t *testing.T, f func(t *testing.T, m NotifyMode)) {
	for _, m := range modes {
		m := m
		t.Run(m.name, func(t *testing.T) { f(t, m.mode) })
	}
}

func newQueue(t testing.TB, size int, mode ...NotifyMode) *Queue {
	t.Helper()
	o := QueueOptions{}
	if len(mode) > 0 {
		o.Notify = mode[0]
	}
	q, err := NewQueueOptions(size, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func TestQueueReadWrite(t *testing.T) { bothModes(t, testQueueReadWrite) }

func testQueueReadWrite(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 8, mode)
	fd, _ := tempFile(t, nil)
	data := pattern(8192, 3)
	h, err := q.Write(fd, data, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != len(data) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	h, err = q.Fsync(fd, ODsync)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != 0 || err != nil {
		t.Fatalf("fsync: %d, %v", n, err)
	}
	got := make([]byte, 8192)
	h, err = q.Read(fd, got, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != len(got) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d, %v, equal %v", n, err, bytes.Equal(got, data))
	}
	// Reading past the end gives 0, as pread does.
	h, _ = q.Read(fd, got, 1<<20)
	if n, err := h.Wait(context.Background()); n != 0 || err != nil {
		t.Fatalf("read at EOF: %d, %v", n, err)
	}
}

func TestQueueErrors(t *testing.T) { bothModes(t, testQueueErrors) }

func testQueueErrors(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 4, mode)
	fd, _ := tempFile(t, pattern(100, 0))
	buf := make([]byte, 10)
	cases := []struct {
		name string
		run  func() (*completion.Handle, error)
		want error
	}{
		{"bad fd", func() (*completion.Handle, error) { return q.Read(12345, buf, 0) }, unix.EBADF},
		{"negative offset", func() (*completion.Handle, error) { return q.Read(fd, buf, -1) }, unix.EINVAL},
		{"write to closed-for-write", func() (*completion.Handle, error) { return q.Write(-1, buf, 0) }, unix.EBADF},
	}
	for _, c := range cases {
		h, err := c.run()
		if err != nil {
			t.Fatalf("%s: submit: %v", c.name, err)
		}
		if _, err := h.Wait(context.Background()); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// nil buffer: glibc reads 0 bytes into NULL.
	h, err := q.Read(fd, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != 0 || err != nil {
		t.Errorf("nil buffer: %d, %v", n, err)
	}
	// aio_fsync checks at submission.
	if _, err := q.Fsync(12345, OSync); err != unix.EBADF {
		t.Errorf("fsync bad fd: %v, want EBADF", err)
	}
	if _, err := q.Fsync(fd, 12345); err != unix.EINVAL {
		t.Errorf("fsync bad op: %v, want EINVAL", err)
	}
}

func TestQueueManyGoroutines(t *testing.T) { bothModes(t, testQueueManyGoroutines) }

func testQueueManyGoroutines(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 64, mode)
	const blocks = 64
	content := pattern(blocks*512, 9)
	fd, _ := tempFile(t, content)
	var wg sync.WaitGroup
	for g := 0; g < 200; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 512)
			for i := 0; i < 20; i++ {
				b := (g + i*7) % blocks
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var h *completion.Handle
				var err error
				for {
					h, err = q.Read(fd, buf, int64(b*512))
					if err != ErrBusy {
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
				if err != nil {
					cancel()
					t.Errorf("read: %v", err)
					return
				}
				n, err := h.Wait(ctx)
				cancel()
				if n != 512 || err != nil || !bytes.Equal(buf, content[b*512:(b+1)*512]) {
					t.Errorf("goroutine %d block %d: %d %v", g, b, n, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// runningAndQueued submits two reads of n bytes from the pipe r: the first
// runs (a glibc thread blocks in it), the second waits behind it in glibc's
// queue of the descriptor.
func runningAndQueued(t *testing.T, q *Queue, r, n int) (running, queued *completion.Handle) {
	t.Helper()
	running, err := q.Read(r, make([]byte, n), 0)
	if err != nil {
		t.Fatal(err)
	}
	waitBlockedReaders(t, []int{r}, 1)
	if queued, err = q.Read(r, make([]byte, n), 0); err != nil {
		t.Fatal(err)
	}
	return running, queued
}

func TestQueueContextCancel(t *testing.T) { bothModes(t, testQueueContextCancel) }

func testQueueContextCancel(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 8, mode)
	r, w := pipe(t)
	running, queued := runningAndQueued(t, q, r, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := queued.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait: %v", err)
	}
	// The canceler dequeued it: the handle completes with ECANCELED.
	if _, err := queued.Wait(context.Background()); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("canceled request: %v, want ECANCELED", err)
	}
	// The running one cannot be canceled.
	if n, err := q.Cancel(running); n != NotCanceled || err != nil {
		t.Fatalf("Cancel(running) = %d, %v", n, err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := running.Wait(ctx2); err != context.DeadlineExceeded {
		t.Fatalf("Wait: %v", err)
	}
	if running.IsDone() {
		t.Fatal("running request reported done")
	}
	unix.Write(w, []byte("late"))
	if n, err := running.Wait(context.Background()); n != 4 || err != nil {
		t.Fatalf("running request: %d, %v", n, err)
	}
	if n, err := q.Cancel(running); n != AllDone || err != nil {
		t.Fatalf("Cancel after completion = %d, %v", n, err)
	}
}

func TestQueueBusyAndClose(t *testing.T) { bothModes(t, testQueueBusyAndClose) }

func testQueueBusyAndClose(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q, err := NewQueueOptions(2, QueueOptions{Notify: mode})
	if err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	h1, _ := q.Read(r, make([]byte, 4), 0)
	h2, _ := q.Read(r, make([]byte, 4), 0)
	if _, err := q.Read(r, make([]byte, 4), 0); err != ErrBusy {
		t.Fatalf("third request in a queue of 2: %v", err)
	}
	waitBlockedReaders(t, []int{r}, 1)
	closed := make(chan error)
	go func() { closed <- q.Close() }()
	// Close cancels the queued request at once and waits for the running one.
	if _, err := h2.Wait(context.Background()); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("queued request at Close: %v", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a request running", err)
	case <-time.After(30 * time.Millisecond):
	}
	if _, err := q.Read(r, make([]byte, 4), 0); err != ErrClosed {
		t.Fatalf("Read after Close: %v", err)
	}
	unix.Write(w, []byte("data"))
	if n, err := h1.Wait(context.Background()); n != 4 || err != nil {
		t.Fatalf("running request: %d %v", n, err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := q.Fsync(r, OSync); err != ErrClosed {
		t.Fatalf("Fsync after Close: %v", err)
	}
}

// TestQueueLostNotification: if glibc cannot deliver a SIGEV_THREAD
// notification (it ignores a failed pthread_create), the watchdog's periodic
// scan still completes the request, also while other requests keep
// completing ("load": it scanned only when nothing had completed for 250 ms,
// and under steady traffic the request stayed pending, pinned, for ever).
func TestQueueLostNotification(t *testing.T) {
	for _, load := range []bool{false, true} {
		t.Run(fmt.Sprintf("load=%v", load), func(t *testing.T) { testLostNotification(t, load) })
	}
}

func testLostNotification(t *testing.T, load bool) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 8, NotifyThread)
	fd, _ := tempFile(t, pattern(4096, 1))
	setDropNotifications(true)
	h, err := q.Read(fd, make([]byte, 4096), 0)
	if err != nil {
		setDropNotifications(false)
		t.Fatal(err)
	}
	status := slotStatus(q, int(uint32(h.UserData())))
	for status() == unix.EINPROGRESS {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // its notification has been dropped
	setDropNotifications(false)
	if load { // one small read every 10 ms from another goroutine
		var stop atomic.Bool
		wg := readers(q, fd, 1, 10*time.Millisecond, &stop)
		defer func() { stop.Store(true); wg.Wait() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := h.Wait(ctx); n != 4096 || err != nil {
		t.Fatalf("request with a lost notification, finished in glibc (__error_code %d): Wait = %d, %v", int(status()), n, err)
	}
}

func TestQueueGCStress(t *testing.T) { bothModes(t, testQueueGCStress) }

func testQueueGCStress(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	q := newQueue(t, 128, mode)
	const blocks = 256
	content := pattern(blocks*256, 7)
	fd, _ := tempFile(t, content)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer close(stop)
	type pend struct {
		h   *completion.Handle
		buf []byte
		b   int
	}
	for round := 0; round < 10; round++ {
		var ps []pend
		for i := 0; i < 100; i++ {
			b := (round*31 + i*17) % blocks
			// The handle pins buf until its completion is reaped, but ps
			// also keeps it reachable for the comparison below, so this test
			// does not show that the pin keeps it alive (TestQueuePinsBuffer
			// drops every reference).
			buf := make([]byte, 256)
			h, err := q.Read(fd, buf, int64(b*256))
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pend{h, buf, b})
			_ = make([]byte, 1024) // garbage
		}
		for _, p := range ps {
			if n, err := p.h.Wait(context.Background()); n != 256 || err != nil {
				t.Fatalf("%d %v", n, err)
			}
			if !bytes.Equal(p.buf, content[p.b*256:(p.b+1)*256]) {
				t.Fatalf("block %d corrupted", p.b)
			}
		}
	}
}

func TestDefaultQueue(t *testing.T) {
	fd, _ := tempFile(t, nil)
	h, err := Write(fd, []byte("default queue"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != 13 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	h, err = Fsync(fd, OSync)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 13)
	h, _ = Read(fd, buf, 0)
	if n, err := h.Wait(context.Background()); n != 13 || err != nil || string(buf) != "default queue" {
		t.Fatalf("%d %v %q", n, err, buf)
	}
	q1, _ := Default()
	q2, _ := Default()
	if q1 != q2 {
		t.Fatal("Default returned two queues")
	}
	if q1.mode != NotifySuspend || q1.sus == nil || q1.sink != nil {
		t.Fatalf("default queue: mode %d, want the aio_suspend reaper (NotifySuspend)", q1.mode)
	}
}

// TestQueueDefaultMode: NewQueue and the zero QueueOptions use the
// aio_suspend reaper, whose requests carry SIGEV_NONE (no glibc thread start
// per request); NotifyThread stays available and uses SIGEV_THREAD.
func TestQueueDefaultMode(t *testing.T) {
	for _, c := range []struct {
		q    *Queue
		want int
	}{
		{newQueue(t, 2), sigevNoneC},
		{newQueue(t, 2, NotifySuspend), sigevNoneC},
		{newQueue(t, 2, NotifyThread), sigevThreadC},
	} {
		for i := 0; i < 2; i++ {
			if got := slotNotify(c.q, i); got != c.want {
				t.Errorf("mode %d slot %d: sigev_notify %d, want %d", c.q.mode, i, got, c.want)
			}
		}
	}
	if _, err := NewQueueOptions(2, QueueOptions{Notify: NotifyMode(7)}); err != unix.EINVAL {
		t.Errorf("bad mode: %v, want EINVAL", err)
	}
}

// TestQueueManyWaiters: 300 goroutines wait on requests glibc cannot run yet
// (one empty pipe each; it runs at most 20 at a time). Waiting costs no OS
// thread: the process stays far below one thread per waiter.
func TestQueueManyWaiters(t *testing.T) { bothModes(t, testQueueManyWaiters) }

func testQueueManyWaiters(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	const n = 300
	q := newQueue(t, n, mode)
	var rd, wr []int
	for i := 0; i < n; i++ {
		r, w := pipe(t)
		rd, wr = append(rd, r), append(wr, w)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		buf := make([]byte, 2)
		h, err := q.Read(rd[i], buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if n, err := h.Wait(context.Background()); n != 2 || err != nil || buf[0] != byte(i) {
				errs <- fmt.Errorf("waiter %d: %d %v %v", i, n, err, buf)
			}
		}(i)
	}
	waitBlockedReaders(t, rd, 20)
	if th := threadCount(t); th > 100 {
		t.Errorf("%d threads with %d goroutines waiting", th, n)
	}
	for i, w := range wr {
		unix.Write(w, []byte{byte(i), byte(i >> 8)})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSuspendReaperRing: with NotifySuspend and a request that stays in
// flight (an empty pipe), the reaper sleeps in aio_suspend on that request;
// each new file read must wake it (SIGURG) rather than wait for the
// aio_suspend timeout. Without the wake-up every read is completed by the
// pass after a timed-out aio_suspend (the reaper's lateReaps); with it, only
// a read whose signal was lost (it reached the thread just before glibc's
// futex wait) or that a timeout happened to hit first, so the check is on
// that count, not on latency.
func TestSuspendReaperRing(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 8, NotifySuspend)
	r, w := pipe(t)
	blocked, err := q.Read(r, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fd, _ := tempFile(t, pattern(4096, 1))
	const reads = 30
	var lat []time.Duration
	late0, waits0 := q.sus.lateReaps.Load(), q.sus.waits.Load()
	for i := 0; i < reads; i++ {
		// Let the reaper go back to aio_suspend on the pipe's read, so that
		// this read needs the signal.
		time.Sleep(2 * time.Millisecond)
		for atomic.LoadInt32(q.sus.state()) != reaperSuspend {
			if ctx.Err() != nil {
				t.Fatalf("read %d: the reaper did not go back to aio_suspend", i)
			}
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		h, err := q.Read(fd, make([]byte, 512), 0)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := h.Wait(ctx); n != 512 || err != nil {
			t.Fatalf("read %d: %d %v", i, n, err)
		}
		lat = append(lat, time.Since(start))
	}
	late, waits := q.sus.lateReaps.Load()-late0, q.sus.waits.Load()-waits0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d reads: %d completed after an aio_suspend timeout, %d aio_suspend calls; latency min %v median %v max %v",
		reads, late, waits, lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if late > reads/2 {
		t.Errorf("%d of %d reads were completed only after an aio_suspend timeout (%v): submissions do not wake the reaper",
			late, reads, suspendTimeout)
	}
	unix.Write(w, []byte("x"))
	if n, err := blocked.Wait(ctx); n != 1 || err != nil {
		t.Fatal(n, err)
	}
}

// The NotifySuspend reaper does not spin: over many cached reads from 32
// goroutines the number of collect passes and aio_suspend calls grows with
// the requests, not with the time the reaper has to spin in (measured per
// request: 0.15-0.3 passes and 0.05-0.15 waits with 2 Ps, 1-1.5 passes and
// up to 0.6 waits with 1 P; a reaper that does not wait: 20-45 passes).
//
// The bounds hold whatever the scheduling: a pass that completes requests
// completes at least one (at most reqs such passes); every other pass follows
// the yield after such a pass (at most reqs), or a wake-up by a submission
// (its doorbell can end one wait and its signal another: at most 2*reqs), by
// an aio_suspend timeout (at most one per suspendTimeout of the run) or by a
// stray signal; and only those other passes wait. A reaper that spins makes
// a pass every few microseconds for as long as the run lasts.
func TestSuspendReaperDoesNotSpin(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 32)
	content := pattern(64*4096, 1)
	files := make([]*File, 32)
	for i := range files {
		fd, _ := tempFile(t, content)
		files[i] = NewFile(q, fd)
	}
	const per = 200
	var wg sync.WaitGroup
	passes0, waits0 := q.sus.passes.Load(), q.sus.waits.Load()
	start := time.Now()
	for _, f := range files {
		wg.Add(1)
		go func(f *File) {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := 0; i < per; i++ {
				if n, err := f.ReadAt(buf, int64(i%64)*4096); n != 4096 || err != nil {
					t.Errorf("ReadAt = %d, %v", n, err)
					return
				}
			}
		}(f)
	}
	wg.Wait()
	passes, waits := q.sus.passes.Load()-passes0, q.sus.waits.Load()-waits0
	reqs := uint64(len(files) * per)
	// Timeouts (one per suspendTimeout at most) and stray signals.
	slack := uint64(time.Since(start)/suspendTimeout) + 1000
	t.Logf("%d requests in %v (GOMAXPROCS %d): %d collect passes, %d aio_suspend calls",
		reqs, time.Since(start), runtime.GOMAXPROCS(0), passes, waits)
	if maxPasses, maxWaits := 4*reqs+slack, 3*reqs+slack; passes > maxPasses || waits > maxWaits {
		t.Errorf("%d requests took %d collect passes and %d aio_suspend calls (at most %d and %d): the reaper spins",
			reqs, passes, waits, maxPasses, maxWaits)
	}
}

// The suspend reaper lists only the oldest request of each descriptor:
// glibc runs one descriptor's requests in order, so that one finishes first,
// and every other listed aiocb would only make aio_suspend slower. Reads
// blocked on two pipes: one listed aiocb each, the first submitted; then
// each completion moves the list to the next one, and all complete.
func TestSuspendReaperListsOldestPerFd(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 16)
	ra, wa := pipe(t)
	rb, wb := pipe(t)
	var hs []*completion.Handle
	first := map[int]int{} // fd -> slot of its first read
	for i := 0; i < 6; i++ {
		fd := ra
		if i%3 == 2 {
			fd = rb
		}
		h, err := q.Read(fd, make([]byte, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := first[fd]; !ok {
			first[fd] = int(uint32(h.UserData()))
		}
		hs = append(hs, h)
	}
	want := []int{first[ra], first[rb]}
	sort.Ints(want)
	got := waitListed(q, func(got []int) bool { return len(got) == 2 })
	if !slices.Equal(got, want) {
		t.Fatalf("listed slots %v, want the first read of each pipe %v", got, want)
	}
	for _, w := range []int{wa, wb} {
		if _, err := unix.Write(w, []byte("12345")); err != nil {
			t.Fatal(err)
		}
	}
	waitOneByte(t, hs)
}

// With more descriptors than listMax, the suspend reaper lists only the
// oldest listMax requests: glibc runs at most aio_threads requests at a time
// and starts queued ones in order, so younger ones cannot finish first.
// Reads blocked on 48 pipes (glibc's 20 threads hold 20 of them, the rest
// wait in its queue): the first 40 submitted are listed; then every read
// completes, the unlisted ones included, whatever order the data comes in.
func TestSuspendReaperListsOldestDescriptors(t *testing.T) {
	testutil.CheckLeaks(t)
	const pipes = 48
	limit := listMax()
	if limit >= pipes {
		t.Fatalf("listMax %d: the test needs more pipes", limit)
	}
	q := newQueue(t, 64)
	var hs []*completion.Handle
	var order, writers []int
	for i := 0; i < pipes; i++ {
		r, w := pipe(t)
		h, err := q.Read(r, make([]byte, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		order = append(order, int(uint32(h.UserData())))
		writers = append(writers, w)
	}
	want := slices.Clone(order[:limit])
	sort.Ints(want)
	got := waitListed(q, func(got []int) bool { return len(got) == limit && q.sus.capped.Load() })
	if !slices.Equal(got, want) || !q.sus.capped.Load() {
		t.Fatalf("listed slots %v (capped %v), want the %d oldest %v", got, q.sus.capped.Load(), limit, want)
	}
	for i := pipes - 1; i >= 0; i-- {
		if _, err := unix.Write(writers[i], []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitOneByte(t, hs)
}

// waitListed waits (at most 5 s) until the suspend reaper, in an
// aio_suspend begun after the call, has listed slots that done accepts, and
// returns them sorted (the last list seen if none was accepted).
func waitListed(q *Queue, done func(got []int) bool) []int {
	var got []int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		w := q.sus.waits.Load()
		time.Sleep(30 * time.Millisecond) // more than one timed aio_suspend
		if q.sus.waits.Load() == w {
			continue // the reaper was between passes
		}
		if got = listedSlots(q); done(got) {
			break
		}
	}
	sort.Ints(got)
	return got
}

// waitOneByte waits (at most 5 s each) for reads of one byte.
func waitOneByte(t *testing.T, hs []*completion.Handle) {
	t.Helper()
	for i, h := range hs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := h.Wait(ctx)
		cancel()
		if n != 1 || err != nil {
			t.Fatalf("read %d = %d, %v", i, n, err)
		}
	}
}

// TestQueueCloseDuringSubmit: a request can complete, and the table drain,
// while its submitter is still between pa_submit and ringing the reaper
// (which uses the C memory Close frees). The test hook holds a submitter in
// that gap while Close runs: Close must not have freed the slots when the
// submitter goes on.
func TestQueueCloseDuringSubmit(t *testing.T) { bothModes(t, testQueueCloseDuringSubmit) }

func testQueueCloseDuringSubmit(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 4, mode)
	fd, _ := tempFile(t, pattern(4096, 4))
	inGap := make(chan struct{})
	q.afterSubmit = func() {
		close(inGap)
		time.Sleep(100 * time.Millisecond) // Close runs meanwhile
		if q.slots == nil {
			t.Error("Close freed the queue's C memory while a submitter was between pa_submit and ring")
		}
	}
	type result struct {
		h   *completion.Handle
		err error
	}
	done := make(chan result)
	buf := make([]byte, 4096)
	go func() {
		h, err := q.Read(fd, buf, 0)
		done <- result{h, err}
	}()
	<-inGap
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Read: %v", r.err)
	}
	// Close cancels what glibc has not started yet.
	if n, err := r.h.Wait(context.Background()); (n != len(buf) || err != nil) && err != unix.ECANCELED {
		t.Fatalf("read: %d, %v; want %d or ECANCELED", n, err, len(buf))
	}
}

// TestQueueCloseCancelsUnderLock: Close's aio_cancel calls run under q.mu,
// as Cancel's do, so that the reaper cannot complete a slot and a submitter
// refill it while Close cancels it. With q.mu held by the test, Close must
// not cancel a request queued behind a running one.
func TestQueueCloseCancelsUnderLock(t *testing.T) { bothModes(t, testQueueCloseCancelsUnderLock) }

func testQueueCloseCancelsUnderLock(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 4, mode)
	r, w := pipe(t)
	running, queued := runningAndQueued(t, q, r, 1)
	status := slotStatus(q, int(uint32(queued.UserData())))
	q.mu.Lock()
	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	time.Sleep(50 * time.Millisecond)
	st := status()
	q.mu.Unlock()
	if st != unix.EINPROGRESS {
		t.Errorf("queued request's status while the test holds q.mu during Close: %v, want EINPROGRESS (Close canceled it without q.mu)", st)
	}
	// Only once Close has canceled it may the running read finish: glibc
	// would start the queued one next, and Close would wait for it.
	for deadline := time.Now().Add(10 * time.Second); status() == unix.EINPROGRESS; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			unix.Write(w, []byte("xy")) // let both reads end
			t.Fatal("Close did not cancel the queued request within 10s")
		}
	}
	unix.Write(w, []byte("x"))
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n, err := running.Wait(context.Background()); n != 1 || err != nil {
		t.Errorf("running read: %d, %v", n, err)
	}
	if _, err := queued.Wait(context.Background()); err != unix.ECANCELED {
		t.Errorf("queued read: %v, want ECANCELED", err)
	}
}

// TestQueueCancelForeignHandle: handles of two queues share user data
// values (each queue's first request has the same), so Cancel must refuse a
// handle of another queue (and nil) with EINVAL instead of canceling the
// request of its own that has that user data.
func TestQueueCancelForeignHandle(t *testing.T) { bothModes(t, testQueueCancelForeignHandle) }

func testQueueCancelForeignHandle(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q1 := newQueue(t, 4, mode)
	q2 := newQueue(t, 4, mode)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	var hs [2][2]*completion.Handle
	for i, q := range []*Queue{q1, q2} {
		fd := []int{r1, r2}[i]
		for j := range hs[i] {
			h, err := q.Read(fd, make([]byte, 1), 0)
			if err != nil {
				t.Fatal(err)
			}
			hs[i][j] = h
		}
	}
	if hs[0][1].UserData() != hs[1][1].UserData() {
		t.Fatalf("user data differ (%#x, %#x): the test needs equal ones", hs[0][1].UserData(), hs[1][1].UserData())
	}
	// hs[0][1] waits in glibc's queue behind hs[0][0], hs[1][1] behind hs[1][0].
	if n, err := q2.Cancel(hs[0][1]); err != unix.EINVAL {
		t.Errorf("q2.Cancel(handle of q1): %d, %v; want -1, EINVAL", n, err)
	}
	noPanic(t, "Cancel(nil)", func() {
		if n, err := q1.Cancel(nil); err != unix.EINVAL {
			t.Errorf("Cancel(nil): %d, %v; want -1, EINVAL", n, err)
		}
	})
	unix.Write(w1, []byte("ab"))
	unix.Write(w2, []byte("cd"))
	for i := range hs {
		for j, h := range hs[i] {
			if n, err := h.Wait(context.Background()); n != 1 || err != nil {
				t.Errorf("queue %d, read %d: %d, %v (canceled through another queue?)", i+1, j, n, err)
			}
		}
	}
	// Its own queue still cancels it.
	h, _ := q1.Read(r1, make([]byte, 1), 0)
	h2, _ := q1.Read(r1, make([]byte, 1), 0)
	if n, err := q1.Cancel(h2); n != Canceled || err != nil {
		t.Errorf("q1.Cancel(own queued handle): %d, %v; want Canceled", n, err)
	}
	unix.Write(w1, []byte("e"))
	h.Wait(context.Background())
	if _, err := h2.Wait(context.Background()); err != unix.ECANCELED {
		t.Errorf("canceled read: %v, want ECANCELED", err)
	}
}

// TestQueuePinsBuffer: the buffer of a request in flight stays alive while
// no Go reference to it remains (glibc holds its address in C memory, which
// the collector does not scan; only the handle's runtime.Pinner keeps it).
// A buffer with a finalizer is read into from an empty pipe and dropped:
// the finalizer must not run while the read blocks (it did with the pin
// removed from submit), and runs once the read completed.
func TestQueuePinsBuffer(t *testing.T) { bothModes(t, testQueuePinsBuffer) }

func testQueuePinsBuffer(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 4, mode)
	r, w := pipe(t)
	var gone atomic.Bool
	h := func() *completion.Handle {
		b := new([4096]byte)
		runtime.SetFinalizer(b, func(*[4096]byte) { gone.Store(true) })
		h, err := q.Read(r, b[:], 0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}()
	collect(5)
	if gone.Load() {
		t.Fatal("the buffer of a read in flight was collected: nothing pinned it")
	}
	unix.Write(w, []byte("x"))
	if n, err := h.Wait(context.Background()); n != 1 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	waitCollected(t, &gone)
}

// collect runs n garbage collections, with a short sleep after each so that
// queued finalizers run.
func collect(n int) {
	for i := 0; i < n; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCollected waits until the finalizer that sets gone has run: once the
// request finished and the pin is gone nothing else holds the buffer.
func waitCollected(t *testing.T, gone *atomic.Bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !gone.Load(); collect(1) {
		if time.Now().After(deadline) {
			t.Fatal("the buffer was still not collected 5s after its read finished: is it still pinned?")
		}
	}
}
