package uring_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aiokit/aio/uring"
	"golang.org/x/sys/unix"
)

// exampleListener returns a loopback TCP listening socket and its address.
func exampleListener() (int, *unix.SockaddrInet4, error) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	if err := unix.Listen(lfd, 16); err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		unix.Close(lfd)
		return -1, nil, err
	}
	return lfd, sa.(*unix.SockaddrInet4), nil
}

// exampleDial connects a client to sa and sends msg.
func exampleDial(sa *unix.SockaddrInet4, msg string) (int, error) {
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	a := *sa
	if err := unix.Connect(cfd, &a); err != nil {
		unix.Close(cfd)
		return -1, err
	}
	if msg != "" {
		if _, err := unix.Write(cfd, []byte(msg)); err != nil {
			unix.Close(cfd)
			return -1, err
		}
	}
	return cfd, nil
}

// One multishot accept (Linux 5.19) serves every connection of a listening
// socket: each Next returns one accepted descriptor, with IORING_CQE_F_MORE
// while the request stays armed. Close cancels the request and closes the
// descriptors Next did not return.
func ExampleQueue_AcceptMultishot() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	lfd, sa, err := exampleListener()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(lfd)

	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		cfd, err := exampleDial(sa, fmt.Sprintf("client %d", i))
		if err != nil {
			fmt.Println(err)
			return
		}
		defer unix.Close(cfd)
		fd, flags, err := m.Next(ctx) // an *UnsupportedFeatureError before Linux 5.19
		if err != nil {
			fmt.Println(err)
			return
		}
		buf := make([]byte, 16)
		n, _ := unix.Read(int(fd), buf)
		fmt.Printf("accepted %q, more: %v\n", buf[:n], flags&uring.CQEFMore != 0)
		unix.Close(int(fd)) // the caller's descriptor
	}
	m.Close()
	_, _, err = m.Next(ctx)
	fmt.Println("after Close:", errors.Is(err, uring.ErrClosed))
	// Output:
	// accepted "client 0", more: true
	// accepted "client 1", more: true
	// accepted "client 2", more: true
	// after Close: true
}

// A multishot poll (Linux 5.13) reports every wake-up of a descriptor with
// one request. After Cancel, Next returns what was posted, then the final
// CQE (ECANCELED, without IORING_CQE_F_MORE), then ErrMultishotDone.
func ExampleQueue_PollMultishot() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	m, err := q.PollMultishot(p[0], unix.POLLIN)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := make([]byte, 1)
	for _, c := range "ab" {
		unix.Write(p[1], []byte{byte(c)})
		events, flags, err := m.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("POLLIN: %v, more: %v\n", events&unix.POLLIN != 0, flags&uring.CQEFMore != 0)
		unix.Read(p[0], b) // empty again: the next write is a new wake-up
	}
	m.Cancel()
	_, flags, err := m.Next(ctx)
	fmt.Printf("final: %v, more: %v\n", err, flags&uring.CQEFMore != 0)
	_, _, err = m.Next(ctx)
	fmt.Println(err == uring.ErrMultishotDone)
	// Output:
	// POLLIN: true, more: true
	// POLLIN: true, more: true
	// final: operation canceled, more: false
	// true
}

// A multishot recv (Linux 6.0) receives into provided buffers that the
// caller keeps in a buffer ring (Linux 5.19) outside the Go heap. Each Next
// names the buffer that holds the data (CQEBufferID); the caller gives it
// back to the ring when done with it. The peer's shutdown ends the stream
// with a final 0.
func ExampleQueue_RecvMultishot() {
	q, err := uring.NewQueue(8, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	const nbufs, size, bgid = 4, 64, 7
	mem, err := unix.Mmap(-1, 0, nbufs*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Munmap(mem)
	br, err := q.Ring().SetupBufRing(nbufs, bgid)
	if err != nil {
		fmt.Println(err)
		return
	}
	mask := uring.BufRingMask(nbufs)
	buf := func(bid uint16) []byte { return mem[int(bid)*size : int(bid+1)*size] }
	for i := 0; i < nbufs; i++ {
		br.Add(buf(uint16(i)), uint16(i), mask, i)
	}
	br.Advance(nbufs)

	lfd, sa, err := exampleListener()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(lfd)
	cfd, err := exampleDial(sa, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(cfd)
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(sfd)

	m, err := q.RecvMultishot(sfd, bgid, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close() // before the buffers are unmapped
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, msg := range []string{"hello", "world"} {
		unix.Write(cfd, []byte(msg))
		n, flags, err := m.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		bid, _ := uring.CQEBufferID(flags)
		fmt.Printf("%q, more: %v\n", buf(bid)[:n], flags&uring.CQEFMore != 0)
		br.Add(buf(bid), bid, mask, 0) // the buffer goes back to the kernel
		br.Advance(1)
	}
	unix.Shutdown(cfd, unix.SHUT_WR)
	n, flags, err := m.Next(ctx)
	fmt.Println("final:", n, err, flags&uring.CQEFMore != 0)
	m.Close()
	fmt.Println(q.Ring().FreeBufRing(br, nbufs, bgid))
	// Output:
	// "hello", more: true
	// "world", more: true
	// final: 0 <nil> false
	// <nil>
}
