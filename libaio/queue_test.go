package libaio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

func testQueue(t testing.TB, depth int) *Queue {
	t.Helper()
	q, err := NewQueue(depth)
	if err != nil {
		t.Fatalf("NewQueue(%d): %v", depth, err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

// wait(t)(q.Read(...)) fails the test on a submission or completion error and returns
// the result.
func wait(t testing.TB) func(h *completion.Handle, err error) int {
	return func(h *completion.Handle, err error) int {
		t.Helper()
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		n, err := h.Wait(context.Background())
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		return n
	}
}

func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestQueueReadWrite(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, direct := range []bool{false, true} {
		flags := unix.O_RDWR
		if direct {
			flags |= unix.O_DIRECT
		}
		fd, path := testFile(t, make([]byte, 64<<10), flags)
		q := testQueue(t, 8)
		w := alignedGo(16 << 10)
		copy(w, pattern(len(w), 10))
		if n := wait(t)(q.Write(fd, w, 8192)); n != len(w) {
			t.Fatalf("Write: %d", n)
		}
		if n := wait(t)(q.Fdsync(fd)); n != 0 {
			t.Fatalf("Fdsync: %d", n)
		}
		if n := wait(t)(q.Fsync(fd)); n != 0 {
			t.Fatalf("Fsync: %d", n)
		}
		r := alignedGo(16 << 10)
		if n := wait(t)(q.Read(fd, r, 8192)); n != len(r) {
			t.Fatalf("Read: %d", n)
		}
		mustEqual(t, "Read", r, w)
		disk, _ := os.ReadFile(path)
		mustEqual(t, "file", disk[8192:8192+len(w)], w)

		// Vectored, with RWF flags.
		a, b := alignedGo(4096), alignedGo(8192)
		copy(a, pattern(4096, 11))
		copy(b, pattern(8192, 12))
		if n := wait(t)(q.Writev2(fd, [][]byte{a, b}, 32768, RWFDsync)); n != 12288 {
			t.Fatalf("Writev2: %d", n)
		}
		ra, rb := alignedGo(8192), alignedGo(4096)
		if n := wait(t)(q.Readv(fd, [][]byte{ra, rb}, 32768)); n != 12288 {
			t.Fatalf("Readv: %d", n)
		}
		mustEqual(t, "Readv", append(append([]byte{}, ra...), rb...), append(append([]byte{}, a...), b...))
		if n := wait(t)(q.Writev(fd, [][]byte{a}, 0)); n != 4096 {
			t.Fatalf("Writev: %d", n)
		}
		if n := wait(t)(q.Readv2(fd, [][]byte{ra[:4096]}, 0, 0)); n != 4096 {
			t.Fatalf("Readv2: %d", n)
		}
		mustEqual(t, "Readv2", ra[:4096], a)
	}
}

func TestQueueSubmitErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	q := testQueue(t, 4)
	fd, _ := testFile(t, pattern(8192, 13), unix.O_RDONLY)
	buf := make([]byte, 4096)
	if h, err := q.Read(-1, buf, 0); h != nil || !errors.Is(err, unix.EBADF) {
		t.Errorf("Read(-1) = %v, %v; want EBADF", h, err)
	}
	if h, err := q.Write(fd, buf, 0); h != nil || !errors.Is(err, unix.EBADF) {
		t.Errorf("Write(O_RDONLY fd) = %v, %v; want EBADF", h, err)
	}
	if h, err := q.Read(fd, buf, -1); h != nil || !errors.Is(err, unix.EINVAL) {
		t.Errorf("Read(offset -1) = %v, %v; want EINVAL", h, err)
	}
	if h, err := q.Readv(fd, make([][]byte, 1025), 0); h != nil || !errors.Is(err, unix.EINVAL) {
		t.Errorf("Readv(1025 buffers) = %v, %v; want EINVAL", h, err)
	}
	if h, err := q.Readv2(fd, [][]byte{buf}, 0, 1<<30); h != nil || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("Readv2(bad flag) = %v, %v; want EOPNOTSUPP", h, err)
	}
	// Empty and nil buffers are valid zero-byte requests.
	if n := wait(t)(q.Read(fd, nil, 0)); n != 0 {
		t.Errorf("Read(nil) = %d", n)
	}
	if n := wait(t)(q.Readv(fd, nil, 0)); n != 0 {
		t.Errorf("Readv(nil) = %d", n)
	}
	// Short read at end of file.
	if n := wait(t)(q.Read(fd, make([]byte, 10000), 4096)); n != 4096 {
		t.Errorf("read across EOF = %d, want 4096", n)
	}
	// Errors found while the request runs come from Wait: misaligned O_DIRECT memory.
	dfd, _ := testFile(t, pattern(8192, 13), unix.O_RDONLY|unix.O_DIRECT)
	h, err := q.Read(dfd, alignedGo(4097)[1:], 0)
	if err != nil {
		t.Fatalf("Read(O_DIRECT, misaligned memory): io_submit error %v; want the error in the event", err)
	}
	if n, err := h.Wait(context.Background()); n != 0 || err != unix.EINVAL {
		t.Errorf("misaligned O_DIRECT read: Wait = %d, %v; want EINVAL", n, err)
	}
	// A read of an empty O_NONBLOCK pipe: EAGAIN in the event.
	r, _ := pipe(t)
	unix.SetNonblock(r, true)
	h, err = q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != 0 || err != unix.EAGAIN {
		t.Errorf("read of an empty non-blocking pipe: Wait = %d, %v; want EAGAIN", n, err)
	}
	// Poll on a file without a poll method (a regular file): ready at once.
	if n := wait(t)(q.Poll(fd, unix.POLLIN)); n&unix.POLLIN == 0 {
		t.Errorf("Poll(regular file) = %#x, want POLLIN", n)
	}
	if q.InFlight() != 0 {
		t.Errorf("InFlight %d after failed submissions", q.InFlight())
	}
	if q.Depth() != 4 {
		t.Errorf("Depth %d", q.Depth())
	}
}

// Close while goroutines keep submitting: every call either completes correctly or
// fails with ErrClosed, nothing hangs, no pin leaks, and Close returns only when the
// last request has completed.
func TestQueueCloseRacesRequests(t *testing.T) {
	testutil.CheckLeaks(t)
	const blocks, workers = 64, 24
	content := pattern(blocks*4096, 25)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	q, err := NewQueue(8)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	var ops atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := alignedGo(4096)
			for i := 0; ; i++ {
				blk := (w*31 + i*7) % blocks
				var n int
				var err error
				switch i % 3 {
				case 0: // raw handle, ErrBusy when the queue is full
					var h *completion.Handle
					if h, err = q.Read(fd, buf, int64(blk)*4096); err == nil {
						n, err = h.Wait(context.Background())
					}
				case 1:
					n, err = f.ReadAt(buf, int64(blk)*4096)
				case 2: // vectored
					var h *completion.Handle
					if h, err = q.Readv(fd, [][]byte{buf}, int64(blk)*4096); err == nil {
						n, err = h.Wait(context.Background())
					}
				}
				switch {
				case err == ErrClosed:
					errc <- nil
					return
				case err == ErrBusy:
					runtime.Gosched()
					continue
				case err != nil || n != 4096:
					errc <- fmt.Errorf("read = %d, %v", n, err)
					return
				case string(buf) != string(content[blk*4096:(blk+1)*4096]):
					errc <- errors.New("wrong data")
					return
				}
				ops.Add(1)
			}
		}(w)
	}
	for ops.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after Close", n)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d reads before Close", ops.Load())
}

