// Package inline reads cached data in the calling goroutine, for the handle
// layers of uring and libaio.
//
// A 4 KiB read of cached data costs about a microsecond in the kernel, about
// what parking and waking the goroutine that waits for it costs. io_uring
// does every read of a ring that needs no waiting on the one thread that
// calls io_uring_enter, and Linux AIO does a buffered read inside io_submit,
// on the one goroutine that submits a batch. Reading cached data with
// preadv2(RWF_NOWAIT) in the goroutine that asks for it instead spreads the
// copies over every CPU and needs no wake-up; anything RWF_NOWAIT cannot do
// in full is left to the asynchronous path, which then gives its own result
// and errno.
package inline

import (
	"math/rand/v2"
	"sync/atomic"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/fileio"

	"golang.org/x/sys/unix"
)

// Result says what Read did.
type Result int

const (
	// Done: the whole buffer was read; the count is len(buf).
	Done Result = iota
	// Fallback: nothing usable was read (not cached, partly cached, EOF,
	// O_DIRECT, an error); the caller does the read its usual way.
	Fallback
	// Unsupported: the file has no RWF_NOWAIT reads (EOPNOTSUPP: tmpfs,
	// procfs, ..., or every file on a kernel before 4.14); the caller
	// should not try this file again soon. Also a fallback.
	Unsupported
	// NoKernel: the system refuses preadv2 itself: ENOSYS (no preadv2,
	// kernels before 4.6) or EPERM (a seccomp profile that does not list
	// it, as container runtimes' older default profiles); the caller
	// should stop trying. Also a fallback.
	NoKernel
)

// Read reads len(buf) bytes at off (off >= 0) with preadv2(RWF_NOWAIT),
// unless fd was opened with O_DIRECT: RWF_NOWAIT does not keep a
// synchronous direct read from waiting for the device (30-40 µs measured on
// a virtio disk), so those are left to the asynchronous path. A read at the
// file position (off < 0) is never tried: a short inline read would have
// moved the position, or consumed a pipe's data, before the fallback. buf
// must not be empty.
func Read(fd int, buf []byte, off int64) Result {
	if off < 0 || fileio.FD32(fd) < 0 { // a wide fd: the kernel would read its low 32 bits
		return Fallback
	}
	if direct, ok := getflDirect(fd); !ok || direct {
		return Fallback
	}
	return ReadBuffered(fd, buf, off)
}

// ReadBuffered is Read for a caller that knows fd is not O_DIRECT (a File
// that looked at open): it spares the F_GETFL. On an O_DIRECT descriptor
// it still reads correctly, but waits for the device in the caller.
func ReadBuffered(fd int, buf []byte, off int64) Result {
	if off < 0 || fileio.FD32(fd) < 0 {
		return Fallback
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	n, _, e := unix.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1,
		uintptr(off), uintptr(uint64(off)>>32), unix.RWF_NOWAIT)
	switch {
	case e == unix.ENOSYS || e == unix.EPERM:
		return NoKernel
	case e == unix.EOPNOTSUPP:
		return Unsupported
	case e != 0 || int(n) != len(buf):
		return Fallback
	}
	return Done
}

// Reader is the inline-read state of one queue. Its zero value reads
// inline; it is safe for concurrent use.
type Reader struct {
	off   atomic.Bool // disabled by the queue's user, or by a NoKernel answer
	count atomic.Bool // keep done (see Count)
	// unsup counts the Unsupported answers since the last Done, up to
	// unsupLimit. From unsupLimit on, r takes RWF_NOWAIT for refused
	// everywhere (every file on a kernel before 4.14, which knows no
	// RWF_NOWAIT and gives EOPNOTSUPP for it; or only tmpfs-like files in
	// use) and tries one read in retryAfter at random, whatever its fd,
	// until one is Done. The skip slots alone would not do: with more than
	// skipSlots descriptors in use their entries push each other out, and
	// nearly every read would make a refused preadv2 first.
	unsup atomic.Int32
	_     [56]byte
	// done counts the reads done inline once Count(true) was called, spread
	// over cache lines by buffer address. It is off by default: even
	// sharded, the count cost 3-4 % of a cached 4 KiB read with 32
	// goroutines on 2 CPUs.
	done [doneShards]struct {
		n atomic.Int64
		_ [56]byte
	}
	// skip remembers descriptors whose file has no RWF_NOWAIT reads (tmpfs,
	// procfs, FUSE, ...), a few per slot, so that reading them costs no
	// extra syscalls. Each entry is the fd+1 in the low 32 bits and a count
	// of skipped reads above; after retryAfter skips the fd is tried again,
	// for the number may by then name another file.
	skip [skipSlots]atomic.Uint64
	_    [64]byte // skip is written on every skipped read; direct rarely
	// direct remembers, a descriptor per slot, whether fd had O_DIRECT when
	// F_GETFL last looked: fd+1 in the low 32 bits, 1<<32 for O_DIRECT. Try
	// then spares the fcntl on most reads (one per read cost 10-15 % of a
	// cached 4 KiB Queue.Read). A remembered answer is looked at again on
	// one read in recheckOdds at random (the runtime's per-thread generator:
	// nothing shared is written), so a descriptor switched with F_SETFL, or
	// a number reused for another file, is seen anew within a few dozen
	// reads. Until then a read is slower, never different: a buffered
	// descriptor taken for O_DIRECT reads through the asynchronous path,
	// and an O_DIRECT one taken for buffered is read by ReadBuffered, which
	// reads it correctly but waits for the device in the caller.
	direct [skipSlots]atomic.Uint64
	looks  atomic.Int64 // F_GETFL calls made by Try (tests)
	missed atomic.Int64 // preadv2 calls made by Try that were not Done, while Count is on (Missed)
}

