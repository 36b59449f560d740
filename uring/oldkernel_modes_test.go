package uring

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// oldKernelEnv names, in a child test process, the kernel that
// TestOldKernelQueueModes emulates there.
const oldKernelEnv = "AIOKIT_URING_OLD_KERNEL"

// kernelVersion is a Linux version, major*100 + minor (510 for 5.10).
type kernelVersion int

func (v kernelVersion) String() string { return fmt.Sprintf("%d.%d", v/100, v%100) }

// featuresSince are the IORING_FEAT_* bits with the kernel that added them.
var featuresSince = []struct {
	bit   uint32
	since kernelVersion
}{
	{FeatSingleMmap, 504}, {FeatNodrop, 505}, {FeatSubmitStable, 505},
	{FeatRWCurPos, 506}, {FeatCurPersonality, 506}, {FeatFastPoll, 507},
	{FeatPoll32Bits, 509}, {FeatSQPollNonfixed, 511}, {FeatExtArg, 511},
	{FeatNativeWorkers, 512}, {FeatRsrcTags, 513}, {FeatCQESkip, 517},
	{FeatLinkedFile, 517},
	// IORING_FEAT_REG_REG_RING (6.3) and later: newer than every kernel
	// emulated here, cleared with every unknown bit.
}

// registerSince are the io_uring_register opcodes (IORING_REGISTER_* and
// IORING_UNREGISTER_*) with the kernel that added them; the opcodes after
// IORING_REGISTER_FILE_ALLOC_RANGE came in 6.3 and later.
var registerSince = []struct {
	op    uint32
	since kernelVersion
}{
	{RegisterBuffers, 501}, {UnregisterBuffers, 501}, {RegisterFiles, 501}, {UnregisterFiles, 501},
	{RegisterEventFD, 502}, {UnregisterEventFD, 502}, {RegisterFilesUpdate, 505},
	{RegisterEventFDAsync, 506}, {RegisterProbe, 506}, {RegisterPersonality, 506}, {UnregisterPersonality, 506},
	{RegisterRestrictions, 510}, {RegisterEnableRings, 510},
	{RegisterFiles2, 513}, {RegisterFilesUpdate2, 513}, {RegisterBuffers2, 513}, {RegisterBuffersUpdate, 513},
	{RegisterIOWQAff, 514}, {UnregisterIOWQAff, 514}, {RegisterIOWQMaxWorkers, 515},
	{RegisterRingFDs, 518}, {UnregisterRingFDs, 518}, {RegisterPBufRing, 519}, {UnregisterPBufRing, 519},
	{RegisterSyncCancel, 600}, {RegisterFileAllocRange, 600},
}

// enterSince are the io_uring_enter flags with the kernel that added them;
// the bits above IORING_ENTER_REGISTERED_RING came in 6.12 and later.
var enterSince = []struct {
	flag  uint64
	since kernelVersion
}{
	{EnterGetevents, 501}, {EnterSQWakeup, 501}, {EnterSQWait, 510}, {EnterExtArg, 511}, {EnterRegisteredRing, 518},
}

// emulate returns what an emulation of kernel v needs: the view that hides
// the features it lacks (and CQ ring flags before 5.8) and the seccomp
// rules that refuse, with EINVAL, the register opcodes and enter flags it
// does not know.
func emulate(v kernelVersion) (oldKernelView, []testutil.SyscallRule) {
	var has uint32
	for _, f := range featuresSince {
		if f.since <= v {
			has |= f.bit
		}
	}
	view := oldKernelView{clearFeatures: ^has, noCQFlags: v < 508}
	var rules []testutil.SyscallRule
	known := map[uint32]bool{}
	for _, r := range registerSince {
		known[r.op] = r.since <= v
	}
	for op := uint32(0); op < 64; op++ {
		if ok, listed := known[op]; !ok || !listed {
			rules = append(rules, denyRegister(op))
		}
	}
	// IORING_REGISTER_USE_REGISTERED_RING (6.3), a bit of the opcode.
	rules = append(rules, testutil.SyscallRule{Nr: unix.SYS_IO_URING_REGISTER, Arg: 1, AnyBit: 1 << 31, Errno: unix.EINVAL})
	unknown := uint64(0xffffffff)
	for _, e := range enterSince {
		if e.since <= v {
			unknown &^= e.flag
		}
	}
	return view, append(rules, denyEnterFlags(unknown))
}

