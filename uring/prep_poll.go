package uring

import (
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// isBigEndian is true on big-endian hosts, where liburing word-swaps poll
// masks (__io_uring_prep_poll_mask).
var isBigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()

// pollMask is __io_uring_prep_poll_mask.
func pollMask(m uint32) uint32 {
	if isBigEndian {
		return m<<16 | m>>16
	}
	return m
}

// PrepPollAdd prepares a one-shot IORING_OP_POLL_ADD for the POLL* bits in
// mask (io_uring_prep_poll_add); the CQE's Res holds the ready events.
func (s *SQE) PrepPollAdd(fd int, mask uint32) {
	s.prepRW(OpPollAdd, fd, 0, 0, 0)
	s.OpFlags = pollMask(mask)
}

// PrepPollMultishot prepares a multishot poll (io_uring_prep_poll_multishot).
func (s *SQE) PrepPollMultishot(fd int, mask uint32) {
	s.PrepPollAdd(fd, mask)
	s.Len = PollAddMulti
}

// PrepPollRemove prepares removing the poll request with userData
// (io_uring_prep_poll_remove).
func (s *SQE) PrepPollRemove(userData uint64) {
	s.prepRW(OpPollRemove, -1, 0, 0, 0)
	s.Addr = userData
}

// PrepPollUpdate prepares updating the poll request oldUserData: flags
// (IORING_POLL_UPDATE_*, PollAddMulti) select what changes
// (io_uring_prep_poll_update).
func (s *SQE) PrepPollUpdate(oldUserData, newUserData uint64, mask, flags uint32) {
	s.prepRW(OpPollRemove, -1, 0, flags, newUserData)
	s.Addr = oldUserData
	s.OpFlags = pollMask(mask)
}

// PrepEpollCtl prepares an IORING_OP_EPOLL_CTL (io_uring_prep_epoll_ctl).
func (s *SQE) PrepEpollCtl(epfd, fd, op int, ev *unix.EpollEvent) {
	s.prepRW(OpEpollCtl, epfd, ptrAddr(unsafe.Pointer(ev)), uint32(op), uint64(uint32(fileio.FD32(fd))))
}