const (
	skipSlots   = 64
	retryAfter  = 1024
	doneShards  = 8
	recheckOdds = 64
	unsupLimit  = 16
)

// SetEnabled turns inline reads on or off.
func (r *Reader) SetEnabled(on bool) { r.off.Store(!on) }

// Count turns the count of inline reads (Inlined) on or off.
func (r *Reader) Count(on bool) { r.count.Store(on) }

// Inlined returns the number of reads done inline while Count was on.
func (r *Reader) Inlined() int64 {
	var n int64
	for i := range r.done {
		n += r.done[i].n.Load()
	}
	return n
}

// Missed returns the number of preadv2 calls Try and TryBuffered made that
// read nothing usable (Fallback, Unsupported, NoKernel) while Count was on:
// the system calls the inline path added to reads that went the
// asynchronous way after all. (Off by default, like Inlined: one shared
// count per cold read would bounce between CPUs.)
func (r *Reader) Missed() int64 { return r.missed.Load() }

// Try reads buf at off in the calling goroutine when that is enabled, buf is
// not empty, off >= 0, fd is not O_DIRECT (as remembered: see
// Reader.direct) and the whole buffer is cached: it then returns a
// completed handle (no table slot, nothing pinned). It returns nil when the
// caller must do the read its usual way. A NoKernel answer disables r when
// preadv2 itself is refused (else it skips that fd, as Unsupported); an
// Unsupported one makes r pass over fd for a while, and unsupLimit of them
// in a row (no read Done in between) over every fd but one read in
// retryAfter (see Reader.unsup).
func (r *Reader) Try(fd int, buf []byte, off int64) *completion.Handle {
	if !r.try(fd, buf, off, false) {
		return nil
	}
	return completion.Completed(int64(len(buf)))
}

// TryBuffered is Try for a caller that knows fd is not O_DIRECT and needs
// no handle (File.ReadAt): true means buf was read in full.
func (r *Reader) TryBuffered(fd int, buf []byte, off int64) bool {
	return r.try(fd, buf, off, true)
}

// try is Try (buffered false: fd may be O_DIRECT, see isDirect) and
// TryBuffered (buffered true).
func (r *Reader) try(fd int, buf []byte, off int64, buffered bool) bool {
	// A wide fd (FD32 -1) is never read, and must not touch the skip and
	// direct entries of the descriptor its low 32 bits name.
	if len(buf) == 0 || off < 0 || fileio.FD32(fd) < 0 || r.off.Load() {
		return false
	}
	unsup := r.unsup.Load()
	if unsup >= unsupLimit && rand.Uint32()%retryAfter != 0 {
		return false // refused everywhere lately (see Reader.unsup)
	}
	slot := &r.skip[uint(fd)%skipSlots]
	if v := slot.Load(); unsup < unsupLimit && v != 0 && uint32(v) == uint32(fd)+1 {
		if v>>32 < retryAfter {
			slot.CompareAndSwap(v, v+1<<32)
			return false
		}
		slot.CompareAndSwap(v, 0) // retry this one
	}
	if !buffered && r.isDirect(fd) {
		return false
	}
	res := ReadBuffered(fd, buf, off)
	if res == Done {
		if unsup != 0 {
			r.unsup.Store(0)
		}
		if r.count.Load() {
			r.done[uintptr(unsafe.Pointer(&buf[0]))>>12%doneShards].n.Add(1)
		}
		return true
	}
	if r.count.Load() {
		r.missed.Add(1)
	}
	switch res {
	case Unsupported:
		slot.Store(uint64(uint32(fd) + 1))
		if unsup < unsupLimit {
			r.unsup.Add(1)
		}
	case NoKernel:
		if preadv2Refused() {
			r.off.Store(true)
		} else {
			// preadv2 works: the refusal was this file's (a FUSE server
			// answering ENOSYS, a fanotify permission denial): skip it as
			// a file without RWF_NOWAIT, not every file.
			slot.Store(uint64(uint32(fd) + 1))
		}
	}
	return false
}

// preadv2Refused reports whether the system refuses preadv2 itself (no
// such call before 4.6, or a seccomp profile without it), rather than the
// file one read was for: a preadv2 of descriptor -1 gets EBADF from a
// kernel that runs it.
func preadv2Refused() bool {
	_, _, e := unix.RawSyscall6(unix.SYS_PREADV2, ^uintptr(0), 0, 0, 0, 0, unix.RWF_NOWAIT)
	return e != unix.EBADF
}

// isDirect reports whether fd is O_DIRECT as far as r knows (see
// Reader.direct), or cannot be looked at (a wide or bad descriptor, whose
// read the asynchronous path then answers): not for reading inline either
// way.
func (r *Reader) isDirect(fd int) bool {
	if fileio.FD32(fd) < 0 {
		return true
	}
	slot := &r.direct[uint(fd)%skipSlots]
	v := slot.Load()
	if uint32(v) == uint32(fd)+1 && rand.Uint32()%recheckOdds != 0 {
		return v>>32 != 0
	}
	r.looks.Add(1)
	direct, ok := getflDirect(fd)
	if !ok {
		return true
	}
	nv := uint64(uint32(fd) + 1)
	if direct {
		nv |= 1 << 32
	}
	if nv != v {
		slot.Store(nv)
	}
	return nv>>32 != 0
}

// getflDirect looks at fd's flags with F_GETFL: direct is O_DIRECT, ok false
// for a descriptor fcntl refuses.
func getflDirect(fd int) (direct, ok bool) {
	// F_GETFL never blocks: a raw syscall spares the scheduler hand-off.
	fl, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFL, 0)
	return fl&unix.O_DIRECT != 0, e == 0
}
