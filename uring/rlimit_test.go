package uring

// Resource limits for real (internal/testutil/rlimit.go): RLIMIT_NOFILE
// exhausted, RLIMIT_MEMLOCK small on a thread without CAP_IPC_LOCK, and
// RLIMIT_AS tight in a child process. Each refusal must come back as the C
// errno, with nothing leaked, and everything must work again once the limit
// is lifted.

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestRlimitNofileNewQueue: with no descriptor left, NewQueue fails with
// EMFILE from io_uring_setup; with one left (the ring), with EMFILE from
// eventfd, and the ring is closed again. Nothing leaks, and once the
// limit is lifted NewQueue works.
// limitWait waits (at most 10 s) for h.
func limitWait(t *testing.T, h *completion.Handle, what string) (int, error) {
	t.Helper()
	return testutil.WaitHandle(t, h, what)
}

func TestRlimitNofileNewQueue(t *testing.T) {
	testutil.CheckLeaks(t)
	rawRing(t, 2, nil).Close() // skips without io_uring
	fd0 := testutil.FDCount()
	e := testutil.ExhaustFDs(t)
	for _, free := range []int{0, 1} {
		if free > 0 {
			e.Free(free)
		}
		for i := 0; i < 3; i++ {
			q, err := NewQueue(8, nil)
			if q != nil || !errors.Is(err, unix.EMFILE) || errors.Is(err, ErrUnavailable) {
				if q != nil {
					q.Close()
				}
				t.Fatalf("NewQueue with %d descriptors left: %v, %v; want nil and EMFILE (not ErrUnavailable)", free, q, err)
			}
			if free == 1 && !strings.Contains(err.Error(), "eventfd") {
				t.Errorf("NewQueue with a descriptor for the ring only: %q does not name eventfd", err)
			}
			r, err := New(8, nil)
			if free == 0 && (r != nil || !errors.Is(err, unix.EMFILE)) {
				t.Fatalf("New with no descriptor left: %v, %v; want EMFILE", r, err)
			}
			if r != nil {
				r.Close()
			}
		}
		e.Refill()
	}
	e.Restore()
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refused NewQueues\n%s", fd0, n, testutil.ListFDs())
	}
	q := newTestQueue(t, QueueConfig{Entries: 8})
	h, err := q.Nop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limitWait(t, h, "Nop after the limit was lifted"); err != nil {
		t.Fatal(err)
	}
}

// TestRlimitNofileOps: a Queue made before the descriptor table filled up
// keeps working, and the operations that make a descriptor (Openat,
// OpenFile, Socket, Accept) complete with EMFILE through their handles;
// after the limit is lifted the same operations succeed (the connection
// that Accept could not take is still there), and nothing leaks.
func TestRlimitNofileOps(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	path, _ := tempFile(t, []byte("data"))

	lfd, sa := loopbackListener(t, 4)
	defer unix.Close(lfd)
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	if err := unix.Connect(cfd, sa); err != nil {
		t.Fatal(err)
	}

	probe, _ := q.Ring().Probe()
	hasSocket := probe != nil && probe.OpSupported(OpSocket)

	fd0 := testutil.FDCount()
	e := testutil.ExhaustFDs(t)
	check := func(what string, h *completion.Handle, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s with no descriptor left: submit: %v", what, err)
			return
		}
		n, err := limitWait(t, h, what)
		if !errors.Is(err, unix.EMFILE) {
			if err == nil {
				unix.Close(n)
			}
			t.Errorf("%s with no descriptor left: %d, %v; want EMFILE", what, n, err)
		}
	}
	for i := 0; i < 3; i++ {
		h, err := q.Openat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		check("Openat", h, err)
		h, err = q.Accept(lfd, unix.SOCK_CLOEXEC)
		check("Accept", h, err)
		if hasSocket {
			h, err = q.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0)
			check("Socket", h, err)
		}
		f, err := OpenFile(q, path, unix.O_RDONLY, 0)
		var pe *fs.PathError
		if f != nil || !errors.As(err, &pe) || !errors.Is(err, unix.EMFILE) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenFile with no descriptor left: %v, %v; want a *fs.PathError with EMFILE", f, err)
		}
		// What needs no descriptor still works.
		h, err = q.Nop()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limitWait(t, h, "Nop"); err != nil {
			t.Errorf("Nop with no descriptor left: %v", err)
		}
	}
	e.Restore()
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refused operations\n%s", fd0, n, testutil.ListFDs())
	}

	h, err := q.Openat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fd, err := limitWait(t, h, "Openat"); err != nil {
		t.Errorf("Openat after the limit was lifted: %v", err)
	} else {
		unix.Close(fd)
	}
	h, err = q.Accept(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if fd, err := limitWait(t, h, "Accept"); err != nil {
		t.Errorf("Accept after the limit was lifted: %v", err)
	} else {
		unix.Close(fd)
	}
	if hasSocket {
		h, err = q.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fd, err := limitWait(t, h, "Socket"); err != nil {
			t.Errorf("Socket after the limit was lifted: %v", err)
		} else {
			unix.Close(fd)
		}
	}
	f, err := OpenFile(q, path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("OpenFile after the limit was lifted: %v", err)
	}
	f.Close()
}

