package uring

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Older kernels, emulated by the kernel here: a seccomp filter makes it
// refuse the io_uring_register opcodes and io_uring_enter flags an older
// kernel does not know (EINVAL, as the kernel's own default cases answer),
// and testKernel hides the IORING_FEAT_* bits and CQ ring flags that it
// reports in memory.

// denyRegister refuses io_uring_register(2) opcode op with EINVAL, as a
// kernel that predates it does (__io_uring_register's default case).
func denyRegister(op uint32) testutil.SyscallRule {
	return testutil.SyscallRule{Nr: unix.SYS_IO_URING_REGISTER, Arg: 1, Value: uint64(op), Errno: unix.EINVAL}
}

// denyEnterFlags refuses io_uring_enter(2) calls with any of flags with
// EINVAL, as a kernel that predates them does (its check of unknown flags).
func denyEnterFlags(flags uint64) testutil.SyscallRule {
	return testutil.SyscallRule{Nr: unix.SYS_IO_URING_ENTER, Arg: 3, AnyBit: flags, Errno: unix.EINVAL}
}

// ringNop submits one NOP with user data ud and waits for its CQE, on a
// raw ring: the ring still works.
func ringNop(t *testing.T, r *Ring, ud uint64) {
	t.Helper()
	s := r.GetSQE()
	if s == nil {
		t.Errorf("GetSQE: SQ full")
		return
	}
	s.PrepNop()
	s.SetUserData(ud)
	if n, err := r.Submit(); n != 1 || err != nil {
		t.Errorf("Submit NOP = %d, %v", n, err)
		return
	}
	c, err := r.WaitCQE()
	if err != nil || c.UserData != ud || c.Res != 0 {
		t.Errorf("NOP completion = %+v, %v; want user data %d, res 0", c, err, ud)
		return
	}
	r.CQESeen(c)
}

