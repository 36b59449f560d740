package libaio

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/schedyield"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

func aioMaxNr(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/fs/aio-max-nr")
	if err != nil {
		testutil.SkipNoFeature(t, "/proc/sys/fs/aio-max-nr", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSetupErrors(t *testing.T) {
	for _, f := range []struct {
		name string
		fn   func(int) (*Context, error)
	}{{"io_setup", Setup}, {"io_queue_init", QueueInit}} {
		for _, n := range []int{0, -1} {
			if c, err := f.fn(n); !errors.Is(err, unix.EINVAL) {
				t.Errorf("%s(%d) = %v, %v; want EINVAL", f.name, n, c, err)
			}
		}
		if c, err := f.fn(1 << 31); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s(1<<31) = %v, %v; want EINVAL (the C parameter is an int)", f.name, c, err)
		}
		over := aioMaxNr(t) + 1
		if c, err := f.fn(over); !errors.Is(err, unix.EAGAIN) {
			t.Errorf("%s(aio-max-nr+1 = %d) = %v, %v; want EAGAIN", f.name, over, c, err)
		}
	}
}

func TestDestroyThenUse(t *testing.T) {
	for _, queue := range []bool{false, true} {
		c, err := newContextKind(queue)
		if err != nil {
			t.Fatal(err)
		}
		destroy := c.Destroy
		if queue {
			destroy = c.QueueRelease
		}
		if err := destroy(); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		if err := destroy(); err != ErrClosed {
			t.Errorf("second destroy: %v, want ErrClosed", err)
		}
		var cb Iocb
		cb.PrepFsync(0)
		if n, err := c.Submit([]*Iocb{&cb}); n != 0 || err != ErrClosed {
			t.Errorf("Submit after Destroy: %d, %v", n, err)
		}
		ev := make([]Event, 1)
		if _, err := c.GetEvents(0, ev, &unix.Timespec{}); err != ErrClosed {
			t.Errorf("GetEvents after Destroy: %v", err)
		}
		if _, err := c.PGetEvents(0, ev, &unix.Timespec{}, nil); err != ErrClosed {
			t.Errorf("PGetEvents after Destroy: %v", err)
		}
		if err := c.Cancel(&cb, &ev[0]); err != ErrClosed {
			t.Errorf("Cancel after Destroy: %v", err)
		}
		if _, err := c.QueueRun(); err != ErrClosed {
			t.Errorf("QueueRun after Destroy: %v", err)
		}
	}
}

// Destroy waits for a call already inside libaio (here a GetEvents with a timeout, one
// io_getevents call) instead of unmapping the ring under it: the call returns what the C
// call returns at its timeout (no event, no error; or EINTR), not the EINVAL of an
// io_getevents whose context io_destroy killed, and it has left libaio when Destroy
// returns. The test starts Destroy once the context counts the goroutine's call as a
// user (the goroutine is then in the call), and sees Destroy find it there (the user
// count with Destroy's bit set); an attempt in which the call had already returned when
// Destroy started is repeated, up to 10 times.
func TestDestroyWaitsForCalls(t *testing.T) {
	ts := unix.NsecToTimespec(int64(waitSlice))
	if sliced(1, 1, &ts) {
		t.Fatalf("GetEvents(1, %v) is made of several io_getevents calls", waitSlice)
	}
	for attempt := 1; attempt <= 10; attempt++ {
		if testDestroyWaitsForCall(t, &ts) || t.Failed() {
			return
		}
	}
	t.Fatal("in 10 attempts, Destroy never started while GetEvents was inside libaio")
}

// testDestroyWaitsForCall makes one attempt of TestDestroyWaitsForCalls; it reports
// whether Destroy found the GetEvents inside libaio.
func testDestroyWaitsForCall(t *testing.T, ts *unix.Timespec) (overlapped bool) {
	c, err := Setup(4)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan error, 1)
	go func() {
		_, err := c.GetEvents(1, make([]Event, 1), ts)
		out <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for c.users.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("GetEvents not inside libaio after 10s")
		}
		runtime.Gosched()
	}
	// Only the goroutine's call enters c, and it entered before Destroy started: it
	// cannot have failed with ErrClosed.
	destroyed := make(chan error, 1)
	go func() { destroyed <- c.Destroy() }()
	var derr error
watch:
	for {
		select {
		case derr = <-destroyed:
			break watch
		default:
		}
		if c.users.Load() == closing|1 {
			overlapped = true // Destroy has started and the call is still inside
		}
		if time.Now().After(deadline) {
			t.Fatal("Destroy still blocked after 10s")
		}
		time.Sleep(50 * time.Microsecond)
	}
	if derr != nil {
		t.Fatalf("Destroy: %v", derr)
	}
	if u := c.users.Load(); u != closing {
		t.Errorf("Destroy returned while %d calls were still inside libaio", u&^closing)
	}
	select {
	case err := <-out:
		if err != nil && err != unix.EINTR {
			t.Errorf("GetEvents inside libaio when Destroy started = %v; want its timeout (nil) or EINTR", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GetEvents still blocked 10s after Destroy returned")
	}
	if _, err := c.GetEvents(0, make([]Event, 1), nil); err != ErrClosed {
		t.Errorf("GetEvents after Destroy: %v", err)
	}
	return overlapped
}

func newContextKind(queue bool) (*Context, error) {
	if queue {
		return QueueInit(8)
	}
	return Setup(8)
}

// Buffered reads and writes run inside io_submit: their events are in the ring when it
// returns.
func TestBufferedCompletesInSubmit(t *testing.T) {
	const n = 32
	want := pattern(n*4096, 1)
	fd, _ := testFile(t, want, unix.O_RDWR)
	c := testContext(t, n)
	bufs := cbuf(t, n*4096)
	cbs := make([]Iocb, n)
	ptrs := make([]*Iocb, n)
	for i := range cbs {
		cbs[i].PrepPread(fd, bufs[i*4096:(i+1)*4096], int64(i)*4096)
		cbs[i].Data = uint64(i)
		ptrs[i] = &cbs[i]
	}
	got, err := c.Submit(ptrs)
	if got != n || err != nil {
		t.Fatalf("Submit: %d, %v", got, err)
	}
	evs := make([]Event, n)
	k, err := c.GetEvents(0, evs, &unix.Timespec{})
	if err != nil || k != n {
		t.Fatalf("GetEvents(zero timeout) right after io_submit: %d, %v; buffered reads should all be done", k, err)
	}
	for _, ev := range evs {
		if ev.Res != 4096 || ev.Res2 != 0 || !ev.ObjIs(&cbs[ev.Data]) {
			t.Fatalf("event %+v", ev)
		}
	}
	mustEqual(t, "buffered read", bufs, want)
}

// O_DIRECT reads are asynchronous: io_submit returns while the device still works.
//
// An attempt shows it only when io_submit returns before the device has read all n
// blocks (a few hundred microseconds on a virtual disk): on a loaded machine the thread
// may lose its CPU inside io_submit for longer, in several attempts in a row. So the
// test tries for up to 10 s (at least 5 attempts, at most 200); a synchronous io_submit
// finds every read complete in each of them.
func TestDirectIsAsync(t *testing.T) {
	const n, size = 32, 16 << 20
	fd, _ := testFile(t, pattern(size, 2), unix.O_RDONLY|unix.O_DIRECT)
	c := testContext(t, n)
	bufs := cbuf(t, n*4096)
	cbs := make([]Iocb, n)
	ptrs := make([]*Iocb, n)
	evs := make([]Event, n)
	var pendings []int
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 0; attempt < 200 && (attempt < 5 || time.Now().Before(deadline)); attempt++ {
		// Drop the file's cached pages (clean after the write-back) so the device is read.
		unix.Fdatasync(fd)
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		for i := range cbs {
			off := (int64(i*7919+attempt*104729) % (size / 4096)) * 4096
			cbs[i].PrepPread(fd, bufs[i*4096:(i+1)*4096], off)
			ptrs[i] = &cbs[i]
		}
		if got, err := c.Submit(ptrs); got != n || err != nil {
			t.Fatalf("Submit: %d, %v", got, err)
		}
		ready, err := c.GetEvents(0, evs, &unix.Timespec{})
		if err != nil {
			t.Fatal(err)
		}
		pendings = append(pendings, n-ready)
		for _, ev := range getAll(t, c, n-ready) {
			if ev.Res != 4096 {
				t.Fatalf("O_DIRECT read: res %d", ev.Res)
			}
		}
		if n-ready > 0 {
			t.Logf("after io_submit of %d O_DIRECT reads, %d were still in flight (attempts: %v)", n, n-ready, pendings)
			return
		}
	}
	t.Fatalf("every O_DIRECT read had completed when io_submit returned, in each of %d attempts (pending: %v)", len(pendings), pendings)
}

// A short count from io_submit carries no error, as in C; resubmitting the rest reports
// the errno of the rejected request.
func TestSubmitPartial(t *testing.T) {
	fd, _ := testFile(t, pattern(8192, 3), unix.O_RDONLY)
	c := testContext(t, 4)
	buf := cbuf(t, 8192)
	var good, bad Iocb
	good.PrepPread(fd, buf[:4096], 0)
	bad.PrepPread(-1, buf[4096:], 0)
	n, err := c.Submit([]*Iocb{&good, &bad})
	if n != 1 || err != nil {
		t.Fatalf("Submit(good, bad fd) = %d, %v; want 1, nil", n, err)
	}
	n, err = c.Submit([]*Iocb{&bad})
	if n != 0 || !errors.Is(err, unix.EBADF) {
		t.Fatalf("Submit(bad fd) = %d, %v; want 0, EBADF", n, err)
	}
	if n, err := c.Submit(nil); n != 0 || err != nil {
		t.Fatalf("Submit(nil) = %d, %v", n, err)
	}
	getAll(t, c, 1)
}

// Errors io_submit reports, and errors that arrive in the event.
func TestErrorsSubmitAndEvent(t *testing.T) {
	content := pattern(16384, 4)
	fd, path := testFile(t, content, unix.O_RDONLY)
	dfd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	c := testContext(t, 8)
	buf := cbuf(t, 16384)
	closedFd, _ := unix.Dup(fd)
	unix.Close(closedFd)

	submitErr := func(name string, prep func(cb *Iocb), want error) {
		t.Helper()
		var cb Iocb
		prep(&cb)
		n, err := c.Submit([]*Iocb{&cb})
		if n != 0 || !errors.Is(err, want) {
			t.Errorf("%s: Submit = %d, %v; want 0, %v", name, n, err, want)
			if n == 1 {
				getAll(t, c, 1)
			}
		}
	}
	submitErr("closed fd", func(cb *Iocb) { cb.PrepPread(closedFd, buf, 0) }, unix.EBADF)
	submitErr("write on O_RDONLY", func(cb *Iocb) { cb.PrepPwrite(fd, buf, 0) }, unix.EBADF)
	submitErr("IO_CMD_NOOP", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.Opcode = CmdNoop }, unix.EINVAL)
	submitErr("opcode 4", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.Opcode = 4 }, unix.EINVAL)
	submitErr("reserved field", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.Pad3 = 1 }, unix.EINVAL)
	submitErr("unknown RWF flag", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.RWFlags = 1 << 30 }, unix.EOPNOTSUPP)
	submitErr("bad ioprio class", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.SetIOPrio(IOPrioValue(7, 0)) }, unix.EINVAL)
	submitErr("resfd not an eventfd", func(cb *Iocb) { cb.PrepPread(fd, buf, 0); cb.SetEventfd(fd) }, unix.EINVAL)
	submitErr("negative offset", func(cb *Iocb) { cb.PrepPread(fd, buf, -4096) }, unix.EINVAL)
	submitErr("too many iovecs", func(cb *Iocb) {
		cb.PrepPreadv(fd, make([]unix.Iovec, 1025), 0)
	}, unix.EINVAL)
	submitErr("iovec array at address 0", func(cb *Iocb) { cb.PrepPreadv(fd, nil, 0); cb.Nbytes = 2 }, unix.EFAULT)

	eventErr := func(name string, prep func(cb *Iocb), want unix.Errno) {
		t.Helper()
		var cb Iocb
		prep(&cb)
		if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
			t.Errorf("%s: Submit = %d, %v; want 1, nil", name, n, err)
			return
		}
		ev := getAll(t, c, 1)[0]
		if _, err := ev.Result(); err != want {
			t.Errorf("%s: event res %d (%v); want %v", name, ev.Res, err, want)
		}
	}
	eventErr("O_DIRECT misaligned offset", func(cb *Iocb) { cb.PrepPread(dfd, buf[:4096], 1) }, unix.EINVAL)
	eventErr("O_DIRECT misaligned memory", func(cb *Iocb) { cb.PrepPread(dfd, buf[1:4097], 0) }, unix.EINVAL)
	eventErr("O_DIRECT misaligned length", func(cb *Iocb) { cb.PrepPread(dfd, buf[:100], 0) }, unix.EINVAL)
	eventErr("buffer at address 0", func(cb *Iocb) { cb.PrepPread(fd, nil, 0); cb.Nbytes = 4096 }, unix.EFAULT)

	// A valid priority is accepted.
	var cb Iocb
	cb.PrepPread(fd, buf[:4096], 4096)
	cb.SetIOPrio(IOPrioValue(IOPrioClassBE, 4))
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatalf("Submit with IOPRIO BE/4: %d, %v", n, err)
	}
	if ev := getAll(t, c, 1)[0]; ev.Res != 4096 {
		t.Fatalf("read with IOPRIO: res %d", ev.Res)
	}
	mustEqual(t, "ioprio read", buf[:4096], content[4096:8192])
}

