package uring

// #include "aiokit_uring.h"
import "C"

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"github.com/aiokit/aio/internal/schedyield"
	"golang.org/x/sys/unix"
)

// Ring is a liburing struct io_uring. The struct lives in C memory (calloc)
// so it never moves; at setup Ring caches the kernel-shared head/tail/flag
// pointers, masks and the SQE/CQE arrays so that GetSQE, every Prep*, PeekCQE,
// PeekBatchCQE, CQESeen and CQAdvance run in pure Go without a cgo call.
//
// Like liburing, a Ring is not safe for concurrent use: the submission side
// (GetSQE, Prep*, Submit*) and the completion side (Peek*, Wait*, CQESeen,
// CQAdvance) may each run in one goroutine at a time, and the two sides may
// run concurrently with each other as in C. Close must not race with either.
type Ring struct {
	c *C.struct_aiokit_ring

	// submission queue (see struct io_uring_sq)
	sqHead    *uint32 // *sq.khead (kernel writes)
	sqFlags   *uint32 // *sq.kflags
	sqDropped *uint32 // *sq.kdropped
	sqeTail   *uint32 // &sq.sqe_tail: user-space field that io_uring_submit flushes
	sqes      unsafe.Pointer
	sqMask    uint32
	sqEntries uint32
	sqeLog    uintptr // log2 of an SQE slot's bytes: 6, 7 with SQE128

	// completion queue (see struct io_uring_cq)
	cqHead     *uint32 // *cq.khead (we write, release)
	cqTail     *uint32 // *cq.ktail (kernel writes, acquire)
	cqFlags    *uint32 // *cq.kflags, nil on kernels without it
	cqOverflow *uint32 // *cq.koverflow
	cqes       unsafe.Pointer
	cqMask     uint32
	cqEntries  uint32
	cqeLog     uintptr // log2 of a CQE slot's bytes: 4, 5 with CQE32

	yield schedyield.Gate // see internal/schedyield: waits keep their P

	flags    uint32 // IORING_SETUP_* the ring was created with
	features uint32

	eintr atomic.Int64 // EINTR results retried by blocking waits (for tests)

	owned bool // the ring of a Queue: only Queue.Close tears it down
	// guard, on the ring of a Queue, is read-locked by the Ring methods a
	// caller may use on it (register, probe, buffer rings, the flag words)
	// and write-locked by close, so that Queue.Close cannot free and unmap
	// the ring under one of them: those wait for close, then see it closed.
	// The queue's own per-operation calls take no lock (Queue.Close stops
	// them first). nil on other rings, which are not safe for concurrent use
	// with their Close.
	guard *sync.RWMutex

	// bufRings are the buffer rings SetupBufRing mapped and FreeBufRing has
	// not unmapped yet, each with the entries and group it was set up with.
	brMu     sync.Mutex
	bufRings map[*BufRing]bufRingReg
}

// setupFlagsKnown are the IORING_SETUP_* flags of liburing 2.3's header,
// IOPOLL (1<<0) to DEFER_TASKRUN (1<<13).
const setupFlagsKnown = 1<<14 - 1

