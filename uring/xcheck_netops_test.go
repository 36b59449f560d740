package uring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// TestXcheckNetOps runs testdata/c/uring_xcheck_netops.c section by section
// (its argument) against the same steps in Go: socket and its direct
// variants, shutdown, sendmsg/recvmsg, send_set_addr, the zero-copy sends,
// multishot and direct accept, multishot recv and recvmsg on buffer rings,
// classic provided buffers, poll add/remove/update/multishot, timeout
// remove/update/ABS, msg_ring, cancel by pointer and by fd, epoll_ctl.
// Most steps go through the Queue (named methods, Prep); those it refuses
// on purpose (send_zc, sendmsg_zc, multishot recvmsg, multishot accept
// direct, user data of the caller's choosing) drive a raw Ring.
func TestXcheckNetOps(t *testing.T) {
	sections := []struct {
		name string
		run  func(t *testing.T, tr *xcheck.Trace)
	}{
		{"socket", xnSocket},
		{"shutdown", xnShutdown},
		{"msg", xnMsg},
		{"zc", xnZC},
		{"accept", xnAccept},
		{"recvms", xnRecvMultishot},
		{"pbuf", xnProvideBuffers},
		{"poll", xnPoll},
		{"timeout", xnTimeout},
		{"msgring", xnMsgRing},
		{"cancel", xnCancel},
		{"epoll", xnEpoll},
	}
	for _, sc := range sections {
		t.Run(sc.name, func(t *testing.T) {
			var tr xcheck.Trace
			sc.run(t, &tr)
			xcheck.RunScenario(t, "uring_xcheck_netops", &tr, sc.name)
		})
	}
}

// requireRingOp is requireOp for a raw Ring: it skips below the Linux
// release that brought op, and fails from it on, when r's probe lacks op.
func requireRingOp(t *testing.T, r *Ring, major, minor int, ops ...uint8) {
	t.Helper()
	p, err := r.Probe()
	if err != nil {
		testutil.FeatureMissing(t, 5, 6, "IORING_REGISTER_PROBE", err)
		return
	}
	for _, op := range ops {
		if !p.OpSupported(op) {
			testutil.FeatureMissing(t, major, minor, OpName(op), &UnsupportedOpError{Op: op})
		}
	}
}

func xnB2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// xnErrRes is a registration call's error as a -errno result.
func xnErrRes(t *testing.T, err error) int64 {
	t.Helper()
	if err == nil {
		return 0
	}
	var e unix.Errno
	if !errors.As(err, &e) {
		t.Fatalf("not an errno: %v", err)
	}
	return -int64(e)
}

// xnFlags prints the CQE flags that do not depend on timing, as
// trace_flags in the C program (IORING_CQE_F_SOCK_NONEMPTY is left out).
func xnFlags(tr *xcheck.Trace, op string, f uint32) {
	bid, ok := CQEBufferID(f)
	if !ok {
		bid = 0
	}
	tr.Linef("%s more=%d notif=%d buffer=%d bid=%d", op, xnB2i(f&CQEFMore != 0), xnB2i(f&CQEFNotif != 0), xnB2i(ok), bid)
}

// xnCQE prints a result and its flags (trace_cqe).
func xnCQE(tr *xcheck.Trace, op string, res int64, flags uint32) {
	tr.AddNeg(op, res)
	xnFlags(tr, op, flags)
}

// xnNext waits (at most 10 s) for the next CQE of a raw ring.
func xnNext(t *testing.T, r *Ring) (ud uint64, res int64, flags uint32) {
	t.Helper()
	c, err := r.WaitCQETimeout(10 * time.Second)
	if err != nil {
		t.Fatalf("WaitCQETimeout: %v", err)
	}
	ud, res, flags = c.UserData, int64(c.Res), c.Flags
	r.CQESeen(c)
	return ud, res, flags
}

// xnSubmit submits want SQEs prepared on r.
func xnSubmit(t *testing.T, r *Ring, want int) {
	t.Helper()
	if n, err := r.Submit(); n != want || err != nil {
		t.Fatalf("Submit: %d, %v; want %d", n, err, want)
	}
}

// xnRun1 submits the one SQE prepared on r and returns its CQE's res and
// flags (run1_flags).
func xnRun1(t *testing.T, r *Ring) (int64, uint32) {
	t.Helper()
	xnSubmit(t, r, 1)
	_, res, flags := xnNext(t, r)
	return res, flags
}

// xnMsNext returns the next CQE of a multishot stream as a result (-errno
// for an error) and its flags.
func xnMsNext(t *testing.T, m *Multishot) (int64, uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, flags, err := m.Next(ctx)
	if err == nil {
		return int64(res), flags
	}
	var e unix.Errno
	if !errors.As(err, &e) {
		t.Fatalf("Multishot.Next: %v", err)
	}
	return -int64(e), flags
}

// xnHandle waits for h and returns its result and CQE flags.
func xnHandle(t *testing.T, h *completion.Handle, err error) (int64, uint32) {
	t.Helper()
	res := rawFn(t)(h, err)
	return res, h.Flags()
}

// xnFDs owns the descriptors of one section: close closes one early, the
// cleanup closes the rest (never one twice: the number may be reused).
type xnFDs map[int]bool

func newXnFDs(t *testing.T) xnFDs {
	fds := xnFDs{}
	t.Cleanup(func() {
		for fd := range fds {
			unix.Close(fd)
		}
	})
	return fds
}

func (fds xnFDs) add(fd int) int { fds[fd] = true; return fd }

func (fds xnFDs) close(fd int) {
	if fds[fd] {
		delete(fds, fd)
		unix.Close(fd)
	}
}

func (fds xnFDs) pipe(t *testing.T) [2]int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	fds.add(p[0])
	fds.add(p[1])
	return p
}

func (fds xnFDs) socketpair(t *testing.T) [2]int {
	t.Helper()
	sv, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(sv[0])
	fds.add(sv[1])
	return sv
}

