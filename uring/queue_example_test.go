package uring_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aiokit/aio/uring"
	"golang.org/x/sys/unix"
)

// A Queue is shared by any number of goroutines; each operation returns a
// handle whose Wait parks only the calling goroutine.
func ExampleQueue() {
	q, err := uring.NewQueue(64, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	dir, _ := os.MkdirTemp("", "uring-example-")
	defer os.RemoveAll(dir)
	fd, _ := unix.Open(filepath.Join(dir, "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	defer unix.Close(fd)

	h, _ := q.Write(fd, []byte("hello, io_uring"), 0)
	n, err := h.Wait(context.Background())
	fmt.Println("write:", n, err)

	buf := make([]byte, 8) // pinned until the read's completion is reaped
	h, _ = q.Read(fd, buf, 7)
	n, err = h.Wait(context.Background())
	fmt.Printf("read: %d %v %q\n", n, err, buf[:n])

	h, _ = q.Read(-1, buf, 0)
	_, err = h.Wait(context.Background())
	fmt.Println("bad fd:", err == unix.EBADF)
	// Output:
	// write: 15 <nil>
	// read: 8 <nil> "io_uring"
	// bad fd: true
}

// A linked chain: the kernel runs the members in order, and a failure
// cancels the rest with -ECANCELED.
func ExampleQueue_Link() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	dir, _ := os.MkdirTemp("", "uring-example-")
	defer os.RemoveAll(dir)
	fd, _ := unix.Open(filepath.Join(dir, "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	defer unix.Close(fd)

	out := make([]byte, 5)
	hs, _ := q.Link(func(l *uring.Link) {
		l.Write(fd, []byte("chain"), 0)
		l.Fsync(fd, 0)
		l.Read(fd, out, 0)
		l.Write(-1, out, 0) // fails with EBADF...
		l.Nop()             // ...so this one is cancelled
	})
	for _, h := range hs {
		n, err := h.Wait(context.Background())
		fmt.Println(n, err)
	}
	fmt.Printf("%q\n", out)
	// Output:
	// 5 <nil>
	// 0 <nil>
	// 5 <nil>
	// 0 bad file descriptor
	// 0 operation canceled
	// "chain"
}

// File gives io.ReaderAt / io.WriterAt semantics on top of a Queue.
func ExampleFile() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	dir, _ := os.MkdirTemp("", "uring-example-")
	defer os.RemoveAll(dir)

	f, err := uring.OpenFile(q, filepath.Join(dir, "f"), unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	f.WriteAt([]byte("0123456789"), 0)
	buf := make([]byte, 8)
	n, err := f.ReadAt(buf, 6) // only 4 bytes left: io.EOF, as io.ReaderAt requires
	fmt.Println(n, err == io.EOF, string(buf[:n]))
	// Output:
	// 4 true 6789
}

// Prep submits any SQE the raw layer can prepare through the handle layer:
// here openat2 with RESOLVE_NO_SYMLINKS, which has no named method. What the
// kernel reads after submission (the path, the open_how) goes in pins.
func ExampleQueue_Prep() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	path, _ := unix.BytePtrFromString("/")
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS}
	h, err := q.Prep(func(s *uring.SQE) { s.PrepOpenat2(unix.AT_FDCWD, path, how) }, path, how)
	if err != nil {
		fmt.Println(err) // an *UnsupportedOpError where the probe lacks IORING_OP_OPENAT2
		return
	}
	fd, err := h.Wait(context.Background()) // EINVAL before Linux 5.6, which has no probe either
	fmt.Println(fd > 2, err)
	unix.Close(fd)
	// Output: true <nil>
}
