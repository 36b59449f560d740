package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawRing creates a ring for a test and closes it at cleanup.
func rawRing(t testing.TB, entries uint32, p *Params) *Ring {
	t.Helper()
	r, err := New(entries, p)
	if errors.Is(err, ErrUnavailable) {
		testutil.SkipNoFeature(t, "io_uring", err)
	}
	if err != nil {
		t.Fatalf("New(%d): %v", entries, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawNops queues n NOPs with user data base, base+1, ...
func rawNops(t testing.TB, r *Ring, n int, base uint64) {
	t.Helper()
	for i := 0; i < n; i++ {
		sqe := r.GetSQE()
		if sqe == nil {
			t.Fatalf("GetSQE returned nil after %d of %d", i, n)
		}
		sqe.PrepNop()
		sqe.SetUserData(base + uint64(i))
	}
}

// rawReap consumes n completions (waiting) and returns them by user data.
func rawReap(t testing.TB, r *Ring, n int) map[uint64]CQE {
	t.Helper()
	got := map[uint64]CQE{}
	for len(got) < n {
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d completions: %v", len(got), n, err)
		}
		if _, dup := got[cqe.UserData]; dup {
			t.Fatalf("user data %d completed twice", cqe.UserData)
		}
		got[cqe.UserData] = *cqe
		r.CQESeen(cqe)
	}
	return got
}

func TestNewParamsOutputs(t *testing.T) {
	p := Params{Flags: SetupCQSize, CQEntries: 64}
	r := rawRing(t, 5, &p) // rounded up to 8
	if p.SQEntries != 8 || p.CQEntries != 64 {
		t.Fatalf("params entries sq=%d cq=%d, want 8/64", p.SQEntries, p.CQEntries)
	}
	if r.SQEntries() != 8 || r.CQEntries() != 64 || r.SQSpaceLeft() != 8 {
		t.Fatalf("ring entries sq=%d cq=%d space=%d", r.SQEntries(), r.CQEntries(), r.SQSpaceLeft())
	}
	if r.Features() != p.Features || p.Features&FeatNodrop == 0 {
		t.Fatalf("features %#x, params %#x", r.Features(), p.Features)
	}
	if p.SQOff.Array == 0 || p.CQOff.Cqes == 0 {
		t.Fatalf("ring offsets not filled: %+v %+v", p.SQOff, p.CQOff)
	}
	if r.Fd() < 0 || r.Flags() != SetupCQSize {
		t.Fatalf("fd %d flags %#x", r.Fd(), r.Flags())
	}
}

func TestNewBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries uint32
		p       *Params
		want    unix.Errno
	}{
		{"zero entries", 0, nil, unix.EINVAL},
		{"too many entries", 1 << 20, nil, unix.EINVAL},
		{"unknown flag", 4, &Params{Flags: 1 << 30}, unix.EINVAL},
		{"cq smaller than sq", 8, &Params{Flags: SetupCQSize, CQEntries: 2}, unix.EINVAL},
		{"reserved field", 4, &Params{Resv: [3]uint32{1}}, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.entries, tc.p)
			if r != nil || !errors.Is(err, tc.want) {
				t.Fatalf("New = %v, %v; want %v", r, err, tc.want)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("%v must not match ErrUnavailable", err)
			}
		})
	}
}

func TestQueueInitClamp(t *testing.T) {
	r, err := QueueInit(1<<20, SetupClamp)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.SQEntries() != 32768 || r.Flags() != SetupClamp {
		t.Fatalf("clamped entries %d flags %#x", r.SQEntries(), r.Flags())
	}
}

func TestSQFullGetSQENil(t *testing.T) {
	r := rawRing(t, 4, nil)
	rawNops(t, r, 4, 0)
	if r.SQReady() != 4 || r.SQSpaceLeft() != 0 {
		t.Fatalf("ready %d space %d", r.SQReady(), r.SQSpaceLeft())
	}
	if sqe := r.GetSQE(); sqe != nil {
		t.Fatal("GetSQE on a full SQ returned an entry")
	}
	if n, err := r.Submit(); n != 4 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	if r.SQSpaceLeft() != 4 {
		t.Fatalf("space after submit %d", r.SQSpaceLeft())
	}
	rawReap(t, r, 4)
}

