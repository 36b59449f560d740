package uring

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// The cross-checks run one scenario through liburing in C
// (testdata/c/uring_xcheck_*.c) and through this package, and compare the
// traces line by line. Files and directories are created by the Go test and
// passed to the C program, which runs afterwards on the same paths.

// rawFn returns a function that waits for a handle and returns the CQE
// result as the kernel wrote it: a count, or -errno. Its signature takes a
// Queue method's results directly: raw(q.Nop()).
func rawFn(t *testing.T) func(h *completion.Handle, err error) int64 {
	return func(h *completion.Handle, err error) int64 {
		t.Helper()
		n, werr := waitRes(t, h, err)
		if werr == nil {
			return int64(n)
		}
		var e unix.Errno
		if !errors.As(werr, &e) {
			t.Fatalf("result is not an errno: %v", werr)
		}
		return -int64(e)
	}
}

// fdRes maps a descriptor result to 0 (descriptor numbers differ between
// the processes), keeping errors.
func fdRes(res int64) int64 {
	if res >= 0 {
		return 0
	}
	return res
}

func TestXcheckRW(t *testing.T) {
	raw := rawFn(t)
	q := newTestQueue(t, QueueConfig{Entries: 8})
	path := testutil.TempDir(t) + "/rw"
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var tr xcheck.Trace
	buf := make([]byte, 64)

	tr.AddNeg("write", raw(q.Write(fd, []byte("0123456789"), 0)))
	tr.AddNeg("fsync", raw(q.Fsync(fd, 0)))
	tr.AddNeg("fdatasync", raw(q.Fsync(fd, FsyncDatasync)))
	res := raw(q.Read(fd, buf[:4], 2))
	tr.AddNeg("read", res)
	tr.Linef("data %s", buf[:max(res, 0)])
	res = raw(q.Read(fd, buf, 6))
	tr.AddNeg("read_short_eof", res)
	tr.Linef("data %s", buf[:max(res, 0)])
	tr.AddNeg("read_past_eof", raw(q.Read(fd, buf, 100)))

	tr.AddNeg("writev", raw(q.Writev(fd, [][]byte{[]byte("abc"), []byte("defg")}, 10)))
	a, b := make([]byte, 3), make([]byte, 8)
	res = raw(q.Readv(fd, [][]byte{a, b}, 8))
	tr.AddNeg("readv", res)
	tr.Linef("data %s|%s", a, b[:max(res-3, 0)])

	ro, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	al, err := cmem.Alloc(8192, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Free()
	tr.AddNeg("read_direct", raw(q.Read(ro, al.Bytes()[:4096], 0)))
	tr.AddNeg("read_direct_misaligned", raw(q.Read(ro, al.Bytes()[1:4097], 0)))
	tr.AddNeg("write_rdonly", raw(q.Write(ro, []byte("x"), 0)))
	unix.Close(ro)

	tr.AddNeg("read_badfd", raw(q.Read(-1, buf[:1], 0)))
	tr.AddNeg("read_closedfd", raw(q.Read(9999, buf[:1], 0)))
	dfd, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr.AddNeg("read_dir", raw(q.Read(dfd, buf[:1], 0)))
	unix.Close(dfd)
	tr.AddNeg("fsync_badfd", raw(q.Fsync(9999, 0)))

	xcheck.RunScenario(t, "uring_xcheck_rw", &tr, path)
}

func TestXcheckLink(t *testing.T) {
	raw := rawFn(t)
	q := newTestQueue(t, QueueConfig{Entries: 16})
	path := testutil.TempDir(t) + "/link"
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	r, _ := testPipe(t)
	var tr xcheck.Trace
	chain := func(names []string, hs []*completion.Handle, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("Link: %v", err)
		}
		for i, h := range hs {
			tr.AddNeg(names[i], raw(h, nil))
		}
	}
	buf := make([]byte, 64)

	hs, err := q.Link(func(l *Link) {
		l.Write(fd, []byte("hello, link"), 0)
		l.Fsync(fd, 0)
		l.Read(fd, buf[:5], 7)
	})
	chain([]string{"write", "fsync", "read"}, hs, err)
	tr.Linef("data %s", buf[:4])

	hs, err = q.Link(func(l *Link) {
		l.Read(-1, buf[:1], 0)
		l.Write(fd, []byte("x"), 0)
		l.Nop()
	})
	chain([]string{"read_badfd", "write", "nop"}, hs, err)

	hs, err = q.Link(func(l *Link) {
		l.Read(fd, buf, 0)
		l.Nop()
	})
	chain([]string{"read_short", "nop"}, hs, err)

	hs, err = q.HardLink(func(l *Link) {
		l.Read(fd, buf, 0)
		l.Nop()
	})
	chain([]string{"read_short_hard", "nop"}, hs, err)

	hs, err = q.Link(func(l *Link) {
		l.Read(r, buf, 0)
		l.LinkTimeout(20*time.Millisecond, 0)
	})
	chain([]string{"read_pipe", "link_timeout"}, hs, err)

	hs, err = q.Link(func(l *Link) {
		l.Nop()
		l.LinkTimeout(5*time.Second, 0)
	})
	chain([]string{"nop", "link_timeout"}, hs, err)

	xcheck.RunScenario(t, "uring_xcheck_link", &tr, path)
}