func TestGetEventsTimeoutAndMinNr(t *testing.T) {
	c := testContext(t, 8)
	evs := make([]Event, 4)
	// libaio answers a zero timeout on an empty ring from user space (0 events) before
	// the kernel could check the arguments; with a real timeout the kernel says EINVAL.
	if n, err := c.GetEvents(5, evs, &unix.Timespec{}); n != 0 || err != nil {
		t.Errorf("min_nr > nr, zero timeout, empty ring: %d, %v; want libaio's 0, nil", n, err)
	}
	ms := unix.NsecToTimespec(1e6)
	if _, err := c.GetEvents(5, evs, &ms); !errors.Is(err, unix.EINVAL) {
		t.Errorf("min_nr > nr: %v, want EINVAL", err)
	}
	if _, err := c.GetEvents(-1, evs, &ms); !errors.Is(err, unix.EINVAL) {
		t.Errorf("min_nr < 0: %v, want EINVAL", err)
	}
	// Nothing in flight: the timeout expires and 0 events come back without error.
	ts := unix.NsecToTimespec(int64(60 * time.Millisecond))
	start := time.Now()
	var n int
	var err error
	for {
		n, err = c.GetEvents(1, evs, &ts)
		if err != unix.EINTR {
			break
		}
	}
	if el := time.Since(start); n != 0 || err != nil || el < 55*time.Millisecond {
		t.Errorf("GetEvents(1, 60ms) with nothing in flight = %d, %v after %v", n, err, el)
	}

	// min_nr: with two polls on a pipe, the wait lasts until both are ready.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var a, b Iocb
	a.PrepPoll(p[0], unix.POLLIN)
	b.PrepPoll(p[0], unix.POLLIN)
	if n, err := c.Submit([]*Iocb{&a, &b}); n != 2 || err != nil {
		t.Fatalf("Submit polls: %d, %v", n, err)
	}
	go func() {
		time.Sleep(80 * time.Millisecond)
		unix.Write(p[1], []byte("x"))
	}()
	ts = unix.NsecToTimespec(int64(5 * time.Second))
	start = time.Now()
	got := 0
	for got < 2 {
		n, err := c.GetEvents(2-got, evs[got:], &ts)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if el := time.Since(start); el < 70*time.Millisecond {
		t.Errorf("GetEvents(2) returned after %v, before the pipe became readable", el)
	}
	for _, ev := range evs[:2] {
		if ev.Res&unix.POLLIN == 0 {
			t.Errorf("poll event res %#x, want POLLIN", ev.Res)
		}
	}
}

// A signal delivered to the thread blocked in io_getevents makes it return EINTR, as in
// C; with the signal blocked through io_pgetevents' sigmask it does not.
func TestGetEventsEINTR(t *testing.T) {
	c := testContext(t, 4)
	run := func(mask *unix.Sigset_t, timeout time.Duration) (int, error, time.Duration) {
		type result struct {
			n   int
			err error
			el  time.Duration
		}
		tidc := make(chan int, 1)
		resc := make(chan result, 1)
		go func() {
			lockThread()
			defer unlockThread()
			tidc <- unix.Gettid()
			evs := make([]Event, 1)
			ts := unix.NsecToTimespec(int64(timeout))
			start := time.Now()
			var n int
			var err error
			if mask != nil {
				n, err = c.PGetEvents(1, evs, &ts, mask)
			} else {
				n, err = c.GetEvents(1, evs, &ts)
			}
			resc <- result{n, err, time.Since(start)}
		}()
		tid := <-tidc
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case r := <-resc:
				return r.n, r.err, r.el
			case <-tick.C:
				unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
			}
		}
	}
	n, err, el := run(nil, 5*time.Second)
	if err != unix.EINTR || n != 0 || el > 4*time.Second {
		t.Errorf("GetEvents under signals = %d, %v after %v; want EINTR", n, err, el)
	}
	var mask unix.Sigset_t
	mask.Val[(unix.SIGURG-1)/64] |= 1 << ((uint(unix.SIGURG) - 1) % 64)
	n, err, el = run(&mask, 150*time.Millisecond)
	if err != nil || n != 0 || el < 140*time.Millisecond {
		t.Errorf("PGetEvents with SIGURG masked = %d, %v after %v; want 0, nil after the timeout", n, err, el)
	}
}

