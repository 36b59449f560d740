package uring

import (
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawDo prepares one SQE with prep, submits it and returns its completion.
func rawDo(t testing.TB, r *Ring, prep func(*SQE)) CQE {
	t.Helper()
	sqe := r.GetSQE()
	if sqe == nil {
		t.Fatal("SQ full")
	}
	prep(sqe)
	sqe.SetUserData(0xfeed)
	if _, err := r.Submit(); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	cqe, err := r.WaitCQETimeout(5 * time.Second)
	if err != nil {
		t.Fatalf("WaitCQETimeout: %v", err)
	}
	c := *cqe
	r.CQESeen(cqe)
	if c.UserData != 0xfeed {
		t.Fatalf("unexpected completion %+v", c)
	}
	return c
}

// rawOK is rawDo that requires Res >= 0 and returns it.
func rawOK(t testing.TB, r *Ring, what string, prep func(*SQE)) int32 {
	t.Helper()
	c := rawDo(t, r, prep)
	if c.Res < 0 {
		t.Fatalf("%s: %v", what, unix.Errno(-c.Res))
	}
	return c.Res
}

func TestSubmitBatchPeekBatch(t *testing.T) {
	r := rawRing(t, 32, nil)
	rawNops(t, r, 32, 100)
	n, err := r.SubmitAndWait(32)
	if n != 32 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v", n, err)
	}
	if r.CQReady() != 32 {
		t.Fatalf("CQReady %d", r.CQReady())
	}
	cqes := make([]*CQE, 20)
	got := r.PeekBatchCQE(cqes)
	if got != 20 {
		t.Fatalf("PeekBatchCQE = %d", got)
	}
	for i, c := range cqes[:got] {
		if c.UserData != uint64(100+i) || c.Res != 0 || c.Data64() != c.UserData || c.Err() != nil {
			t.Fatalf("cqe %d = %+v", i, *c)
		}
	}
	r.CQAdvance(uint32(got))
	var visited []uint64
	n2 := r.ForEachCQE(func(c *CQE) bool {
		visited = append(visited, c.UserData)
		return len(visited) < 5
	})
	if n2 != 5 || visited[0] != 120 || visited[4] != 124 {
		t.Fatalf("ForEachCQE visited %d: %v", n2, visited)
	}
	r.CQAdvance(n2)
	if r.CQReady() != 7 || r.ForEachCQE(func(*CQE) bool { return true }) != 7 {
		t.Fatalf("CQReady %d after consuming 25", r.CQReady())
	}
	r.CQAdvance(7)
	if r.PeekBatchCQE(cqes) != 0 {
		t.Fatal("PeekBatchCQE on empty ring")
	}
}

