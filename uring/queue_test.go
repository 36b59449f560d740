package uring

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

func TestQueueNop(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	for i := 0; i < 100; i++ {
		h, err := q.Nop()
		mustRes(t, h, err, 0)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight after all completed = %d", n)
	}
}

func TestQueueReadWrite(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	_, fd := tempFile(t, nil)

	h, err := q.Write(fd, []byte("0123456789"), 0)
	mustRes(t, h, err, 10)
	h, err = q.Fsync(fd, 0)
	mustRes(t, h, err, 0)
	h, err = q.Fsync(fd, FsyncDatasync)
	mustRes(t, h, err, 0)

	buf := make([]byte, 64)
	h, err = q.Read(fd, buf[:4], 2)
	mustRes(t, h, err, 4)
	if got := string(buf[:4]); got != "2345" {
		t.Fatalf("read %q, want 2345", got)
	}
	// Short read at EOF: the kernel returns what is there.
	h, err = q.Read(fd, buf, 6)
	mustRes(t, h, err, 4)
	if got := string(buf[:4]); got != "6789" {
		t.Fatalf("read %q, want 6789", got)
	}
	h, err = q.Read(fd, buf, 100)
	mustRes(t, h, err, 0)

	h, err = q.Writev(fd, [][]byte{[]byte("abc"), nil, []byte("defg")}, 10)
	mustRes(t, h, err, 7)
	a, b := make([]byte, 3), make([]byte, 8)
	h, err = q.Readv(fd, [][]byte{a, b}, 8)
	mustRes(t, h, err, 9)
	if string(a) != "89a" || string(b[:6]) != "bcdefg" {
		t.Fatalf("readv %q %q", a, b[:6])
	}

	// Bad input gives the kernel's errno in the completion.
	h, err = q.Read(-1, buf, 0)
	mustErrno(t, h, err, unix.EBADF)
	h, err = q.Fsync(-1, 0)
	mustErrno(t, h, err, unix.EBADF)
	dir, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	h, err = q.Read(dir, buf, 0)
	mustErrno(t, h, err, unix.EISDIR)
	// An empty buffer is legal: a zero-length read.
	h, err = q.Read(fd, nil, 0)
	mustRes(t, h, err, 0)
}

func TestQueueOpenStatxClose(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	dir := t.TempDir()
	path := dir + "/f"
	h, err := q.Openat(unix.AT_FDCWD, path, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	fd, werr := waitRes(t, h, err)
	if werr != nil || fd < 0 {
		t.Fatalf("openat: %d, %v", fd, werr)
	}
	h, err = q.Write(fd, make([]byte, 100), 0)
	mustRes(t, h, err, 100)
	var st unix.Statx_t
	h, err = q.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, &st)
	mustRes(t, h, err, 0)
	if st.Size != 100 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("statx: size %d mode %o", st.Size, st.Mode)
	}
	h, err = q.CloseFD(fd)
	mustRes(t, h, err, 0)
	h, err = q.Openat(unix.AT_FDCWD, dir+"/missing", unix.O_RDONLY, 0)
	mustErrno(t, h, err, unix.ENOENT)
	h, err = q.Statx(unix.AT_FDCWD, dir+"/missing", 0, unix.STATX_BASIC_STATS, &st)
	mustErrno(t, h, err, unix.ENOENT)
	if _, err := q.Openat(unix.AT_FDCWD, "a\x00b", unix.O_RDONLY, 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Openat with NUL in path: %v, want EINVAL", err)
	}
}

func TestQueueTimeout(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	start := time.Now()
	h, err := q.Timeout(20*time.Millisecond, 0, 0)
	mustErrno(t, h, err, unix.ETIME)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("timeout fired after %v", d)
	}
	// A timeout with count 1 completes (res 0) once another CQE is posted.
	ht, err := q.Timeout(10*time.Second, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err = q.Nop()
	mustRes(t, h, err, 0)
	mustRes(t, ht, nil, 0)
}

