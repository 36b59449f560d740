package libaio

import (
	"fmt"

	"github.com/aiokit/aio/cgo/completion"
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
