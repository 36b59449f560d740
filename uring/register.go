package uring

// #include "aiokit_uring.h"
import "C"

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// The io_uring_register_* family. Every method returns the C result: the
// errno of a negative return as unix.Errno, or ErrClosed after Close. A
// descriptor C's int cannot hold (fd + 1<<32) is EBADF: in the fds of
// RegisterFiles* before the call (-1 would register an empty slot), and as
// the kernel's answer to -1 for RegisterEventFD*.
//
// Registered buffers are pinned by the kernel page by page, but the kernel
// keeps using those pages until they are unregistered: Go memory passed here
// must stay alive (and is best C or mmap memory).

// cIovecs copies iov into C memory, so that no Go pointer to Go pointers is
// passed to C; the caller frees the result.
func cIovecs(iov []unix.Iovec) (*C.struct_iovec, error) {
	if len(iov) == 0 {
		return nil, nil
	}
	n := uintptr(len(iov)) * unsafe.Sizeof(unix.Iovec{})
	p := C.malloc(C.size_t(n))
	if p == nil {
		return nil, unix.ENOMEM
	}
	copy(unsafe.Slice((*byte)(p), n), unsafe.Slice((*byte)(unsafe.Pointer(&iov[0])), n))
	return (*C.struct_iovec)(p), nil
}

// cFds converts fds to a C int array in Go memory (no Go pointers inside).
// An fd C's int cannot hold is EBADF here: -1, what it becomes elsewhere
// (fileio.FD32), would register an empty slot.
func cFds(fds []int) ([]C.int, error) {
	out := make([]C.int, len(fds))
	for i, fd := range fds {
		if fileio.FD32(fd) != int32(fd) {
			return nil, unix.EBADF
		}
		out[i] = C.int(fd)
	}
	return out, nil
}

func cIntPtr(s []C.int) *C.int {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func cTagPtr(tags []uint64) *C.__u64 {
	if len(tags) == 0 {
		return nil
	}
	return (*C.__u64)(unsafe.Pointer(&tags[0]))
}

// ErrQueueTags is returned by the Register*Tags and *UpdateTag methods
// for non-zero tags on the ring under a Queue: the kernel posts a CQE with
// the tag as its user data when a tagged resource is released, and the
// queue's reaper would take it for the completion of whichever operation
// has that user data (completing its handle and unpinning its memory while
// the kernel still uses it). Zero tags ask for no CQE and are accepted.
var ErrQueueTags = fmt.Errorf("uring: non-zero resource tags on a Queue's ring: %w", unix.EINVAL)

// checkTags requires tags to be nil or as long as the resources they tag,
// and all zero on a Queue's ring (see ErrQueueTags).
func (r *Ring) checkTags(n int, tags []uint64) error {
	if r.owned {
		for _, t := range tags {
			if t != 0 {
				return ErrQueueTags
			}
		}
	}
	if tags != nil && len(tags) != n {
		return unix.EINVAL
	}
	return nil
}

// RegisterBuffers registers fixed buffers for READ_FIXED/WRITE_FIXED
// (io_uring_register_buffers).
func (r *Ring) RegisterBuffers(iov []unix.Iovec) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	civ, err := cIovecs(iov)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(civ))
	return errRet(int(C.io_uring_register_buffers(&r.c.ring, civ, C.uint(len(iov)))))
}

// RegisterBuffersTags registers buffers with a tag each; when a tagged buffer
// is unregistered or replaced the kernel posts a CQE with that tag as
// user_data (io_uring_register_buffers_tags). tags must be nil or
// len(iov) long (else EINVAL).
func (r *Ring) RegisterBuffersTags(iov []unix.Iovec, tags []uint64) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if err := r.checkTags(len(iov), tags); err != nil {
		return err
	}
	civ, err := cIovecs(iov)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(civ))
	return errRet(int(C.io_uring_register_buffers_tags(&r.c.ring, civ, cTagPtr(tags), C.uint(len(iov)))))
}

// RegisterBuffersSparse registers nr empty buffer slots
// (io_uring_register_buffers_sparse).
func (r *Ring) RegisterBuffersSparse(nr uint32) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_register_buffers_sparse(&r.c.ring, C.uint(nr))))
}

