package completion

import (
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Notifier is an eventfd registered with Go's network poller. A backend
// hands its FD to the kernel (io_uring_register_eventfd, IOCB_FLAG_RESFD) or
// signals it from C (a SIGEV_THREAD trampoline); a reaper goroutine parks in
// Wait without holding an OS thread.
type Notifier struct {
	f      *os.File
	rc     syscall.RawConn // n.f's: writes hold a reference that Close waits out
	closed atomic.Bool
	fd     int
	buf    [8]byte
}

// NewNotifier creates a non-blocking eventfd (eventfd(0, EFD_NONBLOCK |
// EFD_CLOEXEC)) and registers it with Go's poller. A refused eventfd is
// an *os.SyscallError naming it (EMFILE, ENFILE, ENOMEM: errors.Is with
// the errno holds).
func NewNotifier() (*Notifier, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	// os.NewFile notices the non-blocking flag and uses the poller.
	f := os.NewFile(uintptr(fd), "aiokit-eventfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Notifier{f: f, rc: rc, fd: fd}, nil
}

// FD returns the eventfd's file descriptor (its number stays the same after
// Close, when it may name another file: hand it to the kernel only while
// the Notifier is open).
func (n *Notifier) FD() int { return n.fd }

// Signal adds 1 to the eventfd counter, waking a parked Wait. After Close
// it returns ErrClosed and writes nothing: the descriptor number may by then
// belong to another file. The write runs under the os.File's reference, so
// a concurrent Close waits for it.
func (n *Notifier) Signal() error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	var werr error
	err := n.rc.Write(func(fd uintptr) bool {
		for {
			_, werr = unix.Write(int(fd), one[:])
			if werr != unix.EINTR {
				break
			}
		}
		if werr == unix.EAGAIN { // counter saturated: a wake-up is pending anyway
			werr = nil
		}
		return true
	})
	if err != nil {
		if n.closed.Load() || errors.Is(err, os.ErrClosed) {
			return ErrClosed // the RawConn says "use of closed file"
		}
		return err
	}
	return werr
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
func (n *Notifier) Close() error {
	n.closed.Store(true)
	return n.f.Close()
}
