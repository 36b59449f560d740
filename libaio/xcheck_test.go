package libaio

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// The Go scenarios below repeat testdata/c/libaio_xcheck_*.c step by step through the
// raw layer, on the same kind of file, and their traces must match line for line.

type xc struct {
	t   *testing.T
	tr  xcheck.Trace
	ctx *Context
}

func (x *xc) get1() int64 {
	ev := make([]Event, 1)
	ts := unix.NsecToTimespec(5e9)
	for {
		n, err := x.ctx.GetEvents(1, ev, &ts)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 1 {
			return -int64(unix.ETIME)
		}
		return ev[0].Res
	}
}

// run1 submits cb alone (traced as op) and returns its event's res or -errno.
func (x *xc) run1(op string, cb *Iocb) int64 {
	n, err := x.ctx.Submit([]*Iocb{cb})
	x.tr.Add(op, n, err)
	if err != nil {
		return -int64(err.(unix.Errno))
	}
	return x.get1()
}

func (x *xc) setup(op string, n int, queue bool) {
	var err error
	if queue {
		x.ctx, err = QueueInit(n)
	} else {
		x.ctx, err = Setup(n)
	}
	x.tr.Add(op, 0, err)
	if err != nil {
		x.t.Fatal(err)
	}
}

func xcFile(t *testing.T) string { return filepath.Join(testutil.TempDir(t), "data") }

func TestXcheckRW(t *testing.T) {
	testutil.CheckLeaks(t)
	path := xcFile(t)
	x := &xc{t: t}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dfd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	buf, rd := cbuf(t, 16384), cbuf(t, 16384)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	iovMem := cbuf(t, 4096)
	x.setup("io_setup", 8, false)
	var cb Iocb

	cb.PrepPwrite(dfd, buf[:8192], 0)
	x.tr.AddNeg("direct_write", x.run1("submit", &cb))
	cb.PrepFsync(dfd)
	x.tr.AddNeg("fsync", x.run1("submit", &cb))
	cb.PrepFdsync(dfd)
	x.tr.AddNeg("fdsync", x.run1("submit", &cb))
	cb.PrepPread(dfd, rd[:8192], 0)
	x.tr.AddNeg("direct_read", x.run1("submit", &cb))
	x.tr.Add("compare", b2i(!bytes.Equal(buf[:8192], rd[:8192])), nil)

	cb.PrepPwrite(fd, buf[:100], 8192)
	x.tr.AddNeg("buffered_write", x.run1("submit", &cb))
	cb.PrepPread(dfd, rd[:8192], 4096)
	x.tr.AddNeg("direct_read_eof", x.run1("submit", &cb))
	cb.PrepPread(fd, rd[:4096], 8192)
	x.tr.AddNeg("buffered_read_eof", x.run1("submit", &cb))
	cb.PrepPread(dfd, rd[:4096], 1<<20)
	x.tr.AddNeg("read_past_eof", x.run1("submit", &cb))

	v := unsafeIovecs(iovMem, 2)
	setIov(&v[0], buf[4096:4099])
	setIov(&v[1], buf[8192:8197])
	cb.PrepPwritev(fd, v, 20000)
	x.tr.AddNeg("pwritev", x.run1("submit", &cb))
	setIov(&v[0], rd[:5])
	setIov(&v[1], rd[100:110])
	cb.PrepPreadv(fd, v, 20000)
	x.tr.AddNeg("preadv", x.run1("submit", &cb))
	bad := !bytes.Equal(rd[:3], buf[4096:4099]) || !bytes.Equal(rd[3:5], buf[8192:8194]) || !bytes.Equal(rd[100:103], buf[8194:8197])
	x.tr.Add("compare", b2i(bad), nil)
	setIov(&v[0], buf[:4096])
	cb.PrepPwritev2(dfd, v[:1], 12288, RWFDsync)
	x.tr.AddNeg("pwritev2_dsync", x.run1("submit", &cb))
	cb.PrepPreadv2(dfd, v[:1], 12288, 0)
	x.tr.AddNeg("preadv2", x.run1("submit", &cb))

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	cbs := make([]Iocb, 4)
	ptrs := make([]*Iocb, 4)
	for i := range cbs {
		cbs[i].PrepPread(dfd, rd[i*4096:(i+1)*4096], int64(i)*4096)
		cbs[i].SetEventfd(efd)
		cbs[i].Data = uint64(i + 1)
		ptrs[i] = &cbs[i]
	}
	n, err := x.ctx.Submit(ptrs)
	x.tr.Add("submit_batch", n, err)
	var sum int64
	for _, ev := range getAll(t, x.ctx, 4) {
		sum += int64(ev.Data)*1000 + ev.Res
	}
	x.tr.Add("batch_events", int(sum), nil)
	var cnt [8]byte
	if k, err := unix.Read(efd, cnt[:]); err != nil || k != 8 {
		x.tr.Add("eventfd", -1, nil)
	} else {
		x.tr.Add("eventfd", int(binary.NativeEndian.Uint64(cnt[:])), nil)
	}
	x.tr.Add("io_destroy", 0, x.ctx.Destroy())

	xcheck.RunScenario(t, "libaio_xcheck_rw", &x.tr, xcFile(t))
}

