package inline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestRead: cached data is read in full; EOF, short reads, bad descriptors
// and O_DIRECT descriptors fall back without reading anything usable.
func TestRead(t *testing.T) {
	dir := testutil.TempDir(t)
	data := bytes.Repeat([]byte("abcdefgh"), 1024)
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fd := openRead(t, path)
	buf := make([]byte, 4096)
	switch r := Read(fd, buf, 4096); r {
	case Unsupported, NoKernel:
		testutil.FeatureMissing(t, 5, 1, "preadv2(RWF_NOWAIT) on "+dir, errors.New("ENOSYS or EOPNOTSUPP"))
	case Done:
		if !bytes.Equal(buf, data[4096:]) {
			t.Fatal("cached read: wrong bytes")
		}
	default:
		t.Fatalf("cached read = %v, want Done", r)
	}
	if r := Read(fd, buf, int64(len(data)-10)); r != Fallback {
		t.Errorf("read across EOF = %v, want Fallback", r)
	}
	if r := Read(1<<20, buf, 0); r != Fallback {
		t.Errorf("bad fd = %v, want Fallback", r)
	}
	// An fd C's int cannot hold is not read as its low 32 bits (fd itself).
	if r := Read(fd+1<<32, buf, 0); r != Fallback {
		t.Errorf("fd+2^32 = %v, want Fallback", r)
	}
	if r := ReadBuffered(fd+1<<32, buf, 0); r != Fallback {
		t.Errorf("ReadBuffered(fd+2^32) = %v, want Fallback", r)
	}
	// -1, the file position: never inline, the position stays.
	if r := Read(fd, buf[:8], -1); r != Fallback {
		t.Errorf("read at position = %v, want Fallback", r)
	}
	if pos, _ := unix.Seek(fd, 0, 1); pos != 0 {
		t.Errorf("position %d after a read at the position fell back, want 0", pos)
	}
	if err := testutil.SupportsDirectIO(dir); err != nil {
		testutil.SkipNoFeature(t, "O_DIRECT in "+dir, err)
	}
	dfd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if r := Read(dfd, buf, 0); r != Fallback {
		t.Errorf("O_DIRECT fd = %v, want Fallback (never read inline)", r)
	}
}

// TestReader: Try reads inline and counts it while enabled, never when
// disabled or for an empty buffer.
func TestReader(t *testing.T) {
	fd := digitsFile(t)
	var r Reader
	r.Count(true)
	buf := make([]byte, 4)
	h := r.Try(fd, buf, 2)
	if h == nil || r.Inlined() != 1 || string(buf) != "2345" {
		t.Fatalf("Try = %v, inlined %d, %q", h, r.Inlined(), buf)
	}
	if n, err := h.Result(); n != 4 || err != nil {
		t.Errorf("handle = %d, %v", n, err)
	}
	if r.Try(fd, nil, 0) != nil {
		t.Error("empty buffer read inline")
	}
	r.SetEnabled(false)
	if r.Try(fd, buf, 0) != nil || r.Inlined() != 1 {
		t.Error("disabled Reader read inline")
	}
}

