package posixaio

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRawWriteReadRoundTrip(t *testing.T) {
	fd, _ := tempFile(t, nil)
	data := pattern(10000, 5)
	w := newCb(t, fd, data, 123)
	if err := w.Write(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, w); err != nil {
		t.Fatalf("write: %v", err)
	}
	if n, err := w.Return(); n != len(data) || err != nil {
		t.Fatalf("write return: %d, %v", n, err)
	}
	for _, op := range []int{OSync, ODsync} {
		f := newCb(t, fd, nil, 0)
		if err := f.Fsync(op); err != nil {
			t.Fatalf("fsync(%d): %v", op, err)
		}
		if err := waitDone(t, f); err != nil {
			t.Fatalf("fsync(%d): %v", op, err)
		}
		if n, err := f.Return(); n != 0 || err != nil {
			t.Fatalf("fsync(%d) return: %d %v", op, n, err)
		}
	}
	got := make([]byte, len(data))
	r := newCb(t, fd, got, 123)
	if err := AioRead(r); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, r); err != nil {
		t.Fatal(err)
	}
	if n, err := AioReturn(r); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d %v equal=%v", n, err, bytes.Equal(got, data))
	}
	if r.Fildes() != fd || r.Offset() != 123 || r.Nbytes() != len(got) || &r.Buf()[0] != &got[0] {
		t.Fatalf("fields: fd %d off %d nbytes %d", r.Fildes(), r.Offset(), r.Nbytes())
	}
}

// TestReturnSemantics pins down what glibc 2.36's aio_return does (it only
// reads the aiocb's result field): -1 while the request runs, the result once
// it finished, and the same result again on a second call.
func TestReturnSemantics(t *testing.T) {
	r, w := pipe(t)
	a := newCb(t, r, make([]byte, 8), 0)
	if n, err := a.Return(); n != 0 || err != nil {
		t.Fatalf("aio_return of a fresh aiocb: %d, %v; want 0", n, err)
	}
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	if err := a.Error(); err != unix.EINPROGRESS {
		t.Fatalf("aio_error while the pipe is empty: %v", err)
	}
	// Before completion the field holds whatever was there (0 for a fresh
	// aiocb) or -1 once glibc's pread on the pipe failed with ESPIPE and it
	// fell back to read(2), which now blocks.
	if n, err := a.Return(); !(n == 0 && err == nil || n == -1 && err == unix.EINPROGRESS) {
		t.Fatalf("aio_return before completion: %d, %v; want 0 or -1/EINPROGRESS", n, err)
	}
	time.Sleep(20 * time.Millisecond)
	if n, err := a.Return(); n != -1 || err != unix.EINPROGRESS {
		t.Fatalf("aio_return while glibc blocks in read(2): %d, %v; want -1, EINPROGRESS", n, err)
	}
	if err := a.Free(); err != ErrInProgress {
		t.Fatalf("Free in progress: %v", err)
	}
	if err := a.SetBuf(nil); err != ErrInProgress {
		t.Fatalf("SetBuf in progress: %v", err)
	}
	if err := a.Read(); err != ErrInProgress {
		t.Fatalf("second submission: %v", err)
	}
	if err := a.SetReqprio(1); err != ErrInProgress {
		t.Fatalf("SetReqprio in progress: %v", err)
	}
	unix.Write(w, []byte("12345"))
	if err := waitDone(t, a); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if n, err := a.Return(); n != 5 || err != nil {
			t.Fatalf("aio_return #%d: %d, %v; want 5", i+1, n, err)
		}
	}
	if err := a.Free(); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(); err != ErrFreed {
		t.Fatalf("second Free: %v", err)
	}
	if err := a.Read(); err != ErrFreed {
		t.Fatalf("Read after Free: %v", err)
	}
	if err := a.Error(); err != ErrFreed {
		t.Fatalf("Error after Free: %v", err)
	}
	if _, err := a.Return(); err != ErrFreed {
		t.Fatalf("Return after Free: %v", err)
	}
	if _, err := a.Cancel(); err != ErrFreed {
		t.Fatalf("Cancel after Free: %v", err)
	}
}

