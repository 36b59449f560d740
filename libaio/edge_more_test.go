package libaio

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestEdgeSetCallbackNil: io_set_callback(iocb, NULL) stores NULL in data, and so does
// io_poll(ctx, iocb, NULL, fd, events); the event of such an iocb has data NULL (C
// reference, gcc -laio: "data after set_callback NULL: (nil)", "io_poll NULL cb: 1 data
// (nil)", the cancelled poll's event "data (nil) res 0"). SetCallback(nil) stored the
// trampoline's address instead, which GetEvents then reported as the event's Data.
func TestEdgeSetCallbackNil(t *testing.T) {
	fd, _ := testFile(t, []byte("hello world"), unix.O_RDONLY)
	c := testContext(t, 4)
	mem := cbuf(t, 4096)
	cbs := unsafeIocbs(mem, 2)
	buf := mem[1024:1029]

	cbs[0].PrepPread(fd, buf, 0)
	cbs[0].SetCallback(func(*Context, *Iocb, int64, int64) { t.Error("released callback called") })
	cbs[0].SetCallback(nil)
	if cbs[0].Data != 0 {
		t.Errorf("Data after SetCallback(nil) = %#x, want 0 as io_set_callback(iocb, NULL)", cbs[0].Data)
	}
	callbacks.Lock()
	_, kept := callbacks.byIocb[uintptr(unsafe.Pointer(&cbs[0]))]
	callbacks.Unlock()
	if kept {
		t.Error("SetCallback(nil) kept the callback")
	}
	if n, err := c.Submit([]*Iocb{&cbs[0]}); n != 1 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	// QueueRun does not call anything for it: the event comes back in the error.
	_, err := c.QueueRun()
	var nce *NoCallbackError
	if !errors.As(err, &nce) || nce.Event.Data != 0 || nce.Event.Res != 5 || !nce.Event.ObjIs(&cbs[0]) {
		t.Fatalf("QueueRun = %v, want a *NoCallbackError with Data 0, Res 5", err)
	}

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if n, err := c.Poll(&cbs[1], nil, p[0], unix.POLLIN); n != 1 || err != nil {
		t.Fatalf("Poll(nil callback) = %d, %v", n, err)
	}
	if cbs[1].Data != 0 {
		t.Errorf("Data after Poll(nil callback) = %#x, want 0 as io_poll", cbs[1].Data)
	}
	if err := c.Cancel(&cbs[1], nil); err != unix.EINPROGRESS {
		t.Fatalf("Cancel(poll) = %v, want EINPROGRESS", err)
	}
	if ev := getAll(t, c, 1)[0]; ev.Data != 0 || ev.Res != 0 || !ev.ObjIs(&cbs[1]) {
		t.Errorf("cancelled poll's event %+v, want Data 0, Res 0 as in C", ev)
	}
}