// TestOldKernelRegisterOpcodes refuses each io_uring_register opcode of a
// later kernel, as a kernel before it does, and checks that the binding
// gives the C errno (EINVAL, nothing else, nothing filled in) and that the
// ring goes on working. Each case names the kernel that added the opcode.
func TestOldKernelRegisterOpcodes(t *testing.T) {
	testutil.CheckLeaks(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	buf := make([]byte, 4096)
	iov := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	cases := []struct {
		name   string
		kernel string
		ops    []uint32
		files  bool // register a fixed-file table first
		call   func(r *Ring) error
	}{
		{"RegisterEventFD", "5.2", []uint32{RegisterEventFD}, false, func(r *Ring) error { return r.RegisterEventFD(efd) }},
		{"RegisterFilesUpdate", "5.5", []uint32{RegisterFilesUpdate}, true, func(r *Ring) error {
			n, err := r.RegisterFilesUpdate(0, []int{efd})
			return nonZero(n, err)
		}},
		{"RegisterEventFDAsync", "5.6", []uint32{RegisterEventFDAsync}, false, func(r *Ring) error { return r.RegisterEventFDAsync(efd) }},
		{"Probe", "5.6", []uint32{RegisterProbe}, false, func(r *Ring) error {
			p, err := r.Probe()
			if p != nil {
				return errors.New("a probe with the error")
			}
			return err
		}},
		{"RegisterProbe", "5.6", []uint32{RegisterProbe}, false, func(r *Ring) error {
			p, err := r.RegisterProbe(8)
			if p != nil {
				return errors.New("a probe with the error")
			}
			return err
		}},
		{"RegisterPersonality", "5.6", []uint32{RegisterPersonality}, false, func(r *Ring) error {
			id, err := r.RegisterPersonality()
			return nonZero(id, err)
		}},
		{"RegisterFilesTags", "5.13", []uint32{RegisterFiles2}, false, func(r *Ring) error { return r.RegisterFilesTags([]int{efd}, nil) }},
		{"RegisterFilesSparse", "5.13", []uint32{RegisterFiles2}, false, func(r *Ring) error { return r.RegisterFilesSparse(4) }},
		{"RegisterFilesUpdateTag", "5.13", []uint32{RegisterFilesUpdate2}, true, func(r *Ring) error {
			n, err := r.RegisterFilesUpdateTag(0, []int{efd}, nil)
			return nonZero(n, err)
		}},
		{"RegisterBuffersTags", "5.13", []uint32{RegisterBuffers2}, false, func(r *Ring) error { return r.RegisterBuffersTags(iov, nil) }},
		{"RegisterBuffersSparse", "5.13", []uint32{RegisterBuffers2}, false, func(r *Ring) error { return r.RegisterBuffersSparse(4) }},
		{"RegisterBuffersUpdateTag", "5.13", []uint32{RegisterBuffersUpdate}, false, func(r *Ring) error {
			n, err := r.RegisterBuffersUpdateTag(0, iov, nil)
			return nonZero(n, err)
		}},
		{"RegisterIOWQAff", "5.14", []uint32{RegisterIOWQAff}, false, func(r *Ring) error {
			var set unix.CPUSet
			set.Set(0)
			return r.RegisterIOWQAff(&set)
		}},
		{"UnregisterIOWQAff", "5.14", []uint32{UnregisterIOWQAff}, false, func(r *Ring) error { return r.UnregisterIOWQAff() }},
		{"RegisterIOWQMaxWorkers", "5.15", []uint32{RegisterIOWQMaxWorkers}, false, func(r *Ring) error {
			v := [2]uint32{3, 5}
			err := r.RegisterIOWQMaxWorkers(&v)
			if v != [2]uint32{3, 5} {
				return errors.New("values changed by a refused call")
			}
			return err
		}},
		{"RegisterRingFD", "5.18", []uint32{RegisterRingFDs}, false, func(r *Ring) error {
			n, err := r.RegisterRingFD()
			return nonZero(n, err)
		}},
		{"SetupBufRing", "5.19", []uint32{RegisterPBufRing}, false, func(r *Ring) error {
			br, err := r.SetupBufRing(8, 1)
			if br != nil {
				return errors.New("a buffer ring with the error")
			}
			return err
		}},
		{"RegisterBufRing", "5.19", []uint32{RegisterPBufRing}, false, func(r *Ring) error {
			mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				return err
			}
			defer unix.Munmap(mem) // the kernel pins the pages of a registered ring
			return r.RegisterBufRing(&BufReg{RingAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), RingEntries: 8, Bgid: 1}, 0)
		}},
		{"RegisterSyncCancel", "6.0", []uint32{RegisterSyncCancel}, false, func(r *Ring) error {
			return r.RegisterSyncCancel(&SyncCancelReg{Addr: 1, Timeout: KernelTimespec{Sec: -1, Nsec: -1}})
		}},
		{"RegisterFileAllocRange", "6.0", []uint32{RegisterFileAllocRange}, true, func(r *Ring) error { return r.RegisterFileAllocRange(0, 1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rawRing(t, 4, nil)
			if c.files {
				if err := r.RegisterFiles([]int{-1, -1}); err != nil {
					t.Fatalf("RegisterFiles: %v", err)
				}
			}
			var rules []testutil.SyscallRule
			for _, op := range c.ops {
				rules = append(rules, denyRegister(op))
			}
			testutil.OnFilteredThread(t, rules, func() {
				if err := c.call(r); err != unix.EINVAL {
					t.Errorf("%s on a kernel before %s = %v; want the C errno EINVAL", c.name, c.kernel, err)
				}
				ringNop(t, r, 7)
			})
		})
	}
}

// nonZero is err, or an error when a refused call still returned a count.
func nonZero(n int, err error) error {
	if n != 0 {
		return errors.New("a count with the error")
	}
	return err
}

