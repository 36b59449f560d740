package posixaio

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

func TestXcheckListio(t *testing.T) {
	path := filepath.Join(t.TempDir(), "listio")
	cPath := filepath.Join(t.TempDir(), "listio-c")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var tr xcheck.Trace

	var w, r []*Aiocb
	var list []*Aiocb
	for i := 0; i < 8; i++ {
		a := newCb(t, fd, bytes.Repeat([]byte{byte('a' + i)}, 512), int64(i*512))
		a.SetLioOpcode(LioWrite)
		w = append(w, a)
		list = append(list, a)
	}
	nop := newCb(t, fd, make([]byte, 512), 0)
	nop.SetLioOpcode(LioNop)
	list = append(list, nop, nil)
	tr.Add("lio_listio LIO_WAIT writes", 0, LioListio(LioWait, list, nil))
	for _, a := range w {
		traceRet(&tr, "write", a)
	}
	traceErr(&tr, "nop untouched", nop)

	sink, err := NewThreadSink(4)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	for i := 0; i < 8; i++ {
		a := newCb(t, fd, make([]byte, 512), int64(i*512))
		a.SetLioOpcode(LioRead)
		r = append(r, a)
	}
	sev := sink.Sigevent(777)
	tr.Add("lio_listio LIO_NOWAIT thread", 0, LioListio(LioNowait, r, &sev))
	v := waitSink(t, sink, 1)
	tr.Linef("list notification value=%d", v[0])
	all := true
	for i, a := range r {
		n, _ := a.Return()
		all = all && a.Error() == nil && a.Buf()[0] == byte('a'+i) && n == 512
	}
	tr.Linef("all read at notification %d", b2i(all))

	sig, _ := RTSignal(3)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sig)
	defer signal.Stop(ch)
	for i, a := range r {
		a.Prep(fd, a.Buf(), int64(i*512))
	}
	tr.Add("lio_listio LIO_NOWAIT signal", 0, LioListio(LioNowait, r, &Sigevent{Notify: SigevSignal, Signo: int(sig)}))
	select {
	case s := <-ch:
		tr.Linef("list signal SIGRTMIN+%d", int(s.(syscall.Signal))-SigRTMin())
	case <-time.After(10 * time.Second):
		tr.Linef("no list signal")
	}
	all = true
	for _, a := range r {
		all = all && a.Error() == nil
	}
	tr.Linef("all read at signal %d", b2i(all))

	good := newCb(t, fd, make([]byte, 100), 0)
	bad := newCb(t, 98765, make([]byte, 100), 0)
	neg := newCb(t, fd, make([]byte, 100), -1)
	for _, a := range []*Aiocb{good, bad, neg} {
		a.SetLioOpcode(LioRead)
	}
	tr.Add("lio_listio LIO_WAIT failing", 0, LioListio(LioWait, []*Aiocb{good, bad, neg}, nil))
	traceRet(&tr, "good member", good)
	traceRet(&tr, "bad fd member", bad)
	traceRet(&tr, "negative offset member", neg)

	good2 := newCb(t, fd, make([]byte, 100), 0)
	refused := newCb(t, fd, make([]byte, 100), 0)
	good2.SetLioOpcode(LioRead)
	refused.SetLioOpcode(LioRead)
	refused.SetReqprio(21)
	tr.Add("lio_listio LIO_NOWAIT refused", 0, LioListio(LioNowait, []*Aiocb{good2, refused}, nil))
	traceErr(&tr, "refused member", refused)
	waitDone(t, good2)
	traceRet(&tr, "queued member", good2)
	pr, pw := pipe(t)
	slow := newCb(t, pr, make([]byte, 4), 0)
	slow.SetLioOpcode(LioRead)
	go func() { time.Sleep(50 * time.Millisecond); unix.Write(pw, []byte("slow")) }()
	tr.Add("lio_listio LIO_WAIT refused", 0, LioListio(LioWait, []*Aiocb{slow, refused}, nil))
	traceRet(&tr, "slow member", slow)
	tr.Add("lio_listio LIO_WAIT all refused", 0, LioListio(LioWait, []*Aiocb{refused, nil}, nil))
	traceErr(&tr, "all-refused member", refused)
	tr.Add("lio_listio bad mode", 0, LioListio(7, []*Aiocb{slow, refused}, nil))

	xcheck.RunScenario(t, "posixaio_xcheck_listio", &tr, cPath)
}
