package inline

import (
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestReaderOneFileRefused: a preadv2 refused with EPERM or ENOSYS for one
// file only (a fanotify permission denial, a FUSE server answering ENOSYS;
// emulated by a seccomp rule on that descriptor) no longer turns inline
// reads off for every file: the Reader probes preadv2 itself, finds it
// working, skips that descriptor and goes on reading the others inline.
func TestReaderOneFileRefused(t *testing.T) {
	fds := cachedFiles(t, 2)
	bad, good := fds[0], fds[1]
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		var r Reader
		r.Count(true)
		var first Result
		var badInline, goodInline int
		testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_PREADV2, Arg: 0, Value: uint64(bad), Errno: errno}}, func() {
			buf := make([]byte, 4096)
			first = ReadBuffered(bad, buf, 0)
			for i := 0; i < 100; i++ {
				if r.Try(bad, buf, 0) != nil {
					badInline++
				}
				if r.Try(good, buf, 4096) != nil {
					goodInline++
				}
			}
		})
		if first != NoKernel {
			t.Errorf("%v for one fd: ReadBuffered = %v, want NoKernel", errno, first)
		}
		if badInline != 0 {
			t.Errorf("%v for one fd: %d reads of it done inline", errno, badInline)
		}
		if goodInline != 100 {
			t.Errorf("%v for one fd: %d of 100 reads of another file done inline, want all (the Reader was turned off)", errno, goodInline)
		}
		// One refused preadv2 of the bad fd, then its skip slot spares it.
		if m := r.Missed(); m != 1 {
			t.Errorf("%v for one fd: %d refused preadv2 calls, want 1", errno, m)
		}
	}
}
