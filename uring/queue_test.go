package uring

import (
	"errors"
	"testing"
	"time"

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
	// More iovecs than UIO_MAXIOV: the kernel's EINVAL.
	many := make([][]byte, 1025)
	for i := range many {
		many[i] = make([]byte, 1)
	}
	h, err = q.Readv(fd, many, 0)
	mustErrno(t, h, err, unix.EINVAL)
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
	// Bad pointers are the kernel's business: EFAULT, never a panic.
	h, err = q.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, nil)
	mustErrno(t, h, err, unix.EFAULT)
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
	// A negative duration is a zero timeout, not an error.
	h, err = q.Timeout(-time.Second, 0, 0)
	mustErrno(t, h, err, unix.ETIME)
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
	lfd, sa := loopbackListener(t, 8)
	defer unix.Close(lfd)
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