func TestUseAfterClose(t *testing.T) {
	r, err := New(4, nil)
	if errors.Is(err, ErrUnavailable) {
		testutil.SkipNoFeature(t, "io_uring", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rawNops(t, r, 2, 0)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checkClosedRing(t, "closed ring", r)
	// A nil *Ring answers like a closed one (RecvmsgValidate and
	// BufRingCQAdvance take nil arguments the same way).
	checkClosedRing(t, "nil ring", nil)
	if RecvmsgValidate(make([]byte, 64), nil) != nil {
		t.Error("RecvmsgValidate with a nil msghdr")
	}
	r.BufRingCQAdvance(nil, 1)
}

// checkClosedRing checks that every method of r (closed, or nil) hands out
// nothing and returns ErrClosed.
func checkClosedRing(t *testing.T, what string, r *Ring) {
	t.Helper()
	if r.GetSQE() != nil || r.Fd() != -1 || !r.Closed() {
		t.Fatalf("%s still hands out SQEs / fd", what)
	}
	if r.CQReady() != 0 || r.SQReady() != 0 || r.PeekBatchCQE(make([]*CQE, 4)) != 0 || r.SQFlags() != 0 {
		t.Fatalf("%s reports entries", what)
	}
	r.CQAdvance(1) // must not crash
	r.CQESeen(&CQE{})
	_, _, _, _ = r.Features(), r.Flags(), r.SQEntries(), r.CQEntries()
	errs := map[string]error{}
	_, errs["Submit"] = r.Submit()
	_, errs["SubmitAndWait"] = r.SubmitAndWait(1)
	_, _, errs["SubmitAndWaitTimeout"] = r.SubmitAndWaitTimeout(1, nil, nil)
	_, errs["SubmitAndGetEvents"] = r.SubmitAndGetEvents()
	errs["GetEvents"] = r.GetEvents()
	_, errs["PeekCQE"] = r.PeekCQE()
	_, errs["WaitCQE"] = r.WaitCQE()
	_, errs["WaitCQENr"] = r.WaitCQENr(1)
	_, errs["WaitCQEs"] = r.WaitCQEs(1, nil, nil)
	_, errs["WaitCQETimeout"] = r.WaitCQETimeout(time.Millisecond)
	_, errs["Probe"] = r.Probe()
	errs["RegisterBuffers"] = r.RegisterBuffers(nil)
	errs["RegisterFiles"] = r.RegisterFiles([]int{0})
	errs["RegisterEventFD"] = r.RegisterEventFD(0)
	errs["UnregisterEventFD"] = r.UnregisterEventFD()
	_, errs["RegisterPersonality"] = r.RegisterPersonality()
	_, errs["RegisterRingFD"] = r.RegisterRingFD()
	errs["EnableRings"] = r.EnableRings()
	errs["DontFork"] = r.DontFork()
	errs["SQRingWait"] = r.SQRingWait()
	errs["InitSQArray"] = r.InitSQArray()
	_, errs["SetupBufRing"] = r.SetupBufRing(8, 1)
	errs["RegisterFileAllocRange"] = r.RegisterFileAllocRange(0, 1)
	errs["CQEventFDToggle"] = r.CQEventFDToggle(false)
	for name, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s: %s: %v, want ErrClosed", what, name, err)
		}
	}
}

func TestProbe(t *testing.T) {
	r := rawRing(t, 4, nil)
	p, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if p.LastOp < OpSendmsgZC || int(p.OpsLen) != len(p.Ops) {
		t.Fatalf("probe last op %d, ops %d/%d", p.LastOp, p.OpsLen, len(p.Ops))
	}
	for _, op := range []uint8{OpNop, OpRead, OpWrite, OpTimeout, OpAccept, OpSocket, OpSendZC} {
		if !p.OpSupported(op) {
			t.Errorf("op %d not supported on %s", op, testutil.Release())
		}
	}
	if p.OpSupported(255) || (*Probe)(nil).OpSupported(OpNop) {
		t.Error("opcode 255 / nil probe reported supported")
	}
	// An opcode beyond the probe is unsupported, and the kernel refuses it.
	sqe := r.GetSQE()
	sqe.PrepRW(p.LastOp+1, -1, nil, 0, 0)
	sqe.SetUserData(9)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	got := rawReap(t, r, 1)
	if got[9].Res != -int32(unix.EINVAL) {
		t.Fatalf("unknown opcode res %d, want -EINVAL", got[9].Res)
	}
	gp, err := GetProbe()
	if err != nil || gp.LastOp != p.LastOp {
		t.Fatalf("GetProbe = %+v, %v", gp, err)
	}
	small, err := r.RegisterProbe(4)
	if err != nil || len(small.Ops) > 4 || !small.OpSupported(OpNop) {
		t.Fatalf("RegisterProbe(4) = %+v, %v", small, err)
	}
}

