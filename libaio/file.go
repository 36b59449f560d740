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
// from statx(STATX_DIOALIGN) or the block device (cmem.DirectIOAlignKnown):
//   - a buffer whose address is not a multiple of the memory alignment is bounced through
//     aligned C memory (cmem.Alloc) and copied, so any []byte works;
//   - an offset or a length that is not a multiple of the offset alignment is refused
//     before submission with an *AlignError that wraps unix.EINVAL and names the
//     alignment (emulating it would need read-modify-write cycles that are not atomic);
//     an empty request is not refused (the kernel returns 0 for it);
//   - where the kernel reports no alignment (tmpfs; kernels before 6.1), buffers are
//     bounced to cmem.DefaultDirectAlign and offsets and lengths are left to the kernel;
//     where statx says the file does no direct I/O (both alignments 0), the kernel does
//     the I/O buffered and File keeps to no rule.
//
// Without O_DIRECT there is no alignment rule, and a read first tries preadv2(RWF_NOWAIT)
// in the caller (see Queue.Read; the O_DIRECT flag is looked at once, in NewFile): when
// all of p is cached it returns at once, without a handle. Other buffered requests
// complete inside io_submit.
// File does not own the descriptor: closing it is the caller's business, after the
// last call returned.
//
// Apart from the O_DIRECT rules above and the errors (unix.Errno values, not
// *fs.PathError; EINVAL for a negative offset), ReadAt and WriteAt return what
// (*os.File).ReadAt and WriteAt return, with two exceptions. An empty p still makes a
// request (where os.File returns 0, nil without a system call), so that its errors
// show: EBADF on a descriptor not open for that direction, ErrClosed after Queue.Close.
// And after a write that failed part way, WriteAt counts the bytes that reached the
// file, as io.WriterAt says, where os.File says 0.
type File struct {
	q        *Queue
	fd       int
	direct   bool
	append   bool // O_APPEND: WriteAt refuses, as os.File's does
	memAlign int  // buffers at other addresses are bounced
	offAlign int  // offsets and lengths must be multiples (refused otherwise)
	eofAlign int  // a short count that is not a multiple is the end of the file
}

