package uring

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawPin pins Go objects whose addresses go into SQEs until the test ends.
func rawPin(t testing.TB, ptrs ...any) {
	var p runtime.Pinner
	for _, x := range ptrs {
		p.Pin(x)
	}
	t.Cleanup(p.Unpin)
}

// rawCStr returns a pinned NUL-terminated copy of s.
func rawCStr(t testing.TB, s string) *byte {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	rawPin(t, p)
	return p
}

func TestPrepFileIO(t *testing.T) {
	r := rawRing(t, 8, nil)
	_, fd := rawFile(t, nil)
	data := []byte("hello vectored world")
	buf := make([]byte, 64)
	rawPin(t, &data[0], &buf[0])
	if n := rawOK(t, r, "write", func(s *SQE) { s.PrepWrite(fd, data[:5], 0) }); n != 5 {
		t.Fatalf("write %d", n)
	}
	iov := []unix.Iovec{rawIovec(data[5:15]), rawIovec(data[15:])}
	rawPin(t, &iov[0])
	if n := rawOK(t, r, "writev", func(s *SQE) { s.PrepWritev(fd, iov, 5) }); n != 15 {
		t.Fatalf("writev %d", n)
	}
	if n := rawOK(t, r, "writev2", func(s *SQE) { s.PrepWritev2(fd, iov[:1], 20, unix.RWF_DSYNC) }); n != 10 {
		t.Fatalf("writev2 %d", n)
	}
	if n := rawOK(t, r, "read", func(s *SQE) { s.PrepRead(fd, buf, 0) }); n != 30 || string(buf[:30]) != "hello vectored world vectored " {
		t.Fatalf("read %d %q", n, buf[:n])
	}
	riov := []unix.Iovec{rawIovec(buf[:3]), rawIovec(buf[3:8])}
	rawPin(t, &riov[0])
	if n := rawOK(t, r, "readv", func(s *SQE) { s.PrepReadv(fd, riov, 6) }); n != 8 || string(buf[:8]) != "vectored" {
		t.Fatalf("readv %d %q", n, buf[:8])
	}
	if n := rawOK(t, r, "readv2", func(s *SQE) { s.PrepReadv2(fd, riov[:1], 0, 0) }); n != 3 {
		t.Fatalf("readv2 %d", n)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepReadv2(fd, riov, 0, 1<<30) }); c.Res != -int32(unix.EOPNOTSUPP) {
		t.Fatalf("readv2 with bad flags res %d", c.Res)
	}
	rawOK(t, r, "fsync", func(s *SQE) { s.PrepFsync(fd, 0) })
	rawOK(t, r, "fdatasync", func(s *SQE) { s.PrepFsync(fd, FsyncDatasync) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepFsync(fd, 1<<5) }); c.Res != -int32(unix.EINVAL) {
		t.Fatalf("fsync bad flags res %d", c.Res)
	}
	rawOK(t, r, "sync_file_range", func(s *SQE) { s.PrepSyncFileRange(fd, 30, 0, unix.SYNC_FILE_RANGE_WRITE) })
	rawOK(t, r, "fallocate", func(s *SQE) { s.PrepFallocate(fd, 0, 0, 1<<20) })
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	if st.Size != 1<<20 {
		t.Fatalf("size after fallocate %d", st.Size)
	}
	rawOK(t, r, "fadvise", func(s *SQE) { s.PrepFadvise(fd, 0, 4096, unix.FADV_DONTNEED) })
	mem := rawMmap(t, 8192)
	rawOK(t, r, "madvise", func(s *SQE) { s.PrepMadvise(mem, unix.MADV_DONTNEED) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepRead(-1, buf, 0) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("read from -1 res %d", c.Res)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepWrite(fd, data, 1<<63) }); c.Res != -int32(unix.EINVAL) && c.Res != -int32(unix.EFBIG) {
		t.Fatalf("write at 2^63 res %d", c.Res)
	}
}

