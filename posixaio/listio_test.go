package posixaio

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLioListio(t *testing.T) {
	fd, _ := tempFile(t, nil)
	var list []*Aiocb
	for i := 0; i < 8; i++ {
		a := newCb(t, fd, bytes.Repeat([]byte{byte('a' + i)}, 512), int64(i*512))
		a.SetLioOpcode(LioWrite)
		list = append(list, a)
	}
	nop := newCb(t, fd, make([]byte, 512), 0)
	nop.SetLioOpcode(LioNop)
	list = append(list, nop, nil)
	if err := LioListio(LioWait, list, nil); err != nil {
		t.Fatalf("LIO_WAIT writes: %v", err)
	}
	for i, a := range list[:8] {
		if n, err := a.Return(); n != 512 || err != nil {
			t.Fatalf("write %d: %d %v", i, n, err)
		}
	}
	if nop.Error() != nil || nop.LioOpcode() != LioNop {
		t.Fatalf("LIO_NOP entry touched: %v", nop.Error())
	}
	// LIO_NOWAIT with a SIGEV_THREAD notification for the whole list.
	sink, err := NewThreadSink(16)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var reads []*Aiocb
	for i := 0; i < 8; i++ {
		a := newCb(t, fd, make([]byte, 512), int64(i*512))
		a.SetLioOpcode(LioRead)
		reads = append(reads, a)
	}
	sig := sink.Sigevent(777)
	if err := LioListio(LioNowait, reads, &sig); err != nil {
		t.Fatalf("LIO_NOWAIT: %v", err)
	}
	vals := waitSink(t, sink, 1)
	if vals[0] != 777 {
		t.Fatalf("list notification value %d", vals[0])
	}
	for i, a := range reads {
		if err := a.Error(); err != nil {
			t.Fatalf("read %d unfinished at the list notification: %v", i, err)
		}
		if !bytes.Equal(a.Buf(), bytes.Repeat([]byte{byte('a' + i)}, 512)) {
			t.Fatalf("read %d: %q", i, a.Buf()[:4])
		}
	}
}

// TestLioListioFailingMember: one member fails (bad descriptor): the list
// gives EIO and each member keeps its own result.
func TestLioListioFailingMember(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 1))
	good := newCb(t, fd, make([]byte, 100), 0)
	bad := newCb(t, 98765, make([]byte, 100), 0)
	neg := newCb(t, fd, make([]byte, 100), -1)
	for _, a := range []*Aiocb{good, bad, neg} {
		a.SetLioOpcode(LioRead)
	}
	if err := LioListio(LioWait, []*Aiocb{good, bad, neg}, nil); err != unix.EIO {
		t.Fatalf("LIO_WAIT with failing members: %v, want EIO", err)
	}
	if n, err := good.Return(); n != 100 || err != nil {
		t.Errorf("good member: %d %v", n, err)
	}
	if n, err := bad.Return(); n != -1 || err != unix.EBADF {
		t.Errorf("bad fd member: %d %v", n, err)
	}
	if n, err := neg.Return(); n != -1 || err != unix.EINVAL {
		t.Errorf("negative offset member: %d %v", n, err)
	}
	// A member glibc refuses to queue (bad aio_reqprio): LIO_NOWAIT fails
	// with that member's errno, EINVAL, and queues the others; LIO_WAIT waits
	// for those and gives EIO.
	good2 := newCb(t, fd, make([]byte, 100), 0)
	refused := newCb(t, fd, make([]byte, 100), 0)
	good2.SetLioOpcode(LioRead)
	refused.SetLioOpcode(LioRead)
	refused.SetReqprio(PrioDeltaMax + 1)
	if err := LioListio(LioNowait, []*Aiocb{good2, refused}, nil); err != unix.EINVAL {
		t.Fatalf("LIO_NOWAIT with a refused member: %v, want EINVAL", err)
	}
	if err := refused.Error(); err != unix.EINVAL {
		t.Errorf("refused member: %v, want EINVAL", err)
	}
	if err := waitDone(t, good2); err != nil {
		t.Errorf("queued member: %v", err)
	}
	r, w := pipe(t)
	slow := newCb(t, r, make([]byte, 4), 0)
	slow.SetLioOpcode(LioRead)
	go func() { time.Sleep(50 * time.Millisecond); unix.Write(w, []byte("slow")) }()
	if err := LioListio(LioWait, []*Aiocb{slow, refused}, nil); err != unix.EIO {
		t.Fatalf("LIO_WAIT with a refused member: %v, want EIO", err)
	}
	if err := slow.Error(); err != nil || string(slow.Buf()) != "slow" {
		t.Fatalf("LIO_WAIT returned before its queued member finished: %v", err)
	}
	// Every member refused: glibc's LIO_WAIT queues nothing and returns at
	// once with the member's errno, not EIO.
	refused2 := newCb(t, fd, make([]byte, 100), 0)
	refused2.SetLioOpcode(LioRead)
	refused2.SetReqprio(-1)
	nop := newCb(t, fd, make([]byte, 100), 0)
	nop.SetLioOpcode(LioNop)
	for _, list := range [][]*Aiocb{{refused}, {refused, nil, nop, refused2}} {
		if err := LioListio(LioWait, list, nil); err != unix.EINVAL {
			t.Errorf("LIO_WAIT with every member refused (%d entries): %v, want EINVAL", len(list), err)
		}
	}
	for _, a := range []*Aiocb{refused, refused2} {
		if err := a.Error(); err != unix.EINVAL {
			t.Errorf("refused member: %v, want EINVAL", err)
		}
	}
	if err := LioListio(LioWait, []*Aiocb{nop, nil}, nil); err != nil {
		t.Errorf("LIO_WAIT with nothing to queue: %v, want nil", err)
	}
}

