package uring

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestEdgeEveryMethodAfterClose: every Queue method that submits returns
// ErrClosed after Close, takes no slot and pins nothing (the leak check),
// also those that pin arguments before the slot (Statx, Readv, Connect,
// Prep with pins, the multishot starters, a Link with members).
func TestEdgeEveryMethodAfterClose(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	pr, pw := testPipe(t)
	_, fd := tempFile(t, []byte("hello"))
	dir := testutil.TempDir(t)
	done := completion.Completed(0)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	bufs := [][]byte{make([]byte, 4), nil, make([]byte, 4)}
	sa := &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}
	calls := map[string]func() (*completion.Handle, error){
		"Nop":           q.Nop,
		"Read":          func() (*completion.Handle, error) { return q.Read(fd, buf, 0) },
		"Write":         func() (*completion.Handle, error) { return q.Write(fd, buf, 0) },
		"Readv":         func() (*completion.Handle, error) { return q.Readv(fd, bufs, 0) },
		"Writev":        func() (*completion.Handle, error) { return q.Writev(fd, bufs, 0) },
		"Readv2":        func() (*completion.Handle, error) { return q.Readv2(fd, bufs, 0, 0) },
		"Writev2":       func() (*completion.Handle, error) { return q.Writev2(fd, bufs, 0, 0) },
		"ReadFixed":     func() (*completion.Handle, error) { return q.ReadFixed(fd, buf, 0, 0) },
		"WriteFixed":    func() (*completion.Handle, error) { return q.WriteFixed(fd, buf, 0, 0) },
		"Fsync":         func() (*completion.Handle, error) { return q.Fsync(fd, 0) },
		"SyncFileRange": func() (*completion.Handle, error) { return q.SyncFileRange(fd, 0, 0, 0) },
		"Fallocate":     func() (*completion.Handle, error) { return q.Fallocate(fd, 0, 0, 1) },
		"Fadvise":       func() (*completion.Handle, error) { return q.Fadvise(fd, 0, 0, unix.FADV_NORMAL) },
		"Madvise":       func() (*completion.Handle, error) { return q.Madvise(buf, unix.MADV_NORMAL) },
		"Splice":        func() (*completion.Handle, error) { return q.Splice(pr, -1, fd, 0, 1, 0) },
		"Tee":           func() (*completion.Handle, error) { return q.Tee(pr, pw, 1, 0) },
		"Openat":        func() (*completion.Handle, error) { return q.Openat(unix.AT_FDCWD, dir, unix.O_RDONLY, 0) },
		"Statx": func() (*completion.Handle, error) {
			return q.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_BASIC_STATS, new(unix.Statx_t))
		},
		"CloseFD":  func() (*completion.Handle, error) { return q.CloseFD(-1) },
		"Mkdirat":  func() (*completion.Handle, error) { return q.Mkdirat(unix.AT_FDCWD, dir+"/d", 0o700) },
		"Unlinkat": func() (*completion.Handle, error) { return q.Unlinkat(unix.AT_FDCWD, dir+"/x", 0) },
		"Renameat": func() (*completion.Handle, error) {
			return q.Renameat(unix.AT_FDCWD, dir+"/x", unix.AT_FDCWD, dir+"/y", 0)
		},
		"Symlinkat": func() (*completion.Handle, error) { return q.Symlinkat("x", unix.AT_FDCWD, dir+"/s") },
		"Linkat": func() (*completion.Handle, error) {
			return q.Linkat(unix.AT_FDCWD, dir+"/x", unix.AT_FDCWD, dir+"/l", 0)
		},
		"Send":     func() (*completion.Handle, error) { return q.Send(pw, buf, 0) },
		"Recv":     func() (*completion.Handle, error) { return q.Recv(pr, buf, 0) },
		"Accept":   func() (*completion.Handle, error) { return q.Accept(pr, 0) },
		"Connect":  func() (*completion.Handle, error) { return q.Connect(pr, sa) },
		"Shutdown": func() (*completion.Handle, error) { return q.Shutdown(pr, unix.SHUT_RD) },
		"Socket":   func() (*completion.Handle, error) { return q.Socket(unix.AF_INET, unix.SOCK_STREAM, 0, 0) },
		"SendmsgBuffers": func() (*completion.Handle, error) {
			return q.SendmsgBuffers(pw, bufs, []byte{1, 2, 3}, sa, 0)
		},
		"RecvmsgBuffers": func() (*completion.Handle, error) {
			h, m, err := q.RecvmsgBuffers(pr, bufs, make([]byte, 64), 0)
			if m != nil {
				t.Error("RecvmsgBuffers after Close returned a *Msg")
			}
			return h, err
		},
		"PollAdd":       func() (*completion.Handle, error) { return q.PollAdd(pr, unix.POLLIN) },
		"Timeout":       func() (*completion.Handle, error) { return q.Timeout(time.Hour, 0, 0) },
		"Cancel":        func() (*completion.Handle, error) { return q.Cancel(done) },
		"PollRemove":    func() (*completion.Handle, error) { return q.PollRemove(done) },
		"TimeoutRemove": func() (*completion.Handle, error) { return q.TimeoutRemove(done, 0) },
		"Prep": func() (*completion.Handle, error) {
			return q.Prep(func(s *SQE) { s.PrepRead(fd, buf, 0) }, buf, bufs)
		},
		"AcceptMultishot": func() (*completion.Handle, error) {
			m, err := q.AcceptMultishot(pr, 0)
			if m != nil {
				t.Error("AcceptMultishot after Close returned a stream")
			}
			return nil, err
		},
		"PollMultishot": func() (*completion.Handle, error) {
			m, err := q.PollMultishot(pr, unix.POLLIN)
			if m != nil {
				t.Error("PollMultishot after Close returned a stream")
			}
			return nil, err
		},
		"RecvMultishot": func() (*completion.Handle, error) {
			m, err := q.RecvMultishot(pr, 1, 0)
			if m != nil {
				t.Error("RecvMultishot after Close returned a stream")
			}
			return nil, err
		},
	}
	for _, flag := range []string{"Link", "HardLink"} {
		link := q.Link
		if flag == "HardLink" {
			link = q.HardLink
		}
		calls[flag] = func() (*completion.Handle, error) {
			hs, err := link(func(l *Link) {
				l.Write(fd, buf, 0)
				l.Readv(fd, bufs, 0)
				l.Timeout(time.Hour, 0, 0)
				l.Statx(unix.AT_FDCWD, dir, 0, 0, new(unix.Statx_t))
			})
			if hs != nil {
				t.Errorf("%s after Close returned handles", flag)
			}
			return nil, err
		}
	}
	for name, call := range calls {
		h, err := call()
		if h != nil || !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, %v; want nil, ErrClosed", name, h, err)
		}
	}
	if _, err := OpenFile(q, dir+"/f", unix.O_RDWR|unix.O_CREAT, 0o600); !errors.Is(err, ErrClosed) {
		t.Errorf("OpenFile after Close: %v, want ErrClosed", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight after the calls = %d", n)
	}
}