func TestQueuePoll(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	sv, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sv[0])
	defer unix.Close(sv[1])
	h, err := q.PollAdd(sv[0], unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if h.IsDone() {
		t.Fatal("poll completed before data arrived")
	}
	unix.Write(sv[1], []byte("x"))
	mustRes(t, h, nil, unix.POLLIN)
	h, err = q.PollAdd(sv[0], unix.POLLOUT)
	mustRes(t, h, err, unix.POLLOUT)
}

func TestQueueNet(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(lfd)
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)

	ha, err := q.Accept(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := q.Connect(cfd, sa)
	mustRes(t, hc, err, 0)
	afd, err := waitRes(t, ha, nil)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer unix.Close(afd)

	h, err := q.Send(cfd, []byte("hello"), 0)
	mustRes(t, h, err, 5)
	buf := make([]byte, 16)
	h, err = q.Recv(afd, buf, 0)
	mustRes(t, h, err, 5)
	if string(buf[:5]) != "hello" {
		t.Fatalf("recv %q", buf[:5])
	}
	h, err = q.Send(-1, buf, 0)
	mustErrno(t, h, err, unix.EBADF)
	if _, err := q.Connect(cfd, nil); err == nil {
		t.Fatal("Connect(nil address) succeeded")
	}
}

func TestQueueCancelHandle(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	buf := make([]byte, 16)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	hc, err := q.Cancel(h)
	mustRes(t, hc, err, 0)
	mustErrno(t, h, nil, unix.ECANCELED)
	// Cancelling a completed operation: the kernel no longer knows it.
	hc, err = q.Cancel(h)
	mustErrno(t, hc, err, unix.ENOENT)
}

