package posixaio

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// The tests here make the real kernel refuse what a restricted system
// refuses (a pids cgroup or RLIMIT_NPROC that allows no new thread, a
// seccomp profile without clone3, no descriptor left for an eventfd), with a
// seccomp filter on one locked thread (testutil.DenySyscalls). Threads that
// thread creates inherit the filter; glibc creates its AIO threads from the
// thread whose aio_read finds no idle one, so requests submitted on the
// filtered thread see the refusal. The tests of refused thread creation run
// in a fresh child process (testutil.InChild), where glibc has no AIO
// thread yet: a refused thread creation only fails aio_read while none runs.

// noThreads refuses every new thread: clone3 as a kernel before 5.3 (glibc
// then falls back to clone) and clone of a thread with EAGAIN, as
// RLIMIT_NPROC or a full pids cgroup give pthread_create.
var noThreads = []testutil.SyscallRule{
	{Nr: unix.SYS_CLONE3, Arg: -1, Errno: unix.ENOSYS},
	{Nr: unix.SYS_CLONE, Arg: 0, AnyBit: unix.CLONE_THREAD, Errno: unix.EAGAIN},
}

// noClone3 refuses clone3 only (kernels before 5.3, older seccomp
// profiles): glibc falls back to clone, and everything works.
var noClone3 = noThreads[:1]

// TestRestrictedNoThreadRaw: when glibc can start no thread and none runs,
// aio_read, aio_write, aio_fsync and lio_listio fail with -1 EAGAIN (POSIX:
// "the request could not be queued"), aio_error says EAGAIN, and the aiocb
// is not in progress: it can be freed or submitted again (which works once
// threads can be created).
func TestRestrictedNoThreadRaw(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	live := LiveAiocbs()
	want := pattern(4096, 9)
	fd, _ := tempFile(t, want)
	buf := make([]byte, len(want))
	a := NewAiocb()
	if err := a.Prep(fd, buf, 0); err != nil {
		t.Fatal(err)
	}
	lio := []*Aiocb{NewAiocb(), NewAiocb()}
	for _, b := range lio {
		b.Prep(fd, make([]byte, 16), 0)
		b.SetLioOpcode(LioRead)
	}
	var rerr, werr, ferr, nowait, wait error
	var afterRead, afterLio error
	var ret int
	testutil.OnFilteredThread(t, noThreads, func() {
		rerr = a.Read()
		afterRead = a.Error()
		ret, _ = a.Return()
		werr = a.Write()
		ferr = a.Fsync(OSync)
		nowait = LioListio(LioNowait, lio, nil)
		wait = LioListio(LioWait, lio, nil)
		afterLio = lio[0].Error()
	})
	for _, c := range []struct {
		what string
		got  error
	}{{"aio_read", rerr}, {"aio_write", werr}, {"aio_fsync", ferr}, {"lio_listio(LIO_NOWAIT)", nowait}, {"lio_listio(LIO_WAIT)", wait}} {
		if c.got != unix.EAGAIN {
			t.Errorf("%s with no thread to be had: %v, want EAGAIN", c.what, c.got)
		}
	}
	if afterRead != unix.EAGAIN || afterLio != unix.EAGAIN || ret != 0 {
		t.Errorf("after the refusal: aio_error %v (lio member %v), aio_return %d; want EAGAIN, EAGAIN, 0", afterRead, afterLio, ret)
	}
	// Not in progress: the aiocb is the caller's again.
	if err := a.SetBuf(buf); err != nil {
		t.Errorf("SetBuf after the refusal: %v", err)
	}
	// On an unrestricted thread the same aiocb works.
	if err := a.Read(); err != nil {
		t.Fatalf("aio_read on a thread that may create threads: %v", err)
	}
	if err := waitDone(t, a); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Return(); n != len(want) || err != nil || !bytes.Equal(buf, want) {
		t.Errorf("read again: %d, %v (data ok %v)", n, err, bytes.Equal(buf, want))
	}
	for _, b := range append(lio, a) {
		if err := b.Free(); err != nil {
			t.Errorf("Free: %v", err)
		}
	}
	if n := LiveAiocbs(); n != live {
		t.Errorf("live aiocbs %d -> %d", live, n)
	}
}

// TestRestrictedNoThreadQueue: the same refusal through the handle layer, in
// both notification modes: Queue.Read, Write and Fsync and the File calls
// return EAGAIN at once (no handle, nothing in flight, no pin or operation
// left), the queue keeps working on a thread that may create threads, and
// Close returns.
func TestRestrictedNoThreadQueue(t *testing.T) {
	for name, mode := range map[string]NotifyMode{"suspend": NotifySuspend, "thread": NotifyThread} {
		t.Run(name, func(t *testing.T) {
			if testutil.InChild(t) {
				noThreadQueue(t, mode)
			}
		})
	}
}

