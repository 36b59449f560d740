package libaio

// Randomized chaos test of the handle layer: many goroutines mix reads and
// writes of a file (buffered and O_DIRECT, through Queue and File, with
// bounced buffers), vectored requests, fsyncs, polls of pipes that get data
// later, reads of pipes (non-blocking, and blocking ones that a writer
// feeds), contexts that end at random times (0-2 ms) or are cancelled at
// once, and Queue.Close at a random moment, under GC pressure. After each
// round it checks that every wait returned, every result is plausible, and
// nothing leaked (completion.Stats, cmem, goroutines, descriptors). The
// harness is testutil.Chaos.
//
// AIOKIT_CHAOS_SEED=N runs only seed N; AIOKIT_CHAOS_ROUNDS=K runs K seeds
// (default 3) starting at AIOKIT_CHAOS_BASE (default 1).

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

type lchaos struct {
	*testutil.Chaos
	q       *Queue
	nbPipes [][2]int // read ends O_NONBLOCK
	blPipes [][2]int // blocking read ends, fed every 0.1-2 ms
	pollR   int
	files   []*File // buffered, O_DIRECT
}

func (c *lchaos) worker(id int, r *rand.Rand) {
	for i := 0; !c.Stop.Load() && i < 2000; i++ {
		c.Ops.Add(1)
		switch k := r.IntN(16); k {
		case 0, 1: // buffered read (inline when cached)
			c.BufferedRead(r, c.q.Read)
		case 2, 3: // O_DIRECT read
			c.DirectRead(r, c.q.Read)
		case 4: // write of the bytes already there
			c.Rewrite(r, c.q.Write)
		case 5: // vectored
			c.Vectored(r, c.q.Readv, c.q.Writev)
		case 6: // fsync / fdsync
			fsync := c.q.Fsync
			if r.IntN(2) == 0 {
				fsync = c.q.Fdsync
			}
			fd := c.BufFd
			if r.IntN(2) == 0 {
				fd = c.DirFd
			}
			h, err := fsync(fd)
			if errors.Is(err, unix.EINVAL) {
				continue // a file system without AIO fsync
			}
			c.DoZero(r, "fsync", h, err)
		case 7, 8: // poll of a pipe that gets data at a random time
			fd := c.pollR
			if r.IntN(3) == 0 {
				fd = c.blPipes[r.IntN(len(c.blPipes))][0]
			}
			h, err := c.q.Poll(fd, unix.POLLIN)
			n, err, canc, ok := c.Do(r, "poll", true, h, err)
			// A cancelled poll completes with 0 (io_cancel), or ECANCELED
			// when it never reached io_submit.
			if ok && !(err == nil && (n&unix.POLLIN != 0 || n == 0 && (canc || c.Closed.Load())) || c.CancelErr(err, canc)) {
				c.Errorf("poll: %#x, %v", n, err)
			}
		case 9: // non-blocking pipe read
			c.PipeRead(r, "pipe read", c.nbPipes, false, c.q.Read, unix.EAGAIN)
		case 10: // blocking pipe read (blocks in io_submit until a writer sends)
			if r.IntN(4) != 0 {
				continue
			}
			// EINTR: a signal to the thread blocked in io_submit (Go's SIGURG) ends
			// the read (TestPipeReadInsideSubmit).
			c.PipeRead(r, "blocking pipe read", c.blPipes, true, c.q.Read, unix.EINTR)
		case 11, 12, 13: // File read, buffered or O_DIRECT, maybe bounced
			fi := r.IntN(len(c.files))
			f := c.files[fi]
			off, ln := testutil.FileSpan(r, fi == 1)
			var buf []byte
			if fi == 1 {
				if _, oa := f.Align(); oa < testutil.ChaosBlock && r.IntN(2) == 0 {
					ln += oa * r.IntN(testutil.ChaosBlock/oa)
				}
				buf = testutil.AlignedBuf(ln + 1)
				if r.IntN(2) == 0 {
					buf = buf[1:] // misaligned: bounced
				} else {
					buf = buf[:ln]
				}
			} else {
				buf = make([]byte, ln)
			}
			ctx, cancel, withCtx := c.FileCtx(r)
			write := r.IntN(4) == 0
			n, err, ok := c.FileCall(func() (int, error) {
				if write {
					cp := append([]byte{}, c.Content[off:min(off+ln, len(c.Content))]...)
					return f.WriteAtContext(ctx, cp, int64(off))
				}
				return f.ReadAtContext(ctx, buf, int64(off))
			})
			cancel()
			if ok {
				c.CheckFileIO(fi, off, ln, buf, n, err, withCtx, write, n == ln || n == min(ln, len(c.Content)-off))
			}
		default:
			testutil.ChaosYield(r)
		}
	}
}

func TestChaosQueue(t *testing.T) {
	testutil.RunChaos(t, 3, libaioChaosRound)
}

func libaioChaosRound(t *testing.T, seed uint64) {
	c := &lchaos{Chaos: testutil.NewChaos(t, seed, "TestChaosQueue", "./libaio")}
	r := c.R
	// ECANCELED is what a request cancelled before io_submit took it
	// reports (a ctx that ended, or Close).
	c.CancelErrs = []error{unix.ECANCELED}
	c.CtxCancels = true
	c.CMem = true

	for i := 0; i < 1+r.IntN(3); i++ {
		c.nbPipes = append(c.nbPipes, c.Pipe(true))
		c.blPipes = append(c.blPipes, c.Pipe(false))
	}
	pp := c.Pipe(false)
	c.pollR = pp[0]

	depth := 1 << (1 + r.IntN(7))
	q, err := NewQueue(depth)
	if err != nil {
		t.Fatalf("NewQueue(%d): %v", depth, err)
	}
	c.q = q
	c.InFlight = q.InFlight
	inline := r.IntN(3) != 0
	q.SetInlineReads(inline)
	for _, fd := range []int{c.BufFd, c.DirFd} {
		f, err := NewFile(q, fd)
		if err != nil {
			t.Fatal(err)
		}
		c.files = append(c.files, f)
	}
	t.Logf("seed %d: depth %d, inline %v, %d+%d pipes", seed, depth, inline, len(c.nbPipes), len(c.blPipes))

	c.FeedPipes(append(append([][2]int{}, c.nbPipes...), c.blPipes...))
	c.WakeLater(r, pp[1])
	c.Run(r, q.Close, c.worker)
	if _, err := q.Fsync(c.BufFd); !errors.Is(err, ErrClosed) {
		c.Errorf("Fsync after Close: %v", err)
	}
	c.Finish()
}
