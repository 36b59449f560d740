package uring

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// File is an open file whose I/O goes through a Queue: ReadAt and WriteAt
// submit IORING_OP_READ / IORING_OP_WRITE and park the calling goroutine
// until the CQE arrives, without holding an OS thread. A File is safe for
// concurrent use; it implements io.ReaderAt, io.WriterAt and io.Closer.
//
// Errors are *fs.PathError values wrapping the kernel's errno, so
// errors.Is(err, unix.EBADF) works. When every handle slot of the queue is
// in use, File methods wait for a free one (they never return ErrBusy).
//
// ReadAt and WriteAt return what (*os.File).ReadAt and WriteAt return, with
// two exceptions. An empty b still makes a request (where os.File returns
// 0, nil without a system call), so that its errors show: EBADF on a
// descriptor not open for that direction, fs.ErrClosed after Close. And
// after a write that failed part way, WriteAt counts the bytes that reached
// the file, as io.WriterAt says, where os.File says 0.
type File struct {
	q        *Queue
	name     string
	fd       int
	own      bool // Close closes fd
	buffered bool // fd was not O_DIRECT at open: ReadAt may read cached data inline
	append   bool // fd was O_APPEND at open: WriteAt refuses, as os.File's does

	// refs counts the operations using fd; the last one after Close
	// closes it (Final is closeFD).
	refs fileio.Refs

	// inflight holds the user data of this File's operations between
	// their submission and their completion, for Close to cancel one by
	// one. (IORING_ASYNC_CANCEL_FD matches by open file, not by number:
	// it would also cancel the operations of other Files, and Queue
	// calls, on a dup of the descriptor.) cancelled is set by Close.
	imu       sync.Mutex
	inflight  map[uint64]struct{}
	cancelled bool
}

// OpenFile opens path through the queue with IORING_OP_OPENAT
// (io_uring_prep_openat, AT_FDCWD), as os.OpenFile does with open(2);
// O_CLOEXEC is always added.
func OpenFile(q *Queue, path string, flag int, perm uint32) (*File, error) {
	h, err := q.openat(context.Background(), unix.AT_FDCWD, path, flag|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	fd, err := waitAll(context.Background(), h)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return newFile(q, fd, path, flag&unix.O_DIRECT == 0, flag&unix.O_APPEND != 0), nil
}

func newFile(q *Queue, fd int, name string, buffered, appendMode bool) *File {
	f := &File{q: q, name: name, fd: fd, own: true, buffered: buffered, append: appendMode,
		inflight: make(map[uint64]struct{})}
	f.refs.Final = f.closeFD
	return f
}

// NewFile wraps an open descriptor; Close will close it (through the
// queue). It looks once (F_GETFL) whether fd is O_DIRECT, and whether it is
// O_APPEND (as os.NewFile does).
func NewFile(q *Queue, fd int, name string) *File {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return newFile(q, fd, name, err == nil && fl&unix.O_DIRECT == 0, err == nil && fl&unix.O_APPEND != 0)
}

// Name returns the name given to OpenFile or NewFile.
func (f *File) Name() string { return f.name }

// Fd returns the descriptor, or -1 after Close.
func (f *File) Fd() int {
	if f.closing() {
		return -1
	}
	return f.fd
}

func (f *File) closing() bool { return f.refs.Closing() }

// wait waits for h, an operation of f's just staged (waitAll). Meanwhile
// its user data is in f.inflight, where Close finds it to cancel it. An
// operation that had its reference but was not staged yet when Close
// looked (in the inline try, waiting for a slot, resubmitting after a short
// count) could otherwise reach the kernel after Close's cancels, and a read
// of a pipe would then block with the descriptor held open: it sees
// cancelled here and cancels itself.
func (f *File) wait(ctx context.Context, h *completion.Handle) (int, error) {
	ud := h.UserData()
	f.imu.Lock()
	f.inflight[ud] = struct{}{}
	cancelled := f.cancelled
	f.imu.Unlock()
	if cancelled {
		f.q.cancel(ud)
	}
	n, err := waitAll(ctx, h)
	f.imu.Lock()
	delete(f.inflight, ud)
	f.imu.Unlock()
	return n, err
}

// cancelInFlight is Close's: it cancels (IORING_OP_ASYNC_CANCEL by user
// data) every operation of f's in flight, and makes wait cancel those
// staged later.
func (f *File) cancelInFlight() {
	f.imu.Lock()
	f.cancelled = true
	uds := make([]uint64, 0, len(f.inflight))
	for ud := range f.inflight {
		uds = append(uds, ud)
	}
	f.imu.Unlock()
	for _, ud := range uds {
		f.q.cancel(ud)
	}
}

// acquire takes a reference on the descriptor for one operation; key
// spreads the count (see fileio.Refs): the caller's buffer address, or 0.
func (f *File) acquire(key unsafe.Pointer) (int, int, error) {
	s, ok := f.refs.Acquire(uintptr(key))
	if !ok {
		return -1, 0, fs.ErrClosed
	}
	return f.fd, s, nil
}

// release drops the reference acquire took on shard s; the last one after
// Close closes the descriptor.
func (f *File) release(s int) { f.refs.Release(s) }

func (f *File) closeFD() error {
	if !f.own {
		return nil
	}
	h, err := f.q.closeFD(context.Background(), f.fd)
	if err != nil {
		// The queue is closed: close directly so the descriptor never leaks.
		return unix.Close(f.fd)
	}
	_, err = waitAll(context.Background(), h)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ECANCELED) {
		// The close never ran, and the descriptor is still open. EINVAL: a
		// kernel without IORING_OP_CLOSE (before 5.6) and without the
		// probe that would have said so fails the SQE before it looks at
		// the descriptor. ECANCELED: Queue.Close's cancel of everything in
		// flight reached the close before it ran (the kernel punts the
		// close of a file with a ->flush method, NFS or FUSE, to a worker
		// before it takes the descriptor out of the table; not
		// reproducible on the filesystems of the test machines).
		return unix.Close(f.fd)
	}
	return err
}

