package posixaio

import (
	"errors"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/fileio"
)

// Sentinel errors shared with the other backends (package completion).
var (
	ErrClosed  = completion.ErrClosed  // the Queue was closed
	ErrBusy    = completion.ErrBusy    // the Queue has as many requests in flight as its size
	ErrPending = completion.ErrPending // Handle.Result before the request finished
)

// ErrWriteAtAppend is what File.WriteAt returns, writing nothing, on a
// descriptor opened with O_APPEND, where (*os.File).WriteAt returns its
// unexported errWriteAtInAppendMode (same text, without "os: "): the kernel
// would append the data at the end of the file, whatever the offset. It is
// the same value in every aiokit backend.
var ErrWriteAtAppend = fileio.ErrWriteAtAppend

// Errors the Go layer adds where C would crash or corrupt memory.
var (
	// ErrInProgress: the Aiocb is still owned by glibc (aio_error gives EINPROGRESS),
	// so it cannot be freed, re-submitted or changed.
	ErrInProgress = errors.New("posixaio: aiocb in progress")
	// ErrFreed: the Aiocb was already freed.
	ErrFreed = errors.New("posixaio: aiocb already freed")
	// ErrReservedSignal: glibc reserves the signal (SIGRTMIN-2 and SIGRTMIN-1 of the
	// kernel, i.e. 32 and 33) for its own threads; it cannot carry AIO notifications.
	ErrReservedSignal = errors.New("posixaio: signal reserved by glibc")
	// ErrBadSigevent: the Sigevent is incomplete or of an unknown kind.
	ErrBadSigevent = errors.New("posixaio: invalid sigevent")
)
