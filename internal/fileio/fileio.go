// Package fileio holds what the File types of uring, libaio and posixaio
// share: the loop that turns one asynchronous request per call into the
// io.ReaderAt and io.WriterAt contracts.
package fileio

import (
	"context"
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// Full transfers all of p at off, as (*os.File).ReadAt and WriteAt do: it
// calls do(p[n:], off+n), where n is what the earlier calls moved, until p
// is done, do fails, do moves 0 bytes, or end (when not nil) says that the
// count do returned can only mean the end of the file (an O_DIRECT read
// that is not a multiple of the alignment). A read that stops early ends
// with io.EOF, a write with io.ErrShortWrite. do's EINTR is retried. An
// empty p calls do once, so that the request's own errors (EBADF, a
// closed queue) still show.
func Full(p []byte, off int64, write bool, do func(p []byte, off int64) (int, error), end func(n int) bool) (int, error) {
	n := 0
	for {
		m, err := do(p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		n += m
		switch {
		case err != nil:
			return n, err
		case n == len(p):
			return n, nil
		case m == 0, end != nil && end(m):
			if write {
				return n, io.ErrShortWrite
			}
			return n, io.EOF
		}
	}
}

// Context returns ctx, or context.Background() for a nil ctx: the File
// types' *Context methods accept nil as Handle.Wait does, where a nil ctx
// would otherwise panic at its first ctx.Err().
func Context(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// FD32 is fd as C's int (a 32-bit descriptor field): fd itself, or -1 when
// C's int cannot hold it. The kernel and the C libraries answer -1 with
// EBADF; fd cut to its low 32 bits could name another open file.
func FD32(fd int) int32 {
	if fd != int(int32(fd)) {
		return -1
	}
	return int32(fd)
}

// ErrWriteAtAppend is what the File types' WriteAt returns on a descriptor
// opened with O_APPEND, where os.File's WriteAt returns its (unexported)
// errWriteAtInAppendMode: Linux's pwrite(2) and the AIO writes would append
// the data at the end of the file, whatever the offset.
var ErrWriteAtAppend = errors.New("invalid use of WriteAt on file opened with O_APPEND")

// Append reports whether fd is open with O_APPEND (false if F_GETFL fails,
// as for os.NewFile).
func Append(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_APPEND != 0
}

// Fsync is fsync(2) of fd, or fdatasync(2) if data, EINTR retried.
func Fsync(fd int, data bool) error {
	for {
		var err error
		if data {
			err = unix.Fdatasync(fd)
		} else {
			err = unix.Fsync(fd)
		}
		if err != unix.EINTR {
			return err
		}
	}
}
