package uring

import (
	"errors"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Edge cases of the raw layer: inputs at and past the kernel's limits,
// calls in odd states, malformed buffers. Where C matters the expected
// result is what liburing 2.3 gives for the same call (checked with small
// C programs against the same kernel).

// staleTimeout leaves the -ETIME CQE of a liburing timeout SQE at the head
// of the CQ of a ring without IORING_FEAT_EXT_ARG: a timed wait that a NOP
// ended still has its timeout SQE in flight, which expires later.
func staleTimeout(t *testing.T, r *Ring, ud uint64) {
	t.Helper()
	rawNops(t, r, 1, ud)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	c, err := r.WaitCQETimeout(20 * time.Millisecond)
	if err != nil || c.UserData != ud {
		t.Fatalf("timed wait for NOP %d = %+v, %v", ud, c, err)
	}
	r.CQESeen(c)
	deadline := time.Now().Add(2 * time.Second)
	for r.CQReady() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var head CQE
	if r.ForEachCQE(func(c *CQE) bool { head = *c; return false }) != 1 ||
		head.UserData != UdataTimeout || head.Res != -int32(unix.ETIME) {
		t.Fatalf("CQ head %+v: want liburing's expired timeout", head)
	}
}

// TestRingEdgeStaleTimeoutPeekWait: before Linux 5.11 io_uring_peek_cqe and
// io_uring_wait_cqe skip a stale liburing timeout CQE at the head of the
// CQ without returning its -ETIME (their first __io_uring_peek_cqe error is
// dropped, io_uring_wait_cqe_nr looks again): the peek is EAGAIN on an
// otherwise empty CQ, and the wait returns the CQE behind it.
func TestRingEdgeStaleTimeoutPeekWait(t *testing.T) {
	withTestKernel(t, oldKernelView{clearFeatures: FeatExtArg})
	r := rawRing(t, 8, nil)
	if r.Features()&FeatExtArg != 0 {
		t.Fatal("features still have IORING_FEAT_EXT_ARG")
	}

	staleTimeout(t, r, 1)
	if c, err := r.PeekCQE(); err != unix.EAGAIN {
		t.Errorf("PeekCQE over a stale timeout CQE = %+v, %v; want EAGAIN (as io_uring_peek_cqe)", c, err)
	}
	if n := r.CQReady(); n != 0 {
		t.Errorf("%d CQEs left after the peek; want the timeout's consumed", n)
	}

	staleTimeout(t, r, 2)
	rawNops(t, r, 1, 3)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	c, err := r.WaitCQE()
	if err != nil || c == nil || c.UserData != 3 {
		t.Fatalf("WaitCQE over a stale timeout CQE = %+v, %v; want NOP 3 (as io_uring_wait_cqe)", c, err)
	}
	r.CQESeen(c)

	staleTimeout(t, r, 4)
	rawNops(t, r, 1, 5)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if c, err = r.PeekCQE(); err != nil || c == nil || c.UserData != 5 {
		t.Fatalf("PeekCQE over a stale timeout CQE and a NOP = %+v, %v; want NOP 5", c, err)
	}
	r.CQESeen(c)
	if n := r.CQReady(); n != 0 {
		t.Errorf("%d CQEs left", n)
	}
}

// TestRingEdgeQueueRingFlagWordsRaceClose: CQEventFDEnabled reads the CQ
// flag word that Queue.Close unmaps, and Ring.Close reads whether the ring
// still belongs to the queue, which Queue.Close changes: both may race
// Queue.Close (the race detector and a fault find the unguarded reads).
func TestRingEdgeQueueRingFlagWordsRaceClose(t *testing.T) {
	for round := 0; round < 10; round++ {
		q := newTestQueue(t, QueueConfig{Entries: 8})
		r := q.Ring()
		if !r.CQEventFDEnabled() {
			t.Fatal("eventfd notifications off on an idle queue")
		}
		var wg sync.WaitGroup
		errc := make(chan error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for !r.Closed() {
				r.CQEventFDEnabled()
			}
			if !r.CQEventFDEnabled() {
				errc <- errors.New("CQEventFDEnabled after Close = false")
			}
		}()
		go func() {
			defer wg.Done()
			for {
				err := r.Close()
				if err == nil {
					return
				}
				if err != ErrQueueRing {
					errc <- err
					return
				}
			}
		}()
		time.Sleep(time.Duration(round%3) * time.Millisecond)
		closeWithin(t, q, 10*time.Second)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Errorf("round %d: %v", round, err)
		}
	}
}

