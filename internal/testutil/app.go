package testutil

// Helpers of the application-style scenarios (app_scenarios_test.go of
// uring, libaio and posixaio): content that shows where every word came
// from, replayable seeds, contexts that end at random, pipes and data
// files, hang guards, collector pressure and guarded buffers; and the
// scenarios libaio and posixaio share, each backend passing what differs
// (which API is called, its descriptors and buffers, its error
// expectations): a parallel copy (AppCopy), readers and writers under GC
// pressure (AppGCReaders, AppGCWriters), Close under load (AppLoad) and a
// writer of bursts to pipes (AppPipeWriter).

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
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// AppHang bounds one phase of a scenario (all workers returning, a Close).
const AppHang = 30 * time.Second

// AppContent returns n bytes (n a multiple of 8) whose 8-byte word at offset
// 8i depends on i and seed alone and differs from every other word of the
// file (the multiplier is odd, so i -> word is a bijection): data from a
// wrong offset, shifted or torn never matches.
func AppContent(n int, seed uint64) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(i/8)*0x9E3779B97F4A7C15+seed)
	}
	return b
}

// AppSeed returns a seed for a scenario's random choices, logged so that a
// failure can be replayed with AIOKIT_APP_SEED.
func AppSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("AIOKIT_APP_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatalf("AIOKIT_APP_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (AIOKIT_APP_SEED=%d replays it)", seed, seed)
	return seed
}

// ErrAppHung is AppAwait's error for a handle not done in time.
var ErrAppHung = errors.New("handle not done 10 s after its request was made")

// AppAwait waits for h for at most 10 s (a hang guard, callable from any
// goroutine) and returns its result, or ErrAppHung.
func AppAwait(h *completion.Handle) (int, error) {
	select {
	case <-h.Done():
		return h.Result()
	case <-time.After(10 * time.Second):
		return 0, ErrAppHung
	}
}

// AppCtx returns the context of attempt number attempt of one request: none
// on half the attempts and from the fourth on (so that every request gets
// through), else one that ends after 0-2 ms, often while the request is in
// flight.
func AppCtx(r *rand.Rand, attempt int) (context.Context, context.CancelFunc) {
	if attempt >= 3 || r.IntN(2) == 0 {
		if r.IntN(2) == 0 {
			// No Done channel: Handle.Wait takes its other path (the table's
			// waiter, then the gate).
			return context.Background(), func() {}
		}
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), time.Duration(r.IntN(2000))*time.Microsecond)
}

// IsCtxErr reports whether err is a context's error.
func IsCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// AppDataFile writes content to a new file name in dir, flushes it, drops it
// from the page cache (so that reads of it really wait for the device) and
// returns its path.
func AppDataFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fd := AppOpen(t, path, unix.O_RDONLY)
	unix.Fdatasync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	return path
}

// AppOpen opens path (O_CLOEXEC added) and closes it at cleanup.
func AppOpen(t testing.TB, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// AppPipe is a pipe whose write end the test may close early (EOF for the
// reader); cleanup closes only what is still open, so that it never closes a
// number reused by another descriptor meanwhile.
type AppPipe struct {
	R, W int // W is -1 once CloseW closed it
	wmu  sync.Mutex
}

// NewAppPipe makes a pipe (O_CLOEXEC), its read end O_NONBLOCK if
// nonblockRead, closed at cleanup.
func NewAppPipe(t testing.TB, nonblockRead bool) *AppPipe {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if nonblockRead {
		if err := unix.SetNonblock(p[0], true); err != nil {
			t.Fatal(err)
		}
	}
	ap := &AppPipe{R: p[0], W: p[1]}
	t.Cleanup(func() {
		unix.Close(ap.R)
		ap.CloseW()
	})
	return ap
}

// CloseW closes the write end, once.
func (p *AppPipe) CloseW() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.W >= 0 {
		unix.Close(p.W)
		p.W = -1
	}
}

// AppWaitGroup waits for wg, failing the test with every goroutine's stack
// after AppHang.
func AppWaitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	if !WaitGroupWithin(wg, AppHang) {
		t.Fatalf("%s still running after %v\n%s", what, AppHang, GoroutineDump())
	}
}

