package uring

import (
	"context"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Every method below is safe for concurrent use. It returns ErrClosed after
// Close, ErrBusy when MaxInFlight operations are in flight, and otherwise a
// handle whose Wait reports the CQE's res exactly as the kernel set it
// (a count, or a unix.Errno for a negative res).
//
// Buffer lifetime: the memory passed in (buffers, iovecs, paths, statx
// results) belongs to the kernel until the handle is done. It is pinned
// until then, even when Wait returns early because its context ended; the
// caller must not reuse a buffer before Done() is closed.

// Nop submits IORING_OP_NOP (io_uring_prep_nop).
func (q *Queue) Nop() (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepNop() })
}

// Read submits IORING_OP_READ (io_uring_prep_read): pread of len(buf) bytes
// at off (off = ^uint64(0) reads at the file position). buf is pinned until
// the completion.
//
// Unless QueueConfig.RingOnly is set, a read at an offset (not at the file
// position) of a descriptor not known to be O_DIRECT is first tried once in
// the calling goroutine with preadv2(RWF_NOWAIT): when the whole buffer is
// in the page cache it is read there and the handle returned is already
// done, with the same count the ring would report. Otherwise (not cached,
// partly cached, EOF, any error) the read goes through the ring and reports
// the ring's result. The O_DIRECT flag is remembered per descriptor number
// (F_GETFL on its first read, then again on one read in 64 at random), so a
// descriptor switched to O_DIRECT with F_SETFL, or a number reused for an
// O_DIRECT file, may be read inline for a few dozen reads: correctly, but
// synchronously, waiting for the device in the caller. A
// cached 4 KiB read costs about what a goroutine park and wake-up costs,
// and the ring copies all of them on the one thread that submits; done in
// the caller, they spread over every CPU (internal/inline, docs/uring.md).
// Like unlinked SQEs, such a read is not ordered after writes in flight.
func (q *Queue) Read(fd int, buf []byte, off uint64) (*completion.Handle, error) {
	return q.read(nil, fd, buf, off)
}

func (q *Queue) read(ctx context.Context, fd int, buf []byte, off uint64) (*completion.Handle, error) {
	if !q.table.Closed() {
		if h := q.inline.Try(fd, buf, int64(off)); h != nil { // ^0 is -1: never inline
			return h, nil
		}
	}
	return q.readRing(ctx, fd, buf, off)
}

// readRing is read without the inline try.
func (q *Queue) readRing(ctx context.Context, fd int, buf []byte, off uint64) (*completion.Handle, error) {
	return q.submit(ctx, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepRead(fd, rwSpan(buf), off) })
}

// Write submits IORING_OP_WRITE (io_uring_prep_write): pwrite of buf at off.
// buf is pinned until the completion.
func (q *Queue) Write(fd int, buf []byte, off uint64) (*completion.Handle, error) {
	return q.write(nil, fd, buf, off)
}

func (q *Queue) write(ctx context.Context, fd int, buf []byte, off uint64) (*completion.Handle, error) {
	return q.submit(ctx, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepWrite(fd, rwSpan(buf), off) })
}

// maxRW is Linux's MAX_RW_COUNT (INT_MAX rounded down to a page), the most
// one read or write moves.
const maxRW = 0x7ffff000

// rwSpan is the part of b that one read, write, send or receive of the
// queue hands the kernel: all of it, or its first maxRW bytes. Without the
// cut, the SQE's 32-bit length (the C helpers' (__u32) cast, which the raw
// Prep methods keep) would turn a buffer of 4 GiB + 4 bytes into a 4-byte
// request; with it, the request is short, as read(2) on such a buffer is.
func rwSpan(b []byte) []byte {
	if len(b) > maxRW {
		return b[:maxRW]
	}
	return b
}

// pinIovecs builds an iovec array over bufs and pins it and every buffer.
func pinIovecs(op *completion.Op, bufs [][]byte) []unix.Iovec {
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		if len(b) > 0 {
			op.PinBytes(b)
			iov[i].Base = &b[0]
			iov[i].SetLen(len(b))
		}
	}
	if len(iov) > 0 {
		op.Pin(&iov[0])
	}
	return iov
}

// submitVec submits an operation on an iovec array over bufs: prep gets
// the array, which is pinned with every buffer until the completion.
func (q *Queue) submitVec(bufs [][]byte, prep func(s *SQE, iov []unix.Iovec)) (*completion.Handle, error) {
	var iov []unix.Iovec
	return q.submit(nil, func(op *completion.Op) { iov = pinIovecs(op, bufs) }, func(s *SQE) { prep(s, iov) })
}

// Readv submits IORING_OP_READV (io_uring_prep_readv) into bufs at off. The
// iovec array and every buffer are pinned until the completion.
func (q *Queue) Readv(fd int, bufs [][]byte, off uint64) (*completion.Handle, error) {
	return q.submitVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepReadv(fd, iov, off) })
}