// TestRingEdgeClosedRingMethods: the methods checkClosedRing does not call
// return ErrClosed (or nothing) on a closed ring and on a nil one.
func TestRingEdgeClosedRingMethods(t *testing.T) {
	r, err := New(4, nil)
	if err != nil {
		testutil.SkipNoFeature(t, "io_uring", err)
	}
	br, err := r.SetupBufRing(4, 9)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for _, rr := range []*Ring{r, nil} {
		iov := []unix.Iovec{{}}
		ts := KernelTimespec{}
		var vals [2]uint32
		var cpus unix.CPUSet
		errs := map[string]error{}
		errs["RegisterBuffersTags"] = rr.RegisterBuffersTags(iov, nil)
		errs["RegisterBuffersSparse"] = rr.RegisterBuffersSparse(1)
		_, errs["RegisterBuffersUpdateTag"] = rr.RegisterBuffersUpdateTag(0, iov, nil)
		errs["UnregisterBuffers"] = rr.UnregisterBuffers()
		errs["RegisterFilesTags"] = rr.RegisterFilesTags([]int{-1}, nil)
		errs["RegisterFilesSparse"] = rr.RegisterFilesSparse(1)
		_, errs["RegisterFilesUpdateTag"] = rr.RegisterFilesUpdateTag(0, []int{-1}, nil)
		_, errs["RegisterFilesUpdate"] = rr.RegisterFilesUpdate(0, []int{-1})
		errs["UnregisterFiles"] = rr.UnregisterFiles()
		errs["RegisterEventFDAsync"] = rr.RegisterEventFDAsync(0)
		errs["UnregisterPersonality"] = rr.UnregisterPersonality(1)
		errs["RegisterRestrictions"] = rr.RegisterRestrictions(nil)
		errs["RegisterIOWQAff"] = rr.RegisterIOWQAff(&cpus)
		errs["UnregisterIOWQAff"] = rr.UnregisterIOWQAff()
		errs["RegisterIOWQMaxWorkers"] = rr.RegisterIOWQMaxWorkers(&vals)
		_, errs["UnregisterRingFD"] = rr.UnregisterRingFD()
		errs["RegisterBufRing"] = rr.RegisterBufRing(&BufReg{}, 0)
		errs["UnregisterBufRing"] = rr.UnregisterBufRing(9)
		errs["RegisterSyncCancel"] = rr.RegisterSyncCancel(&SyncCancelReg{})
		_, errs["RegisterProbe"] = rr.RegisterProbe(8)
		_, errs["WaitCQEsFor"] = rr.WaitCQEsFor(1, time.Millisecond)
		_, errs["WaitCQETimeoutTS"] = rr.WaitCQETimeoutTS(&ts)
		_, _, errs["SubmitAndWaitFor"] = rr.SubmitAndWaitFor(1, time.Millisecond)
		errs["FreeBufRing"] = rr.FreeBufRing(nil, 4, 9)
		for name, err := range errs {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("ring %p: %s = %v, want ErrClosed", rr, name, err)
			}
		}
		if rr.SQSpaceLeft() != 0 || rr.CQOverflow() != 0 || rr.SQDropped() != 0 || rr.CQHasOverflow() ||
			!rr.CQEventFDEnabled() || rr.ForEachCQE(func(*CQE) bool { return true }) != 0 {
			t.Errorf("ring %p: counters or flags of a closed ring", rr)
		}
	}
	// The buffer ring stays mapped after Close; FreeBufRing unmaps it.
	br.Add(make([]byte, 8), 1, BufRingMask(4), 0)
	r.BufRingCQAdvance(br, 1)
	if err := r.FreeBufRing(br, 4, 9); !errors.Is(err, ErrClosed) {
		t.Errorf("FreeBufRing after Close = %v", err)
	}
}