// TestEdgeMaxInFlightOne: with a single slot held by a read of an idle
// pipe, every ordinary submission is ErrBusy, a chain of two can never fit
// (ErrLinkTooLong, not ErrBusy), a File read waits for the slot, a File
// Close during that wait is seen by the read once it gets the slot, and
// Cancel still gets through on the reserve.
func TestEdgeMaxInFlightOne(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 1})
	if q.MaxInFlight() != 1 {
		t.Fatalf("MaxInFlight = %d, want 1", q.MaxInFlight())
	}
	if q.Ring().Features()&FeatNodrop == 0 {
		testutil.SkipNoFeature(t, "IORING_FEAT_NODROP (reserve slots for removals)", unix.ENOTSUP)
	}
	pr, _ := testPipe(t)
	hold, err := q.Read(pr, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Nop(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Nop on a full table: %v, want ErrBusy", err)
	}
	if _, err := q.Link(func(l *Link) { l.Nop() }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Link of one on a full table: %v, want ErrBusy", err)
	}
	if _, err := q.Link(func(l *Link) { l.Nop(); l.Nop() }); !errors.Is(err, ErrLinkTooLong) {
		t.Fatalf("Link of two with MaxInFlight 1: %v, want ErrLinkTooLong", err)
	}
	if _, err := q.PollMultishot(pr, unix.POLLIN); !errors.Is(err, ErrBusy) {
		t.Fatalf("PollMultishot on a full table: %v, want ErrBusy", err)
	}

	// A File read of another pipe waits for the slot.
	fr, fw := testPipe(t)
	dup, err := unix.Dup(fr)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFile(q, dup, "pipe")
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := f.ReadAt(make([]byte, 4), 0)
		got <- result{n, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("File.ReadAt without a free slot returned %d, %v", r.n, r.err)
	case <-time.After(20 * time.Millisecond):
	}
	// Close while it waits: nothing of the File's is in flight yet.
	if err := f.Close(); err != nil {
		t.Fatalf("File.Close with a read waiting for a slot: %v", err)
	}
	// The reserve: the held read is cancelled although no slot is free.
	h, err := q.Cancel(hold)
	mustRes(t, h, err, 0)
	mustErrno(t, hold, nil, unix.ECANCELED)
	select {
	case r := <-got:
		if !errors.Is(r.err, fs.ErrClosed) || r.n != 0 {
			t.Fatalf("File.ReadAt after Close = %d, %v; want 0, fs.ErrClosed", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		unix.Write(fw, []byte("x")) // unblock it, then fail
		t.Fatal("File.ReadAt still blocked after its File was closed and a slot freed")
	}
	// The descriptor is closed by the last operation.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0)
		if err == unix.EBADF {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("File's descriptor still open after Close and its last read: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	mustNop(t, q)
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight at the end = %d", n)
	}
}

// mustNop submits a NOP and fails the test unless it completes with 0.
func mustNop(t *testing.T, q *Queue) {
	t.Helper()
	h, err := q.Nop()
	mustRes(t, h, err, 0)
}

// TestEdgeMultishotOneSlot: a multishot poll holding the only slot keeps
// ordinary submissions busy, but Cancel and Close of the stream take no
// slot, and the slot is free again after the final CQE.
func TestEdgeMultishotOneSlot(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 1})
	pr, pw := testPipe(t)
	m, err := q.PollMultishot(pr, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := q.Nop(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Nop beside a stream with MaxInFlight 1: %v, want ErrBusy", err)
	}
	unix.Write(pw, []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, flags, err := m.Next(ctx)
	if err != nil || res&unix.POLLIN == 0 || flags&CQEFMore == 0 {
		t.Fatalf("Next = %#x, %#x, %v; want POLLIN with F_MORE", res, flags, err)
	}
	if err := m.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Next(ctx); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("Next after Cancel: %v, want ECANCELED", err)
	}
	if _, _, err := m.Next(ctx); !errors.Is(err, ErrMultishotDone) {
		t.Fatalf("Next after the final CQE: %v, want ErrMultishotDone", err)
	}
	mustNop(t, q)
	if err := m.Close(); err != nil {
		t.Fatalf("Close of an ended stream: %v", err)
	}
}

// TestEdgePrepMultishotPollStale: a multishot poll through Prep completes
// its handle with the first CQE (F_MORE set) and frees the slot; its later
// CQEs carry the old user data and must complete nothing, in particular
// not the operation that took the same slot next. Cancel of the completed
// handle still finds the poll in the kernel.
func TestEdgePrepMultishotPollStale(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 1})
	pr, pw := testPipe(t)
	h, err := q.Prep(func(s *SQE) { s.PrepPollMultishot(pr, unix.POLLIN) })
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(pw, []byte("a"))
	n, err := waitRes(t, h, nil)
	if err != nil || n&unix.POLLIN == 0 || h.Flags()&CQEFMore == 0 {
		t.Fatalf("Prep multishot poll = %#x, %v, flags %#x; want POLLIN with F_MORE", n, err, h.Flags())
	}
	// The only slot again, for a read of another, idle pipe.
	qr, qw := testPipe(t)
	rd, err := q.Read(qr, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		unix.Write(pw, []byte("b")) // more CQEs of the poll, with F_MORE
		time.Sleep(5 * time.Millisecond)
	}
	if rd.IsDone() {
		n, err := rd.Result()
		t.Fatalf("read completed by the poll's later CQEs: %d, %v", n, err)
	}
	// The reserve: cancel the poll (the kernel still has it) ...
	c, err := q.Cancel(h)
	mustRes(t, c, err, 0)
	time.Sleep(5 * time.Millisecond) // its -ECANCELED CQE, stale as well
	if rd.IsDone() {
		t.Fatal("read completed by the poll's final CQE")
	}
	// ... and the read.
	unix.Write(qw, []byte("z"))
	mustRes(t, rd, nil, 1)
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight at the end = %d", n)
	}
}

