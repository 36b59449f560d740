package posixaio

import (
	"testing"

	"github.com/aiokit/aio/internal/fileio/filetest"
	"golang.org/x/sys/unix"
)

// posixaioFiles opens Files with NewFile on an fd of unix.Open; variant 1
// and 3 use NotifyThread (else NotifySuspend), variant 2 a single slot.
var posixaioFiles = &filetest.Backend{
	Name: "posixaio.File",
	Open: func(t testing.TB, path string, flag, variant int) *filetest.Opened {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		mode, size := NotifySuspend, 16
		if variant&1 != 0 {
			mode = NotifyThread
		}
		if variant == 2 {
			size = 1
		}
		q := newQueue(t, size, mode)
		f := NewFile(q, fd)
		return &filetest.Opened{
			File:        f,
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
	f.Fuzz(func(t *testing.T, data []byte) { filetest.Run(t, posixaioFiles, data) })
}

// The seeds again, dealt out to 4 goroutines on disjoint ranges of a File.
func TestFileVsOSConcurrent(t *testing.T) {
	for _, s := range filetest.Seeds() {
		filetest.RunConcurrent(t, posixaioFiles, s, 4)
	}
}

func TestFileIOTestReader(t *testing.T) { filetest.TestReader(t, posixaioFiles) }

func TestFileContexts(t *testing.T)  { filetest.TestContexts(t, posixaioFiles) }
func TestFileSizeLimit(t *testing.T) { filetest.TestSizeLimit(t, posixaioFiles) }
