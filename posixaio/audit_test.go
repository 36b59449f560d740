package posixaio

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestAuditNewFileWideFD: a File on an fd C's int cannot hold answers
// EBADF, as its requests do (aio_fildes -1). NewFile used to look at the
// fd's low 32 bits with F_GETFL, another open file: when that one was
// O_APPEND, WriteAt returned ErrWriteAtAppend instead.
func TestAuditNewFileWideFD(t *testing.T) {
	testutil.CheckLeaks(t)
	content := []byte("appended to only")
	_, path := tempFile(t, content)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	q, err := NewQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	if _, err := NewFile(q, fd).WriteAt([]byte("x"), 0); err != ErrWriteAtAppend {
		t.Fatalf("WriteAt on the O_APPEND fd = %v; want ErrWriteAtAppend", err)
	}
	f := NewFile(q, fd+1<<32)
	if n, err := f.WriteAt([]byte("XX"), 0); n != 0 || !errors.Is(err, unix.EBADF) {
		t.Errorf("WriteAt on fd+2^32 = %d, %v; want EBADF", n, err)
	}
	if n, err := f.ReadAt(make([]byte, 4), 0); n != 0 || !errors.Is(err, unix.EBADF) {
		t.Errorf("ReadAt on fd+2^32 = %d, %v; want EBADF", n, err)
	}
	if err := f.Sync(); !errors.Is(err, unix.EBADF) {
		t.Errorf("Sync on fd+2^32 = %v; want EBADF", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("file %q; want %q", got, content)
	}
}
