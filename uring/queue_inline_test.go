package uring

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestQueueInlineRead: a read of cached data completes in Read itself, with
// no SQE submitted, and reports what the ring reports for the same read;
// everything the fast path must not take (O_DIRECT, a short read at EOF,
// uncached data, a bad descriptor, RingOnly) goes through the ring with the
// ring's result.
func TestQueueInlineRead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	_, fd := tempFile(t, data)
	testutil.RequireNowaitRead(t, fd)
	q := newTestQueue(t, QueueConfig{})
	ring := newTestQueue(t, QueueConfig{RingOnly: true})

	read := func(q *Queue, fd int, n int, off uint64) (int, error, []byte, bool, uint64) {
		t.Helper()
		buf := make([]byte, n)
		sub0 := q.subSeq.Load()
		h, err := q.Read(fd, buf, off)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		done := h.IsDone()
		got, werr := waitRes(t, h, nil)
		return got, werr, buf, done, q.subSeq.Load() - sub0
	}

	// Cached: inline, no submit, done on return, same bytes as the ring.
	n, err, buf, done, subs := read(q, fd, 4096, 4096)
	if n != 4096 || err != nil || !bytes.Equal(buf, data[4096:8192]) {
		t.Fatalf("cached read = %d, %v", n, err)
	}
	if !done || subs != 0 {
		t.Errorf("cached read: done on return %v, io_uring_submit calls %d; want inline", done, subs)
	}
	// Cancelling an inline read is cancelling a completed operation.
	h, err := q.Read(fd, make([]byte, 16), 0)
	if err != nil || !h.IsDone() {
		t.Fatalf("inline read = %v, done %v", err, h != nil && h.IsDone())
	}
	c, err := q.Cancel(h)
	mustErrno(t, c, err, unix.ENOENT)

	rn, rerr, rbuf, rdone, rsubs := read(ring, fd, 4096, 4096)
	if rn != n || rerr != nil || !bytes.Equal(rbuf, buf) || rsubs == 0 {
		t.Errorf("RingOnly read = %d, %v, %d submits (done %v); want the same bytes through the ring", rn, rerr, rsubs, rdone)
	}

	// Short at EOF: the ring's count.
	n, err, buf, _, subs = read(q, fd, 4096, uint64(len(data)-100))
	if n != 100 || err != nil || !bytes.Equal(buf[:100], data[len(data)-100:]) || subs == 0 {
		t.Errorf("read across EOF = %d, %v, %d submits; want 100 through the ring", n, err, subs)
	}
	// At EOF: 0.
	if n, err, _, _, _ = read(q, fd, 10, uint64(len(data))); n != 0 || err != nil {
		t.Errorf("read at EOF = %d, %v", n, err)
	}

	// A bad descriptor: the ring's EBADF.
	if _, err, _, _, subs = read(q, 1<<20, 10, 0); !errors.Is(err, unix.EBADF) || subs == 0 {
		t.Errorf("bad fd = %v, %d submits; want EBADF from the ring", err, subs)
	}

	// Not cached: RWF_NOWAIT gives EAGAIN and the ring reads it, unless the
	// readahead that the EAGAIN started has already brought the page in
	// (a fast disk does that in microseconds): either way the bytes and
	// count are the ring's.
	if err := unix.Fdatasync(fd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	n, err, buf, _, subs = read(q, fd, 4096, 8192)
	if n != 4096 || err != nil || !bytes.Equal(buf, data[8192:12288]) {
		t.Errorf("uncached read = %d, %v", n, err)
	}
	t.Logf("read after FADV_DONTNEED: %d io_uring_submit calls", subs)

	// A descriptor that preadv2 refuses (ESPIPE: a pipe) goes to the ring,
	// which waits for the data; the inline try consumed nothing.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	pbuf := make([]byte, 5)
	sub0 := q.subSeq.Load()
	ph, err := q.Read(p[0], pbuf, 0)
	if err != nil || ph.IsDone() {
		t.Fatalf("read of an empty pipe: %v, done %v; want it waiting in the ring", err, ph != nil && ph.IsDone())
	}
	if _, err := unix.Write(p[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	mustRes(t, ph, nil, 5)
	if string(pbuf) != "hello" || q.subSeq.Load() == sub0 {
		t.Errorf("pipe read %q, submitted %v; want hello through the ring", pbuf, q.subSeq.Load() != sub0)
	}

	// O_DIRECT: always the ring. tempFile's directory (testutil.TempDir)
	// supports O_DIRECT, so a failed open is a failure.
	path, _ := tempFile(t, data)
	dfd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("O_DIRECT open of %s: %v", path, err)
	}
	defer unix.Close(dfd)
	dbuf := alignedBuf(4096)
	sub0 = q.subSeq.Load()
	h, err = q.Read(dfd, dbuf, 0)
	mustRes(t, h, err, 4096)
	if q.subSeq.Load() == sub0 || !bytes.Equal(dbuf, data[:4096]) {
		t.Errorf("O_DIRECT read did not go through the ring, or read wrong data")
	}
}

// TestQueueInlineReadAtPosition: off = ^0 reads at (and advances) the file
// position, always through the ring: a short inline read would have moved
// the position before the fallback.
func TestQueueInlineReadAtPosition(t *testing.T) {
	_, fd := tempFile(t, []byte("hello world"))
	testutil.RequireNowaitRead(t, fd)
	q := newTestQueue(t, QueueConfig{})
	for _, c := range []struct {
		n    int
		want string
	}{{5, "hello"}, {5, " worl"}, {16, "d"}} {
		buf := make([]byte, c.n)
		sub0 := q.subSeq.Load()
		h, err := q.Read(fd, buf, ^uint64(0))
		mustRes(t, h, err, len(c.want))
		if string(buf[:len(c.want)]) != c.want || q.subSeq.Load() == sub0 {
			t.Errorf("read at position = %q (submitted %v), want %q through the ring", buf, q.subSeq.Load() != sub0, c.want)
		}
	}
	if pos, _ := unix.Seek(fd, 0, 1); pos != 11 {
		t.Errorf("file position %d after reading to EOF, want 11", pos)
	}
}

// TestFileInlineRead: File.ReadAt of cached data on a buffered file reads in
// the caller (no submit); an O_DIRECT File, a RingOnly queue and a read
// across EOF go through the ring; the counts and bytes are ReadAt's.
func TestFileInlineRead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	path, fd := tempFile(t, data)
	testutil.RequireNowaitRead(t, fd)
	for _, c := range []struct {
		name   string
		cfg    QueueConfig
		flag   int
		inline bool
	}{
		{"buffered", QueueConfig{}, unix.O_RDONLY, true},
		{"ring-only", QueueConfig{RingOnly: true}, unix.O_RDONLY, false},
		{"direct", QueueConfig{}, unix.O_RDONLY | unix.O_DIRECT, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := newTestQueue(t, c.cfg)
			f, err := OpenFile(q, path, c.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := alignedBuf(4096)
			sub0 := q.subSeq.Load()
			if n, err := f.ReadAt(buf, 4096); n != 4096 || err != nil || !bytes.Equal(buf, data[4096:8192]) {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if inline := q.subSeq.Load() == sub0; inline != c.inline {
				t.Errorf("ReadAt read inline: %v, want %v", inline, c.inline)
			}
			// Across EOF: the ring's short count, then io.EOF.
			if c.flag&unix.O_DIRECT == 0 {
				n, err := f.ReadAt(buf, int64(len(data)-100))
				if n != 100 || err != io.EOF || !bytes.Equal(buf[:100], data[len(data)-100:]) {
					t.Errorf("ReadAt across EOF = %d, %v; want 100, EOF", n, err)
				}
			}
		})
	}
}

// TestFileCloseRacesReadAt: goroutines reading inline while the File is
// closed under them either read the data or get fs.ErrClosed, and the
// descriptor is closed exactly once (the fd-leak check of TestMain and a
// second Close's ErrClosed show it).
func TestFileCloseRacesReadAt(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 8192)
	path, _ := tempFile(t, data)
	q := newTestQueue(t, QueueConfig{})
	for round := 0; round < 50; round++ {
		f, err := OpenFile(q, path, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := f.ReadAt(buf, 4096)
					if errors.Is(err, fs.ErrClosed) {
						return
					}
					if n != 4096 || err != nil {
						t.Errorf("ReadAt = %d, %v", n, err)
						return
					}
				}
			}()
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("second Close = %v, want fs.ErrClosed", err)
		}
		if f.Fd() != -1 {
			t.Fatalf("Fd after Close = %d", f.Fd())
		}
	}
}
