package inline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Older kernels and restricted systems, emulated by making the real kernel
// refuse preadv2 with a seccomp filter on the calling thread (see
// testutil.DenySyscalls): a kernel before 4.6 has no preadv2 (ENOSYS), a
// container profile that does not list it gives EPERM, and a kernel before
// 4.14 knows no RWF_NOWAIT (EOPNOTSUPP for that flag bit, on every file).

// cachedFiles writes a 16 KiB file in a disk directory, reads it once (so
// that it is cached) and opens it n times.
func cachedFiles(t *testing.T, n int) []int {
	t.Helper()
	path := filepath.Join(testutil.TempDir(t), "f")
	data := make([]byte, 16384)
	for i := range data {
		data[i] = byte(i % 251)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fds := make([]int, n)
	for i := range fds {
		fds[i] = openRead(t, path)
	}
	testutil.RequireNowaitRead(t, fds[0])
	return fds
}

// TestReaderPreadv2Refused: when preadv2 itself is refused (ENOSYS before
// 4.6, EPERM from a seccomp profile), the first refusal turns the Reader
// off: later reads make no preadv2 at all. EPERM was taken for an ordinary
// failure before, and every read paid a refused preadv2 before its
// asynchronous one.
func TestReaderPreadv2Refused(t *testing.T) {
	fds := cachedFiles(t, 4)
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		var r Reader
		r.Count(true) // for Missed
		var first Result
		var tried int
		testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_PREADV2, Arg: -1, Errno: errno}}, func() {
			buf := make([]byte, 4096)
			first = ReadBuffered(fds[0], buf, 0)
			for i := 0; i < 1000; i++ {
				if r.Try(fds[i%len(fds)], buf, int64(i%4)*4096) != nil {
					tried = -1
					return
				}
				tried++
			}
		})
		if first != NoKernel {
			t.Errorf("preadv2 refused with %v: ReadBuffered = %v, want NoKernel", errno, first)
		}
		if tried != 1000 {
			t.Fatalf("preadv2 refused with %v: a Try read inline", errno)
		}
		if m := r.Missed(); m != 1 {
			t.Errorf("preadv2 refused with %v: 1000 Trys made %d refused preadv2 calls, want 1 (then none)", errno, m)
		}
	}
}

// TestReaderNowaitUnknown: a kernel before 4.14 refuses the RWF_NOWAIT bit
// (EOPNOTSUPP) on every file, while preadv2 without it works. With 128
// descriptors in use, more than the Reader's 64 skip slots, they pushed
// each other out of the slots and nearly every read made a refused
// preadv2; now a run of refusals with no read done in between makes the
// Reader pass over every descriptor, trying one read in 1024 at random.
// Once the kernel reads inline again (an unfiltered thread here, a file
// that takes RWF_NOWAIT there), the Reader soon does too.
func TestReaderNowaitUnknown(t *testing.T) {
	fds := cachedFiles(t, 128)
	var r Reader
	r.Count(true)
	const rounds = 20
	var plain error
	var inlined bool
	testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_PREADV2, Arg: 5, AnyBit: unix.RWF_NOWAIT, Errno: unix.EOPNOTSUPP}}, func() {
		buf := make([]byte, 4096)
		// The filter refuses the flag only: preadv2 without it reads.
		if n, err := unix.Preadv2(fds[0], [][]byte{buf}, 0, 0); err != nil || n != len(buf) {
			plain = errors.Join(err, errors.New("short read"))
		}
		if ReadBuffered(fds[0], buf, 0) != Unsupported {
			plain = errors.Join(plain, errors.New("ReadBuffered not Unsupported under the filter"))
		}
		for i := 0; i < rounds*len(fds); i++ {
			if r.Try(fds[i%len(fds)], buf, int64(i%4)*4096) != nil {
				inlined = true
			}
		}
	})
	if plain != nil {
		t.Fatal(plain)
	}
	if inlined {
		t.Fatal("a read was done inline while RWF_NOWAIT was refused")
	}
	// 16 refusals (unsupLimit), then about one in 1024 (retryAfter) of the
	// rest; plain numbers, so that the bound does not move with them.
	reads := rounds * len(fds)
	if m, most := r.Missed(), int64(16+4*reads/1024+4); m > most {
		t.Errorf("%d reads with RWF_NOWAIT refused made %d refused preadv2 calls, want at most %d", reads, m, most)
	}
	// Unfiltered, as on a kernel with RWF_NOWAIT where the refusals came
	// from files without it: within a few thousand reads one is tried and
	// done, and from then on reads of other descriptors are done inline
	// (the refused ones stay in their skip slots for a while).
	buf := make([]byte, 4096)
	i := 0
	for ; i < 50*retryAfter && r.Inlined() == 0; i++ {
		r.Try(fds[i%len(fds)], buf, 0)
	}
	if r.Inlined() == 0 {
		t.Fatalf("RWF_NOWAIT works again, but %d reads were not tried inline", i)
	}
	other := openRead(t, fmt.Sprintf("/proc/self/fd/%d", fds[0]))
	before := r.Inlined()
	for j := 0; j < 64; j++ {
		r.Try(other, buf, 0)
	}
	if got := r.Inlined() - before; got != 64 {
		t.Errorf("after the first inline read again, %d of 64 reads of another descriptor were inline", got)
	}
}