// TestSetupRefusedErrUnavailable makes the kernel refuse io_uring_setup for
// real, with a seccomp filter on one thread, and checks the error New gives.
func TestSetupRefusedErrUnavailable(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS} {
		var res struct {
			r             *Ring
			err, setupErr error
		}
		testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_IO_URING_SETUP, Arg: -1, Errno: errno}}, func() {
			res.r, res.err = New(4, nil)
			_, res.setupErr = Setup(4, &Params{})
		})
		if res.r != nil {
			res.r.Close()
			t.Fatalf("New succeeded under a seccomp filter returning %v", errno)
		}
		for name, err := range map[string]error{"New": res.err, "Setup": res.setupErr} {
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errno) {
				t.Errorf("%s under seccomp %v: %v; want ErrUnavailable and %v", name, errno, err, errno)
			}
		}
	}
	// The filter stayed on the dead thread: rings work again.
	rawRing(t, 2, nil)
}

// TestCQOverflowNodrop overflows a 4-entry CQ with 12 NOPs: with
// IORING_FEAT_NODROP nothing is lost, IORING_SQ_CQ_OVERFLOW is raised while
// completions wait in the kernel, and PeekCQE/PeekBatchCQE flush them.
func TestCQOverflowNodrop(t *testing.T) {
	p := Params{Flags: SetupCQSize, CQEntries: 4}
	r := rawRing(t, 4, &p)
	if p.Features&FeatNodrop == 0 {
		testutil.FeatureMissing(t, 5, 5, "IORING_FEAT_NODROP", nil)
	}
	for batch := 0; batch < 3; batch++ {
		rawNops(t, r, 4, uint64(batch*4))
		if n, err := r.Submit(); n != 4 || err != nil {
			t.Fatalf("batch %d: Submit = %d, %v", batch, n, err)
		}
	}
	if r.CQReady() != 4 {
		t.Fatalf("CQReady %d, want 4 (ring full)", r.CQReady())
	}
	if !r.CQHasOverflow() || r.SQFlags()&SQCQOverflow == 0 {
		t.Fatalf("overflow flag not set: sq flags %#x", r.SQFlags())
	}
	if r.CQOverflow() != 0 {
		t.Fatalf("NODROP kernel counted %d dropped CQEs", r.CQOverflow())
	}
	seen := map[uint64]bool{}
	batch := make([]*CQE, 3)
	for len(seen) < 12 {
		var n int
		if len(seen)%2 == 0 {
			n = r.PeekBatchCQE(batch)
		} else if cqe, err := r.PeekCQE(); err == nil {
			batch[0], n = cqe, 1
		} else if !errors.Is(err, unix.EAGAIN) {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("ran dry after %d completions, sq flags %#x", len(seen), r.SQFlags())
		}
		for _, c := range batch[:n] {
			if seen[c.UserData] || c.Res != 0 {
				t.Fatalf("bad completion %+v", *c)
			}
			seen[c.UserData] = true
		}
		r.CQAdvance(uint32(n))
	}
	if r.CQHasOverflow() || r.CQReady() != 0 {
		t.Fatalf("after reaping: overflow %v ready %d", r.CQHasOverflow(), r.CQReady())
	}
	if _, err := r.PeekCQE(); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("PeekCQE on empty ring: %v, want EAGAIN", err)
	}
}

// rawSignalWhile sends SIGURG to thread tid every half millisecond until
// stop is closed.
func rawSignalWhile(tid int, stop <-chan struct{}) {
	pid := os.Getpid()
	for {
		select {
		case <-stop:
			return
		default:
		}
		unix.Tgkill(pid, tid, unix.SIGURG)
		time.Sleep(500 * time.Microsecond)
	}
}

// queueTimeout prepares a timeout SQE with user data 77 that completes
// after d; pin keeps its timespec pinned.
func queueTimeout(r *Ring, pin *runtime.Pinner, d time.Duration) {
	ts := &KernelTimespec{Nsec: int64(d)}
	pin.Pin(ts)
	sqe := r.GetSQE()
	sqe.PrepTimeout(ts, 0, 0)
	sqe.SetUserData(77)
}