func TestWaitVariants(t *testing.T) {
	r := rawRing(t, 8, nil)
	rawNops(t, r, 3, 1)
	cqe, n, err := r.SubmitAndWaitTimeout(3, &KernelTimespec{Sec: 5}, nil)
	if err != nil || n != 3 || cqe == nil || cqe.UserData != 1 {
		t.Fatalf("SubmitAndWaitTimeout = %+v, %d, %v", cqe, n, err)
	}
	cqe, err = r.WaitCQENr(3)
	if err != nil || cqe.UserData != 1 || r.CQReady() != 3 {
		t.Fatalf("WaitCQENr = %+v, %v (ready %d)", cqe, err, r.CQReady())
	}
	r.CQAdvance(3)
	if _, err := r.WaitCQENr(0); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("WaitCQENr(0) on empty ring: %v", err)
	}
	start := time.Now()
	if _, err := r.WaitCQETimeout(20 * time.Millisecond); !errors.Is(err, unix.ETIME) {
		t.Fatalf("WaitCQETimeout on empty ring: %v", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("timed out after %v", el)
	}
	if _, _, err := r.SubmitAndWaitTimeout(1, &KernelTimespec{Nsec: 1e6}, nil); !errors.Is(err, unix.ETIME) {
		t.Fatalf("SubmitAndWaitTimeout on empty ring: %v", err)
	}
	if _, err := r.WaitCQETimeoutTS(&KernelTimespec{Nsec: 1e6}); !errors.Is(err, unix.ETIME) {
		t.Fatalf("WaitCQETimeoutTS: %v", err)
	}
	rawNops(t, r, 2, 60)
	if cqe, n, err := r.SubmitAndWaitFor(2, time.Second); err != nil || n != 2 || cqe.UserData != 60 {
		t.Fatalf("SubmitAndWaitFor = %+v, %d, %v", cqe, n, err)
	}
	if cqe, err := r.WaitCQEsFor(2, time.Second); err != nil || cqe.UserData != 60 {
		t.Fatalf("WaitCQEsFor = %+v, %v", cqe, err)
	}
	r.CQAdvance(2)
	if _, err := r.WaitCQEsFor(1, time.Millisecond); !errors.Is(err, unix.ETIME) {
		t.Fatalf("WaitCQEsFor on empty ring: %v", err)
	}
	rawNops(t, r, 2, 50)
	if n, err := r.SubmitAndGetEvents(); n != 2 || err != nil {
		t.Fatalf("SubmitAndGetEvents = %d, %v", n, err)
	}
	if err := r.GetEvents(); err != nil {
		t.Fatal(err)
	}
	cqe, err = r.WaitCQEs(2, nil, nil)
	if err != nil || cqe.UserData != 50 {
		t.Fatalf("WaitCQEs = %+v, %v", cqe, err)
	}
	r.CQAdvance(2)
}

// TestBigEntries checks the SQE128/CQE32 strides: consecutive entries must
// not overlap, or user data would be mixed up.
func TestBigEntries(t *testing.T) {
	p := Params{Flags: SetupSQE128 | SetupCQE32}
	r := rawRing(t, 8, &p)
	for round := 0; round < 3; round++ {
		rawNops(t, r, 8, uint64(round*8))
		if n, err := r.SubmitAndWait(8); n != 8 || err != nil {
			t.Fatalf("SubmitAndWait = %d, %v", n, err)
		}
		cqes := make([]*CQE, 8)
		if r.PeekBatchCQE(cqes) != 8 {
			t.Fatal("missing CQEs")
		}
		for i, c := range cqes {
			if c.UserData != uint64(round*8+i) || c.Res != 0 {
				t.Fatalf("round %d cqe %d = %+v", round, i, *c)
			}
			if i > 0 {
				prev, cur := uintptr(unsafe.Pointer(cqes[i-1])), uintptr(unsafe.Pointer(c))
				if cur > prev && cur-prev != 32 {
					t.Fatalf("CQE stride %d, want 32", cur-prev)
				}
			}
			if big := c.Big(); big[0] != 0 || big[1] != 0 {
				t.Fatalf("NOP big_cqe = %v, want zeros", *big)
			}
		}
		r.CQAdvance(8)
	}
	// The 80 command bytes belong to this 128-byte entry: writing all of
	// them must not disturb the next SQE.
	a, b := r.GetSQE(), r.GetSQE()
	b.PrepNop()
	b.SetUserData(0xb)
	a.PrepNop()
	a.SetUserData(0xa)
	for i := range a.CmdSQE128() {
		a.CmdSQE128()[i] = 0
	}
	if uintptr(unsafe.Pointer(b))-uintptr(unsafe.Pointer(a)) != 128 {
		t.Fatalf("SQE stride %d, want 128", uintptr(unsafe.Pointer(b))-uintptr(unsafe.Pointer(a)))
	}
	if n, err := r.Submit(); n != 2 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	if got := rawReap(t, r, 2); got[0xa].Res != 0 || got[0xb].Res != 0 {
		t.Fatalf("completions %v", got)
	}
}

