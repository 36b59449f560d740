package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aiokit/aio/uring"
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
		b.Error = err.Error()
		if errors.Is(err, uring.ErrUnavailable) {
			b.Error += " (io_uring refused by this system: see kernel.io_uring_disabled or a seccomp filter; use libaio or POSIX AIO)"
		}
		return b
	}
	defer r.Close()
	b.Available = true
	var feats []string
	for _, f := range featNames {
		if r.Features()&f.bit != 0 {
			feats = append(feats, f.name)
		}
	}
	b.Facts["features"] = strings.Join(feats, " ")
	if p, err := r.Probe(); err != nil {
		b.Facts["opcodes"] = "probe failed: " + err.Error()
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
	}
	for _, mode := range modes {
		a, ok := uringAsync(r, d, mode, depth)
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
func uringAsync(r *uring.Ring, d *dataFile, mode string, depth int) (res AsyncResult, ok bool) {
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
		sqe.PrepRead(fd, bufs[i], uint64(off))
		sqe.SetUserData(uint64(i))
		sqes = append(sqes, sqe)
	}
	t0 := time.Now()
	n, err := r.Submit()
	t1 := time.Now()
	res.DoneAtReturn = int(r.CQReady())
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
			res.Error += fmt.Sprintf(" (%d reads may still be in flight: their buffers and fd are left allocated)", inflight)
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
		res.Verdict = verdict(res.DoneAtReturn, depth)
	}
	return res, ok
}