// TestEdgeCloseRacesReserve: removals on the reserve from many goroutines
// while every ordinary slot holds a read of an idle pipe, and Close in the
// middle: every call ends with a result or ErrClosed, Close returns and
// nothing leaks.
func TestEdgeCloseRacesReserve(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8, MaxInFlight: 2})
	pr, _ := testPipe(t)
	var held []*completion.Handle
	for i := 0; i < 2; i++ {
		h, err := q.Read(pr, make([]byte, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, h)
	}
	to, err := q.Timeout(time.Hour, 0, 0)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Timeout on a full table: %v, %v", to, err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				var h *completion.Handle
				var err error
				switch (g + i) % 3 {
				case 0:
					h, err = q.Cancel(completion.Completed(0))
				case 1:
					h, err = q.PollRemove(held[0])
				default:
					h, err = q.TimeoutRemove(held[1], 0)
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if errors.Is(err, ErrBusy) {
					continue
				}
				if err != nil {
					t.Errorf("removal: %v", err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err = h.Wait(ctx)
				cancel()
				if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ECANCELED) {
					t.Errorf("removal of what is not a poll or timeout: %v, want ENOENT", err)
					return
				}
			}
		}(g)
	}
	close(start)
	time.Sleep(10 * time.Millisecond)
	closeWithin(t, q, 10*time.Second)
	wg.Wait()
	for i, h := range held {
		if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
			t.Errorf("held read %d after Close: %v, want ECANCELED", i, err)
		}
	}
}