// oldKernels are the kernels TestOldKernelQueueModes emulates: 5.4 (no
// NODROP, no probe, no CQ flags), 5.7 (probe, no CQ flags), 5.10 (CQ
// flags, no EXT_ARG), 5.15 (EXT_ARG, no registered rings) and 6.0.
var oldKernels = []kernelVersion{504, 507, 510, 515, 600}

// queueBehaviour is the subset of the Queue's tests that
// TestOldKernelQueueModes reruns on each emulated kernel: reads, writes,
// files, polls, timeouts, sockets, cancels, context ends, busy tables,
// Close with operations in flight and racing submitters, chains and Files;
// and, on the kernels that have what they test, CQ overflow, the probe and
// inline waits.
var queueBehaviour = []struct {
	name  string
	test  func(*testing.T)
	since kernelVersion // for the tests of a feature (NODROP, the probe, EXT_ARG), else 0
}{
	{"TestQueueNop", TestQueueNop, 0},
	{"TestQueueReadWrite", TestQueueReadWrite, 0},
	{"TestQueueOpenStatxClose", TestQueueOpenStatxClose, 0},
	{"TestQueueTimeout", TestQueueTimeout, 0},
	{"TestQueuePoll", TestQueuePoll, 0},
	{"TestQueueNet", TestQueueNet, 0},
	{"TestQueueCancelHandle", TestQueueCancelHandle, 0},
	{"TestQueueWaitContextCancel", TestQueueWaitContextCancel, 0},
	{"TestQueuePinHeldUntilCompletion", TestQueuePinHeldUntilCompletion, 0},
	{"TestQueueBusy", TestQueueBusy, 0},
	{"TestQueueCloseInFlight", TestQueueCloseInFlight, 0},
	{"TestQueueCloseRace", TestQueueCloseRace, 0},
	{"TestQueueEINTR", TestQueueEINTR, 0},
	{"TestLinkWriteFsyncRead", TestLinkWriteFsyncRead, 0},
	{"TestLinkFailureCancelsRest", TestLinkFailureCancelsRest, 0},
	{"TestLinkTimeout", TestLinkTimeout, 0},
	{"TestLinkStressSmallSQ", TestLinkStressSmallSQ, 505}, // MaxInFlight 256 on a 4-entry SQ: NODROP
	{"TestFileReadWriteAt", TestFileReadWriteAt, 0},
	{"TestFileReadAtContextCancel", TestFileReadAtContextCancel, 0},
	{"TestFileCloseWhileReading", TestFileCloseWhileReading, 0},
	{"TestQueueCQOverflow", TestQueueCQOverflow, 505},
	{"TestQueueOverflowNoWakeup", TestQueueOverflowNoWakeup, 505},
	{"TestQueue1000Waiters", TestQueue1000Waiters, 505},
	{"TestQueueUnsupportedOp", TestQueueUnsupportedOp, 506},
	{"TestQueueInlineWait", TestQueueInlineWait, 511},
	{"TestQueueInlineWaitGivesUp", TestQueueInlineWaitGivesUp, 511},
	{"TestQueueCloseDuringInlineWait", TestQueueCloseDuringInlineWait, 511},
}

// TestOldKernelQueueModes runs the Queue on emulated older kernels, each in
// a child process (this test binary again) whose every thread has the
// seccomp filter of that kernel (TSYNC) and whose rings hide the features
// it lacks: first the paths chosen by what the kernel reports (MaxInFlight
// without NODROP, no inline waits without EXT_ARG, eventfd notifications
// always on without CQ flags, no probe before 5.6), then queueBehaviour.
func TestOldKernelQueueModes(t *testing.T) {
	if v, ok := os.LookupEnv(oldKernelEnv); ok {
		runOldKernel(t, v)
		return
	}
	testutil.OnFilteredThread(t, nil, func() {}) // skips without seccomp filters
	// What would make the child's tests skip skips here, by name: a child
	// that skips fails this test (an emulation that hides too much).
	rawRing(t, 2, nil).Close() // io_uring refused (a container's profile)
	testutil.TempDir(t)        // no disk directory for the File tests
	for _, v := range oldKernels {
		t.Run("Linux"+v.String(), func(t *testing.T) {
			// A filter and a view can only take away: a real kernel older
			// than v lacks what the tests of v's features expect.
			testutil.RequireKernel(t, int(v/100), int(v%100), "an emulation of Linux "+v.String())
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestOldKernelQueueModes$", "-test.count=1", "-test.v", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", oldKernelEnv, int(v)))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("on emulated Linux %s: %v\n%s", v, err, out)
			}
			if !strings.Contains(string(out), "--- PASS: TestOldKernelQueueModes") || strings.Contains(string(out), "--- SKIP") {
				t.Fatalf("on emulated Linux %s: not every test ran:\n%s", v, out)
			}
		})
	}
}

