package libaio

import (
	"context"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// File does positioned reads and writes of one file descriptor through a Queue: an
// io.ReaderAt and io.WriterAt whose calls may come from many goroutines at once, each
// parked on Go's poller (not on an OS thread) while its request is in flight.
//
// For a descriptor opened with O_DIRECT, File learns the alignment the kernel requires
// from statx(STATX_DIOALIGN) (cmem.DirectIOAlign):
//   - a buffer whose address is not a multiple of the memory alignment is bounced through
//     aligned C memory (cmem.Alloc) and copied, so any []byte works;
//   - an offset or a length that is not a multiple of the offset alignment is refused
//     before submission with an *AlignError that wraps unix.EINVAL and names the
//     alignment (emulating it would need read-modify-write cycles that are not atomic).
//
// Without O_DIRECT there is no alignment rule, and a read first tries preadv2(RWF_NOWAIT)
// in the caller (see Queue.Read; the O_DIRECT flag is looked at once, in NewFile): when
// all of p is cached it returns at once, without a handle. Other buffered requests
// complete inside io_submit.
// File does not own the descriptor: closing it is the caller's business, after the
// last call returned.
type File struct {
	q        *Queue
	fd       int
	direct   bool
	memAlign int
	offAlign int
}

// NewFile returns a File doing I/O on fd through q. An fd C's int cannot hold gives
// EBADF (its low 32 bits would name another file).
func NewFile(q *Queue, fd int) (*File, error) {
	if fileio.FD32(fd) != int32(fd) {
		return nil, unix.EBADF
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	f := &File{q: q, fd: fd, memAlign: 1, offAlign: 1}
	if fl&unix.O_DIRECT != 0 {
		mem, off, err := cmem.DirectIOAlign(fd)
		if err != nil {
			return nil, err
		}
		f.direct, f.memAlign, f.offAlign = true, max(int(mem), 1), max(int(off), 1)
	}
	return f, nil
}

// Align returns the memory and offset alignments O_DIRECT requires on this file (1 and 1
// when the descriptor is not O_DIRECT).
func (f *File) Align() (mem, offset int) { return f.memAlign, f.offAlign }

// Fd returns the file descriptor.
func (f *File) Fd() int { return f.fd }

// ReadAt reads len(p) bytes at off (io.ReaderAt) with one IO_CMD_PREAD, and more only
// if the kernel returns a short count: like os.File.ReadAt it then reads the rest, until
// a read returns 0 bytes (end of file: io.EOF with the bytes read) or an error. A read
// larger than Linux's per-call limit (MAX_RW_COUNT, 2 GiB - 4 KiB) thus still fills p. On
// an O_DIRECT file a short count that is not a multiple of the offset alignment can only
// be the end of the file: io.EOF at once. Errors of the requests are unix.Errno values.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context: an ended ctx submits nothing, and when ctx
// ends while a read is in flight it returns ctx.Err() at once (io_cancel cannot stop a
// disk read: p stays pinned, and may still be written, until the request completes in
// the background; a bounce buffer is freed then). While all Depth slots are busy it
// waits for one, or for ctx. A nil ctx is context.Background().
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	ctx = fileio.Context(ctx)
	if !f.direct && len(p) > 0 && off >= 0 && !f.q.table.Closed() && ctx.Err() == nil &&
		f.q.inline.TryBuffered(f.fd, p, off) {
		return len(p), nil // all of p was cached: read here, no handle
	}
	return f.full(ctx, p, off, false)
}

// WriteAt writes p at off (io.WriterAt) with one IO_CMD_PWRITE, and more if the kernel
// returns a short count (like os.File.WriteAt): the error of the write that could not go
// on (ENOSPC, EFBIG ...), or io.ErrShortWrite if one wrote 0 bytes without an error.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), p, off)
}

// WriteAtContext is WriteAt with a context; see ReadAtContext.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	ctx = fileio.Context(ctx)
	return f.full(ctx, p, off, true)
}

// full repeats rw until p is done, a request returns 0 bytes or an error; on an
// O_DIRECT file a count that is not a multiple of the offset alignment ends the file.
func (f *File) full(ctx context.Context, p []byte, off int64, write bool) (int, error) {
	var end func(int) bool
	if f.direct {
		end = func(n int) bool { return n%f.offAlign != 0 }
	}
	return fileio.Full(p, off, write, func(p []byte, off int64) (int, error) {
		return f.rw(ctx, p, off, write)
	}, end)
}

func (f *File) rw(ctx context.Context, p []byte, off int64, write bool) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if f.direct && (off%int64(f.offAlign) != 0 || len(p)%f.offAlign != 0) {
		op := "read"
		if write {
			op = "write"
		}
		return 0, &AlignError{Op: op, Offset: off, Len: len(p), MemAlign: f.memAlign, OffAlign: f.offAlign}
	}
	buf := p
	var bounce *cmem.Buf
	if f.direct && len(p) > 0 && uintptr(unsafe.Pointer(&p[0]))%uintptr(f.memAlign) != 0 {
		var err error
		if bounce, err = cmem.Alloc(len(p), f.memAlign); err != nil {
			return 0, err
		}
		buf = bounce.Bytes()
		if write {
			copy(buf, p)
		}
	}
	h, err := f.q.submitRW(ctx, f.fd, buf, off, write)
	if err != nil {
		if bounce != nil {
			bounce.Free()
		}
		return 0, err
	}
	n, err := h.Wait(ctx)
	if bounce != nil {
		if !h.IsDone() {
			// ctx ended first: the kernel may still write into the bounce buffer, so it
			// is freed only when the request completes.
			go func() {
				<-h.Done()
				bounce.Free()
			}()
			return 0, err
		}
		if !write && err == nil {
			copy(p, buf[:n])
		}
		bounce.Free()
	}
	return n, err
}
