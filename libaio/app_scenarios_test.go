package libaio

// Application-style scenarios of the handle layer (Queue, File and the handles they
// return), the way a systems program uses it, on real files and pipes: a parallel
// file copy with contexts that time out (O_DIRECT and buffered), Close while dozens
// of goroutines keep submitting, an event loop of polls and non-blocking reads on
// pipes with cancels, and buffers in flight under constant garbage collection. Each
// asserts its results exactly; the time bounds are hang guards only. What these
// scenarios share with posixaio's (the copy, the Close-under-load frame, the GC
// pressure's readers and writers, the pipe writer) is internal/testutil's (app.go);
// this file gives it what libaio does differently: the calls, its buffers (aligned
// or bounced) and its error expectations.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// appFile is NewFile(q, fd), failing the test on an error.
func appFile(t *testing.T, q *Queue, fd int) *File {
	t.Helper()
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// appParallelCopy copies a 32 MiB file through File and handles from 16 goroutines
// taking 128 KiB chunks in random order, with contexts that end at random (timed-out
// chunks are retried), and wants the copy to equal the source byte for byte
// (testutil.AppCopy).
func appParallelCopy(t *testing.T, direct bool) {
	const size, chunk, workers = 32 << 20, 128 << 10, 16
	c := testutil.NewAppCopy(t, size, chunk, direct)
	sfd := testutil.AppOpen(t, c.SrcPath, unix.O_RDONLY|c.Flags)
	dfd := testutil.AppOpen(t, c.DstPath, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|c.Flags)
	if err := unix.Ftruncate(dfd, size); err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(8) // fewer slots than workers: File calls wait for one
	if err != nil {
		t.Fatal(err)
	}
	src, dst := appFile(t, q, sfd), appFile(t, q, dfd)
	c.Src, c.Dst = []testutil.AppFile{src}, []testutil.AppFile{dst}
	c.GoBuf = func(r *rand.Rand) []byte {
		if direct && r.IntN(2) == 0 {
			return alignedGo(chunk)
		}
		// Misaligned for O_DIRECT: File bounces it through aligned C memory.
		return make([]byte, chunk+1)[1:]
	}
	// Read, Readv, Write or Writev. io_cancel cannot stop a read or write: a
	// handle whose context ended completes with its count, or with ECANCELED
	// if it was dropped before io_submit took it.
	c.Submit = func(r *rand.Rand, write bool, fd int, buf []byte, off int64) (*completion.Handle, error) {
		vec := r.IntN(2) == 0
		switch {
		case write && vec:
			return q.Writev(fd, [][]byte{buf[:len(buf)/2], buf[len(buf)/2:]}, off)
		case write:
			return q.Write(fd, buf, off)
		case vec:
			return q.Readv(fd, [][]byte{buf[:len(buf)/2], buf[len(buf)/2:]}, off)
		default:
			return q.Read(fd, buf, off)
		}
	}
	c.Run(t, workers)
	if err := dst.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	c.Finish(t, q)
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
	const size, workers = 4 << 20, 56
	l := testutil.NewAppLoad(t, size)
	content, sfd := l.Content, l.Sfd
	dfd := testutil.AppOpen(t, l.DataPath, unix.O_RDONLY|unix.O_DIRECT)
	bfd := testutil.AppOpen(t, l.DataPath, unix.O_RDONLY)
	silent := testutil.NewAppPipe(t, false) // never written to: polls of it wait for Close
	fed := testutil.NewAppPipe(t, true)
	l.Mark()

	q, err := NewQueue(24)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fileD, fileB, fileS := appFile(t, q, dfd), appFile(t, q, bfd), appFile(t, q, sfd)
	stopFeed := testutil.AppFeed(fed.W) // keeps the fed pipe readable now and then

	full := testutil.AppFull
	l.Go(workers, func(w *testutil.AppWorker) error {
		r := w.R
		var err error
		switch w.G % 8 {
		case 0, 2: // O_DIRECT Read or Readv of 8-64 KiB, ErrBusy when full
			ln := 4096 * (2 + r.IntN(15))
			off := 4096 * r.IntN((size-ln)/4096)
			buf := alignedGo(ln)
			var h *completion.Handle
			if w.G%8 == 0 {
				h, err = q.Read(dfd, buf, int64(off))
			} else {
				h, err = q.Readv(dfd, [][]byte{buf[:4096], buf[4096:]}, int64(off))
			}
			if err == nil && !w.AwaitRead(h, "O_DIRECT read", buf, off) {
				return testutil.ErrAppStop
			}
		case 1: // File.ReadAt on O_DIRECT, aligned or bounced; waits for a slot
			ln := 4096 * (1 + r.IntN(8))
			off := 4096 * r.IntN((size-ln)/4096)
			buf := make([]byte, ln+1)[1:]
			if r.IntN(2) == 0 {
				buf = alignedGo(ln)
			}
			var n int
			if n, err = fileD.ReadAt(buf, int64(off)); err == nil && !w.Read("File.ReadAt O_DIRECT", buf, off, n, err) {
				return testutil.ErrAppStop
			}
		case 3: // buffered write of the bytes already there
			ln := 1 + r.IntN(32<<10)
			off := r.IntN(size - ln)
			var h *completion.Handle
			if h, err = q.Write(sfd, content[off:off+ln], int64(off)); err == nil && !w.Await(h, "write", full(ln)) {
				return testutil.ErrAppStop
			}
		case 4: // poll of a pipe nobody writes to: ends when Close cancels it
			var h *completion.Handle
			if h, err = q.Poll(silent.R, unix.POLLIN); err == nil {
				if !w.Await(h, "silent poll", func(n int, err error) bool { return err == nil && n == 0 && l.Closing.Load() }) {
					return testutil.ErrAppStop
				}
			}
		case 5: // poll of a pipe that gets data, then a non-blocking read
			var h *completion.Handle
			if h, err = q.Poll(fed.R, unix.POLLIN); err == nil {
				if !w.Await(h, "poll", func(n int, err error) bool {
					return err == nil && (n&unix.POLLIN != 0 || n == 0 && l.Closing.Load())
				}) {
					return testutil.ErrAppStop
				}
				buf := make([]byte, 64)
				if h, err = q.Read(fed.R, buf, 0); err == nil {
					n, rerr := testutil.AppAwait(h)
					if rerr != unix.EAGAIN && (rerr != nil || n == 0 || !testutil.PipeBytesOK(buf[:n])) {
						w.Fail("pipe read: %d, %v", n, rerr)
						return testutil.ErrAppStop
					}
				}
			}
		case 6: // File reads of the page cache or the disk, contexts that end
			off, buf, ended, n, ferr := w.CtxRead(fileB)
			ln := len(buf)
			err = ferr
			switch {
			case err == nil && (n != ln || !bytes.Equal(buf, content[off:off+ln])):
				w.Fail("File.ReadAtContext at %d: %d bytes, or wrong bytes", off, n)
				return testutil.ErrAppStop
			case testutil.IsCtxErr(err) && ended:
				err = nil
			}
		case 7: // fsync, fdatasync
			if r.IntN(2) == 0 {
				var h *completion.Handle
				if h, err = q.Fdsync(sfd); err == nil && !w.Await(h, "fdsync", full(0)) {
					return testutil.ErrAppStop
				}
			} else {
				err = fileS.Sync()
			}
		}
		return err
	})
	inflight := l.Close(q)
	l.Wait()
	stopFeed()
	// Every request method after Close: ErrClosed and no handle.
	buf := alignedGo(4096)
	l.Check(inflight, map[string]func() (*completion.Handle, error){
		"Read":    func() (*completion.Handle, error) { return q.Read(bfd, buf, 0) },
		"Write":   func() (*completion.Handle, error) { return q.Write(sfd, buf, 0) },
		"Readv":   func() (*completion.Handle, error) { return q.Readv(dfd, [][]byte{buf}, 0) },
		"Writev":  func() (*completion.Handle, error) { return q.Writev(sfd, [][]byte{buf}, 0) },
		"Readv2":  func() (*completion.Handle, error) { return q.Readv2(bfd, [][]byte{buf}, 0, RWFNowait) },
		"Writev2": func() (*completion.Handle, error) { return q.Writev2(sfd, [][]byte{buf}, 0, 0) },
		"Fsync":   func() (*completion.Handle, error) { return q.Fsync(sfd) },
		"Fdsync":  func() (*completion.Handle, error) { return q.Fdsync(sfd) },
		"Poll":    func() (*completion.Handle, error) { return q.Poll(fed.R, unix.POLLIN) },
	}, fileB, fileD, fileS, buf)
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
	// The writer: bursts of 1-16 records to random pipes.
	testutil.AppPipeWriter(t, &wg, seed, ps, 8*records, func(r *rand.Rand, i, sent int) []byte {
		first := uint64(sent / 8)
		k := min(uint64(1+r.IntN(16)), records-first)
		b := make([]byte, 8*k) // at most 128 bytes: one atomic pipe write
		for j := uint64(0); j < k; j++ {
			binary.LittleEndian.PutUint64(b[8*j:], uint64(i)<<32|(first+j))
		}
		return b
	}, 4, 300*time.Microsecond)
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
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	const size, readers, writers, rounds = 8 << 20, 6, 4, 40
	seed, content, dir, dataPath := testutil.AppData(t, size, "data")
	dfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY|unix.O_DIRECT)
	bfd := testutil.AppOpen(t, dataPath, unix.O_RDONLY)
	outPath := filepath.Join(dir, "out")
	ofd := testutil.AppOpen(t, outPath, unix.O_RDWR|unix.O_CREAT|unix.O_DIRECT)
	if err := unix.Ftruncate(ofd, size); err != nil {
		t.Fatal(err)
	}
	q := testQueue(t, 64)
	fileD := appFile(t, q, dfd)
	stopGC := testutil.AppGC(true)

	guarded := testutil.NewAppGuarded
	var wg sync.WaitGroup
	testutil.AppGCReaders(t, &wg, readers, rounds, seed, content, func(r *rand.Rand) (p testutil.AppGCRead, err error) {
		switch r.IntN(4) {
		case 0: // O_DIRECT read
			p = testutil.NewAppGCRead(r, size, true)
			p.H, err = q.Read(dfd, p.Bufs[0].Inner, int64(p.Off))
		case 1: // buffered read at an odd offset
			p = testutil.NewAppGCRead(r, size, false)
			p.H, err = q.Read(bfd, p.Bufs[0].Inner, int64(p.Off))
		case 2: // Readv scattering into 1-64 buffers of their own
			n := 0
			for k := 1 + r.IntN(64); k > 0; k-- {
				p.Bufs = append(p.Bufs, guarded(1+r.IntN(700), false))
				n += len(p.Bufs[len(p.Bufs)-1].Inner)
			}
			p.Off = r.IntN(size - n)
			p.H, err = q.Readv(bfd, testutil.AppInners(p.Bufs), int64(p.Off))
		case 3: // File.ReadAt, O_DIRECT, misaligned: bounced
			n := 4096 * (1 + r.IntN(4))
			p.Off = 4096 * r.IntN((size-n)/4096)
			p.Bufs = []testutil.AppGuarded{guarded(n, false)}
			p.N, p.Err = fileD.ReadAt(p.Bufs[0].Inner, int64(p.Off))
		}
		return p, err
	})
	// Writers: writer g writes the 64 KiB blocks g, g+writers, ... of the file once,
	// in pieces of 4-64 KiB, up to 8 in flight, holding only their handles.
	// Once a write is submitted, only its handle (its pins) keeps its buffer.
	testutil.AppGCWriters(t, &wg, writers, seed, content, func(r *rand.Rand, off, n int) (*completion.Handle, error) {
		buf := alignedGo(n)
		copy(buf, content[off:off+n])
		if n < 8192 || r.IntN(2) == 0 {
			return q.Write(ofd, buf, int64(off))
		}
		// Split on a 4 KiB boundary: each iovec aligned for O_DIRECT.
		cut := 4096 * (n / 8192)
		return q.Writev(ofd, [][]byte{buf[:cut], buf[cut:]}, int64(off))
	})
	testutil.AppWaitGroup(t, &wg, "readers and writers")
	stopGC()
	testutil.AppCheckWritten(t, outPath, content)
}
