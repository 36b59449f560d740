package testutil

// The harness of the backends' randomized chaos tests (TestChaosQueue in
// uring, libaio and posixaio): seed selection, a per-round checker that
// waits for handles in random ways and judges their results, the shared
// operations (file reads and writes, pipe reads), the run phase (pipe
// feeders, GC pressure, Queue.Close at a random moment) and the leak checks
// after a round. Each backend keeps its own operation mix and invariants.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

const (
	// ChaosHang bounds one wait for a completion (or a File call, or
	// Queue.Close) in a chaos round.
	ChaosHang = 5 * time.Second
	// ChaosRoundMax bounds how long a round's workers may take to return
	// once the round ended.
	ChaosRoundMax = 20 * time.Second
	// ChaosFileSize is the size of a chaos round's data files.
	ChaosFileSize = 256 << 10
	// ChaosBlock is the O_DIRECT block size the chaos rounds use.
	ChaosBlock = 4096
)

// ChaosSeeds returns the seeds a chaos test runs: only AIOKIT_CHAOS_SEED
// when it is set, else AIOKIT_CHAOS_ROUNDS (default rounds) seeds from
// AIOKIT_CHAOS_BASE (default 1), offset by 1000*GOMAXPROCS so that
// -cpu 1,2,4 run different seeds.
func ChaosSeeds(t testing.TB, rounds int) []uint64 {
	t.Helper()
	if s := os.Getenv("AIOKIT_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("AIOKIT_CHAOS_SEED: %v", err)
		}
		return []uint64{n}
	}
	base := uint64(1)
	if s := os.Getenv("AIOKIT_CHAOS_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("AIOKIT_CHAOS_BASE"); s != "" {
		base, _ = strconv.ParseUint(s, 10, 64)
	}
	base += uint64(runtime.GOMAXPROCS(0)) * 1000
	seeds := make([]uint64, rounds)
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	return seeds
}

// FDCount returns how many descriptors the process has open (-1 if
// /proc/self/fd cannot be read).
func FDCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// ListFDs lists /proc/self/fd, a line per descriptor with its target.
func ListFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s -> %s\n", e.Name(), l)
	}
	return b.String()
}