func TestCancel(t *testing.T) {
	c := testContext(t, 4)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var poll Iocb
	poll.PrepPoll(p[0], unix.POLLIN)
	if n, err := c.Submit([]*Iocb{&poll}); n != 1 || err != nil {
		t.Fatalf("Submit poll: %d, %v", n, err)
	}
	var ev Event
	if err := c.Cancel(&poll, &ev); err != unix.EINPROGRESS {
		t.Fatalf("Cancel(pending poll) = %v; want EINPROGRESS", err)
	}
	got := getAll(t, c, 1)[0]
	if !got.ObjIs(&poll) || got.Res != 0 {
		t.Fatalf("cancelled poll event %+v; want res 0", got)
	}
	if err := c.Cancel(&poll, &ev); err != unix.EINVAL {
		t.Errorf("Cancel(completed poll) = %v; want EINVAL", err)
	}
	var never Iocb
	never.PrepPoll(p[0], unix.POLLIN)
	if err := c.Cancel(&never, nil); err != unix.EINVAL {
		t.Errorf("Cancel(never submitted) = %v; want EINVAL", err)
	}
	if err := c.Cancel(nil, nil); err != unix.EFAULT {
		t.Errorf("Cancel(nil) = %v; want EFAULT", err)
	}

	// An O_DIRECT read cannot be cancelled: EINVAL whether it is still running or not,
	// and its event still arrives with the data.
	content := pattern(1<<20, 5)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	buf := cbuf(t, 1<<20)
	var rd Iocb
	rd.PrepPread(fd, buf, 0)
	if n, err := c.Submit([]*Iocb{&rd}); n != 1 || err != nil {
		t.Fatalf("Submit read: %d, %v", n, err)
	}
	if err := c.Cancel(&rd, &ev); err != unix.EINVAL {
		t.Errorf("Cancel(O_DIRECT read) = %v; want EINVAL", err)
	}
	if got := getAll(t, c, 1)[0]; got.Res != 1<<20 {
		t.Fatalf("read after failed cancel: res %d", got.Res)
	}
	mustEqual(t, "read after cancel", buf, content)
}

