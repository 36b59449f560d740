package uring

import (
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Socket operations of Queue and Link beyond Send, Recv, Accept and Connect
// (queue_ops.go), under the same rules.

// Shutdown submits IORING_OP_SHUTDOWN (io_uring_prep_shutdown):
// shutdown(2) of socket fd; how is unix.SHUT_RD, SHUT_WR or SHUT_RDWR.
// Nothing is pinned.
func (q *Queue) Shutdown(fd int, how int) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepShutdown(fd, how) })
}

// Shutdown adds IORING_OP_SHUTDOWN (io_uring_prep_shutdown).
func (l *Link) Shutdown(fd int, how int) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepShutdown(fd, how) })
}

// Socket submits IORING_OP_SOCKET (io_uring_prep_socket, Linux 5.19+):
// socket(2) with domain, typ (which may carry unix.SOCK_CLOEXEC and
// SOCK_NONBLOCK) and proto; the result is the new descriptor, the caller's
// to close. flags are the SQE's own and must be 0 on current kernels.
// Nothing is pinned.
func (q *Queue) Socket(domain, typ, proto int, flags uint32) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepSocket(domain, typ, proto, flags) })
}

// SendmsgBuffers submits IORING_OP_SENDMSG (io_uring_prep_sendmsg), the
// ring's unix.SendmsgBuffers: one message made of bufs, with control data
// oob (unix.UnixRights, ...), to address to (nil on a connected socket;
// the Sockaddr types Connect takes, where unix.SendmsgBuffers takes a few
// more (AF_CAN, AF_BLUETOOTH, ...): another type is EAFNOSUPPORT, a typed
// nil EINVAL, before anything is submitted), with sendmsg(2) flags. The result
// is the number of bytes sent. The msghdr, the iovec array, every buffer,
// oob and the encoded address are pinned until the completion.
func (q *Queue) SendmsgBuffers(fd int, bufs [][]byte, oob []byte, to unix.Sockaddr, flags int) (*completion.Handle, error) {
	return q.run(sendmsg(fd, bufs, oob, to, flags))
}

// SendmsgBuffers adds IORING_OP_SENDMSG (io_uring_prep_sendmsg); everything
// the kernel reads is pinned.
func (l *Link) SendmsgBuffers(fd int, bufs [][]byte, oob []byte, to unix.Sockaddr, flags int) *completion.Handle {
	return l.run(sendmsg(fd, bufs, oob, to, flags))
}

func sendmsg(fd int, bufs [][]byte, oob []byte, to unix.Sockaddr, flags int) (func(op *completion.Op), func(s *SQE), error) {
	m := new(msghdr)
	if to != nil {
		n, err := putSockaddr(&m.name, to)
		if err != nil {
			return nil, nil, err
		}
		m.hdr.Name = (*byte)(unsafe.Pointer(&m.name))
		m.hdr.Namelen = n
	}
	return m.pinFunc(bufs, oob), func(s *SQE) { s.PrepSendmsg(fd, &m.hdr, uint32(flags)) }, nil
}

// RecvmsgBuffers submits IORING_OP_RECVMSG (io_uring_prep_recvmsg), the
// ring's unix.RecvmsgBuffers: one message into bufs, with control data
// into oob, with recvmsg(2) flags. The handle's result is the number of
// bytes received; the Msg reports, once the handle is done, what else
// recvmsg(2) returns (control length, msg_flags, sender). The msghdr, the
// iovec array, every buffer, oob and the sender address buffer are pinned
// until the completion.
func (q *Queue) RecvmsgBuffers(fd int, bufs [][]byte, oob []byte, flags int) (*completion.Handle, *Msg, error) {
	m := new(Msg)
	h, err := q.run(m.recvmsg(fd, bufs, oob, flags))
	if err != nil {
		return nil, nil, err
	}
	m.h = h
	return h, m, nil
}

// RecvmsgBuffers adds IORING_OP_RECVMSG (io_uring_prep_recvmsg); the Msg
// is valid once the member's handle is done. Both are nil once an earlier
// member failed.
func (l *Link) RecvmsgBuffers(fd int, bufs [][]byte, oob []byte, flags int) (*completion.Handle, *Msg) {
	m := new(Msg)
	h := l.run(m.recvmsg(fd, bufs, oob, flags))
	if h == nil {
		return nil, nil
	}
	m.h = h
	return h, m
}

// msghdr is the struct msghdr of one SENDMSG or RECVMSG and the socket
// address it points to, in one allocation that is pinned whole.
type msghdr struct {
	hdr  unix.Msghdr
	name unix.RawSockaddrAny
}

// pinFunc returns the pin function of an operation on m: it pins m, the
// iovec array over bufs and every buffer, and oob, and points m's msghdr
// at them.
func (m *msghdr) pinFunc(bufs [][]byte, oob []byte) func(op *completion.Op) {
	return func(op *completion.Op) {
		op.Pin(m)
		if iov := pinIovecs(op, bufs); len(iov) > 0 {
			m.hdr.Iov = &iov[0]
			m.hdr.SetIovlen(len(iov))
		}
		if len(oob) > 0 {
			op.PinBytes(oob)
			m.hdr.Control = &oob[0]
			m.hdr.SetControllen(len(oob))
		}
	}
}

// Msg is the rest of what a RecvmsgBuffers operation received, besides the
// bytes that its handle counts. It may be read once the handle is done.
type Msg struct {
	msghdr
	h *completion.Handle
}

func (m *Msg) recvmsg(fd int, bufs [][]byte, oob []byte, flags int) (func(op *completion.Op), func(s *SQE), error) {
	m.hdr.Name = (*byte)(unsafe.Pointer(&m.name))
	m.hdr.Namelen = unix.SizeofSockaddrAny
	return m.pinFunc(bufs, oob), func(s *SQE) { s.PrepRecvmsg(fd, &m.hdr, uint32(flags)) }, nil
}

// Result returns what unix.RecvmsgBuffers returns: the bytes received (n,
// as the handle reports them), the control bytes written to oob (oobn),
// the msg_flags the kernel set (recvflags: unix.MSG_TRUNC, MSG_CTRUNC, ...)
// and the sender's address (from: *unix.SockaddrInet4, *unix.SockaddrInet6,
// *unix.SockaddrUnix, *unix.SockaddrNetlink, *unix.SockaddrLinklayer or
// *unix.SockaddrVM; nil when the socket reported none, as a connected
// stream socket does). A sender of another family gives unix.EAFNOSUPPORT
// with n, oobn and recvflags set (unix.RecvmsgBuffers decodes a few more:
// AF_CAN, AF_BLUETOOTH, ...).
// Before the handle is done it returns ErrPending; when the receive failed,
// its errno.
func (m *Msg) Result() (n, oobn, recvflags int, from unix.Sockaddr, err error) {
	n, err = m.h.Result()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	from, err = sockaddrOf(&m.name, m.hdr.Namelen)
	return n, int(m.hdr.Controllen), int(m.hdr.Flags), from, err
}