func TestPrepFilesystem(t *testing.T) {
	r := rawRing(t, 8, nil)
	dir := testutil.TempDir(t)
	dfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	name := rawCStr(t, "a")
	fd := int(rawOK(t, r, "openat", func(s *SQE) { s.PrepOpenat(dfd, name, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600) }))
	data := []byte("content")
	rawPin(t, &data[0])
	rawOK(t, r, "write", func(s *SQE) { s.PrepWrite(fd, data, 0) })
	rawOK(t, r, "close", func(s *SQE) { s.PrepClose(fd) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepClose(fd) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("double close res %d", c.Res)
	}
	var stx unix.Statx_t
	rawPin(t, &stx)
	rawOK(t, r, "statx", func(s *SQE) { s.PrepStatx(dfd, name, 0, unix.STATX_SIZE, &stx) })
	if stx.Size != 7 {
		t.Fatalf("statx size %d", stx.Size)
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH}
	rawPin(t, &how)
	fd2 := rawOK(t, r, "openat2", func(s *SQE) { s.PrepOpenat2(dfd, name, &how) })
	unix.Close(int(fd2))
	escape := rawCStr(t, "../x")
	if c := rawDo(t, r, func(s *SQE) { s.PrepOpenat2(dfd, escape, &how) }); c.Res != -int32(unix.EXDEV) {
		t.Fatalf("openat2 RESOLVE_BENEATH escape res %d", c.Res)
	}
	b := rawCStr(t, "b")
	rawOK(t, r, "renameat", func(s *SQE) { s.PrepRenameat(dfd, name, dfd, b, 0) })
	sub := rawCStr(t, filepath.Join(dir, "sub"))
	rawOK(t, r, "mkdir", func(s *SQE) { s.PrepMkdir(sub, 0o755) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepMkdirat(dfd, rawCStr(t, "sub"), 0o755) }); c.Res != -int32(unix.EEXIST) {
		t.Fatalf("mkdir twice res %d", c.Res)
	}
	target := rawCStr(t, "b")
	rawOK(t, r, "symlinkat", func(s *SQE) { s.PrepSymlinkat(target, dfd, rawCStr(t, "sl")) })
	rawOK(t, r, "linkat", func(s *SQE) { s.PrepLinkat(dfd, b, dfd, rawCStr(t, "hl"), 0) })
	abs := func(n string) *byte { return rawCStr(t, filepath.Join(dir, n)) }
	rawOK(t, r, "symlink", func(s *SQE) { s.PrepSymlink(target, abs("sl2")) })
	rawOK(t, r, "link", func(s *SQE) { s.PrepLink(abs("b"), abs("hl2"), 0) })
	rawOK(t, r, "rename", func(s *SQE) { s.PrepRename(abs("hl2"), abs("hl3")) })
	if got, err := os.Readlink(filepath.Join(dir, "sl")); err != nil || got != "b" {
		t.Fatalf("symlink %q %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "hl3")); err != nil || string(got) != "content" {
		t.Fatalf("hard link %q %v", got, err)
	}
	// xattrs (user.* works on ext4 and tmpfs).
	xname, xval := rawCStr(t, "user.aiokit"), []byte("v1")
	rawPin(t, &xval[0])
	xbuf := make([]byte, 16)
	rawPin(t, &xbuf[0])
	c := rawDo(t, r, func(s *SQE) { s.PrepSetxattr(xname, xval, abs("b"), 0) })
	if c.Res == -int32(unix.EOPNOTSUPP) {
		testutil.SkipNoFeature(t, "user xattrs on "+dir, unix.EOPNOTSUPP)
	}
	if c.Res != 0 {
		t.Fatalf("setxattr res %d", c.Res)
	}
	if n := rawOK(t, r, "getxattr", func(s *SQE) { s.PrepGetxattr(xname, xbuf, abs("b")) }); string(xbuf[:n]) != "v1" {
		t.Fatalf("getxattr %q", xbuf[:n])
	}
	fd3, _ := unix.Open(filepath.Join(dir, "b"), unix.O_RDWR|unix.O_CLOEXEC, 0)
	defer unix.Close(fd3)
	rawOK(t, r, "fsetxattr", func(s *SQE) { s.PrepFsetxattr(fd3, xname, xval[:1], 0) })
	if n := rawOK(t, r, "fgetxattr", func(s *SQE) { s.PrepFgetxattr(fd3, xname, xbuf) }); string(xbuf[:n]) != "v" {
		t.Fatalf("fgetxattr %q", xbuf[:n])
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepFsetxattr(fd3, xname, xval, unix.XATTR_CREATE) }); c.Res != -int32(unix.EEXIST) {
		t.Fatalf("fsetxattr XATTR_CREATE on existing res %d", c.Res)
	}
	rawOK(t, r, "unlinkat", func(s *SQE) { s.PrepUnlinkat(dfd, rawCStr(t, "sub"), unix.AT_REMOVEDIR) })
	rawOK(t, r, "unlink", func(s *SQE) { s.PrepUnlink(abs("hl3"), 0) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepUnlink(abs("hl3"), 0) }); c.Res != -int32(unix.ENOENT) {
		t.Fatalf("unlink twice res %d", c.Res)
	}
	// Direct (fixed-file) opens.
	if err := r.RegisterFilesSparse(4); err != nil {
		t.Fatal(err)
	}
	rawOK(t, r, "openat_direct", func(s *SQE) { s.PrepOpenatDirect(dfd, b, unix.O_RDONLY, 0, 2) })
	dhow := unix.OpenHow{Flags: unix.O_RDONLY} // O_CLOEXEC is invalid for direct descriptors
	rawPin(t, &dhow)
	rawOK(t, r, "openat2_direct", func(s *SQE) { s.PrepOpenat2Direct(dfd, b, &dhow, 3) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepOpenat2Direct(dfd, b, &how, 3) }); c.Res != -int32(unix.EINVAL) {
		t.Fatalf("openat2_direct with O_CLOEXEC res %d", c.Res)
	}
	buf := make([]byte, 8)
	rawPin(t, &buf[0])
	if n := rawOK(t, r, "read fixed file", func(s *SQE) { s.PrepRead(2, buf, 0); s.SetFlags(SQEFixedFile) }); string(buf[:n]) != "content" {
		t.Fatalf("read from direct open %q", buf[:n])
	}
}

func TestPrepPipesPollTimeout(t *testing.T) {
	r := rawRing(t, 16, nil)
	var p1, p2 [2]int
	for _, p := range []*[2]int{&p1, &p2} {
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
	}
	// poll: one-shot fires on data; update and remove on a pending poll.
	sqe := r.GetSQE()
	sqe.PrepPollAdd(p1[0], unix.POLLIN)
	sqe.SetUserData(1)
	sqe = r.GetSQE()
	sqe.PrepPollMultishot(p2[0], unix.POLLIN)
	sqe.SetUserData(2)
	r.Submit()
	unix.Write(p1[1], []byte("abcdef"))
	got := rawReap(t, r, 1)
	if got[1].Res&unix.POLLIN == 0 {
		t.Fatalf("poll_add %+v", got)
	}
	if n := rawOK(t, r, "poll_update", func(s *SQE) {
		s.PrepPollUpdate(2, 3, 0, PollUpdateUserData|PollAddMulti)
	}); n != 0 {
		t.Fatalf("poll_update %d", n)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepPollRemove(2) }); c.Res != -int32(unix.ENOENT) {
		t.Fatalf("poll_remove of the old user data res %d", c.Res)
	}
	sqe = r.GetSQE()
	sqe.PrepPollRemove(3)
	sqe.SetUserData(4)
	r.Submit()
	got = rawReap(t, r, 2)
	if got[4].Res != 0 || got[3].Res != -int32(unix.ECANCELED) {
		t.Fatalf("poll_remove %+v", got)
	}
	// splice and tee between pipes.
	if n := rawOK(t, r, "tee", func(s *SQE) { s.PrepTee(p1[0], p2[1], 3, 0) }); n != 3 {
		t.Fatalf("tee %d", n)
	}
	if n := rawOK(t, r, "splice", func(s *SQE) { s.PrepSplice(p1[0], -1, p2[1], -1, 6, 0) }); n != 6 {
		t.Fatalf("splice %d", n)
	}
	out := make([]byte, 16)
	if n, _ := unix.Read(p2[0], out); string(out[:n]) != "abcabcdef" {
		t.Fatalf("pipe after tee+splice %q", out[:n])
	}
	// timeouts: expire, count, remove, update, link timeout.
	ts := &KernelTimespec{Nsec: 10e6}
	long := &KernelTimespec{Sec: 30}
	rawPin(t, ts, long)
	if c := rawDo(t, r, func(s *SQE) { s.PrepTimeout(ts, 0, 0) }); c.Res != -int32(unix.ETIME) {
		t.Fatalf("timeout res %d", c.Res)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepTimeout(ts, 0, TimeoutETimeSuccess) }); c.Res != -int32(unix.ETIME) {
		t.Fatalf("timeout ETIME_SUCCESS res %d", c.Res)
	}
	sqe = r.GetSQE()
	sqe.PrepTimeout(long, 0, 0)
	sqe.SetUserData(10)
	r.Submit()
	if n := rawOK(t, r, "timeout_update", func(s *SQE) { s.PrepTimeoutUpdate(long, 10, 0) }); n != 0 {
		t.Fatalf("timeout_update %d", n)
	}
	sqe = r.GetSQE()
	sqe.PrepTimeoutRemove(10, 0)
	sqe.SetUserData(11)
	r.Submit()
	got = rawReap(t, r, 2)
	if got[11].Res != 0 || got[10].Res != -int32(unix.ECANCELED) {
		t.Fatalf("timeout_remove %+v", got)
	}
	// Count-based timeout completes after one other completion.
	sqe = r.GetSQE()
	sqe.PrepTimeout(long, 1, 0)
	sqe.SetUserData(12)
	r.Submit()
	rawOK(t, r, "nop", func(s *SQE) { s.PrepNop() })
	if got := rawReap(t, r, 1); got[12].Res != 0 {
		t.Fatalf("count timeout %+v", got)
	}
	// A read on an empty pipe linked to a 10 ms link timeout.
	buf := make([]byte, 4)
	rawPin(t, &buf[0])
	sqe = r.GetSQE()
	sqe.PrepRead(p1[0], buf, ^uint64(0))
	sqe.SetFlags(SQEIOLink)
	sqe.SetUserData(20)
	sqe = r.GetSQE()
	sqe.PrepLinkTimeout(ts, 0)
	sqe.SetUserData(21)
	r.Submit()
	got = rawReap(t, r, 2)
	if got[20].Res != -int32(unix.ECANCELED) || got[21].Res != -int32(unix.ETIME) {
		t.Fatalf("link timeout %+v", got)
	}
	// Cancel by user data and by fd.
	for _, byFD := range []bool{false, true} {
		sqe = r.GetSQE()
		sqe.PrepRead(p1[0], buf, ^uint64(0))
		sqe.SetUserData(30)
		r.Submit()
		var c CQE
		if byFD {
			c = rawDo(t, r, func(s *SQE) { s.PrepCancelFD(p1[0], 0) })
		} else {
			c = rawDo(t, r, func(s *SQE) { s.PrepCancel64(30, 0) })
		}
		if c.Res != 0 {
			t.Fatalf("cancel (by fd %v) res %d", byFD, c.Res)
		}
		if got := rawReap(t, r, 1); got[30].Res != -int32(unix.ECANCELED) {
			t.Fatalf("cancelled read %+v", got)
		}
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepCancel64(12345, 0) }); c.Res != -int32(unix.ENOENT) {
		t.Fatalf("cancel unknown res %d", c.Res)
	}
	// io_uring_prep_cancel: the key is a pointer value used as user data.
	key := unsafe.Pointer(&buf[0])
	sqe = r.GetSQE()
	sqe.PrepRead(p1[0], buf, ^uint64(0))
	sqe.SetUserData(uint64(uintptr(key)))
	r.Submit()
	if c := rawDo(t, r, func(s *SQE) { s.PrepCancel(key, 0) }); c.Res != 0 {
		t.Fatalf("cancel by pointer res %d", c.Res)
	}
	if got := rawReap(t, r, 1); got[uint64(uintptr(key))].Res != -int32(unix.ECANCELED) {
		t.Fatalf("read cancelled by pointer %+v", got)
	}
	// epoll_ctl.
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p2[0])}
	rawPin(t, &ev)
	rawOK(t, r, "epoll_ctl", func(s *SQE) { s.PrepEpollCtl(epfd, p2[0], unix.EPOLL_CTL_ADD, &ev) })
	if c := rawDo(t, r, func(s *SQE) { s.PrepEpollCtl(epfd, p2[0], unix.EPOLL_CTL_ADD, &ev) }); c.Res != -int32(unix.EEXIST) {
		t.Fatalf("epoll_ctl twice res %d", c.Res)
	}
}

