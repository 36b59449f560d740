package uring

import (
	"sync/atomic"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
)

// sqeSize is sizeof(struct io_uring_sqe).
const sqeSize = 64

// GetSQE returns the next vacant SQE, or nil when the SQ ring is full (or the
// ring is closed), like io_uring_get_sqe. It is pure Go: it reads the kernel's
// SQ head (acquire, as liburing does under SQPOLL) and advances
// ring->sq.sqe_tail, the user-space field io_uring_submit later publishes to
// the kernel's tail. The SQE keeps the contents of its previous use until a
// Prep* method overwrites it (every Prep* sets all fields except user_data).
func (r *Ring) GetSQE() *SQE {
	if r == nil || r.c == nil {
		return nil
	}
	tail := *r.sqeTail
	next := tail + 1
	// liburing uses a relaxed read without SQPOLL and an acquire load with
	// it; a Go atomic load is at least as strong as both.
	head := atomic.LoadUint32(r.sqHead)
	if next-head > r.sqEntries {
		return nil
	}
	sqe := r.sqeAt(tail)
	*r.sqeTail = next
	return sqe
}

// sqeAt returns the SQE at ring position pos. The shift count is masked so
// that the compiler drops Go's check for counts past the operand's width
// (sqeLog is 6 or 7).
func (r *Ring) sqeAt(pos uint32) *SQE {
	return (*SQE)(unsafe.Add(r.sqes, uintptr(pos&r.sqMask)<<(r.sqeLog&63)))
}

// takeBack withdraws the SQEs the kernel has not consumed (from its SQ
// head to the tail liburing published, and any obtained since) and calls f
// with each one's user data. Only for a ring without SQPOLL whose
// io_uring_enter failed without consuming any: nothing else reads the SQ
// then, so moving the tails back to the kernel's head is safe.
func (r *Ring) takeBack(f func(ud uint64)) {
	head := atomic.LoadUint32(r.sqHead)
	for i := head; i != *r.sqeTail; i++ {
		f(r.sqeAt(i).Data)
	}
	*r.sqeTail = head
	r.setPublishedTail(head)
}

// SQReady returns the SQEs obtained but not yet consumed by the kernel
// (io_uring_sq_ready: sqe_tail minus the kernel's head).
func (r *Ring) SQReady() uint32 {
	if r == nil || r.c == nil {
		return 0
	}
	return *r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// SQSpaceLeft returns the free SQ entries (io_uring_sq_space_left).
func (r *Ring) SQSpaceLeft() uint32 {
	if r == nil || r.c == nil {
		return 0
	}
	return r.sqEntries - r.SQReady()
}

// SetUserData sets the SQE's user_data (io_uring_sqe_set_data64).
func (s *SQE) SetUserData(u uint64) { s.Data = u }

// UserData returns the SQE's user_data.
func (s *SQE) UserData() uint64 { return s.Data }

// SetFlags sets the SQE's IOSQE_* flags (io_uring_sqe_set_flags), replacing
// the previous ones.
func (s *SQE) SetFlags(f uint8) { s.Flags = f }

// SetTargetFixedFile makes an open/accept/socket SQE install its new file in
// fixed-file slot fileIndex (__io_uring_set_target_fixed_file: file_index =
// fileIndex+1). As in liburing 2.3, the +1 is unconditional: passing
// FileIndexAlloc itself wraps to 0, which is a plain open/accept/socket
// into a new descriptor, not an allocated slot. To have the kernel pick a
// free slot (Linux 5.19; its number comes back in the CQE's Res), pass
// FileIndexAlloc-1 (what liburing 2.3's own *_direct_alloc helpers pass;
// the helpers this package mirrors byte for byte are 2.3's).
func (s *SQE) SetTargetFixedFile(fileIndex uint32) {
	*(*uint32)(unsafe.Pointer(&s.SpliceFdIn)) = fileIndex + 1
}

// FileIndex returns the raw file_index field (slot+1, 0 when unset).
func (s *SQE) FileIndex() uint32 { return uint32(s.SpliceFdIn) }

// PrepRW fills the SQE the way io_uring_prep_rw does: every field but
// user_data is overwritten (opcode, fd, addr, len, off set; the rest zeroed).
// addr is stored as an integer in kernel-shared memory: if it points into Go
// memory the caller must keep that memory alive and pinned (runtime.Pinner)
// until the kernel is done with it.
func (s *SQE) PrepRW(op uint8, fd int, addr unsafe.Pointer, n uint32, off uint64) {
	s.prepRW(op, fd, uint64(uintptr(addr)), n, off)
}

func (s *SQE) prepRW(op uint8, fd int, addr uint64, n uint32, off uint64) {
	// Field by field, as io_uring_prep_rw: user_data is left as it is
	// without being read. The SQE's cache line was last touched by the
	// kernel, and a load from it (to keep user_data through a whole-struct
	// store) stalled GetSQE+PrepNop for a cache miss: 20 % of the raw NOP
	// loop's own time.
	s.Opcode = op
	s.Flags = 0
	s.Ioprio = 0
	s.Fd = fileio.FD32(fd) // a wide fd is -1: EBADF (EINVAL where the field is a count)
	s.Off = off
	s.Addr = addr
	s.Len = n
	s.OpFlags = 0
	s.BufIndex = 0
	s.Personality = 0
	s.SpliceFdIn = 0
	s.Addr3 = 0
	s.Pad2 = 0
}

// bufAddr returns the address (unsafe.SliceData, 0 for a nil slice) and the
// length of b truncated to 32 bits, like the C helpers' (__u32) casts.
func bufAddr(b []byte) (uint64, uint32) {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), uint32(len(b))
}

// ptrAddr returns the address of p as stored in an SQE.
func ptrAddr(p unsafe.Pointer) uint64 { return uint64(uintptr(p)) }