// TestEdgeRawAsC: results of edge cases against the C program (gcc -laio, same
// kernel), line by line: an IO_CMD_POLL submitted twice while in flight is accepted
// twice (1, 1), io_cancel cancels one submission at a time (EINPROGRESS, EINPROGRESS,
// then EINVAL) and both events arrive with res 0 and obj the iocb; io_submit of {NULL}
// is EFAULT and of {cb, NULL} 1; io_getevents with min_nr > nr and a zero timeout is
// EINVAL when the ring holds an event (libaio goes to the kernel) and 0 when it is
// empty, with a nil timeout EINVAL at once; a closed resfd is EBADF; offsets
// MaxInt64-1 and MaxInt64 with 4 bytes are EINVAL at io_submit, an empty read at
// MaxInt64 is accepted with res 0.
func TestEdgeRawAsC(t *testing.T) {
	fd, _ := testFile(t, []byte("hello world"), unix.O_RDONLY)
	c := testContext(t, 4)
	mem := cbuf(t, 4096)
	cbs := unsafeIocbs(mem, 2)
	buf := mem[1024:1028]
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	cb := &cbs[0]

	cb.PrepPoll(p[0], unix.POLLIN)
	for i := 0; i < 2; i++ {
		if n, err := c.Submit([]*Iocb{cb}); n != 1 || err != nil {
			t.Fatalf("poll submission %d = %d, %v; C: 1", i+1, n, err)
		}
	}
	for i, want := range []error{unix.EINPROGRESS, unix.EINPROGRESS, unix.EINVAL} {
		if err := c.Cancel(cb, nil); err != want {
			t.Fatalf("cancel %d = %v; C: %v", i+1, err, want)
		}
	}
	for i, ev := range getAll(t, c, 2) {
		if ev.Res != 0 || !ev.ObjIs(cb) {
			t.Errorf("event %d = %+v; C: res 0, obj the iocb", i, ev)
		}
	}

	if n, err := c.Submit([]*Iocb{nil}); n != 0 || err != unix.EFAULT {
		t.Errorf("Submit({nil}) = %d, %v; C: EFAULT", n, err)
	}
	cb.PrepPread(fd, buf, 0)
	if n, err := c.Submit([]*Iocb{cb, nil}); n != 1 || err != nil {
		t.Fatalf("Submit({cb, nil}) = %d, %v; C: 1", n, err)
	}
	// The event is in the ring (a buffered read completes inside io_submit).
	evs := make([]Event, 4)
	if n, err := c.GetEvents(2, evs[:1], &unix.Timespec{}); n != 0 || err != unix.EINVAL {
		t.Errorf("GetEvents(2, nr 1, zero timeout) on a ring with an event = %d, %v; C: EINVAL", n, err)
	}
	if n, err := c.GetEvents(1, evs[:1], &unix.Timespec{}); n != 1 || err != nil || evs[0].Res != 4 {
		t.Fatalf("GetEvents(1, 1, zero) = %d, %v, %+v; C: 1", n, err, evs[0])
	}
	if n, err := c.GetEvents(2, evs[:1], &unix.Timespec{}); n != 0 || err != nil {
		t.Errorf("GetEvents(2, nr 1, zero timeout) on an empty ring = %d, %v; C: 0", n, err)
	}
	for _, ts := range []*unix.Timespec{nil, {Sec: -1}, {Sec: math.MaxInt64}} {
		start := time.Now()
		if n, err := c.GetEvents(2, evs[:1], ts); n != 0 || err != unix.EINVAL {
			t.Errorf("GetEvents(2, nr 1, %v) = %d, %v; C: EINVAL", ts, n, err)
		}
		if n, err := c.PGetEvents(2, evs[:1], ts, nil); n != 0 || err != unix.EINVAL {
			t.Errorf("PGetEvents(2, nr 1, %v) = %d, %v; C: EINVAL", ts, n, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("GetEvents with min_nr > nr waited %v", d)
		}
	}

	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(efd)
	cb.PrepPread(fd, buf, 0)
	cb.SetEventfd(efd)
	if n, err := c.Submit([]*Iocb{cb}); n != 0 || err != unix.EBADF {
		t.Errorf("Submit with a closed resfd = %d, %v; C: EBADF", n, err)
	}
	for _, off := range []int64{math.MaxInt64 - 1, math.MaxInt64} {
		cb.PrepPread(fd, buf, off)
		if n, err := c.Submit([]*Iocb{cb}); n != 0 || err != unix.EINVAL {
			t.Errorf("pread of 4 bytes at %d = %d, %v; C: EINVAL", off, n, err)
		}
	}
	cb.PrepPread(fd, nil, math.MaxInt64)
	if n, err := c.Submit([]*Iocb{cb}); n != 1 || err != nil {
		t.Fatalf("empty pread at MaxInt64 = %d, %v; C: 1", n, err)
	}
	if ev := getAll(t, c, 1)[0]; ev.Res != 0 {
		t.Errorf("empty pread at MaxInt64: res %d; C: 0", ev.Res)
	}
}

// TestEdgeGoexitInCallback: a QueueRun callback that calls runtime.Goexit ends its
// goroutine, but QueueRun still leaves the Context (Destroy does not wait for it
// forever) and the events after it stay in the ring for the next QueueRun.
func TestEdgeGoexitInCallback(t *testing.T) {
	fd, _ := testFile(t, []byte("hello world"), unix.O_RDONLY)
	c, err := Setup(4)
	if err != nil {
		t.Fatal(err)
	}
	mem := cbuf(t, 4096)
	cbs := unsafeIocbs(mem, 2)
	var mu sync.Mutex
	var res []int64
	for i := range cbs {
		cbs[i].PrepPread(fd, mem[1024+i*16:1024+i*16+5], int64(i))
		cbs[i].SetCallback(func(_ *Context, _ *Iocb, r, _ int64) {
			mu.Lock()
			res = append(res, r)
			first := len(res) == 1
			mu.Unlock()
			if first {
				runtime.Goexit()
			}
		})
	}
	defer func() {
		for i := range cbs {
			cbs[i].SetCallback(nil)
		}
	}()
	if n, err := c.Submit([]*Iocb{&cbs[0], &cbs[1]}); n != 2 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.QueueRun()
		t.Error("QueueRun returned after its callback's Goexit")
	}()
	<-done
	if n, err := c.QueueRun(); n != 0 || err != nil {
		t.Fatalf("second QueueRun = %d, %v", n, err)
	}
	mu.Lock()
	if len(res) != 2 || res[0] != 5 || res[1] != 5 {
		t.Errorf("callback results %v, want [5 5]", res)
	}
	mu.Unlock()
	destroyWithin(t, c, "Destroy waits for a QueueRun whose callback called Goexit")
}

