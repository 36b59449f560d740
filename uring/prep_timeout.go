package uring

import "unsafe"

// The kernel reads a timeout's KernelTimespec while the SQE is submitted, so
// ts must stay valid (and pinned, for Go memory) until the kernel consumed
// the SQE: when Submit returns on a ring without SQPOLL; on a [SetupSQPoll]
// ring the SQ thread reads it after Submit returned, until SQReady no longer
// counts the SQE.

// PrepTimeout prepares an IORING_OP_TIMEOUT that completes after ts, or once
// count other completions arrived; flags are IORING_TIMEOUT_*
// (io_uring_prep_timeout). A timeout that expires completes with -ETIME.
func (s *SQE) PrepTimeout(ts *KernelTimespec, count, flags uint32) {
	s.prepRW(OpTimeout, -1, ptrAddr(unsafe.Pointer(ts)), 1, uint64(count))
	s.OpFlags = flags
}

// PrepTimeoutRemove prepares removing the timeout with userData
// (io_uring_prep_timeout_remove).
func (s *SQE) PrepTimeoutRemove(userData uint64, flags uint32) {
	s.prepRW(OpTimeoutRemove, -1, 0, 0, 0)
	s.Addr = userData
	s.OpFlags = flags
}

// PrepTimeoutUpdate prepares changing the timeout with userData to ts
// (io_uring_prep_timeout_update).
func (s *SQE) PrepTimeoutUpdate(ts *KernelTimespec, userData uint64, flags uint32) {
	s.prepRW(OpTimeoutRemove, -1, 0, 0, ptrAddr(unsafe.Pointer(ts)))
	s.Addr = userData
	s.OpFlags = flags | TimeoutUpdate
}

// PrepLinkTimeout prepares an IORING_OP_LINK_TIMEOUT for the previous SQE,
// which must carry [SQEIOLink] (io_uring_prep_link_timeout).
func (s *SQE) PrepLinkTimeout(ts *KernelTimespec, flags uint32) {
	s.prepRW(OpLinkTimeout, -1, ptrAddr(unsafe.Pointer(ts)), 1, 0)
	s.OpFlags = flags
}