// Settle waits up to d for ok, collecting garbage between tries, and
// reports whether ok became true.
func Settle(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// GoroutineDump returns the stacks of all goroutines.
func GoroutineDump() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// PipeBytesOK reports whether b holds only 'P', the byte the chaos pipe
// feeders write.
func PipeBytesOK(b []byte) bool {
	for _, x := range b {
		if x != 'P' {
			return false
		}
	}
	return true
}

// AlignedBuf returns n bytes of Go memory at a multiple of ChaosBlock.
func AlignedBuf(n int) []byte {
	b := make([]byte, n+ChaosBlock)
	off := int(ChaosBlock-uintptr(unsafe.Pointer(&b[0]))%ChaosBlock) % ChaosBlock
	return b[off : off+n : off+n]
}

// ChaosYield yields for a moment: runtime.Gosched or a sleep of 0-0.3 ms.
func ChaosYield(r *rand.Rand) {
	if r.IntN(2) == 0 {
		runtime.Gosched()
	} else {
		time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
	}
}

// ChaosIO starts a read or write of buf at off on fd (a Queue's Read or
// Write).
type ChaosIO func(fd int, buf []byte, off int64) (*completion.Handle, error)

// ChaosIOV starts a vectored read or write (a Queue's Readv or Writev).
type ChaosIOV func(fd int, bufs [][]byte, off int64) (*completion.Handle, error)

// Chaos is one chaos round: its seed and test, what the backend may do
// (the fields to set before the round starts), the state the workers share,
// and the checks. Errors are reported with the seed, at most 20 a round,
// and a failed round logs the command that reproduces it.
type Chaos struct {
	T    *testing.T
	Seed uint64
	// R is the round's rand: what it draws decides the round.
	R *rand.Rand
	// Dir is the round's directory (TempDir).
	Dir string
	// Content is what the data files hold (writes rewrite the same bytes).
	Content []byte
	// Data and DData are the data files, BufFd and DirFd their descriptors
	// (DirFd with O_DIRECT).
	Data, DData  string
	BufFd, DirFd int
	// InFlight is the queue's Queue.InFlight, for hang reports.
	InFlight func() int

	// RetryErrs are submit errors that mean "try again later" besides
	// completion.ErrBusy (posixaio: EAGAIN from glibc).
	RetryErrs []error
	// CancelErrs are the errors a cancelled (or Close-cancelled) request
	// may complete with instead of its result.
	CancelErrs []error
	// ShortOnCancel: a cancelled request, or one of a closed queue, may
	// complete short (io_uring).
	ShortOnCancel bool
	// FilesClosed: Files are closed during the round, so File calls may
	// fail with fs.ErrClosed.
	FilesClosed bool
	// CtxCancels: a File call whose context ended may fail with one of
	// CancelErrs.
	CtxCancels bool
	// Cancel, if set, cancels h explicitly (Queue.Cancel), checks that,
	// and waits for h (with Await); Wait then uses it in one of its modes.
	// Without it that mode waits with a context cancelled at once or soon.
	Cancel func(h *completion.Handle, what string) (n int, err error, ok bool)
	// NoCancel leaves out the waits that cancel a single request, and the
	// File contexts that end (FileCtx).
	NoCancel bool
	// HangDump, if set, returns the backend's state; the first hang
	// reported before Close is followed by it and a goroutine dump.
	HangDump func() string
	// CMem also checks that the round leaves no live cgo/cmem buffers.
	CMem bool
	// FeedUntilClosed keeps the pipe feeders going until Queue.Close has
	// returned (a thread blocked in a pipe read holds Close up).
	FeedUntilClosed bool

	Closed atomic.Bool  // Queue.Close was called
	Stop   atomic.Bool  // the workers are to return
	Ops    atomic.Int64 // operations the workers started

	nerr    atomic.Int32
	dumped  atomic.Bool
	raw     []int
	g0      int
	fd0     int
	ops0    int64
	pins0   int64
	mem0    int64
	bg      sync.WaitGroup
	stopBG  chan struct{}
	feed    sync.WaitGroup
	stopFd  chan struct{}
	nw      int
	runFor  time.Duration
	closeAt time.Duration
}

// RunChaos runs round as a subtest per seed of ChaosSeeds(t, rounds).
func RunChaos(t *testing.T, rounds int, round func(t *testing.T, seed uint64)) {
	for _, seed := range ChaosSeeds(t, rounds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { round(t, seed) })
	}
}

// NewChaos starts a chaos round of seed: on failure it logs
// "reproduce: AIOKIT_CHAOS_SEED=seed go test -race -cpu N -run 'run' pkg".
// It makes R and Dir (TempDir), waits for operations of earlier tests to
// be reaped, records the goroutines, descriptors and live operations that
// Finish compares with, sets GOGC to 1 for the round, fills Content
// (ChaosFileSize bytes that depend on seed) and writes it to the files
// Data and DData, opened as BufFd and DirFd (O_DIRECT). Buffered and
// O_DIRECT writes never share a file: the kernel then fails to invalidate
// the page cache and fsync reports EIO.
func NewChaos(t *testing.T, seed uint64, run, pkg string) *Chaos {
	c := &Chaos{T: t, Seed: seed, stopBG: make(chan struct{}), stopFd: make(chan struct{})}
	c.R = rand.New(rand.NewPCG(seed, 0x5eed))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce: AIOKIT_CHAOS_SEED=%d go test -race -cpu %d -run '%s' %s", seed, runtime.GOMAXPROCS(0), run, pkg)
		}
	})
	c.Dir = TempDir(t)
	runtime.GC()
	Settle(time.Second, func() bool { ops, pins := completion.Stats(); return ops == 0 && pins == 0 })
	c.g0, c.fd0 = runtime.NumGoroutine(), FDCount()
	c.ops0, c.pins0 = completion.Stats()
	c.mem0 = cmem.Live()
	old := debug.SetGCPercent(1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	c.Content = make([]byte, ChaosFileSize)
	for i := range c.Content {
		c.Content[i] = byte(uint64(i)*2654435761>>13) ^ byte(seed)
	}
	c.Data, c.DData = filepath.Join(c.Dir, "data"), filepath.Join(c.Dir, "ddata")
	for _, p := range []string{c.Data, c.DData} {
		if err := os.WriteFile(p, c.Content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.BufFd = c.Open(c.Data, unix.O_RDWR)
	c.DirFd = c.Open(c.DData, unix.O_RDWR|unix.O_DIRECT)
	return c
}

// Open opens path (O_CLOEXEC added); Finish closes the descriptor.
func (c *Chaos) Open(path string, flags int) int {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		c.T.Fatal(err)
	}
	c.raw = append(c.raw, fd)
	return fd
}

// Pipe returns a pipe with a non-blocking write end (and read end, if
// nonblockRead); Finish closes it.
func (c *Chaos) Pipe(nonblockRead bool) [2]int {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		c.T.Fatal(err)
	}
	unix.SetNonblock(p[1], true)
	if nonblockRead {
		unix.SetNonblock(p[0], true)
	}
	c.raw = append(c.raw, p[0], p[1])
	return p
}

