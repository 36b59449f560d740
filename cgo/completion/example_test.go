package completion_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Example shows the life of an operation as a backend sees it: Begin takes
// a slot, Pin keeps the buffer in place, the user data travels through the
// "kernel" (here a goroutine that signals a Notifier, as an eventfd
// registered with io_uring or libaio would be), and the reaper's Complete
// unpins the buffer and wakes the waiter.
func Example() {
	tab := completion.NewTable(8)
	n, err := completion.NewNotifier()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	posted := make(chan [2]int64, 8) // the "completion queue": user data, result
	go func() {                      // the reaper
		for {
			if _, err := n.Wait(); err != nil {
				return
			}
			for len(posted) > 0 {
				c := <-posted
				tab.Complete(uint64(c[0]), c[1], 0)
			}
		}
	}()

	buf := make([]byte, 4096)
	h, op, err := tab.Begin()
	if err != nil {
		fmt.Println(err)
		return
	}
	op.PinBytes(buf)                              // pinned until Complete
	posted <- [2]int64{int64(op.UserData()), 512} // the kernel read 512 bytes
	n.Signal()

	got, err := h.Wait(context.Background())
	fmt.Println(got, err)

	h2, op2, _ := tab.Begin()
	posted <- [2]int64{int64(op2.UserData()), -int64(unix.EBADF)}
	n.Signal()
	_, err = h2.Wait(context.Background())
	fmt.Println(errors.Is(err, unix.EBADF))

	ops, pins := completion.Stats()
	fmt.Println("live:", ops, pins)
	// Output:
	// 512 <nil>
	// true
	// live: 0 0
}
