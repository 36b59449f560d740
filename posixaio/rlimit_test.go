package posixaio

// Resource limits for real (internal/testutil/rlimit.go): RLIMIT_NOFILE
// exhausted on the test process, RLIMIT_AS tight in a child process. Each
// refusal must come back as the C errno, with nothing leaked, and the
// queues must work again once the limit is lifted.

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// limitWait waits (at most 10 s) for h.
func limitWait(t *testing.T, h *completion.Handle, err error, what string) (int, error) {
	t.Helper()
	if err != nil {
		return 0, err
	}
	return testutil.WaitHandle(t, h, what)
}

// TestRlimitNofile: with no descriptor left, a NotifyThread Queue and a
// ThreadSink (each an eventfd) fail with EMFILE as an *os.SyscallError
// naming eventfd, and a NotifySuspend Queue (none) is made; Queues of both
// modes made before keep completing requests (glibc's threads and the
// trampoline need no descriptor). After the limit is lifted everything
// works, and no descriptor, pin or operation is left.
func TestRlimitNofile(t *testing.T) {
	testutil.CheckLeaks(t)
	fd, _ := tempFile(t, []byte("0123456789abcdef"))
	sus := newQueue(t, 4, NotifySuspend)
	thr := newQueue(t, 4, NotifyThread)
	// Warm glibc up (its first request allocates its pool and thread).
	h, err := sus.Read(fd, make([]byte, 1), 0)
	if n, err := limitWait(t, h, err, "Read"); n != 1 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	fd0 := testutil.FDCount()
	e := testutil.ExhaustFDs(t)
	isEMFILE := func(err error) bool {
		var se *os.SyscallError
		return errors.Is(err, unix.EMFILE) && errors.As(err, &se) && strings.Contains(err.Error(), "eventfd")
	}
	for i := 0; i < 3; i++ {
		if q, err := NewQueueOptions(4, QueueOptions{Notify: NotifyThread}); q != nil || !isEMFILE(err) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueueOptions(NotifyThread) with no descriptor left: %v, %v; want an *os.SyscallError eventfd EMFILE", q, err)
		}
		if s, err := NewThreadSink(16); s != nil || !isEMFILE(err) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("NewThreadSink with no descriptor left: %v, %v; want an *os.SyscallError eventfd EMFILE", s, err)
		}
		q, err := NewQueue(4)
		if err != nil {
			t.Fatalf("NewQueue(NotifySuspend) with no descriptor left: %v", err)
		}
		for _, c := range []struct {
			name string
			q    *Queue
		}{{"new NotifySuspend", q}, {"NotifySuspend", sus}, {"NotifyThread", thr}} {
			buf := make([]byte, 4)
			h, err := c.q.Read(fd, buf, 4)
			if n, err := limitWait(t, h, err, c.name); n != 4 || err != nil || string(buf) != "4567" {
				t.Errorf("Read on a %s Queue with no descriptor left: %d, %v, %q", c.name, n, err, buf)
			}
		}
		if err := q.Close(); err != nil {
			t.Errorf("Close with no descriptor left: %v", err)
		}
	}
	e.Restore()
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refusals\n%s", fd0, n, testutil.ListFDs())
	}
	q := newQueue(t, 4, NotifyThread)
	buf := make([]byte, 4)
	h, err = q.Read(fd, buf, 8)
	if n, err := limitWait(t, h, err, "NotifyThread"); n != 4 || err != nil || string(buf) != "89ab" {
		t.Errorf("Read on a NotifyThread Queue after the limit was lifted: %d, %v, %q", n, err, buf)
	}
	s, err := NewThreadSink(16)
	if err != nil {
		t.Fatalf("NewThreadSink after the limit was lifted: %v", err)
	}
	s.Close()
}

// TestRlimitAS, in a child process (a fresh glibc AIO state) whose address
// space has 256 MiB left: a NotifyThread Queue or ThreadSink of a huge size
// fails with ENOMEM (C memory), leaving no descriptor; AioInit with a huge
// aio_num (glibc allocates and writes that many 64-byte request entries
// at the first submission: 1<<28 is 16 GiB) must not leave every request
// of the process failing with EAGAIN for good (or, without a limit, get
// the process killed for memory): requests work.
func TestRlimitAS(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	testutil.CheckLeaks(t)
	testutil.SetSoftRlimit(t, unix.RLIMIT_AS, testutil.VMSize(t)+256<<20)
	fd0 := testutil.FDCount()
	for i := 0; i < 3; i++ {
		if q, err := NewQueueOptions(completion.MaxTableSize, QueueOptions{Notify: NotifyThread}); q != nil || !errors.Is(err, unix.ENOMEM) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueueOptions(%d, NotifyThread) with 256 MiB of address space left: %v, %v; want ENOMEM", completion.MaxTableSize, q, err)
		}
		if s, err := NewThreadSink(1 << 30); s != nil || !errors.Is(err, unix.ENOMEM) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("NewThreadSink(1<<30) with 256 MiB of address space left: %v, %v; want ENOMEM", s, err)
		}
	}
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refusals\n%s", fd0, n, testutil.ListFDs())
	}

	AioInit(Aioinit{Threads: 4, Num: 1 << 28})
	fd, _ := tempFile(t, []byte("0123456789abcdef"))
	for _, mode := range []NotifyMode{NotifySuspend, NotifyThread} {
		q := newQueue(t, 4, mode)
		for i := 0; i < 3; i++ {
			buf := make([]byte, 4)
			h, err := q.Read(fd, buf, 4)
			if n, err := limitWait(t, h, err, "Read"); n != 4 || err != nil || string(buf) != "4567" {
				t.Fatalf("Read (mode %d) after AioInit(Num: 1<<28) with 256 MiB of address space left: %d, %v, %q", mode, n, err, buf)
			}
		}
	}
	a := NewAiocb()
	defer a.Free()
	buf := make([]byte, 4)
	a.SetFildes(fd)
	a.SetBuf(buf)
	a.SetOffset(8)
	if err := a.Read(); err != nil {
		t.Fatalf("aio_read after AioInit(Num: 1<<28): %v", err)
	}
	if err := waitDone(t, a); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Return(); n != 4 || err != nil || string(buf) != "89ab" {
		t.Errorf("aio_read: %d, %v, %q", n, err, buf)
	}
}
