package uring

// Randomized chaos test of the handle layer: many goroutines mix file reads
// and writes (buffered and O_DIRECT), pipe reads that block until a writer
// sends data, polls, NOPs, fsyncs, timeouts, linked chains, contexts that end
// at random times, explicit cancels, File.Close while others read, and
// Queue.Close at a random moment, under GC pressure. After each round it
// checks that every wait returned, every result is plausible, and nothing
// leaked (completion.Stats, goroutines, descriptors). The harness is
// testutil.Chaos.
//
// AIOKIT_CHAOS_SEED=N runs only seed N; AIOKIT_CHAOS_ROUNDS=K runs K seeds
// (default 3) starting at AIOKIT_CHAOS_BASE (default 1).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

const (
	chaosFileSize = testutil.ChaosFileSize
	chaosBlock    = testutil.ChaosBlock
)

type uchaos struct {
	*testutil.Chaos
	q      *Queue
	scrFd  int // scratch: block i belongs to worker i
	scrDir int // the scratch file with O_DIRECT
	pipes  [][2]int
	pollR  int
	files  []*File
	pfile  *File // on a dup of a pipe's read end
}

// at64 adapts a Queue method with a uint64 offset to testutil.ChaosIO.
func at64[B any](f func(int, B, uint64) (*completion.Handle, error)) func(int, B, int64) (*completion.Handle, error) {
	return func(fd int, b B, off int64) (*completion.Handle, error) { return f(fd, b, uint64(off)) }
}

// cancel is the explicit cancel of testutil.Chaos.Wait: Queue.Cancel, whose
// own request must end in one of the ways a cancel may.
func (c *uchaos) cancel(h *completion.Handle, what string) (int, error, bool) {
	ch, cerr := c.q.Cancel(h)
	if cerr != nil {
		if !errors.Is(cerr, ErrClosed) && !errors.Is(cerr, ErrBusy) {
			c.Errorf("%s: Cancel: %v", what, cerr)
		}
	} else {
		cn, cerr, ok := c.Await(ch, what+" cancel")
		if ok && !(cerr == nil && cn == 0 || errors.Is(cerr, unix.ENOENT) || errors.Is(cerr, unix.EALREADY) ||
			errors.Is(cerr, unix.ECANCELED) || errors.Is(cerr, ErrClosed)) {
			c.Errorf("%s: cancel request result %d, %v", what, cn, cerr)
		}
	}
	return c.Await(h, what)
}