// TestWaitRetriesEINTR bombards the waiting thread with signals: blocking
// waits must neither return EINTR nor return early.
func TestWaitRetriesEINTR(t *testing.T) {
	r := rawRing(t, 4, nil)
	const d = 150 * time.Millisecond
	waits := map[string]func() (*CQE, error){
		"WaitCQETimeout": func() (*CQE, error) { return r.WaitCQETimeout(d) },
		"WaitCQEs": func() (*CQE, error) {
			ts := DurationToTimespec(d)
			return r.WaitCQEs(1, &ts, nil)
		},
		"WaitCQE": func() (*CQE, error) {
			// A timeout SQE completes the untimed wait after d.
			var pin runtime.Pinner
			defer pin.Unpin()
			queueTimeout(r, &pin, d)
			if _, err := r.Submit(); err != nil {
				return nil, err
			}
			return r.WaitCQE()
		},
		"SubmitAndWait": func() (*CQE, error) {
			// The timeout SQE goes in with the wait and ends it after d.
			var pin runtime.Pinner
			defer pin.Unpin()
			queueTimeout(r, &pin, d)
			if n, err := r.SubmitAndWait(1); n != 1 || err != nil {
				return nil, fmt.Errorf("SubmitAndWait = %d, %w", n, err)
			}
			// As in C, a signal can end the wait of a submission that
			// succeeded: io_uring_enter then reports the SQEs it took,
			// and the caller waits again for what it needs.
			return r.WaitCQE()
		},
		"SubmitAndWaitTimeout": func() (*CQE, error) {
			ts := DurationToTimespec(d)
			cqe, _, err := r.SubmitAndWaitTimeout(1, &ts, nil)
			return cqe, err
		},
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			// Whether a signal lands while the thread is in the kernel's
			// wait is up to the scheduler: on a loaded machine the
			// signalling thread may hardly run in d (and a signal that
			// ends SubmitAndWait's wait is no EINTR: the kernel reports
			// the submission). An attempt that saw no EINTR is repeated;
			// every attempt must still wait d and get its timeout.
			const attempts = 20
			for attempt := 1; ; attempt++ {
				before := r.eintr.Load()
				tidc := make(chan int)
				stop := make(chan struct{})
				type res struct {
					cqe     *CQE
					err     error
					elapsed time.Duration
				}
				done := make(chan res)
				go func() {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					tidc <- unix.Gettid()
					start := time.Now()
					cqe, err := wait()
					done <- res{cqe, err, time.Since(start)}
				}()
				go rawSignalWhile(<-tidc, stop)
				got := <-done
				close(stop)
				if got.elapsed < d {
					t.Errorf("returned after %v, before the %v timeout", got.elapsed, d)
				}
				if name == "WaitCQE" || name == "SubmitAndWait" {
					if got.err != nil || got.cqe.UserData != 77 || got.cqe.Res != -int32(unix.ETIME) {
						t.Fatalf("WaitCQE = %+v, %v; want the timeout CQE", got.cqe, got.err)
					}
					r.CQESeen(got.cqe)
				} else if !errors.Is(got.err, unix.ETIME) {
					t.Fatalf("%s = %v, want ETIME", name, got.err)
				}
				if r.eintr.Load() != before {
					break
				}
				if attempt == attempts {
					t.Fatalf("no EINTR was seen in %d attempts: the signals never interrupted the wait", attempts)
				}
				t.Logf("attempt %d: no signal interrupted the wait; again", attempt)
			}
		})
	}
}

func TestWaitCQEsSigmaskReportsEINTR(t *testing.T) {
	r := rawRing(t, 4, nil)
	var mask unix.Sigset_t // empty mask: every signal may interrupt
	tidc := make(chan int)
	stop := make(chan struct{})
	defer close(stop)
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tidc <- unix.Gettid()
		ts := DurationToTimespec(5 * time.Second)
		_, err := r.WaitCQEs(1, &ts, &mask)
		errc <- err
	}()
	go rawSignalWhile(<-tidc, stop)
	select {
	case err := <-errc:
		if !errors.Is(err, unix.EINTR) {
			t.Fatalf("WaitCQEs with sigmask = %v, want EINTR", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("WaitCQEs with a sigmask was not interrupted")
	}
}
