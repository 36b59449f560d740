package completion

import "errors"

var (
	// ErrClosed is returned when an operation is started on a table (and so a
	// ring, context or queue) that has been closed.
	ErrClosed = errors.New("aiokit: use of closed queue")
	// ErrBusy is returned by Table.Begin when every slot is in flight.
	ErrBusy = errors.New("aiokit: too many operations in flight")
	// ErrPending is returned by Handle.Result before the operation completed.
	ErrPending = errors.New("aiokit: operation still in flight")
	// ErrAborted is what a handle reports when Table.Abort finished its
	// operation with a nil error: the operation never reached the kernel,
	// so it must not look like a success that moved 0 bytes.
	ErrAborted = errors.New("aiokit: operation aborted before submission")
	// ErrNilHandle is what the methods of a nil *Handle report (see Handle).
	ErrNilHandle = errors.New("aiokit: nil handle")
)
