package posixaio

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// TestXcheckEINTR runs part 1 of posixaio_xcheck_eintr through the binding
// with Go's own SIGURG as the interrupting signal, and checks the C-only part
// 2: glibc's LIO_WAIT returning EINTR with its requests still queued, which
// is why LioListio(LioWait) does not use it.
func TestXcheckEINTR(t *testing.T) {
	var tr xcheck.Trace
	r, w := pipe(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stop atomic.Bool
	var sent atomic.Int64
	go interruptThread(unix.Gettid(), &stop, &sent)
	defer stop.Store(true)

	a := newCb(t, r, make([]byte, 4), 0)
	a.Read()
	tr.Add("aio_suspend timed", 0, AioSuspend([]*Aiocb{a}, 5*time.Second))
	go func() { time.Sleep(100 * time.Millisecond); unix.Write(w, []byte("abcdefgh")) }()
	tr.Add("aio_suspend untimed", 0, AioSuspend([]*Aiocb{a}, -1))
	traceErr(&tr, "aio_error after untimed", a)
	unix.Read(r, make([]byte, 4))

	a.Prep(r, a.Buf(), 0)
	b := newCb(t, r, make([]byte, 4), 0)
	a.SetLioOpcode(LioRead)
	b.SetLioOpcode(LioRead)
	go func() { time.Sleep(100 * time.Millisecond); unix.Write(w, []byte("abcdefgh")) }()
	tr.Add("lio_listio LIO_WAIT", 0, LioListio(LioWait, []*Aiocb{a, b}, nil))
	traceRet(&tr, "member 1", a)
	traceRet(&tr, "member 2", b)
	stop.Store(true)

	bin := xcheck.Build(t, "posixaio_xcheck_eintr")
	out := xcheck.Run(t, bin)
	split := len(out)
	for i, l := range out {
		if l == "no SA_RESTART" {
			split = i
		}
	}
	xcheck.Compare(t, out[:split], tr.Lines)
	xcheck.Compare(t, out[split:], []string{
		"no SA_RESTART",
		"lio_listio LIO_WAIT res=-1 err=EINTR",
		"member 1 res=-1 err=EINPROGRESS",
		"member 2 res=-1 err=EINPROGRESS",
	})
}

// TestForkC runs posixaio_xcheck_fork and checks what docs/posixaio.md says
// about fork: the child inherits glibc's request lists but not its threads.
// (A Go program cannot fork without exec; os/exec children start with no AIO
// state.)
func TestForkC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fork")
	if err := os.WriteFile(path, pattern(8192, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := xcheck.Build(t, "posixaio_xcheck_fork")
	xcheck.Compare(t, xcheck.Run(t, bin, path), []string{
		"child",
		"child aio_error(inherited in-progress read) res=-1 err=EINPROGRESS",
		"child aio_suspend(inherited, 200ms) res=-1 err=EAGAIN",
		"child aio_cancel(inherited) res=1 err=OK", // AIO_NOTCANCELED
		"child aio_read(new fd) res=0 err=OK",
		"child aio_suspend(new fd, 300ms) res=-1 err=EAGAIN", // handed to an idle thread the child lacks
		"child aio_error(new fd) res=-1 err=EINPROGRESS",
		"child aio_read(inherited fd) res=0 err=OK",
		"child aio_suspend(inherited fd, 200ms) res=-1 err=EAGAIN",
		"child aio_cancel(queued) res=0 err=OK", // AIO_CANCELED
		"parent",
		"parent child exit res=0 err=OK",
		"parent aio_error(blocked read) res=-1 err=EINPROGRESS",
		"parent write(pipe) res=4 err=OK",
		"parent aio_suspend(blocked read) res=0 err=OK",
		"parent aio_return(blocked read) res=4 err=OK",
	})
}
