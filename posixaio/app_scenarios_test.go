package posixaio

// Application-style scenarios of the handle layer (Queue, File and the handles they
// return), in both notify modes, the way a systems program uses it, on real files and
// pipes: a parallel file copy with contexts that time out (O_DIRECT and buffered),
// Close while dozens of goroutines keep submitting, blocking pipe reads on glibc's
// threads with cancels, buffers in flight under constant garbage collection, and
// several Queues and the raw Aiocb API sharing descriptors while every request of a
// descriptor is cancelled now and then. Each asserts its results exactly; the time
// bounds are hang guards only.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// appAligned returns n bytes of Go memory at a multiple of 4096, for O_DIRECT
// (posixaio's File does not bounce buffers).
func appAligned(n int) []byte { return testutil.AlignedBuf(n) }

// appCopy copies a file chunk by chunk through one Queue from many goroutines.
// glibc runs one descriptor's requests one at a time, so the source and the copy
// are opened four times each, as a program wanting parallel I/O would.
type appCopy struct {
	q        *Queue
	src, dst []*File
	content  []byte
	chunk    int
	direct   bool
	timeouts atomic.Int64 // attempts whose context ended before their request
	late     atomic.Int64 // of those, handles that still completed with the data
}

// appCopier is one worker's state: a C buffer for the handle path (reused only once
// its handle is done) and a Go buffer for the File path, dropped after a timeout
// (the request may still read into it or write from it).
type appCopier struct {
	c    *appCopy
	r    *rand.Rand
	cbuf *cmem.Buf
	gbuf []byte
}

func (w *appCopier) goBuf() []byte {
	if w.gbuf == nil {
		if w.c.direct {
			w.gbuf = appAligned(w.c.chunk)
		} else {
			w.gbuf = make([]byte, w.c.chunk+1)[1:]
		}
	}
	return w.gbuf
}

// copyChunk copies chunk idx, retrying it until one attempt got through both its
// read and its write without its context ending.
func (w *appCopier) copyChunk(idx int) error {
	c := w.c
	off := int64(idx) * int64(c.chunk)
	want := c.content[off : off+int64(c.chunk)]
	for attempt := 0; attempt < 10; attempt++ {
		useFile := w.r.IntN(2) == 0
		var buf []byte
		if useFile {
			buf = w.goBuf()
		} else {
			buf = w.cbuf.Bytes()
		}
		ok, err := w.rw(useFile, false, buf, off, attempt)
		if err != nil {
			return fmt.Errorf("chunk %d: read (file %v, attempt %d): %w", idx, useFile, attempt, err)
		}
		if !ok {
			continue
		}
		if !bytes.Equal(buf, want) {
			return fmt.Errorf("chunk %d: read (file %v, attempt %d) returned other bytes than the source's", idx, useFile, attempt)
		}
		if ok, err = w.rw(useFile, true, buf, off, attempt); err != nil {
			return fmt.Errorf("chunk %d: write (file %v, attempt %d): %w", idx, useFile, attempt, err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("chunk %d: 10 attempts timed out (attempts from the fourth have no timeout)", idx)
}

// rw reads or writes all of buf at off, through one of the Files or a handle on one
// of the descriptors, with the context of this attempt. It returns false, nil when
// the context ended first (retry), and an error for any result but the exact count.
func (w *appCopier) rw(useFile, write bool, buf []byte, off int64, attempt int) (bool, error) {
	c := w.c
	files := c.src
	if write {
		files = c.dst
	}
	f := files[w.r.IntN(len(files))]
	ctx, cancel := testutil.AppCtx(w.r, attempt)
	defer cancel()
	if useFile {
		var n int
		var err error
		if write {
			n, err = f.WriteAtContext(ctx, buf, off)
		} else {
			n, err = f.ReadAtContext(ctx, buf, off)
		}
		if testutil.IsCtxErr(err) && ctx.Err() != nil {
			c.timeouts.Add(1)
			w.gbuf = nil // the request may still use it: never touch it again
			return false, nil
		}
		if err != nil || n != len(buf) {
			return false, fmt.Errorf("File: %d, %v; want %d", n, err, len(buf))
		}
		return true, nil
	}
	var h *completion.Handle
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if write {
			h, err = c.q.Write(f.Fd(), buf, off)
		} else {
			h, err = c.q.Read(f.Fd(), buf, off)
		}
		if err != ErrBusy || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Microsecond) // every slot in flight
	}
	if err != nil {
		return false, fmt.Errorf("submit: %w", err)
	}
	n, err := h.Wait(ctx)
	if testutil.IsCtxErr(err) {
		// aio_cancel: a queued request ends with ECANCELED, a running one with its
		// count. Only once the handle is done may its buffer be used again.
		c.timeouts.Add(1)
		n, err = testutil.AppAwait(h)
		switch {
		case errors.Is(err, unix.ECANCELED):
		case err != nil || n != len(buf):
			return false, fmt.Errorf("handle after its context ended: %d, %v; want %d or ECANCELED", n, err, len(buf))
		default:
			c.late.Add(1)
		}
		return false, nil
	}
	if err != nil || n != len(buf) {
		return false, fmt.Errorf("handle: %d, %v; want %d", n, err, len(buf))
	}
	return true, nil
}

// appParallelCopy copies a 32 MiB file through Files and handles from 16 goroutines
// taking 128 KiB chunks in random order, with contexts that end at random (timed-out
// chunks are retried), and wants the copy to equal the source byte for byte.
func appParallelCopy(t *testing.T, mode NotifyMode, direct bool) {
	testutil.CheckLeaks(t)
	const size, chunk, workers, fds = 32 << 20, 128 << 10, 16, 4
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t) // skips, by name, where O_DIRECT is refused
	content := testutil.AppContent(size, seed|1)
	srcPath := testutil.AppDataFile(t, dir, "src", content)
	dstPath := filepath.Join(dir, "dst")
	flags := 0
	if direct {
		flags = unix.O_DIRECT
	}
	q, err := NewQueueOptions(8, QueueOptions{Notify: mode}) // fewer slots than workers
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	c := &appCopy{q: q, content: content, chunk: chunk, direct: direct}
	for i := 0; i < fds; i++ {
		c.src = append(c.src, NewFile(q, testutil.AppOpen(t, srcPath, unix.O_RDONLY|flags)))
		dfd := testutil.AppOpen(t, dstPath, unix.O_RDWR|unix.O_CREAT|flags)
		if i == 0 {
			if err := unix.Ftruncate(dfd, size); err != nil {
				t.Fatal(err)
			}
		}
		c.dst = append(c.dst, NewFile(q, dfd))
	}

	order := rand.New(rand.NewPCG(seed, 0)).Perm(size / chunk)
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		cb, err := cmem.Alloc(chunk, 4096)
		if err != nil {
			t.Fatal(err)
		}
		w := &appCopier{c: c, r: rand.New(rand.NewPCG(seed, uint64(g+1))), cbuf: cb}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cb.Free() // each of its handles is done by then
			for idx := range next {
				if err := w.copyChunk(idx); err != nil {
					t.Error(err)
					for range next { // let the others stop too
					}
					return
				}
			}
		}()
	}
	testutil.AppWaitGroup(t, &wg, "copy workers")
	for _, f := range c.dst {
		if err := f.Datasync(); err != nil {
			t.Errorf("Datasync: %v", err)
		}
	}
	// Close waits for the requests that timed out and still run.
	if err := testutil.CloseWithin(t, q, testutil.AppHang, "Queue"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after Close", n)
	}
	got, err := os.ReadFile(dstPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size {
		t.Fatalf("copy has %d bytes, want %d", len(got), size)
	}
	for i := 0; i < size; i += chunk {
		if !bytes.Equal(got[i:i+chunk], content[i:i+chunk]) {
			t.Errorf("copy differs from the source in chunk %d", i/chunk)
		}
	}
	t.Logf("%d attempts timed out (%d of their handles completed with the data later)", c.timeouts.Load(), c.late.Load())
}