// Writev submits IORING_OP_WRITEV (io_uring_prep_writev) from bufs at off.
func (q *Queue) Writev(fd int, bufs [][]byte, off uint64) (*completion.Handle, error) {
	return q.submitVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepWritev(fd, iov, off) })
}

// Fsync submits IORING_OP_FSYNC (io_uring_prep_fsync); flags may be
// IORING_FSYNC_DATASYNC.
func (q *Queue) Fsync(fd int, flags uint32) (*completion.Handle, error) {
	return q.fsync(nil, fd, flags)
}

func (q *Queue) fsync(ctx context.Context, fd int, flags uint32) (*completion.Handle, error) {
	return q.submit(ctx, nil, func(s *SQE) { s.PrepFsync(fd, flags) })
}

// newTimespec returns a pinned kernel timespec holding d.
func newTimespec(op *completion.Op, d time.Duration) *KernelTimespec {
	ts := new(KernelTimespec)
	*ts = DurationToTimespec(d)
	op.Pin(ts)
	return ts
}

// Timeout submits IORING_OP_TIMEOUT (io_uring_prep_timeout): it completes
// with -ETIME after d, or with 0 once count other completions have been
// posted (count 0: only the time counts). flags may be IORING_TIMEOUT_ABS
// etc.: with ABS, d is a time on the timeout's clock (CLOCK_MONOTONIC
// unless IORING_TIMEOUT_BOOTTIME or REALTIME), counted from that clock's
// zero, not from now. A negative d is 0. The timespec is pinned until the
// completion.
func (q *Queue) Timeout(d time.Duration, count, flags uint32) (*completion.Handle, error) {
	var ts *KernelTimespec
	return q.submit(nil, func(op *completion.Op) { ts = newTimespec(op, d) }, func(s *SQE) { s.PrepTimeout(ts, count, flags) })
}

// PollAdd submits IORING_OP_POLL_ADD (io_uring_prep_poll_add): one-shot poll
// of fd for mask (unix.POLLIN ...); the result is the ready mask.
func (q *Queue) PollAdd(fd int, mask uint32) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepPollAdd(fd, mask) })
}

// Send submits IORING_OP_SEND (io_uring_prep_send) of buf with send(2) flags.
func (q *Queue) Send(fd int, buf []byte, flags int) (*completion.Handle, error) {
	return q.submit(nil, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepSend(fd, rwSpan(buf), flags) })
}

// Recv submits IORING_OP_RECV (io_uring_prep_recv) into buf with recv(2) flags.
func (q *Queue) Recv(fd int, buf []byte, flags int) (*completion.Handle, error) {
	return q.submit(nil, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepRecv(fd, rwSpan(buf), flags) })
}

// Accept submits IORING_OP_ACCEPT (io_uring_prep_accept with a NULL address):
// the result is the new socket's descriptor. flags are accept4(2) flags
// (unix.SOCK_CLOEXEC, unix.SOCK_NONBLOCK).
func (q *Queue) Accept(fd int, flags int) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepAccept(fd, nil, nil, flags) })
}

// Connect submits IORING_OP_CONNECT (io_uring_prep_connect) to sa
// (*unix.SockaddrInet4, *unix.SockaddrInet6, *unix.SockaddrUnix,
// *unix.SockaddrNetlink, *unix.SockaddrLinklayer or *unix.SockaddrVM;
// another type, nil too, is EAFNOSUPPORT and a typed nil EINVAL, before
// anything is submitted). The raw socket address is built in Go memory and pinned until
// the completion.
func (q *Queue) Connect(fd int, sa unix.Sockaddr) (*completion.Handle, error) {
	raw, n, err := rawSockaddr(sa)
	if err != nil {
		return nil, err
	}
	return q.submit(nil, func(op *completion.Op) { op.Pin(raw) }, func(s *SQE) { s.PrepConnect(fd, raw, n) })
}

// Openat submits IORING_OP_OPENAT (io_uring_prep_openat): the result is the
// new descriptor. The NUL-terminated path is pinned until the completion.
func (q *Queue) Openat(dirfd int, path string, flags int, mode uint32) (*completion.Handle, error) {
	return q.openat(nil, dirfd, path, flags, mode)
}

func (q *Queue) openat(ctx context.Context, dirfd int, path string, flags int, mode uint32) (*completion.Handle, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	return q.submit(ctx, func(op *completion.Op) { op.Pin(p) }, func(s *SQE) { s.PrepOpenat(dirfd, p, flags, mode) })
}

// Statx submits IORING_OP_STATX (io_uring_prep_statx) filling st. The path
// and st are pinned until the completion; st must not be read before then.
func (q *Queue) Statx(dirfd int, path string, flags int, mask uint32, st *unix.Statx_t) (*completion.Handle, error) {
	return q.statx(nil, dirfd, path, flags, mask, st)
}

