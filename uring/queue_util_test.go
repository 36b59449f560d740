package uring

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// newTestQueue returns a queue closed at the end of the test, after the
// leak check is armed (cleanups run last-in first-out, so Close runs first).
func newTestQueue(t testing.TB, c QueueConfig) *Queue {
	t.Helper()
	testutil.CheckLeaks(t)
	if c.Entries == 0 {
		c.Entries = 64
	}
	q, err := NewQueueConfig(c)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSQPollPerm) {
		testutil.SkipNoPrivilege(t, "io_uring_setup: "+err.Error())
	}
	if err != nil {
		t.Fatalf("NewQueueConfig(%+v): %v", c, err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Queue.Close: %v", err)
		}
	})
	return q
}

// waitRes waits (at most 10s) and returns the handle's result.
func waitRes(t testing.TB, h *completion.Handle, err error) (int, error) {
	t.Helper()
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, werr := h.Wait(ctx)
	if errors.Is(werr, context.DeadlineExceeded) {
		t.Fatalf("operation did not complete in 10s")
	}
	return n, werr
}

// mustRes is waitRes that fails the test unless the result is want.
func mustRes(t testing.TB, h *completion.Handle, err error, want int) {
	t.Helper()
	n, werr := waitRes(t, h, err)
	if werr != nil || n != want {
		t.Fatalf("result = %d, %v; want %d, nil", n, werr, want)
	}
}

// mustErrno is waitRes that fails the test unless the result is errno e.
func mustErrno(t testing.TB, h *completion.Handle, err error, e unix.Errno) {
	t.Helper()
	n, werr := waitRes(t, h, err)
	if !errors.Is(werr, e) {
		t.Fatalf("result = %d, %v; want %v", n, werr, e)
	}
}

// testPipe returns a pipe closed at the end of the test.
func testPipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(p[0])
		unix.Close(p[1])
	})
	return p[0], p[1]
}

// tempFile creates a file in a directory that supports O_DIRECT and returns
// its path and a read-write descriptor closed at the end of the test.
func tempFile(t testing.TB, content []byte) (string, int) {
	t.Helper()
	path := testutil.TempDir(t) + "/f"
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if len(content) > 0 {
		if n, err := unix.Pwrite(fd, content, 0); err != nil || n != len(content) {
			t.Fatalf("pwrite: %d, %v", n, err)
		}
	}
	return path, fd
}

// setGCPercent sets GOGC and returns a function restoring the old value.
func setGCPercent(p int) func() {
	old := debug.SetGCPercent(p)
	return func() { debug.SetGCPercent(old) }
}

func runtimeGC() { runtime.GC() }

// closeWithin closes q and fails the test if Close errs or has not returned
// after d (it waits for every operation in flight).
func closeWithin(t *testing.T, q *Queue, d time.Duration) {
	t.Helper()
	if err := testutil.CloseWithin(t, q, d, "Queue"); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// loopbackListener returns a TCP socket listening with backlog on an
// ephemeral port of 127.0.0.1, and its address; the caller closes it.
func loopbackListener(t testing.TB, backlog int) (int, unix.Sockaddr) {
	t.Helper()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		err = unix.Listen(lfd, backlog)
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(lfd)
	}
	if err != nil {
		unix.Close(lfd)
		t.Fatal(err)
	}
	return lfd, sa
}