// TestEdgeDestroyRacesCalls: Destroy while goroutines loop on Submit (reads and polls),
// Cancel, blocking GetEvents, short PGetEvents and zero-timeout GetEvents: every call
// returns a result C could give or ErrClosed, none crashes on the unmapped ring, and
// Destroy returns (the blocking waits notice it).
func TestEdgeDestroyRacesCalls(t *testing.T) {
	fd, _ := testFile(t, pattern(64*1024, 1), unix.O_RDONLY)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	mem := cbuf(t, 32*SizeofIocb+32*4096)
	for iter := 0; iter < 12; iter++ {
		c, err := Setup(64)
		if err != nil {
			t.Fatal(err)
		}
		cbs := unsafeIocbs(mem, 32)
		bufs := mem[32*SizeofIocb:]
		var wg sync.WaitGroup
		bad := make(chan error, 256)
		check := func(what string, err error) {
			switch err {
			case nil, ErrClosed, unix.EINTR, unix.EINPROGRESS, unix.EINVAL:
			default:
				bad <- errors.New(what + ": " + err.Error())
			}
		}
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				evs := make([]Event, 8)
				for i := 0; i < 16; i++ {
					switch g % 4 {
					case 0:
						k := g/4*16 + i
						cb := &cbs[k]
						if i%2 == 0 {
							cb.PrepPread(fd, bufs[k*4096:(k+1)*4096], int64(k)*1024)
						} else {
							cb.PrepPoll(p[0], unix.POLLIN)
						}
						_, err := c.Submit([]*Iocb{cb})
						check("Submit", err)
						check("Cancel", c.Cancel(cb, nil))
					case 1:
						_, err := c.GetEvents(1, evs, nil)
						check("GetEvents", err)
					case 2:
						ts := unix.Timespec{Nsec: 1e6}
						_, err := c.PGetEvents(1, evs, &ts, nil)
						check("PGetEvents", err)
					case 3:
						_, err := c.GetEvents(0, evs, &unix.Timespec{})
						check("GetEvents(zero)", err)
					}
				}
			}(g)
		}
		time.Sleep(time.Duration(iter%4) * time.Millisecond)
		destroyWithin(t, c, "Destroy hangs")
		wg.Wait()
		close(bad)
		for err := range bad {
			t.Errorf("iteration %d: %v", iter, err)
		}
	}
}

// TestEdgeCloseRacesContextWaits: Queue.Close while goroutines make requests whose
// waits end by context at 0 to 200 µs (File.ReadAtContext with O_DIRECT, Poll of an
// empty pipe, Readv, File.WriteAtContext, SyncContext, buffered ReadAtContext): every
// call returns its data or an error among ErrClosed, ErrBusy, the context's and
// ECANCELED; Close returns, nothing is in flight afterwards and nothing leaks.
func TestEdgeCloseRacesContextWaits(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(256*1024, 1)
	fd, _ := testFile(t, content, unix.O_RDWR)
	dfd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	allowed := func(err error) bool {
		return err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrBusy) ||
			errors.Is(err, context.DeadlineExceeded) || errors.Is(err, unix.ECANCELED)
	}
	for iter := 0; iter < 12; iter++ {
		q, err := NewQueue(8)
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewFile(q, fd)
		if err != nil {
			t.Fatal(err)
		}
		df, err := NewFile(q, dfd)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		bad := make(chan error, 512)
		for g := 0; g < 12; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				buf := make([]byte, 4096)
				for i := 0; i < 20; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*100*time.Microsecond)
					var err error
					off := int64(i%60) * 4096
					switch g % 6 {
					case 0:
						var n int
						if n, err = df.ReadAtContext(ctx, buf, off); err == nil {
							if n != len(buf) {
								err = errors.New("short O_DIRECT read")
							} else {
								mustEqual(t, "O_DIRECT read", buf, content[off:off+4096])
							}
						} else {
							// A read whose ctx ended may still write buf (it stays
							// pinned until the request completes): never reuse it.
							buf = make([]byte, 4096)
						}
					case 1:
						h, e := q.Poll(p[0], unix.POLLIN)
						if err = e; e == nil {
							_, err = h.Wait(ctx)
						}
					case 2:
						h, e := q.Readv(dfd, [][]byte{alignedGo(4096)}, off)
						if err = e; e == nil {
							_, err = h.Wait(ctx)
						}
					case 3:
						_, err = f.WriteAtContext(ctx, content[off:off+4096], off)
					case 4:
						err = f.SyncContext(ctx)
					case 5:
						_, err = f.ReadAtContext(ctx, buf, off)
					}
					cancel()
					if !allowed(err) {
						bad <- err
					}
				}
			}(g)
		}
		time.Sleep(time.Duration(iter%4) * time.Millisecond)
		if err := testutil.CloseWithin(t, q, 5*time.Second, "Queue"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		close(bad)
		for err := range bad {
			t.Errorf("iteration %d: %v", iter, err)
		}
		if n := q.InFlight(); n != 0 {
			t.Fatalf("%d requests in flight after Close", n)
		}
	}
}