func TestXcheckTimeoutCancelPoll(t *testing.T) {
	raw := rawFn(t)
	q := newTestQueue(t, QueueConfig{Entries: 16})
	r, _ := testPipe(t)
	sv, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sv[0])
	defer unix.Close(sv[1])
	var tr xcheck.Trace

	tr.AddNeg("timeout", raw(q.Timeout(10*time.Millisecond, 0, 0)))

	ht, err := q.Timeout(5*time.Second, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	hn, err := q.Nop()
	nop := raw(hn, err)
	tr.AddNeg("timeout_count", raw(ht, nil))
	tr.AddNeg("nop", nop)

	buf := make([]byte, 16)
	hr, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	hc, err := q.Cancel(hr)
	cres := raw(hc, err)
	tr.AddNeg("read_pipe", raw(hr, nil))
	tr.AddNeg("cancel", cres)

	// A user_data no operation has: cancel the handle of one that completed.
	tr.AddNeg("cancel_unknown", raw(q.Cancel(hn)))

	hp, err := q.PollAdd(sv[0], unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	n, werr := unix.Write(sv[1], []byte("x"))
	tr.Add("send", n, werr)
	tr.AddNeg("poll_in", raw(hp, nil))
	tr.AddNeg("poll_out", raw(q.PollAdd(sv[0], unix.POLLOUT)))
	tr.AddNeg("poll_badfd", raw(q.PollAdd(9999, unix.POLLIN)))

	xcheck.RunScenario(t, "uring_xcheck_timeout", &tr)
}

func TestXcheckNet(t *testing.T) {
	raw := rawFn(t)
	q := newTestQueue(t, QueueConfig{Entries: 16})
	path := testutil.TempDir(t) + "/notsock"
	var tr xcheck.Trace
	bound := func() (int, unix.Sockaddr) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		return fd, sa
	}
	lfd, la := bound()
	defer unix.Close(lfd)
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)

	ha, err := q.Accept(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := q.Connect(cfd, la)
	cres := raw(hc, err)
	ares := raw(ha, nil)
	if ares >= 0 {
		defer unix.Close(int(ares))
	}
	afd := int(ares)
	tr.AddNeg("accept", fdRes(ares))
	tr.AddNeg("connect", cres)

	tr.AddNeg("send", raw(q.Send(cfd, []byte("hello"), 0)))
	buf := make([]byte, 16)
	res := raw(q.Recv(afd, buf, 0))
	tr.AddNeg("recv", res)
	tr.Linef("data %s", buf[:max(res, 0)])

	hp, err := q.PollAdd(afd, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := q.Send(cfd, []byte("!"), 0)
	sres := raw(hs, err)
	tr.AddNeg("poll_in", raw(hp, nil))
	tr.AddNeg("send", sres)
	tr.AddNeg("recv", raw(q.Recv(afd, buf, 0)))

	tr.Add("shutdown", 0, unix.Shutdown(cfd, unix.SHUT_WR))
	tr.AddNeg("recv_eof", raw(q.Recv(afd, buf, 0)))

	closed, ca := bound()
	unix.Close(closed)
	c2, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c2)
	tr.AddNeg("connect_refused", raw(q.Connect(c2, ca)))

	tr.AddNeg("send_badfd", raw(q.Send(9999, []byte("x"), 0)))
	file, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(file)
	tr.AddNeg("send_file", raw(q.Send(file, []byte("x"), 0)))
	tr.AddNeg("recv_listener", raw(q.Recv(lfd, buf, 0)))

	xcheck.RunScenario(t, "uring_xcheck_net", &tr, path)
}

