package libaio

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// pattern returns n bytes of deterministic, position-dependent content.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := 0; i < n && i < 4096; i++ {
		b[i] = byte(i*7) ^ seed
	}
	for blk := 4096; blk < n; blk += 4096 {
		copy(b[blk:], b[:4096])
		b[blk] = byte(blk / 4096) // every block differs from its neighbours
		if blk+1 < n {
			b[blk+1] = byte(blk / (4096 * 256))
		}
	}
	return b
}

// testFile writes content to a new file in a disk directory and opens it with flags
// (O_DIRECT among them, or not). The descriptor is closed at cleanup.
func testFile(t testing.TB, content []byte, flags int) (fd int, path string) {
	t.Helper()
	path = filepath.Join(testutil.TempDir(t), "data")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, path
}

// cbuf returns n bytes of zeroed C memory aligned to 4096, freed at cleanup.
func cbuf(t testing.TB, n int) []byte {
	t.Helper()
	b, err := cmem.Alloc(n, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Free() })
	return b.Bytes()
}

// alignedGo returns an n-byte Go slice whose address is a multiple of 4096.
func alignedGo(n int) []byte {
	b := make([]byte, n+4096)
	off := 0
	for uintptr(unsafeAddr(b[off:]))%4096 != 0 {
		off++
	}
	return b[off : off+n : off+n]
}

func testContext(t testing.TB, n int) *Context {
	t.Helper()
	c, err := Setup(n)
	if err != nil {
		t.Fatalf("Setup(%d): %v", n, err)
	}
	t.Cleanup(func() { c.Destroy() })
	return c
}

// getAll reaps exactly n events, waiting up to 5s in total, retrying EINTR.
func getAll(t testing.TB, c *Context, n int) []Event {
	t.Helper()
	evs := make([]Event, n)
	got := 0
	ts := unix.NsecToTimespec(5e9)
	for got < n {
		k, err := c.GetEvents(n-got, evs[got:], &ts)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("GetEvents: %v", err)
		}
		if k == 0 {
			t.Fatalf("GetEvents timed out with %d of %d events", got, n)
		}
		got += k
	}
	return evs
}

func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: content differs at byte %d (len %d, want %d)", what, i, len(got), len(want))
	}
}

func unsafeAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// unsafeIovecs views the start of mem (C memory) as an array of n iovecs.
func unsafeIovecs(mem []byte, n int) []unix.Iovec {
	return unsafe.Slice((*unix.Iovec)(unsafe.Pointer(&mem[0])), n)
}

func lockThread()   { runtime.LockOSThread() }
func unlockThread() { runtime.UnlockOSThread() }

// unsafeIocbs views C memory mem as n iocbs.
func unsafeIocbs(mem []byte, n int) []Iocb {
	return unsafe.Slice((*Iocb)(unsafe.Pointer(&mem[0])), n)
}