// TestRlimitNofileClose: a Queue closes while the descriptor table is full,
// with an operation in flight that the close cancels.
func TestRlimitNofileClose(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{Entries: 8})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	h, err := q.Read(p[0], make([]byte, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ExhaustFDs(t)
	if err := testutil.CloseWithin(t, q, 10*time.Second, "Queue with no descriptor left"); err != nil {
		t.Errorf("Close with no descriptor left: %v", err)
	}
	if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) && !errors.Is(err, unix.EINTR) {
		t.Errorf("pipe read cancelled by Close: %v, want ECANCELED", err)
	}
}

// memlockTestLimit is the RLIMIT_MEMLOCK of the memlock tests.
const memlockTestLimit = 64 << 10

// TestRlimitMemlockRegisterBuffers: RLIMIT_MEMLOCK counts what
// io_uring_register_buffers pins (for a ring made without CAP_IPC_LOCK):
// 1 MiB under a 64 KiB limit fails with the kernel's ENOMEM as a
// unix.Errno, and the ring keeps working (a smaller registration fits);
// once the limit is lifted the same registration works. cmem.Alloc
// (malloc) is not locked memory: the limit does not touch it.
func TestRlimitMemlockRegisterBuffers(t *testing.T) {
	testutil.CheckLeaks(t)
	rawRing(t, 2, nil).Close() // skips without io_uring
	big, err := cmem.Alloc(1<<20, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Free()
	small, err := cmem.Alloc(4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Free()
	iov := func(b *cmem.Buf) []unix.Iovec {
		v := unix.Iovec{Base: (*byte)(b.Ptr())}
		v.SetLen(b.Len())
		return []unix.Iovec{v}
	}
	testutil.SetSoftRlimit(t, unix.RLIMIT_MEMLOCK, memlockTestLimit)
	var (
		r      *Ring
		regErr error
	)
	testutil.WithoutCapability(t, unix.CAP_IPC_LOCK, func() {
		r, err = New(8, nil)
		if err != nil {
			return
		}
		// malloc'd memory is not locked memory.
		b, aerr := cmem.Alloc(4<<20, 4096)
		if aerr != nil {
			t.Errorf("cmem.Alloc of 4 MiB under RLIMIT_MEMLOCK %d: %v", memlockTestLimit, aerr)
		} else {
			b.Free()
		}
		regErr = r.RegisterBuffers(iov(big))
	})
	if err != nil {
		t.Fatalf("New without CAP_IPC_LOCK under RLIMIT_MEMLOCK %d: %v", memlockTestLimit, err)
	}
	defer r.Close()
	if regErr == nil {
		t.Fatalf("RegisterBuffers of 1 MiB without CAP_IPC_LOCK under RLIMIT_MEMLOCK %d succeeded", memlockTestLimit)
	}
	var errno unix.Errno
	if !errors.As(regErr, &errno) || errno != unix.ENOMEM {
		t.Fatalf("RegisterBuffers of 1 MiB over RLIMIT_MEMLOCK: %v (%T), want unix.ENOMEM", regErr, regErr)
	}
	t.Logf("RegisterBuffers of 1 MiB under RLIMIT_MEMLOCK %d: %v", memlockTestLimit, regErr)
	// The refusal left no buffers registered: a fixed read finds none.
	if err := r.UnregisterBuffers(); !errors.Is(err, unix.ENXIO) {
		t.Errorf("UnregisterBuffers after the refused registration: %v, want ENXIO (none registered)", err)
	}
	if err := r.RegisterBuffers(iov(small)); err != nil {
		t.Errorf("RegisterBuffers of 4 KiB under RLIMIT_MEMLOCK %d: %v", memlockTestLimit, err)
	} else if err := r.UnregisterBuffers(); err != nil {
		t.Error(err)
	}
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old)
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: old.Max, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	if old.Max != unix.RLIM_INFINITY && old.Max < 2<<20 {
		testutil.SkipNoPrivilege(t, "an RLIMIT_MEMLOCK hard limit of 2 MiB")
	}
	if err := r.RegisterBuffers(iov(big)); err != nil {
		t.Errorf("RegisterBuffers of 1 MiB with RLIMIT_MEMLOCK %d: %v", old.Max, err)
	} else if err := r.UnregisterBuffers(); err != nil {
		t.Error(err)
	}
}

// TestRlimitMemlockRings: io_uring_mlock_size says that rings count
// against RLIMIT_MEMLOCK only before Linux 5.12 (0 from then on), but the
// kernel here (6.18) charges them again, to the user, when the creating
// thread lacks CAP_IPC_LOCK: a ring of 32768 entries (3 MiB) under a
// 64 KiB limit fails with ENOMEM, while one of 8 entries (2 pages) fits.
// Either way the refusal is the errno (for NewQueue with the limit named),
// nothing leaks, and once the limit is lifted the big ring works. A
// provided-buffer ring (SetupBufRing, Linux 5.19) of 32768 entries
// (512 KiB) works or fails with the errno.
func TestRlimitMemlockRings(t *testing.T) {
	testutil.CheckLeaks(t)
	rawRing(t, 2, nil).Close()
	const entries = 32768
	need, err := MlockSize(entries, 0)
	if err != nil {
		t.Fatalf("MlockSize(%d): %v", entries, err)
	}
	t.Logf("io_uring_mlock_size(%d) = %d on Linux %s", entries, need, testutil.Release())
	testutil.SetSoftRlimit(t, unix.RLIMIT_MEMLOCK, memlockTestLimit)
	fd0 := testutil.FDCount()
	var (
		smallErr, rerr, qerr, brErr error
		brWorked                    bool
	)
	testutil.WithoutCapability(t, unix.CAP_IPC_LOCK, func() {
		r, err := New(8, nil)
		smallErr = err
		if err != nil {
			return
		}
		br, err := r.SetupBufRing(entries, 1)
		brErr = err
		if err == nil {
			brWorked = true
			if err := r.FreeBufRing(br, entries, 1); err != nil {
				t.Errorf("FreeBufRing: %v", err)
			}
		}
		r.Close()
		for i := 0; i < 3; i++ {
			r, err := New(entries, nil)
			if rerr = err; err == nil {
				r.Close()
			}
			q, err := NewQueue(entries, nil)
			if qerr = err; err == nil {
				q.Close()
			}
		}
	})
	if smallErr != nil {
		t.Fatalf("a ring of 8 entries without CAP_IPC_LOCK under RLIMIT_MEMLOCK %d: %v", memlockTestLimit, smallErr)
	}
	for _, c := range []struct {
		what string
		err  error
	}{{"New", rerr}, {"NewQueue", qerr}} {
		var errno unix.Errno
		switch {
		case c.err == nil:
			t.Logf("%s(%d) without CAP_IPC_LOCK under RLIMIT_MEMLOCK %d: rings not accounted", c.what, entries, memlockTestLimit)
		case !errors.As(c.err, &errno) || errno != unix.ENOMEM:
			t.Errorf("%s(%d) under RLIMIT_MEMLOCK %d: %v (%T), want unix.ENOMEM", c.what, entries, memlockTestLimit, c.err, c.err)
		default:
			t.Logf("%s(%d) without CAP_IPC_LOCK under RLIMIT_MEMLOCK %d: %v", c.what, entries, memlockTestLimit, c.err)
		}
	}
	if qerr != nil && !strings.Contains(qerr.Error(), "RLIMIT_MEMLOCK") {
		t.Errorf("NewQueue(%d) refused under RLIMIT_MEMLOCK %d: %q does not name RLIMIT_MEMLOCK", entries, memlockTestLimit, qerr)
	}
	switch {
	case brWorked:
		t.Logf("SetupBufRing(%d) under RLIMIT_MEMLOCK %d: not accounted on Linux %s", entries, memlockTestLimit, testutil.Release())
	case errors.Is(brErr, unix.EINVAL):
		testutil.FeatureMissing(t, 5, 19, "IORING_REGISTER_PBUF_RING", brErr)
	default:
		var errno unix.Errno
		if !errors.As(brErr, &errno) {
			t.Errorf("SetupBufRing(%d) under RLIMIT_MEMLOCK %d: %v (%T), want a unix.Errno", entries, memlockTestLimit, brErr, brErr)
		}
		t.Logf("SetupBufRing(%d) under RLIMIT_MEMLOCK %d: %v", entries, memlockTestLimit, brErr)
	}
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after\n%s", fd0, n, testutil.ListFDs())
	}
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old)
	if old.Max != unix.RLIM_INFINITY && old.Max < 8<<20 {
		testutil.SkipNoPrivilege(t, "an RLIMIT_MEMLOCK hard limit of 8 MiB")
	}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: old.Max, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	testutil.WithoutCapability(t, unix.CAP_IPC_LOCK, func() {
		q, err := NewQueue(entries, nil)
		if err != nil {
			t.Errorf("NewQueue(%d) with RLIMIT_MEMLOCK %d: %v", entries, old.Max, err)
			return
		}
		q.Close()
	})
}

