package libaio

import (
	"context"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Read submits io_prep_pread(fd, buf, offset) and returns its handle; Wait gives the
// bytes read (short at end of file, and at most MAX_RW_COUNT, 2 GiB - 4 KiB, per request)
// or the errno of the event. buf stays pinned until
// the request completes: the caller must not touch it before the handle is done.
//
// Errors io_submit reports (EBADF, EINVAL, EOPNOTSUPP ...) are returned here with a nil
// handle when this call ran the io_submit; when the request was combined into a batch
// that another goroutine was submitting (see Queue), the same errno comes from the
// handle's Wait instead. ErrBusy when Depth requests are in flight (a read served
// inline, below, takes no slot and is not refused), ErrClosed after Close. The same
// holds for every request method below.
//
// Only O_DIRECT file I/O is asynchronous. The kernel runs a read or write of a pipe,
// FIFO, socket or terminal inside io_submit: on a descriptor without O_NONBLOCK it blocks
// the submitting goroutine's thread until the data is there, together with the requests
// of other goroutines combined into the same io_submit. Use Poll for readiness, or
// O_NONBLOCK (the event then carries EAGAIN).
//
// A read of a descriptor not known to be O_DIRECT, at offset >= 0, is first tried once
// in the calling goroutine with preadv2(RWF_NOWAIT) (internal/inline): when the whole
// buffer is in the page cache it is read there, on the caller's CPU, and the handle
// returned is already done with the count the kernel's AIO would report. Otherwise, and
// after SetInlineReads(false), the request goes through io_submit as described above.
// The O_DIRECT flag is remembered per descriptor number (F_GETFL on its first read, then
// again on one read in 64 at random), so a descriptor switched to O_DIRECT with F_SETFL,
// or a number reused for an O_DIRECT file, may be read inline for a few dozen reads:
// correctly, but synchronously, waiting for the device in the caller.
func (q *Queue) Read(fd int, buf []byte, offset int64) (*completion.Handle, error) {
	return q.rw(nil, fd, buf, offset, false)
}

// SetInlineReads turns the inline read of cached data in Read and File.ReadAt on (the
// default) or off (every read goes through io_submit).
func (q *Queue) SetInlineReads(on bool) { q.inline.SetEnabled(on) }

// Write submits io_prep_pwrite(fd, buf, offset); see Read for buffer lifetime and errors.
func (q *Queue) Write(fd int, buf []byte, offset int64) (*completion.Handle, error) {
	return q.rw(nil, fd, buf, offset, true)
}

// rw submits a pread or pwrite; a non-nil ctx waits for a free slot (File's calls).
func (q *Queue) rw(ctx context.Context, fd int, buf []byte, offset int64, write bool) (*completion.Handle, error) {
	// offset < 0 is the kernel's EINVAL, not preadv2's file position.
	if !write && offset >= 0 && !q.table.Closed() {
		if h := q.inline.Try(fd, buf, offset); h != nil {
			return h, nil
		}
	}
	return q.submitRW(ctx, fd, buf, offset, write)
}

// submitRW is rw without the inline try.
func (q *Queue) submitRW(ctx context.Context, fd int, buf []byte, offset int64, write bool) (*completion.Handle, error) {
	h, op, cb, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	if write {
		cb.PrepPwrite(fd, buf, offset)
	} else {
		cb.PrepPread(fd, buf, offset)
	}
	op.PinBytes(buf)
	return q.submit(h, op, cb)
}

// Readv submits io_prep_preadv(fd, iov, len(bufs), offset) with the iovec array in C
// memory (freed when the request completes) and every buffer pinned until then.
// More than 1024 (IOV_MAX) buffers gives EINVAL.
func (q *Queue) Readv(fd int, bufs [][]byte, offset int64) (*completion.Handle, error) {
	return q.vectored(fd, bufs, offset, 0, false)
}

// Writev submits io_prep_pwritev(fd, iov, len(bufs), offset); see Readv.
func (q *Queue) Writev(fd int, bufs [][]byte, offset int64) (*completion.Handle, error) {
	return q.vectored(fd, bufs, offset, 0, true)
}

// Readv2 submits io_prep_preadv2 with RWF_* flags (RWFNowait, RWFHipri ...); see Readv.
// Flags the kernel does not know, and flags beyond C's int, give EOPNOTSUPP from
// io_submit (see Iocb.PrepPreadv2).
func (q *Queue) Readv2(fd int, bufs [][]byte, offset int64, flags int) (*completion.Handle, error) {
	return q.vectored(fd, bufs, offset, flags, false)
}

// Writev2 submits io_prep_pwritev2 with RWF_* flags (RWFDsync, RWFAppend ...); see Readv.
func (q *Queue) Writev2(fd int, bufs [][]byte, offset int64, flags int) (*completion.Handle, error) {
	return q.vectored(fd, bufs, offset, flags, true)
}

func (q *Queue) vectored(fd int, bufs [][]byte, offset int64, flags int, write bool) (*completion.Handle, error) {
	h, op, cb, err := q.begin(nil)
	if err != nil {
		return nil, err
	}
	iov, err := cmem.NewIovecs(bufs) // pins the buffers until Free
	if err != nil {
		q.table.Abort(op, err)
		return nil, err
	}
	q.iovs[uint32(op.UserData())].Store(iov)
	civ := unsafe.Slice((*unix.Iovec)(iov.Ptr()), iov.Len()) // C memory
	if write {
		cb.PrepPwritev2(fd, civ, offset, flags)
	} else {
		cb.PrepPreadv2(fd, civ, offset, flags)
	}
	return q.submit(h, op, cb)
}

// Fsync submits io_prep_fsync(fd).
func (q *Queue) Fsync(fd int) (*completion.Handle, error) { return q.fsync(nil, fd, false) }

// Fdsync submits io_prep_fdsync(fd).
func (q *Queue) Fdsync(fd int) (*completion.Handle, error) { return q.fsync(nil, fd, true) }

// fsync is Fsync, or Fdsync if data; a non-nil ctx waits for a free slot
// (File.SyncContext, File.DatasyncContext).
func (q *Queue) fsync(ctx context.Context, fd int, data bool) (*completion.Handle, error) {
	h, op, cb, err := q.begin(ctx)
	if err != nil {
		return nil, err
	}
	if data {
		cb.PrepFdsync(fd)
	} else {
		cb.PrepFsync(fd)
	}
	return q.submit(h, op, cb)
}

// Poll submits io_prep_poll(fd, events): a one-shot poll whose result is the ready
// mask. Unlike disk I/O it can be cancelled: Wait with an ended context, or Close,
// cancels it and it completes with result 0. Any request whose Wait context ends while
// it is still queued for io_submit (every submitter busy, see Queue) is not submitted:
// it completes with ECANCELED.
func (q *Queue) Poll(fd int, events int16) (*completion.Handle, error) {
	h, op, cb, err := q.begin(nil)
	if err != nil {
		return nil, err
	}
	cb.PrepPoll(fd, events)
	return q.submit(h, op, cb)
}
