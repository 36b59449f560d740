package posixaio

/*
#include <aio.h>
*/
import "C"

import (
	"context"

	"github.com/aiokit/aio/internal/fileio"
)

// File does positioned reads and writes of one descriptor through a Queue:
// an io.ReaderAt and io.WriterAt whose calls may come from many goroutines
// at once, each parked on Go's poller (not on an OS thread) while glibc's
// threads run its request. As everywhere in glibc's AIO, the requests of one
// descriptor run one after the other, in submission order.
//
// Errors are the requests' unix.Errno values. When every slot of the queue
// is in use, File methods wait for a free one (they never return ErrBusy).
// File does not own the descriptor: closing it is the caller's business,
// after the last call returned.
//
// Apart from the errors (unix.Errno values, not *fs.PathError; EINVAL for
// a negative offset), ReadAt and WriteAt return what (*os.File).ReadAt and
// WriteAt return, with two exceptions. An empty p still makes a request
// (where os.File returns 0, nil without a system call), so that its errors
// show: EBADF on a descriptor not open for that direction, ErrClosed after
// Queue.Close. And after a write that failed part way, WriteAt counts the
// bytes that reached the file, as io.WriterAt says, where os.File says 0.
type File struct {
	q      *Queue
	fd     int
	append bool // O_APPEND: WriteAt refuses, as os.File's does
}

// NewFile returns a File doing I/O on fd through q. It looks once
// (F_GETFL, as os.NewFile does) whether fd is O_APPEND; it never fails: a
// bad fd, or one C's int cannot hold, gives EBADF from each request. (Such a
// wide fd is not looked at: fcntl would take its low 32 bits, another file,
// whose O_APPEND made WriteAt return ErrWriteAtAppend.)
func NewFile(q *Queue, fd int) *File {
	return &File{q: q, fd: fd, append: fileio.FD32(fd) == int32(fd) && fileio.Append(fd)}
}

// Fd returns the file descriptor.
func (f *File) Fd() int { return f.fd }

// ReadAt reads len(p) bytes at off (io.ReaderAt) with aio_read, and more
// only if a request returns a short count: like os.File.ReadAt it then reads
// the rest, until a request returns 0 bytes (end of file: io.EOF with the
// bytes read) or an error. A negative offset is glibc's EINVAL.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context: an ended ctx submits nothing, and
// when ctx ends while a request is in flight it asks glibc to cancel it
// (aio_cancel) and returns ctx.Err() at once. A request that a glibc thread
// already runs cannot be cancelled: p stays pinned, and may still be
// written, until it completes in the background. A nil ctx is
// context.Background().
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	ctx = fileio.Context(ctx)
	return f.full(ctx, p, off, false)
}

// WriteAt writes p at off (io.WriterAt) with aio_write, and more if a
// request returns a short count: the error of the request that could not go
// on (ENOSPC, EFBIG ...), or io.ErrShortWrite if one wrote 0 bytes. On a
// descriptor that was O_APPEND in NewFile it writes nothing and returns
// ErrWriteAtAppend, where os.File returns its
// errWriteAtInAppendMode: glibc's pwrite would append p at the end of the
// file, whatever off.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), p, off)
}

// WriteAtContext is WriteAt with a context; see ReadAtContext.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	ctx = fileio.Context(ctx)
	if f.append {
		return 0, ErrWriteAtAppend
	}
	return f.full(ctx, p, off, true)
}

// Sync is aio_fsync(O_SYNC) of the descriptor, waited for.
func (f *File) Sync() error { return f.SyncContext(context.Background()) }

// SyncContext is Sync with a context; see ReadAtContext for what an ended
// ctx does.
func (f *File) SyncContext(ctx context.Context) error { return f.sync(ctx, OSync) }

// Datasync is aio_fsync(O_DSYNC) of the descriptor (the data, and only the
// metadata needed to read it back, as fdatasync(2)), waited for.
func (f *File) Datasync() error { return f.DatasyncContext(context.Background()) }

// DatasyncContext is Datasync with a context, as SyncContext is Sync's.
func (f *File) DatasyncContext(ctx context.Context) error { return f.sync(ctx, ODsync) }

// sync is SyncContext (op OSync) and DatasyncContext (ODsync).
func (f *File) sync(ctx context.Context, op int) error {
	ctx = fileio.Context(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := f.q.fsync(ctx, f.fd, op)
	if err != nil {
		return err
	}
	_, err = h.Wait(ctx)
	return err
}

func (f *File) full(ctx context.Context, p []byte, off int64, write bool) (int, error) {
	return fileio.Full(p, off, write, func(p []byte, off int64) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		op := C.int(C.LIO_READ)
		if write {
			op = C.LIO_WRITE
		}
		h, err := f.q.submit(ctx, op, f.fd, p, off)
		if err != nil {
			return 0, err
		}
		return h.Wait(ctx)
	}, nil)
}