func (c *uchaos) worker(id int, r *rand.Rand) {
	scrOff := uint64(id * chaosBlock)
	// What worker id's block of each scratch file holds, when known.
	scrKnown := [2]bool{}
	scr := [2][]byte{testutil.AlignedBuf(chaosBlock), testutil.AlignedBuf(chaosBlock)}
	gen := byte(0)
	for i := 0; !c.Stop.Load() && i < 2000; i++ {
		c.Ops.Add(1)
		switch k := r.IntN(20); k {
		case 0: // NOP
			h, err := c.q.Nop()
			c.DoZero(r, "nop", h, err)
		case 1, 2: // buffered read
			c.BufferedRead(r, at64(c.q.Read))
		case 3: // O_DIRECT read
			c.DirectRead(r, at64(c.q.Read))
		case 4: // write of the bytes already there (buffered or O_DIRECT)
			c.Rewrite(r, at64(c.q.Write))
		case 5: // fsync
			h, err := c.q.Fsync(c.BufFd, 0)
			c.DoZero(r, "fsync", h, err)
		case 6, 7: // pipe read: blocks until a writer sends
			read := func(fd int, buf []byte, _ int64) (*completion.Handle, error) { return c.q.Read(fd, buf, ^uint64(0)) }
			c.PipeRead(r, "pipe read", c.pipes, true, read)
		case 8: // poll
			h, err := c.q.PollAdd(c.pollR, unix.POLLIN)
			if !c.SubmitErr("poll", err) {
				continue
			}
			if r.IntN(4) == 0 {
				if rh, err := c.q.PollRemove(h); err == nil {
					if n, err, ok := c.Await(rh, "poll remove"); ok && !(err == nil && n == 0 || errors.Is(err, unix.ENOENT) ||
						errors.Is(err, unix.EALREADY) || c.CancelErr(err, true)) {
						c.Errorf("poll remove: %d, %v", n, err)
					}
				} else {
					c.SubmitErr("poll remove", err)
				}
			}
			n, err, _, ok := c.Wait(r, h, "poll", true)
			if ok && !(err == nil && n&unix.POLLIN != 0 || c.CancelErr(err, true)) {
				c.Errorf("poll: %#x, %v", n, err)
			}
		case 9: // timeout
			h, err := c.q.Timeout(time.Duration(r.IntN(2000))*time.Microsecond, 0, 0)
			n, err, canc, ok := c.Do(r, "timeout", false, h, err)
			if ok && !(errors.Is(err, unix.ETIME) || c.CancelErr(err, canc)) {
				c.Errorf("timeout: %d, %v", n, err)
			}
		case 10, 11: // chain: write scratch, read it back, fsync
			gen++
			wb := testutil.AlignedBuf(chaosBlock)
			for j := range wb {
				wb[j] = gen ^ byte(j) ^ byte(id)
			}
			rb := bytes.Repeat([]byte{0xEE}, chaosBlock)
			fd, sf := c.scrFd, 0
			if r.IntN(2) == 0 {
				fd, sf = c.scrDir, 1
				rb = testutil.AlignedBuf(chaosBlock)
			}
			nop, sync := r.IntN(2) == 0, r.IntN(2) == 0
			hs, err := c.q.Link(func(l *Link) {
				if nop {
					l.Nop()
				}
				l.Write(fd, wb, scrOff)
				l.Read(fd, rb, scrOff)
				if sync {
					l.Fsync(fd, 0)
				}
			})
			if !c.SubmitErr("chain", err) {
				continue
			}
			res := make([]int, len(hs))
			errs := make([]error, len(hs))
			okAll := true
			for j, h := range hs {
				var ok bool
				res[j], errs[j], _, ok = c.Wait(r, h, fmt.Sprintf("chain member %d", j), false)
				okAll = okAll && ok
			}
			if !okAll {
				continue
			}
			w := 0
			if nop {
				w = 1
			}
			c.checkChain(id, hs, res, errs, w, wb, rb, &scrKnown[sf], scr[sf])
		case 12: // chain: pipe read guarded by a link timeout
			p := c.pipes[r.IntN(len(c.pipes))]
			buf := make([]byte, 1+r.IntN(64))
			hs, err := c.q.Link(func(l *Link) {
				l.Read(p[0], buf, ^uint64(0))
				l.LinkTimeout(time.Duration(r.IntN(2000))*time.Microsecond, 0)
			})
			if !c.SubmitErr("timed pipe read", err) {
				continue
			}
			n, err, canc, ok := c.Wait(r, hs[0], "timed pipe read", true)
			if ok && (err != nil && !(errors.Is(err, unix.ECANCELED) || errors.Is(err, unix.EINTR) || c.CancelErr(err, canc)) ||
				err == nil && (n <= 0 || n > len(buf) || !testutil.PipeBytesOK(buf[:n]))) {
				c.Errorf("timed pipe read: %d, %v", n, err)
			}
			n, err, _, ok = c.Wait(r, hs[1], "link timeout", false)
			if ok && !(errors.Is(err, unix.ETIME) || errors.Is(err, unix.ECANCELED) || errors.Is(err, unix.ENOENT) ||
				errors.Is(err, unix.EALREADY) || err == nil && n == 0 || c.CancelErr(err, true)) {
				c.Errorf("link timeout: %d, %v", n, err)
			}
		case 13, 14: // File reads, with or without a context
			f := c.files[r.IntN(len(c.files))]
			direct := f == c.files[1]
			off, ln, buf := testutil.FileBuf(r, direct)
			ctx, cancel, withCtx := c.FileCtx(r)
			n, err, ok := c.FileCall(func() (int, error) { return f.ReadAtContext(ctx, buf, int64(off)) })
			cancel()
			if !ok {
				continue
			}
			want := min(ln, chaosFileSize-off)
			switch {
			case n < 0 || n > want || !bytes.Equal(buf[:n], c.Content[off:off+n]):
				c.Errorf("File.ReadAt(%s) at %d len %d: n = %d, %v, bytes differ or too many", f.Name(), off, ln, n, err)
			case err == nil && n != ln, err == io.EOF && n != want:
				c.Errorf("File.ReadAt at %d len %d: n = %d, %v", off, ln, n, err)
			case err != nil && err != io.EOF && !c.FileErr(err, withCtx):
				c.Errorf("File.ReadAt at %d len %d: n = %d, %v", off, ln, n, err)
			}
		case 15: // File write of the bytes already there
			f := c.files[r.IntN(len(c.files))]
			off := r.IntN(chaosFileSize/chaosBlock) * chaosBlock
			buf := testutil.AlignedBuf(chaosBlock)
			copy(buf, c.Content[off:])
			n, err, ok := c.FileCall(func() (int, error) { return f.WriteAt(buf, int64(off)) })
			if ok && !(err == nil && n == chaosBlock || err != nil && c.FileErr(err, false)) {
				c.Errorf("File.WriteAt at %d: %d, %v", off, n, err)
			}
		case 16: // File sync / stat
			f := c.files[r.IntN(len(c.files))]
			sync := r.IntN(2) == 0
			_, err, ok := c.FileCall(func() (int, error) {
				if sync {
					return 0, f.Sync()
				}
				st, err := f.Stat(unix.STATX_SIZE)
				if err == nil && st.Size != chaosFileSize {
					return 0, fmt.Errorf("size %d", st.Size)
				}
				return 0, err
			})
			if ok && err != nil && !c.FileErr(err, false) {
				c.Errorf("File.Sync/Stat: %v", err)
			}
		case 17: // File read of a pipe: blocks until data, File.Close or ctx
			buf := make([]byte, 1+r.IntN(32))
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
			n, err, ok := c.FileCall(func() (int, error) { return c.pfile.ReadAtContext(ctx, buf, 0) })
			cancel()
			// ReadAt of a pipe: the data are there in any order of pieces,
			// all 'P'; the short reads are resumed, so n < len is an error.
			if ok && !(n >= 0 && n <= len(buf) && testutil.PipeBytesOK(buf[:n]) && (err == nil && n == len(buf) || err != nil && c.FileErr(err, true))) {
				c.Errorf("pipe File.ReadAt: %d, %v", n, err)
			}
		case 18: // readv / writev
			c.Vectored(r, at64(c.q.Readv), at64(c.q.Writev))
		default: // a short yield or sleep
			testutil.ChaosYield(r)
		}
	}
}