// TestAppParallelCopyDirect: a 32 MiB O_DIRECT copy (page cache dropped) over four
// descriptors each of source and copy, from 16 goroutines through File (aligned Go
// buffers) and raw handles (aligned C memory), with contexts that end at random;
// the copy equals the source.
func TestAppParallelCopyDirect(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) { appParallelCopy(t, m, true) })
}

// TestAppParallelCopyBuffered: the same copy without O_DIRECT, into misaligned Go
// buffers.
func TestAppParallelCopyBuffered(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) { appParallelCopy(t, m, false) })
}

// TestAppCloseUnderLoad: Queue.Close while 56 goroutines keep submitting buffered and
// O_DIRECT reads (handles and File), writes, fsyncs, reads of a pipe that a glibc
// thread blocks in (fed until Close returns), File reads with contexts that end and
// handles cancelled with Queue.Cancel. Close returns; every handle made ends with
// its exact result or, once Close began, ECANCELED; every worker then gets
// ErrClosed; nothing is in flight; every request method gives ErrClosed afterwards;
// goroutines, descriptors, pins and C memory are back to what they were.
func TestAppCloseUnderLoad(t *testing.T) { bothModes(t, appCloseUnderLoad) }

func appCloseUnderLoad(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	const size, workers = 4 << 20, 56
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t)
	content := testutil.AppContent(size, seed|1)
	dataPath := testutil.AppDataFile(t, dir, "data", content)
	var bfds, dfds []int
	for i := 0; i < 3; i++ {
		bfds = append(bfds, testutil.AppOpen(t, dataPath, unix.O_RDONLY))
		dfds = append(dfds, testutil.AppOpen(t, dataPath, unix.O_RDONLY|unix.O_DIRECT))
	}
	scratchPath := testutil.AppDataFile(t, dir, "scratch", content)
	sfd := testutil.AppOpen(t, scratchPath, unix.O_RDWR)
	p := testutil.NewAppPipe(t, false)
	g0, fd0 := runtime.NumGoroutine(), testutil.FDCount()

	q, err := NewQueueOptions(16, QueueOptions{Notify: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fileD, fileB, fileS := NewFile(q, dfds[0]), NewFile(q, bfds[0]), NewFile(q, sfd)

	stopFeed := make(chan struct{})
	feedDone := make(chan struct{})
	go func() { // the pipe's writer, until Close returned: Close waits for a running read
		defer close(feedDone)
		for {
			select {
			case <-stopFeed:
				return
			case <-time.After(200 * time.Microsecond):
			}
			unix.Write(p.W, []byte("PPPP"))
		}
	}()

	var ops atomic.Int64
	var closing atomic.Bool
	lastErr := make([]error, workers)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			fail := func(format string, args ...any) {
				t.Errorf("worker %d (kind %d): %s", g, g%8, fmt.Sprintf(format, args...))
			}
			// result checks a request's result: ok, or ECANCELED once Close began.
			result := func(what string, n int, err error, ok func(int, error) bool) bool {
				if errors.Is(err, unix.ECANCELED) && closing.Load() || ok(n, err) {
					ops.Add(1)
					return true
				}
				fail("%s: %d, %v (closing %v)", what, n, err, closing.Load())
				return false
			}
			await := func(h *completion.Handle, what string, ok func(int, error) bool) bool {
				n, err := testutil.AppAwait(h)
				return result(what, n, err, ok)
			}
			full := func(want int) func(int, error) bool {
				return func(n int, err error) bool { return err == nil && n == want }
			}
			for {
				var err error
				switch g % 8 {
				case 0: // buffered read at any offset, ErrBusy when full
					ln := 1 + r.IntN(32<<10)
					off := r.IntN(size - ln)
					buf := make([]byte, ln)
					var h *completion.Handle
					if h, err = q.Read(bfds[r.IntN(3)], buf, int64(off)); err == nil {
						if !await(h, "read", full(ln)) {
							return
						}
						if h.Res() >= 0 && !bytes.Equal(buf, content[off:off+ln]) {
							fail("read at %d: wrong bytes", off)
							return
						}
					}
				case 1: // File.ReadAt on O_DIRECT; waits for a slot
					ln := 4096 * (1 + r.IntN(8))
					off := 4096 * r.IntN((size-ln)/4096)
					buf := appAligned(ln)
					var n int
					n, err = fileD.ReadAt(buf, int64(off))
					if err == nil || errors.Is(err, unix.ECANCELED) {
						if !result("File.ReadAt", n, err, full(ln)) {
							return
						}
						if err == nil && !bytes.Equal(buf, content[off:off+ln]) {
							fail("File.ReadAt at %d: wrong bytes", off)
							return
						}
						err = nil
					}
				case 2: // write of the bytes already there
					ln := 1 + r.IntN(32<<10)
					off := r.IntN(size - ln)
					var h *completion.Handle
					if h, err = q.Write(sfd, content[off:off+ln], int64(off)); err == nil && !await(h, "write", full(ln)) {
						return
					}
				case 3: // fsync, fdatasync
					op := OSync
					if r.IntN(2) == 0 {
						op = ODsync
					}
					var h *completion.Handle
					if h, err = q.Fsync(sfd, op); err == nil && !await(h, "fsync", full(0)) {
						return
					}
				case 4: // read of the pipe: a glibc thread blocks until the writer sends
					buf := make([]byte, 64)
					var h *completion.Handle
					if h, err = q.Read(p.R, buf, 0); err == nil {
						if !await(h, "pipe read", func(n int, err error) bool { return err == nil && n > 0 }) {
							return
						}
						if n := h.Res(); n > 0 && !testutil.PipeBytesOK(buf[:n]) {
							fail("pipe read: bytes the writer did not send")
							return
						}
					}
				case 5: // File reads with contexts that end
					ln := 1 + r.IntN(64<<10)
					off := r.IntN(size - ln)
					buf := make([]byte, ln)
					ctx, cancel := testutil.AppCtx(r, 0)
					var n int
					n, err = fileB.ReadAtContext(ctx, buf, int64(off))
					ended := ctx.Err() != nil
					cancel()
					switch {
					case testutil.IsCtxErr(err) && ended:
						err = nil
					case err == nil || errors.Is(err, unix.ECANCELED):
						if !result("File.ReadAtContext", n, err, full(ln)) {
							return
						}
						if err == nil && !bytes.Equal(buf, content[off:off+ln]) {
							fail("File.ReadAtContext at %d: wrong bytes", off)
							return
						}
						err = nil
					}
				case 6: // O_DIRECT read cancelled with Queue.Cancel at once, or waited for
					ln := 4096 * (1 + r.IntN(4))
					off := 4096 * r.IntN((size-ln)/4096)
					buf := appAligned(ln)
					var h *completion.Handle
					if h, err = q.Read(dfds[r.IntN(3)], buf, int64(off)); err == nil {
						cancelled := false
						if r.IntN(2) == 0 {
							cr, cerr := q.Cancel(h)
							if cerr != nil || cr != Canceled && cr != NotCanceled && cr != AllDone {
								fail("Cancel: %d, %v", cr, cerr)
								return
							}
							cancelled = cr == Canceled
						}
						n, werr := testutil.AppAwait(h)
						if cancelled && !errors.Is(werr, unix.ECANCELED) {
							fail("Cancel said Canceled, result %d, %v", n, werr)
							return
						}
						if !cancelled && !result("O_DIRECT read", n, werr, full(ln)) {
							return
						}
						if werr == nil && !bytes.Equal(buf, content[off:off+ln]) {
							fail("O_DIRECT read at %d: wrong bytes", off)
							return
						}
					}
				case 7: // File.Sync, File.Datasync
					if r.IntN(2) == 0 {
						err = fileS.Sync()
					} else {
						err = fileS.Datasync()
					}
					if errors.Is(err, unix.ECANCELED) && closing.Load() {
						err = nil
					}
				}
				if err == ErrBusy {
					runtime.Gosched()
					continue
				}
				if err != nil {
					lastErr[g] = err
					return
				}
			}
		}(g)
	}
	for deadline := time.Now().Add(10 * time.Second); ops.Load() < 300; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests done in 10 s before Close", ops.Load())
		}
	}
	closing.Store(true)
	if err := testutil.CloseWithin(t, q, testutil.AppHang, "Queue under load"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	inflight := q.InFlight()
	close(stopFeed)
	<-feedDone
	testutil.AppWaitGroup(t, &wg, "workers after Close")
	if inflight != 0 {
		t.Errorf("%d requests in flight after Close returned", inflight)
	}
	for g, err := range lastErr {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("worker %d (kind %d) stopped with %v, want ErrClosed", g, g%8, err)
		}
	}
	buf := appAligned(4096)
	for name, call := range map[string]func() (*completion.Handle, error){
		"Read":  func() (*completion.Handle, error) { return q.Read(bfds[0], buf, 0) },
		"Write": func() (*completion.Handle, error) { return q.Write(sfd, buf, 0) },
		"Fsync": func() (*completion.Handle, error) { return q.Fsync(sfd, OSync) },
	} {
		if h, err := call(); h != nil || !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, %v; want nil, ErrClosed", name, h, err)
		}
	}
	if _, err := fileB.ReadAt(buf, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.ReadAt after Close: %v", err)
	}
	if _, err := fileD.ReadAtContext(context.Background(), buf, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.ReadAtContext after Close: %v", err)
	}
	if _, err := fileS.WriteAt(buf, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.WriteAt after Close: %v", err)
	}
	if err := fileS.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("File.Sync after Close: %v", err)
	}
	if err := fileS.Datasync(); !errors.Is(err, ErrClosed) {
		t.Errorf("File.Datasync after Close: %v", err)
	}
	if !testutil.Settle(5*time.Second, func() bool { return runtime.NumGoroutine() <= g0 }) {
		t.Errorf("goroutines %d -> %d after Close\n%s", g0, runtime.NumGoroutine(), testutil.GoroutineDump())
	}
	if fd := testutil.FDCount(); fd != fd0 {
		t.Errorf("descriptors %d -> %d after Close\n%s", fd0, fd, testutil.ListFDs())
	}
	got, err := os.ReadFile(scratchPath)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("scratch file after the rewrites differs from its content (%v)", err)
	}
	t.Logf("%d requests done before Close returned", ops.Load())
}