// TestEdgeQueueSetupModes runs the handle layer on rings set up with flags
// it accepts but no other queue test uses (32-byte CQEs, SUBMIT_ALL, a
// clamped CQ size) and on SQPOLL with a single slot: reads, a chain with a
// failing member, a multishot poll, a removal on the reserve, Close.
func TestEdgeQueueSetupModes(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  QueueConfig
	}{
		{"cqe32", QueueConfig{Entries: 8, Params: &Params{Flags: SetupCQE32}}},
		{"submitall", QueueConfig{Entries: 8, Params: &Params{Flags: SetupSubmitAll}}},
		{"cqsize", QueueConfig{Entries: 8, MaxInFlight: 8, Params: &Params{Flags: SetupCQSize | SetupClamp, CQEntries: 1 << 30}}},
		{"sqpoll1", QueueConfig{Entries: 8, MaxInFlight: 1, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 5}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := newTestQueue(t, c.cfg)
			_, fd := tempFile(t, []byte("0123456789"))
			buf := make([]byte, 4)
			h, err := q.Read(fd, buf, 3)
			mustRes(t, h, err, 4)
			if string(buf) != "3456" {
				t.Fatalf("read %q", buf)
			}
			pr, pw := testPipe(t)
			if q.MaxInFlight() > 2 {
				hs, err := q.Link(func(l *Link) {
					l.Read(-1, buf, 0)
					l.Nop()
				})
				if err != nil {
					t.Fatal(err)
				}
				mustErrno(t, hs[0], nil, unix.EBADF)
				mustErrno(t, hs[1], nil, unix.ECANCELED)
				m, err := q.PollMultishot(pr, unix.POLLIN)
				if err != nil {
					t.Fatal(err)
				}
				unix.Write(pw, []byte("x"))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, flags, err := m.Next(ctx)
				cancel()
				if err != nil || res&unix.POLLIN == 0 || flags&CQEFMore == 0 {
					t.Fatalf("Next = %#x, %#x, %v", res, flags, err)
				}
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				var one [1]byte
				unix.Read(pr, one[:])
			}
			// Fill every ordinary slot with reads of the idle pipe, then
			// remove them on the reserve.
			var held []*completion.Handle
			for {
				h, err := q.Read(pr, make([]byte, 1), 0)
				if errors.Is(err, ErrBusy) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, h)
				if len(held) > q.MaxInFlight() {
					t.Fatalf("%d reads in flight with MaxInFlight %d", len(held), q.MaxInFlight())
				}
			}
			if q.Ring().Features()&FeatNodrop != 0 {
				for _, r := range held {
					c, err := q.Cancel(r)
					mustRes(t, c, err, 0)
					mustErrno(t, r, nil, unix.ECANCELED)
				}
			}
			closeWithin(t, q, 5*time.Second)
		})
	}
}