// New creates a ring with io_uring_queue_init_params(entries, ring, p). p may
// be nil (no flags); when given, its outputs (entries, features, offsets) are
// filled in as by the C call. If the kernel refuses io_uring itself (EPERM,
// ENOSYS) the error matches both [ErrUnavailable] and the errno; other
// failures are the plain unix.Errno (EINVAL for bad entries or flags, ...),
// but for [ErrSQPollPerm]: SQPOLL refused with EPERM by a kernel before 5.11
// that sets up rings without it.
//
// A ring made with [SetupSingleIssuer] (and [SetupDeferTaskrun]) belongs to
// the thread that creates it: a Submit from any other thread gets EEXIST. A
// goroutine moves between threads, so create and use such a ring under
// runtime.LockOSThread (Queue refuses these flags for that reason).
//
// Setup flags liburing 2.3 does not know (IORING_SETUP_NO_SQARRAY, NO_MMAP,
// REGISTERED_FD_ONLY, ..., Linux 6.5+) give EINVAL here and in QueueMmap:
// liburing 2.3 maps such a ring wrongly (with NO_SQARRAY its SQ index array
// lands at offset 0, over the ring's heads and tails).
func New(entries uint32, p *Params) (*Ring, error) {
	var local Params
	if p == nil {
		p = &local
	}
	if p.Flags&^setupFlagsKnown != 0 {
		return nil, unix.EINVAL
	}
	c := (*C.struct_aiokit_ring)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_aiokit_ring{}))))
	if c == nil {
		return nil, unix.ENOMEM
	}
	cp := (*C.struct_io_uring_params)(C.calloc(1, C.size_t(unsafe.Sizeof(Params{}))))
	if cp == nil {
		C.free(unsafe.Pointer(c))
		return nil, unix.ENOMEM
	}
	defer C.free(unsafe.Pointer(cp))
	*(*Params)(unsafe.Pointer(cp)) = *p
	ret := int(C.io_uring_queue_init_params(C.uint(entries), &c.ring, cp))
	if ret >= 0 {
		testKernel.apply(c, cp)
	}
	*p = *(*Params)(unsafe.Pointer(cp))
	if ret < 0 {
		C.free(unsafe.Pointer(c))
		return nil, setupErr(ret, p.Flags)
	}
	return newRing(c), nil
}

// testKernel makes New report the rings it sets up as an older kernel
// would, for tests of the paths chosen by what the kernel reports, which a
// seccomp filter cannot change (it is written to memory, not returned by a
// system call). It is set only from _test.go files (oldkernel_test.go),
// before any ring is created, and is zero otherwise.
var testKernel oldKernelView

// oldKernelView is what testKernel hides from New's caller and from
// liburing.
type oldKernelView struct {
	// clearFeatures are IORING_FEAT_* bits cleared from Params.Features
	// and ring->features, so that liburing too takes its paths for a
	// kernel without them (a timeout SQE instead of IORING_ENTER_EXT_ARG).
	clearFeatures uint32
	// noCQFlags leaves the CQ ring without its flags word, as before Linux
	// 5.8 (cq_off.flags 0: liburing keeps cq.kflags NULL, and
	// io_uring_cq_eventfd_toggle answers -EOPNOTSUPP).
	noCQFlags bool
	// noOpClose makes the queue's IORING_OP_CLOSE SQEs fail with -EINVAL
	// before the kernel looks at the descriptor (a nonzero off field), as
	// a kernel before 5.6, which lacks the opcode and the probe, fails
	// them.
	noOpClose bool
	// noAsyncCancel makes the queue's own IORING_OP_ASYNC_CANCEL SQEs fail
	// with -EINVAL (an opcode the kernel does not know), and the queue
	// treat the kernel as one before 5.5, which lacks the opcode.
	noAsyncCancel bool
}

// apply hides the features and CQ flags of v in a ring just set up.
func (v oldKernelView) apply(c *C.struct_aiokit_ring, cp *C.struct_io_uring_params) {
	c.ring.features &^= C.uint(v.clearFeatures)
	cp.features &^= C.__u32(v.clearFeatures)
	if v.noCQFlags {
		c.ring.cq.kflags = nil
		cp.cq_off.flags = 0
	}
}

// QueueInit creates a ring as io_uring_queue_init(entries, ring, flags)
// does: io_uring_queue_init_params with only the flags set (it is
// New(entries, &Params{Flags: flags})). Setup flags liburing 2.3 does not
// know give EINVAL, as in [New].
func QueueInit(entries, flags uint32) (*Ring, error) {
	return New(entries, &Params{Flags: flags})
}