// RegisterBuffersUpdateTag replaces buffer slots from off on and returns how
// many were updated (io_uring_register_buffers_update_tag).
func (r *Ring) RegisterBuffersUpdateTag(off uint32, iov []unix.Iovec, tags []uint64) (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	if err := r.checkTags(len(iov), tags); err != nil {
		return 0, err
	}
	civ, err := cIovecs(iov)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(civ))
	return retInt(int(C.io_uring_register_buffers_update_tag(&r.c.ring, C.uint(off), civ, cTagPtr(tags), C.uint(len(iov)))))
}

// UnregisterBuffers drops all registered buffers (io_uring_unregister_buffers).
func (r *Ring) UnregisterBuffers() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_unregister_buffers(&r.c.ring)))
}

// RegisterFiles registers fixed files; -1 entries are empty slots
// (io_uring_register_files).
func (r *Ring) RegisterFiles(fds []int) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	cf, err := cFds(fds)
	if err != nil {
		return err
	}
	return errRet(int(C.io_uring_register_files(&r.c.ring, cIntPtr(cf), C.uint(len(fds)))))
}

// RegisterFilesTags registers fixed files with tags
// (io_uring_register_files_tags); tags nil or len(fds) long.
func (r *Ring) RegisterFilesTags(fds []int, tags []uint64) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if err := r.checkTags(len(fds), tags); err != nil {
		return err
	}
	cf, err := cFds(fds)
	if err != nil {
		return err
	}
	return errRet(int(C.io_uring_register_files_tags(&r.c.ring, cIntPtr(cf), cTagPtr(tags), C.uint(len(fds)))))
}

// RegisterFilesSparse registers nr empty fixed-file slots
// (io_uring_register_files_sparse).
func (r *Ring) RegisterFilesSparse(nr uint32) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_register_files_sparse(&r.c.ring, C.uint(nr))))
}

// RegisterFilesUpdateTag replaces fixed-file slots from off on, with tags,
// and returns how many were updated (io_uring_register_files_update_tag).
func (r *Ring) RegisterFilesUpdateTag(off uint32, fds []int, tags []uint64) (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	if err := r.checkTags(len(fds), tags); err != nil {
		return 0, err
	}
	cf, err := cFds(fds)
	if err != nil {
		return 0, err
	}
	return retInt(int(C.io_uring_register_files_update_tag(&r.c.ring, C.uint(off), cIntPtr(cf), cTagPtr(tags), C.uint(len(fds)))))
}

// RegisterFilesUpdate replaces fixed-file slots from off on (-1 clears a
// slot, [RegisterFilesSkip] keeps it) and returns how many were updated
// (io_uring_register_files_update).
func (r *Ring) RegisterFilesUpdate(off uint32, fds []int) (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	cf, err := cFds(fds)
	if err != nil {
		return 0, err
	}
	return retInt(int(C.io_uring_register_files_update(&r.c.ring, C.uint(off), cIntPtr(cf), C.uint(len(fds)))))
}

// UnregisterFiles drops the fixed-file table (io_uring_unregister_files).
func (r *Ring) UnregisterFiles() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_unregister_files(&r.c.ring)))
}

// RegisterEventFD makes the kernel signal eventfd fd on every completion
// (io_uring_register_eventfd).
func (r *Ring) RegisterEventFD(fd int) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_register_eventfd(&r.c.ring, C.int(fileio.FD32(fd)))))
}

// RegisterEventFDAsync is RegisterEventFD for completions that did not
// complete inline only (io_uring_register_eventfd_async).
func (r *Ring) RegisterEventFDAsync(fd int) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_register_eventfd_async(&r.c.ring, C.int(fileio.FD32(fd)))))
}

// UnregisterEventFD removes the registered eventfd (io_uring_unregister_eventfd).
// ErrQueueRing on a Queue's ring.
func (r *Ring) UnregisterEventFD() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if r.owned {
		return ErrQueueRing
	}
	return r.unregisterEventFD()
}

