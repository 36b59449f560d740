package main

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/libaio"
	"golang.org/x/sys/unix"
)

func probeLibaio(d *dataFile, depth int) Backend {
	b := Backend{Facts: map[string]string{}}
	for _, k := range []string{"aio-max-nr", "aio-nr"} {
		if v, err := os.ReadFile("/proc/sys/fs/" + k); err == nil {
			b.Facts[k] = strings.TrimSpace(string(v))
		}
	}
	ctx, err := libaio.Setup(depth)
	if err != nil {
		b.Error = "io_setup: " + err.Error() + libaioSetupHint(err, depth, b.Facts)
		return b
	}
	defer ctx.Destroy()
	b.Available = true
	for _, mode := range modes {
		b.Async = append(b.Async, libaioAsync(ctx, d, mode, depth))
	}
	return b
}

func libaioAsync(ctx *libaio.Context, d *dataFile, mode string, depth int) AsyncResult {
	res := AsyncResult{Mode: mode, Batch: depth}
	fd, bufs, done, msg := d.readSetup(mode, depth)
	if msg != "" {
		res.Error = msg
		return res
	}
	defer done()
	// iocbs and their pointer array live in C memory: the kernel keeps them.
	cbMem, err := cmem.Alloc(depth*libaio.SizeofIocb+depth*8, 64)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer cbMem.Free()
	cbs := unsafe.Slice((*libaio.Iocb)(cbMem.Ptr()), depth)
	ptrs := make([]*libaio.Iocb, depth)
	for i, off := range d.offsets(depth) {
		cbs[i].PrepPread(fd, bufs[i], off)
		cbs[i].Data = uint64(i)
		ptrs[i] = &cbs[i]
	}
	events := make([]libaio.Event, depth)
	zero := unix.Timespec{}
	t0 := time.Now()
	n, err := ctx.Submit(ptrs)
	t1 := time.Now()
	if err != nil || n != depth {
		res.Error = fmt.Sprintf("io_submit = %d, %v", n, err)
		// Reap what was accepted before the memory goes.
		for got := 0; got < n; {
			k, _ := ctx.GetEvents(1, events, nil)
			got += k
		}
		return res
	}
	k, err := ctx.GetEvents(0, events, &zero)
	if err != nil {
		res.Error = "io_getevents: " + err.Error()
	}
	res.DoneAtReturn = k
	check := func(evs []libaio.Event) {
		for _, e := range evs {
			if e.Res != blockSize && res.Error == "" {
				res.Error = fmt.Sprintf("read result %d", e.Res)
			}
		}
	}
	check(events[:k])
	for got := k; got < depth; {
		m, err := ctx.GetEvents(1, events, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			res.Error = "io_getevents: " + err.Error()
			return res
		}
		check(events[:m])
		got += m
	}
	res.SubmitMicros, res.TotalMicros = micros(t1.Sub(t0)), micros(time.Since(t0))
	if res.Error == "" {
		res.Verdict = verdict(res.DoneAtReturn, depth)
	}
	return res
}

// libaioSetupHint says, after the error of io_setup(depth), what refuses it;
// facts holds the aio-nr and aio-max-nr sysctls that could be read.
func libaioSetupHint(err error, depth int, facts map[string]string) string {
	switch err {
	case unix.ENOSYS:
		return " (no Linux AIO in this kernel: CONFIG_AIO=n, or a seccomp filter hides io_setup; use io_uring or POSIX AIO)"
	case unix.EPERM:
		return " (refused by a seccomp filter or security module; use io_uring or POSIX AIO)"
	case unix.EAGAIN:
		lim := "fs.aio-max-nr"
		if n, ok := facts["aio-nr"]; ok {
			lim += fmt.Sprintf(" (aio-nr %s of aio-max-nr %s)", n, facts["aio-max-nr"])
		}
		return fmt.Sprintf(" (the %d events asked for do not fit under %s, which counts the events of every process: raise fs.aio-max-nr, or use io_uring or POSIX AIO)", depth, lim)
	}
	return ""
}
