package posixaio

import (
	"fmt"
	"testing"

	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

func TestXcheckOrder(t *testing.T) {
	var tr xcheck.Trace
	r, w := pipe(t)
	var ws []*Aiocb
	for i := 0; i < 20; i++ {
		a := newCb(t, w, []byte(fmt.Sprintf("<%02d>", i)), 0)
		if err := a.Write(); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, a)
	}
	for _, a := range ws {
		waitDone(t, a)
	}
	got := make([]byte, 80)
	n, err := unix.Read(r, got)
	tr.Add("read pipe", n, err)
	tr.Linef("data %s", got[:n])

	first := newCb(t, r, make([]byte, 4), 0)
	low := newCb(t, r, make([]byte, 4), 0)
	high := newCb(t, r, make([]byte, 4), 0)
	low.SetReqprio(5)
	tr.Add("aio_read first", 0, first.Read())
	waitBlockedReaders(t, []int{r}, 1) // first runs; the others queue behind it
	tr.Add("aio_read reqprio 5", 0, low.Read())
	tr.Add("aio_read reqprio 0", 0, high.Read())
	n, err = unix.Write(w, []byte("111122223333"))
	tr.Add("write pipe", n, err)
	for _, a := range []*Aiocb{first, low, high} {
		waitDone(t, a)
	}
	tr.Linef("first %s reqprio0 %s reqprio5 %s", first.Buf(), high.Buf(), low.Buf())

	xcheck.RunScenario(t, "posixaio_xcheck_order", &tr)
}