// unregisterEventFD is UnregisterEventFD for the queue itself (Close).
func (r *Ring) unregisterEventFD() error {
	return errRet(int(C.io_uring_unregister_eventfd(&r.c.ring)))
}

// CQEventFDEnabled reports whether eventfd notifications are on
// (io_uring_cq_eventfd_enabled; true when the kernel has no CQ flags).
func (r *Ring) CQEventFDEnabled() bool {
	// Under hold, as the other flag words: on a Queue's ring it may race
	// Queue.Close, which unmaps cq.kflags (and the queue toggles the flag
	// from C meanwhile: an atomic load, as liburing's READ_ONCE).
	if !r.hold() {
		return true
	}
	defer r.release()
	return r.cqFlags == nil || atomic.LoadUint32(r.cqFlags)&CQEventFDDisabled == 0
}

// CQEventFDToggle turns eventfd notifications on or off
// (io_uring_cq_eventfd_toggle); EOPNOTSUPP without CQ ring flags,
// ErrQueueRing on a Queue's ring.
func (r *Ring) CQEventFDToggle(enabled bool) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if r.owned {
		return ErrQueueRing
	}
	return r.cqEventFDToggle(enabled)
}

// cqEventFDToggle is CQEventFDToggle for the queue itself.
func (r *Ring) cqEventFDToggle(enabled bool) error {
	return errRet(int(C.io_uring_cq_eventfd_toggle(&r.c.ring, C.bool(enabled))))
}

// RegisterPersonality registers the current credentials and returns the
// personality ID to put in SQE.Personality (io_uring_register_personality).
func (r *Ring) RegisterPersonality() (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	return retInt(int(C.io_uring_register_personality(&r.c.ring)))
}

// UnregisterPersonality drops personality id (io_uring_unregister_personality).
// An id outside C's int is EINVAL (it would otherwise name another one).
func (r *Ring) UnregisterPersonality(id int) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if id != int(int32(id)) {
		return unix.EINVAL
	}
	return errRet(int(C.io_uring_unregister_personality(&r.c.ring, C.int(id))))
}

// RegisterRestrictions limits the opcodes/flags of a ring created with
// [SetupRDisabled] (io_uring_register_restrictions; liburing 2.3's shared
// library does not export it, so this makes the identical io_uring_register(2)
// call, IORING_REGISTER_RESTRICTIONS on the ring fd). ErrQueueRing on a
// Queue's ring: the queue cancels with IORING_OP_ASYNC_CANCEL (Close, ended
// contexts), which restrictions would refuse (EACCES), leaving Close waiting.
func (r *Ring) RegisterRestrictions(res []Restriction) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if r.owned {
		return ErrQueueRing
	}
	var p *C.struct_io_uring_restriction
	if len(res) > 0 {
		p = (*C.struct_io_uring_restriction)(unsafe.Pointer(&res[0]))
	}
	return errRet(int(C.aiokit_register_restrictions(&r.c.ring, p, C.uint(len(res)))))
}

// RegisterIOWQAff sets the CPU affinity of the io-wq workers
// (io_uring_register_iowq_aff). Without SQPOLL the kernel applies it to the
// io-wq of the calling thread, which that thread's first submission on a
// ring created: from a goroutine that Go's scheduler moved to another
// thread it is EINVAL, or the other thread's workers. Call it (and
// UnregisterIOWQAff, RegisterIOWQMaxWorkers) with runtime.LockOSThread, on
// the thread that submits, as a C program does on its one thread.
func (r *Ring) RegisterIOWQAff(cpus *unix.CPUSet) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if cpus == nil {
		return unix.EFAULT
	}
	return errRet(int(C.io_uring_register_iowq_aff(&r.c.ring, C.size_t(unsafe.Sizeof(*cpus)), (*C.cpu_set_t)(unsafe.Pointer(cpus)))))
}

// UnregisterIOWQAff resets the io-wq affinity (io_uring_unregister_iowq_aff),
// per thread like RegisterIOWQAff.
func (r *Ring) UnregisterIOWQAff() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_unregister_iowq_aff(&r.c.ring)))
}