// TestAppPipesBlockingReads: 24 blocking pipes, a reader goroutine each that keeps
// three reads of 1-512 bytes in flight (the oldest runs on a glibc thread, blocked
// in read(2), the others wait in glibc's queue of the descriptor; with more pipes
// than glibc's 20 threads, the first read of some descriptors waits for a thread
// too, which is where glibc 2.36's cancel bug strands requests) and waits for one
// of them at random with a context that may end (aio_cancel: a queued read ends with
// ECANCELED and the Queue submits the others on the descriptor again, a running one
// goes on). A writer sends each pipe a 16 KiB stream in random bursts, then closes
// it. The bytes of each pipe's successful reads, in submission order, must be its
// stream exactly: nothing lost, repeated or reordered; then end of file, and every
// handle ends.
func TestAppPipesBlockingReads(t *testing.T) { bothModes(t, appPipesBlockingReads) }

func appPipesBlockingReads(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	const pipes, streamLen, window = 24, 16 << 10, 3
	seed := testutil.AppSeed(t)
	q := newQueue(t, pipes*window, mode)
	ps := make([]*testutil.AppPipe, pipes)
	streams := make([][]byte, pipes)
	for i := range ps {
		ps[i] = testutil.NewAppPipe(t, false)
		streams[i] = testutil.AppContent(streamLen, seed+uint64(i)<<40)
	}
	var cancels, canceled atomic.Int64
	var wg sync.WaitGroup
	for i := range ps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(i+1)))
			fail := func(format string, args ...any) {
				t.Errorf("pipe %d: %s", i, fmt.Sprintf(format, args...))
			}
			type read struct {
				h   *completion.Handle
				buf []byte
			}
			var pend []read
			var got []byte
			eof := false
			for !eof || len(pend) > 0 {
				for !eof && len(pend) < window {
					buf := make([]byte, 1+r.IntN(512))
					h, err := q.Read(ps[i].R, buf, 0)
					if err != nil {
						fail("Read: %v", err)
						return
					}
					pend = append(pend, read{h, buf})
				}
				// Wait for one of them, maybe giving up (which cancels it).
				k := r.IntN(len(pend))
				ctx, cancel := testutil.AppCtx(r, 0)
				if _, err := pend[k].h.Wait(ctx); testutil.IsCtxErr(err) {
					cancels.Add(1)
				}
				cancel()
				// Take the reads that ended, in submission order.
				for len(pend) > 0 && pend[0].h.IsDone() {
					n, err := pend[0].h.Result()
					switch {
					case errors.Is(err, unix.ECANCELED):
						canceled.Add(1)
					case err != nil:
						fail("read: %v", err)
						return
					case n == 0:
						eof = true
					case eof:
						fail("%d bytes after end of file", n)
						return
					default:
						got = append(got, pend[0].buf[:n]...)
					}
					pend = pend[1:]
				}
				if len(pend) > 0 && !eof && len(pend) == window {
					// The oldest is still running: wait for it (hang guard) so the
					// window moves.
					if _, err := testutil.AppAwait(pend[0].h); err == testutil.ErrAppHung {
						fail("oldest read of the pipe not done after 10 s (%d bytes so far)", len(got))
						return
					}
				} else if eof {
					for _, p := range pend {
						if n, err := testutil.AppAwait(p.h); err != nil && !errors.Is(err, unix.ECANCELED) || n != 0 {
							fail("read after end of file: %d, %v", n, err)
							return
						}
					}
					pend = nil
				}
			}
			if !bytes.Equal(got, streams[i]) {
				k := 0
				for k < len(got) && k < len(streams[i]) && got[k] == streams[i][k] {
					k++
				}
				fail("received %d bytes, want the %d of the stream; they differ from byte %d", len(got), len(streams[i]), k)
			}
		}(i)
	}
	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 0))
		sent := make([]int, pipes)
		for open := pipes; open > 0; {
			i := r.IntN(pipes)
			if sent[i] == streamLen {
				continue
			}
			k := min(1+r.IntN(700), streamLen-sent[i])
			if n, err := unix.Write(ps[i].W, streams[i][sent[i]:sent[i]+k]); n != k || err != nil {
				t.Errorf("pipe %d: write %d bytes: %d, %v", i, k, n, err)
				return
			}
			if sent[i] += k; sent[i] == streamLen {
				ps[i].CloseW()
				open--
			}
			if r.IntN(3) == 0 {
				time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			}
		}
	}()
	testutil.AppWaitGroup(t, &wg, "pipe readers and writer")
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after every reader ended", n)
	}
	t.Logf("%d waits given up (aio_cancel), %d reads ended ECANCELED", cancels.Load(), canceled.Load())
}

