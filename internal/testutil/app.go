package testutil

// Helpers of the application-style scenarios (app_scenarios_test.go of
// uring, libaio and posixaio): content that shows where every word came
// from, replayable seeds, contexts that end at random, pipes and data
// files, and hang guards.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