// Errorf reports an error of the round, with its seed.
func (c *Chaos) Errorf(format string, args ...any) {
	c.T.Helper()
	if c.nerr.Add(1) > 20 {
		return
	}
	c.T.Errorf("seed %d: "+format, append([]any{c.Seed}, args...)...)
}

// Hung reports a wait that did not end (see HangDump).
func (c *Chaos) Hung(format string, args ...any) {
	c.T.Helper()
	if c.HangDump != nil && !c.dumped.Swap(true) && !c.Closed.Load() {
		format += "\n" + c.HangDump() + GoroutineDump()
	}
	c.Errorf(format, args...)
}

// Await waits for h, at most ChaosHang; ok is false if it did not end.
func (c *Chaos) Await(h *completion.Handle, what string) (n int, err error, ok bool) {
	select {
	case <-h.Done():
	case <-time.After(ChaosHang):
		c.Hung("%s: handle not done after %v (queue closed %v, in flight %d)", what, ChaosHang, c.Closed.Load(), c.InFlight())
		return 0, nil, false
	}
	n, err = h.Result()
	return n, err, true
}

// Wait waits for h in a way r picks: Wait(nil); Wait with a context that
// ends after 0-2 ms (then for the completion); Cancel (or a context
// cancelled at once or after 0-0.5 ms); or a Wait bounded by ChaosHang.
// Blocking requests (that may never complete by themselves) get Wait(nil)
// less often. It returns the completion's result and whether it may have
// been cancelled; ok is false if the wait hung (reported).
func (c *Chaos) Wait(r *rand.Rand, h *completion.Handle, what string, blocking bool) (n int, err error, cancelled, ok bool) {
	mode := r.IntN(4)
	if blocking && mode == 0 && r.IntN(2) == 0 {
		mode = 1 + r.IntN(3)
	}
	if c.NoCancel && (mode == 1 || mode == 2) {
		mode = 3
	}
	switch mode {
	case 0:
		done := make(chan struct{})
		var wn int
		var werr error
		go func() { wn, werr = h.Wait(nil); close(done) }()
		select {
		case <-done:
		case <-time.After(ChaosHang):
			c.Hung("%s: Wait(nil) did not return after %v (queue closed %v)", what, ChaosHang, c.Closed.Load())
			return 0, nil, false, false
		}
		n2, err2 := h.Result()
		if !h.IsDone() || n2 != wn || err2 != werr && !errors.Is(err2, werr) {
			c.Errorf("%s: Wait(nil) = %d, %v but Result = %d, %v (done %v)", what, wn, werr, n2, err2, h.IsDone())
		}
		return wn, werr, false, true
	case 1, 2:
		if mode == 2 && c.Cancel != nil {
			if r.IntN(2) == 0 {
				time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
			}
			n, err, ok = c.Cancel(h, what)
			return n, err, true, ok
		}
		var ctx context.Context
		var cancel context.CancelFunc
		if mode == 1 {
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(r.IntN(2000))*time.Microsecond)
		} else {
			ctx, cancel = context.WithCancel(context.Background())
			if r.IntN(2) == 0 {
				d := time.Duration(r.IntN(500)) * time.Microsecond
				go func() { time.Sleep(d); cancel() }()
			} else {
				cancel()
			}
		}
		wn, werr := h.Wait(ctx)
		cancel()
		if werr != nil && (errors.Is(werr, context.DeadlineExceeded) || errors.Is(werr, context.Canceled)) {
			n, err, ok = c.Await(h, what+" after ctx")
			return n, err, true, ok
		}
		n, err, ok = c.Await(h, what)
		if ok && (n != wn || err != werr && !errors.Is(err, werr)) {
			c.Errorf("%s: Wait(ctx) = %d, %v but Result = %d, %v", what, wn, werr, n, err)
		}
		return wn, werr, false, ok
	default:
		ctx, cancel := context.WithTimeout(context.Background(), ChaosHang)
		n, err = h.Wait(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			c.Hung("%s: Wait did not return in %v (queue closed %v)", what, ChaosHang, c.Closed.Load())
			return 0, nil, false, false
		}
		return n, err, false, true
	}
}

