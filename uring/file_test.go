package uring

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// newTestFile opens a new empty file through q, closed at the end of the test.
func newTestFile(t *testing.T, q *Queue) *File {
	t.Helper()
	f, err := OpenFile(q, testutil.TempDir(t)+"/data", unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFileReadWriteAt(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	f := newTestFile(t, q)
	content := make([]byte, 100000)
	rand.New(rand.NewSource(1)).Read(content)
	if n, err := f.WriteAt(content, 0); err != nil || n != len(content) {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// io.ReaderAt semantics, checked by the standard library's tester over a
	// section reader.
	if err := iotest.TestReader(io.NewSectionReader(f, 0, int64(len(content))), content); err != nil {
		t.Fatal(err)
	}
	// Short read at EOF: n bytes and io.EOF.
	buf := make([]byte, 1000)
	n, err := f.ReadAt(buf, int64(len(content))-300)
	if n != 300 || err != io.EOF || !bytes.Equal(buf[:300], content[len(content)-300:]) {
		t.Fatalf("ReadAt at EOF-300: %d, %v", n, err)
	}
	n, err = f.ReadAt(buf, int64(len(content))+10)
	if n != 0 || err != io.EOF {
		t.Fatalf("ReadAt past EOF: %d, %v", n, err)
	}
	if _, err := f.ReadAt(buf, -1); err == nil {
		t.Fatal("ReadAt(-1) succeeded")
	}
	// The same file read by os.File agrees.
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("os.ReadFile differs: %v", err)
	}
	st, err := f.Stat(unix.STATX_SIZE)
	if err != nil || st.Size != uint64(len(content)) {
		t.Fatalf("Stat: %+v, %v", st, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.ReadAt(buf, 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	if _, err := OpenFile(q, f.Name()+"/nope", unix.O_RDONLY, 0); !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("OpenFile of a path under a file: %v", err)
	}
}

func TestFileDirect(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	path := testutil.TempDir(t) + "/direct"
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(q, path, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf, err := cmem.Alloc(8192, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Free()
	n, err := f.ReadAt(buf.Bytes(), 4096)
	if err != nil || n != 8192 || !bytes.Equal(buf.Bytes(), content[4096:4096+8192]) {
		t.Fatalf("direct ReadAt: %d, %v", n, err)
	}
	// Misaligned O_DIRECT: the kernel's EINVAL, inside a PathError.
	_, err = f.ReadAt(buf.Bytes()[1:4097], 0)
	var pe *fs.PathError
	if !errors.Is(err, unix.EINVAL) || !errors.As(err, &pe) || pe.Path != path {
		t.Fatalf("misaligned direct read: %v", err)
	}
}

// ReadAtContext on a read that never completes (a pipe nobody writes):
// it returns ctx.Err() only after the kernel let go of the buffer.
func TestFileReadAtContextCancel(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, w := testPipe(t)
	rfd, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFile(q, rfd, "pipe")
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	buf := make([]byte, 8)
	n, err := f.ReadAtContext(ctx, buf, 0)
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadAtContext = %d, %v", n, err)
	}
	if q.InFlight() != 0 {
		t.Fatalf("InFlight after ReadAtContext returned = %d", q.InFlight())
	}
	// Data written now is read by the next call, not by the cancelled one.
	unix.Write(w, []byte("12345678"))
	n, err = f.ReadAt(buf, 0)
	if n != 8 || err != nil || string(buf) != "12345678" {
		t.Fatalf("ReadAt after cancel = %d, %v, %q", n, err, buf)
	}
}

// An ended context reads (also cached data, inline), writes and syncs
// nothing: ctx.Err() before any submission, as in libaio and posixaio.
func TestFileEndedContext(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	f := newTestFile(t, q)
	if _, err := f.WriteAt([]byte("cached data"), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	subs := q.subSeq.Load()
	buf := make([]byte, 6)
	if n, err := f.ReadAtContext(ctx, buf, 0); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAtContext(ended ctx) = %d, %v (%q); want 0, context.Canceled", n, err, buf[:n])
	}
	if n, err := f.WriteAtContext(ctx, []byte("other"), 0); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("WriteAtContext(ended ctx) = %d, %v; want 0, context.Canceled", n, err)
	}
	if err := f.SyncContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("SyncContext(ended ctx) = %v; want context.Canceled", err)
	}
	if got := q.subSeq.Load(); got != subs {
		t.Errorf("%d io_uring_submit calls with an ended context, want 0", got-subs)
	}
	if n, err := f.ReadAt(buf, 0); n != 6 || err != nil || string(buf) != "cached" {
		t.Errorf("ReadAt after = %d, %v, %q; want the file unchanged", n, err, buf[:n])
	}
}

// GC stress: the collector runs continuously (GOGC=1 and explicit
// runtime.GC) while reads and writes are in flight; every byte is checked.
func TestFileGCStress(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 32})
	path := testutil.TempDir(t) + "/gc"
	f, err := OpenFile(q, path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer setGCPercent(1)()
	stop := make(chan struct{})
	var gc sync.WaitGroup
	gc.Add(1)
	go func() {
		defer gc.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtimeGC()
			}
		}
	}()
	const workers, rounds, size = 16, 60, 3000
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < rounds; i++ {
				// Fresh garbage-collected buffers for every operation.
				want := make([]byte, size)
				rng.Read(want)
				off := int64(g*size) + int64(i%3)*int64(workers*size)
				if n, err := f.WriteAt(want, off); err != nil || n != size {
					t.Errorf("WriteAt: %d, %v", n, err)
					return
				}
				_ = make([]byte, 1<<16) // more garbage
				got := make([]byte, size)
				if n, err := f.ReadAt(got, off); err != nil || n != size {
					t.Errorf("ReadAt: %d, %v", n, err)
					return
				}
				if !bytes.Equal(got, want) {
					t.Errorf("worker %d round %d: data differs", g, i)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	gc.Wait()
}

// Close while a read is blocked (a pipe nobody writes): the read is
// cancelled and returns fs.ErrClosed, and the descriptor is closed once it
// has finished.
func TestFileCloseWhileReading(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	rfd, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFile(q, rfd, "pipe")
	errc := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(make([]byte, 8), 0)
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for q.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("blocked ReadAt after Close: %v, want fs.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadAt still blocked after Close")
	}
	// The descriptor is gone once the last operation finished.
	for q.InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var st unix.Stat_t
	for unix.Fstat(rfd, &st) == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := unix.Fstat(rfd, &st); !errors.Is(err, unix.EBADF) {
		t.Fatalf("fstat of the closed descriptor: %v, want EBADF", err)
	}
}

// TestFileCloseLeavesDups: Close cancels the File's own operations only.
// IORING_ASYNC_CANCEL_FD would match by open file and also cancel the
// reads of another File and of Queue.Read on dups of the same pipe.
func TestFileCloseLeavesDups(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, w := testPipe(t)
	dup := func() int {
		fd, err := unix.Dup(r)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	f1, f2 := NewFile(q, dup(), "one"), NewFile(q, dup(), "two")
	defer f2.Close()
	type res struct {
		n   int
		err error
	}
	c1, c2 := make(chan res, 1), make(chan res, 1)
	read := func(f *File, c chan res) {
		n, err := f.ReadAt(make([]byte, 1), 0)
		c <- res{n, err}
	}
	deadline := time.Now().Add(5 * time.Second)
	waitInFlight := func(n int) {
		for q.InFlight() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d reads in flight, want %d", q.InFlight(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	go read(f1, c1)
	waitInFlight(1)
	go read(f2, c2)
	waitInFlight(2)
	h3, err := q.Read(r, make([]byte, 1), ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	waitInFlight(3)
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r1 := <-c1:
		if !errors.Is(r1.err, fs.ErrClosed) {
			t.Fatalf("f1.ReadAt after f1.Close: %v, want fs.ErrClosed", r1.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("f1.ReadAt still blocked after f1.Close")
	}
	// A cancel by descriptor would have ended the other two with f1's.
	if _, err := unix.Write(w, []byte("xy")); err != nil {
		t.Fatal(err)
	}
	select {
	case r2 := <-c2:
		if r2.err != nil || r2.n != 1 {
			t.Fatalf("f2.ReadAt (f2 still open) = %d, %v; want 1, nil", r2.n, r2.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("f2.ReadAt did not complete")
	}
	if n, err := waitRes(t, h3, nil); n != 1 || err != nil {
		t.Fatalf("Queue.Read on the pipe after f1.Close = %d, %v; want 1, nil", n, err)
	}
}

// A nil ctx is context.Background() in every *Context method, also on the
// paths where the operation fails (where ctx.Err() is looked at).
func TestFileNilContext(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	f := newTestFile(t, q)
	//lint:ignore SA1012 a nil ctx is what this test is about
	if n, err := f.WriteAtContext(nil, []byte("nil ctx"), 0); n != 7 || err != nil {
		t.Fatalf("WriteAtContext(nil) = %d, %v", n, err)
	}
	//lint:ignore SA1012 as above
	if err := f.SyncContext(nil); err != nil {
		t.Fatalf("SyncContext(nil) = %v", err)
	}
	buf := make([]byte, 8)
	//lint:ignore SA1012 as above
	if n, err := f.ReadAtContext(nil, buf, 0); n != 7 || err != io.EOF {
		t.Fatalf("ReadAtContext(nil) = %d, %v", n, err)
	}
	_, w := testPipe(t)
	pf := NewFile(q, w, "pipe") // the write end: a read fails with EBADF
	defer pf.Close()
	//lint:ignore SA1012 as above
	if _, err := pf.ReadAtContext(nil, buf, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("failed ReadAtContext(nil) = %v, want EBADF", err)
	}
}

// File.Stat waits for a free slot like the other File methods (it returned
// ErrBusy while every slot was in use).
func TestFileStatWaitsForSlot(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 1, RingOnly: true})
	f := newTestFile(t, q)
	if _, err := f.WriteAt([]byte("12345"), 0); err != nil {
		t.Fatal(err)
	}
	r, w := testPipe(t)
	h, err := q.Read(r, make([]byte, 1), 0) // takes the only slot
	if err != nil {
		t.Fatal(err)
	}
	type stat struct {
		st  *unix.Statx_t
		err error
	}
	got := make(chan stat, 1)
	go func() {
		st, err := f.Stat(unix.STATX_SIZE)
		got <- stat{st, err}
	}()
	select {
	case s := <-got:
		t.Fatalf("Stat with every slot in use returned at once: %v, %v", s.st, s.err)
	case <-time.After(20 * time.Millisecond):
	}
	unix.Write(w, []byte("x"))
	mustRes(t, h, nil, 1)
	s := <-got
	if s.err != nil || s.st.Size != 5 {
		t.Fatalf("Stat = %+v, %v", s.st, s.err)
	}
}

// File.Close right as a ReadAt of an empty pipe starts: the read may have
// its reference but not yet its SQE when Close cancels by descriptor. It
// must still end (fs.ErrClosed), not block with the descriptor held open.
// (Before the fix 1-23 of 400 rounds stayed blocked.)
func TestFileCloseRacesPipeReadAt(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	for round := 0; round < 400; round++ {
		r, w := testPipe(t)
		rfd, err := unix.Dup(r)
		if err != nil {
			t.Fatal(err)
		}
		f := NewFile(q, rfd, "pipe")
		errc := make(chan error, 1)
		start := make(chan struct{})
		go func() {
			close(start)
			_, err := f.ReadAt(make([]byte, 8), 0)
			errc <- err
		}()
		<-start
		for i := 0; i < round%7; i++ {
			runtime.Gosched()
		}
		f.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("round %d: ReadAt = %v, want fs.ErrClosed", round, err)
			}
		case <-time.After(5 * time.Second):
			unix.Write(w, []byte("12345678"))
			<-errc
			t.Fatalf("round %d: ReadAt still blocked 5 s after File.Close", round)
		}
	}
}
