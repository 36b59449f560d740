package posixaio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// File's io.ReaderAt/io.WriterAt contracts on a real file: whole reads,
// a read across EOF (the bytes there and io.EOF), writes read back with
// pread, Sync, and glibc's errors for a negative offset and a bad fd.
func TestFileReadWriteAt(t *testing.T) { bothModes(t, testFileReadWriteAt) }

func testFileReadWriteAt(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	content := pattern(10000, 3)
	fd, _ := tempFile(t, content)
	f := NewFile(newQueue(t, 4, mode), fd)
	buf := make([]byte, 4096)
	if n, err := f.ReadAt(buf, 4096); n != 4096 || err != nil || !bytes.Equal(buf, content[4096:8192]) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if n, err := f.ReadAt(buf, 8192); n != 10000-8192 || err != io.EOF || !bytes.Equal(buf[:n], content[8192:]) {
		t.Fatalf("ReadAt across EOF = %d, %v; want %d, EOF", n, err, 10000-8192)
	}
	if n, err := f.ReadAt(buf, 20000); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt past EOF = %d, %v", n, err)
	}
	msg := []byte("written through aio_write")
	if n, err := f.WriteAt(msg, 100); n != len(msg) || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := f.Datasync(); err != nil {
		t.Fatalf("Datasync: %v", err)
	}
	if err := f.DatasyncContext(context.Background()); err != nil {
		t.Fatalf("DatasyncContext: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := unix.Pread(fd, got, 100); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("pread after WriteAt: %q, %v", got, err)
	}
	if _, err := f.ReadAt(buf, -1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("ReadAt(-1) = %v, want EINVAL", err)
	}
	bad := NewFile(f.q, 1<<20)
	if _, err := bad.ReadAt(buf, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("ReadAt of a bad fd = %v, want EBADF", err)
	}
	if _, err := bad.WriteAt(msg, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("WriteAt of a bad fd = %v, want EBADF", err)
	}
}

// More goroutines than queue slots: File calls wait for a slot instead of
// failing with ErrBusy, and every read gets its own bytes.
func TestFileWaitsForSlots(t *testing.T) { bothModes(t, testFileWaitsForSlots) }

func testFileWaitsForSlots(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	content := pattern(64*1024, 5)
	fd, _ := tempFile(t, content)
	f := NewFile(newQueue(t, 2, mode), fd)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 1024)
			for i := 0; i < 20; i++ {
				off := int64((g*20+i)%64) * 1024
				if n, err := f.ReadAt(buf, off); n != len(buf) || err != nil || !bytes.Equal(buf, content[off:off+1024]) {
					t.Errorf("ReadAt(%d) = %d, %v", off, n, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// A context that ends while a read waits on an empty pipe: ReadAtContext
// returns ctx.Err() at once; the request (which a glibc thread runs and
// cannot stop) completes in the background once data arrives, and nothing
// stays pinned. An ended context submits nothing.
func TestFileReadAtContext(t *testing.T) { bothModes(t, testFileReadAtContext) }

func testFileReadAtContext(t *testing.T, mode NotifyMode) {
	testutil.CheckLeaks(t)
	q := newQueue(t, 4, mode)
	r, w := pipe(t)
	f := NewFile(q, r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	buf := make([]byte, 4)
	start := time.Now()
	if n, err := f.ReadAtContext(ctx, buf, 0); n != 0 || err != context.DeadlineExceeded {
		t.Fatalf("ReadAtContext on an empty pipe = %d, %v; want DeadlineExceeded", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ReadAtContext returned after %v", d)
	}
	// Normally a glibc thread runs the read by now and aio_cancel cannot
	// stop it; on a loaded machine glibc may not have started it yet, and
	// then aio_cancel dequeued it.
	if n := q.InFlight(); n > 1 {
		t.Fatalf("%d requests in flight after the timeout, want at most the running read", n)
	}
	unix.Write(w, []byte("late"))
	deadline := time.Now().Add(5 * time.Second)
	for q.InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q.InFlight() != 0 {
		t.Fatal("the abandoned read never completed")
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if n, err := f.ReadAtContext(done, buf, 0); n != 0 || err != context.Canceled || q.InFlight() != 0 {
		t.Errorf("ReadAtContext with an ended ctx = %d, %v (%d in flight)", n, err, q.InFlight())
	}
}

// A nil ctx is context.Background() in the *Context methods, and a
// descriptor C's int cannot hold is glibc's EBADF, not its low 32 bits
// (which name the test file: a write there would land in it).
func TestFileNilContextWideFd(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(100, 9)
	fd, _ := tempFile(t, content)
	q := newQueue(t, 4)
	f := NewFile(q, fd)
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
	if err := f.SyncContext(nil); err != nil {
		t.Fatalf("SyncContext(nil) = %v", err)
	}
	wide := NewFile(q, fd+1<<32)
	if _, err := wide.WriteAt([]byte("XYZ"), 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("WriteAt on fd+2^32 = %v, want EBADF", err)
	}
	if _, err := wide.ReadAt(buf, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("ReadAt on fd+2^32 = %v, want EBADF", err)
	}
	if n, err := unix.Pread(fd, buf, 0); n != 3 || err != nil || string(buf) != "abc" {
		t.Fatalf("file after writes to fd+2^32: %q, %v", buf[:n], err)
	}
	a := NewAiocb()
	defer a.Free()
	if err := a.Prep(fd+1<<32, buf, 0); err != nil || a.Fildes() != -1 {
		t.Fatalf("Prep(fd+2^32): %v, aio_fildes %d; want -1", err, a.Fildes())
	}
}
