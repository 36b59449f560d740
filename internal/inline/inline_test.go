package inline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
	case Unsupported:
		testutil.FeatureMissing(t, 5, 1, "preadv2(RWF_NOWAIT) on buffered files", errors.New("ENOSYS or EOPNOTSUPP"))
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
	// -1: at the file position, advancing it.
	if r := Read(fd, buf[:8], -1); r != Done || string(buf[:8]) != "abcdefgh" {
		t.Errorf("read at position = %v %q", r, buf[:8])
	}
	if pos, _ := unix.Seek(fd, 0, 1); pos != 8 {
		t.Errorf("position %d after a read of 8 at the position", pos)
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
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd := openRead(t, path)
	testutil.RequireNowaitRead(t, fd)
	var r Reader
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

// openRead opens path read-only for the rest of the test.
func openRead(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
