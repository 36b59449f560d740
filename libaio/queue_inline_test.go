package libaio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestQueueInlineRead: a read of cached data is done in Read itself with the
// kernel's count; a read across EOF, a negative offset and SetInlineReads(false)
// go through io_submit with the kernel's answer.
func TestQueueInlineRead(t *testing.T) {
	testutil.CheckLeaks(t)
	data := bytes.Repeat([]byte("libaio!!"), 2048) // 16 KiB
	fd, _ := testFile(t, data, unix.O_RDONLY)
	testutil.RequireNowaitRead(t, fd)
	q := testQueue(t, 8)
	q.inline.Count(true)

	buf := make([]byte, 4096)
	h, err := q.Read(fd, buf, 4096)
	if err != nil || !h.IsDone() || q.inline.Inlined() != 1 {
		t.Fatalf("cached Read = %v, done %v, inlined %d; want done on return", err, h != nil && h.IsDone(), q.inline.Inlined())
	}
	if n := wait(t)(h, nil); n != 4096 || !bytes.Equal(buf, data[4096:8192]) {
		t.Fatalf("cached read = %d", n)
	}

	// Across EOF: the kernel's short count, through io_submit.
	if n := wait(t)(q.Read(fd, buf, int64(len(data)-100))); n != 100 || q.inline.Inlined() != 1 {
		t.Errorf("read across EOF = %d (inlined %d), want 100 through io_submit", n, q.inline.Inlined())
	}
	// A negative offset: the kernel's EINVAL, not a read at the file position.
	if h, err := q.Read(fd, buf, -1); err == nil {
		if _, err = h.Wait(context.Background()); !errors.Is(err, unix.EINVAL) {
			t.Errorf("offset -1 = %v, want EINVAL", err)
		}
	} else if !errors.Is(err, unix.EINVAL) {
		t.Errorf("offset -1 = %v, want EINVAL", err)
	}

	q.SetInlineReads(false)
	if n := wait(t)(q.Read(fd, buf, 0)); n != 4096 || q.inline.Inlined() != 1 || !bytes.Equal(buf, data[:4096]) {
		t.Errorf("read with inline reads off = %d (inlined %d)", n, q.inline.Inlined())
	}
}

// TestFileInlineRead: File.ReadAt of cached data on a buffered descriptor is
// read in the caller; with inline reads off, across EOF and on an O_DIRECT
// File it goes through io_submit; the counts and bytes are the same.
func TestFileInlineRead(t *testing.T) {
	testutil.CheckLeaks(t)
	data := bytes.Repeat([]byte("libaio!!"), 2048) // 16 KiB
	fd, path := testFile(t, data, unix.O_RDONLY)
	testutil.RequireNowaitRead(t, fd)
	q := testQueue(t, 8)
	q.inline.Count(true)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	buf := alignedGo(4096)
	if n, err := f.ReadAt(buf, 4096); n != 4096 || err != nil || !bytes.Equal(buf, data[4096:8192]) || q.inline.Inlined() != 1 {
		t.Fatalf("cached ReadAt = %d, %v (inlined %d)", n, err, q.inline.Inlined())
	}
	if n, err := f.ReadAt(buf, int64(len(data)-100)); n != 100 || err != io.EOF || q.inline.Inlined() != 1 {
		t.Errorf("ReadAt across EOF = %d, %v (inlined %d), want 100, EOF through io_submit", n, err, q.inline.Inlined())
	}
	q.SetInlineReads(false)
	if n, err := f.ReadAt(buf, 0); n != 4096 || err != nil || q.inline.Inlined() != 1 || !bytes.Equal(buf, data[:4096]) {
		t.Errorf("ReadAt with inline reads off = %d, %v (inlined %d)", n, err, q.inline.Inlined())
	}
	q.SetInlineReads(true)
	dfd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		// testFile's directory is testutil.TempDir's, which supports O_DIRECT.
		t.Fatalf("open %s O_DIRECT: %v", path, err)
	}
	defer unix.Close(dfd)
	df, err := NewFile(q, dfd)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := df.ReadAt(buf, 8192); n != 4096 || err != nil || q.inline.Inlined() != 1 || !bytes.Equal(buf, data[8192:12288]) {
		t.Errorf("O_DIRECT ReadAt = %d, %v (inlined %d), want it through io_submit", n, err, q.inline.Inlined())
	}
}
