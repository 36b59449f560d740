package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/uring"
	"golang.org/x/sys/unix"
)

var featNames = []struct {
	bit  uint32
	name string
}{
	{uring.FeatSingleMmap, "single_mmap"}, {uring.FeatNodrop, "nodrop"}, {uring.FeatSubmitStable, "submit_stable"},
	{uring.FeatRWCurPos, "rw_cur_pos"}, {uring.FeatCurPersonality, "cur_personality"}, {uring.FeatFastPoll, "fast_poll"},
	{uring.FeatPoll32Bits, "poll_32bits"}, {uring.FeatSQPollNonfixed, "sqpoll_nonfixed"}, {uring.FeatExtArg, "ext_arg"},
	{uring.FeatNativeWorkers, "native_workers"}, {uring.FeatRsrcTags, "rsrc_tags"}, {uring.FeatCQESkip, "cqe_skip"},
	{uring.FeatLinkedFile, "linked_file"},
}

func probeUring(d *dataFile, depth int) Backend {
	b := Backend{Facts: map[string]string{}}
	if v, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil {
		b.Facts["io_uring_disabled"] = strings.TrimSpace(string(v))
	}
	r, err := uring.New(uint32(depth), nil)
	if err != nil {
		b.Error = err.Error() + uringSetupHint(err, b.Facts["io_uring_disabled"])
		return b
	}
	defer r.Close()
	b.Available = true
	var feats []string
	for _, f := range featNames {
		if r.Features()&f.bit == 0 {
			continue
		}
		if f.bit == uring.FeatExtArg {
			// Advertised is not usable: a seccomp profile may refuse the
			// flag, as kernels before 5.11 do. liburing's timed waits
			// use it whenever the feature bit is set.
			if _, err := r.WaitCQETimeout(time.Millisecond); err != unix.ETIME {
				b.Facts["ext_arg"] = fmt.Sprintf("advertised (IORING_FEAT_EXT_ARG), but a timed wait with IORING_ENTER_EXT_ARG gave %v, not ETIME: "+
					"timed waits fail here", err)
				continue
			}
		}
		feats = append(feats, f.name)
	}
	b.Facts["features"] = strings.Join(feats, " ")
	vectored := true // IORING_OP_READV is in every io_uring kernel (5.1); IORING_OP_READ came in 5.6
	if p, err := r.Probe(); err != nil {
		if err == unix.EINVAL {
			b.Facts["opcodes"] = "unknown: no opcode probe (IORING_REGISTER_PROBE: " + err.Error() +
				"; Linux before 5.6, which lacks most opcodes, IORING_OP_READ among them)"
		} else {
			b.Facts["opcodes"] = "unknown: opcode probe (IORING_REGISTER_PROBE) failed: " + err.Error()
		}
	} else {
		n := 0
		var missing []string
		for op := 0; op < int(uring.OpLast); op++ {
			if p.OpSupported(uint8(op)) {
				n++
			} else {
				missing = append(missing, uring.OpName(uint8(op)))
			}
		}
		s := fmt.Sprintf("%d of %d known to liburing 2.3 supported (kernel knows up to %d)", n, uring.OpLast, p.LastOp)
		if len(missing) > 0 {
			s += "; unsupported opcodes: " + strings.Join(missing, " ")
		}
		b.Facts["opcodes"] = s
		vectored = !p.OpSupported(uring.OpRead)
	}
	if vectored {
		b.Facts["reads"] = "IORING_OP_READV (IORING_OP_READ not known to be supported)"
	} else {
		b.Facts["reads"] = "IORING_OP_READ"
	}
	for _, mode := range modes {
		a, ok := uringAsync(r, d, mode, depth, vectored)
		b.Async = append(b.Async, a)
		if !ok {
			break // the ring may still hold our requests: not reused
		}
	}
	return b
}

