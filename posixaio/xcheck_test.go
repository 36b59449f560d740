package posixaio

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// traceErr records aio_error like pa_trace_error in posixaio_common.h.
func traceErr(tr *xcheck.Trace, op string, a *Aiocb) {
	tr.Add(op, 0, a.Error())
}

// traceRet records aio_return like pa_trace_return.
func traceRet(tr *xcheck.Trace, op string, a *Aiocb) {
	n, err := a.Return()
	tr.Add(op, n, err)
}

func TestXcheckBasic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "basic")
	cPath := filepath.Join(t.TempDir(), "basic-c")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var tr xcheck.Trace
	data := make([]byte, 8192)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	got := make([]byte, 8192)

	a := newCb(t, fd, data, 4096)
	tr.Add("aio_write", 0, a.Write())
	waitDone(t, a)
	traceErr(&tr, "aio_error", a)
	traceRet(&tr, "aio_return", a)
	traceRet(&tr, "aio_return again", a)

	b := newCb(t, fd, nil, 0)
	tr.Add("aio_fsync O_SYNC", 0, b.Fsync(OSync))
	waitDone(t, b)
	traceRet(&tr, "aio_return fsync", b)
	tr.Add("aio_fsync O_DSYNC", 0, b.Fsync(ODsync))
	waitDone(t, b)
	traceRet(&tr, "aio_return fdatasync", b)
	tr.Add("aio_fsync bad op", 0, b.Fsync(12345))

	a.Prep(fd, got, 4096)
	tr.Add("aio_read", 0, a.Read())
	waitDone(t, a)
	traceRet(&tr, "aio_return read", a)
	tr.Linef("equal %d", b2i(bytes.Equal(got, data)))

	a.Prep(fd, got[:100], 1<<20)
	a.Read()
	waitDone(t, a)
	traceRet(&tr, "read at EOF", a)

	a.Prep(98765, got[:100], 0)
	tr.Add("aio_read bad fd", 0, a.Read())
	waitDone(t, a)
	traceRet(&tr, "aio_return bad fd", a)
	tr.Add("aio_fsync bad fd", 0, a.Fsync(OSync))

	a.Prep(fd, got[:100], -1)
	tr.Add("aio_read negative offset", 0, a.Read())
	waitDone(t, a)
	traceRet(&tr, "aio_return negative offset", a)

	a.Prep(fd, nil, 0)
	tr.Add("aio_read NULL buffer", 0, a.Read())
	waitDone(t, a)
	traceRet(&tr, "aio_return NULL buffer", a)

	a.SetReqprio(21)
	tr.Add("aio_read reqprio 21", 0, a.Read())
	traceErr(&tr, "aio_error reqprio 21", a)
	a.SetReqprio(-1)
	tr.Add("aio_read reqprio -1", 0, a.Read())
	a.SetReqprio(0)

	a.Prep(fd, []byte("far"), 5<<30)
	a.Write()
	waitDone(t, a)
	traceRet(&tr, "aio_write at 5GiB", a)
	a.Prep(fd, got[:16], 5<<30)
	a.Read()
	waitDone(t, a)
	traceRet(&tr, "aio_read at 5GiB", a)
	tr.Linef("data %s", got[:3])

	var n int
	r, w := pipe(t)
	r1 := newCb(t, r, make([]byte, 4), 0)
	r2 := newCb(t, r, make([]byte, 4), 0)
	r3 := newCb(t, r, make([]byte, 4), 0)
	r1.Read()
	waitBlockedReaders(t, []int{r}, 1) // r1 runs; r2 and r3 queue behind it
	r2.Read()
	r3.Read()
	// A Go signal (preemption, a reaper's wake-up) can cut the timed wait
	// short with EINTR, which the C program never gets: wait again.
	tr.Add("aio_suspend timeout", 0, suspendNoEINTR([]*Aiocb{r1}, 20*time.Millisecond))
	n, err = r1.Cancel()
	tr.Add("aio_cancel running", n, err)
	n, err = r2.Cancel()
	tr.Add("aio_cancel queued", n, err)
	traceErr(&tr, "aio_error canceled", r2)
	traceRet(&tr, "aio_return canceled", r2)
	n, err = r2.Cancel()
	tr.Add("aio_cancel again", n, err)
	n, err = AioCancel(r, nil)
	tr.Add("aio_cancel all", n, err)
	traceErr(&tr, "aio_error after cancel all", r3)
	n, err = AioCancel(w, r1)
	tr.Add("aio_cancel wrong fd", n, err)
	n, err = AioCancel(98765, nil)
	tr.Add("aio_cancel bad fd", n, err)
	never := newCb(t, r, nil, 0)
	n, err = never.Cancel()
	tr.Add("aio_cancel never submitted", n, err)
	n, err = unix.Write(w, []byte("wake"))
	tr.Add("write pipe", n, err)
	waitDone(t, r1)
	traceRet(&tr, "aio_return running", r1)
	n, err = r1.Cancel()
	tr.Add("aio_cancel finished", n, err)

	xcheck.RunScenario(t, "posixaio_xcheck_basic", &tr, cPath)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
