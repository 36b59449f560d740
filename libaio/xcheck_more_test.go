package libaio

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// TestXcheckMore repeats testdata/c/libaio_xcheck_more.c: io_queue_run with callbacks,
// io_poll, io_queue_wait, io_pgetevents, RWF_* flags, poll masks and io_set_eventfd.
//
// Go counterparts of what the C program calls that the package does not bind:
// io_queue_wait, commented out in libaio.h, is io_getevents(ctx, 0, 0, NULL, timeout) in
// libaio.so.1, so it is GetEvents(0, nil, timeout) here; a NULL io_context_t and one
// that points at memory holding no ring are Contexts made by rawContext (C reaches the
// kernel with both, which answers EINVAL; a destroyed Context gives ErrClosed instead,
// where C would fault on the unmapped ring: see Destroy). dlsym of io_queue_wait and
// io_queue_grow is a look at the dynamic symbols of the libaio.so mapped into the test.
func TestXcheckMore(t *testing.T) {
	testutil.CheckLeaks(t)
	path := xcFile(t)
	x := &xcMore{xc: xc{t: t}}
	fd := xcOpen(t, path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
	p, q, w := xcPipe(t), xcPipe(t), xcPipe(t)
	buf, rd, fake := cbuf(t, 8192), cbuf(t, 8192), cbuf(t, 4096)
	x.cbs = unsafeIocbs(cbuf(t, 16*SizeofIocb), 16)
	t.Cleanup(func() { // before the C memory goes: no callback entry left for its addresses
		for i := range x.cbs {
			x.cbs[i].dropCallback()
		}
	})
	for i := range buf {
		buf[i] = 'x'
	}
	if n, err := unix.Pwrite(fd, buf, 0); n != len(buf) || err != nil {
		t.Fatalf("pwrite: %d, %v", n, err)
	}
	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	dfd := xcOpen(t, path, unix.O_RDONLY|unix.O_DIRECT)
	afd := xcOpen(t, path, unix.O_WRONLY|unix.O_APPEND)
	nullCtx, fakeCtx := rawContext(nil), rawContext(unsafe.Pointer(&fake[0]))
	// io_queue_wait is io_getevents(ctx, 0, 0, NULL, ts): a signal pending
	// when the kernel looks gives EINTR even with nothing to wait for, and
	// Go's runtime sends SIGURG at any time (the C program gets none): retry.
	queueWait := func(c *Context, ts *unix.Timespec) (int, error) {
		for {
			if n, err := c.GetEvents(0, nil, ts); err != unix.EINTR {
				return n, err
			}
		}
	}
	ts200, ts60, ts20 := unix.NsecToTimespec(200e6), unix.NsecToTimespec(60e6), unix.NsecToTimespec(20e6)
	ts5, zero := unix.NsecToTimespec(5e9), unix.Timespec{}
	ev := make([]Event, 1)
	evs := make([]Event, 4)
	cbs := x.cbs
	var n int
	var err error

	// io_queue_run and callbacks.
	x.setup("io_queue_init", 8, true)
	n, err = x.ctx.QueueRun()
	x.tr.Add("io_queue_run_empty", n, err)
	x.flushCalls()
	n, err = nullCtx.QueueRun()
	x.tr.Add("io_queue_run_null_ctx", n, err)
	n, err = fakeCtx.QueueRun()
	x.tr.Add("io_queue_run_not_a_ring", n, err)

	cbs[0].PrepPread(fd, rd[:4096], 0)
	cbs[1].PrepPread(fd, rd[4096:], 6144)
	cbs[2].PrepPwrite(fd, buf[:100], 8192)
	cbs[3].PrepPread(fd, nil, 0)
	cbs[3].Nbytes = 16 // a read of 16 bytes into address 0
	four := []*Iocb{&cbs[0], &cbs[1], &cbs[2], &cbs[3]}
	for _, cb := range four {
		cb.SetCallback(x.onDone)
	}
	n, err = x.ctx.Submit(four)
	x.tr.Add("submit_callbacks", n, err)
	n, err = x.ctx.QueueRun()
	x.tr.Add("io_queue_run", n, err)
	x.flushCalls()
	n, err = x.ctx.QueueRun()
	x.tr.Add("io_queue_run_again", n, err)
	x.flushCalls()

	n, err = x.ctx.Poll(&cbs[4], x.onDone, p[0], unix.POLLIN)
	x.tr.Add("io_poll_pipe_in", n, err)
	n, err = x.ctx.QueueRun()
	x.tr.Add("io_queue_run_not_ready", n, err)
	x.flushCalls()
	n, err = unix.Write(p[1], []byte("ab"))
	x.tr.Add("write_pipe", n, err)
	x.runUntil("io_queue_run_ready", 1)
	n, err = unix.Read(p[0], rd[:2])
	x.tr.Add("read_pipe", n, err)
	n, err = x.ctx.Poll(&cbs[5], x.onDone, p[1], unix.POLLOUT)
	x.tr.Add("io_poll_pipe_out", n, err)
	x.runUntil("io_queue_run_out", 1)

	// io_queue_wait.
	start := time.Now()
	n, err = queueWait(x.ctx, &ts200)
	x.tr.Add("io_queue_wait_empty", n, err)
	x.tr.Add("io_queue_wait_empty_waited", b2i(time.Since(start) >= 100*time.Millisecond), nil)
	n, err = x.ctx.Poll(&cbs[6], x.onDone, p[0], unix.POLLIN)
	x.tr.Add("io_poll_pending", n, err)
	start = time.Now()
	n, err = queueWait(x.ctx, &ts200)
	x.tr.Add("io_queue_wait_pending", n, err)
	x.tr.Add("io_queue_wait_pending_waited", b2i(time.Since(start) >= 100*time.Millisecond), nil)
	x.tr.Add("io_cancel_pending", 0, x.ctx.Cancel(&cbs[6], &ev[0]))
	x.runUntil("io_queue_run_cancelled", 1)
	cbs[7].PrepPread(fd, rd[:10], 0)
	cbs[7].SetCallback(x.onDone)
	n, err = x.ctx.Submit([]*Iocb{&cbs[7]})
	x.tr.Add("submit_read", n, err)
	n, err = queueWait(x.ctx, nil)
	x.tr.Add("io_queue_wait_event_null_timeout", n, err)
	n, err = queueWait(x.ctx, &zero)
	x.tr.Add("io_queue_wait_event_zero_timeout", n, err)
	n, err = x.ctx.QueueRun()
	x.tr.Add("io_queue_run_after_wait", n, err)
	x.flushCalls()
	n, err = queueWait(nullCtx, &ts200)
	x.tr.Add("io_queue_wait_null_ctx", n, err)
	n, err = queueWait(fakeCtx, &ts200)
	x.tr.Add("io_queue_wait_not_a_ring", n, err)
	syms := libaioExports(t)
	x.tr.Add("io_queue_wait_exported", b2i(syms["io_queue_wait"]), nil)
	x.tr.Add("io_queue_grow_exported", b2i(syms["io_queue_grow"]), nil)
	x.tr.Add("io_queue_release", 0, x.ctx.QueueRelease())

	// io_pgetevents.
	x.setup("io_setup", 8, false)
	defer func() {
		if t.Failed() {
			x.ctx.Destroy() // ErrClosed after the scenario's own io_destroy
		}
	}()
	var mask, empty unix.Sigset_t
	sigAdd(&mask, unix.SIGUSR1)
	sigAdd(&mask, unix.SIGURG)
	start = time.Now()
	for {
		if n, err = x.ctx.PGetEvents(1, ev, &ts60, &mask); err != unix.EINTR {
			break
		}
	}
	x.tr.Add("pgetevents_timeout", n, err)
	x.tr.Add("pgetevents_timeout_waited", b2i(time.Since(start) >= 50*time.Millisecond), nil)
	cb := &cbs[8]
	cb.PrepPread(fd, rd[:4096], 0)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_read", n, err)
	n, err = x.ctx.PGetEvents(1, ev, &ts5, &mask)
	x.tr.Add("pgetevents_event", n, err)
	x.tr.AddNeg("event_res", ev[0].Res)
	cb.PrepPread(fd, rd[:1000], 0)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_read", n, err)
	n, err = x.ctx.PGetEvents(1, evs, &ts5, nil)
	x.tr.Add("pgetevents_no_sigmask", n, err)
	x.tr.AddNeg("event_res", evs[0].Res)
	n, err = x.ctx.PGetEvents(2, ev, &ts60, &mask)
	x.tr.Add("pgetevents_min_gt_nr", n, err)
	n, err = x.ctx.PGetEvents(2, ev, &zero, &mask)
	x.tr.Add("pgetevents_min_gt_nr_zero_timeout", n, err)
	n, err = x.ctx.PGetEvents(-1, ev, &ts60, &mask)
	x.tr.Add("pgetevents_min_negative", n, err)
	n, err = nullCtx.PGetEvents(1, ev, &ts20, &mask)
	x.tr.Add("pgetevents_null_ctx", n, err)
	n, err = fakeCtx.PGetEvents(1, ev, &ts5, &mask)
	x.tr.Add("pgetevents_not_a_ring", n, err)
	x.signals(&mask, &empty, &ts60, &ts5)

	// RWF_* flags.
	cb = &cbs[9]
	v := unsafeIovecs(cbuf(t, 4096), 2)
	setIov(&v[0], buf[:50])
	cb.PrepPwritev2(fd, v[:1], 0, RWFAppend)
	x.rwf("pwritev2_append", cb)
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	x.tr.Add("size_after_append", int(st.Size), nil)
	n, err = unix.Pread(fd, rd[:1], 0)
	x.tr.Add("pread_first", n, err)
	x.tr.Add("first_byte", int(rd[0]), nil)
	n, err = unix.Pread(fd, rd[:1], 8292)
	x.tr.Add("pread_appended", n, err)
	x.tr.Add("appended_byte", int(rd[0]), nil)
	setIov(&v[0], buf[1:11])
	cb.PrepPwritev2(afd, v[:1], 0, RWFNoappend)
	x.rwf("pwritev2_noappend", cb)
	unix.Fstat(fd, &st)
	x.tr.Add("size_after_noappend", int(st.Size), nil)
	n, err = unix.Pread(fd, rd[:1], 0)
	x.tr.Add("pread_first", n, err)
	x.tr.Add("first_byte", int(rd[0]), nil)
	setIov(&v[0], buf[:20])
	for _, c := range []struct {
		op    string
		flags int
	}{{"pwritev2_sync", RWFSync}, {"pwritev2_nowait", RWFNowait}, {"pwritev2_atomic", RWFAtomic}, {"pwritev2_unknown", 1 << 30}} {
		cb.PrepPwritev2(fd, v[:1], 100, c.flags)
		x.rwf(c.op, cb)
	}
	setIov(&v[0], rd[:4096])
	cb.PrepPreadv2(fd, v[:1], 0, RWFNowait)
	x.rwf("preadv2_nowait_cached", cb)
	cb.PrepPreadv2(fd, v[:1], 0, RWFHipri)
	x.rwf("preadv2_hipri", cb)
	cb.PrepPreadv2(dfd, v[:1], 4096, RWFHipri)
	x.rwf("preadv2_hipri_direct", cb)
	setIov(&v[1], rd[4096:4103])
	cb.PrepPreadv2(fd, v, 4000, RWFNowait|RWFHipri)
	x.rwf("preadv2_nowait_hipri_two", cb)
	for _, c := range []struct {
		op    string
		flags int
	}{{"preadv2_append", RWFAppend}, {"preadv2_atomic", RWFAtomic}, {"preadv2_unknown", 1 << 30}} {
		cb.PrepPreadv2(fd, v[:1], 0, c.flags)
		x.rwf(c.op, cb)
	}
	cb.PrepPreadv2(p[0], v[:1], 0, RWFNowait)
	x.rwf("preadv2_nowait_empty_pipe", cb)
	n, err = unix.Write(p[1], []byte("hello"))
	x.tr.Add("write_pipe", n, err)
	cb.PrepPreadv2(p[0], v[:1], 0, RWFNowait)
	x.rwf("preadv2_nowait_pipe", cb)
	setIov(&v[0], buf[:3])
	cb.PrepPwritev2(p[1], v[:1], 0, RWFNowait)
	x.rwf("pwritev2_nowait_pipe", cb)
	n, err = unix.Read(p[0], rd[:3])
	x.tr.Add("read_pipe", n, err)

	// io_prep_poll masks.
	cb = &cbs[10]
	n, err = unix.Write(q[1], []byte("z"))
	x.tr.Add("write_pipe", n, err)
	for _, c := range []struct {
		op     string
		fd     int
		events int16
	}{
		{"poll_in", q[0], unix.POLLIN},
		{"poll_in_rdnorm", q[0], unix.POLLIN | pollRdnorm},
		{"poll_in_pri_out", q[0], unix.POLLIN | unix.POLLPRI | unix.POLLOUT},
		{"poll_out", q[1], unix.POLLOUT},
		{"poll_out_wrnorm", q[1], unix.POLLOUT | pollWrnorm},
		{"poll_in_out_write_end", q[1], unix.POLLIN | unix.POLLOUT},
	} {
		cb.PrepPoll(c.fd, c.events)
		x.poll1(c.op, cb)
	}
	cb.PrepPoll(q[0], unix.POLLOUT|unix.POLLPRI)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_poll_never", n, err)
	n, err = x.ctx.GetEvents(0, ev, &zero)
	x.tr.Add("getevents_not_ready", n, err)
	x.tr.Add("cancel_poll_never", 0, x.ctx.Cancel(cb, &ev[0]))
	x.tr.AddNeg("poll_never", x.get1())
	xcClose(&q[1])
	cb.PrepPoll(q[0], unix.POLLIN)
	x.poll1("poll_in_data_hup", cb)
	n, err = unix.Read(q[0], rd[:1])
	x.tr.Add("read_pipe", n, err)
	cb.PrepPoll(q[0], unix.POLLIN)
	x.poll1("poll_in_hup", cb)
	cb.PrepPoll(q[0], 0)
	x.poll1("poll_nothing_hup", cb)
	xcClose(&w[0])
	cb.PrepPoll(w[1], unix.POLLOUT)
	x.poll1("poll_out_no_reader", cb)
	cb.PrepPoll(w[1], unix.POLLIN)
	x.poll1("poll_in_no_reader", cb)

	// io_set_eventfd.
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	three := []*Iocb{&cbs[11], &cbs[12], &cbs[13]}
	for i, cb := range three {
		cb.PrepPread(fd, rd[i*100:(i+1)*100], int64(i)*100)
		cb.SetEventfd(efd)
	}
	n, err = x.ctx.Submit(three)
	x.tr.Add("submit_eventfd_3", n, err)
	for range three {
		x.tr.AddNeg("event", x.get1())
	}
	cb = &cbs[14]
	cb.PrepPread(fd, nil, 0)
	cb.Nbytes = 16
	cb.SetEventfd(efd)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_eventfd_efault", n, err)
	x.tr.AddNeg("event", x.get1())
	cb.PrepPread(fd, rd[:16], 1<<20)
	cb.SetEventfd(efd)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_eventfd_eof", n, err)
	x.tr.AddNeg("event", x.get1())
	x.eventfd("eventfd_count", efd)
	x.eventfd("eventfd_again", efd)
	cb.PrepPread(fd, rd[:16], -1)
	cb.SetEventfd(efd)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_eventfd_rejected", n, err)
	x.eventfd("eventfd_after_rejected", efd)
	cb.PrepPoll(p[0], unix.POLLIN)
	cb.SetEventfd(efd)
	n, err = x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_eventfd_poll", n, err)
	x.eventfd("eventfd_poll_pending", efd)
	x.tr.Add("cancel_eventfd_poll", 0, x.ctx.Cancel(cb, &ev[0]))
	x.tr.AddNeg("event", x.get1())
	x.eventfd("eventfd_poll_cancelled", efd)
	x.tr.Add("io_destroy", 0, x.ctx.Destroy())

	xcheck.RunScenario(t, "libaio_xcheck_more", &x.tr, xcFile(t))
}

// xcMore is xc with the iocbs of the scenario (C memory: callbacks name them by index)
// and the callbacks QueueRun made since the last flushCalls.
type xcMore struct {
	xc
	cbs   []Iocb
	calls []xcCall
}

type xcCall struct{ idx, res, res2 int64 }

func (x *xcMore) onDone(_ *Context, cb *Iocb, res, res2 int64) {
	idx := int64((uintptr(unsafe.Pointer(cb)) - uintptr(unsafe.Pointer(&x.cbs[0]))) / uintptr(SizeofIocb))
	x.calls = append(x.calls, xcCall{idx, res, res2})
}

func (x *xcMore) flushCalls() {
	x.tr.Linef("callbacks n=%d", len(x.calls))
	for _, c := range x.calls {
		x.tr.Linef("callback idx=%d res=%d res2=%d", c.idx, c.res, c.res2)
	}
	x.calls = x.calls[:0]
}

// runUntil runs QueueRun until want callbacks ran (an event completed by a wake-up or a
// kernel worker reaches the ring a little later), for up to 10s, and traces the last
// result and the callbacks.
func (x *xcMore) runUntil(op string, want int) {
	deadline := time.Now().Add(10 * time.Second)
	var n int
	var err error
	for {
		n, err = x.ctx.QueueRun()
		if err != nil && err != unix.EINTR || len(x.calls) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	x.tr.Add(op, n, err)
	x.flushCalls()
}

// rwf submits cb alone and traces io_submit's result and the event's res as numbers
// (-95 is EOPNOTSUPP to C and ENOTSUP to Go's unix.ErrnoName).
func (x *xcMore) rwf(op string, cb *Iocb) {
	n, err := x.ctx.Submit([]*Iocb{cb})
	r := int64(n)
	var errno unix.Errno
	if errors.As(err, &errno) {
		r = -int64(errno)
	}
	var res int64
	if r == 1 {
		res = x.get1()
	}
	x.tr.Linef("%s submit=%d res=%d", op, r, res)
}

// poll1 submits cb alone (traced as submit_<op>) and traces its event's res as op.
func (x *xcMore) poll1(op string, cb *Iocb) {
	n, err := x.ctx.Submit([]*Iocb{cb})
	x.tr.Add("submit_"+op, n, err)
	if n == 1 {
		x.tr.AddNeg(op, x.get1())
	}
}

// eventfd traces the counter read from efd (which resets it), or the read's errno.
func (x *xcMore) eventfd(op string, efd int) {
	var b [8]byte
	n, err := unix.Read(efd, b[:])
	if err == nil && n == len(b) {
		x.tr.Add(op, int(binary.NativeEndian.Uint64(b[:])), nil)
		return
	}
	if err == nil {
		err = unix.EIO
	}
	x.tr.Add(op, -1, err)
}

// signals is the scenario's SIGUSR1 part, on one locked thread: the signal is blocked
// there and sent to it, stays pending through a PGetEvents whose sigmask blocks it too,
// and is let in by one with an empty sigmask, which returns EINTR. Go's handler takes
// it (signal.Notify) where C's handler counts it.
func (x *xcMore) signals(mask, empty *unix.Sigset_t, short, long *unix.Timespec) {
	got := make(chan os.Signal, 4)
	signal.Notify(got, unix.SIGUSR1)
	defer signal.Stop(got)
	handled := 0
	poll := func(wait time.Duration) {
		select {
		case <-got:
			handled++
		case <-time.After(wait):
		}
	}
	ev := make([]Event, 1)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, mask, &old); err != nil {
		x.t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGUSR1); err != nil {
		x.t.Fatal(err)
	}
	x.tr.Add("sigusr1_pending", b2i(sigPendingHas(x.t, unix.SIGUSR1)), nil)
	var n int
	var err error
	for {
		n, err = x.ctx.PGetEvents(1, ev, short, mask)
		if err != unix.EINTR {
			break
		}
		if poll(0); handled != 0 {
			break
		}
	}
	x.tr.Add("pgetevents_signal_masked", n, err)
	poll(0)
	x.tr.Add("sigusr1_handled", handled, nil)
	n, err = x.ctx.PGetEvents(1, ev, long, empty)
	x.tr.Add("pgetevents_signal_let_in", n, err)
	if handled == 0 {
		poll(5 * time.Second) // Go's signal goroutine forwards it
	}
	x.tr.Add("sigusr1_handled", handled, nil)
	x.tr.Add("sigusr1_pending", b2i(sigPendingHas(x.t, unix.SIGUSR1)), nil)
}

// POLLRDNORM and POLLWRNORM of <poll.h> (x/sys/unix does not spell them).
const (
	pollRdnorm = 0x40
	pollWrnorm = 0x100
)

func sigAdd(s *unix.Sigset_t, sig unix.Signal) {
	s.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
}

// sigPendingHas reports whether sig is pending for the calling thread or the process.
func sigPendingHas(t testing.TB, sig unix.Signal) bool {
	var s unix.Sigset_t
	if _, _, e := unix.RawSyscall(unix.SYS_RT_SIGPENDING, uintptr(unsafe.Pointer(&s)), 8, 0); e != 0 {
		t.Fatalf("rt_sigpending: %v", e)
	}
	return s.Val[(sig-1)/64]&(1<<((uint(sig)-1)%64)) != 0
}

// rawContext returns a Context on the io_context_t p, which no io_setup made (nil, or
// memory that holds no ring): for the calls that give such a context to the kernel.
func rawContext(p unsafe.Pointer) *Context {
	c := &Context{idle: make(chan struct{}, 1)}
	*(*unsafe.Pointer)(unsafe.Pointer(&c.ctx)) = p
	return c
}

// libaioExports returns the names of the dynamic symbols of the libaio.so mapped into
// this process (what dlsym finds).
func libaioExports(t testing.TB) map[string]bool {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		i := strings.IndexByte(line, '/')
		if i < 0 || !strings.HasPrefix(filepath.Base(line[i:]), "libaio.so") {
			continue
		}
		f, err := elf.Open(line[i:])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		syms, err := f.DynamicSymbols()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, s := range syms {
			if s.Section != elf.SHN_UNDEF {
				names[s.Name] = true
			}
		}
		return names
	}
	t.Fatal("no libaio.so mapped into the test binary")
	return nil
}

