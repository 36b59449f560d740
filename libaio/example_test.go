package libaio_test

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/aiokit/aio/libaio"
	"golang.org/x/sys/unix"
)

// Read a file through a Queue from any goroutine: the handle's Wait parks only the
// calling goroutine.
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
	f.Write(make([]byte, 8192))
	fd, err := unix.Open(f.Name(), unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(fd)
	buf := make([]byte, 100)
	var pin runtime.Pinner // the kernel may use buf after io_submit returns
	pin.Pin(&buf[0])
	defer pin.Unpin()
	cb.PrepPread(fd, buf, 0) // O_DIRECT with a misaligned length: the errno comes in the event
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
	_, evErr := events[0].Result()
	fmt.Println(n, err, events[0].Data, events[0].ObjIs(&cb), evErr)
	// Output:
	// 0 bad file descriptor
	// 1 <nil>
	// 1 <nil> 42 true invalid argument
}
