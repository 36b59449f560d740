package inline

import (
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMoreWideFD: a descriptor C's int cannot hold is never read inline,
// makes no system call (so Missed, which counts preadv2 calls, stays 0),
// and does not touch the skip entry of the descriptor its low 32 bits name
// (it used to count a skip of that descriptor, so that one was retried
// early, or reset its entry).
func TestMoreWideFD(t *testing.T) {
	mfd := testMemfd(t, []byte("0123456789"))
	buf := make([]byte, 4)
	var r Reader
	r.Count(true)
	wide := mfd + 1<<32
	for _, buffered := range []bool{false, true} {
		if r.try(wide, buf, 0, buffered) {
			t.Fatalf("wide fd read inline (buffered %v)", buffered)
		}
	}
	if r.Missed() != 0 || r.looks.Load() != 0 {
		t.Errorf("wide fd: Missed %d, F_GETFL %d; want no system call", r.Missed(), r.looks.Load())
	}
	if Read(mfd, buf, 0) != Unsupported {
		return // the skip entry part needs a file without RWF_NOWAIT
	}
	r.try(mfd, buf, 0, true) // remembered as unsupported
	slot := &r.skip[uint(mfd)%skipSlots]
	v := slot.Load()
	if uint32(v) != uint32(mfd)+1 {
		t.Fatalf("slot %#x", v)
	}
	for i := 0; i < 10; i++ {
		r.try(wide, buf, 0, true)
		r.try(wide, buf, 0, false)
	}
	if slot.Load() != v {
		t.Errorf("reads of fd+2^32 changed fd's skip entry %#x -> %#x", v, slot.Load())
	}
}

// TestMoreReaderEdges: negative descriptors and offsets, empty buffers and
// a Reader turned off and on again.
func TestMoreReaderEdges(t *testing.T) {
	fd := digitsFile(t)
	var r Reader
	r.Count(true)
	buf := make([]byte, 3)
	if r.Try(-1, buf, 0) != nil || r.TryBuffered(-1, buf, 0) || r.Try(fd, buf, -1) != nil || r.TryBuffered(fd, buf[:0], 0) {
		t.Fatal("bad input read inline")
	}
	if r.Missed() != 0 {
		t.Errorf("Missed %d after calls that make no system call", r.Missed())
	}
	r.SetEnabled(false)
	if r.TryBuffered(fd, buf, 0) {
		t.Fatal("disabled")
	}
	r.SetEnabled(true)
	if !r.TryBuffered(fd, buf, 7) || string(buf) != "789" || r.Inlined() != 1 {
		t.Fatalf("re-enabled: %q, inlined %d", buf, r.Inlined())
	}
	// Past EOF and across it: a miss, counted.
	if r.TryBuffered(fd, buf, 8) || r.Missed() != 1 {
		t.Errorf("across EOF: missed %d", r.Missed())
	}
	if r.off.Load() {
		t.Error("a short read disabled the Reader")
	}
}

// testMemfd returns a memfd holding content (a file whose reads are never
// RWF_NOWAIT-able: tmpfs), closed at the end of the test.
func testMemfd(t *testing.T, content []byte) int {
	t.Helper()
	mfd, err := unix.MemfdCreate("inline-test", unix.MFD_CLOEXEC)
	if err != nil {
		testutil.SkipNoFeature(t, "memfd_create", err)
	}
	t.Cleanup(func() { unix.Close(mfd) })
	if _, err := unix.Pwrite(mfd, content, 0); err != nil {
		t.Fatal(err)
	}
	return mfd
}