// TestRingEdgeRegisterErrnos: register calls with empty, too long, repeated
// and out-of-range arguments give liburing's results: EFAULT for a NULL
// array, EINVAL past IORING_MAX_REG_BUFFERS (16384) or the table, EBUSY for
// a second table, ENXIO with none, EBADF for a bad descriptor, EMFILE past
// IORING_MAX_FIXED_FILES.
func TestRingEdgeRegisterErrnos(t *testing.T) {
	r := rawRing(t, 8, nil)
	mem := rawMmap(t, 4096)
	many := make([]unix.Iovec, 16385)
	for i := range many {
		many[i] = rawIovec(mem)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	n := func(_ int, err error) error { return err }
	big := unix.Iovec{Base: &mem[0]}
	big.SetLen(1 << 31)
	steps := []struct {
		name string
		err  error
		want error
	}{
		{"RegisterBuffers(nil)", r.RegisterBuffers(nil), unix.EFAULT},
		{"RegisterBuffers(16385)", r.RegisterBuffers(many), unix.EINVAL},
		{"RegisterBuffers(16384)", r.RegisterBuffers(many[:16384]), nil},
		{"RegisterBuffers again", r.RegisterBuffers(many[:1]), unix.EBUSY},
		{"UnregisterBuffers", r.UnregisterBuffers(), nil},
		{"UnregisterBuffers again", r.UnregisterBuffers(), unix.ENXIO},
		{"RegisterBuffersSparse(0)", r.RegisterBuffersSparse(0), unix.EINVAL},
		{"RegisterBuffersSparse(16385)", r.RegisterBuffersSparse(16385), unix.EINVAL},
		{"RegisterBuffersSparse(4)", r.RegisterBuffersSparse(4), nil},
		{"RegisterBuffersUpdateTag past the table", n(r.RegisterBuffersUpdateTag(3, many[:2], nil)), unix.EINVAL},
		{"RegisterBuffersUpdateTag empty at the end", n(r.RegisterBuffersUpdateTag(4, nil, nil)), unix.EINVAL},
		{"RegisterBuffersUpdateTag 2 GiB", n(r.RegisterBuffersUpdateTag(1, []unix.Iovec{big}, nil)), unix.EFAULT},
		{"RegisterBuffersUpdateTag tags too short", n(r.RegisterBuffersUpdateTag(0, many[:2], []uint64{0})), unix.EINVAL},
		{"UnregisterBuffers sparse", r.UnregisterBuffers(), nil},
		{"RegisterFiles(nil)", r.RegisterFiles(nil), unix.EFAULT},
		{"UnregisterFiles none", r.UnregisterFiles(), unix.ENXIO},
		{"RegisterFilesUpdate none", n(r.RegisterFilesUpdate(0, []int{0})), unix.ENXIO},
		{"RegisterFiles [9999]", r.RegisterFiles([]int{9999}), unix.EBADF},
		{"RegisterFiles [-3]", r.RegisterFiles([]int{-3}), unix.EBADF},
		{"RegisterFiles [fd+2^32]", r.RegisterFiles([]int{0 + 1<<32}), unix.EBADF},
		{"RegisterFiles 3", r.RegisterFiles([]int{0, -1, 0}), nil},
		{"RegisterFiles again", r.RegisterFiles([]int{0}), unix.EBUSY},
		{"RegisterFilesUpdate past the table", n(r.RegisterFilesUpdate(2, []int{0, 0})), unix.EINVAL},
		{"RegisterFilesUpdate bad fd", n(r.RegisterFilesUpdate(0, []int{9999})), unix.EBADF},
		{"RegisterFilesUpdate skip", n(r.RegisterFilesUpdate(0, []int{RegisterFilesSkip})), nil},
		{"UnregisterFiles", r.UnregisterFiles(), nil},
		{"RegisterFilesSparse(0)", r.RegisterFilesSparse(0), unix.EINVAL},
		{"RegisterFileAllocRange without files", r.RegisterFileAllocRange(0, 1), unix.EINVAL},
		{"UnregisterEventFD none", r.UnregisterEventFD(), unix.ENXIO},
		{"RegisterEventFD(-1)", r.RegisterEventFD(-1), unix.EBADF},
		{"RegisterEventFD(fd+2^32)", r.RegisterEventFD(efd + 1<<32), unix.EBADF},
		{"RegisterEventFD(efd)", r.RegisterEventFD(efd), nil},
		{"RegisterEventFD again", r.RegisterEventFD(efd), unix.EBUSY},
		{"RegisterEventFDAsync again", r.RegisterEventFDAsync(efd), unix.EBUSY},
		{"UnregisterEventFD", r.UnregisterEventFD(), nil},
		{"UnregisterPersonality(0)", r.UnregisterPersonality(0), unix.EINVAL},
		{"UnregisterPersonality(1<<32+1)", r.UnregisterPersonality(1<<32 + 1), unix.EINVAL},
		{"RegisterSyncCancel(nil)", r.RegisterSyncCancel(nil), unix.EFAULT},
		{"RegisterSyncCancel none", r.RegisterSyncCancel(&SyncCancelReg{Timeout: KernelTimespec{-1, -1}}), unix.ENOENT},
		{"RegisterIOWQAff(nil)", r.RegisterIOWQAff(nil), unix.EFAULT},
		{"RegisterIOWQMaxWorkers(nil)", r.RegisterIOWQMaxWorkers(nil), unix.EFAULT},
		{"RegisterProbe(257)", func() error { _, err := r.RegisterProbe(257); return err }(), unix.EINVAL},
	}
	for _, s := range steps {
		if s.err != s.want {
			t.Errorf("%s = %v, want %v", s.name, s.err, s.want)
		}
	}
	for _, nr := range []uint32{0, 1, 256} {
		p, err := r.RegisterProbe(nr)
		if err != nil || len(p.Ops) != int(min(nr, uint32(p.OpsLen))) || p.OpSupported(p.LastOp+1) {
			t.Errorf("RegisterProbe(%d) = %+v, %v", nr, p, err)
		}
	}
}

// TestRingEdgeBufRingSizes: SetupBufRing refuses sizes the kernel refuses
// before mapping anything, takes the largest one, and a group already in
// use is EEXIST with nothing left behind; UnregisterBufRing keeps the low
// 16 bits of the group, as liburing's __u16 does.
func TestRingEdgeBufRingSizes(t *testing.T) {
	r := rawRing(t, 8, nil)
	for _, n := range []uint32{0, 3, 1<<15 + 1, 1 << 16, 1<<32 - 1} {
		if br, err := r.SetupBufRing(n, 1); err != unix.EINVAL || br != nil {
			t.Errorf("SetupBufRing(%d) = %p, %v; want EINVAL", n, br, err)
		}
	}
	if err := r.RegisterBufRing(nil, 0); err != unix.EFAULT {
		t.Errorf("RegisterBufRing(nil) = %v", err)
	}
	if err := r.RegisterBufRing(&BufReg{RingEntries: 4, Bgid: 1}, 0); err != unix.EFAULT {
		t.Errorf("RegisterBufRing at address 0 = %v, want EFAULT", err)
	}
	br, err := r.SetupBufRing(1<<15, 1)
	if err != nil {
		t.Fatalf("SetupBufRing(32768) = %v", err)
	}
	br.Add(make([]byte, 1), 1<<15-1, BufRingMask(1<<15), 1<<15-1) // the last slot
	br.Advance(1)
	if br.Tail != 1 {
		t.Errorf("tail %d after one Advance", br.Tail)
	}
	if dup, err := r.SetupBufRing(4, 1); err != unix.EEXIST || dup != nil {
		t.Errorf("SetupBufRing of a group in use = %p, %v; want EEXIST", dup, err)
	}
	r.brMu.Lock()
	rings := len(r.bufRings)
	r.brMu.Unlock()
	if rings != 1 {
		t.Errorf("%d buffer rings recorded; want 1 (the refused one left behind)", rings)
	}
	if err := r.UnregisterBufRing(1 << 31); err != unix.EINVAL {
		t.Errorf("UnregisterBufRing(1<<31) = %v, want EINVAL", err)
	}
	if err := r.UnregisterBufRing(-1); err != unix.ENOENT {
		t.Errorf("UnregisterBufRing(-1) = %v, want ENOENT (group 65535)", err)
	}
	if err := r.UnregisterBufRing(1<<16 + 1); err != nil {
		t.Errorf("UnregisterBufRing(65537) = %v, want group 1 unregistered", err)
	}
	if err := r.FreeBufRing(br, 1<<15, 1); err != unix.ENOENT {
		t.Errorf("FreeBufRing after the unregistration = %v, want ENOENT", err)
	}
	if r.bufRings[br] != (bufRingReg{1 << 15, 1}) {
		t.Fatal("FreeBufRing forgot a ring it did not unmap")
	}
	// Register again by hand, then free: the memory goes.
	reg := BufReg{RingAddr: uint64(uintptr(unsafe.Pointer(br))), RingEntries: 1 << 15, Bgid: 1}
	if err := r.RegisterBufRing(&reg, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.FreeBufRing(br, 1<<15, 1); err != nil {
		t.Fatal(err)
	}
	if mapped(t, unsafe.Pointer(br)) {
		t.Error("FreeBufRing left the ring mapped")
	}
}

// TestRingEdgeCQEdges: peeks and waits at their edges give liburing's
// answers (EAGAIN without a wait, ETIME for a zero or negative timeout on
// an empty CQ, the first CQE when fewer than asked for arrive in time), and
// an empty slice or an oversized advance consumes nothing it should not.
func TestRingEdgeCQEdges(t *testing.T) {
	r := rawRing(t, 4, nil)
	zero := KernelTimespec{}
	for name, f := range map[string]func() (*CQE, error){
		"WaitCQENr(0)":          func() (*CQE, error) { return r.WaitCQENr(0) },
		"WaitCQEs(0, ts 0)":     func() (*CQE, error) { return r.WaitCQEs(0, &zero, nil) },
		"PeekCQE":               r.PeekCQE,
		"WaitCQETimeout(0)":     func() (*CQE, error) { return r.WaitCQETimeout(0) },
		"WaitCQETimeout(-1h)":   func() (*CQE, error) { return r.WaitCQETimeout(-time.Hour) },
		"WaitCQEs(1, -1 s)":     func() (*CQE, error) { return r.WaitCQEs(1, &KernelTimespec{Sec: -1}, nil) },
		"WaitCQETimeoutTS(0)":   func() (*CQE, error) { return r.WaitCQETimeoutTS(&zero) },
		"WaitCQEsFor(100, 1ms)": func() (*CQE, error) { return r.WaitCQEsFor(100, time.Millisecond) },
	} {
		want := unix.ETIME
		if name == "WaitCQENr(0)" || name == "WaitCQEs(0, ts 0)" || name == "PeekCQE" {
			want = unix.EAGAIN
		}
		if c, err := f(); c != nil || err != want {
			t.Errorf("%s on an empty ring = %+v, %v; want %v", name, c, err, want)
		}
	}
	if n := r.PeekBatchCQE(nil); n != 0 {
		t.Errorf("PeekBatchCQE(nil) = %d", n)
	}
	r.CQAdvance(1 << 31) // nothing ready: nothing moves
	rawNops(t, r, 2, 10)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if c, err := r.WaitCQEsFor(100, 5*time.Millisecond); err != nil || c == nil || c.UserData != 10 {
		t.Errorf("WaitCQEsFor(100) with 2 CQEs = %+v, %v; want the first (as C: 0 and the CQE)", c, err)
	}
	if n := r.PeekBatchCQE([]*CQE{}); n != 0 {
		t.Errorf("PeekBatchCQE(empty) = %d", n)
	}
	if n := r.CQReady(); n != 2 {
		t.Fatalf("CQReady %d after empty peeks, want 2", n)
	}
	var one [1]*CQE
	if n := r.PeekBatchCQE(one[:]); n != 1 || one[0].UserData != 10 {
		t.Errorf("PeekBatchCQE(1) = %d, %+v", n, one[0])
	}
	r.CQAdvance(^uint32(0)) // held to the two ready
	if n := r.CQReady(); n != 0 {
		t.Errorf("CQReady %d after CQAdvance(2^32-1)", n)
	}
	rawNops(t, r, 1, 20)
	c, _, err := r.SubmitAndWaitFor(1, time.Second)
	if err != nil || c == nil || c.UserData != 20 {
		t.Fatalf("the CQ after an oversized CQAdvance: %+v, %v; want NOP 20", c, err)
	}
	r.CQESeen(c)
	r.CQESeen(c) // a second CQESeen of the last CQE moves nothing
	if n := r.CQReady(); n != 0 {
		t.Errorf("CQReady %d after CQESeen twice", n)
	}
}

// recvmsgBuf lays out a multishot recvmsg buffer as the kernel does: the
// header, namelen bytes of name, controllen bytes of control data, then
// payload.
func recvmsgBuf(namelen, controllen int, payload string) ([]byte, *unix.Msghdr) {
	hdr := int(unsafe.Sizeof(RecvmsgOut{}))
	buf := make([]byte, hdr+namelen+controllen+len(payload), hdr+namelen+controllen+len(payload)+64)
	copy(buf[hdr+namelen+controllen:], payload)
	msgh := &unix.Msghdr{Namelen: uint32(namelen)}
	msgh.SetControllen(controllen)
	return buf, msgh
}

// TestRingEdgeRecvmsgMalformed: the recvmsg helpers read within the buffer
// whatever its header says: a Res shorter than the header areas or
// negative gives no payload slice (PayloadLength wraps, as in C), and a
// cmsg_len or controllen past the control area ends the walk.
func TestRingEdgeRecvmsgMalformed(t *testing.T) {
	const namelen, ctl = 16, 64
	buf, msgh := recvmsgBuf(namelen, ctl, "payload")
	if RecvmsgValidate(buf[:16+namelen+ctl-1], msgh) != nil || RecvmsgValidate(nil, msgh) != nil {
		t.Fatal("RecvmsgValidate accepted a truncated buffer")
	}
	o := RecvmsgValidate(buf, msgh)
	if o == nil {
		t.Fatal("RecvmsgValidate refused a whole buffer")
	}
	if got := string(o.PayloadBytes(len(buf), msgh)); got != "payload" {
		t.Errorf("PayloadBytes = %q", got)
	}
	for _, res := range []int{-int(unix.ENOBUFS), 0, 16, 16 + namelen + ctl - 1} {
		if p := o.PayloadBytes(res, msgh); p != nil {
			t.Errorf("PayloadBytes(%d) = %d bytes; want nil", res, len(p))
		}
	}
	if o.PayloadLength(16+namelen+ctl, msgh) != 0 || o.PayloadLength(16+namelen+ctl-1, msgh) != 1<<32-1 {
		t.Error("PayloadLength differs from C's unsigned difference")
	}

	// Two control messages, as CMSG_NXTHDR walks them.
	cm1 := (*unix.Cmsghdr)(unsafe.Pointer(&buf[16+namelen]))
	cm1.Level, cm1.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
	cm1.SetLen(unix.CmsgLen(4))
	cm2 := (*unix.Cmsghdr)(unsafe.Pointer(&buf[16+namelen+unix.CmsgSpace(4)]))
	cm2.Level, cm2.Type = unix.IPPROTO_IP, unix.IP_TTL
	cm2.SetLen(unix.CmsgLen(4))
	o.Controllen = uint32(2 * unix.CmsgSpace(4))
	if f := o.CmsgFirstHdr(msgh); f != cm1 {
		t.Fatalf("CmsgFirstHdr = %p, want %p", f, cm1)
	}
	if n := o.CmsgNextHdr(msgh, cm1); n != cm2 {
		t.Fatalf("CmsgNextHdr(first) = %p, want %p", n, cm2)
	}
	if n := o.CmsgNextHdr(msgh, cm2); n != nil {
		t.Fatalf("CmsgNextHdr(last) = %p, want nil", n)
	}
	// cmsg_len past the control data, or wrapping the address sum: the end.
	for _, l := range []uint64{uint64(ctl) + 1, 1<<64 - 1, 1<<64 - 8, 1<<64 - 16, 1<<64 - 4096, 1 << 63} {
		cm1.Len = l
		if n := o.CmsgNextHdr(msgh, cm1); n != nil {
			t.Errorf("CmsgNextHdr with cmsg_len %#x = %p (first at %p); want nil", l, n, cm1)
		}
	}
	cm1.SetLen(unix.CmsgLen(4))
	cm2.Len = 1<<64 - 8 // the next one's length wraps: it is not returned
	if n := o.CmsgNextHdr(msgh, cm1); n != nil {
		t.Errorf("CmsgNextHdr to a header whose cmsg_len wraps = %p; want nil", n)
	}
	cm2.SetLen(unix.CmsgLen(4))
	// A controllen above the msghdr's (never from the kernel) stays within
	// the control area: the walk does not run into the payload or past the
	// buffer.
	small, smsgh := recvmsgBuf(0, unix.CmsgSpace(4), "")
	so := RecvmsgValidate(small[:len(small):len(small)], smsgh)
	sc := (*unix.Cmsghdr)(unsafe.Pointer(&small[16]))
	sc.SetLen(unix.CmsgLen(4))
	so.Controllen = 1 << 20
	if f := so.CmsgFirstHdr(smsgh); f != sc {
		t.Fatalf("CmsgFirstHdr = %p, want %p", f, sc)
	}
	if n := so.CmsgNextHdr(smsgh, sc); n != nil {
		t.Errorf("CmsgNextHdr past the control area = %p; want nil", n)
	}
	so.Controllen = 1 << 20
	smsgh.SetControllen(4) // shorter than a header: no control message
	if f := so.CmsgFirstHdr(smsgh); f != nil {
		t.Errorf("CmsgFirstHdr with a 4-byte control area = %p; want nil", f)
	}
}
