package posixaio

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOneFdInOrder: glibc queues the requests of one descriptor behind each
// other and runs them one at a time, in submission order.
func TestOneFdInOrder(t *testing.T) {
	r, w := pipe(t)
	const n = 50
	var cbs []*Aiocb
	var want bytes.Buffer
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("<%03d>", i))
		want.Write(msg)
		a := newCb(t, w, msg, 0)
		if err := a.Write(); err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, a)
	}
	for _, a := range cbs {
		if err := waitDone(t, a); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, want.Len())
	if _, err := unix.Read(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("pipe received\n%s\nwant\n%s", got, want.Bytes())
	}

	// Overlapping writes to one file: the last submitted wins.
	fd, _ := tempFile(t, nil)
	cbs = cbs[:0]
	for i := 0; i < n; i++ {
		a := newCb(t, fd, bytes.Repeat([]byte{byte('A' + i%26)}, 4096), 0)
		if err := a.Write(); err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, a)
	}
	for _, a := range cbs {
		waitDone(t, a)
	}
	buf := make([]byte, 4096)
	unix.Pread(fd, buf, 0)
	if !bytes.Equal(buf, bytes.Repeat([]byte{byte('A' + (n-1)%26)}, 4096)) {
		t.Fatalf("file holds %q..., want the last write", buf[:8])
	}
}

// TestReqprio: among the queued requests of one descriptor glibc runs the
// higher priority (smaller aio_reqprio) first; equal priorities keep their
// order.
func TestReqprio(t *testing.T) {
	r, w := pipe(t)
	first := newCb(t, r, make([]byte, 4), 0)
	low := newCb(t, r, make([]byte, 4), 0)
	high := newCb(t, r, make([]byte, 4), 0)
	if err := low.SetReqprio(5); err != nil {
		t.Fatal(err)
	}
	if low.Reqprio() != 5 {
		t.Fatalf("Reqprio() = %d", low.Reqprio())
	}
	if err := first.Read(); err != nil {
		t.Fatal(err)
	}
	waitBlockedReaders(t, []int{r}, 1)
	if err := low.Read(); err != nil {
		t.Fatal(err)
	}
	if err := high.Read(); err != nil {
		t.Fatal(err)
	}
	unix.Write(w, []byte("111122223333"))
	for _, a := range []*Aiocb{first, low, high} {
		if err := waitDone(t, a); err != nil {
			t.Fatal(err)
		}
	}
	got := string(first.Buf()) + string(high.Buf()) + string(low.Buf())
	if got != "111122223333" {
		t.Fatalf("first %q, high %q, low %q: the priority-0 request should run before the priority-5 one",
			first.Buf(), high.Buf(), low.Buf())
	}
}

// TestSocketsAndPipes: glibc's pread on a socket or pipe fails with ESPIPE
// and it falls back to read/write, so both work through its threads. A
// non-blocking descriptor (as Go's net and os.Pipe create) gives EAGAIN.
func TestSocketsAndPipes(t *testing.T) {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		sp, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(sp[0])
		defer unix.Close(sp[1])
		got := make([]byte, 16)
		rd := newCb(t, sp[1], got, 0)
		if err := rd.Read(); err != nil {
			t.Fatal(err)
		}
		msg := []byte(fmt.Sprintf("socket type %d", typ))
		wr := newCb(t, sp[0], msg, 999)
		if err := wr.Write(); err != nil {
			t.Fatal(err)
		}
		for _, a := range []*Aiocb{wr, rd} {
			if err := waitDone(t, a); err != nil {
				t.Fatalf("socket type %d: %v", typ, err)
			}
		}
		if n, _ := rd.Return(); n != len(msg) || !bytes.Equal(got[:n], msg) {
			t.Fatalf("socket type %d: read %d %q", typ, n, got[:n])
		}
	}
	// Non-blocking pipe: the read fails at once with EAGAIN.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	a := newCb(t, p[0], make([]byte, 4), 0)
	a.Read()
	if err := waitDone(t, a); err != unix.EAGAIN {
		t.Fatalf("read of an empty non-blocking pipe: %v, want EAGAIN", err)
	}
	// Closed peer: read gives 0 (EOF), write gives EPIPE (Go ignores SIGPIPE
	// on descriptors other than 1 and 2).
	r, w := pipe(t)
	unix.Close(w)
	eof := newCb(t, r, make([]byte, 4), 0)
	eof.Read()
	if err := waitDone(t, eof); err != nil {
		t.Fatal(err)
	}
	if n, _ := eof.Return(); n != 0 {
		t.Fatalf("read at EOF: %d", n)
	}
	r2, w2 := pipe(t)
	unix.Close(r2)
	ep := newCb(t, w2, []byte("x"), 0)
	ep.Write()
	if err := waitDone(t, ep); err != unix.EPIPE {
		t.Fatalf("write to a pipe without reader: %v, want EPIPE", err)
	}
}
