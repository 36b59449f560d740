package libaio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestFileDirect(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(64<<10+1000, 20) // size not a multiple of the block size
	fd, _ := testFile(t, content, unix.O_RDWR|unix.O_DIRECT)
	q := testQueue(t, 8)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	mem, off := f.Align()
	wm, wo, err := cmem.DirectIOAlign(fd)
	if err != nil || mem != int(wm) || off != int(wo) || off <= 1 {
		t.Fatalf("Align() = %d, %d; DirectIOAlign = %d, %d, %v", mem, off, wm, wo, err)
	}
	if f.Fd() != fd {
		t.Fatal("Fd")
	}

	// Aligned and misaligned memory both read correctly (the latter through a bounce).
	for _, shift := range []int{0, 1, 3} {
		buf := alignedGo(8192 + shift)[shift:]
		n, err := f.ReadAt(buf, 4096)
		if n != 8192 || err != nil {
			t.Fatalf("ReadAt(memory +%d) = %d, %v", shift, n, err)
		}
		mustEqual(t, "ReadAt", buf, content[4096:12288])
	}
	// Misaligned offset or length: refused with the alignment in the message.
	for _, c := range []struct {
		off int64
		n   int
	}{{1, 4096}, {0, 100}, {int64(off) / 2, off}} {
		_, err := f.ReadAt(make([]byte, c.n), c.off)
		var ae *AlignError
		if !errors.As(err, &ae) || !errors.Is(err, unix.EINVAL) || ae.OffAlign != off || ae.MemAlign != mem ||
			!strings.Contains(err.Error(), "multiples of") {
			t.Errorf("ReadAt(%d bytes at %d) = %v; want *AlignError wrapping EINVAL", c.n, c.off, err)
		}
		if _, err := f.WriteAt(make([]byte, c.n), c.off); !errors.As(err, &ae) || ae.Op != "write" {
			t.Errorf("WriteAt(%d bytes at %d) = %v; want *AlignError", c.n, c.off, err)
		}
	}
	if _, err := f.ReadAt(make([]byte, 4096), -4096); !errors.Is(err, unix.EINVAL) {
		t.Errorf("negative offset: %v", err)
	}
	// Short read at end of file: the bytes there, then io.EOF.
	buf := alignedGo(4096)
	n, err := f.ReadAt(buf, 64<<10)
	if n != 1000 || err != io.EOF {
		t.Fatalf("ReadAt across EOF = %d, %v; want 1000, EOF", n, err)
	}
	mustEqual(t, "tail", buf[:n], content[64<<10:])
	if n, err := f.ReadAt(buf, 1<<20); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt past EOF = %d, %v", n, err)
	}
	// Writes, aligned and bounced, read back.
	w := pattern(8192, 21)
	mis := make([]byte, 8193)[1:]
	copy(mis, w)
	if n, err := f.WriteAt(mis, 0); n != 8192 || err != nil {
		t.Fatalf("WriteAt(misaligned memory) = %d, %v", n, err)
	}
	r := alignedGo(8192)
	if n, err := f.ReadAt(r, 0); n != 8192 || err != nil {
		t.Fatal(n, err)
	}
	mustEqual(t, "WriteAt bounced", r, w)
	// An ended context: ctx.Err(), nothing submitted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.ReadAtContext(ctx, make([]byte, 4096+1)[1:], 0); err != context.Canceled {
		t.Fatalf("ReadAtContext(cancelled) = %v", err)
	}
	if _, err := f.WriteAtContext(ctx, alignedGo(4096), 0); err != context.Canceled {
		t.Fatalf("WriteAtContext(cancelled) = %v", err)
	}
}

func TestFileBuffered(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(10000, 22)
	fd, _ := testFile(t, content, unix.O_RDWR)
	q := testQueue(t, 2)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	if m, o := f.Align(); m != 1 || o != 1 {
		t.Fatalf("Align of a buffered fd: %d, %d", m, o)
	}
	buf := make([]byte, 333)
	if n, err := f.ReadAt(buf, 17); n != 333 || err != nil {
		t.Fatal(n, err)
	}
	mustEqual(t, "buffered ReadAt", buf, content[17:350])
	if n, err := f.WriteAt([]byte("hello"), 9998); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	buf = make([]byte, 10)
	if n, err := f.ReadAt(buf, 9998); n != 5 || err != io.EOF || string(buf[:5]) != "hello" {
		t.Fatalf("ReadAt at tail = %d, %v, %q", n, err, buf[:n])
	}
	if _, err := NewFile(q, -1); !errors.Is(err, unix.EBADF) {
		t.Fatalf("NewFile(-1) = %v", err)
	}
	q.Close()
	if _, err := f.ReadAt(buf, 0); err != ErrClosed {
		t.Fatalf("ReadAt after Close = %v", err)
	}
}

// A short count that is not the end of the file makes File go on, as os.File does, so
// the error it returns is the one that stopped it. A non-blocking pipe gives both: the
// bytes that are there, then EAGAIN (a regular file is short only at its end or beyond
// MAX_RW_COUNT, 2 GiB, too big for a test).
func TestFileShortCounts(t *testing.T) {
	testutil.CheckLeaks(t)
	q := testQueue(t, 2)
	r, w := pipe(t)
	unix.SetNonblock(r, true)
	unix.SetNonblock(w, true)
	fr, err := NewFile(q, r)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := NewFile(q, w)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(w, []byte("abc"))
	buf := make([]byte, 10)
	if n, err := fr.ReadAt(buf, 0); n != 3 || err != unix.EAGAIN || string(buf[:3]) != "abc" {
		t.Errorf("ReadAt(10 bytes) of a pipe holding 3 = %d, %v, %q; want 3, EAGAIN", n, err, buf[:n])
	}
	// The pipe holds 64 KiB: the rest of a larger write is refused with EAGAIN.
	big := make([]byte, 1<<20)
	n, err := fw.WriteAt(big, 0)
	if n <= 0 || n >= len(big) || err != unix.EAGAIN {
		t.Errorf("WriteAt(1 MiB) into a pipe = %d, %v; want a short count and EAGAIN", n, err)
	}
}

// A nil ctx is context.Background() (as for Handle.Wait), also when the
// request fails.
func TestFileNilContext(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(100, 5)
	fd, _ := testFile(t, content, unix.O_RDWR)
	q := testQueue(t, 2)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1012 a nil ctx is what this test is about
	if n, err := f.WriteAtContext(nil, []byte("abc"), 0); n != 3 || err != nil {
		t.Fatalf("WriteAtContext(nil) = %d, %v", n, err)
	}
	buf := make([]byte, 3)
	//lint:ignore SA1012 as above
	if n, err := f.ReadAtContext(nil, buf, 0); n != 3 || err != nil || string(buf) != "abc" {
		t.Fatalf("ReadAtContext(nil) = %d, %v, %q", n, err, buf)
	}
	//lint:ignore SA1012 as above
	if _, err := f.ReadAtContext(nil, buf, -1); err == nil {
		t.Fatal("ReadAtContext(nil) at offset -1 succeeded")
	}
	q.Close()
	//lint:ignore SA1012 as above
	if _, err := f.ReadAtContext(nil, buf, 0); err != ErrClosed {
		t.Fatalf("ReadAtContext(nil) after Close = %v", err)
	}
}
