package completion

import (
	"encoding/binary"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Notifier is an eventfd registered with Go's network poller. A backend
// hands its FD to the kernel (io_uring_register_eventfd, IOCB_FLAG_RESFD) or
// signals it from C (a SIGEV_THREAD trampoline); a reaper goroutine parks in
// Wait without holding an OS thread.
type Notifier struct {
	f   *os.File
	fd  int
	buf [8]byte
}

// NewNotifier creates a non-blocking eventfd (eventfd(0, EFD_NONBLOCK |
// EFD_CLOEXEC)) and registers it with Go's poller.
func NewNotifier() (*Notifier, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	// os.NewFile notices the non-blocking flag and uses the poller.
	return &Notifier{f: os.NewFile(uintptr(fd), "aiokit-eventfd"), fd: fd}, nil
}

// FD returns the eventfd's file descriptor.
func (n *Notifier) FD() int { return n.fd }

// Signal adds 1 to the eventfd counter, waking a parked Wait.
func (n *Notifier) Signal() error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for {
		_, err := unix.Write(n.fd, one[:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN { // counter saturated: a wake-up is pending anyway
			return nil
		}
		return err
	}
}

// Wait parks the calling goroutine until the counter is non-zero, resets it
// and returns its value. Only one goroutine may call Wait at a time. After
// Close it returns ErrClosed.
func (n *Notifier) Wait() (uint64, error) {
	_, err := n.f.Read(n.buf[:])
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, err
	}
	return binary.NativeEndian.Uint64(n.buf[:]), nil
}

// Close closes the eventfd; a goroutine parked in Wait returns ErrClosed.
func (n *Notifier) Close() error { return n.f.Close() }