// Do checks the submit error err (SubmitErr) and, if h was submitted,
// waits for it (Wait); ok is false if nothing was submitted or the wait hung.
func (c *Chaos) Do(r *rand.Rand, what string, blocking bool, h *completion.Handle, err error) (n int, rerr error, cancelled, ok bool) {
	if !c.SubmitErr(what, err) {
		return 0, nil, false, false
	}
	return c.Wait(r, h, what, blocking)
}

// DoZero is Do for a request that completes with 0 (NOP, fsync).
func (c *Chaos) DoZero(r *rand.Rand, what string, h *completion.Handle, err error) {
	n, err, canc, ok := c.Do(r, what, false, h, err)
	if ok && !(err == nil && n == 0 || c.CancelErr(err, canc)) {
		c.Errorf("%s: %d, %v", what, n, err)
	}
}

// IsCancelErr reports whether err is one of CancelErrs.
func (c *Chaos) IsCancelErr(err error) bool {
	for _, e := range c.CancelErrs {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// CancelErr reports whether err is what a cancelled (or Close-cancelled)
// request may report instead of its result.
func (c *Chaos) CancelErr(err error, cancelled bool) bool {
	if c.IsCancelErr(err) {
		return cancelled || c.Closed.Load()
	}
	return errors.Is(err, completion.ErrClosed) && c.Closed.Load()
}

// SubmitErr checks an error from a submitting method; it reports whether
// the caller should go on (false: nothing was submitted).
func (c *Chaos) SubmitErr(what string, err error) bool {
	if err == nil {
		return true
	}
	switch {
	case errors.Is(err, completion.ErrBusy):
		runtime.Gosched()
	case errors.Is(err, completion.ErrClosed):
		if !c.Closed.Load() {
			c.Errorf("%s: ErrClosed before Close", what)
		}
	default:
		for _, e := range c.RetryErrs {
			if errors.Is(err, e) {
				runtime.Gosched()
				return false
			}
		}
		c.Errorf("%s: submit: %v", what, err)
	}
	return false
}

// CheckRead checks a read of len(buf) bytes at off of the data file that
// completed with n, err: the bytes, and no short read unless it ended at
// the end of the file (or, with ShortOnCancel, was cancelled).
func (c *Chaos) CheckRead(what string, buf []byte, off int, n int, err error, cancelled bool) {
	want := min(len(buf), max(0, len(c.Content)-off))
	switch {
	case err != nil:
		if !c.CancelErr(err, cancelled) {
			c.Errorf("%s at %d len %d: %v", what, off, len(buf), err)
		}
	case n > want || n < 0:
		c.Errorf("%s at %d len %d: n = %d, want <= %d", what, off, len(buf), n, want)
	case !bytes.Equal(buf[:n], c.Content[off:off+n]):
		c.Errorf("%s at %d len %d: n = %d, bytes differ from the file", what, off, len(buf), n)
	case n < want && !(c.ShortOnCancel && (cancelled || c.Closed.Load())):
		c.Errorf("%s at %d len %d: short read %d of %d", what, off, len(buf), n, want)
	}
}

// wrote reports whether a write of ln bytes that completed with n, err
// (err nil or a CancelErr) is plausible.
func (c *Chaos) wrote(n, ln int, err error, cancelled bool) bool {
	if err != nil {
		return c.CancelErr(err, cancelled)
	}
	return n == ln || c.ShortOnCancel && (cancelled || c.Closed.Load()) && n >= 0 && n < ln
}

// BufferedRead reads 1-12 KiB at a random offset of BufFd, up to its end,
// and checks the bytes.
func (c *Chaos) BufferedRead(r *rand.Rand, read ChaosIO) {
	off := min(r.IntN(ChaosFileSize+8192), ChaosFileSize)
	buf := bytes.Repeat([]byte{0xEE}, 1+r.IntN(3*ChaosBlock))
	h, err := read(c.BufFd, buf, int64(off))
	if n, err, canc, ok := c.Do(r, "read", false, h, err); ok {
		c.CheckRead("read", buf, off, n, err, canc)
	}
}

// DirectRead reads 1-4 aligned blocks of DirFd and checks the bytes.
func (c *Chaos) DirectRead(r *rand.Rand, read ChaosIO) {
	off := r.IntN(ChaosFileSize/ChaosBlock) * ChaosBlock
	buf := AlignedBuf(ChaosBlock * (1 + r.IntN(4)))
	for j := range buf {
		buf[j] = 0xEE
	}
	h, err := read(c.DirFd, buf, int64(off))
	if n, err, canc, ok := c.Do(r, "direct read", false, h, err); ok {
		c.CheckRead("direct read", buf, off, n, err, canc)
	}
}

// Rewrite writes bytes the data files already hold: 1-8 KiB to BufFd, or
// an aligned block to DirFd.
func (c *Chaos) Rewrite(r *rand.Rand, write ChaosIO) {
	fd, what := c.BufFd, "write"
	off := r.IntN(ChaosFileSize - 1)
	ln := 1 + r.IntN(min(2*ChaosBlock, ChaosFileSize-off))
	var buf []byte
	if r.IntN(2) == 0 {
		fd, what = c.DirFd, "direct write"
		off = r.IntN(ChaosFileSize/ChaosBlock) * ChaosBlock
		ln = ChaosBlock
		buf = AlignedBuf(ln)
	} else {
		buf = make([]byte, ln)
	}
	copy(buf, c.Content[off:off+ln])
	h, err := write(fd, buf, int64(off))
	n, err, canc, ok := c.Do(r, what, false, h, err)
	if ok && !c.wrote(n, ln, err, canc) {
		c.Errorf("%s at %d len %d: %d, %v", what, off, ln, n, err)
	}
}

// Vectored rewrites (writev) or reads (readv) two pieces of BufFd.
func (c *Chaos) Vectored(r *rand.Rand, readv, writev ChaosIOV) {
	off := r.IntN(ChaosFileSize - 2*ChaosBlock)
	a, b := make([]byte, 1+r.IntN(ChaosBlock)), make([]byte, 1+r.IntN(ChaosBlock))
	if r.IntN(2) == 0 {
		copy(a, c.Content[off:])
		copy(b, c.Content[off+len(a):])
		h, err := writev(c.BufFd, [][]byte{a, b}, int64(off))
		n, err, canc, ok := c.Do(r, "writev", false, h, err)
		if ok && !c.wrote(n, len(a)+len(b), err, canc) {
			c.Errorf("writev: %d, %v", n, err)
		}
		return
	}
	h, err := readv(c.BufFd, [][]byte{a, b}, int64(off))
	if n, err, canc, ok := c.Do(r, "readv", false, h, err); ok {
		c.CheckRead("readv", append(append([]byte{}, a...), b...), off, n, err, canc)
	}
}

// PipeRead reads up to 64 bytes of one of pipes (fed by the round), with
// read given the read end and offset 0; the bytes must be the feeders'.
// also are errors the read may report besides CancelErr ones.
func (c *Chaos) PipeRead(r *rand.Rand, what string, pipes [][2]int, blocking bool, read ChaosIO, also ...error) {
	p := pipes[r.IntN(len(pipes))]
	buf := make([]byte, 1+r.IntN(64))
	h, err := read(p[0], buf, 0)
	n, err, canc, ok := c.Do(r, what, blocking, h, err)
	if !ok || err == nil && n > 0 && n <= len(buf) && PipeBytesOK(buf[:n]) || err != nil && c.CancelErr(err, canc) {
		return
	}
	for _, e := range also {
		if err != nil && errors.Is(err, e) {
			return
		}
	}
	c.Errorf("%s: %d, %v (%q)", what, n, err, buf)
}

// FileSpan picks where a File call reads or writes: an aligned offset and
// 1-3 blocks (direct, for an O_DIRECT File), or any offset and 1-12 KiB.
func FileSpan(r *rand.Rand, direct bool) (off, ln int) {
	if direct {
		off = r.IntN(ChaosFileSize/ChaosBlock) * ChaosBlock
		return off, ChaosBlock * (1 + r.IntN(3))
	}
	off = r.IntN(ChaosFileSize)
	return off, 1 + r.IntN(3*ChaosBlock)
}

// FileBuf is FileSpan with a buffer of ln bytes (aligned if direct).
func FileBuf(r *rand.Rand, direct bool) (off, ln int, buf []byte) {
	off, ln = FileSpan(r, direct)
	if direct {
		return off, ln, AlignedBuf(ln)
	}
	return off, ln, make([]byte, ln)
}

// FileCtx returns a context for a File call: one that ends after 0-2 ms
// (withCtx) half of the time unless NoCancel, else one that does not end.
func (c *Chaos) FileCtx(r *rand.Rand) (ctx context.Context, cancel context.CancelFunc, withCtx bool) {
	if r.IntN(2) == 0 && !c.NoCancel {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(r.IntN(2000))*time.Microsecond)
		return ctx, cancel, true
	}
	return context.Background(), func() {}, false
}

// FileCall runs a File method, bounded by ChaosHang; ok is false if it
// did not return (reported).
func (c *Chaos) FileCall(f func() (int, error)) (n int, err error, ok bool) {
	type res struct {
		n   int
		err error
	}
	ch := make(chan res, 1)
	go func() { n, err := f(); ch <- res{n, err} }()
	select {
	case x := <-ch:
		return x.n, x.err, true
	case <-time.After(ChaosHang):
		c.Hung("File call did not return in %v (queue closed %v)", ChaosHang, c.Closed.Load())
		return 0, nil, false
	}
}

// FileErr reports whether err is an error a File call may return in a
// chaos round: its context ended (withCtx), the queue closed, or (see
// FilesClosed, CtxCancels) the File closed or the request was cancelled.
func (c *Chaos) FileErr(err error, withCtx bool) bool {
	switch {
	case errors.Is(err, fs.ErrClosed):
		return c.FilesClosed
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return withCtx
	case c.IsCancelErr(err):
		return c.Closed.Load() || withCtx && c.CtxCancels
	case errors.Is(err, completion.ErrClosed):
		return c.Closed.Load()
	}
	return false
}

// CheckFileIO checks a File read or write (write) of ln bytes at off
// (buf: the read's buffer) that returned n, err; fullN tells whether n is
// what a call that returned no error must return.
func (c *Chaos) CheckFileIO(fi, off, ln int, buf []byte, n int, err error, withCtx, write, fullN bool) {
	want := min(ln, len(c.Content)-off)
	switch {
	case n < 0 || n > want:
		c.Errorf("File %d at %d len %d: n = %d, %v", fi, off, ln, n, err)
	case err == nil && !fullN, err == io.EOF && n != want:
		c.Errorf("File %d at %d len %d: n = %d, %v", fi, off, ln, n, err)
	case err != nil && err != io.EOF && !c.FileErr(err, withCtx):
		c.Errorf("File %d at %d len %d: n = %d, %v", fi, off, ln, n, err)
	}
	// The read bytes (a write's n bytes are the file's anyway); after a
	// ctx error the request may still write into buf later.
	if !write && (err == nil || err == io.EOF) && n >= 0 && n <= len(buf) && n <= want && !bytes.Equal(buf[:n], c.Content[off:off+n]) {
		c.Errorf("File %d read at %d len %d: n = %d, bytes differ from the file", fi, off, ln, n)
	}
}

// Go runs f in the background until the round's run phase ends (stop is
// closed then); Run waits for it.
func (c *Chaos) Go(f func(stop <-chan struct{})) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		f(c.stopBG)
	}()
}