func TestEventfdAndSync(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 6), unix.O_RDWR)
	c := testContext(t, 4)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	var a, b Iocb
	a.PrepFsync(fd)
	a.SetEventfd(efd)
	b.PrepFdsync(fd)
	b.SetEventfd(efd)
	if a.Flags != FlagResFD || a.ResFD != uint32(efd) {
		t.Fatalf("SetEventfd: %+v", a)
	}
	if n, err := c.Submit([]*Iocb{&a, &b}); n != 2 || err != nil {
		t.Fatalf("Submit fsync+fdsync: %d, %v", n, err)
	}
	for _, ev := range getAll(t, c, 2) {
		if ev.Res != 0 {
			t.Errorf("sync event res %d", ev.Res)
		}
	}
	var cnt [8]byte
	if _, err := unix.Read(efd, cnt[:]); err != nil {
		t.Fatal(err)
	}
	if cnt[0] != 2 {
		t.Errorf("eventfd count %d, want 2", cnt[0])
	}
}

func TestVectoredAndRWF(t *testing.T) {
	fd, path := testFile(t, make([]byte, 3*4096), unix.O_RDWR)
	c := testContext(t, 4)
	mem := cbuf(t, 6*4096+4096)
	w := [][]byte{mem[0:4096], mem[4096:12288]}
	copy(w[0], pattern(4096, 7))
	copy(w[1], pattern(8192, 8))
	iov := cIovecs(t, mem[6*4096:], w)
	var cb Iocb
	cb.PrepPwritev2(fd, iov, 4096, RWFDsync)
	if cb.RWFlags != RWFDsync || cb.Opcode != CmdPwritev || cb.Nbytes != 2 {
		t.Fatalf("PrepPwritev2: %+v", cb)
	}
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if ev := getAll(t, c, 1)[0]; ev.Res != 12288 {
		t.Fatalf("pwritev res %d", ev.Res)
	}
	disk, _ := os.ReadFile(path)
	mustEqual(t, "pwritev", disk[4096:], append(pattern(4096, 7), pattern(8192, 8)...))

	r := [][]byte{mem[12288:16384], mem[16384:24576]}
	iov = cIovecs(t, mem[6*4096+2048:], r)
	cb.PrepPreadv2(fd, iov, 4096, RWFHipri)
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if ev := getAll(t, c, 1)[0]; ev.Res != 12288 {
		t.Fatalf("preadv res %d", ev.Res)
	}
	mustEqual(t, "preadv", mem[12288:24576], disk[4096:])
}