// TestAppGCPressure: collections run back to back (GOGC 5, a goroutine calling
// runtime.GC and another filling fresh garbage with 0xEE) while requests wait and
// run on glibc's threads. Readers keep up to 8 requests each in flight into fresh
// buffers framed by guard bytes (buffered reads at odd offsets, O_DIRECT reads,
// File.ReadAt): each buffer holds exactly the file's bytes of its offset and the
// guards are untouched. Writers fill fresh buffers, submit buffered and O_DIRECT
// writes and drop every reference but the handle: a buffer the GC freed and reused
// before glibc's pwrite would put garbage in the file, which must equal the data in
// the end.
func TestAppGCPressure(t *testing.T) { bothModes(t, appGCPressure) }

func appGCPressure(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	const size, readers, writers, rounds = 4 << 20, 6, 4, 30
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t)
	content := testutil.AppContent(size, seed|1)
	dataPath := testutil.AppDataFile(t, dir, "data", content)
	var bfds, dfds []int
	for i := 0; i < 2; i++ {
		bfds = append(bfds, testutil.AppOpen(t, dataPath, unix.O_RDONLY))
		dfds = append(dfds, testutil.AppOpen(t, dataPath, unix.O_RDONLY|unix.O_DIRECT))
	}
	outPath := filepath.Join(dir, "out")
	var ofds []int // buffered and O_DIRECT
	for _, fl := range []int{0, unix.O_DIRECT} {
		ofds = append(ofds, testutil.AppOpen(t, outPath, unix.O_RDWR|unix.O_CREAT|fl))
	}
	if err := unix.Ftruncate(ofds[0], size); err != nil {
		t.Fatal(err)
	}
	q := newQueue(t, 64, mode)
	fileB := NewFile(q, bfds[1])

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	go func() {
		defer bg.Done()
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			b := make([]byte, 4096<<(len(keep)%5))
			for i := range b {
				b[i] = 0xEE
			}
			if keep = append(keep, b); len(keep) > 32 {
				keep = nil
			}
		}
	}()

	const guard = 64
	guarded := func(n int, aligned bool) (whole, inner []byte) {
		if aligned {
			whole = appAligned(n + 2*4096)
			inner = whole[4096 : 4096+n]
		} else {
			whole = make([]byte, n+2*guard)
			inner = whole[guard : guard+n]
		}
		for i := range whole {
			whole[i] = 0xA5
		}
		return whole, inner
	}
	guardsOK := func(whole, inner []byte) bool {
		start := int(uintptr(unsafe.Pointer(&inner[0])) - uintptr(unsafe.Pointer(&whole[0])))
		for i, x := range whole {
			if (i < start || i >= start+len(inner)) && x != 0xA5 {
				return false
			}
		}
		return true
	}

	var wg sync.WaitGroup
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			type pending struct {
				h            *completion.Handle
				whole, inner []byte
				off          int
			}
			for round := 0; round < rounds; round++ {
				var ps []pending
				for k := 1 + r.IntN(8); k > 0; k-- {
					var p pending
					var err error
					switch r.IntN(3) {
					case 0: // O_DIRECT read
						n := 4096 * (1 + r.IntN(16))
						p.off = 4096 * r.IntN((size-n)/4096)
						p.whole, p.inner = guarded(n, true)
						p.h, err = q.Read(dfds[r.IntN(2)], p.inner, int64(p.off))
					case 1: // buffered read at an odd offset
						n := 1 + r.IntN(20000)
						p.off = r.IntN(size - n)
						p.whole, p.inner = guarded(n, false)
						p.h, err = q.Read(bfds[r.IntN(2)], p.inner, int64(p.off))
					case 2: // File.ReadAt, waited for here
						n := 1 + r.IntN(20000)
						off := r.IntN(size - n)
						whole, inner := guarded(n, false)
						m, err := fileB.ReadAt(inner, int64(off))
						if err != nil || m != n || !bytes.Equal(inner, content[off:off+n]) || !guardsOK(whole, inner) {
							t.Errorf("reader %d: File.ReadAt at %d: %d, %v, or wrong bytes or guards", g, off, m, err)
							return
						}
						continue
					}
					if err == ErrBusy {
						continue
					}
					if err != nil {
						t.Errorf("reader %d: submit: %v", g, err)
						return
					}
					ps = append(ps, p)
				}
				for _, p := range ps {
					n, err := testutil.AppAwait(p.h)
					if err != nil || n != len(p.inner) || !bytes.Equal(p.inner, content[p.off:p.off+n]) || !guardsOK(p.whole, p.inner) {
						t.Errorf("reader %d: read of %d at %d: %d, %v, or wrong bytes or guards", g, len(p.inner), p.off, n, err)
						return
					}
				}
			}
		}(g)
	}
	// Writers: writer g writes the 64 KiB blocks g, g+writers, ... of the file once, in
	// 4-64 KiB pieces, buffered or O_DIRECT, up to 8 in flight, holding only handles.
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(100+g)))
			var hs []*completion.Handle
			var wants []int
			flush := func() bool {
				for i, h := range hs {
					if n, err := testutil.AppAwait(h); err != nil || n != wants[i] {
						t.Errorf("writer %d: write: %d, %v; want %d", g, n, err, wants[i])
						return false
					}
				}
				hs, wants = hs[:0], wants[:0]
				return true
			}
			for blk := g * (64 << 10); blk < size; blk += writers * (64 << 10) {
				for off := blk; off < blk+64<<10; {
					n := min(4096*(1+r.IntN(16)), blk+64<<10-off)
					var h *completion.Handle
					var err error
					for {
						direct := r.IntN(2)
						var buf []byte
						if direct == 1 {
							buf = appAligned(n)
						} else {
							buf = make([]byte, n)
						}
						copy(buf, content[off:off+n])
						h, err = q.Write(ofds[direct], buf, int64(off))
						if err != ErrBusy {
							break // from here only the handle (its pin) keeps buf
						}
						runtime.Gosched()
					}
					if err != nil {
						t.Errorf("writer %d: submit: %v", g, err)
						return
					}
					hs, wants = append(hs, h), append(wants, n)
					off += n
					if len(hs) == 8 && !flush() {
						return
					}
				}
			}
			flush()
		}(g)
	}
	testutil.AppWaitGroup(t, &wg, "readers and writers")
	close(stop)
	bg.Wait()
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += 4096 {
		if !bytes.Equal(got[i:i+4096], content[i:i+4096]) {
			t.Fatalf("written file differs from the data at block %d (offset %d): a buffer freed or reused in flight?", i/4096, i)
		}
	}
}