// runOldKernel is TestOldKernelQueueModes in the child process that
// emulates kernel v (oldKernelEnv).
func runOldKernel(t *testing.T, env string) {
	var n int
	if _, err := fmt.Sscan(env, &n); err != nil {
		t.Fatalf("%s=%q: %v", oldKernelEnv, env, err)
	}
	v := kernelVersion(n)
	view, rules := emulate(v)
	if err := testutil.DenySyscalls(rules, true); err != nil {
		t.Fatalf("seccomp filter of Linux %s for every thread: %v", v, err)
	}
	testKernel = view
	t.Run("Paths", func(t *testing.T) { oldKernelPaths(t, v) })
	for _, b := range queueBehaviour {
		if b.since <= v {
			t.Run(b.name, b.test)
		}
	}
}

// oldKernelPaths checks the choices a Queue makes from what emulated
// kernel v reports, and that the filter refuses what v does not know.
func oldKernelPaths(t *testing.T, v kernelVersion) {
	q := newTestQueue(t, QueueConfig{Entries: 8, MaxInFlight: 64})
	r := q.Ring()
	features := r.Features()
	if v < 511 && features&FeatExtArg != 0 || v < 505 && features&FeatNodrop != 0 {
		t.Fatalf("features %#x on emulated Linux %s", features, v)
	}
	// MaxInFlight 64 holds without NODROP (a dropped CQE would leave its
	// handle waiting): half the 16-entry CQ.
	want := 64
	if features&FeatNodrop == 0 {
		want = int(r.CQEntries()) / 2
	}
	if got := q.MaxInFlight(); got != want {
		t.Errorf("MaxInFlight = %d with features %#x, want %d", got, features, want)
	}
	if (q.probe != nil) != (v >= 506) {
		t.Errorf("probe %v on emulated Linux %s", q.probe != nil, v)
	}
	if q.canQuiet != (v >= 508) {
		t.Errorf("eventfd toggle usable = %v on emulated Linux %s", q.canQuiet, v)
	}
	if q.canWaitInline != (features&FeatExtArg != 0) {
		t.Errorf("inline waits = %v with features %#x", q.canWaitInline, features)
	}
	// Lone reads in a row: waited for in the kernel only with EXT_ARG.
	lonePipeReads(t, q, 4*8, 200*time.Microsecond)
	if waits := q.inlineWaits.Load(); (waits != 0) != q.canWaitInline || q.inlineRefused.Load() {
		t.Errorf("%d inline waits (refused %v), inline waits usable %v", waits, q.inlineRefused.Load(), q.canWaitInline)
	}
	if !r.CQEventFDEnabled() {
		t.Error("eventfd notifications off on an idle queue")
	}
	raw := rawRing(t, 4, nil)
	if err := raw.CQEventFDToggle(false); (err == unix.EOPNOTSUPP) != (v < 508) || (err != nil && err != unix.EOPNOTSUPP) {
		t.Errorf("CQEventFDToggle on emulated Linux %s = %v", v, err)
	}
	if v < 518 {
		if n, err := raw.RegisterRingFD(); n != 0 || err != unix.EINVAL {
			t.Errorf("RegisterRingFD on emulated Linux %s = %d, %v; want EINVAL", v, n, err)
		}
	}
	if c, err := raw.WaitCQETimeout(time.Millisecond); err != unix.ETIME {
		t.Errorf("WaitCQETimeout on an empty ring = %+v, %v; want ETIME", c, err)
	}
}