func TestQueueBusyAndClose(t *testing.T) {
	testutil.CheckLeaks(t)
	q, err := NewQueue(3)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := pipe(t)
	var hs []*completion.Handle
	for i := 0; i < 3; i++ {
		h, err := q.Poll(r, unix.POLLIN)
		if err != nil {
			t.Fatalf("Poll %d: %v", i, err)
		}
		hs = append(hs, h)
	}
	if _, err := q.Poll(r, unix.POLLIN); err != ErrBusy {
		t.Fatalf("4th request on a depth-3 queue: %v, want ErrBusy", err)
	}
	if _, err := hs[0].Result(); err != ErrPending {
		t.Fatalf("Result of a pending poll: %v", err)
	}
	// Close cancels the polls and returns only when their handles are done.
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-q.reaperDone:
	default:
		t.Error("reaper goroutine still running after Close")
	}
	for _, h := range hs {
		if n, err := h.Result(); n != 0 || err != nil {
			t.Errorf("poll after Close: %d, %v; want 0 (cancelled)", n, err)
		}
	}
	if _, err := q.Read(r, make([]byte, 1), 0); err != ErrClosed {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := q.Fsync(r); err != ErrClosed {
		t.Errorf("Fsync after Close: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := q.ctx.Destroy(); err != ErrClosed {
		t.Errorf("Destroy after Close: %v", err)
	}
}

// Close waits for O_DIRECT reads in flight: they cannot be cancelled, and their memory
// must stay valid until the kernel is done.
func TestQueueCloseWaitsForIO(t *testing.T) {
	testutil.CheckLeaks(t)
	const n = 16
	content := pattern(n*65536, 14)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	q, err := NewQueue(n)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, n)
	hs := make([]*completion.Handle, n)
	for i := range bufs {
		bufs[i] = alignedGo(65536)
		if hs[i], err = q.Read(fd, bufs[i], int64(i)*65536); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if n, err := h.Result(); n != 65536 || err != nil {
			t.Fatalf("read %d after Close: %d, %v", i, n, err)
		}
		mustEqual(t, "read before Close", bufs[i], content[i*65536:(i+1)*65536])
	}
}

