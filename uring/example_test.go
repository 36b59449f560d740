package uring_test

import (
	"fmt"
	"log"
	"os"
	"runtime"

	"github.com/aiokit/aio/uring"
)

// Example reads a file with one raw SQE: get, prepare, submit, wait, seen.
func Example() {
	f, err := os.CreateTemp("", "uring-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString("hello, io_uring"); err != nil {
		log.Fatal(err)
	}

	ring, err := uring.New(8, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	buf := make([]byte, 5)
	var pin runtime.Pinner // the kernel writes buf after Submit returns
	pin.Pin(&buf[0])
	defer pin.Unpin()

	sqe := ring.GetSQE()
	sqe.PrepRead(int(f.Fd()), buf, 7)
	sqe.SetUserData(42)
	if _, err := ring.Submit(); err != nil {
		log.Fatal(err)
	}
	cqe, err := ring.WaitCQE()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cqe.UserData, cqe.Res, string(buf[:cqe.Res]))
	ring.CQESeen(cqe)
	// Output: 42 5 io_ur
}