// TestOldKernelRingFDRefused: RegisterRingFD on a kernel before 5.18
// (IORING_REGISTER_RING_FDS unknown) is EINVAL and leaves the ring entered
// by its descriptor, so it goes on working; and where the registration works
// but io_uring_enter refuses IORING_ENTER_REGISTERED_RING (a seccomp
// profile), Submit gives that EINVAL, as in C, and works again once the
// registration is undone.
func TestOldKernelRingFDRefused(t *testing.T) {
	r := rawRing(t, 4, nil)
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyRegister(RegisterRingFDs), denyEnterFlags(EnterRegisteredRing)}, func() {
		if n, err := r.RegisterRingFD(); n != 0 || err != unix.EINVAL {
			t.Errorf("RegisterRingFD before 5.18 = %d, %v; want 0, EINVAL", n, err)
		}
		ringNop(t, r, 1)
	})
	r2 := rawRing(t, 4, nil)
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyEnterFlags(EnterRegisteredRing)}, func() {
		if n, err := r2.RegisterRingFD(); n != 1 || err != nil {
			t.Errorf("RegisterRingFD = %d, %v", n, err)
			return
		}
		s := r2.GetSQE()
		s.PrepNop()
		s.SetUserData(2)
		if n, err := r2.Submit(); err != unix.EINVAL {
			t.Errorf("Submit through a refused registered ring = %d, %v; want EINVAL", n, err)
		}
		if n, err := r2.UnregisterRingFD(); n != 1 || err != nil {
			t.Errorf("UnregisterRingFD = %d, %v", n, err)
		}
		// The NOP is still in the SQ: it goes in now.
		if n, err := r2.Submit(); n != 1 || err != nil {
			t.Errorf("Submit after UnregisterRingFD = %d, %v; want 1", n, err)
		}
		if c, err := r2.WaitCQE(); err != nil || c.UserData != 2 {
			t.Errorf("NOP completion = %+v, %v", c, err)
		} else {
			r2.CQESeen(c)
		}
	})
}

// withTestKernel sets testKernel to v for the rest of the test.
func withTestKernel(t *testing.T, v oldKernelView) {
	old := testKernel
	testKernel = v
	t.Cleanup(func() { testKernel = old })
}

// TestOldKernelWaitTimeoutNoExtArg: on a kernel before 5.11 (no
// IORING_FEAT_EXT_ARG, and IORING_ENTER_EXT_ARG refused) liburing's timed
// waits submit a timeout SQE of their own (LIBURING_UDATA_TIMEOUT); the
// binding's waits give ETIME, the CQEs of the caller's requests, and never
// the internal timeout's CQE. Where the ring's features claim EXT_ARG but
// the kernel refuses it, the wait is the C errno, EINVAL, at once.
func TestOldKernelWaitTimeoutNoExtArg(t *testing.T) {
	withTestKernel(t, oldKernelView{clearFeatures: FeatExtArg})
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyEnterFlags(EnterExtArg)}, func() {
		r, err := New(8, nil)
		if err != nil {
			t.Errorf("New: %v", err)
			return
		}
		defer r.Close()
		if r.Features()&FeatExtArg != 0 {
			t.Errorf("features %#x still have IORING_FEAT_EXT_ARG", r.Features())
		}
		start := time.Now()
		if c, err := r.WaitCQETimeout(10 * time.Millisecond); err != unix.ETIME {
			t.Errorf("WaitCQETimeout on an empty ring = %+v, %v; want ETIME", c, err)
		}
		if d := time.Since(start); d < 10*time.Millisecond {
			t.Errorf("timed out after %v", d)
		}
		for i := uint64(1); i <= 3; i++ {
			s := r.GetSQE()
			s.PrepNop()
			s.SetUserData(i)
			var c *CQE
			var err error
			switch i {
			case 1:
				if _, err = r.Submit(); err == nil {
					c, err = r.WaitCQETimeout(time.Second)
				}
			case 2:
				c, _, err = r.SubmitAndWaitFor(1, time.Second)
			case 3:
				if _, err = r.Submit(); err == nil {
					c, err = r.WaitCQEsFor(1, time.Second)
				}
			}
			if err != nil || c == nil || c.UserData != i {
				t.Errorf("wait %d = %+v, %v; want the NOP's CQE", i, c, err)
				return
			}
			r.CQESeen(c)
		}
		// The timeouts of the waits that a NOP ended still expire; their
		// CQEs (user data LIBURING_UDATA_TIMEOUT) never reach the caller,
		// whose waits give ETIME (at once, for the first, as in C).
		time.Sleep(1100 * time.Millisecond)
		for i := 0; i < 3; i++ {
			if c, err := r.WaitCQETimeout(time.Millisecond); err != unix.ETIME {
				t.Errorf("wait %d after the timeouts = %+v, %v; want ETIME", i, c, err)
			}
		}
		if c, err := r.PeekCQE(); err != unix.EAGAIN {
			t.Errorf("PeekCQE after the timeouts = %+v, %v; want EAGAIN", c, err)
		}
	})
	testKernel = oldKernelView{}
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyEnterFlags(EnterExtArg)}, func() {
		r, err := New(8, nil)
		if err != nil {
			t.Errorf("New: %v", err)
			return
		}
		defer r.Close()
		if r.Features()&FeatExtArg == 0 {
			return // the kernel lacks it: the case above
		}
		if c, err := r.WaitCQETimeout(time.Second); err != unix.EINVAL {
			t.Errorf("WaitCQETimeout with IORING_ENTER_EXT_ARG refused = %+v, %v; want EINVAL", c, err)
		}
	})
}

