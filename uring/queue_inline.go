package uring

import (
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Inline reads.
//
// A 4 KiB read of cached data costs about a microsecond in the kernel,
// about what parking and waking the goroutine that waits for it costs, and
// io_uring performs every read of a ring that it can do without blocking on
// the one thread that calls io_uring_enter. So before staging a read,
// Queue.Read (and File.ReadAt) try it once from the calling goroutine with
// preadv2(RWF_NOWAIT): when the data is cached in full, the read is done
// there, on the caller's CPU, and the handle comes back completed, without
// an SQE, a park or a wake-up. Anything else (not cached, partly cached, at
// EOF, an error of any kind) goes through the ring as usual, so the result
// and errno are the ring's. O_DIRECT descriptors never take this path
// (RWF_NOWAIT does not keep a synchronous direct read from waiting for the
// device), nor do Link members. QueueConfig.RingOnly turns it off.

// tryInlineRead reads buf at off with preadv2(RWF_NOWAIT) if fd is not
// O_DIRECT. It returns a completed handle when the whole buffer was read.
func (q *Queue) tryInlineRead(fd int, buf []byte, off uint64) *completion.Handle {
	// F_GETFL never blocks: a raw syscall spares the scheduler hand-off.
	fl, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFL, 0)
	if e != 0 || fl&unix.O_DIRECT != 0 {
		return nil
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	n, _, e := unix.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
		uintptr(off), uintptr(off>>32), unix.RWF_NOWAIT)
	if e != 0 {
		if e == unix.ENOSYS || e == unix.EOPNOTSUPP {
			q.noInline.Store(true) // kernel or file system without RWF_NOWAIT reads
		}
		return nil
	}
	if int(n) != len(buf) {
		return nil // short: EOF or partly cached; the ring decides
	}
	q.inlined.Add(1)
	return completion.Completed(int64(n))
}