// WaitGroupWithin waits for wg at most d and reports whether it was done.
func WaitGroupWithin(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// AppData starts a scenario on a data file: it checks leaks (CheckLeaks),
// logs a seed (AppSeed) and writes size bytes of AppContent(size, seed|1),
// out of the page cache (AppDataFile), to a file name in a TempDir (which
// skips, by name, where O_DIRECT is refused). It returns the seed, the
// content, the directory and the file's path.
func AppData(t *testing.T, size int, name string) (seed uint64, content []byte, dir, path string) {
	t.Helper()
	CheckLeaks(t)
	seed = AppSeed(t)
	dir = TempDir(t)
	content = AppContent(size, seed|1)
	return seed, content, dir, AppDataFile(t, dir, name, content)
}

// AppQueue is what the shared scenarios need of a backend's Queue.
type AppQueue interface {
	Close() error
	InFlight() int
}

// AppFile is what the shared scenarios need of a File of libaio or
// posixaio.
type AppFile interface {
	Fd() int
	ReadAt(p []byte, off int64) (int, error)
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64) (int, error)
	Sync() error
	Datasync() error
}

// AppCopy is the parallel file copy of libaio's and posixaio's scenarios:
// Run's workers take the Chunk-byte chunks of Content in random order and
// copy each through one of the Files (into a Go buffer) or with handles on
// one of their descriptors (into a C buffer of the worker's, reused only once
// its handle is done), with contexts that end at random (AppCtx); a chunk
// whose read or write ended with its context is copied again. Set Src, Dst,
// GoBuf and Submit before Run.
type AppCopy struct {
	Seed             uint64
	Content          []byte
	Chunk            int
	SrcPath, DstPath string
	Flags            int // O_DIRECT for a direct copy, else 0: open the files with it

	// Src and Dst are the Files of the source and the copy; an attempt picks
	// one at random where there are several.
	Src, Dst []AppFile
	// GoBuf returns a fresh Go buffer of Chunk bytes for the File path; a
	// buffer whose File call ended with its context is never touched again
	// (the request may still read into it or write from it).
	GoBuf func(r *rand.Rand) []byte
	// Submit starts the handle path's read (or write) of all of buf at off on
	// fd. A handle whose context ended is cancelled by Wait: it must still
	// complete, with ECANCELED or its count.
	Submit func(r *rand.Rand, write bool, fd int, buf []byte, off int64) (*completion.Handle, error)

	timeouts atomic.Int64 // attempts whose context ended before their request
	late     atomic.Int64 // of those, handles that still completed with the data
}

// NewAppCopy prepares a copy of size bytes in chunks of chunk bytes: the
// source as AppData writes it, and the name of the copy beside it, which the
// caller creates.
func NewAppCopy(t *testing.T, size, chunk int, direct bool) *AppCopy {
	t.Helper()
	c := &AppCopy{Chunk: chunk}
	var dir string
	c.Seed, c.Content, dir, c.SrcPath = AppData(t, size, "src")
	c.DstPath = filepath.Join(dir, "dst")
	if direct {
		c.Flags = unix.O_DIRECT
	}
	return c
}

// Run copies every chunk with workers goroutines and returns when they have
// (AppWaitGroup); a failed chunk fails the test and stops the copy.
func (c *AppCopy) Run(t *testing.T, workers int) {
	order := rand.New(rand.NewPCG(c.Seed, 0)).Perm(len(c.Content) / c.Chunk)
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		cb, err := cmem.Alloc(c.Chunk, 4096)
		if err != nil {
			t.Fatal(err)
		}
		w := &appCopier{c: c, r: rand.New(rand.NewPCG(c.Seed, uint64(g+1))), cbuf: cb}
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
	AppWaitGroup(t, &wg, "copy workers")
}