// A context that ends while a read is blocked: Wait returns ctx.Err() at
// once, the queue cancels the read, and the buffer stays pinned until the
// kernel's -ECANCELED completion has been reaped.
func TestQueueWaitContextCancel(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	_, pins0 := completion.Stats()
	buf := make([]byte, 16)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, pins := completion.Stats(); pins != pins0+1 {
		t.Fatalf("live pins = %d, want %d", pins, pins0+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	cancels := q.cancels.Load()
	// Keep the CQ from being drained: the -ECANCELED CQE will sit there,
	// and until it is reaped the buffer must stay pinned.
	q.rmu.Lock()
	n, err := h.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || n != 0 {
		q.rmu.Unlock()
		t.Fatalf("Wait = %d, %v; want DeadlineExceeded", n, err)
	}
	if q.cancels.Load() != cancels+1 {
		q.rmu.Unlock()
		t.Fatalf("Wait did not submit IORING_OP_ASYNC_CANCEL")
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.ring.CQReady() < 2 && time.Now().Before(deadline) { // the read's and the cancel's CQEs
		time.Sleep(time.Millisecond)
	}
	_, pins := completion.Stats()
	done := h.IsDone()
	q.rmu.Unlock()
	q.reapInline()
	if done || pins != pins0+1 {
		t.Fatalf("before the CQE was reaped: done %v, live pins %d (want %d)", done, pins, pins0+1)
	}
	select {
	case <-h.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no completion after cancel")
	}
	if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("Result after cancel = %v, want ECANCELED", err)
	}
	if _, pins := completion.Stats(); pins != pins0 {
		t.Fatalf("live pins after completion = %d, want %d", pins, pins0)
	}
}

// With a cancelled context the pin must survive until the completion: the
// kernel still owns the buffer when Wait returns.
func TestQueuePinHeldUntilCompletion(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, w := testPipe(t)
	_, pins0 := completion.Stats()
	buf := make([]byte, 4)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
	// Until the CQE is reaped the pin is there (it may already be gone if
	// the cancel completed very fast, so only check while not done).
	if !h.IsDone() {
		if _, pins := completion.Stats(); pins < pins0+1 {
			t.Fatalf("pin released before the completion: %d < %d", pins, pins0+1)
		}
	}
	<-h.Done()
	// The read was cancelled (or, if data raced in, completed); either way
	// the result is the kernel's.
	if n, err := h.Result(); err != nil && !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("result %d, %v", n, err)
	}
	unix.Write(w, []byte("late"))
}

func TestQueueBusy(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 2})
	if q.MaxInFlight() != 2 {
		t.Fatalf("MaxInFlight = %d", q.MaxInFlight())
	}
	r, w := testPipe(t)
	b1, b2 := make([]byte, 1), make([]byte, 1)
	h1, err := q.Read(r, b1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := q.Read(r, b2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Nop(); !errors.Is(err, completion.ErrBusy) {
		t.Fatalf("third op: %v, want ErrBusy", err)
	}
	unix.Write(w, []byte("ab"))
	mustRes(t, h1, nil, 1)
	mustRes(t, h2, nil, 1)
	h, err := q.Nop()
	mustRes(t, h, err, 0)
}

// 1000 goroutines wait at once, each on a read of its own pipe; the data
// each one gets proves that completions reach the right handle.
func TestQueue1000Waiters(t *testing.T) {
	const n = 1000
	q := newTestQueue(t, QueueConfig{Entries: 128, MaxInFlight: n})
	type pipe struct{ r, w int }
	pipes := make([]pipe, n)
	for i := range pipes {
		pipes[i].r, pipes[i].w = testPipe(t)
	}
	var wg, started sync.WaitGroup
	errs := make(chan error, n)
	wg.Add(n)
	started.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, 8)
			h, err := q.Read(pipes[i].r, buf, 0)
			started.Done()
			if err != nil {
				errs <- err
				return
			}
			m, err := h.Wait(context.Background())
			if err != nil || m != 8 || !bytes.Equal(buf, []byte{byte(i), byte(i >> 8), 'p', 'i', 'p', 'e', '!', '!'}) {
				errs <- errors.New("bad result")
			}
		}(i)
	}
	started.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for q.InFlight() != n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := q.InFlight(); got != n {
		t.Fatalf("InFlight = %d, want %d", got, n)
	}
	for i := n - 1; i >= 0; i-- {
		unix.Write(pipes[i].w, []byte{byte(i), byte(i >> 8), 'p', 'i', 'p', 'e', '!', '!'})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Close with operations in flight: every handle completes (the blocked ones
// with -ECANCELED), every pin is released, and later calls get ErrClosed.
func TestQueueCloseInFlight(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	r, _ := testPipe(t)
	var hs []*completion.Handle
	for i := 0; i < 10; i++ {
		h, err := q.Read(r, make([]byte, 8), 0)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	ht, err := q.Timeout(time.Hour, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	hs = append(hs, ht)
	done := make(chan error)
	go func() { done <- q.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with operations in flight")
	}
	for i, h := range hs {
		if !h.IsDone() {
			t.Fatalf("handle %d not done after Close", i)
		}
		if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
			t.Fatalf("handle %d: %v, want ECANCELED", i, err)
		}
	}
	if q.InFlight() != 0 {
		t.Fatalf("InFlight after Close = %d", q.InFlight())
	}
	if _, err := q.Nop(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Nop after Close: %v", err)
	}
	if _, err := q.Read(r, make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := q.Link(func(l *Link) { l.Nop() }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Link after Close: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Close racing with goroutines that keep submitting: nothing hangs, every
// handle that was returned completes, and the rest get ErrClosed.
func TestQueueCloseRace(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				h, err := q.Nop()
				if errors.Is(err, ErrClosed) {
					return
				}
				if errors.Is(err, completion.ErrBusy) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := h.Wait(context.Background()); err != nil && !errors.Is(err, unix.ECANCELED) {
					t.Error(err)
					return
				}
				select {
				case <-stop:
				default:
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
}

// A CQ much smaller than the number of operations completing at once: with
// IORING_FEAT_NODROP the kernel keeps the overflow and the reaper flushes it;
// no completion is lost.
func TestQueueCQOverflow(t *testing.T) {
	const n = 200
	q := newTestQueue(t, QueueConfig{
		Entries:     4,
		Params:      &Params{Flags: SetupCQSize, CQEntries: 4},
		MaxInFlight: n,
	})
	if q.Ring().Features()&FeatNodrop == 0 {
		t.Fatal("kernel without IORING_FEAT_NODROP")
	}
	r, w := testPipe(t)
	hs := make([]*completion.Handle, n)
	for i := range hs {
		var err error
		if hs[i], err = q.PollAdd(r, unix.POLLIN); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	// Hold the CQ so nobody drains while the 200 completions are posted:
	// they cannot fit, and the kernel must keep the rest on its overflow
	// list (IORING_SQ_CQ_OVERFLOW).
	q.rmu.Lock()
	unix.Write(w, []byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for !q.ring.CQHasOverflow() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	overflowed := q.ring.CQHasOverflow()
	q.rmu.Unlock()
	q.reapInline()
	if !overflowed {
		t.Fatal("the CQ never overflowed")
	}
	for i, h := range hs {
		n, err := waitRes(t, h, nil)
		if err != nil || n != unix.POLLIN {
			t.Fatalf("poll %d: %d, %v", i, n, err)
		}
	}
	if d := q.Ring().CQOverflow(); d != 0 {
		t.Fatalf("kernel dropped %d CQEs", d)
	}
}

// Signals delivered to every thread while operations run must not lose or
// fail anything: io_uring_enter's EINTR is retried and the reaper waits on
// Go's poller.
func TestQueueEINTR(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	_, fd := tempFile(t, bytes.Repeat([]byte("abcdefgh"), 512))
	stop := make(chan struct{})
	var sigs sync.WaitGroup
	sigs.Add(1)
	go func() {
		defer sigs.Done()
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tids, _ := os.ReadDir("/proc/self/task")
			for _, d := range tids {
				var tid int
				for _, c := range d.Name() {
					tid = tid*10 + int(c-'0')
				}
				unix.Tgkill(pid, tid, unix.SIGURG)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; i < 300; i++ {
				off := uint64((g*300+i)%512) * 8
				h, err := q.Read(fd, buf, off)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := h.Wait(context.Background()); err != nil || n != 8 || string(buf) != "abcdefgh" {
					t.Errorf("read: %d, %v, %q", n, err, buf)
					return
				}
				if i%50 == 0 {
					h, err := q.Timeout(100*time.Microsecond, 0, 0)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := h.Wait(context.Background()); !errors.Is(err, unix.ETIME) {
						t.Errorf("timeout: %v", err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	sigs.Wait()
}

func TestQueueConfigErrors(t *testing.T) {
	for _, f := range []uint32{SetupIOPoll, SetupSingleIssuer, SetupSingleIssuer | SetupDeferTaskrun, SetupCoopTaskrun} {
		q, err := NewQueueConfig(QueueConfig{Entries: 8, Params: &Params{Flags: f}})
		if !errors.Is(err, ErrQueueFlags) || !errors.Is(err, unix.EINVAL) || q != nil {
			t.Fatalf("flags %#x: %v", f, err)
		}
	}
	// The kernel's own errors come back unchanged.
	if _, err := NewQueue(0, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewQueue(0): %v, want EINVAL", err)
	}
	if _, err := NewQueue(1<<16, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewQueue(65536): %v, want EINVAL", err)
	}
}

// The queue over an SQPOLL ring: the kernel thread consumes the SQ, and
// io_uring_submit only enters the kernel to wake it.
func TestQueueSQPoll(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 20}})
	_, fd := tempFile(t, bytes.Repeat([]byte("sqpoll!!"), 64))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; i < 200; i++ {
				h, err := q.Read(fd, buf, uint64(i%64)*8)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := h.Wait(context.Background()); n != 8 || err != nil || string(buf) != "sqpoll!!" {
					t.Errorf("read %d, %v, %q", n, err, buf)
					return
				}
				if i%50 == 0 {
					time.Sleep(30 * time.Millisecond) // let the SQ thread go idle
				}
			}
		}()
	}
	wg.Wait()
}