// uringAsync submits depth reads in one io_uring_submit and reports whether
// they were still in flight when it returned. On every path, each read the
// kernel took is reaped before its buffer is freed and the fd closed, and no
// prepared SQE is left for a later Submit to send with freed buffers. If the
// reads cannot be reaped (the wait fails), the buffers and fd are left
// allocated instead, and ok is false: the ring must not be used again.
//
// vectored uses IORING_OP_READV (Linux 5.1) instead of IORING_OP_READ (5.6).
func uringAsync(r *uring.Ring, d *dataFile, mode string, depth int, vectored bool) (res AsyncResult, ok bool) {
	res = AsyncResult{Mode: mode, Batch: depth}
	if r.SQReady() != 0 || r.CQReady() != 0 || int(r.SQSpaceLeft()) < depth {
		res.Error = fmt.Sprintf("ring cannot take %d reads: %d SQEs pending, %d completions unreaped, room for %d",
			depth, r.SQReady(), r.CQReady(), r.SQSpaceLeft())
		return res, r.SQReady() == 0 && r.CQReady() == 0
	}
	fd, bufs, done, msg := d.readSetup(mode, depth)
	if msg != "" {
		res.Error = msg
		return res, true
	}
	var iovs []unix.Iovec
	if vectored {
		// The iovecs in C memory too: the kernel may read them after
		// Submit returned (kernels without IORING_FEAT_SUBMIT_STABLE).
		iovMem, err := cmem.Alloc(depth*int(unsafe.Sizeof(unix.Iovec{})), 8)
		if err != nil {
			done()
			res.Error = err.Error()
			return res, true
		}
		iovs = unsafe.Slice((*unix.Iovec)(iovMem.Ptr()), depth)
		for i := range iovs {
			iovs[i] = unix.Iovec{Base: &bufs[i][0]}
			iovs[i].SetLen(len(bufs[i]))
		}
		freeBufs := done
		done = func() { iovMem.Free(); freeBufs() }
	}
	fail := func(msg string) {
		if res.Error == "" {
			res.Error = msg
		}
	}
	var sqes []*uring.SQE
	for i, off := range d.offsets(depth) {
		sqe := r.GetSQE()
		if sqe == nil {
			fail("submission queue full")
			break
		}
		if vectored {
			sqe.PrepReadv(fd, iovs[i:i+1], uint64(off))
		} else {
			sqe.PrepRead(fd, bufs[i], uint64(off))
		}
		sqe.SetUserData(uint64(i))
		sqes = append(sqes, sqe)
	}
	workers := ioWorkers()
	t0 := time.Now()
	n, err := r.Submit()
	t1 := time.Now()
	res.DoneAtReturn = int(r.CQReady())
	ran := res.DoneAtReturn == depth && workersRan(workers, ioWorkers())
	if err != nil || n != depth {
		fail(fmt.Sprintf("io_uring_submit = %d, %v", n, err))
	}
	inflight := max(n, 0)
	// SQEs the kernel did not take would go in with the next Submit, after
	// their buffers are freed: submit them now, to be reaped below, or, if
	// the kernel keeps refusing, turn them into NOPs (which point at no
	// memory) and give up the ring.
	ok = true
	for tries := 0; r.SQReady() > 0 && tries < 3; tries++ {
		if m, _ := r.Submit(); m > 0 {
			inflight += m
		}
	}
	if left := int(r.SQReady()); left > 0 {
		for _, sqe := range sqes[len(sqes)-left:] {
			sqe.PrepNop()
		}
		ok = false
	}
	for ; inflight > 0; inflight-- {
		c, err := r.WaitCQE()
		if err != nil {
			fail("wait: " + err.Error())
			res.Error += fmt.Sprintf(" (%d reads may still be in flight: their buffers, iovecs and fd are left allocated)", inflight)
			return res, false
		}
		if c.Res != blockSize {
			fail(fmt.Sprintf("read result %d (%v)", c.Res, c.Err()))
		}
		r.CQESeen(c)
	}
	done()
	res.SubmitMicros, res.TotalMicros = micros(t1.Sub(t0)), micros(time.Since(t0))
	if res.Error == "" {
		res.Verdict = uringVerdict(res.DoneAtReturn, depth, ran)
	}
	return res, ok
}

// uringSetupHint says, after the error of a refused io_uring_setup, what
// refuses it; disabled is kernel.io_uring_disabled ("" if unreadable).
func uringSetupHint(err error, disabled string) string {
	switch {
	case !errors.Is(err, uring.ErrUnavailable):
		return ""
	case errors.Is(err, unix.ENOSYS):
		return " (no io_uring in this kernel: Linux 5.1+ built with CONFIG_IO_URING, or a seccomp filter hides it; use libaio or POSIX AIO)"
	case disabled == "1" || disabled == "2":
		return " (io_uring refused by this system: kernel.io_uring_disabled is " + disabled + "; use libaio or POSIX AIO)"
	case disabled == "0":
		return " (io_uring refused by this system: kernel.io_uring_disabled is 0, so a seccomp filter or security module; use libaio or POSIX AIO)"
	}
	return " (io_uring refused by this system: see kernel.io_uring_disabled or a seccomp filter; use libaio or POSIX AIO)"
}