// bound is a socket of typ bound to 127.0.0.1 on an ephemeral port.
func (fds xnFDs) bound(t *testing.T, typ int) (int, *unix.SockaddrInet4) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4)
}

func (fds xnFDs) listener(t *testing.T) (int, *unix.SockaddrInet4) {
	t.Helper()
	fd, sa := fds.bound(t, unix.SOCK_STREAM)
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	return fd, sa
}

// dial connects to sa, blocking: on loopback the connection is then in
// the listener's backlog.
func (fds xnFDs) dial(t *testing.T, sa *unix.SockaddrInet4) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(fd)
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal(err)
	}
	return fd
}

// tcpPair is a connected loopback TCP pair: the client and the accepted side.
func (fds xnFDs) tcpPair(t *testing.T) (c, a int) {
	t.Helper()
	lfd, sa := fds.listener(t)
	c = fds.dial(t, sa)
	a, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(a)
	fds.close(lfd)
	return c, a
}

// xnRawInet4 is sa as the kernel reads it (port in network byte order).
func xnRawInet4(sa *unix.SockaddrInet4) *unix.RawSockaddrInet4 {
	r := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
	p := (*[2]byte)(unsafe.Pointer(&r.Port))
	p[0], p[1] = byte(sa.Port>>8), byte(sa.Port)
	return r
}

// xnCBytes returns n bytes of C memory holding s, freed when the test ends.
func xnCBytes(t *testing.T, n int, s string) []byte {
	t.Helper()
	b, err := cmem.Alloc(max(n, len(s), 1), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Free() })
	m := b.Bytes()[:max(n, len(s))]
	copy(m, s)
	return m
}

func xnIP(a [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]) }

// xnRecvData receives on fd through the queue and prints the count and
// data (recv_data).
func xnRecvData(t *testing.T, tr *xcheck.Trace, q *Queue, op string, fd int) {
	t.Helper()
	buf := make([]byte, 16)
	res := rawFn(t)(q.Recv(fd, buf, 0))
	tr.AddNeg(op, res)
	tr.Linef("data %s", buf[:max(res, 0)])
}

func xnSocket(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 19, OpSocket)
	requireOp(t, q, 5, 11, OpShutdown)
	testutil.RequireKernel(t, 5, 19, "socket_direct_alloc (IORING_FILE_INDEX_ALLOC)")
	raw := rawFn(t)
	prep := func(f func(s *SQE)) int64 { return raw(q.Prep(f)) }
	sock := func(op string, domain, typ, proto int, flags uint32) {
		res := raw(q.Socket(domain, typ, proto, flags))
		tr.AddNeg(op, fdRes(res))
		if res >= 0 {
			unix.Close(int(res))
		}
	}
	sock("socket_tcp", unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0)
	sock("socket_udp", unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, 0)
	sock("socket_unix", unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0, 0)
	sock("socket_bad_domain", 12345, unix.SOCK_STREAM, 0, 0)
	sock("socket_bad_protocol", unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP, 0)
	sock("socket_bad_type_flag", unix.AF_INET, unix.SOCK_STREAM|0x1000, 0, 0)
	sock("socket_bad_sqe_flags", unix.AF_INET, unix.SOCK_STREAM, 0, 1)

	direct := func(op string, typ int, slot uint32) {
		tr.AddNeg(op, prep(func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, typ, 0, slot, 0) }))
	}
	alloc := func(op string, typ int) {
		tr.AddNeg(op, prep(func(s *SQE) { s.PrepSocketDirectAlloc(unix.AF_INET, typ, 0, 0) }))
	}
	direct("socket_direct_no_table", unix.SOCK_STREAM, 1)
	tr.AddNeg("register_files_sparse", xnErrRes(t, q.Ring().RegisterFilesSparse(3)))
	direct("socket_direct", unix.SOCK_STREAM, 1)
	direct("socket_direct_range", unix.SOCK_STREAM, 5)
	direct("socket_direct_cloexec", unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	alloc("socket_direct_alloc", unix.SOCK_DGRAM)
	alloc("socket_direct_alloc", unix.SOCK_STREAM)
	alloc("socket_direct_alloc_full", unix.SOCK_STREAM)
	tr.AddNeg("shutdown_fixed_tcp", prep(func(s *SQE) {
		s.PrepShutdown(1, unix.SHUT_RDWR)
		s.Flags |= SQEFixedFile
	}))
	direct("socket_direct_replace", unix.SOCK_DGRAM, 1)
	tr.AddNeg("unregister_files", xnErrRes(t, q.Ring().UnregisterFiles()))
}

func xnShutdown(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 11, OpShutdown)
	raw := rawFn(t)
	fds := newXnFDs(t)
	cfd, afd := fds.tcpPair(t)
	p := fds.pipe(t)

	tr.AddNeg("shutdown_wr", raw(q.Shutdown(cfd, unix.SHUT_WR)))
	xnRecvData(t, tr, q, "recv_eof", afd)
	tr.AddNeg("send_half_open", raw(q.Send(afd, []byte("back"), unix.MSG_NOSIGNAL)))
	xnRecvData(t, tr, q, "recv_half_open", cfd)
	tr.AddNeg("send_after_shutdown", raw(q.Send(cfd, []byte("x"), unix.MSG_NOSIGNAL)))
	tr.AddNeg("shutdown_bad_how", raw(q.Shutdown(cfd, 7)))
	tr.AddNeg("shutdown_pipe", raw(q.Shutdown(p[0], unix.SHUT_WR)))
	tr.AddNeg("shutdown_badfd", raw(q.Shutdown(9999, unix.SHUT_WR)))
	lone, _ := fds.bound(t, unix.SOCK_STREAM)
	tr.AddNeg("shutdown_unconnected", raw(q.Shutdown(lone, unix.SHUT_RD)))
	tr.AddNeg("shutdown_rdwr", raw(q.Shutdown(afd, unix.SHUT_RDWR)))
	xnRecvData(t, tr, q, "recv_eof", cfd)
}

