package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrepSend prepares an IORING_OP_SEND of buf with MSG_* flags
// (io_uring_prep_send).
func (s *SQE) PrepSend(fd int, buf []byte, flags int) {
	a, n := bufAddr(buf)
	s.prepRW(OpSend, fd, a, n, 0)
	s.OpFlags = uint32(flags)
}

// PrepSendZC prepares a zero-copy IORING_OP_SEND_ZC; zcFlags are
// IORING_RECVSEND_* bits stored in ioprio (io_uring_prep_send_zc). It posts
// a second CQE with [CQEFNotif] when the buffer may be reused.
func (s *SQE) PrepSendZC(fd int, buf []byte, flags int, zcFlags uint32) {
	a, n := bufAddr(buf)
	s.prepRW(OpSendZC, fd, a, n, 0)
	s.OpFlags = uint32(flags)
	s.Ioprio = uint16(zcFlags)
}

// PrepSendZCFixed prepares an IORING_OP_SEND_ZC from registered buffer
// bufIndex (io_uring_prep_send_zc_fixed).
func (s *SQE) PrepSendZCFixed(fd int, buf []byte, flags int, zcFlags, bufIndex uint32) {
	s.PrepSendZC(fd, buf, flags, zcFlags)
	s.Ioprio |= RecvsendFixedBuf
	s.BufIndex = uint16(bufIndex)
}

// PrepSendSetAddr adds a destination address to a send SQE (addr2 and
// addr_len; io_uring_prep_send_set_addr). addr points to a sockaddr
// (unix.RawSockaddrInet4, ...) of addrLen bytes. Unlike the other helpers it
// only sets those two fields.
func (s *SQE) PrepSendSetAddr(addr unsafe.Pointer, addrLen uint16) {
	s.Off = ptrAddr(addr)
	*(*uint16)(unsafe.Pointer(&s.SpliceFdIn)) = addrLen
}

// PrepSendmsg prepares an IORING_OP_SENDMSG (io_uring_prep_sendmsg). msg,
// its iovecs, name and control buffers must stay valid until completion.
func (s *SQE) PrepSendmsg(fd int, msg *unix.Msghdr, flags uint32) {
	s.prepRW(OpSendmsg, fd, ptrAddr(unsafe.Pointer(msg)), 1, 0)
	s.OpFlags = flags
}

// PrepSendmsgZC prepares an IORING_OP_SENDMSG_ZC (io_uring_prep_sendmsg_zc).
func (s *SQE) PrepSendmsgZC(fd int, msg *unix.Msghdr, flags uint32) {
	s.PrepSendmsg(fd, msg, flags)
	s.Opcode = OpSendmsgZC
}

// PrepRecv prepares an IORING_OP_RECV into buf (io_uring_prep_recv). With
// [SQEBufferSelect] set afterwards buf is nil and BufIndex holds the group.
func (s *SQE) PrepRecv(fd int, buf []byte, flags int) {
	a, n := bufAddr(buf)
	s.prepRW(OpRecv, fd, a, n, 0)
	s.OpFlags = uint32(flags)
}

// PrepRecvMultishot prepares a multishot IORING_OP_RECV; it needs provided
// buffers (io_uring_prep_recv_multishot).
func (s *SQE) PrepRecvMultishot(fd int, buf []byte, flags int) {
	s.PrepRecv(fd, buf, flags)
	s.Ioprio |= RecvMultishot
}

// PrepRecvmsg prepares an IORING_OP_RECVMSG (io_uring_prep_recvmsg).
func (s *SQE) PrepRecvmsg(fd int, msg *unix.Msghdr, flags uint32) {
	s.prepRW(OpRecvmsg, fd, ptrAddr(unsafe.Pointer(msg)), 1, 0)
	s.OpFlags = flags
}