func TestPrepMsgRing(t *testing.T) {
	r := rawRing(t, 4, nil)
	r2 := rawRing(t, 4, nil)
	rawOK(t, r, "msg_ring", func(s *SQE) { s.PrepMsgRing(r2.Fd(), 1234, 0xabc, 0) })
	cqe, err := r2.WaitCQETimeout(5 * time.Second)
	if err != nil || cqe.UserData != 0xabc || cqe.Res != 1234 {
		t.Fatalf("message CQE %+v, %v", cqe, err)
	}
	r2.CQESeen(cqe)
	if c := rawDo(t, r, func(s *SQE) { s.PrepMsgRing(0, 1, 1, 0) }); c.Res != -int32(unix.EBADFD) {
		t.Fatalf("msg_ring to a non-ring fd res %d", c.Res)
	}
}

func TestPrepNetwork(t *testing.T) {
	r := rawRing(t, 16, nil)
	ln := int(rawOK(t, r, "socket", func(s *SQE) { s.PrepSocket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0) }))
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(ln, 8)
	sa, _ := unix.Getsockname(ln)
	port := sa.(*unix.SockaddrInet4).Port
	var rany unix.RawSockaddrAny
	raddr := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rany))
	*raddr = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	raddr.Port = uint16(port>>8) | uint16(port&0xff)<<8
	rawPin(t, &rany)
	cfd := int(rawOK(t, r, "socket", func(s *SQE) { s.PrepSocket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0) }))
	defer unix.Close(cfd)
	var peer unix.RawSockaddrAny
	peerLen := uint32(unsafe.Sizeof(peer))
	rawPin(t, &peer, &peerLen)
	sqe := r.GetSQE()
	sqe.PrepAccept(ln, &peer, &peerLen, unix.SOCK_CLOEXEC)
	sqe.SetUserData(1)
	sqe = r.GetSQE()
	sqe.PrepConnect(cfd, &rany, uint32(unsafe.Sizeof(*raddr)))
	sqe.SetUserData(2)
	r.Submit()
	got := rawReap(t, r, 2)
	if got[2].Res != 0 {
		t.Fatalf("connect %+v", got[2])
	}
	sfd := int(got[1].Res)
	if sfd < 0 || peer.Addr.Family != unix.AF_INET || peerLen != uint32(unsafe.Sizeof(*raddr)) {
		t.Fatalf("accept %+v family %d len %d", got, peer.Addr.Family, peerLen)
	}
	defer unix.Close(sfd)
	msg := []byte("ping")
	buf := make([]byte, 64)
	rawPin(t, &msg[0], &buf[0])
	if n := rawOK(t, r, "send", func(s *SQE) { s.PrepSend(cfd, msg, 0) }); n != 4 {
		t.Fatalf("send %d", n)
	}
	if n := rawOK(t, r, "recv", func(s *SQE) { s.PrepRecv(sfd, buf, 0) }); string(buf[:n]) != "ping" {
		t.Fatalf("recv %q", buf[:n])
	}
	// sendmsg / recvmsg.
	iov := []unix.Iovec{rawIovec(msg[:2]), rawIovec(msg[2:])}
	smsg := unix.Msghdr{Iov: &iov[0], Iovlen: 2}
	riov := []unix.Iovec{rawIovec(buf)}
	rmsg := unix.Msghdr{Iov: &riov[0], Iovlen: 1}
	rawPin(t, &iov[0], &smsg, &riov[0], &rmsg)
	if n := rawOK(t, r, "sendmsg", func(s *SQE) { s.PrepSendmsg(cfd, &smsg, 0) }); n != 4 {
		t.Fatalf("sendmsg %d", n)
	}
	if n := rawOK(t, r, "recvmsg", func(s *SQE) { s.PrepRecvmsg(sfd, &rmsg, 0) }); string(buf[:n]) != "ping" {
		t.Fatalf("recvmsg %q", buf[:n])
	}
	// Zero-copy sends post a result and a notification.
	for _, zc := range []string{"send_zc", "sendmsg_zc"} {
		sqe = r.GetSQE()
		if zc == "send_zc" {
			sqe.PrepSendZC(cfd, msg, 0, 0)
		} else {
			sqe.PrepSendmsgZC(cfd, &smsg, 0)
		}
		sqe.SetUserData(40)
		r.Submit()
		var res, notif bool
		for !res || !notif {
			cqe, err := r.WaitCQETimeout(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: %v", zc, err)
			}
			if cqe.Flags&CQEFNotif != 0 {
				notif = true
			} else if cqe.Res != 4 || cqe.Flags&CQEFMore == 0 {
				t.Fatalf("%s result %+v", zc, *cqe)
			} else {
				res = true
			}
			r.CQESeen(cqe)
		}
		if n, _ := unix.Read(sfd, buf); n != 4 {
			t.Fatalf("%s delivered %d bytes", zc, n)
		}
	}
	// UDP send with a destination address (send_set_addr needs SEND_ZC).
	u1 := int(rawOK(t, r, "udp socket", func(s *SQE) { s.PrepSocket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, 0) }))
	defer unix.Close(u1)
	u2, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	defer unix.Close(u2)
	unix.Bind(u2, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	usa, _ := unix.Getsockname(u2)
	uport := usa.(*unix.SockaddrInet4).Port
	uaddr := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	uaddr.Port = uint16(uport>>8) | uint16(uport&0xff)<<8
	rawPin(t, uaddr)
	sqe = r.GetSQE()
	sqe.PrepSendZC(u1, msg, 0, 0)
	sqe.PrepSendSetAddr(unsafe.Pointer(uaddr), uint16(unsafe.Sizeof(*uaddr)))
	sqe.SetUserData(50)
	r.Submit()
	for seen := 0; seen < 2; seen++ {
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil || (cqe.Flags&CQEFNotif == 0 && cqe.Res != 4) {
			t.Fatalf("udp send_zc %+v %v", cqe, err)
		}
		r.CQESeen(cqe)
	}
	if n, _, err := unix.Recvfrom(u2, buf, 0); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("udp datagram %q %v", buf[:n], err)
	}
	// shutdown: the peer reads EOF.
	rawOK(t, r, "shutdown", func(s *SQE) { s.PrepShutdown(cfd, unix.SHUT_WR) })
	if n := rawOK(t, r, "recv eof", func(s *SQE) { s.PrepRecv(sfd, buf, 0) }); n != 0 {
		t.Fatalf("recv after shutdown %d", n)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepSend(sfd+1000, msg, 0) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("send on bad fd res %d", c.Res)
	}
	// Multishot accept, and accept into fixed-file slots.
	if err := r.RegisterFilesSparse(4); err != nil {
		t.Fatal(err)
	}
	sqe = r.GetSQE()
	sqe.PrepMultishotAccept(ln, nil, nil, unix.SOCK_CLOEXEC)
	sqe.SetUserData(60)
	r.Submit()
	var conns []int
	for i := 0; i < 2; i++ {
		c, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		conns = append(conns, c)
		defer unix.Close(c)
		if err := unix.Connect(c, sa); err != nil {
			t.Fatal(err)
		}
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil || cqe.UserData != 60 || cqe.Res < 0 || cqe.Flags&CQEFMore == 0 {
			t.Fatalf("multishot accept %d: %+v %v", i, cqe, err)
		}
		unix.Close(int(cqe.Res))
		r.CQESeen(cqe)
	}
	rawOK(t, r, "cancel multishot accept", func(s *SQE) { s.PrepCancel64(60, 0) })
	rawReap(t, r, 1)
	for i, prep := range []func(s *SQE){
		func(s *SQE) { s.PrepAcceptDirect(ln, nil, nil, 0, 1) },
		func(s *SQE) { s.PrepMultishotAcceptDirect(ln, nil, nil, 0) },
	} {
		sqe = r.GetSQE()
		prep(sqe)
		sqe.SetUserData(70)
		r.Submit()
		c, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		defer unix.Close(c)
		unix.Connect(c, sa)
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil || cqe.UserData != 70 || cqe.Res < 0 {
			t.Fatalf("accept direct %d: %+v %v", i, cqe, err)
		}
		r.CQESeen(cqe)
		if i == 1 {
			rawOK(t, r, "cancel", func(s *SQE) { s.PrepCancel64(70, 0) })
			rawReap(t, r, 1)
		}
	}
}

