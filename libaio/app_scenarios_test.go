package libaio

// Application-style scenarios of the handle layer (Queue, File and the handles they
// return), the way a systems program uses it, on real files and pipes: a parallel
// file copy with contexts that time out (O_DIRECT and buffered), Close while dozens
// of goroutines keep submitting, an event loop of polls and non-blocking reads on
// pipes with cancels, and buffers in flight under constant garbage collection. Each
// asserts its results exactly; the time bounds are hang guards only.

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

// appCopy copies a file chunk by chunk through one Queue from many goroutines.
type appCopy struct {
	t        *testing.T
	q        *Queue
	src, dst *File
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
		if w.c.direct && w.r.IntN(2) == 0 {
			w.gbuf = alignedGo(w.c.chunk)
		} else {
			// Misaligned for O_DIRECT: File bounces it through aligned C memory.
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

// rw reads or writes all of buf at off, through File or a handle, with the context of
// this attempt. It returns false, nil when the context ended first (retry), and an
// error for any result but the exact count.
func (w *appCopier) rw(useFile, write bool, buf []byte, off int64, attempt int) (bool, error) {
	c := w.c
	ctx, cancel := testutil.AppCtx(w.r, attempt)
	defer cancel()
	if useFile {
		var n int
		var err error
		if write {
			n, err = c.dst.WriteAtContext(ctx, buf, off)
		} else {
			n, err = c.src.ReadAtContext(ctx, buf, off)
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
		fd := c.src.Fd()
		if write {
			fd = c.dst.Fd()
		}
		vec := w.r.IntN(2) == 0
		switch {
		case write && vec:
			h, err = c.q.Writev(fd, [][]byte{buf[:len(buf)/2], buf[len(buf)/2:]}, off)
		case write:
			h, err = c.q.Write(fd, buf, off)
		case vec:
			h, err = c.q.Readv(fd, [][]byte{buf[:len(buf)/2], buf[len(buf)/2:]}, off)
		default:
			h, err = c.q.Read(fd, buf, off)
		}
		if err != ErrBusy || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Microsecond) // Depth requests in flight
	}
	if err != nil {
		return false, fmt.Errorf("submit: %w", err)
	}
	n, err := h.Wait(ctx)
	if testutil.IsCtxErr(err) {
		// Cancelled (io_cancel cannot stop a read or write): the handle must still
		// complete, and only then may its buffer be used again.
		c.timeouts.Add(1)
		n, err = testutil.AppAwait(h)
		switch {
		case errors.Is(err, unix.ECANCELED): // dropped before io_submit took it
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

// appParallelCopy copies a 32 MiB file through File and handles from 16 goroutines
// taking 128 KiB chunks in random order, with contexts that end at random (timed-out
// chunks are retried), and wants the copy to equal the source byte for byte.
func appParallelCopy(t *testing.T, direct bool) {
	testutil.CheckLeaks(t)
	const size, chunk, workers = 32 << 20, 128 << 10, 16
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t)
	content := testutil.AppContent(size, seed|1)
	srcPath := testutil.AppDataFile(t, dir, "src", content)
	dstPath := filepath.Join(dir, "dst")
	flags := 0
	if direct {
		flags = unix.O_DIRECT
	}
	sfd := testutil.AppOpen(t, srcPath, unix.O_RDONLY|flags)
	dfd := testutil.AppOpen(t, dstPath, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|flags)
	if err := unix.Ftruncate(dfd, size); err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(8) // fewer slots than workers: File calls wait for one
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewFile(q, sfd)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := NewFile(q, dfd)
	if err != nil {
		t.Fatal(err)
	}
	c := &appCopy{t: t, q: q, src: src, dst: dst, content: content, chunk: chunk, direct: direct}

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
	if err := dst.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	// Close waits for the requests that timed out and are still in flight.
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

// TestAppParallelCopyDirect: a 32 MiB O_DIRECT copy (page cache dropped, so reads are
// really asynchronous) from 16 goroutines through File (aligned and bounced Go
// buffers) and raw handles (Read/Readv/Write/Writev into aligned C memory), with
// contexts that end at random; the copy equals the source.
func TestAppParallelCopyDirect(t *testing.T) { appParallelCopy(t, true) }

// TestAppParallelCopyBuffered: the same copy without O_DIRECT (reads inline from the
// page cache or inside io_submit, writes inside io_submit).
func TestAppParallelCopyBuffered(t *testing.T) { appParallelCopy(t, false) }

// TestAppCloseUnderLoad: Queue.Close while 56 goroutines keep submitting O_DIRECT
// reads (Read, Readv, File.ReadAt, some bounced), buffered writes, fsyncs, polls of a
// pipe that never gets data and of one that does, and File reads with contexts that
// end. Close returns; every handle made ends with its exact result (a poll Close
// cancelled: 0); every worker then gets ErrClosed; nothing is in flight; every
// request method gives ErrClosed afterwards; goroutines, descriptors, pins and C
// memory are back to what they were.
func TestAppCloseUnderLoad(t *testing.T) {
	testutil.CheckLeaks(t)
	const size, workers = 4 << 20, 56
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t)
	content := testutil.AppContent(size, seed|1)
	dataPath := testutil.AppDataFile(t, dir, "data", content)
	dfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY|unix.O_DIRECT)
	bfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY)
	scratchPath := testutil.AppDataFile(t, dir, "scratch", content)
	sfd := testutil.AppOpen(t, scratchPath, unix.O_RDWR)
	silent := testutil.NewAppPipe(t, false) // never written to: polls of it wait for Close
	fed := testutil.NewAppPipe(t, true)
	g0, fd0 := runtime.NumGoroutine(), testutil.FDCount()

	q, err := NewQueue(24)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fileD, err := NewFile(q, dfd)
	if err != nil {
		t.Fatal(err)
	}
	fileB, err := NewFile(q, bfd)
	if err != nil {
		t.Fatal(err)
	}
	fileS, err := NewFile(q, sfd)
	if err != nil {
		t.Fatal(err)
	}

	stopFeed := make(chan struct{})
	feedDone := make(chan struct{})
	go func() { // keeps the fed pipe readable now and then
		defer close(feedDone)
		for {
			select {
			case <-stopFeed:
				return
			case <-time.After(200 * time.Microsecond):
			}
			unix.Write(fed.W, []byte("PPPP"))
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
			// await checks that a submitted request ends, with a result check.
			await := func(h *completion.Handle, what string, ok func(n int, err error) bool) bool {
				n, err := testutil.AppAwait(h)
				if !ok(n, err) {
					fail("%s: %d, %v (closing %v)", what, n, err, closing.Load())
					return false
				}
				ops.Add(1)
				return true
			}
			full := func(want int) func(int, error) bool {
				return func(n int, err error) bool { return err == nil && n == want }
			}
			for {
				var err error
				switch g % 8 {
				case 0, 2: // O_DIRECT Read or Readv of 8-64 KiB, ErrBusy when full
					ln := 4096 * (2 + r.IntN(15))
					off := 4096 * r.IntN((size-ln)/4096)
					buf := alignedGo(ln)
					var h *completion.Handle
					if g%8 == 0 {
						h, err = q.Read(dfd, buf, int64(off))
					} else {
						h, err = q.Readv(dfd, [][]byte{buf[:4096], buf[4096:]}, int64(off))
					}
					if err == nil {
						if !await(h, "O_DIRECT read", full(ln)) {
							return
						}
						if !bytes.Equal(buf, content[off:off+ln]) {
							fail("O_DIRECT read at %d: wrong bytes", off)
							return
						}
					}
				case 1: // File.ReadAt on O_DIRECT, aligned or bounced; waits for a slot
					ln := 4096 * (1 + r.IntN(8))
					off := 4096 * r.IntN((size-ln)/4096)
					buf := make([]byte, ln+1)[1:]
					if r.IntN(2) == 0 {
						buf = alignedGo(ln)
					}
					var n int
					if n, err = fileD.ReadAt(buf, int64(off)); err == nil {
						if n != ln || !bytes.Equal(buf, content[off:off+ln]) {
							fail("File.ReadAt O_DIRECT at %d: %d bytes, or wrong bytes", off, n)
							return
						}
						ops.Add(1)
					}
				case 3: // buffered write of the bytes already there
					ln := 1 + r.IntN(32<<10)
					off := r.IntN(size - ln)
					var h *completion.Handle
					if h, err = q.Write(sfd, content[off:off+ln], int64(off)); err == nil && !await(h, "write", full(ln)) {
						return
					}
				case 4: // poll of a pipe nobody writes to: ends when Close cancels it
					var h *completion.Handle
					if h, err = q.Poll(silent.R, unix.POLLIN); err == nil {
						if !await(h, "silent poll", func(n int, err error) bool { return err == nil && n == 0 && closing.Load() }) {
							return
						}
					}
				case 5: // poll of a pipe that gets data, then a non-blocking read
					var h *completion.Handle
					if h, err = q.Poll(fed.R, unix.POLLIN); err == nil {
						if !await(h, "poll", func(n int, err error) bool {
							return err == nil && (n&unix.POLLIN != 0 || n == 0 && closing.Load())
						}) {
							return
						}
						buf := make([]byte, 64)
						if h, err = q.Read(fed.R, buf, 0); err == nil {
							n, rerr := testutil.AppAwait(h)
							if rerr != unix.EAGAIN && (rerr != nil || n == 0 || !testutil.PipeBytesOK(buf[:n])) {
								fail("pipe read: %d, %v", n, rerr)
								return
							}
						}
					}
				case 6: // File reads of the page cache or the disk, contexts that end
					ln := 1 + r.IntN(64<<10)
					off := r.IntN(size - ln)
					buf := make([]byte, ln)
					ctx, cancel := testutil.AppCtx(r, 0)
					var n int
					n, err = fileB.ReadAtContext(ctx, buf, int64(off))
					ended := ctx.Err() != nil
					cancel()
					switch {
					case err == nil && (n != ln || !bytes.Equal(buf, content[off:off+ln])):
						fail("File.ReadAtContext at %d: %d bytes, or wrong bytes", off, n)
						return
					case testutil.IsCtxErr(err) && ended:
						err = nil
					}
				case 7: // fsync, fdatasync
					if r.IntN(2) == 0 {
						var h *completion.Handle
						if h, err = q.Fdsync(sfd); err == nil && !await(h, "fdsync", full(0)) {
							return
						}
					} else {
						err = fileS.Sync()
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
	testutil.AppWaitGroup(t, &wg, "workers after Close")
	close(stopFeed)
	<-feedDone
	if inflight != 0 {
		t.Errorf("%d requests in flight after Close returned", inflight)
	}
	for g, err := range lastErr {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("worker %d (kind %d) stopped with %v, want ErrClosed", g, g%8, err)
		}
	}
	// Every request method after Close: ErrClosed and no handle.
	buf := alignedGo(4096)
	for name, call := range map[string]func() (*completion.Handle, error){
		"Read":    func() (*completion.Handle, error) { return q.Read(bfd, buf, 0) },
		"Write":   func() (*completion.Handle, error) { return q.Write(sfd, buf, 0) },
		"Readv":   func() (*completion.Handle, error) { return q.Readv(dfd, [][]byte{buf}, 0) },
		"Writev":  func() (*completion.Handle, error) { return q.Writev(sfd, [][]byte{buf}, 0) },
		"Readv2":  func() (*completion.Handle, error) { return q.Readv2(bfd, [][]byte{buf}, 0, RWFNowait) },
		"Writev2": func() (*completion.Handle, error) { return q.Writev2(sfd, [][]byte{buf}, 0, 0) },
		"Fsync":   func() (*completion.Handle, error) { return q.Fsync(sfd) },
		"Fdsync":  func() (*completion.Handle, error) { return q.Fdsync(sfd) },
		"Poll":    func() (*completion.Handle, error) { return q.Poll(fed.R, unix.POLLIN) },
	} {
		if h, err := call(); h != nil || !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, %v; want nil, ErrClosed", name, h, err)
		}
	}
	if _, err := fileB.ReadAt(buf, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.ReadAt (cached) after Close: %v", err)
	}
	if _, err := fileD.ReadAtContext(context.Background(), buf, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.ReadAtContext (O_DIRECT) after Close: %v", err)
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

// TestAppPipesEventLoop: an event loop over 8 pipes, one reader goroutine each, as a
// server reads clients without a thread per client: Poll(POLLIN), then a read that
// cannot block, a plain Read where the read end is O_NONBLOCK and Readv2(RWF_NOWAIT)
// where it is not (a plain Read of a blocking pipe would block inside io_submit).
// Waits use contexts that end at random: a cancelled poll ends (0, the mask if it was
// ready first, or ECANCELED if it had not reached io_submit yet), and a read whose wait was given up still delivers its bytes,
// which the reader then takes. A writer sends numbered 8-byte records to the pipes in
// random bursts and closes each after 1500. Every reader must get its pipe's
// records exactly once, in order, then end of file; every handle ends.
func TestAppPipesEventLoop(t *testing.T) {
	testutil.CheckLeaks(t)
	const pipes, records = 8, 1500
	seed := testutil.AppSeed(t)
	q := testQueue(t, 32)
	ps := make([]*testutil.AppPipe, pipes)
	for i := range ps {
		ps[i] = testutil.NewAppPipe(t, i%2 == 0)
	}
	var cancels, lateReads atomic.Int64
	var wg sync.WaitGroup
	for i := range ps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := ps[i]
			r := rand.New(rand.NewPCG(seed, uint64(i+1)))
			fail := func(format string, args ...any) {
				t.Errorf("pipe %d: %s", i, fmt.Sprintf(format, args...))
			}
			// wait waits for h with a context that may end; it returns the result,
			// which the handle gives in the end either way.
			wait := func(h *completion.Handle) (int, error, bool) {
				ctx, cancel := testutil.AppCtx(r, 0)
				n, err := h.Wait(ctx)
				cancel()
				if !testutil.IsCtxErr(err) {
					return n, err, false
				}
				cancels.Add(1)
				n, err = testutil.AppAwait(h)
				return n, err, true
			}
			next := uint64(0)
			for {
				h, err := q.Poll(p.R, unix.POLLIN)
				if err != nil {
					fail("Poll: %v", err)
					return
				}
				mask, err, cancelled := wait(h)
				if cancelled && errors.Is(err, unix.ECANCELED) {
					err = nil // still queued for io_submit when cancelled: never submitted
				}
				if err != nil || mask == 0 && !cancelled || mask&^(unix.POLLIN|pollRdnorm|unix.POLLHUP) != 0 {
					fail("poll: %#x, %v (cancelled %v)", mask, err, cancelled)
					return
				}
				buf := make([]byte, 8*(1+r.IntN(32)))
				if i%2 == 0 {
					h, err = q.Read(p.R, buf, 0)
				} else {
					h, err = q.Readv2(p.R, [][]byte{buf}, 0, RWFNowait)
				}
				if err != nil {
					fail("read: %v", err)
					return
				}
				n, err, cancelled := wait(h)
				switch {
				case errors.Is(err, unix.EAGAIN):
					continue // empty: a cancelled poll, or Readv2 ahead of the data
				case errors.Is(err, unix.ECANCELED) && cancelled:
					continue // never submitted: it took nothing
				case err != nil:
					fail("read: %v", err)
					return
				case n == 0:
					if next != records {
						fail("end of file after %d records, want %d", next, records)
					}
					return
				case n%8 != 0:
					fail("read %d bytes, not whole 8-byte records", n)
					return
				}
				if cancelled {
					lateReads.Add(1)
				}
				for k := 0; k < n; k += 8 {
					rec := binary.LittleEndian.Uint64(buf[k:])
					if rec != uint64(i)<<32|next {
						fail("record %#x, want %#x (lost, repeated or reordered data)", rec, uint64(i)<<32|next)
						return
					}
					next++
				}
			}
		}(i)
	}
	wg.Add(1)
	go func() { // the writer: bursts of 1-16 records to random pipes
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 0))
		sent := make([]uint64, pipes)
		open := pipes
		for open > 0 {
			i := r.IntN(pipes)
			if sent[i] == records {
				continue
			}
			k := min(uint64(1+r.IntN(16)), records-sent[i])
			b := make([]byte, 8*k) // at most 128 bytes: one atomic pipe write
			for j := uint64(0); j < k; j++ {
				binary.LittleEndian.PutUint64(b[8*j:], uint64(i)<<32|(sent[i]+j))
			}
			if n, err := unix.Write(ps[i].W, b); n != len(b) || err != nil {
				t.Errorf("pipe %d: write %d bytes: %d, %v", i, len(b), n, err)
				return
			}
			if sent[i] += k; sent[i] == records {
				ps[i].CloseW()
				open--
			}
			if r.IntN(4) == 0 {
				time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
			}
		}
	}()
	testutil.AppWaitGroup(t, &wg, "pipe readers and writer")
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after every reader ended", n)
	}
	t.Logf("%d waits given up (cancelled), %d reads whose wait was given up delivered data", cancels.Load(), lateReads.Load())
}

// TestAppGCPressure: collections run back to back (GOGC 5, a goroutine calling
// runtime.GC and another filling fresh garbage with 0xEE) while reads and writes
// are in flight. Readers keep up to 8 requests each in flight into fresh buffers
// (O_DIRECT Read, buffered Read at odd offsets, Readv scattering into 1-64 buffers,
// File.ReadAt bounced) framed by guard bytes: each buffer holds exactly the file's
// bytes of its offset and the guards are untouched. Writers fill fresh aligned buffers, submit
// O_DIRECT Write/Writev and drop every reference but the handle: a buffer the GC
// freed and reused before the kernel read it would put garbage in the file, which
// must equal the data in the end.
func TestAppGCPressure(t *testing.T) {
	testutil.CheckLeaks(t)
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	const size, readers, writers, rounds = 8 << 20, 6, 4, 40
	seed := testutil.AppSeed(t)
	dir := testutil.TempDir(t)
	content := testutil.AppContent(size, seed|1)
	dataPath := testutil.AppDataFile(t, dir, "data", content)
	dfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY|unix.O_DIRECT)
	bfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY)
	outPath := filepath.Join(dir, "out")
	ofd := testutil.AppOpen(t, outPath, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT)
	if err := unix.Ftruncate(ofd, size); err != nil {
		t.Fatal(err)
	}
	q := testQueue(t, 64)
	fileD, err := NewFile(q, dfd)
	if err != nil {
		t.Fatal(err)
	}

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
	type piece struct{ whole, inner []byte } // guard | inner | guard
	type pending struct {
		h      *completion.Handle
		pieces []piece // what the request reads into, one after the other from off
		off    int
	}
	guarded := func(n int, aligned bool) piece {
		var p piece
		if aligned {
			p.whole = alignedGo(n + 2*4096)
			p.inner = p.whole[4096 : 4096+n]
		} else {
			p.whole = make([]byte, n+2*guard)
			p.inner = p.whole[guard : guard+n]
		}
		for i := range p.whole {
			p.whole[i] = 0xA5
		}
		return p
	}
	// check reports whether the pieces hold the file's bytes from off on and their
	// guards are untouched.
	check := func(ps []piece, off int) bool {
		for _, p := range ps {
			start := int(uintptr(unsafe.Pointer(&p.inner[0])) - uintptr(unsafe.Pointer(&p.whole[0])))
			for i, x := range p.whole {
				if (i < start || i >= start+len(p.inner)) && x != 0xA5 {
					return false
				}
			}
			if !bytes.Equal(p.inner, content[off:off+len(p.inner)]) {
				return false
			}
			off += len(p.inner)
		}
		return true
	}
	bufsOf := func(ps []piece) [][]byte {
		bufs := make([][]byte, len(ps))
		for i, p := range ps {
			bufs[i] = p.inner
		}
		return bufs
	}

	var wg sync.WaitGroup
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for round := 0; round < rounds; round++ {
				var ps []pending
				for k := 1 + r.IntN(8); k > 0; k-- {
					var p pending
					var err error
					switch r.IntN(4) {
					case 0: // O_DIRECT read
						n := 4096 * (1 + r.IntN(16))
						p.off = 4096 * r.IntN((size-n)/4096)
						p.pieces = []piece{guarded(n, true)}
						p.h, err = q.Read(dfd, p.pieces[0].inner, int64(p.off))
					case 1: // buffered read at an odd offset
						n := 1 + r.IntN(20000)
						p.off = r.IntN(size - n)
						p.pieces = []piece{guarded(n, false)}
						p.h, err = q.Read(bfd, p.pieces[0].inner, int64(p.off))
					case 2: // Readv scattering into 1-64 buffers of their own
						n := 0
						for k := 1 + r.IntN(64); k > 0; k-- {
							p.pieces = append(p.pieces, guarded(1+r.IntN(700), false))
							n += len(p.pieces[len(p.pieces)-1].inner)
						}
						p.off = r.IntN(size - n)
						p.h, err = q.Readv(bfd, bufsOf(p.pieces), int64(p.off))
					case 3: // File.ReadAt, O_DIRECT, misaligned: bounced
						n := 4096 * (1 + r.IntN(4))
						off := 4096 * r.IntN((size-n)/4096)
						pc := guarded(n, false)
						m, err := fileD.ReadAt(pc.inner, int64(off))
						if err != nil || m != n || !check([]piece{pc}, off) {
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
					want := 0
					for _, pc := range p.pieces {
						want += len(pc.inner)
					}
					n, err := testutil.AppAwait(p.h)
					if err != nil || n != want || !check(p.pieces, p.off) {
						t.Errorf("reader %d: read of %d at %d into %d buffers: %d, %v, or wrong bytes or guards", g, want, p.off, len(p.pieces), n, err)
						return
					}
				}
			}
		}(g)
	}
	// Writers: writer g writes the 64 KiB blocks g, g+writers, ... of the file once,
	// in pieces of 4-64 KiB, up to 8 in flight, holding only their handles.
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
						buf := alignedGo(n)
						copy(buf, content[off:off+n])
						if n < 8192 || r.IntN(2) == 0 {
							h, err = q.Write(ofd, buf, int64(off))
						} else { // split on a 4 KiB boundary: each iovec aligned for O_DIRECT
							cut := 4096 * (n / 8192)
							h, err = q.Writev(ofd, [][]byte{buf[:cut], buf[cut:]}, int64(off))
						}
						buf = nil // only the handle (its pins) keeps the buffer now
						if err != ErrBusy {
							break
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