// TestRlimitAS, in a child process whose address space has 1 MiB left: a
// ring whose mmap does not fit fails with ENOMEM (no descriptor leaks), so
// does a small ring with a MaxInFlight of completion.MaxTableSize, whose
// handle table's Go memory does not fit (that crashed the process with the
// runtime's fatal out-of-memory error), a MaxInFlight above that is
// refused with EINVAL, and small queues still work.
func TestRlimitAS(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	rawRing(t, 2, nil).Close()
	testutil.CheckLeaks(t)
	// A ring of 32768 SQEs and 65536 CQEs maps 2 MiB SQEs + 1 MiB CQ ring.
	// Fill the address space up to 1 MiB below the limit first.
	release := testutil.LeaveAddressSpace(t) // about 1 MiB left
	fd0 := testutil.FDCount()
	for i := 0; i < 3; i++ {
		r, err := New(32768, nil)
		if r != nil || !errors.Is(err, unix.ENOMEM) {
			if r != nil {
				r.Close()
			}
			t.Fatalf("New(32768) with 1 MiB of address space left: %v, %v; want ENOMEM", r, err)
		}
		q, err := NewQueue(32768, nil)
		if q != nil || !errors.Is(err, unix.ENOMEM) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueue(32768) with 1 MiB of address space left: %v, %v; want ENOMEM", q, err)
		}
		// A ring of 8 entries fits; the handle table of 1<<20 slots
		// (128 MiB of Go memory) does not: a Go allocation failure
		// would end the process ("fatal error: out of memory").
		q, err = NewQueueConfig(QueueConfig{Entries: 8, MaxInFlight: completion.MaxTableSize})
		if q != nil || !errors.Is(err, unix.ENOMEM) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueueConfig(MaxInFlight %d) with 1 MiB of address space left: %v, %v; want ENOMEM", completion.MaxTableSize, q, err)
		}
		q, err = NewQueueConfig(QueueConfig{Entries: 8, MaxInFlight: 1 << 40})
		if q != nil || !errors.Is(err, unix.EINVAL) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueueConfig(MaxInFlight 1<<40): %v, %v; want EINVAL", q, err)
		}
	}
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refused rings\n%s", fd0, n, testutil.ListFDs())
	}
	// Under the limit still, with room again (a thread's new malloc arena
	// takes 64 MiB of address space), a small queue works.
	release()
	q, err := NewQueue(4, nil)
	if err != nil {
		t.Fatalf("NewQueue(4) under RLIMIT_AS: %v", err)
	}
	h, err := q.Nop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limitWait(t, h, "Nop"); err != nil {
		t.Error(err)
	}
	q.Close()
}