// waitAll waits for h; if ctx ends first it cancels the operation and
// still waits for the completion, because the caller's buffer must not be
// handed back while the kernel may write to it. It then returns ctx.Err()
// with the count the operation reached anyway (0 if it was cancelled).
func waitAll(ctx context.Context, h *completion.Handle) (int, error) {
	n, err := h.Wait(ctx)
	if err != nil && ctx.Err() != nil && err == ctx.Err() {
		<-h.Done()
		m, rerr := h.Result()
		if rerr != nil {
			m = 0
		}
		return m, err
	}
	return n, err
}

// ReadAt reads len(b) bytes at off (io.ReaderAt): it resubmits after short
// reads and returns io.EOF when the file ends before b is full.
//
// Unless the queue is RingOnly, a File whose descriptor was not O_DIRECT
// when it was opened (OpenFile's flag, NewFile's F_GETFL) first reads b
// with one preadv2(RWF_NOWAIT) in the caller, and returns at once when all
// of b was cached: no handle, no SQE (see Queue.Read). Anything else goes
// through the ring.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	return f.ReadAtContext(context.Background(), b, off)
}

// ReadAtContext is ReadAt with a context. An ended ctx reads and submits
// nothing (as in libaio's and posixaio's File). When ctx ends, the read in
// flight is cancelled (IORING_OP_ASYNC_CANCEL) and ReadAtContext returns
// ctx.Err() once the kernel has let go of b. A nil ctx is
// context.Background(), here and in the other *Context methods.
func (f *File) ReadAtContext(ctx context.Context, b []byte, off int64) (n int, err error) {
	ctx = fileio.Context(ctx)
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: errors.New("negative offset")}
	}
	fd, ref, err := f.acquire(unsafe.Pointer(unsafe.SliceData(b)))
	if err != nil {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	defer f.release(ref)
	if f.buffered && !f.q.table.Closed() && ctx.Err() == nil && f.q.inline.TryBuffered(fd, b, off) {
		return len(b), nil // all of b was cached: read here, no handle
	}
	n, err = fileio.Full(b, off, false, func(p []byte, off int64) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		h, err := f.q.readRing(ctx, fd, p, uint64(off))
		if err != nil {
			return 0, err
		}
		return f.wait(ctx, h)
	}, nil)
	if err != nil && err != io.EOF {
		err = f.err("read", err)
	}
	return n, err
}