// TestEdgeQueueArgs: request methods on edge arguments give what the raw call gives
// (an empty Read and an empty Readv: 0; 10 bytes at MaxInt64-1: EINVAL), and after
// Close every request method and File method returns ErrClosed, Close again its first
// result.
func TestEdgeQueueArgs(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(8192, 5)
	fd, _ := testFile(t, content, unix.O_RDWR)
	q, err := NewQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(h interface {
		Wait(context.Context) (int, error)
	}, err error) (int, error) {
		if err != nil {
			return 0, err
		}
		return h.Wait(context.Background())
	}
	if n, err := wait(q.Read(fd, nil, 0)); n != 0 || err != nil {
		t.Errorf("Read(empty) = %d, %v; want 0", n, err)
	}
	if n, err := wait(q.Readv(fd, nil, 0)); n != 0 || err != nil {
		t.Errorf("Readv(no buffers) = %d, %v; want 0", n, err)
	}
	if n, err := wait(q.Readv(fd, [][]byte{nil, make([]byte, 3), {}}, 1)); n != 3 || err != nil {
		t.Errorf("Readv(empty, 3 bytes, empty) = %d, %v; want 3", n, err)
	}
	if n, err := wait(q.Read(fd, make([]byte, 10), math.MaxInt64-1)); n != 0 || err != unix.EINVAL {
		t.Errorf("Read at MaxInt64-1 = %d, %v; want EINVAL as io_submit", n, err)
	}
	if n, err := f.ReadAt(make([]byte, 10), math.MaxInt64-1); n != 0 || err != unix.EINVAL {
		t.Errorf("File.ReadAt at MaxInt64-1 = %d, %v; want EINVAL", n, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	bufs := [][]byte{buf}
	for name, call := range map[string]func() error{
		"Read":    func() error { _, err := q.Read(fd, buf, 0); return err },
		"Write":   func() error { _, err := q.Write(fd, buf, 0); return err },
		"Readv":   func() error { _, err := q.Readv(fd, bufs, 0); return err },
		"Writev":  func() error { _, err := q.Writev(fd, bufs, 0); return err },
		"Readv2":  func() error { _, err := q.Readv2(fd, bufs, 0, RWFNowait); return err },
		"Writev2": func() error { _, err := q.Writev2(fd, bufs, 0, RWFDsync); return err },
		"Fsync":   func() error { _, err := q.Fsync(fd); return err },
		"Fdsync":  func() error { _, err := q.Fdsync(fd); return err },
		"Poll":    func() error { _, err := q.Poll(fd, unix.POLLIN); return err },
		"ReadAt":  func() error { _, err := f.ReadAt(buf, 0); return err },
		"ReadAt(empty)": func() error {
			_, err := f.ReadAt(nil, 0)
			return err
		},
		"WriteAt":  func() error { _, err := f.WriteAt(buf, 0); return err },
		"Sync":     f.Sync,
		"Datasync": f.Datasync,
	} {
		if err := call(); err != ErrClosed {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v, want the first's nil", err)
	}
}

// destroyWithin runs c.Destroy and fails the test with hang if it has not
// returned within 3 s, or with its error.
func destroyWithin(t *testing.T, c *Context, hang string) {
	t.Helper()
	destroyed := make(chan error, 1)
	go func() { destroyed <- c.Destroy() }()
	select {
	case err := <-destroyed:
		if err != nil {
			t.Fatalf("Destroy: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal(hang)
	}
}
