package libaio

import (
	"errors"
	"fmt"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/errs"
	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// Sentinel errors shared with the other aiokit backends (package completion).
var (
	// ErrClosed is returned by calls on a Context once Destroy/QueueRelease has started,
	// and by Queue and File operations after Queue.Close. C's io_submit and io_cancel
	// return EINVAL on a destroyed context (io_getevents and io_queue_run fault on its
	// unmapped ring); ErrClosed is completion.ErrClosed, shared with the other backends,
	// and does not match unix.EINVAL.
	ErrClosed = completion.ErrClosed
	// ErrBusy is returned by Queue operations when Depth requests are already in flight.
	ErrBusy = completion.ErrBusy
	// ErrPending is returned by Handle.Result while the request is in flight.
	ErrPending = completion.ErrPending
)

// ErrWriteAtAppend is what File.WriteAt returns, writing nothing, on a
// descriptor opened with O_APPEND, where (*os.File).WriteAt returns its
// unexported errWriteAtInAppendMode (same text, without "os: "): the kernel
// would append the data at the end of the file, whatever the offset. It is
// the same value in every aiokit backend.
var ErrWriteAtAppend = fileio.ErrWriteAtAppend

// ErrUnavailable reports that the system refused Linux AIO itself at io_setup: ENOSYS
// (a kernel built without CONFIG_AIO) or EPERM (a seccomp profile, a container policy).
// The error of NewQueue then matches both ErrUnavailable and the errno with errors.Is,
// so that a caller can fall back to another backend (uring's ErrUnavailable is the same
// for io_uring_setup). EAGAIN, /proc/sys/fs/aio-max-nr used up by the contexts of the
// whole system, is not: it is the plain errno, and a later try may succeed. Setup and
// QueueInit, the raw layer, return the plain errno in every case, as C sees it.
var ErrUnavailable = errors.New("libaio: Linux AIO unavailable")

// setupErr wraps an io_setup refusal by the system (ENOSYS, EPERM) in ErrUnavailable;
// other errors are returned as they are.
func setupErr(err error) error {
	if err == unix.ENOSYS || err == unix.EPERM {
		return errs.NewRefused("libaio: Linux AIO unavailable: io_setup", ErrUnavailable, err.(unix.Errno))
	}
	return err
}

// AlignError reports an O_DIRECT request that File refuses because its offset or length
// is not a multiple of the file's direct-I/O offset alignment, as the kernel reported it
// (statx STATX_DIOALIGN or a block device's logical block size, via
// cmem.DirectIOAlignKnown). Where the alignment is only guessed (tmpfs; kernels before
// 6.1), File refuses nothing and leaves offsets and lengths to the kernel. It wraps
// unix.EINVAL, the errno the kernel would give.
type AlignError struct {
	Op       string // "read" or "write"
	Offset   int64  // file offset of the request
	Len      int    // length of the request
	MemAlign int    // required buffer address alignment (File bounces misaligned memory itself)
	OffAlign int    // required offset and length alignment
}

func (e *AlignError) Error() string {
	return fmt.Sprintf("libaio: %s of %d bytes at offset %d: O_DIRECT file needs offset and length multiples of %d (memory aligned to %d): %v",
		e.Op, e.Len, e.Offset, e.OffAlign, e.MemAlign, unix.EINVAL)
}

// Unwrap returns unix.EINVAL, so errors.Is(err, unix.EINVAL) holds.
func (e *AlignError) Unwrap() error { return unix.EINVAL }
