package posixaio

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

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
	waitBlockedReaders(t, []int{r}, 1) // glibc's thread is in read(2) now
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

// TestErrorDuringSubmission: Error may run in another goroutine while Read
// submits. An Error that ran after the aiocb was marked as submitted but
// before aio_read stored EINPROGRESS used to read the previous request's
// result and un-mark the aiocb; SetReqprio (and Free, SetBuf) then succeeded
// while glibc owned it. Here one goroutine calls Error in a loop while the
// test reads an empty pipe again and again: every SetReqprio while the read
// blocks must fail with ErrInProgress (before the fix about one round in
// eight did not).
func TestErrorDuringSubmission(t *testing.T) {
	r, w := pipe(t)
	a := newCb(t, r, make([]byte, 1), 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				a.Error()
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)
	const rounds = 10000
	bad := 0
	for i := 0; i < rounds; i++ {
		if err := a.Read(); err != nil {
			t.Fatalf("round %d: Read: %v", i, err)
		}
		if err := a.SetReqprio(0); err != ErrInProgress {
			bad++
		}
		if _, err := unix.Write(w, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := waitDone(t, a); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if n, err := a.Return(); n != 1 || err != nil {
			t.Fatalf("round %d: Return %d, %v", i, n, err)
		}
	}
	if bad > 0 {
		t.Fatalf("SetReqprio succeeded %d times in %d rounds while glibc owned the aiocb", bad, rounds)
	}
}

// TestRefusedSubmission: a submission glibc refuses leaves the aiocb
// reusable (not in progress), and Error gives what aio_error gives in C:
// the errno glibc stored (a bad aio_reqprio) or the previous value, which
// glibc leaves alone when it refuses a bad aio_fsync op, a closed
// descriptor for aio_fsync or a bad lio_listio mode.
func TestRefusedSubmission(t *testing.T) {
	fd, _ := tempFile(t, pattern(100, 2))
	fresh := newCb(t, fd, make([]byte, 10), 0)
	if err := fresh.Fsync(12345); err != unix.EINVAL {
		t.Fatalf("aio_fsync bad op: %v, want EINVAL", err)
	}
	if err := fresh.Error(); err != nil {
		t.Errorf("aio_error after a refused aio_fsync of a fresh aiocb: %v, want nil (0)", err)
	}
	if err := fresh.SetReqprio(PrioDeltaMax + 1); err != nil {
		t.Fatalf("SetReqprio after a refused submission: %v", err)
	}
	if err := fresh.Read(); err != unix.EINVAL {
		t.Fatalf("aio_read with a bad aio_reqprio: %v, want EINVAL", err)
	}
	if err := fresh.Error(); err != unix.EINVAL {
		t.Errorf("aio_error after a bad aio_reqprio: %v, want EINVAL (stored by glibc)", err)
	}
	if err := fresh.SetReqprio(0); err != nil {
		t.Fatalf("SetReqprio after a refused aio_read: %v", err)
	}
	if err := fresh.Read(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, fresh); err != nil {
		t.Fatal(err)
	}
	if err := LioListio(7, []*Aiocb{fresh}, nil); err != unix.EINVAL {
		t.Fatalf("lio_listio bad mode: %v, want EINVAL", err)
	}
	if n, err := fresh.Return(); n != 10 || err != nil {
		t.Errorf("after a refused lio_listio: Return %d, %v; want the earlier read's 10, nil", n, err)
	}
	if err := fresh.Error(); err != nil {
		t.Errorf("aio_error after a refused lio_listio: %v, want the earlier read's nil", err)
	}
	if err := LioListio(LioNowait, []*Aiocb{fresh}, &Sigevent{Notify: 99}); err != ErrBadSigevent {
		t.Fatalf("lio_listio with a bad sigevent: %v", err)
	}
	if err := fresh.Error(); err != nil {
		t.Errorf("aio_error after a lio_listio with a bad sigevent: %v, want nil", err)
	}
	if err := fresh.SetBuf(make([]byte, 10)); err != nil {
		t.Errorf("SetBuf after a refused lio_listio: %v", err)
	}

	bad := newCb(t, 98765, nil, 0)
	if err := bad.Read(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, bad); err != unix.EBADF {
		t.Fatalf("read of a bad descriptor: %v", err)
	}
	if err := bad.Fsync(OSync); err != unix.EBADF {
		t.Fatalf("aio_fsync of a bad descriptor: %v, want EBADF", err)
	}
	if err := bad.Error(); err != unix.EBADF {
		t.Errorf("aio_error after a refused aio_fsync: %v, want the read's EBADF", err)
	}
	if err := bad.SetFildes(fd); err != nil {
		t.Fatalf("SetFildes after a refused aio_fsync: %v", err)
	}
	if err := bad.Fsync(OSync); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, bad); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Aiocb{fresh, bad} {
		if err := a.Free(); err != nil {
			t.Errorf("Free: %v", err)
		}
	}
}