func setIov(v *unix.Iovec, b []byte) {
	v.Base = &b[0]
	v.SetLen(len(b))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestXcheckErr(t *testing.T) {
	testutil.CheckLeaks(t)
	path := xcFile(t)
	x := &xc{t: t}
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(flags int) int {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	fd, ro, dfd := open(unix.O_RDWR), open(unix.O_RDONLY), open(unix.O_RDONLY|unix.O_DIRECT)
	closed, _ := unix.Dup(fd)
	unix.Close(closed)
	buf := cbuf(t, 8192)
	raw, err := os.ReadFile("/proc/sys/fs/aio-max-nr")
	if err != nil {
		t.Fatal(err)
	}
	maxnr, _ := strconv.Atoi(strings.TrimSpace(string(raw)))

	_, err = Setup(0)
	x.tr.Add("io_setup_0", 0, err)
	_, err = Setup(maxnr + 1)
	x.tr.Add("io_setup_over_max", 0, err)
	_, err = QueueInit(0)
	x.tr.Add("io_queue_init_0", 0, err)
	x.setup("io_setup", 4, false)

	submit1 := func(op string, prep func(cb *Iocb)) {
		var cb Iocb
		prep(&cb)
		n, err := x.ctx.Submit([]*Iocb{&cb})
		x.tr.Add(op, n, err)
		if n == 1 {
			x.tr.AddNeg("event", x.get1())
		}
	}
	submit1("closed_fd", func(cb *Iocb) { cb.PrepPread(closed, buf[:4096], 0) })
	submit1("write_rdonly", func(cb *Iocb) { cb.PrepPwrite(ro, buf[:4096], 0) })
	submit1("noop", func(cb *Iocb) { cb.PrepPread(fd, buf[:4096], 0); cb.Opcode = CmdNoop })
	submit1("reserved", func(cb *Iocb) { cb.PrepPread(fd, buf[:4096], 0); cb.Pad3 = 1 })
	{ // EOPNOTSUPP == ENOTSUP on Linux; C and Go name it differently, so the number is traced.
		var cb Iocb
		cb.PrepPread(fd, buf[:4096], 0)
		cb.RWFlags = 1 << 30
		_, err := x.ctx.Submit([]*Iocb{&cb})
		errno, _ := err.(unix.Errno)
		x.tr.Linef("bad_rwf res=%d", -int(errno))
	}
	submit1("bad_ioprio", func(cb *Iocb) { cb.PrepPread(fd, buf[:4096], 0); cb.SetIOPrio(IOPrioValue(7, 0)) })
	submit1("negative_offset", func(cb *Iocb) { cb.PrepPread(fd, buf[:4096], -4096) })
	submit1("direct_misaligned_offset", func(cb *Iocb) { cb.PrepPread(dfd, buf[:4096], 1) })
	submit1("direct_misaligned_memory", func(cb *Iocb) { cb.PrepPread(dfd, buf[1:4097], 0) })
	submit1("direct_misaligned_length", func(cb *Iocb) { cb.PrepPread(dfd, buf[:100], 0) })

	var cb, cb2 Iocb
	cb.PrepPread(fd, buf[:4096], 0)
	cb2.PrepPread(closed, buf[4096:], 0)
	two := []*Iocb{&cb, &cb2}
	n, err := x.ctx.Submit(two)
	x.tr.Add("partial_submit", n, err)
	n, err = x.ctx.Submit(two[1:])
	x.tr.Add("resubmit_rest", n, err)
	evs := make([]Event, 4)
	n, err = x.ctx.GetEvents(1, evs, &unix.Timespec{})
	x.tr.Add("getevents_zero_timeout", n, err)
	ts := unix.NsecToTimespec(60e6)
	n, err = x.ctx.GetEvents(5, evs, &ts)
	x.tr.Add("getevents_min_gt_nr", n, err)
	n, err = x.ctx.GetEvents(-1, evs, &ts)
	x.tr.Add("getevents_min_negative", n, err)
	for {
		n, err = x.ctx.GetEvents(1, evs, &ts)
		if err != unix.EINTR {
			break
		}
	}
	x.tr.Add("getevents_timeout", n, err)
	x.tr.Add("io_destroy", 0, x.ctx.Destroy())

	xcheck.RunScenario(t, "libaio_xcheck_err", &x.tr, xcFile(t))
}

func TestXcheckPoll(t *testing.T) {
	testutil.CheckLeaks(t)
	path := xcFile(t)
	x := &xc{t: t}
	if err := os.WriteFile(path, bytes.Repeat([]byte("y"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Fsync(fd)
	dfd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := cbuf(t, 1<<20)
	x.setup("io_queue_init", 4, true)

	var cb, never Iocb
	ev := make([]Event, 1)
	cb.PrepPoll(p[0], unix.POLLIN)
	n, err := x.ctx.Submit([]*Iocb{&cb})
	x.tr.Add("submit_poll", n, err)
	n, err = x.ctx.GetEvents(0, ev, &unix.Timespec{})
	x.tr.Add("getevents_not_ready", n, err)
	n, err = unix.Write(p[1], []byte("z"))
	x.tr.Add("write_pipe", n, err)
	x.tr.AddNeg("poll_event", x.get1())
	n, err = unix.Read(p[0], buf[:1])
	x.tr.Add("read_pipe", n, err)

	cb.PrepPoll(p[0], unix.POLLIN)
	n, err = x.ctx.Submit([]*Iocb{&cb})
	x.tr.Add("submit_poll", n, err)
	x.tr.Add("cancel_poll", 0, x.ctx.Cancel(&cb, &ev[0]))
	x.tr.AddNeg("cancelled_event", x.get1())
	x.tr.Add("cancel_again", 0, x.ctx.Cancel(&cb, &ev[0]))
	never.PrepPoll(p[0], unix.POLLIN)
	x.tr.Add("cancel_never_submitted", 0, x.ctx.Cancel(&never, &ev[0]))

	cb.PrepPread(dfd, buf, 0)
	n, err = x.ctx.Submit([]*Iocb{&cb})
	x.tr.Add("submit_read", n, err)
	x.tr.Add("cancel_read", 0, x.ctx.Cancel(&cb, &ev[0]))
	x.tr.AddNeg("read_event", x.get1())

	if err := unix.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	cb.PrepPread(p[0], buf[:16], 0)
	n, err = x.ctx.Submit([]*Iocb{&cb})
	x.tr.Add("submit_pipe_read_nonblock", n, err)
	x.tr.AddNeg("pipe_read_event", x.get1())
	cb.PrepPoll(fd, unix.POLLIN)
	n, err = x.ctx.Submit([]*Iocb{&cb})
	x.tr.Add("submit_poll_regular", n, err)
	x.tr.AddNeg("poll_regular_event", x.get1())

	var callbacks int64
	onDone := func(c *Context, cb *Iocb, res, res2 int64) { callbacks += 1000 + res*10 + res2 }
	for i := 0; i < 2; i++ {
		if i == 0 {
			n, err = x.ctx.Fsync(&cb, onDone, fd)
			x.tr.Add("io_fsync", n, err)
		} else {
			n, err = x.ctx.Fdsync(&cb, onDone, fd)
			x.tr.Add("io_fdsync", n, err)
		}
		// io_queue_run does not wait: poll it until the callback ran, for up to 10s.
		for deadline := time.Now().Add(10 * time.Second); callbacks == int64(i)*1000; {
			if _, err := x.ctx.QueueRun(); err != nil && err != unix.EINTR {
				t.Fatalf("QueueRun: %v", err)
			}
			if callbacks != int64(i)*1000 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the callback of the %s was not called by QueueRun within 10s", []string{"io_fsync", "io_fdsync"}[i])
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	x.tr.Add("callbacks", int(callbacks), nil)
	x.tr.Add("io_queue_release", 0, x.ctx.QueueRelease())

	xcheck.RunScenario(t, "libaio_xcheck_poll", &x.tr, xcFile(t))
}
