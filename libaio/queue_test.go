package libaio

import (
	"bytes"
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
	// Close once 200 reads were made, or at once if every worker has stopped (on an
	// error) or after 10s; the test fails in those two cases.
	stopped := make(chan struct{})
	go func() {
		wg.Wait()
		close(stopped)
	}()
	deadline := time.After(10 * time.Second)
wait:
	for ops.Load() < 200 {
		select {
		case <-stopped:
			t.Errorf("every worker stopped after %d reads, before Close", ops.Load())
			break wait
		case <-deadline:
			t.Errorf("%d reads after 10s, want 200 before Close", ops.Load())
			break wait
		case <-time.After(time.Millisecond):
		}
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

// Buffers of requests in flight are kept alive by their pins alone. Each buffer here
// has a finalizer and no Go reference once its request is made, and the requests stay
// in flight until the test ends them: reads of empty pipes and a write to a full one,
// which the kernel runs inside io_submit (blocking the submitters, while the requests
// made meanwhile wait queued for them). The live pins must count them all, and
// garbage collections meanwhile must not collect any buffer (they did with the pin
// removed from Read and Write). Once the requests completed nothing holds the buffers:
// each is collected, holding what the kernel read into it.
//
// A signal to a submitter's thread ends its blocked pipe read or write with EINTR
// (Go's SIGURG, see blockedAttempt): that request then completes early, its buffer is
// rightly unpinned, and the attempt is repeated.
func TestQueuePinsSurviveGC(t *testing.T) {
	testutil.CheckLeaks(t)
	blockedAttempts(t, queuePinsSurviveGC)
}

func queuePinsSurviveGC(a *blockedAttempt) {
	t := a.t
	const reads = 3
	const n = reads + 1 // the last request is the write
	_, pins0 := completion.Stats()
	q := testQueue(t, 8)
	q.SetInlineReads(false) // every read through io_submit
	// Registered after testQueue, so run before its Close: a request still blocked in
	// io_submit when the test fails ends (EOF, EPIPE) instead of blocking Close.
	fds := make([][2]int, n)
	for i := range fds {
		if err := unix.Pipe2(fds[i][:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		p := fds[i]
		t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	}
	wr, ww := fds[reads][0], fds[reads][1]
	// Fill the write's pipe: its io_submit then blocks until the test drains it.
	unix.SetNonblock(ww, true)
	filled := 0
	for {
		k, err := unix.Write(ww, make([]byte, 4096))
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatalf("filling the pipe: %v", err)
		}
		filled += k
	}
	unix.SetNonblock(ww, false)

	var gone [n]atomic.Bool
	var first [n]atomic.Int32 // the buffer's first byte when it was collected
	// start makes request i on a fresh buffer that only the request refers to.
	start := func(i int) (*completion.Handle, error) {
		b := new([4096]byte)
		runtime.SetFinalizer(b, func(b *[4096]byte) {
			first[i].Store(int32(b[0]))
			gone[i].Store(true)
		})
		if i < reads {
			return q.Read(fds[i][0], b[:], 0)
		}
		for j := range b {
			b[j] = 0xab
		}
		return q.Write(ww, b[:], 0)
	}
	type result struct {
		i   int
		h   *completion.Handle
		err error
	}
	res := make(chan result, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			h, err := start(i)
			if h != nil {
				// An interrupted request completes early (EINTR): mark the attempt.
				go func() {
					<-h.Done()
					_, err := h.Result()
					a.check(err)
				}()
			}
			res <- result{i, h, err}
		}(i)
	}

	// Release them: one byte in each read's pipe, and drain the write's. It returns
	// what the write put into its pipe after the filling.
	released := false
	release := func() []byte {
		released = true
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; i < reads; i++ {
			if _, err := unix.Write(fds[i][1], []byte{byte('a' + i)}); err != nil {
				t.Fatal(err)
			}
		}
		unix.SetNonblock(wr, true)
		var drained []byte
		chunk := make([]byte, 8192)
		for len(drained) < filled+4096 {
			k, err := unix.Read(wr, chunk)
			switch {
			case err == unix.EAGAIN || err == unix.EINTR:
				if a.intr.Load() {
					return nil // the pipe is empty: a write still blocked goes through
				}
				if time.Now().After(deadline) {
					a.Errorf("%d of %d bytes through the write's pipe after 10s", len(drained), filled+4096)
					return nil
				}
				time.Sleep(time.Millisecond)
			case err != nil || k == 0:
				t.Fatalf("draining the pipe: %d, %v", k, err)
			default:
				drained = append(drained, chunk[:k]...)
			}
		}
		return drained[filled:]
	}
	// finish, on a failure, releases the requests (unless done already) and waits for
	// them to complete, so that an interrupted one is seen before the attempt ends.
	finish := func() {
		if !released {
			release()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for k := 0; k < n; k++ {
			select {
			case r := <-res:
				if r.h != nil {
					_, err := r.h.Wait(ctx)
					a.check(err)
				}
			case <-ctx.Done():
				return
			}
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for q.InFlight() < n {
		if a.intr.Load() {
			finish()
			return
		}
		if time.Now().After(deadline) {
			a.Errorf("%d of %d requests in flight after 10s", q.InFlight(), n)
			finish()
			return
		}
		time.Sleep(time.Millisecond)
	}
	// Pinned before their io_submit: none can complete before the test lets it.
	for {
		_, pins := completion.Stats()
		if pins >= pins0+n {
			break
		}
		if time.Now().After(deadline) {
			a.Errorf("%d live pins with %d requests in flight, want at least %d", pins, n, pins0+n)
			break
		}
		time.Sleep(time.Millisecond)
	}
	collect(5)
	var collected []int
	for i := range gone {
		if gone[i].Load() {
			collected = append(collected, i)
		}
	}
	if len(collected) > 0 {
		a.Errorf("the buffers of requests %v (of %d, all in flight) were collected: nothing pinned them", collected, n)
		finish()
		return
	}
	if q.InFlight() != n {
		a.Errorf("%d of %d requests in flight before the test released them", q.InFlight(), n)
		finish()
		return
	}

	if w := release(); w == nil {
		finish()
		return
	} else if !bytes.Equal(w, bytes.Repeat([]byte{0xab}, 4096)) {
		a.Errorf("the write put %q... into the pipe, want its buffer's 0xab bytes", w[:min(16, len(w))])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for k := 0; k < n; k++ {
		var r result
		select {
		case r = <-res:
		case <-ctx.Done():
			a.Errorf("%d of %d requests returned from Read or Write after 10s", k, n)
			return
		}
		if r.err != nil {
			a.Errorf("request %d: %v", r.i, r.err)
			continue
		}
		want := 1
		if r.i == reads {
			want = 4096
		}
		if got, err := r.h.Wait(ctx); got != want || a.check(err) != nil {
			a.Errorf("request %d: Wait = %d, %v; want %d", r.i, got, err, want)
		}
	}
	if len(a.errs) > 0 || a.intr.Load() {
		return
	}
	// Unpinned and referred to by nothing: collected, with the data the reads brought.
	deadline = time.Now().Add(10 * time.Second)
	for i := range gone {
		for !gone[i].Load() {
			if time.Now().After(deadline) {
				a.Errorf("the buffer of request %d is still not collected after its request completed: is it still pinned?", i)
				return
			}
			collect(1)
		}
		if want := byte('a' + i); i < reads && byte(first[i].Load()) != want {
			a.Errorf("read %d put %q into its buffer, want %q", i, byte(first[i].Load()), want)
		}
	}
}

// collect runs k garbage collections, sleeping a little after each so that the
// finalizers they queued run.
func collect(k int) {
	for i := 0; i < k; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// With many goroutines submitting at once, requests are combined into batches; a bad
// request rejected by a batch's io_submit fails with its errno, from Read (when the
// caller submitted it) or from Wait (when another goroutine did), and its neighbours in
// the batch still run.
// It runs with 1, 2 and 4 submitters (GOMAXPROCS when the Queue is made). With more
// than one, a run in which no bad request was submitted by another goroutine (no EBADF
// from Wait) did not test the batching path: up to 5 runs are made before it fails.
func TestQueueCombinedSubmitErrors(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("procs%d", procs), func(t *testing.T) {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			testutil.CheckLeaks(t)
			content := pattern(64*4096, 23)
			fd, _ := testFile(t, content, unix.O_RDONLY|unix.O_DIRECT)
			var fromWait []int64
			for attempt := 0; attempt < 5; attempt++ {
				fromWait = append(fromWait, testCombinedSubmitErrors(t, fd, content))
				if procs == 1 || fromWait[attempt] > 0 {
					return
				}
			}
			t.Fatalf("with %d submitters, no EBADF came from Wait in %d runs: no bad request was submitted in another goroutine's batch", procs, len(fromWait))
		})
	}
}

// testCombinedSubmitErrors is one run of TestQueueCombinedSubmitErrors on a new Queue
// reading fd (content); it returns how many EBADF came from Wait.
func testCombinedSubmitErrors(t *testing.T, fd int, content []byte) int64 {
	q, err := NewQueue(32)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
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
	return fromWait.Load()
}
