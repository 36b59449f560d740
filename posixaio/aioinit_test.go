package posixaio

import (
	"bytes"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestSetLioOpcodeWide: an opcode C's int cannot hold is an unknown opcode to
// glibc, not its low 32 bits (1<<32|LIO_WRITE wrote the file). glibc's answer
// to an unknown opcode (checked in C with 5, 6, 8 and -1): nothing transferred,
// aio_error EINVAL, aio_return -1, LIO_WAIT fails with EIO.
func TestSetLioOpcodeWide(t *testing.T) {
	orig := pattern(64, 3)
	fd, _ := tempFile(t, orig)
	a := newCb(t, fd, []byte("OVERWRITTEN!"), 0)
	if err := a.SetLioOpcode(1<<32 | LioWrite); err != nil {
		t.Fatalf("SetLioOpcode(1<<32|LIO_WRITE) = %v; the opcode is settable, glibc refuses it", err)
	}
	lerr := LioListio(LioWait, []*Aiocb{a}, nil)
	got := make([]byte, 64)
	unix.Pread(fd, got, 0)
	n, rerr := a.Return()
	if !bytes.Equal(got, orig) {
		t.Errorf("SetLioOpcode(1<<32|LIO_WRITE) + LioListio(LIO_WAIT) wrote the file (LioOpcode() = %d, LioListio = %v, Return = %d, %v); want no transfer (an unknown opcode: EINVAL, Return -1, LIO_WAIT EIO)",
			a.LioOpcode(), lerr, n, rerr)
	}
	if lerr != unix.EIO || a.Error() != unix.EINVAL || n != -1 {
		t.Errorf("LioListio = %v, Error = %v, Return = %d; want EIO, EINVAL, -1 (glibc's answer to an unknown opcode)", lerr, a.Error(), n)
	}
}

// TestAioInitWide: an AioInit field beyond C's int is clamped to it, not taken
// for its low 32 bits: Threads = 1<<32+2 reached glibc as aio_threads 2, and
// six blocked requests on six descriptors got 2 threads. Runs in a child
// process (glibc takes aio_threads only before the first request).
func TestAioInitWide(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	AioInit(Aioinit{Threads: 1<<32 + 2, IdleTime: 1})
	var rd, wr []int
	var cbs []*Aiocb
	for i := 0; i < 6; i++ {
		r, w := pipe(t)
		rd, wr = append(rd, r), append(wr, w)
		a := newCb(t, r, make([]byte, 1), 0)
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, a)
	}
	n := 0
	for deadline := time.Now().Add(5 * time.Second); n < 6 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		n = blockedReaders(t, rd)
	}
	for i, w := range wr {
		unix.Write(w, []byte{byte(i)})
	}
	for _, a := range cbs {
		waitDone(t, a)
	}
	if n != 6 {
		t.Errorf("AioInit(Threads: 1<<32+2): glibc served 6 blocked requests on 6 descriptors with %d threads; aio_threads got the low 32 bits (2), want the value clamped to C's int (6 threads)", n)
	}
}