// Finish closes q, which waits for the requests that timed out and still
// run (at most AppHang), wants nothing in flight afterwards and the copy to
// equal the source byte for byte.
func (c *AppCopy) Finish(t *testing.T, q AppQueue) {
	t.Helper()
	if err := CloseWithin(t, q, AppHang, "Queue"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after Close", n)
	}
	got, err := os.ReadFile(c.DstPath)
	if err != nil {
		t.Fatal(err)
	}
	size := len(c.Content)
	if len(got) != size {
		t.Fatalf("copy has %d bytes, want %d", len(got), size)
	}
	for i := 0; i < size; i += c.Chunk {
		if !bytes.Equal(got[i:i+c.Chunk], c.Content[i:i+c.Chunk]) {
			t.Errorf("copy differs from the source in chunk %d", i/c.Chunk)
		}
	}
	t.Logf("%d attempts timed out (%d of their handles completed with the data later)", c.timeouts.Load(), c.late.Load())
}

// appCopier is one worker of an AppCopy: a C buffer for the handle path and
// a Go buffer for the File path, dropped after a timeout.
type appCopier struct {
	c    *AppCopy
	r    *rand.Rand
	cbuf *cmem.Buf
	gbuf []byte
}

func (w *appCopier) goBuf() []byte {
	if w.gbuf == nil {
		w.gbuf = w.c.GoBuf(w.r)
	}
	return w.gbuf
}

// copyChunk copies chunk idx, retrying it until one attempt got through both
// its read and its write without its context ending.
func (w *appCopier) copyChunk(idx int) error {
	c := w.c
	off := int64(idx) * int64(c.Chunk)
	want := c.Content[off : off+int64(c.Chunk)]
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

// rw reads or writes all of buf at off, through one of the Files or a handle
// on its descriptor, with the context of this attempt. It returns false, nil
// when the context ended first (retry), and an error for any result but the
// exact count.
func (w *appCopier) rw(useFile, write bool, buf []byte, off int64, attempt int) (bool, error) {
	c := w.c
	files := c.Src
	if write {
		files = c.Dst
	}
	f := files[0]
	if len(files) > 1 {
		f = files[w.r.IntN(len(files))]
	}
	ctx, cancel := AppCtx(w.r, attempt)
	defer cancel()
	if useFile {
		var n int
		var err error
		if write {
			n, err = f.WriteAtContext(ctx, buf, off)
		} else {
			n, err = f.ReadAtContext(ctx, buf, off)
		}
		if IsCtxErr(err) && ctx.Err() != nil {
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
		h, err = c.Submit(w.r, write, f.Fd(), buf, off)
		if err != completion.ErrBusy || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Microsecond) // every slot in flight
	}
	if err != nil {
		return false, fmt.Errorf("submit: %w", err)
	}
	n, err := h.Wait(ctx)
	if IsCtxErr(err) {
		// Cancelled: the handle must still complete, and only then may its
		// buffer be used again.
		c.timeouts.Add(1)
		n, err = AppAwait(h)
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

// AppGC keeps the collector busy until the returned stop is called, which
// waits for it: a goroutine calls runtime.GC back to back and, if garbage,
// another fills fresh buffers of 4-64 KiB with 0xEE (keeping up to 32).
func AppGC(garbage bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				runtime.GC()
			}
		}
	}()
	if garbage {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keep [][]byte
			for {
				select {
				case <-done:
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
	}
	return func() { close(done); wg.Wait() }
}

// AppFeed writes "PPPP" to fd (a pipe's write end) every 200 µs until the
// returned stop is called, which waits for it.
func AppFeed(fd int) (stop func()) {
	stopc := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stopc:
				return
			case <-time.After(200 * time.Microsecond):
			}
			unix.Write(fd, []byte("PPPP"))
		}
	}()
	return func() { close(stopc); <-done }
}

// AppGuarded is a read's buffer, Inner, framed in Whole by guard bytes
// (0xA5).
type AppGuarded struct{ Whole, Inner []byte }