// QueueMmap maps the rings of an io_uring fd created by [Setup] with
// io_uring_queue_mmap(fd, p, ring). p must be the Params that Setup filled.
//
// Exactly like liburing 2.3, io_uring_queue_mmap does not initialise the SQ
// index array (io_uring_queue_init_params does): call [Ring.InitSQArray]
// before submitting. On success the Ring owns fd and Close closes it.
//
// Setup flags in p that liburing 2.3 does not know (IORING_SETUP_NO_SQARRAY,
// NO_MMAP, REGISTERED_FD_ONLY, ..., Linux 6.5+) give EINVAL before
// io_uring_queue_mmap is called, where C would map the ring wrongly (see
// [New]); fd then stays the caller's.
func QueueMmap(fd int, p *Params) (*Ring, error) {
	if p == nil {
		return nil, unix.EFAULT
	}
	if p.Flags&^setupFlagsKnown != 0 {
		return nil, unix.EINVAL // see New
	}
	c := (*C.struct_aiokit_ring)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_aiokit_ring{}))))
	if c == nil {
		return nil, unix.ENOMEM
	}
	cp := (*C.struct_io_uring_params)(C.calloc(1, C.size_t(unsafe.Sizeof(Params{}))))
	if cp == nil {
		C.free(unsafe.Pointer(c))
		return nil, unix.ENOMEM
	}
	defer C.free(unsafe.Pointer(cp))
	*(*Params)(unsafe.Pointer(cp)) = *p
	ret := int(C.io_uring_queue_mmap(C.int(fileio.FD32(fd)), cp, &c.ring))
	*p = *(*Params)(unsafe.Pointer(cp))
	if ret < 0 {
		C.free(unsafe.Pointer(c))
		return nil, unix.Errno(-ret)
	}
	// io_uring_queue_mmap leaves ring->features 0, as in C: liburing's waits
	// then take the paths of a kernel without IORING_FEAT_EXT_ARG (a timeout
	// SQE), and Features reports 0.
	return newRing(c), nil
}

// addr is the ring's C address as an integer, for the aiokit_* wrappers of
// the per-batch calls (see aiokit_uring.h: no cgo pointer check).
func (r *Ring) addr() C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(&r.c.ring))) }

// newRing caches the pointers of an initialised C ring.
func newRing(c *C.struct_aiokit_ring) *Ring {
	sq, cq := &c.ring.sq, &c.ring.cq
	r := &Ring{
		c:          c,
		sqHead:     u32p(sq.khead),
		sqFlags:    u32p(sq.kflags),
		sqDropped:  u32p(sq.kdropped),
		sqeTail:    (*uint32)(unsafe.Pointer(&sq.sqe_tail)),
		sqes:       unsafe.Pointer(sq.sqes),
		sqMask:     uint32(sq.ring_mask),
		sqEntries:  uint32(sq.ring_entries),
		cqHead:     u32p(cq.khead),
		cqTail:     u32p(cq.ktail),
		cqFlags:    u32p(cq.kflags),
		cqOverflow: u32p(cq.koverflow),
		cqes:       unsafe.Pointer(cq.cqes),
		cqMask:     uint32(cq.ring_mask),
		cqEntries:  uint32(cq.ring_entries),
		flags:      uint32(c.ring.flags),
		features:   uint32(c.ring.features),
		sqeLog:     uintptr(bits.TrailingZeros(sqeSize)),
		cqeLog:     uintptr(bits.TrailingZeros(cqeSize)),
	}
	if r.flags&SetupSQE128 != 0 {
		r.sqeLog++
	}
	if r.flags&SetupCQE32 != 0 {
		r.cqeLog++
	}
	return r
}