func TestRawBadInput(t *testing.T) {
	fd, _ := tempFile(t, pattern(100, 1))
	buf := make([]byte, 10)
	async := []struct {
		name string
		a    *Aiocb
		want error
	}{
		{"bad fd", newCb(t, 98765, buf, 0), unix.EBADF},
		{"negative offset", newCb(t, fd, buf, -5), unix.EINVAL},
	}
	for _, c := range async {
		if err := c.a.Read(); err != nil {
			t.Fatalf("%s: aio_read reports at submission: %v", c.name, err)
		}
		if err := waitDone(t, c.a); err != c.want {
			t.Errorf("%s: aio_error %v, want %v", c.name, err, c.want)
		}
		if n, err := c.a.Return(); n != -1 || err != c.want {
			t.Errorf("%s: aio_return %d, %v", c.name, n, err)
		}
	}
	nb := newCb(t, fd, nil, 0)
	if err := nb.Read(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, nb); err != nil {
		t.Fatalf("nil buffer: %v", err)
	}
	if n, _ := nb.Return(); n != 0 {
		t.Fatalf("nil buffer read %d bytes", n)
	}
	for _, prio := range []int{-1, PrioDeltaMax + 1} {
		nb.SetReqprio(prio)
		if err := nb.Read(); err != unix.EINVAL {
			t.Errorf("aio_reqprio %d: %v, want EINVAL", prio, err)
		}
		if err := nb.Error(); err != unix.EINVAL {
			t.Errorf("aio_reqprio %d: aio_error %v, want EINVAL", prio, err)
		}
	}
	nb.SetReqprio(PrioDeltaMax)
	if err := nb.Read(); err != nil {
		t.Errorf("aio_reqprio %d: %v", PrioDeltaMax, err)
	}
	waitDone(t, nb)
	bad := newCb(t, 98765, nil, 0)
	if err := bad.Fsync(OSync); err != unix.EBADF {
		t.Errorf("aio_fsync bad fd: %v, want EBADF", err)
	}
	if err := AioFsync(12345, nb); err != unix.EINVAL {
		t.Errorf("aio_fsync bad op: %v, want EINVAL", err)
	}
	if err := nb.SetSigevent(Sigevent{Notify: 99}); err != ErrBadSigevent {
		t.Errorf("bad sigev_notify: %v", err)
	}
	if err := nb.SetSigevent(Sigevent{Notify: SigevThread}); err != ErrBadSigevent {
		t.Errorf("SIGEV_THREAD without a function: %v", err)
	}
	for _, sig := range []int{32, 33} {
		if err := nb.SetSigevent(Sigevent{Notify: SigevSignal, Signo: sig}); err != ErrReservedSignal {
			t.Errorf("signal %d: %v, want ErrReservedSignal", sig, err)
		}
	}
	if err := nb.SetSigevent(Sigevent{Notify: SigevSignal, Signo: 65}); err != ErrBadSigevent {
		t.Errorf("signal 65: %v", err)
	}
	if err := AioSuspend([]*Aiocb{nil}, time.Second); err != nil {
		// glibc ignores NULL entries; with nothing to wait for it succeeds at once.
		t.Errorf("aio_suspend of only NULL: %v", err)
	}
	var freed = NewAiocb()
	freed.Free()
	if err := AioSuspend([]*Aiocb{freed}, 0); err != ErrFreed {
		t.Errorf("aio_suspend with a freed aiocb: %v", err)
	}
	if err := LioListio(LioNowait, []*Aiocb{freed}, nil); err != ErrFreed {
		t.Errorf("lio_listio with a freed aiocb: %v", err)
	}
	if err := LioListio(7, []*Aiocb{nb}, nil); err != unix.EINVAL {
		t.Errorf("lio_listio bad mode: %v", err)
	}
}

// TestOffset64 reads and writes past 4 GiB (a sparse file): aio_offset is an
// off64_t.
func TestOffset64(t *testing.T) {
	fd, _ := tempFile(t, nil)
	const off = 5<<30 + 12345
	data := []byte("beyond four gigabytes")
	w := newCb(t, fd, data, off)
	if err := w.Write(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, w); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	if st.Size != off+int64(len(data)) {
		t.Fatalf("file size %d, want %d", st.Size, off+int64(len(data)))
	}
	got := make([]byte, len(data))
	r := newCb(t, fd, got, off)
	r.Read()
	waitDone(t, r)
	if n, _ := r.Return(); n != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("read %d %q", n, got)
	}
}

func TestAiocbFinalizerKeepsInFlight(t *testing.T) {
	r, w := pipe(t)
	before := liveAiocbs.Load()
	func() {
		a := NewAiocb()
		a.Prep(r, make([]byte, 4), 0)
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
	}()
	for i := 0; i < 3; i++ {
		runtimeGC()
	}
	if liveAiocbs.Load() != before+1 {
		t.Fatalf("an unreachable in-flight aiocb was freed: live %d, before %d", liveAiocbs.Load(), before)
	}
	unix.Write(w, []byte("data"))
	deadline := time.Now().Add(10 * time.Second)
	for liveAiocbs.Load() != before {
		if time.Now().After(deadline) {
			t.Fatalf("finished unreachable aiocb never freed: live %d", liveAiocbs.Load())
		}
		runtimeGC()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestErrorsAreErrno(t *testing.T) {
	a := newCb(t, 98765, nil, 0)
	err := a.Fsync(OSync)
	var e unix.Errno
	if !errors.As(err, &e) || !errors.Is(err, os.ErrClosed) && e != unix.EBADF {
		t.Fatalf("%v is not unix.EBADF", err)
	}
}
