package posixaio

import (
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

func TestXcheckNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	if err := os.WriteFile(path, pattern(16384, 5), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var tr xcheck.Trace
	sink, err := NewThreadSink(16)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var cbs []*Aiocb
	for i := 0; i < 8; i++ {
		a := newCb(t, fd, make([]byte, 512), int64(i*512))
		a.SetSigevent(sink.Sigevent(uint64(1000 + i)))
		tr.Add("aio_read SIGEV_THREAD", 0, a.Read())
		cbs = append(cbs, a)
	}
	got := waitSink(t, sink, 8)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for _, v := range got {
		// The reader runs after the trampoline; the C side checks inside its
		// notification function. Both see the result already set.
		tr.Linef("thread notification value=%d finished=%d", v, b2i(cbs[v-1000].Error() == nil))
	}

	sig, _ := RTSignal(3)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sig)
	defer signal.Stop(ch)
	s := newCb(t, fd, make([]byte, 512), 0)
	s.SetSigevent(Sigevent{Notify: SigevSignal, Signo: int(sig)})
	tr.Add("aio_read SIGEV_SIGNAL", 0, s.Read())
	select {
	case got := <-ch:
		tr.Linef("signal SIGRTMIN+%d", int(got.(syscall.Signal))-SigRTMin())
	case <-time.After(10 * time.Second):
		tr.Linef("no signal")
	}
	traceRet(&tr, "aio_return at signal", s)

	s.SetSigevent(Sigevent{Notify: SigevNone})
	s.SetOffset(512)
	tr.Add("aio_read SIGEV_NONE", 0, s.Read())
	deadline := time.Now().Add(10 * time.Second)
	for s.Error() == unix.EINPROGRESS {
		if time.Now().After(deadline) {
			t.Fatal("SIGEV_NONE request still in progress after 10s of polling aio_error")
		}
		time.Sleep(100 * time.Microsecond)
	}
	traceRet(&tr, "aio_return polled", s)

	xcheck.RunScenario(t, "posixaio_xcheck_notify", &tr, path)
}
