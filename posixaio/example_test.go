package posixaio_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aiokit/aio/posixaio"
	"golang.org/x/sys/unix"
)

// Write a file and read it back through the default queue (handle layer).
func Example() {
	dir, _ := os.MkdirTemp("", "posixaio-example")
	defer os.RemoveAll(dir)
	fd, err := unix.Open(filepath.Join(dir, "f"), unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(fd)

	h, err := posixaio.Write(fd, []byte("hello, glibc threads"), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := h.Wait(context.Background())
	fmt.Println("wrote", n, err)

	buf := make([]byte, 5)
	h, _ = posixaio.Read(fd, buf, 7)
	n, err = h.Wait(context.Background())
	fmt.Printf("read %d %v %q\n", n, err, buf[:n])

	h, _ = posixaio.Read(-1, buf, 0)
	_, err = h.Wait(context.Background())
	fmt.Println("bad fd:", err)
	// Output:
	// wrote 20 <nil>
	// read 5 <nil> "glibc"
	// bad fd: bad file descriptor
}

// The raw layer: an aiocb in C memory, aio_read, aio_suspend, aio_return.
func ExampleAiocb() {
	f, _ := os.CreateTemp("", "posixaio-example")
	defer os.Remove(f.Name())
	f.WriteString("0123456789")

	a := posixaio.NewAiocb()
	defer a.Free()
	buf := make([]byte, 4)
	a.Prep(int(f.Fd()), buf, 3)
	if err := a.Read(); err != nil {
		fmt.Println(err)
		return
	}
	for a.Error() == unix.EINPROGRESS {
		posixaio.Suspend([]*posixaio.Aiocb{a}, -1)
	}
	n, err := a.Return()
	fmt.Println(n, err, string(buf))
	// Output: 4 <nil> 3456
}

// lio_listio with LIO_WAIT: one member fails, the list reports EIO and each
// member its own result.
func ExampleLioListio() {
	f, _ := os.CreateTemp("", "posixaio-example")
	defer os.Remove(f.Name())
	f.WriteString("some data")

	good, bad := posixaio.NewAiocb(), posixaio.NewAiocb()
	defer good.Free()
	defer bad.Free()
	good.Prep(int(f.Fd()), make([]byte, 4), 0)
	bad.Prep(int(f.Fd()), make([]byte, 4), -1) // negative offset
	good.SetLioOpcode(posixaio.LioRead)
	bad.SetLioOpcode(posixaio.LioRead)
	err := posixaio.LioListio(posixaio.LioWait, []*posixaio.Aiocb{good, bad}, nil)
	fmt.Println("list:", err)
	fmt.Println(good.Return())
	fmt.Println(bad.Return())
	// Output:
	// list: input/output error
	// 4 <nil>
	// -1 invalid argument
}

// File: the io.ReaderAt and io.WriterAt of the handle layer.
func ExampleFile() {
	tmp, _ := os.CreateTemp("", "posixaio-example")
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	q, err := posixaio.NewQueue(8)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	f := posixaio.NewFile(q, int(tmp.Fd()))
	n, err := f.WriteAt([]byte("positioned, asynchronous"), 0)
	fmt.Println("wrote", n, err)
	buf := make([]byte, 64)
	n, err = f.ReadAt(buf, 12)
	fmt.Printf("read %d %v %q\n", n, err, buf[:n])
	// Output:
	// wrote 24 <nil>
	// read 12 EOF "asynchronous"
}
