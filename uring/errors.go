package uring

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/errs"
	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by every Ring method called after [Ring.Close]. It is
// completion.ErrClosed, so one errors.Is check covers all aiokit backends.
var ErrClosed = completion.ErrClosed

// ErrWriteAtAppend is what File.WriteAt returns, writing nothing, on a
// descriptor opened with O_APPEND, where (*os.File).WriteAt returns its
// unexported errWriteAtInAppendMode (same text, without "os: "): the kernel
// would append the data at the end of the file, whatever the offset. It is
// the same value in every aiokit backend.
var ErrWriteAtAppend = fileio.ErrWriteAtAppend

// ErrUnavailable reports that the kernel refused io_uring itself at
// io_uring_setup(2): EPERM (kernel.io_uring_disabled, seccomp, a container
// policy) or ENOSYS (kernel built without io_uring). The error returned by
// [New] matches both ErrUnavailable and the errno with errors.Is.
var ErrUnavailable = errors.New("uring: io_uring unavailable")

// setupErr maps a negative io_uring_setup result for a ring with setup
// flags to an error.
//
// Before Linux 5.11 IORING_SETUP_SQPOLL needs CAP_SYS_ADMIN, and the kernel
// refuses it with the EPERM that also means io_uring is disabled. So an
// EPERM for an SQPOLL ring is ErrUnavailable only when a plain ring is
// refused too; otherwise it is ErrSQPollPerm, which matches unix.EPERM
// (io_uring works, SQPOLL does not).
func setupErr(ret int, flags uint32) error {
	e := unix.Errno(-ret)
	if e == unix.EPERM && flags&SetupSQPoll != 0 && plainSetupWorks() {
		return ErrSQPollPerm
	}
	if e == unix.EPERM || e == unix.ENOSYS {
		return errs.NewRefused("uring: io_uring unavailable", ErrUnavailable, e)
	}
	return e
}

// ErrSQPollPerm is the error of New, Setup and NewQueueConfig when the
// kernel refuses IORING_SETUP_SQPOLL with EPERM but sets up rings without
// it: before Linux 5.11 an SQ thread needs CAP_SYS_ADMIN. It matches
// unix.EPERM, not ErrUnavailable.
var ErrSQPollPerm = fmt.Errorf("uring: IORING_SETUP_SQPOLL refused (it needs CAP_SYS_ADMIN before Linux 5.11): %w", unix.EPERM)

// plainSetupWorks reports whether io_uring_setup(2) gives a 1-entry ring
// without flags (closed at once).
func plainSetupWorks() bool {
	var p Params
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return false
	}
	unix.Close(int(fd))
	return true
}

// resErr converts a liburing/kernel result (>= 0 or -errno) to an error.
func resErr(res int32) error {
	if res >= 0 {
		return nil
	}
	return unix.Errno(-res)
}

// retInt converts a liburing int result to (n, nil) or (0, errno).
func retInt(ret int) (int, error) {
	if ret < 0 {
		return 0, unix.Errno(-ret)
	}
	return ret, nil
}

// ErrQueueRing is returned for the ring under a Queue (Queue.Ring) by the
// calls that would take it from the queue: Close (close the Queue instead),
// UnregisterEventFD and CQEventFDToggle (the queue's reaper is woken through
// that eventfd: without it no asynchronous completion reaches its handle),
// RegisterRingFD (liburing would then enter the ring from the
// registering thread only, and the queue submits from any), and
// RegisterRestrictions (the queue's own cancels would be refused).
var ErrQueueRing = errors.New("uring: the ring belongs to a Queue")

// ErrNotSupported matches errors for io_uring features this kernel lacks,
// such as an [UnsupportedOpError].
var ErrNotSupported = errors.New("uring: not supported by this kernel")

// UnsupportedOpError is returned by Queue methods (and Queue.Link) for an
// opcode that io_uring_register_probe reports as unsupported: the SQE is
// not submitted, since the kernel would only fail it with -EINVAL. It
// matches [ErrNotSupported] and unix.EINVAL with errors.Is.
type UnsupportedOpError struct {
	Op uint8 // the IORING_OP_* opcode
}

// Error names the opcode.
func (e *UnsupportedOpError) Error() string {
	return "uring: " + OpName(e.Op) + " not supported by this kernel (io_uring probe)"
}

// Is makes errors.Is(err, ErrNotSupported) and errors.Is(err, unix.EINVAL) true.
func (e *UnsupportedOpError) Is(target error) bool {
	return target == ErrNotSupported || target == unix.EINVAL
}

// memlockError is NewQueueConfig's error when io_uring_setup (or
// liburing's mmap of the rings) fails with ENOMEM while RLIMIT_MEMLOCK is
// finite: the kernel charges a ring made by a thread without CAP_IPC_LOCK
// to the user's locked memory (before Linux 5.12, and again on the 6.x
// kernels that allocate rings as regions, although io_uring_mlock_size
// says 0 there), and the bare "cannot allocate memory" does not say which
// limit to raise.
type memlockError struct {
	errno   unix.Errno
	entries uint32
	limit   uint64
}

// Error names the call, the errno and the limit.
func (e *memlockError) Error() string {
	return fmt.Sprintf("uring: io_uring_setup(%d entries): %v (without CAP_IPC_LOCK the ring's memory counts against RLIMIT_MEMLOCK, %d bytes for all of the user's rings and registered buffers; see ulimit -l; or the address space is full, RLIMIT_AS)", e.entries, e.errno, e.limit)
}

// Unwrap exposes the errno (errors.Is(err, unix.ENOMEM)).
func (e *memlockError) Unwrap() error { return e.errno }

// queueSetupErr is New's error err for a Queue of entries: ENOMEM names
// RLIMIT_MEMLOCK when that limit is finite (memlockError).
func queueSetupErr(err error, entries uint32) error {
	if err != unix.ENOMEM {
		return err
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) != nil || lim.Cur == unix.RLIM_INFINITY {
		return err
	}
	return &memlockError{errno: unix.ENOMEM, entries: entries, limit: lim.Cur}
}