func noThreadQueue(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	want := pattern(8192, 5)
	fd, _ := tempFile(t, want)
	q, err := NewQueueOptions(4, QueueOptions{Notify: mode})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFile(q, fd)
	buf := make([]byte, 4096)
	type res struct {
		what string
		h    bool
		n    int
		err  error
	}
	var got []res
	testutil.OnFilteredThread(t, noThreads, func() {
		h, err := q.Read(fd, buf, 0)
		got = append(got, res{"Queue.Read", h != nil, 0, err})
		h, err = q.Write(fd, buf, 0)
		got = append(got, res{"Queue.Write", h != nil, 0, err})
		h, err = q.Fsync(fd, OSync)
		got = append(got, res{"Queue.Fsync", h != nil, 0, err})
		n, err := f.ReadAt(buf, 0)
		got = append(got, res{"File.ReadAt", false, n, err})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err = f.WriteAtContext(ctx, buf, 0)
		cancel()
		got = append(got, res{"File.WriteAtContext", false, n, err})
		got = append(got, res{"File.Sync", false, 0, f.Sync()})
	})
	for _, r := range got {
		if r.h || r.n != 0 || r.err != unix.EAGAIN {
			t.Errorf("%s with no thread to be had: handle %v, n %d, %v; want no handle, 0, EAGAIN", r.what, r.h, r.n, r.err)
		}
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after the refusals", n)
	}
	// The queue still works where threads can be created.
	if n, err := f.ReadAt(buf, 4096); n != len(buf) || err != nil || !bytes.Equal(buf, want[4096:]) {
		t.Errorf("ReadAt afterwards: %d, %v", n, err)
	}
	if err := testutil.CloseWithin(t, q, 10*time.Second, "Queue"); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestRestrictedNoClone3: without clone3 glibc starts its threads with clone
// and nothing changes: requests submitted on such a thread (raw, Queue in
// both modes, File) complete with their data.
func TestRestrictedNoClone3(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	testutil.CheckLeaks(t)
	want := pattern(4096, 1)
	fd, _ := tempFile(t, want)
	qs := map[string]*Queue{}
	for name, mode := range map[string]NotifyMode{"suspend": NotifySuspend, "thread": NotifyThread} {
		q, err := NewQueueOptions(4, QueueOptions{Notify: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		qs[name] = q
	}
	check := func(what string, n int, err error, buf []byte) {
		t.Helper()
		if n != len(want) || err != nil || !bytes.Equal(buf, want) {
			t.Errorf("%s without clone3: %d, %v (data ok %v)", what, n, err, bytes.Equal(buf, want))
		}
	}
	testutil.OnFilteredThread(t, noClone3, func() {
		buf := make([]byte, len(want))
		a := NewAiocb()
		defer a.Free()
		a.Prep(fd, buf, 0)
		if err := a.Read(); err != nil {
			t.Errorf("aio_read without clone3: %v", err)
			return
		}
		for deadline := time.Now().Add(10 * time.Second); a.Error() == unix.EINPROGRESS && time.Now().Before(deadline); {
			Suspend([]*Aiocb{a}, 100*time.Millisecond)
		}
		if a.Error() == unix.EINPROGRESS {
			t.Errorf("aio_read without clone3 still in progress after 10 s")
			a.Cancel()
			for a.Error() == unix.EINPROGRESS {
				Suspend([]*Aiocb{a}, time.Second)
			}
		}
		n, err := a.Return()
		check("aio_read", n, err, buf)
		for name, q := range qs {
			buf := make([]byte, len(want))
			h, err := q.Read(fd, buf, 0)
			if err != nil {
				t.Errorf("Queue.Read (%s) without clone3: %v", name, err)
				continue
			}
			n, err := h.Wait(context.Background())
			check("Queue.Read ("+name+")", n, err, buf)
			buf = make([]byte, len(want))
			n, err = NewFile(q, fd).ReadAt(buf, 0)
			check("File.ReadAt ("+name+")", n, err, buf)
		}
	})
}

// TestRestrictedNoEventfd: with eventfd2 failing (EMFILE: no descriptor
// left), a NotifyThread queue and a ThreadSink, which need one, fail to be
// created with that error and leave nothing behind; a NotifySuspend queue
// needs none and works.
func TestRestrictedNoEventfd(t *testing.T) {
	testutil.CheckLeaks(t)
	want := pattern(4096, 7)
	fd, _ := tempFile(t, want)
	live := LiveAiocbs()
	testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_EVENTFD2, Arg: -1, Errno: unix.EMFILE}}, func() {
		if q, err := NewQueueOptions(4, QueueOptions{Notify: NotifyThread}); !errors.Is(err, unix.EMFILE) || q != nil {
			t.Errorf("NewQueueOptions(NotifyThread) without an eventfd: %v, %v; want nil, EMFILE", q, err)
			if q != nil {
				q.Close()
			}
		}
		if s, err := NewThreadSink(16); !errors.Is(err, unix.EMFILE) || s != nil {
			t.Errorf("NewThreadSink without an eventfd: %v, %v; want nil, EMFILE", s, err)
			if s != nil {
				s.Close()
			}
		}
		q, err := NewQueue(4)
		if err != nil {
			t.Errorf("NewQueue (NotifySuspend) without an eventfd: %v", err)
			return
		}
		defer q.Close()
		buf := make([]byte, len(want))
		if n, err := NewFile(q, fd).ReadAt(buf, 0); n != len(want) || err != nil || !bytes.Equal(buf, want) {
			t.Errorf("ReadAt through a NotifySuspend queue without an eventfd: %d, %v", n, err)
		}
	})
	if n := LiveAiocbs(); n != live {
		t.Errorf("live aiocbs %d -> %d", live, n)
	}
}