// xnMsgLine prints what a recvmsg reported besides the count (trace_msg).
func xnMsgLine(t *testing.T, tr *xcheck.Trace, op string, m *Msg) {
	t.Helper()
	_, oobn, flags, from, err := m.Result()
	if err != nil {
		t.Fatalf("%s: Msg.Result: %v", op, err)
	}
	addr := "-"
	if sa, ok := from.(*unix.SockaddrInet4); ok {
		addr = xnIP(sa.Addr)
	}
	tr.Linef("%s controllen=%d flags=%d from=%s", op, oobn, flags, addr)
}

func xnMsg(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 6, OpSendmsg, OpRecvmsg, OpSend, OpRecv)
	raw := rawFn(t)
	fds := newXnFDs(t)
	u1, _ := fds.bound(t, unix.SOCK_DGRAM)
	u2, a2 := fds.bound(t, unix.SOCK_DGRAM)
	p := fds.pipe(t)

	tr.AddNeg("sendmsg_iov", raw(q.SendmsgBuffers(u1, [][]byte{[]byte("hello "), []byte("world")}, nil, a2, 0)))
	a, b, ctl := make([]byte, 4), make([]byte, 16), make([]byte, 64)
	h, m, err := q.RecvmsgBuffers(u2, [][]byte{a, b}, ctl, 0)
	res := raw(h, err)
	tr.AddNeg("recvmsg_iov", res)
	tr.Linef("data %s|%s", a[:min(max(res, 0), 4)], b[:max(res-4, 0)])
	xnMsgLine(t, tr, "recvmsg_iov", m)

	// A datagram longer than the buffer: cut, MSG_TRUNC in msg_flags; with
	// MSG_TRUNC in the call, the result is the datagram's length.
	for _, trunc := range []bool{false, true} {
		tr.AddNeg("sendmsg", raw(q.SendmsgBuffers(u1, [][]byte{[]byte("0123456789")}, nil, a2, 0)))
		op, flags := "recvmsg_short", 0
		if trunc {
			op, flags = "recvmsg_trunc_flag", unix.MSG_TRUNC
		}
		h, m, err := q.RecvmsgBuffers(u2, [][]byte{a}, nil, flags)
		res := raw(h, err)
		tr.AddNeg(op, res)
		tr.Linef("data %s", a[:min(max(res, 0), 4)])
		xnMsgLine(t, tr, op, m)
	}

	x := [][]byte{[]byte("x")}
	tr.AddNeg("sendmsg_noaddr", raw(q.SendmsgBuffers(u1, x, nil, nil, 0)))
	tr.AddNeg("sendmsg_pipe", raw(q.SendmsgBuffers(p[1], x, nil, nil, 0)))
	buf := make([]byte, 16)
	h, _, err = q.RecvmsgBuffers(9999, [][]byte{buf}, nil, 0)
	tr.AddNeg("recvmsg_badfd", raw(h, err))
	h, _, err = q.RecvmsgBuffers(u2, [][]byte{buf}, nil, unix.MSG_DONTWAIT)
	tr.AddNeg("recvmsg_dontwait", raw(h, err))

	to := xnRawInet4(a2)
	sendTo := func(op string, data []byte, addrLen uint16) {
		tr.AddNeg(op, raw(q.Prep(func(s *SQE) {
			s.PrepSend(u1, data, 0)
			s.PrepSendSetAddr(unsafe.Pointer(to), addrLen)
		}, data, to)))
	}
	sendTo("send_set_addr", []byte("sendto"), unix.SizeofSockaddrInet4)
	xnRecvData(t, tr, q, "recv", u2)
	tr.AddNeg("send_noaddr", raw(q.Send(u1, []byte("x"), 0)))
	sendTo("send_set_addr_short", []byte("x"), 3)
}

// xnZCRunner submits zero-copy sends on a raw ring and prints their CQEs
// as run_zc does: the result, then, when the result carries
// IORING_CQE_F_MORE, the notification, whichever came first.
func xnZCRunner(t *testing.T, tr *xcheck.Trace, r *Ring) func(op string, prep func(s *SQE)) {
	return func(op string, prep func(s *SQE)) {
		t.Helper()
		s := r.GetSQE()
		prep(s)
		s.SetUserData(7)
		xnSubmit(t, r, 1)
		var rres, nres int64
		var rflags, nflags uint32
		got, notif, same := false, false, true
		for !got || rflags&CQEFMore != 0 && !notif {
			ud, res, flags := xnNext(t, r)
			same = same && ud == 7
			if flags&CQEFNotif != 0 {
				notif, nres, nflags = true, res, flags
			} else {
				got, rres, rflags = true, res, flags
			}
		}
		xnCQE(tr, op, rres, rflags)
		if notif {
			xnCQE(tr, op+"_notif", nres, nflags)
		}
		tr.Linef("%s user_data_kept=%d", op, xnB2i(same))
	}
}