// RegisterIOWQMaxWorkers sets the maximum bounded ([IOWQBound]) and unbounded
// ([IOWQUnbound]) io-wq workers (0 keeps a value) and stores the previous
// limits back into values (io_uring_register_iowq_max_workers). Without
// SQPOLL the limits are those of the calling thread's io-wq (see
// RegisterIOWQAff): another thread reads back {0, 0}.
func (r *Ring) RegisterIOWQMaxWorkers(values *[2]uint32) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if values == nil {
		return unix.EFAULT
	}
	return errRet(int(C.io_uring_register_iowq_max_workers(&r.c.ring, (*C.uint)(unsafe.Pointer(values)))))
}

// RegisterRingFD registers the ring fd with itself so that liburing's later
// io_uring_enter calls skip the fd lookup (io_uring_register_ring_fd). It
// returns 1 on success. Fd keeps returning the real fd.
//
// The kernel keeps the registration per thread (in the task's io_uring
// context), and liburing then enters the ring through the registered index
// only: from any other thread io_uring_enter fails (EINVAL on a thread that
// never used io_uring, EBADF on one that did). A goroutine
// moves between threads at any time, so call runtime.LockOSThread before
// RegisterRingFD and use the ring only from that goroutine until
// UnregisterRingFD. Queue never registers its ring fd, and its ring
// refuses it (ErrQueueRing).
func (r *Ring) RegisterRingFD() (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	if r.owned {
		return 0, ErrQueueRing
	}
	return retInt(int(C.io_uring_register_ring_fd(&r.c.ring)))
}

// UnregisterRingFD undoes RegisterRingFD (io_uring_unregister_ring_fd).
func (r *Ring) UnregisterRingFD() (int, error) {
	if !r.hold() {
		return 0, ErrClosed
	}
	defer r.release()
	return retInt(int(C.io_uring_unregister_ring_fd(&r.c.ring)))
}

// RegisterBufRing registers a provided-buffer ring described by reg
// (io_uring_register_buf_ring). See [Ring.SetupBufRing] for the usual path.
func (r *Ring) RegisterBufRing(reg *BufReg, flags uint32) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return r.registerBufRing(reg, flags)
}

// registerBufRing is RegisterBufRing for a caller that holds the ring.
func (r *Ring) registerBufRing(reg *BufReg, flags uint32) error {
	if reg == nil {
		return unix.EFAULT
	}
	return errRet(int(C.io_uring_register_buf_ring(&r.c.ring, (*C.struct_io_uring_buf_reg)(unsafe.Pointer(reg)), C.uint(flags))))
}

// UnregisterBufRing unregisters buffer group bgid's ring
// (io_uring_unregister_buf_ring). A bgid outside C's int is EINVAL;
// within it, liburing keeps its low 16 bits, as in C.
func (r *Ring) UnregisterBufRing(bgid int) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return r.unregisterBufRing(bgid)
}

// unregisterBufRing is UnregisterBufRing for a caller that holds the ring.
func (r *Ring) unregisterBufRing(bgid int) error {
	if bgid != int(int32(bgid)) {
		return unix.EINVAL
	}
	return errRet(int(C.io_uring_unregister_buf_ring(&r.c.ring, C.int(bgid))))
}

// RegisterSyncCancel cancels matching requests synchronously, waiting up to
// reg.Timeout (-1/-1: forever) (io_uring_register_sync_cancel). ENOENT when
// nothing matched, ETIME on timeout.
func (r *Ring) RegisterSyncCancel(reg *SyncCancelReg) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	if reg == nil {
		return unix.EFAULT
	}
	return errRet(int(C.io_uring_register_sync_cancel(&r.c.ring, (*C.struct_io_uring_sync_cancel_reg)(unsafe.Pointer(reg)))))
}

// RegisterFileAllocRange restricts automatic fixed-file slot allocation to
// [off, off+n) (io_uring_register_file_alloc_range).
func (r *Ring) RegisterFileAllocRange(off, n uint32) error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_register_file_alloc_range(&r.c.ring, C.uint(off), C.uint(n))))
}