// WriteAt writes b at off (io.WriterAt), resubmitting after short writes.
// On a file opened with O_APPEND (OpenFile's flag, NewFile's F_GETFL) it
// writes nothing and returns ErrWriteAtAppend, where os.File
// returns its errWriteAtInAppendMode: the kernel would append b at the end
// of the file, whatever off.
func (f *File) WriteAt(b []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), b, off)
}

// WriteAtContext is WriteAt with a context (see ReadAtContext).
func (f *File) WriteAtContext(ctx context.Context, b []byte, off int64) (n int, err error) {
	ctx = fileio.Context(ctx)
	if f.append {
		return 0, ErrWriteAtAppend
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: errors.New("negative offset")}
	}
	fd, ref, err := f.acquire(unsafe.Pointer(unsafe.SliceData(b)))
	if err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	defer f.release(ref)
	n, err = fileio.Full(b, off, true, func(p []byte, off int64) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		h, err := f.q.write(ctx, fd, p, uint64(off))
		if err != nil {
			return 0, err
		}
		return f.wait(ctx, h)
	}, nil)
	if err != nil {
		err = f.err("write", err)
	}
	return n, err
}

// Sync flushes the file to stable storage with IORING_OP_FSYNC.
func (f *File) Sync() error {
	return f.SyncContext(context.Background())
}

// SyncContext is Sync with a context (an ended ctx submits nothing).
func (f *File) SyncContext(ctx context.Context) error { return f.sync(ctx, "sync", 0) }

// Datasync flushes the file's data, and only the metadata needed to read it
// back (fdatasync(2)): IORING_OP_FSYNC with IORING_FSYNC_DATASYNC, waited
// for.
func (f *File) Datasync() error { return f.DatasyncContext(context.Background()) }

// DatasyncContext is Datasync with a context (an ended ctx submits nothing).
func (f *File) DatasyncContext(ctx context.Context) error {
	return f.sync(ctx, "datasync", FsyncDatasync)
}

// sync is SyncContext and DatasyncContext: IORING_OP_FSYNC with flags.
func (f *File) sync(ctx context.Context, op string, flags uint32) error {
	ctx = fileio.Context(ctx)
	fd, ref, err := f.acquire(nil)
	if err != nil {
		return &fs.PathError{Op: op, Path: f.name, Err: err}
	}
	defer f.release(ref)
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := f.q.fsync(ctx, fd, flags)
	if err != nil {
		return f.err(op, err)
	}
	if _, err := f.wait(ctx, h); err != nil {
		return f.err(op, err)
	}
	return nil
}

// Stat returns the file's metadata (IORING_OP_STATX with AT_EMPTY_PATH on
// the descriptor).
func (f *File) Stat(mask uint32) (*unix.Statx_t, error) {
	fd, ref, err := f.acquire(nil)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	defer f.release(ref)
	st := new(unix.Statx_t)
	h, err := f.q.statx(context.Background(), fd, "", unix.AT_EMPTY_PATH, mask, st)
	if err != nil {
		return nil, f.err("stat", err)
	}
	if _, err := f.wait(context.Background(), h); err != nil {
		return nil, f.err("stat", err)
	}
	return st, nil
}

// Close closes the file with IORING_OP_CLOSE (io_uring_prep_close). If
// operations of the File are still in flight, Close cancels them
// (IORING_OP_ASYNC_CANCEL by user data, one each: a read blocked on a pipe
// returns fs.ErrClosed, as with os.File; operations on a dup of the
// descriptor are left alone), the descriptor is closed
// when the last one has finished, and Close returns nil at once. A second
// Close returns fs.ErrClosed.
func (f *File) Close() error {
	// Operations in flight are cancelled while Close still holds a
	// reference, so that fd (closed by the last one) cannot be closed and
	// reused first.
	ok, err := f.refs.Close(f.cancelInFlight)
	if !ok {
		err = fs.ErrClosed
	}
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

func (f *File) err(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, unix.ECANCELED) {
		if f.closing() { // cancelled by Close
			err = fs.ErrClosed
		}
	}
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

var (
	_ io.ReaderAt = (*File)(nil)
	_ io.WriterAt = (*File)(nil)
	_ io.Closer   = (*File)(nil)
)