// TestOldKernelQueueNoProbe: a Queue created on a kernel before 5.6
// (IORING_REGISTER_PROBE unknown) has no probe, so nothing is refused
// before the ring: operations, chains, cancels and Close work as usual.
func TestOldKernelQueueNoProbe(t *testing.T) {
	testutil.CheckLeaks(t)
	var q *Queue
	var err error
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyRegister(RegisterProbe)}, func() {
		q, err = NewQueueConfig(QueueConfig{Entries: 8})
	})
	if err != nil {
		t.Fatalf("NewQueueConfig without io_uring_register_probe: %v", err)
	}
	defer closeWithin(t, q, 10*time.Second)
	if q.probe != nil {
		t.Fatal("a probe on a kernel that refused IORING_REGISTER_PROBE")
	}
	h, err := q.Nop()
	mustRes(t, h, err, 0)
	_, fd := tempFile(t, []byte("hello"))
	hs, err := q.Link(func(l *Link) {
		l.Write(fd, []byte("HE"), 0)
		l.Read(fd, make([]byte, 5), 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRes(t, hs[0], nil, 2)
	mustRes(t, hs[1], nil, 5)
	r, _ := testPipe(t)
	h, err = q.Read(r, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := q.Cancel(h)
	mustRes(t, hc, err, 0)
	mustErrno(t, h, nil, unix.ECANCELED)
	if _, err := q.Read(r, make([]byte, 1), 0); err != nil { // in flight at Close
		t.Fatal(err)
	}
}

// TestOldKernelQueueNoEventFD: on Linux 5.1 (IORING_REGISTER_EVENTFD
// unknown) the queue's reaper cannot be woken: NewQueueConfig fails with
// an error that names the call and matches EINVAL and ErrNotSupported, and
// leaves no ring, eventfd or C memory behind.
func TestOldKernelQueueNoEventFD(t *testing.T) {
	testutil.CheckLeaks(t)
	fds := testutil.FDCount()
	var q *Queue
	var err error
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyRegister(RegisterEventFD)}, func() {
		q, err = NewQueueConfig(QueueConfig{Entries: 8})
	})
	if q != nil {
		q.Close()
		t.Fatal("NewQueueConfig succeeded without io_uring_register_eventfd")
	}
	if !errors.Is(err, unix.EINVAL) || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "io_uring_register_eventfd") {
		t.Errorf("NewQueueConfig without IORING_REGISTER_EVENTFD = %v; want EINVAL, ErrNotSupported, naming io_uring_register_eventfd", err)
	}
	if n := testutil.FDCount(); n != fds {
		t.Errorf("%d descriptors open after the failed NewQueueConfig, %d before:\n%s", n, fds, testutil.ListFDs())
	}
}