// Close tears the ring down with io_uring_queue_exit and frees its C memory.
// It is idempotent; every later method call returns [ErrClosed] (GetSQE
// returns nil). SQEs and CQEs obtained earlier must not be used after Close.
//
// The ring of a [Queue] (Queue.Ring) is not closed: Close returns
// [ErrQueueRing], since the queue's reaper and waiters still use it;
// Queue.Close closes it.
func (r *Ring) Close() error {
	if r.queueOwned() {
		return ErrQueueRing
	}
	return r.close()
}

// queueOwned reports whether r is still the ring of an open Queue. owned is
// read under guard: Queue.Close clears it in close, which may run at the
// same time.
func (r *Ring) queueOwned() bool {
	if r == nil {
		return false
	}
	if g := r.guard; g != nil {
		g.RLock()
		defer g.RUnlock()
	}
	return r.owned
}

// closeFD closes the ring's descriptor and leaves the rings mapped, for
// Queue.teardown; close, later, unmaps them (and closes nothing more).
func (r *Ring) closeFD() {
	if r == nil || r.c == nil || r.c.ring.ring_fd < 0 {
		return
	}
	unix.Close(int(r.c.ring.ring_fd))
	r.c.ring.ring_fd = -1
	r.c.ring.enter_ring_fd = -1
}

func (r *Ring) close() error {
	if r == nil {
		return nil
	}
	if g := r.guard; g != nil {
		g.Lock()
		defer g.Unlock()
	}
	if r.c == nil {
		return nil
	}
	C.io_uring_queue_exit(&r.c.ring)
	C.free(unsafe.Pointer(r.c))
	// Field by field, not *r = Ring{}: guard, and the sizes, flags and
	// features that Features, Flags, SQEntries and CQEntries read without
	// it, stay as they were; what pointed into the freed ring goes.
	r.c = nil
	r.sqHead, r.sqFlags, r.sqDropped, r.sqeTail, r.sqes = nil, nil, nil, nil, nil
	r.cqHead, r.cqTail, r.cqFlags, r.cqOverflow, r.cqes = nil, nil, nil, nil, nil
	r.owned = false
	return nil
}

// hold is the start of a Ring method that uses the C ring: false (and
// nothing held) once the ring is closed; otherwise, on a Queue's ring, it
// holds guard for reading until release.
func (r *Ring) hold() bool {
	if r == nil {
		return false
	}
	if g := r.guard; g != nil {
		g.RLock()
		if r.c == nil {
			g.RUnlock()
			return false
		}
		return true
	}
	return r.c != nil
}

// release ends what hold began.
func (r *Ring) release() {
	if g := r.guard; g != nil {
		g.RUnlock()
	}
}

// setPublishedTail sets the SQ tail liburing last published to the kernel
// (sq.sqe_head and *sq.ktail) to tail (see takeBack).
func (r *Ring) setPublishedTail(tail uint32) {
	r.c.ring.sq.sqe_head = C.uint(tail)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(r.c.ring.sq.ktail)), tail)
}

// Closed reports whether Close has been called (on a Queue's ring: whether
// Queue.Close freed it, which it may race).
func (r *Ring) Closed() bool {
	if !r.hold() {
		return true
	}
	r.release()
	return false
}

// Fd returns the ring's file descriptor (ring->ring_fd), -1 after Close.
func (r *Ring) Fd() int {
	if !r.hold() {
		return -1
	}
	defer r.release()
	return int(r.c.ring.ring_fd)
}

// Features returns the IORING_FEAT_* bits the kernel reported at setup
// (ring->features).
func (r *Ring) Features() uint32 {
	if r == nil {
		return 0
	}
	return r.features
}

// Flags returns the IORING_SETUP_* flags of the ring (ring->flags).
func (r *Ring) Flags() uint32 {
	if r == nil {
		return 0
	}
	return r.flags
}

// SQEntries returns the number of SQ entries (ring->sq.ring_entries).
func (r *Ring) SQEntries() uint32 {
	if r == nil {
		return 0
	}
	return r.sqEntries
}