// PrepRecvmsgMultishot prepares a multishot IORING_OP_RECVMSG; each provided
// buffer starts with a [RecvmsgOut] header (io_uring_prep_recvmsg_multishot).
func (s *SQE) PrepRecvmsgMultishot(fd int, msg *unix.Msghdr, flags uint32) {
	s.PrepRecvmsg(fd, msg, flags)
	s.Ioprio |= RecvMultishot
}

// PrepAccept prepares an IORING_OP_ACCEPT (io_uring_prep_accept). addr and
// addrLen may be nil; when set, *addrLen holds the size of addr and both must
// stay valid until completion. flags are SOCK_NONBLOCK/SOCK_CLOEXEC.
func (s *SQE) PrepAccept(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.prepRW(OpAccept, fd, ptrAddr(unsafe.Pointer(addr)), 0, ptrAddr(unsafe.Pointer(addrLen)))
	s.OpFlags = uint32(flags)
}

// PrepAcceptDirect is PrepAccept into fixed-file slot fileIndex
// (io_uring_prep_accept_direct); fileIndex FileIndexAlloc-1 asks the kernel to
// pick a free slot and return it in the CQE's Res.
func (s *SQE) PrepAcceptDirect(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int, fileIndex uint32) {
	s.PrepAccept(fd, addr, addrLen, flags)
	s.SetTargetFixedFile(fileIndex)
}

// PrepMultishotAccept prepares a multishot accept (io_uring_prep_multishot_accept).
func (s *SQE) PrepMultishotAccept(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.PrepAccept(fd, addr, addrLen, flags)
	s.Ioprio |= AcceptMultishot
}

// PrepMultishotAcceptDirect prepares a multishot accept into automatically
// allocated fixed-file slots (io_uring_prep_multishot_accept_direct).
func (s *SQE) PrepMultishotAcceptDirect(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.PrepMultishotAccept(fd, addr, addrLen, flags)
	s.SetTargetFixedFile(FileIndexAlloc - 1)
}

// PrepConnect prepares an IORING_OP_CONNECT to the first addrLen bytes of
// addr (io_uring_prep_connect); addr must stay valid until completion. Put a
// smaller sockaddr (RawSockaddrInet4, ...) into a RawSockaddrAny rather than
// converting its pointer, which -race's checkptr rejects.
func (s *SQE) PrepConnect(fd int, addr *unix.RawSockaddrAny, addrLen uint32) {
	s.prepRW(OpConnect, fd, ptrAddr(unsafe.Pointer(addr)), 0, uint64(addrLen))
}

// PrepShutdown prepares an IORING_OP_SHUTDOWN; how is SHUT_RD/WR/RDWR
// (io_uring_prep_shutdown).
func (s *SQE) PrepShutdown(fd int, how int) {
	s.prepRW(OpShutdown, fd, 0, uint32(how), 0)
}

// PrepSocket prepares an IORING_OP_SOCKET (io_uring_prep_socket); flags must
// be 0 on current kernels.
func (s *SQE) PrepSocket(domain, typ, protocol int, flags uint32) {
	s.prepRW(OpSocket, domain, 0, uint32(protocol), uint64(typ))
	s.OpFlags = flags
}

// PrepSocketDirect prepares an IORING_OP_SOCKET into fixed-file slot
// fileIndex (io_uring_prep_socket_direct); FileIndexAlloc-1, not FileIndexAlloc,
// lets the kernel pick a free slot (see SetTargetFixedFile).
func (s *SQE) PrepSocketDirect(domain, typ, protocol int, fileIndex uint32, flags uint32) {
	s.PrepSocket(domain, typ, protocol, flags)
	s.SetTargetFixedFile(fileIndex)
}

// PrepSocketDirectAlloc prepares an IORING_OP_SOCKET into an automatically
// allocated fixed-file slot, returned in the CQE's Res
// (io_uring_prep_socket_direct_alloc).
func (s *SQE) PrepSocketDirectAlloc(domain, typ, protocol int, flags uint32) {
	s.PrepSocket(domain, typ, protocol, flags)
	s.SetTargetFixedFile(FileIndexAlloc - 1)
}