// NewAppGuarded returns n bytes framed by 64 guard bytes on each side or, if
// aligned, by 4096 on each side, Inner at a multiple of 4096 (for O_DIRECT).
func NewAppGuarded(n int, aligned bool) AppGuarded {
	const guard = 64
	var g AppGuarded
	if aligned {
		g.Whole = AlignedBuf(n + 2*4096)
		g.Inner = g.Whole[4096 : 4096+n]
	} else {
		g.Whole = make([]byte, n+2*guard)
		g.Inner = g.Whole[guard : guard+n]
	}
	for i := range g.Whole {
		g.Whole[i] = 0xA5
	}
	return g
}

// AppGuardedOK reports whether gs hold content's bytes from off on, one after
// the other, and their guards are untouched.
func AppGuardedOK(gs []AppGuarded, content []byte, off int) bool {
	for _, g := range gs {
		start := int(uintptr(unsafe.Pointer(&g.Inner[0])) - uintptr(unsafe.Pointer(&g.Whole[0])))
		for i, x := range g.Whole {
			if (i < start || i >= start+len(g.Inner)) && x != 0xA5 {
				return false
			}
		}
		if !bytes.Equal(g.Inner, content[off:off+len(g.Inner)]) {
			return false
		}
		off += len(g.Inner)
	}
	return true
}

// AppInners returns the Inner buffers of gs.
func AppInners(gs []AppGuarded) [][]byte {
	bufs := make([][]byte, len(gs))
	for i, g := range gs {
		bufs[i] = g.Inner
	}
	return bufs
}

// AppGCRead is a read of a GC-pressure reader: into Bufs, one after the
// other, from Off, through the handle H, or (H nil) already done by
// File.ReadAt, which returned N, Err.
type AppGCRead struct {
	H    *completion.Handle
	Bufs []AppGuarded
	Off  int
	N    int
	Err  error
}

// NewAppGCRead prepares a read of a file of size bytes into a fresh guarded
// buffer: if direct, of 1-16 blocks of 4 KiB at an aligned offset into an
// aligned buffer (for O_DIRECT); else of 1-20000 bytes at any offset.
func NewAppGCRead(r *rand.Rand, size int, direct bool) AppGCRead {
	var p AppGCRead
	var n int
	if direct {
		n = 4096 * (1 + r.IntN(16))
		p.Off = 4096 * r.IntN((size-n)/4096)
	} else {
		n = 1 + r.IntN(20000)
		p.Off = r.IntN(size - n)
	}
	p.Bufs = []AppGuarded{NewAppGuarded(n, direct)}
	return p
}

// AppGCReaders starts readers goroutines on wg, reader g with the rand (seed,
// g+1), that each, rounds times, start 1-8 reads with read (one refused with
// ErrBusy is left out) and then wait for them (AppAwait): each read must
// fill its buffers with content's bytes from its offset on, exactly, and
// leave their guards alone.
func AppGCReaders(t *testing.T, wg *sync.WaitGroup, readers, rounds int, seed uint64, content []byte, read func(r *rand.Rand) (AppGCRead, error)) {
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for round := 0; round < rounds; round++ {
				var ps []AppGCRead
				for k := 1 + r.IntN(8); k > 0; k-- {
					p, err := read(r)
					if err == completion.ErrBusy {
						continue
					}
					if err != nil {
						t.Errorf("reader %d: submit: %v", g, err)
						return
					}
					if p.H == nil {
						if n := len(p.Bufs[0].Inner); p.Err != nil || p.N != n || !AppGuardedOK(p.Bufs, content, p.Off) {
							t.Errorf("reader %d: File.ReadAt at %d: %d, %v, or wrong bytes or guards", g, p.Off, p.N, p.Err)
							return
						}
						continue
					}
					ps = append(ps, p)
				}
				for _, p := range ps {
					want := 0
					for _, b := range p.Bufs {
						want += len(b.Inner)
					}
					n, err := AppAwait(p.H)
					if err != nil || n != want || !AppGuardedOK(p.Bufs, content, p.Off) {
						t.Errorf("reader %d: read of %d at %d into %d buffers: %d, %v, or wrong bytes or guards", g, want, p.Off, len(p.Bufs), n, err)
						return
					}
				}
			}
		}(g)
	}
}