// appRaw is a raw request of the shared-descriptor scenario: an Aiocb of its own,
// polled with Error and Suspend as a C program would.
type appRaw struct {
	a   *Aiocb
	buf []byte
	off int
}

// await polls a's request until it has finished (10 s hang guard) and returns
// aio_return's answer.
func (x *appRaw) await() (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for x.a.Error() == unix.EINPROGRESS {
		if time.Now().After(deadline) {
			return 0, testutil.ErrAppHung
		}
		if err := Suspend([]*Aiocb{x.a}, 50*time.Millisecond); err != nil && err != unix.EAGAIN {
			return 0, err
		}
	}
	return x.a.Return()
}

// TestAppRawAndQueuesShareDescriptors: three Queues (both notify modes) and the raw
// Aiocb API (aio_read, aio_write, aio_fsync, lio_listio) use the same descriptors
// at once: two opens of a file and a pipe. Nine goroutines read and rewrite the file
// through the Queues, three through raw aiocbs; two Queue readers and one raw reader
// take 8-byte records from the pipe, which a writer fills with 4000 numbered records
// and then closes. Meanwhile aio_cancel of every request of a descriptor
// (AioCancel(fd, nil)) hits one of them every 0-2 ms. Every request ends, with its
// exact result or ECANCELED; each pipe record is received exactly once, and each
// reader gets its records in increasing order; the Queues close; nothing leaks.
// (No request is cancelled alone here: a Queue's cancel may strand a raw request
// behind it, as glibc 2.36 does in C; see docs/posixaio.md.)
func TestAppRawAndQueuesShareDescriptors(t *testing.T) {
	testutil.CheckLeaks(t)
	aiocbs0 := LiveAiocbs()
	const size, records = 1 << 20, 4000
	seed := testutil.AppSeed(t)
	content := testutil.AppContent(size, seed|1)
	dir := t.TempDir()
	path := testutil.AppDataFile(t, dir, "data", content)
	fds := []int{testutil.AppOpen(t, path, unix.O_RDWR), testutil.AppOpen(t, path, unix.O_RDWR)}
	p := testutil.NewAppPipe(t, false)
	qs := []*Queue{newQueue(t, 16, NotifySuspend), newQueue(t, 16, NotifyThread), newQueue(t, 16, NotifySuspend)}
	stop := time.Now().Add(1500 * time.Millisecond)
	var canceledQ, canceledRaw, cancelAlls atomic.Int64

	var wg sync.WaitGroup
	// Queue workers on the file.
	for g := 0; g < 9; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for time.Now().Before(stop) {
				q := qs[r.IntN(len(qs))]
				fd := fds[r.IntN(len(fds))]
				ln := 1 + r.IntN(16<<10)
				off := r.IntN(size - ln)
				var h *completion.Handle
				var err error
				var buf []byte
				kind := r.IntN(5)
				switch kind {
				case 0, 1, 2:
					buf = make([]byte, ln)
					h, err = q.Read(fd, buf, int64(off))
				case 3:
					h, err = q.Write(fd, content[off:off+ln], int64(off))
				case 4:
					h, err = q.Fsync(fd, OSync)
					ln = 0
				}
				if err == ErrBusy {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("queue worker %d: submit: %v", g, err)
					return
				}
				n, err := testutil.AppAwait(h)
				switch {
				case errors.Is(err, unix.ECANCELED):
					canceledQ.Add(1)
				case err != nil || n != ln:
					t.Errorf("queue worker %d: request %d: %d, %v; want %d", g, kind, n, err, ln)
					return
				case buf != nil && !bytes.Equal(buf, content[off:off+ln]):
					t.Errorf("queue worker %d: read at %d: wrong bytes", g, off)
					return
				}
			}
		}(g)
	}
	// Raw workers on the file: single requests and lio_listio lists.
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(50+g)))
			xs := make([]*appRaw, 3)
			for i := range xs {
				xs[i] = &appRaw{a: NewAiocb()}
				defer xs[i].a.Free() // each request has ended by then
			}
			check := func(x *appRaw, write bool, what string) bool {
				n, err := x.await()
				switch {
				case errors.Is(err, unix.ECANCELED):
					canceledRaw.Add(1)
				case err != nil || n != len(x.buf):
					t.Errorf("raw worker %d: %s: %d, %v; want %d", g, what, n, err, len(x.buf))
					return false
				case !write && !bytes.Equal(x.buf, content[x.off:x.off+n]):
					t.Errorf("raw worker %d: %s at %d: wrong bytes", g, what, x.off)
					return false
				}
				return true
			}
			prep := func(x *appRaw, write bool) {
				ln := 1 + r.IntN(16<<10)
				x.off = r.IntN(size - ln)
				if write {
					x.buf = content[x.off : x.off+ln]
				} else {
					x.buf = make([]byte, ln)
				}
				if err := x.a.Prep(fds[r.IntN(len(fds))], x.buf, int64(x.off)); err != nil {
					t.Errorf("raw worker %d: Prep: %v", g, err)
				}
			}
			for time.Now().Before(stop) {
				switch r.IntN(4) {
				case 0, 1: // aio_read or aio_write
					x, write := xs[0], r.IntN(3) == 0
					prep(x, write)
					var err error
					if write {
						err = x.a.Write()
					} else {
						err = x.a.Read()
					}
					if err != nil {
						t.Errorf("raw worker %d: submit: %v", g, err)
						return
					}
					if !check(x, write, "aio_read/aio_write") {
						return
					}
				case 2: // aio_fsync
					x := xs[0]
					if err := x.a.Prep(fds[r.IntN(len(fds))], nil, 0); err != nil {
						t.Errorf("raw worker %d: Prep: %v", g, err)
						return
					}
					x.buf = nil
					if err := x.a.Fsync(OSync); err != nil {
						t.Errorf("raw worker %d: aio_fsync: %v", g, err)
						return
					}
					if !check(x, true, "aio_fsync") {
						return
					}
				case 3: // lio_listio(LIO_NOWAIT) of three reads
					list := make([]*Aiocb, len(xs))
					for i, x := range xs {
						prep(x, false)
						x.a.SetLioOpcode(LioRead)
						list[i] = x.a
					}
					if err := LioListio(LioNowait, list, nil); err != nil {
						t.Errorf("raw worker %d: lio_listio: %v", g, err)
						return
					}
					for _, x := range xs {
						if !check(x, false, "lio_listio read") {
							return
						}
					}
				}
			}
		}(g)
	}
	// Pipe readers: two through the Queues, one raw; 8-byte reads, one at a time.
	var recMu sync.Mutex
	seen := make([]int, records)
	take := func(who string, rec uint64, last *int64) bool {
		recMu.Lock()
		defer recMu.Unlock()
		if rec >= records {
			t.Errorf("%s: record %d, beyond the %d sent", who, rec, records)
			return false
		}
		seen[rec]++
		if int64(rec) <= *last {
			t.Errorf("%s: record %d after %d: out of order", who, rec, *last)
			return false
		}
		*last = int64(rec)
		return true
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			who := fmt.Sprintf("queue pipe reader %d", g)
			last := int64(-1)
			for {
				buf := make([]byte, 8)
				h, err := qs[g].Read(p.R, buf, 0)
				if err == ErrBusy {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("%s: Read: %v", who, err)
					return
				}
				n, err := testutil.AppAwait(h)
				switch {
				case errors.Is(err, unix.ECANCELED):
					canceledQ.Add(1)
					continue
				case err != nil || n != 0 && n != 8:
					t.Errorf("%s: %d, %v", who, n, err)
					return
				case n == 0:
					return // end of file
				}
				if !take(who, binary.LittleEndian.Uint64(buf), &last) {
					return
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		x := &appRaw{a: NewAiocb(), buf: make([]byte, 8)}
		defer x.a.Free()
		last := int64(-1)
		for {
			if err := x.a.Prep(p.R, x.buf, 0); err != nil {
				t.Errorf("raw pipe reader: Prep: %v", err)
				return
			}
			if err := x.a.Read(); err != nil {
				t.Errorf("raw pipe reader: aio_read: %v", err)
				return
			}
			n, err := x.await()
			switch {
			case errors.Is(err, unix.ECANCELED):
				canceledRaw.Add(1)
				continue
			case err != nil || n != 0 && n != 8:
				t.Errorf("raw pipe reader: %d, %v", n, err)
				return
			case n == 0:
				return
			}
			if !take("raw pipe reader", binary.LittleEndian.Uint64(x.buf), &last) {
				return
			}
		}
	}()
	// The pipe's writer: numbered records in bursts, then end of file.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.CloseW()
		r := rand.New(rand.NewPCG(seed, 99))
		for sent := 0; sent < records; {
			k := min(1+r.IntN(8), records-sent)
			b := make([]byte, 8*k) // at most 64 bytes: one atomic pipe write
			for j := 0; j < k; j++ {
				binary.LittleEndian.PutUint64(b[8*j:], uint64(sent+j))
			}
			if n, err := unix.Write(p.W, b); n != len(b) || err != nil {
				t.Errorf("pipe write: %d, %v", n, err)
				return
			}
			sent += k
			time.Sleep(time.Duration(r.IntN(400)) * time.Microsecond)
		}
	}()
	// aio_cancel(fd, NULL) of a random shared descriptor now and then.
	cancelStop := make(chan struct{})
	cancelDone := make(chan struct{})
	go func() {
		defer close(cancelDone)
		r := rand.New(rand.NewPCG(seed, 77))
		all := []int{fds[0], fds[1], p.R}
		for {
			select {
			case <-cancelStop:
				return
			case <-time.After(time.Duration(r.IntN(2000)) * time.Microsecond):
			}
			cr, err := AioCancel(all[r.IntN(len(all))], nil)
			if err != nil || cr != Canceled && cr != NotCanceled && cr != AllDone {
				t.Errorf("AioCancel(fd, nil): %d, %v", cr, err)
				return
			}
			cancelAlls.Add(1)
		}
	}()
	testutil.AppWaitGroup(t, &wg, "workers sharing the descriptors")
	close(cancelStop)
	<-cancelDone
	for i, q := range qs {
		if err := testutil.CloseWithin(t, q, testutil.AppHang, fmt.Sprintf("Queue %d", i)); err != nil {
			t.Errorf("Close of Queue %d: %v", i, err)
		}
		if n := q.InFlight(); n != 0 {
			t.Errorf("Queue %d: %d requests in flight after Close", i, n)
		}
	}
	for rec, k := range seen {
		if k != 1 {
			t.Errorf("pipe record %d received %d times, want once", rec, k)
			break
		}
	}
	if !testutil.Settle(5*time.Second, func() bool { return LiveAiocbs() == aiocbs0 }) {
		t.Errorf("live aiocbs %d -> %d", aiocbs0, LiveAiocbs())
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("file after the rewrites differs from its content (%v)", err)
	}
	t.Logf("%d cancel-alls; ECANCELED: %d Queue requests, %d raw requests", cancelAlls.Load(), canceledQ.Load(), canceledRaw.Load())
}