func TestRecvmsgMultishotHelpers(t *testing.T) {
	r := rawRing(t, 8, nil)
	const entries, size, bgid = 4, 256, 2
	br, err := r.SetupBufRing(entries, bgid)
	if err != nil {
		t.Fatal(err)
	}
	defer r.FreeBufRing(br, entries, bgid)
	mem := rawMmap(t, entries*size)
	for i := 0; i < entries; i++ {
		br.Add(mem[i*size:(i+1)*size], uint16(i), BufRingMask(entries), i)
	}
	br.Advance(entries)
	u1, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	u2, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	defer unix.Close(u1)
	defer unix.Close(u2)
	unix.Bind(u2, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	unix.Bind(u1, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err := unix.SetsockoptInt(u2, unix.IPPROTO_IP, unix.IP_RECVTTL, 1); err != nil {
		t.Fatal(err)
	}
	dst, _ := unix.Getsockname(u2)
	src, _ := unix.Getsockname(u1)
	msgh := &unix.Msghdr{Namelen: unix.SizeofSockaddrInet4, Controllen: 32}
	rawPin(t, msgh)
	sqe := r.GetSQE()
	sqe.PrepRecvmsgMultishot(u2, msgh, 0)
	sqe.SetFlags(SQEBufferSelect)
	sqe.BufIndex = bgid
	sqe.SetUserData(5)
	r.Submit()
	if err := unix.Sendto(u1, []byte("datagram!"), 0, dst); err != nil {
		t.Fatal(err)
	}
	cqe, err := r.WaitCQETimeout(5 * time.Second)
	if err != nil || cqe.Res < 0 || cqe.Flags&CQEFMore == 0 {
		t.Fatalf("recvmsg multishot %+v %v", cqe, err)
	}
	bid, _ := cqe.BufferID()
	b := mem[int(bid)*size : int(bid)*size+int(cqe.Res)]
	o := RecvmsgValidate(b, msgh)
	if o == nil {
		t.Fatalf("RecvmsgValidate rejected a %d-byte buffer", len(b))
	}
	if RecvmsgValidate(b[:16], msgh) != nil {
		t.Fatal("RecvmsgValidate accepted a buffer shorter than the header areas")
	}
	if string(o.PayloadBytes(int(cqe.Res), msgh)) != "datagram!" || o.PayloadLength(int(cqe.Res), msgh) != 9 || o.Payloadlen != 9 {
		t.Fatalf("payload %q len %d", o.PayloadBytes(int(cqe.Res), msgh), o.Payloadlen)
	}
	name := (*unix.RawSockaddrInet4)(o.Name())
	if o.Namelen != unix.SizeofSockaddrInet4 || name.Family != unix.AF_INET || len(o.NameBytes(msgh)) != unix.SizeofSockaddrInet4 {
		t.Fatalf("name %+v len %d", name, o.Namelen)
	}
	if p := int(name.Port>>8 | name.Port<<8); p != src.(*unix.SockaddrInet4).Port {
		t.Fatalf("source port %d", p)
	}
	cm := o.CmsgFirstHdr(msgh)
	if cm == nil || cm.Level != unix.IPPROTO_IP || cm.Type != unix.IP_TTL {
		t.Fatalf("first cmsg %+v (controllen %d)", cm, o.Controllen)
	}
	if next := o.CmsgNextHdr(msgh, cm); next != nil {
		t.Fatalf("unexpected second cmsg %+v", next)
	}
	r.CQESeen(cqe)
	rawOK(t, r, "cancel", func(s *SQE) { s.PrepCancel64(5, 0) })
	rawReap(t, r, 1)
}