// AppGCWriters starts writers goroutines on wg: writer g, with the rand
// (seed, 100+g), writes the 64 KiB blocks g, g+writers, ... of content once,
// in pieces of 4-64 KiB, up to 8 in flight, holding only their handles. A
// piece of n bytes at off is started with write, which copies
// content[off:off+n] into a fresh buffer and keeps no reference to it (it is
// called again on ErrBusy); its handle must complete with n.
func AppGCWriters(t *testing.T, wg *sync.WaitGroup, writers int, seed uint64, content []byte, write func(r *rand.Rand, off, n int) (*completion.Handle, error)) {
	size := len(content)
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(100+g)))
			var hs []*completion.Handle
			var wants []int
			flush := func() bool {
				for i, h := range hs {
					if n, err := AppAwait(h); err != nil || n != wants[i] {
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
						if h, err = write(r, off, n); err != completion.ErrBusy {
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
}

// AppCheckWritten fails the test unless the file at path holds content,
// compared in blocks of 4 KiB.
func AppCheckWritten(t testing.TB, path string, content []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(content); i += 4096 {
		if !bytes.Equal(got[i:i+4096], content[i:i+4096]) {
			t.Fatalf("written file differs from the data at block %d (offset %d): a buffer freed or reused in flight?", i/4096, i)
		}
	}
}

// ErrAppStop is what a step of an AppLoad worker returns when it has
// reported a failure (Fail): the worker stops.
var ErrAppStop = errors.New("worker stopped after a reported failure")

// AppLoad is the frame of the Close-under-load scenarios of libaio and
// posixaio: a data file and a scratch file, workers that keep submitting
// until the queue refuses with ErrClosed, the count of requests done, and
// the checks once Close returned.
type AppLoad struct {
	T                     *testing.T
	Seed                  uint64
	Content               []byte // what the data and the scratch file hold
	DataPath, ScratchPath string
	Sfd                   int // the scratch file, O_RDWR
	// CanceledOnClose: a request may also end with ECANCELED once Close
	// began (Result).
	CanceledOnClose bool

	Ops     atomic.Int64 // requests done with their result checked
	Closing atomic.Bool  // Close is about to be called, or was

	wg      sync.WaitGroup
	lastErr []error
	g0, fd0 int
}

// NewAppLoad starts a Close-under-load scenario: the data file as AppData
// writes it, and a scratch file beside it with the same content (out of the
// page cache too), opened as Sfd. The caller opens what else it needs, then
// calls Mark.
func NewAppLoad(t *testing.T, size int) *AppLoad {
	t.Helper()
	l := &AppLoad{T: t}
	var dir string
	l.Seed, l.Content, dir, l.DataPath = AppData(t, size, "data")
	l.ScratchPath = AppDataFile(t, dir, "scratch", l.Content)
	l.Sfd = AppOpen(t, l.ScratchPath, unix.O_RDWR)
	return l
}

// Mark records the goroutines and descriptors there are now, which Check
// wants back after Close.
func (l *AppLoad) Mark() { l.g0, l.fd0 = runtime.NumGoroutine(), FDCount() }

// AppWorker is a worker of an AppLoad: G is its number, R its rand.
type AppWorker struct {
	G int
	R *rand.Rand
	l *AppLoad
}

// Fail reports a failure of the worker (its number and kind, G%8).
func (w *AppWorker) Fail(format string, args ...any) {
	w.l.T.Errorf("worker %d (kind %d): %s", w.G, w.G%8, fmt.Sprintf(format, args...))
}

// Result checks a request's result with ok (or, with CanceledOnClose,
// ECANCELED once Close began) and counts it; it reports a failure and
// returns false otherwise.
func (w *AppWorker) Result(what string, n int, err error, ok func(n int, err error) bool) bool {
	l := w.l
	if l.CanceledOnClose && errors.Is(err, unix.ECANCELED) && l.Closing.Load() || ok(n, err) {
		l.Ops.Add(1)
		return true
	}
	w.Fail("%s: %d, %v (closing %v)", what, n, err, l.Closing.Load())
	return false
}

// Await checks that a submitted request ends (AppAwait), with Result.
func (w *AppWorker) Await(h *completion.Handle, what string, ok func(n int, err error) bool) bool {
	n, err := AppAwait(h)
	return w.Result(what, n, err, ok)
}

// CtxRead reads 1 B to 64 KiB at a random offset of f (a File of the data
// file) with a context that may end (AppCtx). It returns where and what it
// read, whether the context had ended when the call returned, and the call's
// result.
func (w *AppWorker) CtxRead(f AppFile) (off int, buf []byte, ended bool, n int, err error) {
	ln := 1 + w.R.IntN(64<<10)
	off = w.R.IntN(len(w.l.Content) - ln)
	buf = make([]byte, ln)
	ctx, cancel := AppCtx(w.R, 0)
	n, err = f.ReadAtContext(ctx, buf, int64(off))
	ended = ctx.Err() != nil
	cancel()
	return off, buf, ended, n, err
}

// Read checks a read of len(buf) bytes at off of the data file that ended
// with n, err: Result with AppFull, then, without an error, the bytes.
func (w *AppWorker) Read(what string, buf []byte, off, n int, err error) bool {
	if !w.Result(what, n, err, AppFull(len(buf))) {
		return false
	}
	if err == nil && !bytes.Equal(buf, w.l.Content[off:off+len(buf)]) {
		w.Fail("%s at %d: wrong bytes", what, off)
		return false
	}
	return true
}

// AwaitRead is Read of h's result (AppAwait).
func (w *AppWorker) AwaitRead(h *completion.Handle, what string, buf []byte, off int) bool {
	n, err := AppAwait(h)
	return w.Read(what, buf, off, n, err)
}

// AppFull is a result check: no error and a count of want.
func AppFull(want int) func(int, error) bool {
	return func(n int, err error) bool { return err == nil && n == want }
}

// Go starts workers goroutines, worker g with the rand (Seed, g+1), each
// calling step again and again: after ErrBusy (and a Gosched) it goes on;
// ErrAppStop stops it; any other error stops it too, kept for Check, which
// wants ErrClosed.
func (l *AppLoad) Go(workers int, step func(w *AppWorker) error) {
	l.lastErr = make([]error, workers)
	for g := 0; g < workers; g++ {
		l.wg.Add(1)
		go func(g int) {
			defer l.wg.Done()
			w := &AppWorker{G: g, R: rand.New(rand.NewPCG(l.Seed, uint64(g+1))), l: l}
			for {
				err := step(w)
				if err == completion.ErrBusy {
					runtime.Gosched()
					continue
				}
				if err == ErrAppStop {
					return
				}
				if err != nil {
					l.lastErr[g] = err
					return
				}
			}
		}(g)
	}
}

// Close waits until the workers have done 300 requests (10 s at most), sets
// Closing, closes q under them (at most AppHang) and returns what q had in
// flight right after Close returned.
func (l *AppLoad) Close(q AppQueue) (inflight int) {
	t := l.T
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.Ops.Load() < 300; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests done in 10 s before Close", l.Ops.Load())
		}
	}
	l.Closing.Store(true)
	if err := CloseWithin(t, q, AppHang, "Queue under load"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return q.InFlight()
}

// Wait waits for the workers (AppWaitGroup).
func (l *AppLoad) Wait() { AppWaitGroup(l.T, &l.wg, "workers after Close") }

// Check checks the end of the scenario, once the workers returned: nothing
// was in flight after Close (inflight); every worker stopped with ErrClosed;
// every request method of calls gives ErrClosed and no handle, and so do
// fileB's ReadAt (a buffered File), fileD's ReadAtContext (an O_DIRECT one)
// and fileS's WriteAt, Sync and Datasync (buf is what they are given); the
// goroutines and descriptors are back to Mark's; and the scratch file, which
// the workers rewrote with its own bytes, still holds Content.
func (l *AppLoad) Check(inflight int, calls map[string]func() (*completion.Handle, error), fileB, fileD, fileS AppFile, buf []byte) {
	t := l.T
	t.Helper()
	if inflight != 0 {
		t.Errorf("%d requests in flight after Close returned", inflight)
	}
	for g, err := range l.lastErr {
		if !errors.Is(err, completion.ErrClosed) {
			t.Errorf("worker %d (kind %d) stopped with %v, want ErrClosed", g, g%8, err)
		}
	}
	for name, call := range calls {
		if h, err := call(); h != nil || !errors.Is(err, completion.ErrClosed) {
			t.Errorf("%s after Close: %v, %v; want nil, ErrClosed", name, h, err)
		}
	}
	if _, err := fileB.ReadAt(buf, 0); !errors.Is(err, completion.ErrClosed) {
		t.Errorf("File.ReadAt (cached) after Close: %v", err)
	}
	if _, err := fileD.ReadAtContext(context.Background(), buf, 0); !errors.Is(err, completion.ErrClosed) {
		t.Errorf("File.ReadAtContext (O_DIRECT) after Close: %v", err)
	}
	if _, err := fileS.WriteAt(buf, 0); !errors.Is(err, completion.ErrClosed) {
		t.Errorf("File.WriteAt after Close: %v", err)
	}
	if err := fileS.Sync(); !errors.Is(err, completion.ErrClosed) {
		t.Errorf("File.Sync after Close: %v", err)
	}
	if err := fileS.Datasync(); !errors.Is(err, completion.ErrClosed) {
		t.Errorf("File.Datasync after Close: %v", err)
	}
	if !Settle(5*time.Second, func() bool { return runtime.NumGoroutine() <= l.g0 }) {
		t.Errorf("goroutines %d -> %d after Close\n%s", l.g0, runtime.NumGoroutine(), GoroutineDump())
	}
	if fd := FDCount(); fd != l.fd0 {
		t.Errorf("descriptors %d -> %d after Close\n%s", l.fd0, fd, ListFDs())
	}
	got, err := os.ReadFile(l.ScratchPath)
	if err != nil || !bytes.Equal(got, l.Content) {
		t.Errorf("scratch file after the rewrites differs from its content (%v)", err)
	}
	t.Logf("%d requests done before Close returned", l.Ops.Load())
}

// AppPipeWriter starts a goroutine on wg, with the rand (seed, 0), that
// writes to the pipes ps in bursts until each has had total bytes, then
// closes its write end (CloseW): it picks a pipe that has not had them yet at
// random, writes burst(r, i, sent) to pipe i (its next bytes: sent have gone
// before) in one write(2), which must take all of them, and after one burst
// in oneIn sleeps for 0 to maxPause (whole microseconds).
func AppPipeWriter(t testing.TB, wg *sync.WaitGroup, seed uint64, ps []*AppPipe, total int, burst func(r *rand.Rand, i, sent int) []byte, oneIn int, maxPause time.Duration) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 0))
		sent := make([]int, len(ps))
		for open := len(ps); open > 0; {
			i := r.IntN(len(ps))
			if sent[i] == total {
				continue
			}
			b := burst(r, i, sent[i])
			if n, err := unix.Write(ps[i].W, b); n != len(b) || err != nil {
				t.Errorf("pipe %d: write %d bytes: %d, %v", i, len(b), n, err)
				return
			}
			if sent[i] += len(b); sent[i] == total {
				ps[i].CloseW()
				open--
			}
			if r.IntN(oneIn) == 0 {
				time.Sleep(time.Duration(r.IntN(int(maxPause/time.Microsecond))) * time.Microsecond)
			}
		}
	}()
}

