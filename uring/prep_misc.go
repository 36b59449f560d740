package uring

import "unsafe"

// PrepCancel64 prepares an IORING_OP_ASYNC_CANCEL of the request with
// userData; flags are IORING_ASYNC_CANCEL_* (io_uring_prep_cancel64). The
// CQE's Res is 0, -ENOENT (not found) or -EALREADY (already running).
func (s *SQE) PrepCancel64(userData uint64, flags int) {
	s.prepRW(OpAsyncCancel, -1, 0, 0, 0)
	s.Addr = userData
	s.OpFlags = uint32(flags)
}

// PrepCancelFD prepares cancelling requests on fd (io_uring_prep_cancel_fd).
func (s *SQE) PrepCancelFD(fd int, flags uint32) {
	s.prepRW(OpAsyncCancel, fd, 0, 0, 0)
	s.OpFlags = flags | AsyncCancelFD
}

// PrepProvideBuffers prepares an IORING_OP_PROVIDE_BUFFERS handing nr
// buffers of bufLen bytes each, starting at mem, to buffer group bgid with
// IDs from bid (io_uring_prep_provide_buffers). mem must hold nr*bufLen bytes
// and stay valid (and pinned) while the kernel owns the buffers.
func (s *SQE) PrepProvideBuffers(mem []byte, bufLen, nr, bgid, bid int) {
	a, _ := bufAddr(mem)
	s.prepRW(OpProvideBuffers, nr, a, uint32(bufLen), uint64(bid))
	s.BufIndex = uint16(bgid)
}

// PrepRemoveBuffers prepares removing nr buffers from group bgid
// (io_uring_prep_remove_buffers).
func (s *SQE) PrepRemoveBuffers(nr, bgid int) {
	s.prepRW(OpRemoveBuffers, nr, 0, 0, 0)
	s.BufIndex = uint16(bgid)
}

// PrepMsgRing prepares an IORING_OP_MSG_RING posting a CQE with Res=n and
// UserData=data on the ring whose fd is fd (io_uring_prep_msg_ring).
func (s *SQE) PrepMsgRing(fd int, n uint32, data uint64, flags uint32) {
	s.prepRW(OpMsgRing, fd, 0, n, data)
	s.OpFlags = flags
}

// CmdSQE128 returns the 80 command bytes of an SQE that belongs to a
// ring set up with [SetupSQE128] (sqe->cmd, used by IORING_OP_URING_CMD).
// On other rings it would reach into the next SQE: do not call it there.
func (s *SQE) CmdSQE128() *[80]byte {
	return (*[80]byte)(unsafe.Pointer(&s.Addr3))
}

// PrepCancel is PrepCancel64 with a pointer-sized key (io_uring_prep_cancel):
// it cancels the request whose user_data equals the address userData. The
// pointer is only compared, never dereferenced.
func (s *SQE) PrepCancel(userData unsafe.Pointer, flags int) {
	s.PrepCancel64(ptrAddr(userData), flags)
}