// waitSink collects exactly n notification values from s, failing the test
// if Drain or Wait fails, the sink overflows, more than n arrive, or fewer
// than n arrive within 10 s. It runs in the test goroutine: a timer Wakes a
// parked Wait at the deadline.
func waitSink(t testing.TB, s *ThreadSink, n int) []uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(time.Until(deadline), func() { s.Wake() })
	defer timer.Stop()
	var got []uint64
	buf := make([]uint64, 64)
	for len(got) < n {
		k, overflow, err := s.Drain(buf, true)
		if err != nil {
			t.Fatalf("Drain after %d of %d notifications: %v", len(got), n, err)
		}
		if overflow {
			t.Errorf("sink overflow")
		}
		got = append(got, buf[:k]...)
		if k > 0 {
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d notifications in 10s", len(got), n)
		}
		if err := s.Wait(); err != nil {
			t.Fatalf("Wait after %d of %d notifications: %v", len(got), n, err)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d notifications, want %d: %v", len(got), n, got)
	}
	return got
}

// TestLioListioDuplicate: glibc queues an aiocb that occurs twice in a list
// twice, and the binding's in-progress guard would then allow Free while the
// second request is still queued. A list with the same Aiocb twice (other
// than as LIO_NOP, which glibc skips) fails with EINVAL before anything is
// submitted.
func TestLioListioDuplicate(t *testing.T) {
	fd, _ := tempFile(t, pattern(4096, 3))
	a := newCb(t, fd, make([]byte, 100), 0)
	b := newCb(t, fd, make([]byte, 100), 100)
	a.SetLioOpcode(LioRead)
	b.SetLioOpcode(LioRead)
	for _, mode := range []int{LioNowait, LioWait} {
		for _, list := range [][]*Aiocb{{a, a}, {b, nil, a, b}} {
			if err := LioListio(mode, list, nil); err != unix.EINVAL {
				t.Fatalf("mode %d, list with a duplicate: %v, want EINVAL", mode, err)
			}
		}
		for _, x := range []*Aiocb{a, b} {
			if err := x.Error(); err != nil {
				t.Fatalf("mode %d: a member of a refused list was submitted: Error %v", mode, err)
			}
			if n, _ := x.Return(); n != 0 {
				t.Fatalf("mode %d: a member of a refused list was submitted: Return %d", mode, n)
			}
		}
	}
	nop := newCb(t, fd, make([]byte, 100), 0)
	nop.SetLioOpcode(LioNop)
	if err := LioListio(LioWait, []*Aiocb{nop, a, nop}, nil); err != nil {
		t.Fatalf("LIO_NOP entry twice: %v, want nil (glibc skips it)", err)
	}
	if n, err := a.Return(); n != 100 || err != nil || !bytes.Equal(a.Buf(), pattern(4096, 3)[:100]) {
		t.Fatalf("member beside the LIO_NOP pair: %d, %v", n, err)
	}
}