// TestRingWraparound cycles a 4-entry ring many times: indexes wrap and
// every completion still carries the right user data exactly once.
func TestRingWraparound(t *testing.T) {
	r := rawRing(t, 4, nil)
	cqes := make([]*CQE, 4)
	for round := 0; round < 200; round++ {
		n := 1 + round%4
		rawNops(t, r, n, uint64(round*10))
		if got, err := r.SubmitAndWait(uint32(n)); got != n || err != nil {
			t.Fatalf("round %d: SubmitAndWait = %d, %v", round, got, err)
		}
		if k := r.PeekBatchCQE(cqes); k != n {
			t.Fatalf("round %d: %d completions, want %d", round, k, n)
		}
		for i, c := range cqes[:n] {
			if c.UserData != uint64(round*10+i) {
				t.Fatalf("round %d: cqe %d user data %d", round, i, c.UserData)
			}
		}
		r.CQAdvance(uint32(n))
	}
}

func TestSQPoll(t *testing.T) {
	p := Params{Flags: SetupSQPoll, SQThreadIdle: 10}
	r, err := New(8, &p)
	if errors.Is(err, unix.EPERM) {
		testutil.SkipNoPrivilege(t, "IORING_SETUP_SQPOLL")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for round := 0; round < 5; round++ {
		rawNops(t, r, 8, uint64(round*8))
		if err := r.SQRingWait(); err != nil {
			t.Fatal(err)
		}
		n, err := r.Submit()
		if err != nil || n != 8 {
			t.Fatalf("Submit = %d, %v", n, err)
		}
		rawReap(t, r, 8)
		time.Sleep(15 * time.Millisecond) // let the poll thread go idle: NEED_WAKEUP path
	}
}

// mmapRing sets up a ring of entries with Setup (io_uring_setup) and maps it
// with QueueMmap and InitSQArray, closed at the end of the test; it returns
// the ring and Setup's fd.
func mmapRing(t *testing.T, entries uint32) (*Ring, int) {
	t.Helper()
	var p Params
	fd, err := Setup(entries, &p)
	if err != nil {
		t.Fatal(err) // io_uring refused is ErrUnavailable: TestSetupRefusedErrUnavailable
	}
	r, err := QueueMmap(fd, &p)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.InitSQArray(); err != nil {
		t.Fatal(err)
	}
	return r, fd
}

func TestSetupQueueMmap(t *testing.T) {
	if _, err := Setup(0, &Params{}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Setup(0) = %v", err)
	}
	r, fd := mmapRing(t, 4)
	if r.Fd() != fd || r.Features() != 0 { // io_uring_queue_mmap leaves features 0, as in C
		t.Fatalf("fd %d/%d features %#x, want 0", r.Fd(), fd, r.Features())
	}
	rawNops(t, r, 4, 10)
	if n, err := r.Submit(); n != 4 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	got := rawReap(t, r, 4)
	for i := uint64(10); i < 14; i++ {
		if _, ok := got[i]; !ok {
			t.Fatalf("user data %d missing: %v", i, got)
		}
	}
	if _, err := QueueMmap(-1, &Params{}); err == nil {
		t.Fatal("QueueMmap(-1) succeeded")
	}
}

func TestRawSyscalls(t *testing.T) {
	r := rawRing(t, 4, nil)
	if n, err := Enter(r.Fd(), 0, 0, EnterGetevents, nil); n != 0 || err != nil {
		t.Fatalf("Enter = %d, %v", n, err)
	}
	if _, err := Enter(-1, 0, 0, 0, nil); !errors.Is(err, unix.EBADF) {
		t.Fatalf("Enter(-1) = %v", err)
	}
	if _, err := Register(1<<20, RegisterProbe, nil, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("Register(bad fd) = %v", err)
	}
	if _, err := Register(0, RegisterProbe, nil, 0); !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EBADF) {
		t.Fatalf("Register(non-ring fd) = %v", err)
	}
	if _, err := Enter2(r.Fd(), 0, 0, EnterGetevents|EnterExtArg, nil, unsafe.Sizeof(GeteventsArg{})); err != nil && !errors.Is(err, unix.EFAULT) {
		t.Fatalf("Enter2 = %v", err)
	}
	if n, err := MlockSize(8, 0); n < 0 || err != nil {
		t.Fatalf("MlockSize = %d, %v", n, err)
	}
	// Kernels with IORING_FEAT_NATIVE_WORKERS (5.12+) account no locked
	// memory, and liburing then reports 0.
	if n, err := MlockSizeParams(8, &Params{}); err != nil || (r.Features()&FeatNativeWorkers != 0 && n != 0) {
		t.Fatalf("MlockSizeParams = %d, %v", n, err)
	}
	if _, err := MlockSizeParams(8, nil); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("MlockSizeParams(nil) = %v", err)
	}
	if err := r.DontFork(); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterRingFD(t *testing.T) {
	// The registration is per thread (see RegisterRingFD).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rawRing(t, 4, nil)
	fd := r.Fd()
	if n, err := r.RegisterRingFD(); n != 1 || err != nil {
		t.Fatalf("RegisterRingFD = %d, %v", n, err)
	}
	if r.Fd() != fd {
		t.Fatal("Fd changed")
	}
	rawNops(t, r, 2, 0)
	if n, err := r.SubmitAndWait(2); n != 2 || err != nil {
		t.Fatalf("SubmitAndWait with registered ring fd = %d, %v", n, err)
	}
	r.CQAdvance(2)
	// On another thread the registered index does not exist.
	// The goroutine only reports: the test's checks (and t.Fatal) stay on
	// the test goroutine.
	type result struct {
		queued bool // it got an SQE for its NOP
		err    error
	}
	other := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // a fresh thread: this goroutine exits locked
		sqe := r.GetSQE()
		if sqe == nil {
			other <- result{}
			return
		}
		sqe.PrepNop()
		sqe.SetUserData(0)
		_, err := r.SubmitAndWait(1)
		other <- result{queued: true, err: err}
	}()
	res := <-other
	if !res.queued {
		t.Fatal("GetSQE on another thread returned nil with an empty SQ")
	}
	// EINVAL from a thread that never used io_uring (no task context),
	// EBADF from one that did but registered nothing at that index.
	if err := res.err; !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EBADF) {
		t.Errorf("SubmitAndWait from another thread = %v, want EINVAL or EBADF", err)
	}
	if n, err := r.SubmitAndWait(1); n != 1 || err != nil { // the NOP queued by the other thread
		t.Fatalf("SubmitAndWait of the other thread's NOP = %d, %v; want 1, nil", n, err)
	}
	r.CQAdvance(r.CQReady())
	if n, err := r.UnregisterRingFD(); n != 1 || err != nil {
		t.Fatalf("UnregisterRingFD = %d, %v", n, err)
	}
	rawOK(t, r, "nop", func(s *SQE) { s.PrepNop() })
}