// TestReadLeavesStreams: a pipe's data is never consumed by an inline read,
// at the position (never tried) or at an offset (ESPIPE).
func TestReadLeavesStreams(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.Write(p[1], []byte("abc")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	for _, off := range []int64{-1, 0} {
		if r := Read(p[0], buf, off); r != Fallback {
			t.Errorf("pipe read at %d = %v, want Fallback", off, r)
		}
	}
	if n, err := unix.Read(p[0], buf); n != 3 || err != nil || string(buf[:3]) != "abc" {
		t.Errorf("pipe after the inline tries: %d, %v, %q; want the 3 bytes still there", n, err, buf[:n])
	}
}

// TestReaderSkipsUnsupportedFiles: a file without RWF_NOWAIT reads (a
// memfd here, on kernels that give it EOPNOTSUPP) is remembered by its fd
// and not tried again until retryAfter reads have passed it by, while
// other descriptors still read inline.
func TestReaderSkipsUnsupportedFiles(t *testing.T) {
	mfd := testMemfd(t, []byte("0123456789"))
	buf := make([]byte, 4)
	if r := Read(mfd, buf, 0); r != Unsupported {
		testutil.SkipNoFeature(t, "a file without RWF_NOWAIT reads (memfd gives EOPNOTSUPP on Linux 6.18)",
			fmt.Errorf("memfd answers RWF_NOWAIT reads with %v here", r))
	}
	fd := digitsFile(t)

	var r Reader
	r.Count(true)
	slot := &r.skip[uint(mfd)%skipSlots]
	if r.Try(mfd, buf, 0) != nil || uint32(slot.Load()) != uint32(mfd)+1 {
		t.Fatalf("unsupported fd: slot %#x, want it remembered", slot.Load())
	}
	for i := 1; i <= retryAfter; i++ {
		if r.Try(mfd, buf, 0) != nil {
			t.Fatal("unsupported fd read inline")
		}
		if got := slot.Load() >> 32; got != uint64(i) {
			t.Fatalf("after %d skips the count is %d", i, got)
		}
	}
	if r.Try(mfd, buf, 0) != nil || slot.Load()>>32 != 0 || uint32(slot.Load()) != uint32(mfd)+1 {
		t.Errorf("after %d skips: slot %#x, want it tried again and remembered anew", retryAfter, slot.Load())
	}
	if h := r.Try(fd, buf, 2); h == nil || string(buf) != "2345" || r.Inlined() != 1 {
		t.Errorf("a supported fd after an unsupported one: %v, %q", h, buf)
	}
	if r.off.Load() {
		t.Error("EOPNOTSUPP of one file disabled the Reader")
	}
}

// TestReaderRemembersODirect: Try looks at a descriptor's O_DIRECT flag
// with F_GETFL on its first read and then on about one read in
// recheckOdds, and sees a flag switched with F_SETFL (both ways) within a
// few dozen reads.
func TestReaderRemembersODirect(t *testing.T) {
	dir := testutil.TempDir(t)
	if err := testutil.SupportsDirectIO(dir); err != nil {
		testutil.SkipNoFeature(t, "O_DIRECT in "+dir, err)
	}
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	fd := openRead(t, path)
	testutil.RequireNowaitRead(t, fd)
	raw := make([]byte, 8192)
	buf := raw[4096-int(uintptr(unsafe.Pointer(&raw[0]))%4096):][:4096] // aligned, for O_DIRECT
	var r Reader
	if r.Try(fd, buf, 0) == nil || r.looks.Load() != 1 {
		t.Fatalf("first read: looks %d, want one F_GETFL and the read inline", r.looks.Load())
	}
	const reads = 64 * recheckOdds
	for i := 0; i < reads; i++ {
		if r.Try(fd, buf, 0) == nil {
			t.Fatal("cached read not inline")
		}
	}
	// Binomial(4096, 1/64): mean 64; above 3x that has odds below 1e-40.
	if n := r.looks.Load() - 1; n == 0 || n > 3*reads/recheckOdds {
		t.Errorf("%d F_GETFL calls over %d reads, want about %d", n, reads, reads/recheckOdds)
	}
	slot := &r.direct[uint(fd)%skipSlots]
	setfl := func(flags int) {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags); err != nil {
			t.Fatal(err)
		}
	}
	// Switched to O_DIRECT: seen within a bounded number of reads (each
	// read meanwhile is a correct synchronous direct read); then no read is
	// inline.
	setfl(unix.O_DIRECT)
	for i := 0; slot.Load()>>32 == 0; i++ {
		if i == 100*recheckOdds {
			t.Fatalf("O_DIRECT not seen after %d reads", i)
		}
		r.Try(fd, buf, 0)
	}
	for i := 0; i < 4*recheckOdds; i++ {
		if r.Try(fd, buf, 0) != nil {
			t.Fatal("read inline after O_DIRECT was seen")
		}
	}
	setfl(0)
	for i := 0; r.Try(fd, buf, 0) == nil; i++ {
		if i == 100*recheckOdds {
			t.Fatalf("O_DIRECT cleared: still not inline after %d reads", i)
		}
	}
	if slot.Load()>>32 != 0 {
		t.Errorf("slot %#x still says O_DIRECT", slot.Load())
	}
}

// openRead opens path read-only for the rest of the test.
// digitsFile returns a descriptor, read-only, of a cached file holding
// "0123456789" on a file system with RWF_NOWAIT reads (else the test is
// skipped, naming the missing feature).
func digitsFile(t *testing.T) int {
	t.Helper()
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd := openRead(t, path)
	testutil.RequireNowaitRead(t, fd)
	return fd
}

func openRead(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