// AppStartSpans is the scheduling step of the raw batch copies: while the
// file has bytes not yet handed out (*next < size), it gives the next spans,
// one each, to a random subset (in random order, at least one) of the nslots
// slots for which busy is false. A span is a random multiple of block up to
// maxIO (maxIO itself one time in three), cut at the file's end rounded up
// to a whole block; start(i, off, n) takes slot i for the n bytes at off,
// and *next moves past them.
func AppStartSpans(r *rand.Rand, nslots int, busy func(i int) bool, next *int, size, block, maxIO int, start func(i, off, n int)) {
	var idle []int
	for i := 0; i < nslots; i++ {
		if !busy(i) {
			idle = append(idle, i)
		}
	}
	if *next >= size || len(idle) == 0 {
		return
	}
	r.Shuffle(len(idle), func(a, b int) { idle[a], idle[b] = idle[b], idle[a] })
	for _, i := range idle[:1+r.IntN(len(idle))] {
		if *next >= size {
			return
		}
		n := block * (1 + r.IntN(maxIO/block))
		if r.IntN(3) == 0 {
			n = maxIO
		}
		n = min(n, (size-*next+block-1)/block*block)
		off := *next
		*next += n
		start(i, off, n)
	}
}

// AppCopySpan is one slot of a raw batch copy: the span of the file it
// copies (Want bytes at Off, from AppStartSpans), whether it is writing the
// span back (else reading it), and how many bytes of that step are done.
type AppCopySpan struct {
	Busy, Write     bool
	Off, Want, Done int
}