func xnZC(t *testing.T, tr *xcheck.Trace) {
	testutil.CheckLeaks(t)
	r := rawRing(t, 32, nil)
	requireRingOp(t, r, 6, 0, OpSendZC)
	requireRingOp(t, r, 6, 1, OpSendmsgZC)
	fds := newXnFDs(t)
	cfd, afd := fds.tcpPair(t)
	u1, _ := fds.bound(t, unix.SOCK_DGRAM)
	u2, a2 := fds.bound(t, unix.SOCK_DGRAM)
	p := fds.pipe(t)
	sv := fds.socketpair(t)
	run := xnZCRunner(t, tr, r)
	rbuf := xnCBytes(t, 16, "")
	recv := func(fd int) {
		s := r.GetSQE()
		s.PrepRecv(fd, rbuf, 0)
		res, _ := xnRun1(t, r)
		tr.AddNeg("recv", res)
		tr.Linef("data %s", rbuf[:max(res, 0)])
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	to := xnRawInet4(a2)
	pin.Pin(to)

	hello, dgram, x := xnCBytes(t, 0, "hello"), xnCBytes(t, 0, "dgram"), xnCBytes(t, 0, "x")
	run("send_zc", func(s *SQE) { s.PrepSendZC(cfd, hello, 0, 0) })
	recv(afd)
	run("send_zc_set_addr", func(s *SQE) {
		s.PrepSendZC(u1, dgram, 0, 0)
		s.PrepSendSetAddr(unsafe.Pointer(to), unix.SizeofSockaddrInet4)
	})
	recv(u2)
	run("send_zc_noaddr", func(s *SQE) { s.PrepSendZC(u1, x, 0, 0) })
	run("send_zc_unix", func(s *SQE) { s.PrepSendZC(sv[0], x, 0, 0) })
	run("send_zc_pipe", func(s *SQE) { s.PrepSendZC(p[1], x, 0, 0) })
	run("send_zc_badfd", func(s *SQE) { s.PrepSendZC(9999, x, 0, 0) })
	run("send_zc_bad_zc_flags", func(s *SQE) { s.PrepSendZC(cfd, x, 0, 0x80) })
	// From a registered buffer: index 0, then an index not registered.
	fixed := xnCBytes(t, 16, "fixed")
	iovFixed := []unix.Iovec{{Base: &fixed[0]}}
	iovFixed[0].SetLen(len(fixed))
	tr.AddNeg("register_buffers", xnErrRes(t, r.RegisterBuffers(iovFixed)))
	run("send_zc_fixed", func(s *SQE) { s.PrepSendZCFixed(cfd, fixed[:5], 0, 0, 0) })
	recv(afd)
	run("send_zc_fixed_badindex", func(s *SQE) { s.PrepSendZCFixed(cfd, fixed[:5], 0, 0, 3) })
	tr.AddNeg("unregister_buffers", xnErrRes(t, r.UnregisterBuffers()))

	ab, cd := xnCBytes(t, 0, "ab"), xnCBytes(t, 0, "cd")
	iov := []unix.Iovec{{Base: &ab[0]}, {Base: &cd[0]}}
	iov[0].SetLen(2)
	iov[1].SetLen(2)
	mh := &unix.Msghdr{Iov: &iov[0]}
	mh.SetIovlen(2)
	pin.Pin(&iov[0])
	pin.Pin(mh)
	run("sendmsg_zc", func(s *SQE) { s.PrepSendmsgZC(cfd, mh, 0) })
	recv(afd)
	mh.Name = (*byte)(unsafe.Pointer(to))
	mh.Namelen = unix.SizeofSockaddrInet4
	run("sendmsg_zc_name", func(s *SQE) { s.PrepSendmsgZC(u1, mh, 0) })
	recv(u2)
	mh.Name, mh.Namelen = nil, 0
	run("sendmsg_zc_noaddr", func(s *SQE) { s.PrepSendmsgZC(u1, mh, 0) })
	run("sendmsg_zc_badfd", func(s *SQE) { s.PrepSendmsgZC(9999, mh, 0) })
}

func xnAccept(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	testutil.RequireKernel(t, 5, 19, "multishot accept and accept_direct into an allocated slot (IORING_ACCEPT_MULTISHOT, IORING_FILE_INDEX_ALLOC)")
	raw := rawFn(t)
	fds := newXnFDs(t)
	lfd, sa := fds.listener(t)
	p := fds.pipe(t)

	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var c [3]int
	for i := range c {
		c[i] = fds.dial(t, sa)
		res, flags := xnMsNext(t, m)
		xnCQE(tr, "multishot_accept", fdRes(res), flags)
		if res >= 0 {
			unix.Close(int(res))
		}
	}
	// IORING_OP_ASYNC_CANCEL of the stream's own user data (the C
	// program's), where Multishot.Cancel would not report its result.
	ud := m.h.UserData()
	hc, err := q.Prep(func(s *SQE) { s.PrepCancel64(ud, 0) })
	res, flags := xnMsNext(t, m)
	xnCQE(tr, "multishot_accept_final", res, flags)
	tr.AddNeg("cancel_multishot_accept", raw(hc, err))
	for _, fd := range c {
		fds.close(fd)
	}

	lone, _ := fds.bound(t, unix.SOCK_STREAM)
	m2, err := q.AcceptMultishot(lone, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	res, flags = xnMsNext(t, m2)
	xnCQE(tr, "multishot_accept_unlistened", res, flags)
	tr.AddNeg("accept_pipe", fdRes(raw(q.Accept(p[0], unix.SOCK_CLOEXEC))))

	acceptDirect := func(op string, flags int, slot uint32) {
		tr.AddNeg(op, raw(q.Prep(func(s *SQE) { s.PrepAcceptDirect(lfd, nil, nil, flags, slot) })))
	}
	tr.AddNeg("register_files_sparse", xnErrRes(t, q.Ring().RegisterFilesSparse(2)))
	c[0] = fds.dial(t, sa)
	acceptDirect("accept_direct", 0, 1)
	c[1] = fds.dial(t, sa)
	acceptDirect("accept_direct_alloc", 0, FileIndexAlloc-1)
	c[2] = fds.dial(t, sa)
	acceptDirect("accept_direct_alloc_full", 0, FileIndexAlloc-1)
	acceptDirect("accept_direct_cloexec", unix.SOCK_CLOEXEC, 0)
	via1 := []byte("via1")
	tr.AddNeg("send_fixed", raw(q.Prep(func(s *SQE) {
		s.PrepSend(1, via1, unix.MSG_NOSIGNAL)
		s.Flags |= SQEFixedFile
	}, via1)))
	readClient := func(fd int) {
		buf := make([]byte, 16)
		n, err := unix.Read(fd, buf)
		tr.Add("read_client", n, err)
		tr.Linef("data %s", buf[:max(n, 0)])
	}
	readClient(c[0])
	tr.AddNeg("unregister_files", xnErrRes(t, q.Ring().UnregisterFiles()))
	for _, fd := range c {
		fds.close(fd)
	}

	// Multishot into a table of 2 on a raw ring (Queue.Prep refuses
	// multishot accept): slots 0 and 1, then the table is full and the
	// request ends.
	r := rawRing(t, 8, nil)
	tr.AddNeg("register_files_sparse", xnErrRes(t, r.RegisterFilesSparse(2)))
	r.GetSQE().PrepMultishotAcceptDirect(lfd, nil, nil, 0)
	xnSubmit(t, r, 1)
	for i := range c {
		c[i] = fds.dial(t, sa)
		_, res, flags := xnNext(t, r)
		xnCQE(tr, "multishot_accept_direct", res, flags)
	}
	s := r.GetSQE()
	s.PrepSend(0, xnCBytes(t, 0, "via0"), unix.MSG_NOSIGNAL)
	s.Flags |= SQEFixedFile
	res, _ = xnRun1(t, r)
	tr.AddNeg("send_fixed", res)
	readClient(c[0])
	tr.AddNeg("unregister_files", xnErrRes(t, r.UnregisterFiles()))
}

// xnBufRing sets up a buffer ring of n entries for group bgid on r over n
// buffers of size bytes of mem, all added (buf_ring).
func xnBufRing(t *testing.T, tr *xcheck.Trace, r *Ring, n uint32, bgid uint16, mem []byte, size int) *BufRing {
	t.Helper()
	br, err := r.SetupBufRing(n, bgid)
	tr.AddNeg("register_buf_ring", xnErrRes(t, err))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < int(n); i++ {
		br.Add(mem[i*size:(i+1)*size], uint16(i), BufRingMask(n), i)
	}
	br.Advance(int(n))
	return br
}

// xnRecvmsgOut prints a multishot recvmsg's buffer through RecvmsgValidate
// and the RecvmsgOut helpers (trace_recvmsg_out).
func xnRecvmsgOut(tr *xcheck.Trace, buf []byte, res int, mh *unix.Msghdr) {
	tr.Linef("validate_short %d", xnB2i(RecvmsgValidate(buf[:8], mh) != nil))
	o := RecvmsgValidate(buf[:res], mh)
	if o == nil {
		tr.Linef("validate 0")
		return
	}
	addr := "-"
	if name := o.NameBytes(mh); len(name) >= unix.SizeofSockaddrInet4 {
		if rsa := (*unix.RawSockaddrInet4)(o.Name()); rsa.Family == unix.AF_INET {
			addr = xnIP(rsa.Addr)
		}
	}
	plen := o.PayloadLength(res, mh)
	tr.Linef("validate 1 namelen=%d controllen=%d payloadlen=%d flags=%d name=%s cmsg=%d payload_length=%d",
		o.Namelen, o.Controllen, o.Payloadlen, o.Flags, addr, xnB2i(o.CmsgFirstHdr(mh) != nil), plen)
	payload := o.PayloadBytes(res, mh)
	tr.Linef("payload %s", payload[:min(len(payload), 16)])
}

func xnRecvMultishot(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	testutil.RequireKernel(t, 6, 0, "multishot recv and recvmsg (IORING_RECV_MULTISHOT) on a buffer ring")
	fds := newXnFDs(t)
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	data := func(res int64, flags uint32, size int) {
		if bid, ok := CQEBufferID(flags); ok && res > 0 {
			tr.Linef("data %s", mem[int(bid)*size:][:res])
		}
	}

	// RecvMultishot, group 1: two 64-byte buffers.
	br := xnBufRing(t, tr, q.Ring(), 2, 1, mem, 64)
	cfd, afd := fds.tcpPair(t)
	m, err := q.RecvMultishot(afd, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, msg := range []string{"one", "two", "three"} {
		if _, err := unix.Write(cfd, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		res, flags := xnMsNext(t, m)
		xnCQE(tr, "recv_multishot", res, flags)
		data(res, flags, 64)
	}
	// The data that found no buffer is still there.
	xnRecvData(t, tr, q, "recv_left", afd)
	// Both buffers back, a new request; the peer's shutdown ends it.
	for i := 0; i < 2; i++ {
		br.Add(mem[i*64:(i+1)*64], uint16(i), BufRingMask(2), i)
	}
	br.Advance(2)
	m2, err := q.RecvMultishot(afd, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := unix.Write(cfd, []byte("four")); err != nil {
		t.Fatal(err)
	}
	res, flags := xnMsNext(t, m2)
	xnCQE(tr, "recv_multishot", res, flags)
	data(res, flags, 64)
	unix.Shutdown(cfd, unix.SHUT_WR)
	res, flags = xnMsNext(t, m2)
	xnCQE(tr, "recv_multishot_eof", res, flags)
	tr.AddNeg("unregister_buf_ring", xnErrRes(t, q.Ring().FreeBufRing(br, 2, 1)))

	// A raw ring (Queue.Prep refuses multishot recv and recvmsg): a
	// multishot recv without IOSQE_BUFFER_SELECT, then RecvmsgMultishot on
	// UDP with group 2, two 128-byte buffers; the name area holds a
	// sockaddr_in, no control area.
	r := rawRing(t, 8, nil)
	r.GetSQE().PrepRecvMultishot(afd, nil, 0)
	res, flags = xnRun1(t, r)
	xnCQE(tr, "recv_multishot_no_select", res, flags)
	fds.close(cfd)
	fds.close(afd)
	br = xnBufRing(t, tr, r, 2, 2, mem, 128)
	u1, _ := fds.bound(t, unix.SOCK_DGRAM)
	u2, a2 := fds.bound(t, unix.SOCK_DGRAM)
	var pin runtime.Pinner
	defer pin.Unpin()
	mh := &unix.Msghdr{Namelen: unix.SizeofSockaddrInet4}
	pin.Pin(mh)
	s := r.GetSQE()
	s.PrepRecvmsgMultishot(u2, mh, 0)
	s.Flags |= SQEBufferSelect
	s.BufIndex = 2
	xnSubmit(t, r, 1)
	big := make([]byte, 200)
	for i := range big {
		big[i] = 'x'
	}
	for _, msg := range [][]byte{[]byte("datagram-1"), big, []byte("late")} {
		if err := unix.Sendto(u1, msg, 0, a2); err != nil {
			t.Fatal(err)
		}
		_, res, flags := xnNext(t, r)
		xnCQE(tr, "recvmsg_multishot", res, flags)
		if bid, ok := CQEBufferID(flags); ok && res > 0 {
			xnRecvmsgOut(tr, mem[int(bid)*128:(int(bid)+1)*128], int(res), mh)
		}
		if flags&CQEFMore == 0 {
			break
		}
	}
	s = r.GetSQE()
	s.PrepRecvmsgMultishot(9999, mh, 0)
	s.Flags |= SQEBufferSelect
	s.BufIndex = 2
	res, flags = xnRun1(t, r)
	xnCQE(tr, "recvmsg_multishot_badfd", res, flags)
	tr.AddNeg("unregister_buf_ring", xnErrRes(t, r.FreeBufRing(br, 2, 2)))
}

func xnProvideBuffers(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 7, OpProvideBuffers, OpRemoveBuffers)
	raw := rawFn(t)
	fds := newXnFDs(t)
	sv := fds.socketpair(t)
	// The kernel fills provided buffers after the PROVIDE_BUFFERS CQE: C
	// memory, passed to Prep without pins.
	cm, err := cmem.Alloc(4*16, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Free()
	mem := cm.Bytes()
	prep := func(op string, f func(s *SQE)) { tr.AddNeg(op, raw(q.Prep(f))) }
	provide := func(op string, nr, bgid, bid int) {
		prep(op, func(s *SQE) { s.PrepProvideBuffers(mem, 16, nr, bgid, bid) })
	}
	remove := func(op string, nr, bgid int) {
		prep(op, func(s *SQE) { s.PrepRemoveBuffers(nr, bgid) })
	}
	recvSelect := func(op string, length uint32, bgid uint16, bid0 int) {
		h, err := q.Prep(func(s *SQE) {
			s.PrepRecv(sv[0], nil, 0)
			s.Len = length
			s.Flags |= SQEBufferSelect
			s.BufIndex = bgid
		})
		res, flags := xnHandle(t, h, err)
		xnCQE(tr, op, res, flags)
		if bid, ok := CQEBufferID(flags); ok && res > 0 {
			tr.Linef("data %s", mem[(int(bid)-bid0)*16:][:res])
		}
	}
	write := func(s string) {
		if _, err := unix.Write(sv[1], []byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	// Three 16-byte buffers, ids 10..12, group 5.
	provide("provide_buffers", 3, 5, 10)
	write("abc")
	recvSelect("recv_select", 0, 5, 10)
	write("defgh")
	recvSelect("recv_select", 0, 5, 10)
	write("ijklmnop")
	recvSelect("recv_select_len4", 4, 5, 10)
	recvSelect("recv_select_empty", 0, 5, 10)
	recvSelect("recv_select_unknown_group", 0, 77, 10)

	// Two more (ids 20, 21); removing five removes what is there.
	provide("provide_buffers", 2, 5, 20)
	remove("remove_buffers_more", 5, 5)
	remove("remove_buffers_empty", 1, 5)
	remove("remove_buffers_unknown", 1, 99)
	remove("remove_buffers_zero", 0, 5)
	provide("provide_buffers_zero", 0, 5, 0)
	provide("provide_buffers_bid_overflow", 2, 5, 65535)
	provide("provide_buffers_too_many", 70000, 5, 0)
	// One last provide and remove: the group is empty at exit.
	provide("provide_buffers", 1, 6, 0)
	recvSelect("recv_select", 0, 6, 0)
	remove("remove_buffers_consumed", 1, 6)
}

func xnPoll(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	testutil.RequireKernel(t, 5, 13, "poll update and multishot poll (IORING_POLL_UPDATE_EVENTS, IORING_POLL_ADD_MULTI)")
	raw := rawFn(t)
	fds := newXnFDs(t)
	p, pq, pr := fds.pipe(t), fds.pipe(t), fds.pipe(t)
	sv, hup := fds.socketpair(t), fds.socketpair(t)
	write := func(fd int, s string) {
		if _, err := unix.Write(fd, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	read1 := func(fd int) {
		if n, err := unix.Read(fd, make([]byte, 1)); n != 1 {
			t.Fatalf("read: %d, %v", n, err)
		}
	}

	write(p[1], "x")
	tr.AddNeg("poll_in_ready", raw(q.PollAdd(p[0], unix.POLLIN)))
	tr.AddNeg("poll_out", raw(q.PollAdd(p[1], unix.POLLOUT)))
	tr.AddNeg("poll_in_out", raw(q.PollAdd(sv[0], unix.POLLIN|unix.POLLOUT)))
	unix.Shutdown(hup[1], unix.SHUT_WR)
	tr.AddNeg("poll_rdhup", raw(q.PollAdd(hup[0], unix.POLLIN|unix.POLLRDHUP)))
	fds.close(pq[1])
	tr.AddNeg("poll_hup", raw(q.PollAdd(pq[0], unix.POLLIN)))
	fds.close(pr[0])
	tr.AddNeg("poll_err", raw(q.PollAdd(pr[1], unix.POLLOUT)))
	read1(p[0])

	// PollRemove of a pending poll (p is empty again), then of nothing.
	hp, err := q.PollAdd(p[0], unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := q.PollRemove(hp)
	tr.AddNeg("poll_remove", raw(hr, err))
	tr.AddNeg("poll_removed", raw(hp, nil))
	tr.AddNeg("poll_remove_unknown", raw(q.PollRemove(hp)))

	// PrepPollUpdate: a pending POLLIN on the empty, writable sv[0] becomes
	// POLLOUT and fires.
	hp, err = q.PollAdd(sv[0], unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	ud := hp.UserData()
	hu, err := q.Prep(func(s *SQE) { s.PrepPollUpdate(ud, 0, unix.POLLOUT, PollUpdateEvents) })
	tr.AddNeg("poll_update", raw(hu, err))
	tr.AddNeg("poll_updated", raw(hp, nil))
	tr.AddNeg("poll_update_unknown", raw(q.Prep(func(s *SQE) {
		s.PrepPollUpdate(neverUserData, 0, unix.POLLOUT, PollUpdateEvents)
	})))

	// PollMultishot: two wake-ups, then a poll remove of its user data ends
	// it.
	m, err := q.PollMultishot(p[0], unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i < 2; i++ {
		write(p[1], "y")
		res, flags := xnMsNext(t, m)
		xnCQE(tr, "poll_multishot", res, flags)
		read1(p[0])
	}
	ud = m.h.UserData()
	hr, err = q.Prep(func(s *SQE) { s.PrepPollRemove(ud) })
	res, flags := xnMsNext(t, m)
	xnCQE(tr, "poll_multishot_final", res, flags)
	tr.AddNeg("poll_remove_multishot", raw(hr, err))
}

// xnClockTS is clock id's time plus d.
func xnClockTS(t *testing.T, id int32, d time.Duration) *KernelTimespec {
	t.Helper()
	var now unix.Timespec
	if err := unix.ClockGettime(id, &now); err != nil {
		t.Fatal(err)
	}
	ts := DurationToTimespec(time.Duration(now.Nano()) + d)
	return &ts
}

func xnTimeout(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	testutil.RequireKernel(t, 5, 15, "timeout update and IORING_TIMEOUT_REALTIME")
	raw := rawFn(t)
	timeout := func(d time.Duration) *completion.Handle {
		h, err := q.Timeout(d, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	update := func(ts *KernelTimespec, ud uint64, flags uint32) (*completion.Handle, error) {
		return q.Prep(func(s *SQE) { s.PrepTimeoutUpdate(ts, ud, flags) }, ts)
	}
	add := func(ts *KernelTimespec, flags uint32) (*completion.Handle, error) {
		return q.Prep(func(s *SQE) { s.PrepTimeout(ts, 0, flags) }, ts)
	}

	// TimeoutRemove of a pending timeout, then of nothing.
	ht := timeout(5 * time.Second)
	hr, err := q.TimeoutRemove(ht, 0)
	tr.AddNeg("timeout_remove", raw(hr, err))
	tr.AddNeg("timeout_removed", raw(ht, nil))
	tr.AddNeg("timeout_remove_unknown", raw(q.TimeoutRemove(ht, 0)))
	tr.AddNeg("timeout_remove_bad_flags", raw(q.TimeoutRemove(ht, 0x40)))

	// PrepTimeoutUpdate: extended from 5 s to 10 s (still pending:
	// removed), then one shortened to 10 ms (expires).
	ht = timeout(5 * time.Second)
	tr.AddNeg("timeout_update_extend", raw(update(&KernelTimespec{Sec: 10}, ht.UserData(), 0)))
	hr, err = q.TimeoutRemove(ht, 0)
	tr.AddNeg("timeout_remove", raw(hr, err))
	tr.AddNeg("timeout_extended", raw(ht, nil))
	ht = timeout(5 * time.Second)
	tr.AddNeg("timeout_update_shorten", raw(update(&KernelTimespec{Nsec: 10e6}, ht.UserData(), 0)))
	tr.AddNeg("timeout_shortened", raw(ht, nil))
	tr.AddNeg("timeout_update_unknown", raw(update(&KernelTimespec{Nsec: 10e6}, neverUserData, 0)))

	// TimeoutAbs: CLOCK_MONOTONIC 10 ms ahead, then 1 s after boot (the
	// past), then CLOCK_REALTIME 10 ms ahead; an update to an absolute
	// time.
	tr.AddNeg("timeout_abs", raw(add(xnClockTS(t, unix.CLOCK_MONOTONIC, 10*time.Millisecond), TimeoutAbs)))
	tr.AddNeg("timeout_abs_past", raw(add(&KernelTimespec{Sec: 1}, TimeoutAbs)))
	tr.AddNeg("timeout_abs_realtime", raw(add(xnClockTS(t, unix.CLOCK_REALTIME, 10*time.Millisecond), TimeoutAbs|TimeoutRealtime)))
	ht = timeout(5 * time.Second)
	tr.AddNeg("timeout_update_abs", raw(update(xnClockTS(t, unix.CLOCK_MONOTONIC, 10*time.Millisecond), ht.UserData(), TimeoutAbs)))
	tr.AddNeg("timeout_updated_abs", raw(ht, nil))

	tr.AddNeg("timeout_two_clocks", raw(add(&KernelTimespec{Nsec: 10e6}, TimeoutBoottime|TimeoutRealtime)))
	tr.AddNeg("timeout_negative", raw(add(&KernelTimespec{Nsec: -1}, 0)))
}

func xnMsgRing(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 18, OpMsgRing)
	raw := rawFn(t)
	fds := newXnFDs(t)
	p := fds.pipe(t)
	target := rawRing(t, 8, nil)
	msg := func(op string, fd int, n uint32, data uint64, flags uint32) {
		tr.AddNeg(op, raw(q.Prep(func(s *SQE) { s.PrepMsgRing(fd, n, data, flags) })))
	}

	msg("msg_ring", target.Fd(), 42, 0xfeed, 0)
	ud, res, flags := xnNext(t, target)
	tr.AddNeg("target_cqe", res)
	tr.Linef("target user_data=%#x flags=%d", ud, flags)
	msg("msg_ring_data_cqe_skip", target.Fd(), 7, 0xbeef, MsgRingCQESkip)
	tr.Linef("target cq_ready=%d", target.CQReady())
	msg("msg_ring_pipe", p[0], 1, 1, 0)
	msg("msg_ring_badfd", 9999, 1, 1, 0)
	msg("msg_ring_bad_flags", target.Fd(), 1, 1, 0x80)
	tr.Linef("target cq_ready=%d", target.CQReady())
}

func xnCancel(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	testutil.RequireKernel(t, 5, 19, "IORING_ASYNC_CANCEL_ALL and IORING_ASYNC_CANCEL_FD")
	raw := rawFn(t)
	fds := newXnFDs(t)
	p := fds.pipe(t)

	// PrepCancel by pointer, on a raw ring: user data of the caller's
	// choosing (the address of marker), which the Queue owns itself.
	r := rawRing(t, 8, nil)
	marker, other := new(int64), new(int64)
	key := uint64(uintptr(unsafe.Pointer(marker)))
	b1, b2 := xnCBytes(t, 8, ""), xnCBytes(t, 8, "")
	read := func(buf []byte) {
		s := r.GetSQE()
		s.PrepRead(p[0], buf, ^uint64(0))
		s.SetUserData(key)
	}
	cancelPtr := func(op string, target *int64, flags int, n int) {
		s := r.GetSQE()
		s.PrepCancel(unsafe.Pointer(target), flags)
		s.SetUserData(0)
		xnSubmit(t, r, 1)
		var cres int64
		for i := 0; i < n; i++ {
			ud, res, _ := xnNext(t, r)
			if ud == key {
				tr.AddNeg("read_canceled", res)
			} else {
				cres = res
			}
		}
		tr.AddNeg(op, cres)
	}
	read(b1)
	xnSubmit(t, r, 1)
	cancelPtr("cancel_ptr", marker, 0, 2)
	cancelPtr("cancel_ptr_unknown", other, 0, 1)
	// Two reads with the same user data: ALL cancels both.
	read(b1)
	read(b2)
	xnSubmit(t, r, 2)
	cancelPtr("cancel_ptr_all", marker, AsyncCancelAll, 3)
	runtime.KeepAlive(marker)
	runtime.KeepAlive(other)

	// PrepCancelFD: two reads on p[0]; the first cancel stops one of them,
	// the one with ALL the other; then ALL of two; then of none.
	c1, c2 := make([]byte, 8), make([]byte, 8)
	reads := func() []*completion.Handle {
		var hs []*completion.Handle
		for _, b := range [][]byte{c1, c2} {
			h, err := q.Read(p[0], b, ^uint64(0))
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		return hs
	}
	// canceled waits until want more of the reads in hs are done and
	// prints how many of those ended with ECANCELED (counted marks the
	// ones printed before).
	counted := map[*completion.Handle]bool{}
	canceled := func(hs []*completion.Handle, want int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			done := 0
			for _, h := range hs {
				done += xnB2i(h.IsDone() && !counted[h])
			}
			if done >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d new reads done after 10s, want %d", done, want)
			}
			time.Sleep(time.Millisecond)
		}
		n := 0
		for _, h := range hs {
			if h.IsDone() && !counted[h] {
				counted[h] = true
				_, err := h.Result()
				n += xnB2i(errors.Is(err, unix.ECANCELED))
			}
		}
		tr.Linef("reads canceled %d", n)
	}
	cancelFD := func(op string, flags uint32) {
		tr.AddNeg(op, raw(q.Prep(func(s *SQE) { s.PrepCancelFD(p[0], flags) })))
	}
	hs := reads()
	cancelFD("cancel_fd", 0)
	canceled(hs, 1)
	cancelFD("cancel_fd_all", AsyncCancelAll)
	canceled(hs, 1)
	hs = reads()
	cancelFD("cancel_fd_all", AsyncCancelAll)
	canceled(hs, 2)
	cancelFD("cancel_fd_none", 0)
	cancelFD("cancel_fd_all_none", AsyncCancelAll)
}

func xnEpoll(t *testing.T, tr *xcheck.Trace) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	requireOp(t, q, 5, 6, OpEpollCtl)
	raw := rawFn(t)
	fds := newXnFDs(t)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(ep)
	file, err := unix.MemfdCreate("netops", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	fds.add(file)
	p := fds.pipe(t)
	ctl := func(op string, epfd, fd, cop int, ev *unix.EpollEvent) {
		var pins []any // a nil *EpollEvent is not a nil pin
		if ev != nil {
			pins = append(pins, ev)
		}
		tr.AddNeg(op, raw(q.Prep(func(s *SQE) { s.PrepEpollCtl(epfd, fd, cop, ev) }, pins...)))
	}
	// The event's 64-bit data is Fd (low half) and Pad (high half) here.
	data := func(ev *unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }
	wait := func() {
		out := make([]unix.EpollEvent, 2)
		n, err := unix.EpollWait(ep, out, 0)
		tr.Add("epoll_wait", n, err)
		if n > 0 {
			tr.Linef("event events=%#x data=%d", out[0].Events, data(&out[0]))
		}
	}

	ev := &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 7}
	ctl("epoll_add", ep, p[0], unix.EPOLL_CTL_ADD, ev)
	ctl("epoll_add_again", ep, p[0], unix.EPOLL_CTL_ADD, ev)
	if _, err := unix.Write(p[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	wait()
	ev = &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: 9}
	ctl("epoll_mod", ep, p[0], unix.EPOLL_CTL_MOD, ev)
	wait()
	ctl("epoll_del", ep, p[0], unix.EPOLL_CTL_DEL, nil)
	ctl("epoll_del_again", ep, p[0], unix.EPOLL_CTL_DEL, nil)
	ctl("epoll_mod_unregistered", ep, p[0], unix.EPOLL_CTL_MOD, ev)
	ctl("epoll_add_badfd", ep, 9999, unix.EPOLL_CTL_ADD, ev)
	ctl("epoll_not_epoll", p[1], p[0], unix.EPOLL_CTL_ADD, ev)
	ctl("epoll_add_self", ep, ep, unix.EPOLL_CTL_ADD, ev)
	ctl("epoll_add_file", ep, file, unix.EPOLL_CTL_ADD, ev)
	ctl("epoll_bad_op", ep, p[0], 99, ev)
}