func TestXcheckFS(t *testing.T) {
	raw := rawFn(t)
	q := newTestQueue(t, QueueConfig{Entries: 8})
	base := testutil.TempDir(t)
	goDir, cDir := base+"/go", base+"/c"
	for _, d := range []string{goDir, cDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		// MkdirAll honours the umask; make both modes identical.
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := unix.Umask(0o22)
	defer unix.Umask(old)

	var tr xcheck.Trace
	f, missing, sub := goDir+"/f", goDir+"/missing", goDir+"/f/x"
	open1 := func(name, path string, flags int, mode uint32) int {
		res := raw(q.Openat(unix.AT_FDCWD, path, flags, mode))
		tr.AddNeg(name, fdRes(res))
		return int(res)
	}
	stat1 := func(name, path string) {
		var st unix.Statx_t
		res := raw(q.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, &st))
		tr.AddNeg(name, res)
		if res == 0 {
			b2i := func(b bool) int {
				if b {
					return 1
				}
				return 0
			}
			tr.Linef("statx size=%d mode=%04o reg=%d dir=%d nlink=%d", st.Size, st.Mode&0o7777,
				b2i(st.Mode&unix.S_IFMT == unix.S_IFREG), b2i(st.Mode&unix.S_IFMT == unix.S_IFDIR), st.Nlink)
		}
	}
	close1 := func(name string, fd int) { tr.AddNeg(name, raw(q.CloseFD(fd))) }

	fd := open1("openat_create", f, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o640)
	data := make([]byte, 100)
	for i := range data {
		data[i] = 'z'
	}
	tr.AddNeg("write", raw(q.Write(fd, data, 0)))
	stat1("statx", f)
	close1("close", fd)
	close1("close_unused", 9999)
	open1("openat_missing", missing, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	open1("openat_exists", f, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o640)
	open1("openat_notdir", sub, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	open1("openat_dir_file", f, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	stat1("statx_missing", missing)
	stat1("statx_dir", goDir)
	fd = open1("openat_dir", goDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	close1("close_dir", fd)
	close1("close_badfd", -1)

	xcheck.RunScenario(t, "uring_xcheck_fs", &tr, cDir)
}

// Registered buffers and files go through the raw layer: registration
// belongs to the ring, so the scenario drives one Ring directly.
func TestXcheckRegistered(t *testing.T) {
	testutil.CheckLeaks(t)
	path := testutil.TempDir(t) + "/reg"
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	r := rawRing(t, 8, nil)
	run1 := func(*SQE) int64 { t.Helper(); return submitOne(t, r) }
	var tr xcheck.Trace
	errRes := func(err error) int64 {
		var e unix.Errno
		if err == nil {
			return 0
		}
		if errors.As(err, &e) {
			return -int64(e)
		}
		t.Fatalf("not an errno: %v", err)
		return 0
	}

	mem, err := cmem.Alloc(2*4096, 4096) // C memory: no pinning rules apply
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	b0, b1 := mem.Bytes()[:4096], mem.Bytes()[4096:]
	for i := range b0 {
		b0[i] = byte('A' + i%26)
	}
	iov := []unix.Iovec{{Base: &b0[0]}, {Base: &b1[0]}}
	iov[0].SetLen(4096)
	iov[1].SetLen(4096)

	tr.AddNeg("register_buffers", errRes(r.RegisterBuffers(iov)))
	tr.AddNeg("register_buffers_again", errRes(r.RegisterBuffers(iov)))
	s := r.GetSQE()
	s.PrepWriteFixed(fd, b0, 0, 0)
	tr.AddNeg("write_fixed", run1(s))
	s = r.GetSQE()
	s.PrepReadFixed(fd, b1, 0, 1)
	tr.AddNeg("read_fixed", run1(s))
	same := 0
	if string(b0) == string(b1) {
		same = 1
	}
	tr.Linef("same %d", same)
	s = r.GetSQE()
	s.PrepReadFixed(fd, b1, 0, 5)
	tr.AddNeg("read_fixed_badindex", run1(s))
	s = r.GetSQE()
	s.PrepReadFixed(fd, b0, 0, 1) // b0 is not inside registered buffer 1
	tr.AddNeg("read_fixed_outside", run1(s))
	tr.AddNeg("unregister_buffers", errRes(r.UnregisterBuffers()))
	tr.AddNeg("unregister_buffers_again", errRes(r.UnregisterBuffers()))

	tr.AddNeg("register_files", errRes(r.RegisterFiles([]int{fd, -1})))
	s = r.GetSQE()
	s.PrepRead(0, b1, 0)
	s.SetFlags(SQEFixedFile)
	tr.AddNeg("read_fixed_file", run1(s))
	s = r.GetSQE()
	s.PrepRead(1, b1, 0)
	s.SetFlags(SQEFixedFile)
	tr.AddNeg("read_fixed_file_sparse", run1(s))
	s = r.GetSQE()
	s.PrepRead(7, b1, 0)
	s.SetFlags(SQEFixedFile)
	tr.AddNeg("read_fixed_file_range", run1(s))
	tr.AddNeg("unregister_files", errRes(r.UnregisterFiles()))

	xcheck.RunScenario(t, "uring_xcheck_reg", &tr, path)
}

// Setup and submission-time errors: bad entry counts and flags, unknown
// opcodes and SQE flags, bad eventfd.
func TestXcheckBadInput(t *testing.T) {
	raw := rawFn(t)
	testutil.CheckLeaks(t)
	var tr xcheck.Trace
	errRes := func(err error) int64 {
		var e unix.Errno
		if err == nil {
			return 0
		}
		if errors.As(err, &e) {
			return -int64(e)
		}
		t.Fatalf("not an errno: %v", err)
		return 0
	}
	newRes := func(entries uint32, p *Params) int64 {
		r, err := New(entries, p)
		if errors.Is(err, ErrUnavailable) {
			testutil.SkipNoPrivilege(t, err.Error())
		}
		if err == nil {
			r.Close()
		}
		return errRes(err)
	}
	tr.AddNeg("init_zero", newRes(0, nil))
	tr.AddNeg("init_too_big", newRes(65536, nil))
	tr.AddNeg("init_clamp", newRes(65536, &Params{Flags: SetupClamp}))
	tr.AddNeg("init_bad_flag", newRes(8, &Params{Flags: 1 << 31}))
	tr.AddNeg("init_cqsize_small", newRes(8, &Params{Flags: SetupCQSize, CQEntries: 0}))

	q := newTestQueue(t, QueueConfig{Entries: 8})
	// Raw SQEs through the queue's ring are not allowed, so the bad SQEs use
	// a ring of their own.
	r := rawRing(t, 8, nil)
	run1 := func(*SQE) int64 { t.Helper(); return submitOne(t, r) }
	s := r.GetSQE()
	s.PrepNop()
	s.Opcode = 200
	tr.AddNeg("opcode_unknown", run1(s))
	s = r.GetSQE()
	s.PrepNop()
	s.SetFlags(1 << 7)
	tr.AddNeg("sqe_flag_unknown", run1(s))
	s = r.GetSQE()
	s.PrepNop()
	s.SetFlags(SQEFixedFile)
	tr.AddNeg("nop_fixed_file", run1(s))
	tr.AddNeg("register_eventfd_bad", errRes(r.RegisterEventFD(-1)))
	tr.AddNeg("nop_queue", raw(q.Nop()))

	xcheck.RunScenario(t, "uring_xcheck_bad", &tr)
}

// submitOne submits the one SQE prepared on r, waits for its completion and
// returns its res (the run1 of the C programs, testdata/c/uring_common.h).
func submitOne(t testing.TB, r *Ring) int64 {
	t.Helper()
	if n, err := r.Submit(); n != 1 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	c, err := r.WaitCQE()
	if err != nil {
		t.Fatal(err)
	}
	res := int64(c.Res)
	r.CQESeen(c)
	return res
}
