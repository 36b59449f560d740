package libaio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/aiokit/aio/libaio"
	"golang.org/x/sys/unix"
)

// Read a file through a Queue, which any goroutine may call. The data was just written,
// so it is in the page cache and Read reads it at once in the caller (preadv2
// RWF_NOWAIT, where the file system has it): the handle comes back done. A read that
// goes through io_submit instead parks only the goroutine that Waits.
func Example() {
	f, err := os.CreateTemp("", "libaio-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	f.WriteString("hello, native aio")

	q, err := libaio.NewQueue(8)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	buf := make([]byte, 5)
	h, err := q.Read(int(f.Fd()), buf, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := h.Wait(context.Background())
	fmt.Println(n, err, string(buf[:n]))
	// Output: 5 <nil> nativ
}

// The raw layer: one iocb, io_submit, io_getevents, exactly as in C.
func ExampleContext_Submit() {
	ctx, err := libaio.Setup(4)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ctx.Destroy()

	var cb libaio.Iocb
	cb.PrepPread(-1, nil, 0) // a bad descriptor: io_submit itself rejects it
	n, err := ctx.Submit([]*libaio.Iocb{&cb})
	fmt.Println(n, err)

	f, err := os.CreateTemp("", "libaio-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	f.WriteString("0123456789")
	buf := make([]byte, 16)
	var pin runtime.Pinner // the kernel may write buf after io_submit returns
	pin.Pin(&buf[0])
	defer pin.Unpin()
	cb.PrepPread(int(f.Fd()), buf, 4) // a short read: 6 bytes before end of file
	cb.Data = 42
	n, err = ctx.Submit([]*libaio.Iocb{&cb})
	fmt.Println(n, err)
	events := make([]libaio.Event, 1)
	timeout := unix.NsecToTimespec(5e9)
	for {
		n, err = ctx.GetEvents(1, events, &timeout)
		if err != unix.EINTR {
			break
		}
	}
	res, evErr := events[0].Result()
	fmt.Println(n, err, events[0].Data, events[0].ObjIs(&cb), res, evErr, string(buf[:res]))
	// Output:
	// 0 bad file descriptor
	// 1 <nil>
	// 1 <nil> 42 true 6 <nil> 456789
}

// File is an io.ReaderAt and io.WriterAt over a Queue. On an O_DIRECT
// descriptor it learns the alignment the kernel needs, bounces a misaligned
// buffer through aligned C memory, and names the alignment when an offset
// breaks it.
func ExampleFile() {
	dir, err := os.MkdirTemp("/var/tmp", "libaio-example-") // tmpfs may lack O_DIRECT
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := dir + "/data"
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("no O_DIRECT here:", err)
		return
	}
	defer unix.Close(fd)
	q, err := libaio.NewQueue(8)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	f, err := libaio.NewFile(q, fd)
	if err != nil {
		fmt.Println(err)
		return
	}

	block := make([]byte, 4096) // any []byte: File bounces it if it is misaligned
	copy(block, "direct I/O through io_submit")
	n, err := f.WriteAt(block, 4096)
	fmt.Println("wrote", n, err)
	n, err = f.ReadAt(block, 4096)
	fmt.Printf("read %d %v %q\n", n, err, block[:28])
	_, err = f.ReadAt(block, 100)
	fmt.Println("offset 100:", errors.Is(err, unix.EINVAL))
	// Output:
	// wrote 4096 <nil>
	// read 4096 <nil> "direct I/O through io_submit"
	// offset 100: true
}