func TestQueuePollAndCancel(t *testing.T) {
	testutil.CheckLeaks(t)
	q := testQueue(t, 4)
	r, w := pipe(t)
	h, err := q.Poll(r, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(w, []byte("x"))
	if n := wait(t)(h, nil); n&unix.POLLIN == 0 {
		t.Fatalf("poll mask %#x", n)
	}
	unix.Read(r, make([]byte, 1))

	// Wait with a context that ends: ctx.Err(), io_cancel, and the handle completes.
	h, err = q.Poll(r, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := h.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait: %v, want DeadlineExceeded", err)
	}
	select {
	case <-h.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled poll never completed")
	}
	if n, err := h.Result(); n != 0 || err != nil {
		t.Fatalf("cancelled poll: %d, %v", n, err)
	}

	// A read cannot be cancelled: Wait returns ctx.Err(), the buffer stays pinned and
	// the read still completes with the data.
	content := pattern(1<<20, 15)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	buf := alignedGo(1 << 20)
	h, err = q.Read(fd, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	n, err := h.Wait(done)
	switch err {
	case context.Canceled: // still in flight: it completes later, with the data
		if n := wait(t)(h, nil); n != 1<<20 {
			t.Fatalf("read after cancel: %d", n)
		}
	case nil: // it had completed before Wait looked at ctx
		if n != 1<<20 {
			t.Fatalf("read: %d", n)
		}
	default:
		t.Fatalf("Wait(cancelled ctx): %d, %v", n, err)
	}
	mustEqual(t, "read after cancel", buf, content)
}

// Many goroutines share one Queue through a File, with more goroutines than slots,
// the GC running and signals arriving, and every byte is checked.
func TestQueueManyGoroutinesGCSignals(t *testing.T) {
	testutil.CheckLeaks(t)
	const blocks, workers, per = 256, 64, 40
	content := pattern(blocks*4096, 16)
	fd, _ := testFile(t, content, unix.O_RDWR|unix.O_DIRECT)
	q := testQueue(t, 16)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // GC pressure while requests are in flight
		defer bg.Done()
		var junk [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			junk = append(junk, make([]byte, 64<<10))
			if len(junk) > 64 {
				junk = nil
				runtime.GC()
			}
		}
	}()
	go func() { // signals at every thread of the process
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				unix.Kill(unix.Getpid(), unix.SIGURG)
			}
		}
	}()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				blk := (w*per + i) * 7 % blocks
				var buf []byte
				if i%2 == 0 {
					buf = make([]byte, 4096) // usually misaligned: bounced
				} else {
					buf = alignedGo(4096)
				}
				n, err := f.ReadAt(buf, int64(blk)*4096)
				if err != nil || n != 4096 {
					errc <- err
					return
				}
				if string(buf) != string(content[blk*4096:(blk+1)*4096]) {
					errc <- errors.New("wrong data")
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("worker: %v", err)
	}
}

// Buffers pinned by in-flight requests are neither moved nor freed by the GC.
func TestQueuePinsSurviveGC(t *testing.T) {
	testutil.CheckLeaks(t)
	const n = 32
	content := pattern(n*4096, 17)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	q := testQueue(t, n)
	hs := make([]*completion.Handle, n)
	bufs := make([][]byte, n)
	for i := range hs {
		bufs[i] = alignedGo(4096)
		h, err := q.Read(fd, bufs[i], int64(i)*4096)
		if err != nil {
			t.Fatal(err)
		}
		hs[i] = h
	}
	_, pins := completion.Stats()
	t.Logf("%d live pins right after submitting %d O_DIRECT reads", pins, n)
	for i := 0; i < 3; i++ {
		runtime.GC()
		_ = make([]byte, 1<<20)
	}
	for i, h := range hs {
		if n := wait(t)(h, nil); n != 4096 {
			t.Fatalf("read %d: %d", i, n)
		}
		mustEqual(t, "read under GC", bufs[i], content[i*4096:(i+1)*4096])
	}
}

// With many goroutines submitting at once, requests are combined into batches; a bad
// request rejected by a batch's io_submit fails with its errno, from Read (when the
// caller submitted it) or from Wait (when another goroutine did), and its neighbours in
// the batch still run.
// It runs with 1, 2 and 4 submitters (GOMAXPROCS when the Queue is made).
func TestQueueCombinedSubmitErrors(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("procs%d", procs), func(t *testing.T) {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			testCombinedSubmitErrors(t)
		})
	}
}

func testCombinedSubmitErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(64*4096, 23)
	fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
	q := testQueue(t, 32)
	const workers, per = 32, 60
	var fromRead, fromWait, good atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := alignedGo(4096)
			for i := 0; i < per; i++ {
				bad := (w+i)%3 == 0
				rfd := fd
				if bad {
					rfd = -1
				}
				blk := (w*per + i) % 64
				h, err := q.Read(rfd, buf, int64(blk)*4096)
				if err == nil {
					_, err = h.Wait(context.Background())
					if bad && err != nil {
						fromWait.Add(1)
					}
				} else if bad {
					fromRead.Add(1)
				}
				switch {
				case bad && !errors.Is(err, unix.EBADF):
					errc <- fmt.Errorf("bad fd: %v", err)
					return
				case !bad && err != nil:
					errc <- fmt.Errorf("good read: %v", err)
					return
				case !bad && string(buf) != string(content[blk*4096:(blk+1)*4096]):
					errc <- errors.New("wrong data")
					return
				case !bad:
					good.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("%d good reads; EBADF from Read %d, from Wait %d", good.Load(), fromRead.Load(), fromWait.Load())
}
