package main

import (
	"fmt"
	"os"
	"time"

	"github.com/aiokit/aio/posixaio"
	"golang.org/x/sys/unix"
)

func threadCount() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(ents)
}

func probePosix(d *dataFile, depth int) Backend {
	b := Backend{Available: true, Facts: map[string]string{}}
	before := threadCount()
	for _, mode := range modes {
		b.Async = append(b.Async, posixAsync(d, mode, depth))
	}
	b.Facts["implementation"] = "glibc user-space threads (blocking pread/pwrite on helper threads)"
	after := threadCount() // once: a lingering glibc thread may exit at any time
	b.Facts["threads added"] = fmt.Sprintf("%d (process threads %d before, %d after; idle glibc AIO threads linger about 1 s)", after-before, before, after)
	for _, a := range b.Async {
		if a.Error != "" && a.Mode == "buffered-warm" {
			b.Available = false
			b.Error = a.Error
		}
	}
	return b
}

func posixAsync(d *dataFile, mode string, depth int) AsyncResult {
	res := AsyncResult{Mode: mode, Batch: depth}
	fd, bufs, done, msg := d.readSetup(mode, depth)
	if msg != "" {
		res.Error = msg
		return res
	}
	defer done()
	list := make([]*posixaio.Aiocb, depth)
	for i, off := range d.offsets(depth) {
		a := posixaio.NewAiocb()
		defer a.Free()
		if err := a.Prep(fd, bufs[i], off); err != nil {
			res.Error = "prep: " + err.Error()
			return res
		}
		if err := a.SetLioOpcode(posixaio.LioRead); err != nil {
			res.Error = err.Error()
			return res
		}
		list[i] = a
	}
	t0 := time.Now()
	err := posixaio.LioListio(posixaio.LioNowait, list, nil)
	t1 := time.Now()
	refused := 0
	for _, a := range list {
		switch e := a.Error(); {
		case err != nil && e == err:
			// glibc did not queue it (and stored lio_listio's errno
			// as its status): refused, not done.
			refused++
		case e != unix.EINPROGRESS:
			res.DoneAtReturn++
		}
	}
	if err != nil {
		res.Error = fmt.Sprintf("lio_listio: %v (%d of %d reads refused", err, refused, depth)
		if err == unix.EAGAIN {
			res.Error += ": glibc could start no AIO thread (RLIMIT_NPROC, a pids cgroup limit or a seccomp filter refuses new threads)"
		}
		res.Error += ")"
	}
	for _, a := range list {
		for a.Error() == unix.EINPROGRESS {
			posixaio.Suspend([]*posixaio.Aiocb{a}, time.Second)
		}
		if n, err := a.Return(); (n != blockSize || err != nil) && res.Error == "" {
			res.Error = fmt.Sprintf("read result %d, %v", n, err)
		}
	}
	res.SubmitMicros, res.TotalMicros = micros(t1.Sub(t0)), micros(time.Since(t0))
	if res.Error == "" {
		res.Verdict = posixVerdict(res.DoneAtReturn, depth)
	}
	return res
}