// AppCopyTally is what a raw batch copy's completions have accounted for:
// the bytes of the file copied (whole spans), and the short reads at the
// end of the file.
type AppCopyTally struct{ Written, ShortEOF int }

// Step is the per-completion step of the raw batch copies, for a request of
// s that transferred n bytes (n >= 0: the caller fails on errors first) of
// a file of size bytes in blocks of block bytes; buf is the slot's buffer
// of Want bytes. Afterwards s says what comes next: the rest of the step
// (Busy, Done < Want), the write of the span once it is read (Busy, Write,
// Done 0), or nothing (not Busy: the span is copied and added to
// t.Written). A read that stops at the end of the file is the short one
// there: its block is written whole, zeros after the data (a direct write
// must be whole blocks), and counted in t.ShortEOF. Any other short count
// that is 0 or not a whole number of blocks is an error.
func (s *AppCopySpan) Step(n, size, block int, buf []byte, t *AppCopyTally) error {
	if !s.Busy {
		return fmt.Errorf("completion for an idle slot (span %d at %d)", s.Want, s.Off)
	}
	s.Done += n
	switch {
	case !s.Write && s.Done < s.Want && s.Off+s.Done == size:
		t.ShortEOF++
		clear(buf[s.Done:s.Want])
		s.Write, s.Done = true, 0
	case s.Done < s.Want:
		if n == 0 || s.Done%block != 0 {
			return fmt.Errorf("%s at %d: %d of %d bytes", map[bool]string{false: "read", true: "write"}[s.Write], s.Off, s.Done, s.Want)
		}
	case !s.Write:
		s.Write, s.Done = true, 0
	default:
		t.Written += min(s.Want, size-s.Off)
		s.Busy = false
	}
	return nil
}