// TestEdgeLinkFailureAsKernel: whether a failed member cancels the rest of
// a plain chain is the kernel's choice per opcode (on Linux 6.x a failed
// statx, mkdirat, unlinkat, renameat, symlinkat, linkat or madvise does not
// break the link; a failed fsync, close or poll does). The handle layer
// reports what the kernel did: each chain [failing member, NOP] gives the
// same two results through Queue.Link as the same SQEs linked by hand on a
// raw ring. (Link's doc comment used to promise -ECANCELED after any
// negative result.)
func TestEdgeLinkFailureAsKernel(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r := rawRing(t, 8, nil)
	dir := testutil.TempDir(t)
	missing := dir + "/missing"
	st := new(unix.Statx_t)
	mem := make([]byte, 64)
	pMissing, _ := unix.BytePtrFromString(missing)
	pDir, _ := unix.BytePtrFromString(dir)
	pX, _ := unix.BytePtrFromString("x")
	for _, c := range []struct {
		name string
		link func(l *Link)
		raw  func(s *SQE)
		errs unix.Errno
	}{
		{"statx", func(l *Link) { l.Statx(unix.AT_FDCWD, missing, 0, 0, st) },
			func(s *SQE) { s.PrepStatx(unix.AT_FDCWD, pMissing, 0, 0, st) }, unix.ENOENT},
		{"mkdirat", func(l *Link) { l.Mkdirat(unix.AT_FDCWD, dir, 0o700) },
			func(s *SQE) { s.PrepMkdirat(unix.AT_FDCWD, pDir, 0o700) }, unix.EEXIST},
		{"unlinkat", func(l *Link) { l.Unlinkat(unix.AT_FDCWD, missing, 0) },
			func(s *SQE) { s.PrepUnlinkat(unix.AT_FDCWD, pMissing, 0) }, unix.ENOENT},
		{"renameat", func(l *Link) { l.Renameat(unix.AT_FDCWD, missing, unix.AT_FDCWD, dir+"/y", 0) },
			func(s *SQE) { s.PrepRenameat(unix.AT_FDCWD, pMissing, unix.AT_FDCWD, pX, 0) }, unix.ENOENT},
		{"symlinkat", func(l *Link) { l.Symlinkat("x", unix.AT_FDCWD, dir) },
			func(s *SQE) { s.PrepSymlinkat(pX, unix.AT_FDCWD, pDir) }, unix.EEXIST},
		{"madvise", func(l *Link) { l.Madvise(mem, 12345) },
			func(s *SQE) { s.PrepMadvise(mem, 12345) }, unix.EINVAL},
		{"fsync", func(l *Link) { l.Fsync(-1, 0) },
			func(s *SQE) { s.PrepFsync(-1, 0) }, unix.EBADF},
		{"close", func(l *Link) { l.CloseFD(-1) },
			func(s *SQE) { s.PrepClose(-1) }, unix.EBADF},
		{"poll", func(l *Link) { l.PollAdd(-1, unix.POLLIN) },
			func(s *SQE) { s.PrepPollAdd(-1, unix.POLLIN) }, unix.EBADF},
	} {
		// The raw ring: the same SQEs, linked by hand.
		s := r.GetSQE()
		c.raw(s)
		s.Flags |= SQEIOLink
		s.SetUserData(1)
		s = r.GetSQE()
		s.PrepNop()
		s.SetUserData(2)
		if _, err := r.SubmitAndWait(2); err != nil {
			t.Fatal(err)
		}
		var want [2]int32
		for i := 0; i < 2; i++ {
			cqe, err := r.WaitCQETimeout(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: raw CQE: %v", c.name, err)
			}
			want[cqe.UserData-1] = cqe.Res
			r.CQESeen(cqe)
		}
		if want[0] != -int32(c.errs) {
			t.Fatalf("%s: raw first member %d, want -%v", c.name, want[0], c.errs)
		}
		hs, err := q.Link(func(l *Link) {
			c.link(l)
			l.Nop()
		})
		if err != nil {
			t.Fatalf("%s: Link: %v", c.name, err)
		}
		for i, h := range hs {
			waitRes(t, h, nil)
			if got := int32(h.Res()); got != want[i] {
				t.Errorf("%s: member %d = %d through Queue.Link, %d on the raw ring", c.name, i, got, want[i])
			}
		}
	}
}