// NewFile returns a File doing I/O on fd through q. It looks at fd's flags once
// (fcntl F_GETFL: O_DIRECT, O_APPEND) and, for O_DIRECT, at its alignment
// (cmem.DirectIOAlignKnown); their errors are returned (EBADF for a closed fd), but
// for statx's EINVAL, a file that does no direct I/O (see File). An fd C's int cannot
// hold gives EBADF (its low 32 bits would name another file).
func NewFile(q *Queue, fd int) (*File, error) {
	if fileio.FD32(fd) != int32(fd) {
		return nil, unix.EBADF
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	f := &File{q: q, fd: fd, append: fl&unix.O_APPEND != 0, memAlign: 1, offAlign: 1, eofAlign: 1}
	if fl&unix.O_DIRECT != 0 {
		mem, off, known, err := cmem.DirectIOAlignKnown(fd)
		switch {
		case err == unix.EINVAL:
			// statx says the filesystem does no direct I/O on this file (ext4 with
			// data=journal, an encrypted or verity file ...): the kernel then does
			// the I/O buffered, with no alignment rule.
		case err != nil:
			return nil, err
		case known:
			f.direct, f.memAlign, f.offAlign = true, max(int(mem), 1), max(int(off), 1)
			f.eofAlign = f.offAlign
		default:
			// A guess (cmem.DefaultDirectAlign): buffers are bounced to it, which
			// satisfies any rule, and a short count that is not a multiple of it is
			// the end of the file, but offsets and lengths are left to the kernel
			// (tmpfs takes any; it may need less than the guess).
			f.direct, f.memAlign, f.eofAlign = true, max(int(mem), 1), max(int(off), 1)
		}
	}
	return f, nil
}

// Align returns the memory and offset alignments File keeps to on this file: buffers at
// addresses that are not multiples of mem are bounced, and requests whose offset or
// length is not a multiple of offset are refused (*AlignError). Both are what statx
// (STATX_DIOALIGN) or the block device reports for an O_DIRECT descriptor; 1 and 1 for
// one without O_DIRECT. Where the kernel does not say, mem is cmem.DefaultDirectAlign
// and offset 1: the kernel checks offsets and lengths itself.
func (f *File) Align() (mem, offset int) { return f.memAlign, f.offAlign }

// Fd returns the file descriptor.
func (f *File) Fd() int { return f.fd }

// ReadAt reads len(p) bytes at off (io.ReaderAt) with one IO_CMD_PREAD, and more only
// if the kernel returns a short count: like os.File.ReadAt it then reads the rest, until
// a read returns 0 bytes (end of file: io.EOF with the bytes read) or an error. A read
// larger than Linux's per-call limit (MAX_RW_COUNT, 2 GiB - 4 KiB) thus still fills p. On
// an O_DIRECT file a short count that is not a multiple of the offset alignment (of
// cmem.DefaultDirectAlign where the alignment is only guessed) can only be the end of
// the file: io.EOF at once. Errors of the requests are unix.Errno values.
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
// on (ENOSPC, EFBIG ...), or io.ErrShortWrite if one wrote 0 bytes without an error. On
// a descriptor that was O_APPEND in NewFile it writes nothing and returns
// ErrWriteAtAppend, where os.File returns its errWriteAtInAppendMode: the kernel would
// append p at the end of the file, whatever off.
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

// Sync flushes the file to stable storage, as os.File.Sync does: an IO_CMD_FSYNC
// request (Queue.Fsync), waited for. Where the kernel or the file system has no AIO
// fsync (before Linux 4.18; io_submit's EINVAL) it calls fsync(2) itself, in the
// calling goroutine. Errors are the request's unix.Errno values.
func (f *File) Sync() error { return f.SyncContext(context.Background()) }

// SyncContext is Sync with a context: an ended ctx submits nothing, and when ctx ends
// while the fsync is in flight it returns ctx.Err() at once (the fsync goes on in the
// background: io_cancel cannot stop it). While all Depth slots are busy it waits for
// one, or for ctx. A nil ctx is context.Background().
func (f *File) SyncContext(ctx context.Context) error { return f.sync(ctx, false) }

// Datasync flushes the file's data, and only the metadata needed to read it back
// (fdatasync(2)): an IO_CMD_FDSYNC request (Queue.Fdsync), waited for, with
// fdatasync(2) in the calling goroutine where the kernel has no AIO fdsync (EINVAL).
func (f *File) Datasync() error { return f.DatasyncContext(context.Background()) }

// DatasyncContext is Datasync with a context, as SyncContext is Sync's.
func (f *File) DatasyncContext(ctx context.Context) error { return f.sync(ctx, true) }

// sync is SyncContext (IO_CMD_FSYNC, fsync(2)) and DatasyncContext (IO_CMD_FDSYNC,
// fdatasync(2)).
func (f *File) sync(ctx context.Context, data bool) error {
	ctx = fileio.Context(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := f.q.fsync(ctx, f.fd, data)
	if err == nil {
		_, err = h.Wait(ctx)
	}
	if err == unix.EINVAL {
		// No AIO fsync here: fsync(2) or fdatasync(2) gives the answer
		// os.File.Sync would.
		err = fileio.Fsync(f.fd, data)
	}
	return err
}

// full repeats rw until p is done, a request returns 0 bytes or an error; on an
// O_DIRECT file a count that is not a multiple of eofAlign (the offset alignment, or
// cmem.DefaultDirectAlign where it is only guessed) ends the file.
func (f *File) full(ctx context.Context, p []byte, off int64, write bool) (int, error) {
	var end func(int) bool
	if f.direct {
		end = func(n int) bool { return n%f.eofAlign != 0 }
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
	if f.direct && len(p) > 0 && (off%int64(f.offAlign) != 0 || len(p)%f.offAlign != 0) {
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
		// posix_memalign takes multiples of the pointer size only; a device may
		// ask for less (NVMe reports 4).
		if bounce, err = cmem.Alloc(len(p), max(f.memAlign, int(unsafe.Sizeof(uintptr(0))))); err != nil {
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
