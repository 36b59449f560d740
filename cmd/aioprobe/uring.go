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
		b.Async = append(b.Async, uringAsync(r, d, mode, depth))
	}
	return b
}

func uringAsync(r *uring.Ring, d *dataFile, mode string, depth int) AsyncResult {
	res := AsyncResult{Mode: mode, Batch: depth}
	fd, bufs, done, msg := d.readSetup(mode, depth)
	if msg != "" {
		res.Error = msg
		return res
	}
	defer done()
	for i, off := range d.offsets(depth) {
		sqe := r.GetSQE()
		if sqe == nil {
			res.Error = "submission queue full"
			return res
		}
		sqe.PrepRead(fd, bufs[i], uint64(off))
		sqe.SetUserData(uint64(i))
	}
	t0 := time.Now()
	n, err := r.Submit()
	t1 := time.Now()
	res.DoneAtReturn = int(r.CQReady())
	if err != nil || n != depth {
		res.Error = fmt.Sprintf("io_uring_submit = %d, %v", n, err)
		return res
	}
	for got := 0; got < depth; got++ {
		c, err := r.WaitCQE()
		if err != nil {
			res.Error = "wait: " + err.Error()
			return res
		}
		if c.Res != blockSize {
			res.Error = fmt.Sprintf("read result %d (%v)", c.Res, c.Err())
		}
		r.CQESeen(c)
	}
	res.SubmitMicros, res.TotalMicros = micros(t1.Sub(t0)), micros(time.Since(t0))
	if res.Error == "" {
		res.Verdict = verdict(res.DoneAtReturn, depth)
	}
	return res
}