// TestAppRawCancelKeepsQueueRequests: a program cancels one of its own raw requests
// (aio_cancel(fd, aiocb)) on a descriptor that a Queue uses too. When the raw request
// is the descriptor's first and no glibc thread has taken it yet, glibc 2.36 marks
// the next request runnable without putting it on its run list (see pa_cancel in
// notify.c): that one may be the Queue's, whose handle then never completed. Each
// trial: a raw read, a Queue read of the same descriptor behind it, the raw read
// cancelled at once. The Queue read must complete with the data, the raw one with
// its data or, if Cancel said so, ECANCELED.
func TestAppRawCancelKeepsQueueRequests(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		testutil.CheckLeaks(t)
		content := testutil.AppContent(64<<10, 5)
		fd, _ := tempFile(t, content)
		q := newQueue(t, 8, m)
		x := &appRaw{a: NewAiocb(), buf: make([]byte, 4096)}
		defer x.a.Free()
		buf := make([]byte, 4096)
		canceled := 0
		for trial := 0; trial < 300; trial++ {
			x.off = 4096 * (trial % 16)
			if err := x.a.Prep(fd, x.buf, int64(x.off)); err != nil {
				t.Fatal(err)
			}
			if err := x.a.Read(); err != nil {
				t.Fatal(err)
			}
			h, err := q.Read(fd, buf, int64(x.off))
			if err != nil {
				t.Fatal(err)
			}
			cr, err := x.a.Cancel()
			if err != nil || cr != Canceled && cr != NotCanceled && cr != AllDone {
				t.Fatalf("trial %d: raw Cancel: %d, %v", trial, cr, err)
			}
			n, err := testutil.AppAwait(h)
			if err == testutil.ErrAppHung {
				AioCancel(fd, nil) // frees the stranded request for the cleanup
				t.Fatalf("trial %d: raw Cancel = %d (Canceled %d) stranded the Queue's read behind it", trial, cr, Canceled)
			}
			if err != nil || n != len(buf) || !bytes.Equal(buf, content[x.off:x.off+n]) {
				t.Fatalf("trial %d: Queue read: %d, %v, or wrong bytes", trial, n, err)
			}
			rn, rerr := x.await()
			switch {
			case cr == Canceled:
				canceled++
				if !errors.Is(rerr, unix.ECANCELED) {
					t.Fatalf("trial %d: raw read Cancel said Canceled: %d, %v", trial, rn, rerr)
				}
			case rerr != nil || rn != len(x.buf) || !bytes.Equal(x.buf, content[x.off:x.off+rn]):
				t.Fatalf("trial %d: raw read: %d, %v, or wrong bytes", trial, rn, rerr)
			}
		}
		t.Logf("%d of 300 raw reads cancelled", canceled)
	})
}