// checkChain checks a chain [NOP?] write read [fsync?] of worker id's block.
func (c *uchaos) checkChain(id int, hs []*completion.Handle, res []int, errs []error, w int, wb, rb []byte, known *bool, scr []byte) {
	r := w + 1
	for j := range hs {
		if errs[j] != nil && !c.CancelErr(errs[j], true) {
			c.Errorf("chain member %d of %d: %d, %v", j, len(hs), res[j], errs[j])
			return
		}
	}
	// A member that failed (or was short) cancels the rest of the chain.
	for j := 1; j < len(hs); j++ {
		prevBad := errs[j-1] != nil || (j-1 == w || j-1 == r) && res[j-1] != chaosBlock
		if prevBad && errs[j] == nil {
			c.Errorf("chain member %d ran (%d) after member %d failed (%d, %v)", j, res[j], j-1, res[j-1], errs[j-1])
		}
	}
	if errs[w] == nil && res[w] == chaosBlock {
		copy(scr, wb)
		*known = true
	} else {
		*known = false // the write may be partial, or not have run
	}
	if errs[r] == nil {
		if res[r] != chaosBlock {
			c.Errorf("chain read of worker %d's block: %d", id, res[r])
		} else if *known && !bytes.Equal(rb, scr) {
			c.Errorf("chain read of worker %d's block returned other bytes than the write before it", id)
		}
	}
}

func TestChaosQueue(t *testing.T) {
	testutil.RunChaos(t, 3, uringChaosRound)
}

func uringChaosRound(t *testing.T, seed uint64) {
	c := &uchaos{Chaos: testutil.NewChaos(t, seed, "TestChaosQueue", "./uring")}
	r := c.R
	c.CancelErrs = []error{unix.ECANCELED, unix.EINTR}
	c.ShortOnCancel = true
	c.FilesClosed = true
	c.Cancel = c.cancel

	scratch, dscratch := filepath.Join(c.Dir, "scratch"), filepath.Join(c.Dir, "dscratch")
	for _, p := range []string{scratch, dscratch} {
		if err := os.WriteFile(p, make([]byte, 64*chaosBlock), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.scrFd = c.Open(scratch, unix.O_RDWR)
	c.scrDir = c.Open(dscratch, unix.O_RDWR|unix.O_DIRECT)
	for i := 0; i < 2+r.IntN(3); i++ {
		c.pipes = append(c.pipes, c.Pipe(false))
	}
	pp := c.Pipe(false)
	c.pollR = pp[0]

	cfg := QueueConfig{Entries: uint32(4 << r.IntN(5)), RingOnly: r.IntN(3) == 0}
	if r.IntN(3) == 0 {
		cfg.MaxInFlight = 2 + r.IntN(16)
	}
	if r.IntN(6) == 0 {
		cfg.Params = &Params{Flags: SetupSQPoll, SQThreadIdle: uint32(1 + r.IntN(10))}
	}
	q, err := NewQueueConfig(cfg)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSQPollPerm) {
		testutil.SkipNoPrivilege(t, "io_uring_setup: "+err.Error())
	}
	if err != nil {
		t.Fatalf("NewQueueConfig(%+v): %v", cfg, err)
	}
	c.q = q
	c.InFlight = q.InFlight
	t.Logf("seed %d: config %+v (params %+v), %d pipes", seed, cfg, cfg.Params, len(c.pipes))

	fb, err := OpenFile(q, c.Data, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fdir, err := OpenFile(q, c.DData, unix.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.files = []*File{fb, fdir}
	pdup, err := unix.FcntlInt(uintptr(c.pipes[0][0]), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.pfile = NewFile(q, pdup, "pipe")

	c.FeedPipes(c.pipes)
	c.WakeLater(r, pp[1])
	allFiles := append(append([]*File{}, c.files...), c.pfile)
	for i, f := range allFiles {
		if r.IntN(3) == 0 {
			continue // stays open until the round ends
		}
		at := time.Duration(r.IntN(40)) * time.Millisecond
		c.Go(func(<-chan struct{}) {
			time.Sleep(at)
			if err := f.Close(); err != nil {
				c.Errorf("File.Close(%d %s): %v", i, f.Name(), err)
			}
		})
	}
	c.Run(r, q.Close, c.worker)
	for _, f := range allFiles {
		f.Close() // fs.ErrClosed when a closer got there first
	}
	if _, err := q.Nop(); !errors.Is(err, ErrClosed) {
		c.Errorf("Nop after Close: %v", err)
	}
	c.Finish()
}