func TestRestrictionsEnableRings(t *testing.T) {
	r := rawRing(t, 4, &Params{Flags: SetupRDisabled})
	rawNops(t, r, 1, 0)
	if _, err := r.Submit(); !errors.Is(err, unix.EBADFD) {
		t.Fatalf("Submit on disabled ring = %v, want EBADFD", err)
	}
	res := []Restriction{{Opcode: RestrictionSQEOp, Arg: OpNop}}
	if err := r.RegisterRestrictions(res); err != nil {
		t.Fatal(err)
	}
	if err := r.EnableRings(); err != nil {
		t.Fatal(err)
	}
	// The restricted ring allows no io_uring_register opcode at all now.
	if err := r.RegisterRestrictions(res); !errors.Is(err, unix.EACCES) {
		t.Fatalf("RegisterRestrictions on a restricted, enabled ring = %v", err)
	}
	if n, err := r.Submit(); n != 1 || err != nil {
		t.Fatalf("Submit after enable = %d, %v", n, err)
	}
	rawReap(t, r, 1)
	buf := make([]byte, 1)
	if c := rawDo(t, r, func(s *SQE) { s.PrepRead(0, buf[:0], 0) }); c.Res != -int32(unix.EACCES) {
		t.Fatalf("restricted READ res %d, want -EACCES", c.Res)
	}
}