// cIovecs writes an iovec array describing bufs into C memory mem.
func cIovecs(t *testing.T, mem []byte, bufs [][]byte) []unix.Iovec {
	iov := unsafeIovecs(mem, len(bufs))
	for i, b := range bufs {
		setIov(&iov[i], b)
	}
	return iov
}

func TestCallbackQueueRun(t *testing.T) {
	content := pattern(8192, 9)
	fd, _ := testFile(t, content, unix.O_RDONLY)
	c, err := QueueInit(4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.QueueRelease()
	buf := cbuf(t, 8192)
	cbs := make([]Iocb, 2)
	type call struct {
		ctx  *Context
		cb   *Iocb
		res  int64
		res2 int64
	}
	var calls []call
	for i := range cbs {
		cbs[i].PrepPread(fd, buf[i*4096:(i+1)*4096], int64(i)*4096)
		cbs[i].SetCallback(func(ctx *Context, cb *Iocb, res, res2 int64) {
			calls = append(calls, call{ctx, cb, res, res2})
		})
	}
	if n, err := c.Submit([]*Iocb{&cbs[0], &cbs[1]}); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := c.QueueRun(); n != 0 || err != nil {
		t.Fatalf("QueueRun = %d, %v", n, err)
	}
	if len(calls) != 2 {
		t.Fatalf("%d callbacks, want 2", len(calls))
	}
	seen := map[*Iocb]bool{}
	for _, cl := range calls {
		if cl.ctx != c || cl.res != 4096 || cl.res2 != 0 || (cl.cb != &cbs[0] && cl.cb != &cbs[1]) {
			t.Errorf("callback %+v", cl)
		}
		seen[cl.cb] = true
	}
	if len(seen) != 2 {
		t.Errorf("callbacks for %d distinct iocbs", len(seen))
	}
	mustEqual(t, "callback reads", buf, content)
	if n, err := c.QueueRun(); n != 0 || err != nil || len(calls) != 2 {
		t.Fatalf("second QueueRun = %d, %v, %d calls", n, err, len(calls))
	}
	// An event with a callback reaped by GetEvents instead: the callback is not called
	// (as in C); the iocb keeps it (TestCallbackLifetime).
	cbs[1].PrepPread(fd, buf[4096:], 4096)
	cbs[1].SetCallback(func(*Context, *Iocb, int64, int64) { t.Error("callback of an event reaped by GetEvents called") })
	if n, err := c.Submit([]*Iocb{&cbs[1]}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if evs := getAll(t, c, 1); evs[0].Res != 4096 || !evs[0].ObjIs(&cbs[1]) {
		t.Fatalf("GetEvents: %+v", evs[0])
	}
	cbs[1].SetCallback(nil)
	// io_fsync rejected by io_submit: EBADF, as in C.
	if n, err := c.Fsync(&cbs[0], func(*Context, *Iocb, int64, int64) {}, -1); n != 0 || !errors.Is(err, unix.EBADF) {
		t.Fatalf("Fsync(-1) = %d, %v; want EBADF", n, err)
	}
	cbs[0].SetCallback(nil)
}

// TestQueueRunNoCallback: an event QueueRun cannot call back (an iocb without
// SetCallback, whose NULL Data C's io_queue_run would call, and a copy of an iocb
// given one, whose callback is kept by the original's address) ends the run with a
// *NoCallbackError holding the event, without a crash and without losing events: the
// one before it was called back, the one after it is called by the next run.
func TestQueueRunNoCallback(t *testing.T) {
	content := pattern(4*4096, 11)
	fd, _ := testFile(t, content, unix.O_RDONLY)
	c, err := QueueInit(8)
	if err != nil {
		t.Fatal(err)
	}
	defer c.QueueRelease()
	buf := cbuf(t, 4*4096)
	cbs := make([]Iocb, 3)
	var called []*Iocb
	record := func(_ *Context, cb *Iocb, res, _ int64) {
		if res != 4096 {
			t.Errorf("callback res %d, want 4096", res)
		}
		called = append(called, cb)
	}
	for i := range cbs {
		cbs[i].PrepPread(fd, buf[i*4096:(i+1)*4096], int64(i)*4096)
	}
	cbs[0].SetCallback(record)
	cbs[2].SetCallback(record)
	// Buffered reads are done inside io_submit, one at a time: the ring holds the
	// events in submission order.
	if n, err := c.Submit([]*Iocb{&cbs[0], &cbs[1], &cbs[2]}); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	n, err := c.QueueRun()
	var nc *NoCallbackError
	if n != 0 || !errors.As(err, &nc) || !nc.Event.ObjIs(&cbs[1]) || nc.Event.Data != 0 || nc.Event.Res != 4096 {
		t.Fatalf("QueueRun over an iocb without a callback = %d, %v", n, err)
	}
	if len(called) != 1 || called[0] != &cbs[0] {
		t.Fatalf("callbacks before the stray event: %v, want cbs[0]", called)
	}
	if n, err := c.QueueRun(); n != 0 || err != nil || len(called) != 2 || called[1] != &cbs[2] {
		t.Fatalf("next QueueRun = %d, %v, callbacks %v", n, err, called)
	}
	mustEqual(t, "reads", buf[:3*4096], content[:3*4096])

	// A copy of an iocb given a callback: Data names the trampoline, but the callback
	// is kept by the original's address.
	cbs[0].PrepPread(fd, buf[3*4096:], 3*4096)
	cbs[0].SetCallback(record)
	cp := new(Iocb)
	*cp = cbs[0]
	if n, err := c.Submit([]*Iocb{cp}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	n, err = c.QueueRun()
	if n != 0 || !errors.As(err, &nc) || !nc.Event.ObjIs(cp) || nc.Event.Data != cbs[0].Data || nc.Event.Res != 4096 {
		t.Fatalf("QueueRun over a copied iocb = %d, %v", n, err)
	}
	if len(called) != 2 {
		t.Errorf("the copy's event called a callback: %v", called)
	}
	if n, err := c.QueueRun(); n != 0 || err != nil {
		t.Fatalf("QueueRun on the drained ring = %d, %v", n, err)
	}
	cbs[0].SetCallback(nil)
	mustEqual(t, "read of the copy", buf[3*4096:], content[3*4096:])
}

// io_destroy waits for the requests in flight: when Destroy returns, the O_DIRECT reads
// submitted just before it have written their buffers (so freeing them is safe). An
// attempt in which every read had completed before Destroy shows nothing: up to 5 are
// made, and the test fails if none had reads still in flight.
func TestDestroyWaitsForInFlight(t *testing.T) {
	const n, size = 16, 64 << 10
	content := pattern(n*size, 24)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	bufs := cbuf(t, n*size)
	cbs := unsafeIocbs(cbuf(t, n*SizeofIocb), n)
	ptrs := make([]*Iocb, n)
	evs := make([]Event, n)
	var pendings []int
	for attempt := 0; attempt < 5; attempt++ {
		c, err := Setup(n)
		if err != nil {
			t.Fatal(err)
		}
		clear(bufs)
		// Drop the file's cached pages (clean after the write-back) so the device is read.
		unix.Fdatasync(fd)
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		for i := range cbs {
			cbs[i].PrepPread(fd, bufs[i*size:(i+1)*size], int64(i*size))
			ptrs[i] = &cbs[i]
		}
		if got, err := c.Submit(ptrs); got != n || err != nil {
			c.Destroy()
			t.Fatalf("Submit: %d, %v", got, err)
		}
		ready, err := c.GetEvents(0, evs, &unix.Timespec{})
		if err != nil {
			c.Destroy()
			t.Fatal(err)
		}
		if err := c.Destroy(); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "buffers when Destroy returned", bufs, content)
		pendings = append(pendings, n-ready)
		if ready < n {
			t.Logf("%d of %d reads were still in flight when Destroy was called (attempts: %v)", n-ready, n, pendings)
			return
		}
	}
	t.Fatalf("every O_DIRECT read had completed before Destroy, in each attempt (pending: %v)", pendings)
}

// Reads of a pipe are not asynchronous: the kernel runs them inside io_submit, which
// blocks until data arrives on a descriptor without O_NONBLOCK; a signal to the blocked
// thread ends the read with EINTR in the event (io_submit still counts it). With
// O_NONBLOCK io_submit returns at once and the event carries EAGAIN.
func TestPipeReadInsideSubmit(t *testing.T) {
	c := testContext(t, 4)
	r, w := pipe(t)
	buf := cbuf(t, 4096)
	submit := func() (int, error) {
		var cb Iocb
		cb.PrepPread(r, buf[:16], 0)
		return c.Submit([]*Iocb{&cb})
	}

	// Go's runtime may send the thread a SIGURG while io_submit waits (see below): an
	// attempt whose read ended with EINTR is repeated, up to 5 times.
	for attempt := 1; ; attempt++ {
		var written atomic.Bool
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			time.Sleep(50 * time.Millisecond)
			written.Store(true)
			unix.Write(w, []byte("x"))
		}()
		if n, err := submit(); n != 1 || err != nil {
			t.Fatalf("Submit(pipe read) = %d, %v", n, err)
		}
		early := !written.Load()
		ev := getAll(t, c, 1)[0]
		if ev.Res == -int64(unix.EINTR) && attempt < 5 {
			t.Logf("attempt %d: a signal interrupted the blocking pipe read", attempt)
			<-wrote
			unix.Read(r, make([]byte, 1)) // the byte that read did not take
			continue
		}
		if early {
			t.Errorf("io_submit of a blocking pipe read returned before anything was written")
		}
		if ev.Res != 1 {
			t.Errorf("pipe read event res %d, want 1", ev.Res)
		}
		break
	}

	// A signal while io_submit waits in pipe_read: EINTR in the event.
	tidc := make(chan int, 1)
	resc := make(chan error, 1)
	go func() {
		lockThread()
		defer unlockThread()
		tidc <- unix.Gettid()
		n, err := submit()
		if n != 1 && err == nil {
			err = fmt.Errorf("io_submit counted %d", n)
		}
		resc <- err
	}()
	tid := <-tidc
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-resc:
			if err != nil {
				t.Fatalf("Submit(pipe read) under signals: %v", err)
			}
			break wait
		case <-tick.C:
			unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
		}
	}
	if ev := getAll(t, c, 1)[0]; ev.Res != -int64(unix.EINTR) {
		t.Errorf("interrupted pipe read: event res %d, want -EINTR", ev.Res)
	}

	if err := unix.SetNonblock(r, true); err != nil {
		t.Fatal(err)
	}
	if n, err := submit(); n != 1 || err != nil {
		t.Fatalf("Submit(non-blocking pipe read) = %d, %v", n, err)
	}
	ev := make([]Event, 1)
	if k, err := c.GetEvents(0, ev, &unix.Timespec{}); k != 1 || err != nil || ev[0].Res != -int64(unix.EAGAIN) {
		t.Errorf("non-blocking empty pipe: %d events (%v), res %d; want the EAGAIN event in the ring when io_submit returns", k, err, ev[0].Res)
	}
}