// CQEntries returns the number of CQ entries (ring->cq.ring_entries).
func (r *Ring) CQEntries() uint32 {
	if r == nil {
		return 0
	}
	return r.cqEntries
}

// InitSQArray fills the SQ index array with the identity mapping, the step
// io_uring_queue_init_params performs after io_uring_queue_mmap. Only rings
// made with [QueueMmap] need it.
func (r *Ring) InitSQArray() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	arr := unsafe.Slice(u32p(r.c.ring.sq.array), r.sqEntries)
	for i := range arr {
		arr[i] = uint32(i)
	}
	return nil
}

// DontFork calls io_uring_ring_dontfork: madvise(MADV_DONTFORK) on the rings
// so a forked child does not share them.
func (r *Ring) DontFork() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.io_uring_ring_dontfork(&r.c.ring)))
}

// EnableRings calls io_uring_enable_rings, starting a ring created with
// [SetupRDisabled]. liburing 2.3's shared library does not export that
// function, so this makes the identical io_uring_register(2) call
// (IORING_REGISTER_ENABLE_RINGS on the ring fd) through liburing's wrapper.
func (r *Ring) EnableRings() error {
	if !r.hold() {
		return ErrClosed
	}
	defer r.release()
	return errRet(int(C.aiokit_enable_rings(&r.c.ring)))
}

// SQFlags returns the kernel's SQ ring flags (*sq.kflags: IORING_SQ_NEED_WAKEUP,
// IORING_SQ_CQ_OVERFLOW, IORING_SQ_TASKRUN), read with a relaxed load like
// liburing's IO_URING_READ_ONCE. 0 after Close.
func (r *Ring) SQFlags() uint32 {
	if !r.hold() {
		return 0
	}
	defer r.release()
	return atomic.LoadUint32(r.sqFlags)
}

// CQHasOverflow reports whether completions wait in the kernel's overflow
// list (io_uring_cq_has_overflow: IORING_SQ_CQ_OVERFLOW in the SQ flags).
func (r *Ring) CQHasOverflow() bool { return r.SQFlags()&SQCQOverflow != 0 }

// CQOverflow returns the kernel's count of completions it had to drop
// (*cq.koverflow). With IORING_FEAT_NODROP the kernel keeps overflowed
// completions instead and this stays 0 unless it ran out of memory.
func (r *Ring) CQOverflow() uint32 {
	if !r.hold() {
		return 0
	}
	defer r.release()
	return atomic.LoadUint32(r.cqOverflow)
}

// SQDropped returns the kernel's count of invalid SQ entries it skipped
// (*sq.kdropped).
func (r *Ring) SQDropped() uint32 {
	if !r.hold() {
		return 0
	}
	defer r.release()
	return atomic.LoadUint32(r.sqDropped)
}

// errRet converts a liburing int result to nil or unix.Errno.
func errRet(ret int) error {
	if ret < 0 {
		return unix.Errno(-ret)
	}
	return nil
}

// MlockSize calls io_uring_mlock_size: the bytes of locked memory a ring of
// entries with flags would need (0 on kernels that do not account it).
func MlockSize(entries, flags uint32) (int, error) {
	return retInt(int(C.io_uring_mlock_size(C.uint(entries), C.uint(flags))))
}

// MlockSizeParams calls io_uring_mlock_size_params.
func MlockSizeParams(entries uint32, p *Params) (int, error) {
	if p == nil {
		return 0, unix.EFAULT
	}
	cp := (*C.struct_io_uring_params)(C.calloc(1, C.size_t(unsafe.Sizeof(Params{}))))
	if cp == nil {
		return 0, unix.ENOMEM
	}
	defer C.free(unsafe.Pointer(cp))
	*(*Params)(unsafe.Pointer(cp)) = *p
	ret := int(C.io_uring_mlock_size_params(C.uint(entries), cp))
	*p = *(*Params)(unsafe.Pointer(cp))
	return retInt(ret)
}