// TestEdgeRegisteredUpdatesInFlight: the queue's registered files and
// buffers change while operations that use them are in flight (a
// fixed-file read of a pipe through Prep, a READ_FIXED of a pipe): the
// updates succeed, post no CQE of their own (no tags), and the operations
// complete with their data through their own handles.
func TestEdgeRegisteredUpdatesInFlight(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	ring := q.Ring()
	pr, pw := testPipe(t)
	pr2, pw2 := testPipe(t)
	if err := ring.RegisterFiles([]int{pr, -1}); err != nil {
		t.Fatal(err)
	}
	fbuf := make([]byte, 3)
	fh, err := q.Prep(func(s *SQE) {
		s.PrepRead(0, fbuf, 0)
		s.Flags |= SQEFixedFile
	}, fbuf)
	if err != nil {
		t.Fatal(err)
	}
	reg := make([]byte, 16)
	iov := []unix.Iovec{{Base: &reg[0]}}
	iov[0].SetLen(len(reg))
	if err := ring.RegisterBuffers(iov); err != nil {
		t.Fatal(err)
	}
	bh, err := q.ReadFixed(pr2, reg[:4], 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // both blocked in the kernel
	// Clear the slot and replace it, drop every buffer, while in flight.
	if n, err := ring.RegisterFilesUpdate(0, []int{-1, pw}); n != 2 || err != nil {
		t.Fatalf("RegisterFilesUpdate in flight = %d, %v", n, err)
	}
	if err := ring.UnregisterBuffers(); err != nil {
		t.Fatalf("UnregisterBuffers with a READ_FIXED in flight: %v", err)
	}
	if fh.IsDone() || bh.IsDone() {
		t.Fatalf("a registered-resource update completed an operation: %v %v", fh.IsDone(), bh.IsDone())
	}
	unix.Write(pw, []byte("abc"))
	unix.Write(pw2, []byte("wxyz"))
	mustRes(t, fh, nil, 3)
	mustRes(t, bh, nil, 4)
	if string(fbuf) != "abc" || string(reg[:4]) != "wxyz" {
		t.Fatalf("read %q and %q", fbuf, reg[:4])
	}
	// The new slot 1 is the write end, slot 0 is empty.
	h, err := q.Prep(func(s *SQE) {
		s.PrepRead(0, fbuf, 0)
		s.Flags |= SQEFixedFile
	}, fbuf)
	mustErrno(t, h, err, unix.EBADF)
	if err := ring.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight at the end = %d", n)
	}
}

// TestEdgeFileCloseFullTable: File.Close of a File with nothing in flight,
// while reads of an idle pipe that never end hold every one of MaxInFlight
// slots: the close of its descriptor takes a reserve slot, so Close returns
// at once with the descriptor closed, as os.File.Close would, instead of
// waiting for a slot that no operation will free.
func TestEdgeFileCloseFullTable(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{Entries: 8, MaxInFlight: 2})
	if q.Ring().Features()&FeatNodrop == 0 {
		testutil.SkipNoFeature(t, "IORING_FEAT_NODROP (reserve slots)", unix.ENOTSUP)
	}
	_, fd := tempFile(t, []byte("data"))
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFile(q, dup, "data")
	pr, _ := testPipe(t)
	var hold []*completion.Handle
	for i := 0; i < 2; i++ {
		h, err := q.Read(pr, make([]byte, 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		hold = append(hold, h)
	}
	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("File.Close on a full table: %v", err)
		}
	case <-time.After(testutil.AppHang):
		t.Fatalf("File.Close still waiting %v with every slot held by idle pipe reads", testutil.AppHang)
	}
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor after File.Close: %v, want EBADF", err)
	}
	for _, h := range hold {
		c, err := q.Cancel(h)
		mustRes(t, c, err, 0)
		mustErrno(t, h, nil, unix.ECANCELED)
	}
}