func xcOpen(t testing.TB, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// xcPipe returns a pipe whose ends are closed at cleanup unless xcClose closed them.
func xcPipe(t testing.TB) *[2]int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, fd := range p {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	})
	return &p
}

// xcClose closes *fd and marks it closed for xcPipe's cleanup.
func xcClose(fd *int) {
	unix.Close(*fd)
	*fd = -1
}

// TestPGetEventsRefused: io_pgetevents refused as a kernel before Linux 4.18 (ENOSYS)
// or a seccomp profile without it (EPERM) refuses it, on the calling thread.
// PGetEvents returns the errno, as libaio's io_pgetevents does (it has no fallback to
// io_getevents), for a short and a sliced wait, with a sigmask or without; a zero
// timeout on an empty ring still returns 0, answered in user space by libaio without a
// system call; with an event in the ring it is refused too, and leaves the event for
// GetEvents, which works.
func TestPGetEventsRefused(t *testing.T) {
	c := testContext(t, 4)
	fd, _ := testFile(t, pattern(4096, 9), unix.O_RDONLY)
	buf := cbuf(t, 4096)
	cb := &unsafeIocbs(cbuf(t, SizeofIocb), 1)[0]
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		testutil.OnFilteredThread(t, deny(unix.SYS_IO_PGETEVENTS, errno), func() {
			ev := make([]Event, 1)
			var mask unix.Sigset_t
			sigAdd(&mask, unix.SIGURG)
			short, long, zero := unix.NsecToTimespec(20e6), unix.NsecToTimespec(5e9), unix.Timespec{}
			check := func(what string, n int, err error, wantN int, wantErr error) {
				if n != wantN || err != wantErr {
					t.Errorf("io_pgetevents refused (%v): %s = %d, %v; want %d, %v", errno, what, n, err, wantN, wantErr)
				}
			}
			n, err := c.PGetEvents(1, ev, &short, &mask)
			check("PGetEvents(1, 20ms, mask)", n, err, 0, errno)
			start := time.Now()
			n, err = c.PGetEvents(1, ev, &long, nil)
			check("PGetEvents(1, 5s, nil)", n, err, 0, errno)
			if el := time.Since(start); el > time.Second {
				t.Errorf("io_pgetevents refused (%v): the sliced PGetEvents took %v to fail", errno, el)
			}
			n, err = c.PGetEvents(0, ev, &zero, &mask)
			check("PGetEvents(0, zero timeout) on an empty ring", n, err, 0, nil)
			cb.PrepPread(fd, buf, 0)
			if n, err := c.Submit([]*Iocb{cb}); n != 1 {
				t.Errorf("Submit: %d, %v", n, err)
				return
			}
			n, err = c.PGetEvents(0, ev, &zero, &mask)
			check("PGetEvents(0, zero timeout) with an event in the ring", n, err, 0, errno)
			for {
				n, err = c.GetEvents(1, ev, &long)
				if err != unix.EINTR {
					break
				}
			}
			if check("GetEvents(1, 5s)", n, err, 1, nil); n == 1 && ev[0].Res != 4096 {
				t.Errorf("io_pgetevents refused (%v): the read's event res %d, want 4096", errno, ev[0].Res)
			}
		})
	}
}
