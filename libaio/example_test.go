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
