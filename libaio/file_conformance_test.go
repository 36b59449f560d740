package libaio

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aiokit/aio/internal/fileio/filetest"
	"golang.org/x/sys/unix"
)

// libaioFiles opens Files with NewFile on an fd of unix.Open; variant 1
// and 3 turn the queue's inline reads off, variant 2 gives it one slot.
var libaioFiles = &filetest.Backend{
	Name: "libaio.File",
	Open: func(t testing.TB, path string, flag, variant int) *filetest.Opened {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		depth := 16
		if variant == 2 {
			depth = 1
		}
		q := testQueue(t, depth)
		if variant&1 != 0 {
			q.SetInlineReads(false)
		}
		f, err := NewFile(q, fd)
		if err != nil {
			t.Fatal(err)
		}
		mem, off := f.Align()
		o := &filetest.Opened{File: f, Sync: f.Sync, SyncContext: f.SyncContext,
			Datasync: f.Datasync, DatasyncContext: f.DatasyncContext, InFlight: q.InFlight}
		if flag&unix.O_DIRECT != 0 {
			o.MemAlign = mem
			o.Refuses = func(o int64, n int) bool { return o%int64(off) != 0 || n%off != 0 }
			o.CheckRefusal = func(err error, write bool, o int64, n int) error {
				var ae *AlignError
				want := AlignError{Op: "read", Offset: o, Len: n, MemAlign: mem, OffAlign: off}
				if write {
					want.Op = "write"
				}
				if !errors.As(err, &ae) || *ae != want || !errors.Is(err, unix.EINVAL) {
					return fmt.Errorf("refused with %v; want *AlignError %+v wrapping EINVAL", err, want)
				}
				return nil
			}
		}
		return o
	},
}

// FuzzFileVsOS applies the decoded operations (internal/fileio/filetest)
// to a File and to an *os.File over a twin file and compares every result
// and the final contents.
func FuzzFileVsOS(f *testing.F) {
	filetest.AddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { filetest.Run(t, libaioFiles, data) })
}

// The seeds again, dealt out to 4 goroutines on disjoint ranges of a File.
func TestFileVsOSConcurrent(t *testing.T) {
	for _, s := range filetest.Seeds() {
		filetest.RunConcurrent(t, libaioFiles, s, 4)
	}
}

func TestFileIOTestReader(t *testing.T) { filetest.TestReader(t, libaioFiles) }

func TestFileContexts(t *testing.T)  { filetest.TestContexts(t, libaioFiles) }
func TestFileSizeLimit(t *testing.T) { filetest.TestSizeLimit(t, libaioFiles) }