// AppDirectCopyFiles sets up a raw O_DIRECT batch copy of size bytes: the
// scenario's generator (seed AppSeed, stream), the source content
// (AppContent), the source opened O_RDONLY|O_DIRECT after AppDataFile
// dropped it from the page cache, and an empty destination opened
// O_RDWR|O_DIRECT, both in a TempDir and closed at cleanup.
func AppDirectCopyFiles(t testing.TB, size int, stream uint64) (rnd *rand.Rand, content []byte, src, dst int, dstPath string) {
	t.Helper()
	seed := AppSeed(t)
	rnd = rand.New(rand.NewPCG(seed, stream))
	dir := TempDir(t)
	content = AppContent(size, seed)
	src = AppOpen(t, AppDataFile(t, dir, "src", content), unix.O_RDONLY|unix.O_DIRECT)
	dstPath = filepath.Join(dir, "dst")
	dst = AppOpen(t, dstPath, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_DIRECT)
	return rnd, content, src, dst, dstPath
}

// AppCheckCopy fails the test unless the file at path holds exactly want,
// naming the first difference (AppFirstDiff).
func AppCheckCopy(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("copy differs: %s", AppFirstDiff(got, want))
	}
}

// AppFirstDiff describes the first difference of got and want.
func AppFirstDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			j := min(i+16, len(got))
			return fmt.Sprintf("first difference at byte %d: % x, want % x", i, got[i:j], want[i:j])
		}
	}
	return "equal"
}
