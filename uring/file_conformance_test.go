package uring

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/aiokit/aio/internal/fileio/filetest"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// uringFiles opens Files with OpenFile; variant 1 and 3 make the queue
// RingOnly (no inline read of cached data), variant 2 gives it a single
// slot (MaxInFlight 1: every call waits for the one before).
var uringFiles = &filetest.Backend{
	Name:       "uring.File",
	PathErrors: true,
	Open: func(t testing.TB, path string, flag, variant int) *filetest.Opened {
		c := QueueConfig{Entries: 16, RingOnly: variant&1 != 0}
		if variant == 2 {
			c.MaxInFlight = 1
		}
		q := newTestQueue(t, c)
		f, err := OpenFile(q, path, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return &filetest.Opened{
			File:        f,
			Name:        path,
			Sync:        f.Sync,
			SyncContext: f.SyncContext,
			Datasync:    f.Datasync, DatasyncContext: f.DatasyncContext,
			InFlight: q.InFlight,
		}
	},
}

// FuzzFileVsOS applies the decoded operations (internal/fileio/filetest)
// to a File and to an *os.File over a twin file and compares every result
// and the final contents.
func FuzzFileVsOS(f *testing.F) {
	filetest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { filetest.Run(t, uringFiles, data) })
}

// The seeds again, dealt out to 4 goroutines on disjoint ranges of a File.
func TestFileVsOSConcurrent(t *testing.T) {
	for _, s := range filetest.Seeds() {
		filetest.RunConcurrent(t, uringFiles, s, 4)
	}
}

func TestFileIOTestReader(t *testing.T) { filetest.TestReader(t, uringFiles) }

func TestFileContexts(t *testing.T)  { filetest.TestContexts(t, uringFiles) }
func TestFileSizeLimit(t *testing.T) { filetest.TestSizeLimit(t, uringFiles) }

// After Close a File answers as an *os.File after Close: a *fs.PathError
// with os.File's Op wrapping fs.ErrClosed (or, for a negative offset,
// os.File's "negative offset"), a second Close too. The empty ReadAt is the
// documented exception: os.File returns 0, nil.
func TestFileClosedVsOS(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	dir := testutil.TempDir(t)
	f, err := OpenFile(q, dir+"/file", unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	of, err := os.OpenFile(dir+"/os", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := of.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	for _, c := range []struct {
		name     string
		got, ose error
	}{
		{"ReadAt", second(f.ReadAt(buf, 0)), second(of.ReadAt(buf, 0))},
		{"WriteAt", second(f.WriteAt(buf, 0)), second(of.WriteAt(buf, 0))},
		{"WriteAt(empty)", second(f.WriteAt(nil, 0)), second(of.WriteAt(nil, 0))},
		{"ReadAt(-1)", second(f.ReadAt(buf, -1)), second(of.ReadAt(buf, -1))},
		{"WriteAt(-1)", second(f.WriteAt(buf, -1)), second(of.WriteAt(buf, -1))},
		{"Sync", f.Sync(), of.Sync()},
		{"Close", f.Close(), of.Close()},
	} {
		var pe, ope *fs.PathError
		if !errors.As(c.ose, &ope) {
			if c.got != nil && c.ose == nil {
				continue // WriteAt(empty): os.File makes no call
			}
			t.Fatalf("%s: os.File gave %v", c.name, c.ose)
		}
		if !errors.As(c.got, &pe) || pe.Op != ope.Op || pe.Path != f.Name() ||
			errors.Is(pe.Err, fs.ErrClosed) != errors.Is(ope.Err, fs.ErrClosed) || pe.Err.Error() != ope.Err.Error() {
			t.Errorf("%s after Close = %v; os.File: %v", c.name, c.got, c.ose)
		}
	}
	if _, err := f.ReadAt(nil, 0); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("empty ReadAt after Close = %v; want fs.ErrClosed (documented)", err)
	}
}

func second(_ int, err error) error { return err }