// TestNilAiocb: a nil *Aiocb behaves as a freed one instead of panicking:
// the setters, Prep, Free and the submissions give ErrFreed, the getters
// what they give after Free.
func TestNilAiocb(t *testing.T) {
	var a *Aiocb
	errs := map[string]func() error{
		"Free":         a.Free,
		"SetFildes":    func() error { return a.SetFildes(0) },
		"SetOffset":    func() error { return a.SetOffset(0) },
		"SetBuf":       func() error { return a.SetBuf(make([]byte, 1)) },
		"SetReqprio":   func() error { return a.SetReqprio(0) },
		"SetLioOpcode": func() error { return a.SetLioOpcode(LioRead) },
		"SetSigevent":  func() error { return a.SetSigevent(Sigevent{Notify: SigevNone}) },
		"Prep":         func() error { return a.Prep(0, make([]byte, 1), 0) },
		"Read":         a.Read,
		"Write":        a.Write,
		"Fsync":        func() error { return a.Fsync(OSync) },
		"Error":        a.Error,
		"Return":       func() error { _, err := a.Return(); return err },
		"Cancel":       func() error { _, err := a.Cancel(); return err },
	}
	for name, f := range errs {
		noPanic(t, name, func() {
			if err := f(); err != ErrFreed {
				t.Errorf("%s of a nil *Aiocb: %v, want ErrFreed", name, err)
			}
		})
	}
	noPanic(t, "getters", func() {
		if a.Ptr() != nil || a.Fildes() != -1 || a.Offset() != 0 || a.Buf() != nil || a.Nbytes() != 0 ||
			a.Reqprio() != 0 || a.LioOpcode() != 0 || a.Sigevent().Notify != SigevNone {
			t.Errorf("getters of a nil *Aiocb: ptr %v fd %d off %d buf %v nbytes %d prio %d op %d notify %d",
				a.Ptr(), a.Fildes(), a.Offset(), a.Buf(), a.Nbytes(), a.Reqprio(), a.LioOpcode(), a.Sigevent().Notify)
		}
	})
}

// TestAiocbPinsBuffer: SetBuf pins the buffer until it is replaced or the
// aiocb freed. An unreachable buffer of a read in flight is not collected
// (the Aiocb keeps it for Buf as well), and cgo's pointer check, which
// knows which objects are pinned, sees it pinned while the aiocb refers to
// it (it did not with the pin removed from SetBuf) and unpinned after.
func TestAiocbPinsBuffer(t *testing.T) {
	r, w := pipe(t)
	var gone atomic.Bool
	a := NewAiocb()
	func() {
		b := new([4096]byte)
		runtime.SetFinalizer(b, func(*[4096]byte) { gone.Store(true) })
		if err := a.Prep(r, b[:], 0); err != nil {
			t.Fatal(err)
		}
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
	}()
	collect(5)
	if gone.Load() {
		t.Fatal("the buffer of a read in flight was collected")
	}
	unix.Write(w, []byte("x"))
	if err := waitDone(t, a); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(); err != nil {
		t.Fatal(err)
	}
	waitCollected(t, &gone)

	buf := make([]byte, 16)
	c := newCb(t, r, buf, 0)
	isPinned := func(when string, want bool) {
		t.Helper()
		p, ok := pinned(unsafe.Pointer(&buf[0]))
		if !ok {
			t.Fatal("cgo's pointer checks are off (GODEBUG=cgocheck=0): the test cannot see pins")
		}
		if p != want {
			t.Errorf("%s: buffer pinned %v, want %v", when, p, want)
		}
	}
	isPinned("after SetBuf", true)
	if err := c.Read(); err != nil {
		t.Fatal(err)
	}
	isPinned("while the read blocks", true)
	unix.Write(w, []byte("y"))
	if err := waitDone(t, c); err != nil {
		t.Fatal(err)
	}
	isPinned("after the read, before SetBuf(nil)", true)
	if err := c.SetBuf(nil); err != nil {
		t.Fatal(err)
	}
	isPinned("after SetBuf(nil)", false)
	runtime.KeepAlive(buf)
}