// TestOldKernelInlineWaitRefused: a ring whose features claim
// IORING_FEAT_EXT_ARG while io_uring_enter refuses IORING_ENTER_EXT_ARG
// (a seccomp profile; a kernel is never both): the lone-request waits in
// the kernel fail at once, and the queue stops trying them after the first
// (not five refused io_uring_enter calls on every Wait); every read still
// gets its data.
func TestOldKernelInlineWaitRefused(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	requireInlineWait(t, q)
	r, w := testPipe(t)
	const reads = 4 * completion.LoneStreak
	testutil.OnFilteredThread(t, []testutil.SyscallRule{denyEnterFlags(EnterExtArg)}, func() {
		for i := 0; i < reads; i++ {
			buf := make([]byte, 1)
			h, err := q.Read(r, buf, 0)
			if err != nil {
				t.Errorf("read %d: %v", i, err)
				return
			}
			go func(b byte) {
				time.Sleep(200 * time.Microsecond)
				unix.Write(w, []byte{b})
			}(byte('a' + i%26))
			if n, err := h.Wait(nil); n != 1 || err != nil || buf[0] != byte('a'+i%26) {
				t.Errorf("read %d = %d, %v, %q", i, n, err, buf)
				return
			}
		}
	})
	if n := q.inlineWaits.Load(); n > 1 {
		t.Errorf("%d refused inline waits in %d lone reads; want at most 1", n, reads)
	}
}

// TestOldKernelSQPollPermission: before Linux 5.11 io_uring_setup refuses
// IORING_SETUP_SQPOLL without CAP_SYS_ADMIN with EPERM, the errno that also
// means io_uring is disabled. Emulated by refusing the setups of 7-entry
// rings (only the SQPOLL ones here ask for 7): New, Setup and NewQueueConfig
// give ErrSQPollPerm (EPERM, not ErrUnavailable), since plain rings work;
// and ErrUnavailable when io_uring_setup refuses every ring.
func TestOldKernelSQPollPermission(t *testing.T) {
	testutil.CheckLeaks(t)
	sqpoll := func() *Params { return &Params{Flags: SetupSQPoll, SQThreadIdle: 10} }
	deny7 := testutil.SyscallRule{Nr: unix.SYS_IO_URING_SETUP, Arg: 0, Value: 7, Errno: unix.EPERM}
	testutil.OnFilteredThread(t, []testutil.SyscallRule{deny7}, func() {
		r, err := New(7, sqpoll())
		if r != nil {
			r.Close()
		}
		_, serr := Setup(7, sqpoll())
		q, qerr := NewQueueConfig(QueueConfig{Entries: 7, Params: sqpoll()})
		if q != nil {
			q.Close()
		}
		for name, err := range map[string]error{"New": err, "Setup": serr, "NewQueueConfig": qerr} {
			if err != ErrSQPollPerm || !errors.Is(err, unix.EPERM) || errors.Is(err, ErrUnavailable) {
				t.Errorf("%s with SQPOLL refused, plain rings allowed = %v; want ErrSQPollPerm (EPERM, not ErrUnavailable)", name, err)
			}
		}
		// The same refusal without SQPOLL says nothing about SQPOLL.
		if _, err := New(7, nil); !errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.EPERM) {
			t.Errorf("New(7) refused with EPERM = %v; want ErrUnavailable and EPERM", err)
		}
		r, err = New(8, sqpoll()) // allowed: the kernel here has unprivileged SQPOLL (5.11+)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Errorf("New(8, SQPOLL) = %v", err)
		}
		if r != nil {
			r.Close()
		}
	})
	testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_IO_URING_SETUP, Arg: -1, Errno: unix.EPERM}}, func() {
		if _, err := New(7, sqpoll()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.EPERM) {
			t.Errorf("New(SQPOLL) with io_uring_setup refused = %v; want ErrUnavailable and EPERM", err)
		}
	})
}