// GetEvents yields to the Go scheduler before a wait (at most every yieldEvery), and
// never before a call that cannot wait.
func TestGetEventsYieldsBeforeWaiting(t *testing.T) {
	c := testContext(t, 4)
	evs := make([]Event, 1)
	for _, minNr := range []int{0, 1} {
		if _, err := c.GetEvents(minNr, evs, &unix.Timespec{}); err != nil {
			t.Fatal(err)
		}
	}
	ms := unix.NsecToTimespec(1e6)
	if _, err := c.GetEvents(0, evs, &ms); err != nil {
		t.Fatal(err)
	}
	if c.yield.Last() != 0 {
		t.Fatalf("a GetEvents that cannot wait yielded")
	}
	for {
		if _, err := c.GetEvents(1, evs, &ms); err != unix.EINTR {
			break
		}
	}
	first := c.yield.Last()
	if first == 0 {
		t.Fatalf("GetEvents(1, 1ms) did not yield")
	}
	if _, err := c.PGetEvents(1, evs, &ms, nil); err != nil && err != unix.EINTR {
		t.Fatal(err)
	}
	if last := c.yield.Last(); last != first && time.Duration(last-first) < schedyield.Every {
		t.Errorf("yielded again after %v, less than %v", time.Duration(last-first), schedyield.Every)
	}
}