// statx is Statx; a non-nil ctx waits for a free slot (File.Stat).
func (q *Queue) statx(ctx context.Context, dirfd int, path string, flags int, mask uint32, st *unix.Statx_t) (*completion.Handle, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	pin := func(op *completion.Op) {
		op.Pin(p)
		if st != nil { // a nil st is the kernel's EFAULT, not a panic
			op.Pin(st)
		}
	}
	return q.submit(ctx, pin, func(s *SQE) { s.PrepStatx(dirfd, p, flags, mask, st) })
}

// CloseFD submits IORING_OP_CLOSE (io_uring_prep_close) for fd. (Close
// closes the queue itself.)
func (q *Queue) CloseFD(fd int) (*completion.Handle, error) {
	return q.closeFD(nil, fd)
}

// closeFD stages IORING_OP_CLOSE of fd: CloseFD (a nil ctx: ErrBusy when
// MaxInFlight operations are in flight) and File's close of its descriptor.
// With a ctx (File's last release) it may take a reserve slot, as Cancel
// does, and waits only while the reserve is in flight too: File.Close must
// not wait for operations of other descriptors that may never end (idle
// pipe reads, multishot accepts) to free an ordinary slot.
func (q *Queue) closeFD(ctx context.Context, fd int) (*completion.Handle, error) {
	prep := func(s *SQE) {
		s.PrepClose(fd)
		if testKernel.noOpClose {
			s.Off = 1 // tests: refused with -EINVAL at prep, as by a kernel without IORING_OP_CLOSE
		}
	}
	if ctx == nil {
		return q.submit(nil, nil, prep)
	}
	_, op, err := q.table.BeginWaitReserved(ctx)
	if err != nil {
		return nil, err
	}
	return q.stage(op, nil, prep)
}

// Cancel submits IORING_OP_ASYNC_CANCEL (io_uring_prep_cancel64) for the
// operation behind target. The returned handle reports the cancel request's
// own result: 0 when the kernel found and cancelled the operation, -ENOENT
// when it was not found (for example already completed) and -EALREADY when
// it is running and cannot be stopped. The target still completes through
// its own handle, usually with -ECANCELED. A nil target is EINVAL. With
// MaxInFlight operations in flight, Cancel, PollRemove and TimeoutRemove
// take one of a few reserve slots (see MaxInFlight) instead of failing with
// ErrBusy.
func (q *Queue) Cancel(target *completion.Handle) (*completion.Handle, error) {
	ud, err := q.targetUserData(target)
	if err != nil {
		return nil, err
	}
	return q.control(func(s *SQE) {
		s.PrepCancel64(ud, 0)
		if testKernel.noAsyncCancel {
			s.Opcode = 0xff // tests: -EINVAL, as from a kernel without the opcode
		}
	})
}

// PollRemove submits IORING_OP_POLL_REMOVE (io_uring_prep_poll_remove) of
// the poll that target (a PollAdd handle) stands for. Like Cancel, the
// handle returned reports the removal's own result (0, or -ENOENT when no
// such poll is armed, for example because it already completed) and the
// poll completes through its own handle with -ECANCELED. Nothing is pinned.
// A nil target is EINVAL.
func (q *Queue) PollRemove(target *completion.Handle) (*completion.Handle, error) {
	ud, err := q.targetUserData(target)
	if err != nil {
		return nil, err
	}
	return q.control(func(s *SQE) { s.PrepPollRemove(ud) })
}

// TimeoutRemove submits IORING_OP_TIMEOUT_REMOVE
// (io_uring_prep_timeout_remove) of the timeout that target (a Timeout
// handle) stands for; flags are IORING_TIMEOUT_* bits (usually 0). The
// handle returned reports the removal's own result (0, -ENOENT when the
// timeout is not pending, -EALREADY when it is already firing) and the
// timeout completes through its own handle with -ECANCELED. Nothing is
// pinned. A nil target is EINVAL.
func (q *Queue) TimeoutRemove(target *completion.Handle, flags uint32) (*completion.Handle, error) {
	ud, err := q.targetUserData(target)
	if err != nil {
		return nil, err
	}
	return q.control(func(s *SQE) { s.PrepTimeoutRemove(ud, flags) })
}

// targetUserData is the user data that Cancel, PollRemove and TimeoutRemove
// look for: target's, or neverUserData for a handle that never had an SQE
// (an inline read, completion.Completed) or that another queue made (its
// user data may be that of an operation of this one), so that the kernel
// answers -ENOENT as for any completed operation instead of matching the
// queue's own cancel requests (internalUserData) or a stranger. A nil
// target is EINVAL.
func (q *Queue) targetUserData(target *completion.Handle) (uint64, error) {
	if target == nil {
		return 0, unix.EINVAL
	}
	if ud := target.UserData(); ud != internalUserData && q.table.Owns(target) {
		return ud, nil
	}
	return neverUserData, nil
}

// neverUserData is user data no operation of a queue has: slot 2^32-1 of
// generation 0 (the completion table never uses generation 0).
const neverUserData = 1<<32 - 1