// FeedPipes writes 1-48 'P' bytes to each pipe every 0.1-2.1 ms until the
// run phase ends (or, with FeedUntilClosed, Queue.Close returned).
func (c *Chaos) FeedPipes(pipes [][2]int) {
	for i, p := range pipes {
		pr := rand.New(rand.NewPCG(c.Seed, uint64(100+i)))
		c.feed.Add(1)
		go func() {
			defer c.feed.Done()
			for {
				select {
				case <-c.stopFd:
					return
				case <-time.After(time.Duration(100+pr.IntN(2000)) * time.Microsecond):
				}
				unix.Write(p[1], bytes.Repeat([]byte{'P'}, 1+pr.IntN(48)))
			}
		}()
	}
}

// WakeLater writes a byte to fd (a pipe's write end, to wake polls of
// its read end) after 0-40 ms, or when the run phase ends if earlier.
func (c *Chaos) WakeLater(r *rand.Rand, fd int) {
	at := time.Duration(r.IntN(40)) * time.Millisecond
	c.Go(func(stop <-chan struct{}) {
		select {
		case <-stop:
		case <-time.After(at):
		}
		unix.Write(fd, []byte{'x'})
	})
}

// Run is the run phase of a round: GC pressure, 4-23 workers (worker, with
// their own rand) for 20-80 ms, Queue.Close (closeQueue) at a random moment
// or after the workers returned. It returns when the workers and the
// background goroutines have and closeQueue returned.
func (c *Chaos) Run(r *rand.Rand, closeQueue func() error, worker func(id int, r *rand.Rand)) {
	c.Go(func(stop <-chan struct{}) { // GC pressure
		gr := rand.New(rand.NewPCG(c.Seed, 7))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(gr.IntN(3000)) * time.Microsecond):
			}
			runtime.GC()
		}
	})
	c.runFor = time.Duration(20+r.IntN(60)) * time.Millisecond
	c.closeAt = time.Duration(-1)
	if r.IntN(4) != 0 {
		c.closeAt = time.Duration(r.Int64N(int64(c.runFor) * 6 / 5))
	}
	qclosed := make(chan error, 1)
	doClose := func() {
		c.Closed.Store(true)
		done := make(chan error, 1)
		go func() { done <- closeQueue() }()
		select {
		case err := <-done:
			qclosed <- err
		case <-time.After(ChaosHang):
			c.Hung("Queue.Close did not return in %v (in flight %d)\n%s", ChaosHang, c.InFlight(), GoroutineDump())
			qclosed <- nil
		}
	}
	if c.closeAt >= 0 {
		at := c.closeAt
		c.Go(func(<-chan struct{}) {
			time.Sleep(at)
			doClose()
		})
	}

	c.nw = 4 + r.IntN(20)
	var wg sync.WaitGroup
	for i := 0; i < c.nw; i++ {
		wr := rand.New(rand.NewPCG(c.Seed, uint64(1000+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					c.Errorf("worker %d panicked: %v\n%s", i, p, debug.Stack())
				}
			}()
			worker(i, wr)
		}()
	}
	time.Sleep(c.runFor)
	c.Stop.Store(true)
	wdone := make(chan struct{})
	go func() { wg.Wait(); close(wdone) }()
	select {
	case <-wdone:
	case <-time.After(ChaosRoundMax):
		c.T.Fatalf("seed %d: workers still running %v after the round ended\n%s", c.Seed, ChaosRoundMax, GoroutineDump())
	}
	close(c.stopBG)
	if !c.FeedUntilClosed {
		close(c.stopFd)
		c.feed.Wait()
	}
	c.bg.Wait()
	if c.closeAt < 0 {
		doClose()
	}
	if err := <-qclosed; err != nil {
		c.Errorf("Queue.Close: %v", err)
	}
	if c.FeedUntilClosed {
		close(c.stopFd)
		c.feed.Wait()
	}
}