// TestOldKernelFileCloseNoOpClose: before 5.6 there is no IORING_OP_CLOSE
// and no probe to say so; the kernel fails File.Close's close SQE with
// -EINVAL without touching the descriptor, which File then closes with
// close(2) instead of leaking it.
func TestOldKernelFileCloseNoOpClose(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{Entries: 8})
	path, _ := tempFile(t, []byte("hello"))
	f, err := OpenFile(q, path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := f.Fd()
	withTestKernel(t, oldKernelView{noOpClose: true})
	q.probe = nil // as on a kernel without IORING_REGISTER_PROBE
	h, err := q.CloseFD(-1)
	if _, herr := h.Wait(nil); err != nil || !errors.Is(herr, unix.EINVAL) {
		t.Fatalf("the emulated kernel's IORING_OP_CLOSE: %v, %v; want -EINVAL", err, herr)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("File.Close: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("descriptor %d after File.Close on a kernel without IORING_OP_CLOSE: F_GETFD %v, want EBADF", fd, err)
	}
}

// TestOldKernelCloseNoAsyncCancel: on a kernel before 5.5 (no
// IORING_OP_ASYNC_CANCEL: the queue's cancels fail with -EINVAL) Close ends
// a read of a pipe that never gets data by closing the ring's descriptor,
// and the read completes with ECANCELED, its buffer unpinned; a read that
// finished first keeps its result. (Without the teardown Close waited for
// ever.)
func TestOldKernelCloseNoAsyncCancel(t *testing.T) {
	testutil.CheckLeaks(t)
	withTestKernel(t, oldKernelView{noAsyncCancel: true, clearFeatures: FeatNodrop})
	q, err := NewQueueConfig(QueueConfig{Entries: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !q.noCancel {
		t.Fatal("the emulated kernel before 5.5 was not seen as one without IORING_OP_ASYNC_CANCEL")
	}
	q.probe = nil // as on a kernel without IORING_REGISTER_PROBE (5.6)
	r, w := testPipe(t)
	buf := make([]byte, 16)
	blocked, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	r2, w2 := testPipe(t)
	if _, err := unix.Write(w2, []byte("ready")); err != nil {
		t.Fatal(err)
	}
	ready, err := q.Read(r2, make([]byte, 16), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ready.Wait(nil); n != 5 || err != nil {
		t.Fatalf("read of a pipe with data = %d, %v", n, err)
	}
	// A cancel of the blocked read fails as on such a kernel, and leaves it
	// blocked.
	hc, err := q.Cancel(blocked)
	if _, cerr := waitRes(t, hc, err); !errors.Is(cerr, unix.EINVAL) {
		t.Fatalf("cancel on the emulated kernel: %v, want EINVAL", cerr)
	}
	if blocked.IsDone() {
		t.Fatal("the blocked read completed before Close")
	}
	closeWithin(t, q, 10*time.Second) // without the teardown, it waits for a read nothing can cancel
	if n, err := blocked.Result(); !errors.Is(err, unix.ECANCELED) {
		t.Errorf("blocked read after Close = %d, %v; want ECANCELED", n, err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d operations in flight after Close", n)
	}
	if _, err := q.Nop(); !errors.Is(err, ErrClosed) {
		t.Errorf("Nop after Close: %v, want ErrClosed", err)
	}
	// The pipe is intact: data written now is still there to read.
	if _, err := unix.Write(w, []byte("later")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if n, err := unix.Read(r, got); err != nil || string(got[:n]) != "later" {
		t.Errorf("pipe read after Close = %q, %v; want \"later\" (the torn-down read took nothing)", got[:max(n, 0)], err)
	}
}