func TestEventFD(t *testing.T) {
	r := rawRing(t, 4, nil)
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	count := func() uint64 {
		var b [8]byte
		if _, err := unix.Read(efd, b[:]); errors.Is(err, unix.EAGAIN) {
			return 0
		} else if err != nil {
			t.Fatal(err)
		}
		return *(*uint64)(unsafe.Pointer(&b[0]))
	}
	if err := r.RegisterEventFD(efd); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterEventFD(efd); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second RegisterEventFD = %v", err)
	}
	rawOK(t, r, "nop", func(s *SQE) { s.PrepNop() })
	if c := count(); c != 1 {
		t.Fatalf("eventfd count %d after one completion", c)
	}
	if !r.CQEventFDEnabled() {
		t.Fatal("eventfd reported disabled")
	}
	if err := r.CQEventFDToggle(false); err != nil || r.CQEventFDEnabled() {
		t.Fatalf("toggle off: %v", err)
	}
	rawOK(t, r, "nop", func(s *SQE) { s.PrepNop() })
	if c := count(); c != 0 {
		t.Fatalf("eventfd signalled %d while disabled", c)
	}
	if err := r.CQEventFDToggle(true); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterEventFD(); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterEventFD(); !errors.Is(err, unix.ENXIO) {
		t.Fatalf("second UnregisterEventFD = %v", err)
	}
	// Async variant: only completions from io-wq signal.
	if err := r.RegisterEventFDAsync(efd); err != nil {
		t.Fatal(err)
	}
	rawOK(t, r, "inline nop", func(s *SQE) { s.PrepNop() })
	if c := count(); c != 0 {
		t.Fatalf("async eventfd signalled %d for an inline completion", c)
	}
	rawOK(t, r, "async nop", func(s *SQE) { s.PrepNop(); s.SetFlags(SQEAsync) })
	// The kernel may signal the eventfd of an io-wq completion a moment after
	// its CQE is visible (seen once in ~100 loaded runs): allow it a second.
	c := count()
	for deadline := time.Now().Add(time.Second); c == 0 && time.Now().Before(deadline); c = count() {
		time.Sleep(time.Millisecond)
	}
	if c != 1 {
		t.Fatalf("async eventfd count %d for an io-wq completion", c)
	}
	if err := r.RegisterEventFD(-1); !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EBADF) {
		t.Fatalf("RegisterEventFD(-1) = %v", err)
	}
}

// TestRingSubmitAndWaitRacesWait: a Ring's submission side (Submit*) and
// completion side (Wait*) may run in two goroutines at once, as in C. Each
// call has its own CQE out slot and timespec: with one shared C scratch
// area, SubmitAndWaitTimeout rewrote the CQE pointer while WaitCQEs was
// between its C call and reading it (a nil CQE with a nil error).
func TestRingSubmitAndWaitRacesWait(t *testing.T) {
	r := rawRing(t, 64, nil)
	const total = 20000
	stop := make(chan struct{})
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		ts := KernelTimespec{}
		for i := 0; i < total; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sqe := r.GetSQE()
			for sqe == nil {
				r.Submit()
				time.Sleep(time.Microsecond)
				sqe = r.GetSQE()
			}
			sqe.PrepNop()
			sqe.SetUserData(uint64(i + 1))
			r.SubmitAndWaitTimeout(0, &ts, nil)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	got, nils := 0, 0
	for got < total && time.Now().Before(deadline) {
		cqe, err := r.WaitCQEsFor(1, 100*time.Millisecond)
		if errors.Is(err, unix.ETIME) {
			continue
		}
		if err != nil {
			close(stop)
			<-subDone
			t.Fatalf("WaitCQEs: %v", err)
		}
		if cqe == nil {
			nils++
			if nils >= 3 {
				break
			}
			continue
		}
		r.CQESeen(cqe)
		got++
	}
	close(stop)
	<-subDone
	if nils > 0 {
		t.Fatalf("WaitCQEs returned a nil CQE with a nil error %d times (after %d good ones) while the submitter ran SubmitAndWaitTimeout", nils, got)
	}
}
