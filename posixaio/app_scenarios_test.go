package posixaio

// Application-style scenarios of the handle layer (Queue, File and the handles they
// return), in both notify modes, the way a systems program uses it, on real files and
// pipes: a parallel file copy with contexts that time out (O_DIRECT and buffered),
// Close while dozens of goroutines keep submitting, blocking pipe reads on glibc's
// threads with cancels, buffers in flight under constant garbage collection, and
// several Queues and the raw Aiocb API sharing descriptors while every request of a
// descriptor is cancelled now and then. Each asserts its results exactly; the time
// bounds are hang guards only. What these scenarios share with libaio's (the copy,
// the Close-under-load frame, the GC pressure's readers and writers, the pipe
// writer) is internal/testutil's (app.go); this file gives it what posixaio does
// differently: the calls, its several descriptors per file and its error
// expectations (ECANCELED once Close began).

import (
	"bytes"
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

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// appAligned returns n bytes of Go memory at a multiple of 4096, for O_DIRECT
// (posixaio's File does not bounce buffers).
func appAligned(n int) []byte { return testutil.AlignedBuf(n) }

// appParallelCopy copies a 32 MiB file through Files and handles from 16 goroutines
// taking 128 KiB chunks in random order, with contexts that end at random (timed-out
// chunks are retried), and wants the copy to equal the source byte for byte
// (testutil.AppCopy). glibc runs one descriptor's requests one at a time, so the
// source and the copy are opened four times each, as a program wanting parallel
// I/O would.
func appParallelCopy(t *testing.T, mode NotifyMode, direct bool) {
	const size, chunk, workers, fds = 32 << 20, 128 << 10, 16, 4
	c := testutil.NewAppCopy(t, size, chunk, direct)
	q, err := NewQueueOptions(8, QueueOptions{Notify: mode}) // fewer slots than workers
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var dst []*File
	for i := 0; i < fds; i++ {
		c.Src = append(c.Src, NewFile(q, testutil.AppOpen(t, c.SrcPath, unix.O_RDONLY|c.Flags)))
		dfd := testutil.AppOpen(t, c.DstPath, unix.O_RDWR|unix.O_CREAT|c.Flags)
		if i == 0 {
			if err := unix.Ftruncate(dfd, size); err != nil {
				t.Fatal(err)
			}
		}
		dst = append(dst, NewFile(q, dfd))
		c.Dst = append(c.Dst, dst[i])
	}
	c.GoBuf = func(*rand.Rand) []byte {
		if direct {
			return appAligned(chunk)
		}
		return make([]byte, chunk+1)[1:]
	}
	// aio_cancel: a queued request ends with ECANCELED, a running one with its
	// count.
	c.Submit = func(_ *rand.Rand, write bool, fd int, buf []byte, off int64) (*completion.Handle, error) {
		if write {
			return q.Write(fd, buf, off)
		}
		return q.Read(fd, buf, off)
	}
	c.Run(t, workers)
	for _, f := range dst {
		if err := f.Datasync(); err != nil {
			t.Errorf("Datasync: %v", err)
		}
	}
	c.Finish(t, q)
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
	const size, workers = 4 << 20, 56
	l := testutil.NewAppLoad(t, size)
	l.CanceledOnClose = true // Close cancels what glibc still has queued
	content, sfd := l.Content, l.Sfd
	var bfds, dfds []int
	for i := 0; i < 3; i++ {
		bfds = append(bfds, testutil.AppOpen(t, l.DataPath, unix.O_RDONLY))
		dfds = append(dfds, testutil.AppOpen(t, l.DataPath, unix.O_RDONLY|unix.O_DIRECT))
	}
	p := testutil.NewAppPipe(t, false)
	l.Mark()

	q, err := NewQueueOptions(16, QueueOptions{Notify: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fileD, fileB, fileS := NewFile(q, dfds[0]), NewFile(q, bfds[0]), NewFile(q, sfd)
	stopFeed := testutil.AppFeed(p.W) // the pipe's writer, until Close returned: Close waits for a running read

	full := testutil.AppFull
	l.Go(workers, func(w *testutil.AppWorker) error {
		r := w.R
		var err error
		switch w.G % 8 {
		case 0: // buffered read at any offset, ErrBusy when full
			ln := 1 + r.IntN(32<<10)
			off := r.IntN(size - ln)
			buf := make([]byte, ln)
			var h *completion.Handle
			if h, err = q.Read(bfds[r.IntN(3)], buf, int64(off)); err == nil && !w.AwaitRead(h, "read", buf, off) {
				return testutil.ErrAppStop
			}
		case 1: // File.ReadAt on O_DIRECT; waits for a slot
			ln := 4096 * (1 + r.IntN(8))
			off := 4096 * r.IntN((size-ln)/4096)
			buf := appAligned(ln)
			var n int
			n, err = fileD.ReadAt(buf, int64(off))
			if err == nil || errors.Is(err, unix.ECANCELED) {
				if !w.Read("File.ReadAt", buf, off, n, err) {
					return testutil.ErrAppStop
				}
				err = nil
			}
		case 2: // write of the bytes already there
			ln := 1 + r.IntN(32<<10)
			off := r.IntN(size - ln)
			var h *completion.Handle
			if h, err = q.Write(sfd, content[off:off+ln], int64(off)); err == nil && !w.Await(h, "write", full(ln)) {
				return testutil.ErrAppStop
			}
		case 3: // fsync, fdatasync
			op := OSync
			if r.IntN(2) == 0 {
				op = ODsync
			}
			var h *completion.Handle
			if h, err = q.Fsync(sfd, op); err == nil && !w.Await(h, "fsync", full(0)) {
				return testutil.ErrAppStop
			}
		case 4: // read of the pipe: a glibc thread blocks until the writer sends
			buf := make([]byte, 64)
			var h *completion.Handle
			if h, err = q.Read(p.R, buf, 0); err == nil {
				if !w.Await(h, "pipe read", func(n int, err error) bool { return err == nil && n > 0 }) {
					return testutil.ErrAppStop
				}
				if n := h.Res(); n > 0 && !testutil.PipeBytesOK(buf[:n]) {
					w.Fail("pipe read: bytes the writer did not send")
					return testutil.ErrAppStop
				}
			}
		case 5: // File reads with contexts that end
			off, buf, ended, n, ferr := w.CtxRead(fileB)
			err = ferr
			switch {
			case testutil.IsCtxErr(err) && ended:
				err = nil
			case err == nil || errors.Is(err, unix.ECANCELED):
				if !w.Read("File.ReadAtContext", buf, off, n, err) {
					return testutil.ErrAppStop
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
						w.Fail("Cancel: %d, %v", cr, cerr)
						return testutil.ErrAppStop
					}
					cancelled = cr == Canceled
				}
				n, werr := testutil.AppAwait(h)
				if cancelled && !errors.Is(werr, unix.ECANCELED) {
					w.Fail("Cancel said Canceled, result %d, %v", n, werr)
					return testutil.ErrAppStop
				}
				// (Cancelled, it ended with ECANCELED: no bytes to check.)
				if !cancelled && !w.Read("O_DIRECT read", buf, off, n, werr) {
					return testutil.ErrAppStop
				}
			}
		case 7: // File.Sync, File.Datasync
			if r.IntN(2) == 0 {
				err = fileS.Sync()
			} else {
				err = fileS.Datasync()
			}
			if errors.Is(err, unix.ECANCELED) && l.Closing.Load() {
				err = nil
			}
		}
		return err
	})
	inflight := l.Close(q)
	stopFeed()
	l.Wait()
	buf := appAligned(4096)
	l.Check(inflight, map[string]func() (*completion.Handle, error){
		"Read":  func() (*completion.Handle, error) { return q.Read(bfds[0], buf, 0) },
		"Write": func() (*completion.Handle, error) { return q.Write(sfd, buf, 0) },
		"Fsync": func() (*completion.Handle, error) { return q.Fsync(sfd, OSync) },
	}, fileB, fileD, fileS, buf)
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
	// The writer: bursts of 1-700 bytes to random pipes.
	testutil.AppPipeWriter(t, &wg, seed, ps, streamLen, func(r *rand.Rand, i, sent int) []byte {
		return streams[i][sent : sent+min(1+r.IntN(700), streamLen-sent)]
	}, 3, 500*time.Microsecond)
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
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	const size, readers, writers, rounds = 4 << 20, 6, 4, 30
	seed, content, dir, dataPath := testutil.AppData(t, size, "data")
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
	stopGC := testutil.AppGC(true)

	var wg sync.WaitGroup
	testutil.AppGCReaders(t, &wg, readers, rounds, seed, content, func(r *rand.Rand) (p testutil.AppGCRead, err error) {
		switch r.IntN(3) {
		case 0: // O_DIRECT read
			p = testutil.NewAppGCRead(r, size, true)
			p.H, err = q.Read(dfds[r.IntN(2)], p.Bufs[0].Inner, int64(p.Off))
		case 1: // buffered read at an odd offset
			p = testutil.NewAppGCRead(r, size, false)
			p.H, err = q.Read(bfds[r.IntN(2)], p.Bufs[0].Inner, int64(p.Off))
		case 2: // File.ReadAt, waited for here
			p = testutil.NewAppGCRead(r, size, false)
			p.N, p.Err = fileB.ReadAt(p.Bufs[0].Inner, int64(p.Off))
		}
		return p, err
	})
	// Writers: writer g writes the 64 KiB blocks g, g+writers, ... of the file once, in
	// 4-64 KiB pieces, buffered or O_DIRECT, up to 8 in flight, holding only handles:
	// once a write is submitted, only its handle (its pin) keeps its buffer.
	testutil.AppGCWriters(t, &wg, writers, seed, content, func(r *rand.Rand, off, n int) (*completion.Handle, error) {
		direct := r.IntN(2)
		var buf []byte
		if direct == 1 {
			buf = appAligned(n)
		} else {
			buf = make([]byte, n)
		}
		copy(buf, content[off:off+n])
		return q.Write(ofds[direct], buf, int64(off))
	})
	testutil.AppWaitGroup(t, &wg, "readers and writers")
	stopGC()
	testutil.AppCheckWritten(t, outPath, content)
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