// Finish closes the descriptors of Open and Pipe and checks that the round
// leaked no operations, pins (and, with CMem, C buffers), goroutines or
// descriptors, waiting up to five seconds for each; it logs what ran.
func (c *Chaos) Finish() {
	c.T.Helper()
	for _, fd := range c.raw {
		unix.Close(fd)
	}
	if !Settle(5*time.Second, func() bool {
		ops, pins := completion.Stats()
		return ops == c.ops0 && pins == c.pins0 && (!c.CMem || cmem.Live() == c.mem0)
	}) {
		ops, pins := completion.Stats()
		if c.CMem {
			c.Errorf("leak: live ops %d -> %d, pins %d -> %d, C buffers %d -> %d", c.ops0, ops, c.pins0, pins, c.mem0, cmem.Live())
		} else {
			c.Errorf("leak: live ops %d -> %d, pins %d -> %d", c.ops0, ops, c.pins0, pins)
		}
	}
	if !Settle(5*time.Second, func() bool { return runtime.NumGoroutine() <= c.g0 }) {
		c.Errorf("goroutines %d -> %d\n%s", c.g0, runtime.NumGoroutine(), GoroutineDump())
	}
	if !Settle(5*time.Second, func() bool { return FDCount() <= c.fd0 }) {
		c.Errorf("descriptors %d -> %d\n%s", c.fd0, FDCount(), ListFDs())
	}
	c.T.Logf("seed %d: %d workers, %d ops, ran %v, queue closed at %v", c.Seed, c.nw, c.Ops.Load(), c.runFor, c.closeAt)
}
