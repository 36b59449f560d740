package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// A multishot recvmsg ([SQE.PrepRecvmsgMultishot]) writes into each provided
// buffer: a RecvmsgOut header, msg_namelen bytes of name, msg_controllen
// bytes of control data, then the payload. These helpers take the msghdr the
// SQE was prepared with (only its Namelen and Controllen are used).

// RecvmsgValidate returns the header at the start of buf, or nil if buf is
// too short to hold the header, name and control areas, or msgh is nil
// (io_uring_recvmsg_validate).
func RecvmsgValidate(buf []byte, msgh *unix.Msghdr) *RecvmsgOut {
	if msgh == nil {
		return nil
	}
	header := uint64(msgh.Controllen) + uint64(msgh.Namelen) + uint64(unsafe.Sizeof(RecvmsgOut{}))
	if uint64(len(buf)) < header {
		return nil
	}
	return (*RecvmsgOut)(unsafe.Pointer(&buf[0]))
}

// Name returns the address of the name area (io_uring_recvmsg_name).
func (o *RecvmsgOut) Name() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(o), unsafe.Sizeof(RecvmsgOut{}))
}

// NameBytes returns the name area as the kernel filled it: min(Namelen,
// msgh.Namelen) bytes (the kernel reports the full length in Namelen even
// when it truncated).
func (o *RecvmsgOut) NameBytes(msgh *unix.Msghdr) []byte {
	n := o.Namelen
	if n > msgh.Namelen {
		n = msgh.Namelen
	}
	return unsafe.Slice((*byte)(o.Name()), n)
}

// CmsgFirstHdr returns the first control message, or nil when there is none
// (io_uring_recvmsg_cmsg_firsthdr).
func (o *RecvmsgOut) CmsgFirstHdr(msgh *unix.Msghdr) *unix.Cmsghdr {
	if uint64(o.controlLen(msgh)) < uint64(unsafe.Sizeof(unix.Cmsghdr{})) {
		return nil
	}
	return (*unix.Cmsghdr)(unsafe.Add(o.Name(), msgh.Namelen))
}

// controlLen is the control data the kernel wrote: Controllen, which it
// never sets above msgh.Controllen (the area RecvmsgValidate checked), held
// to that area in a malformed buffer, as NameBytes holds the name.
func (o *RecvmsgOut) controlLen(msgh *unix.Msghdr) uint64 {
	return min(uint64(o.Controllen), uint64(msgh.Controllen))
}

// cmsgAlign is CMSG_ALIGN.
func cmsgAlign(n uint64) uint64 {
	const a = uint64(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

// CmsgNextHdr returns the control message after cmsg, or nil at the end
// (io_uring_recvmsg_cmsg_nexthdr). A cmsg_len that reaches past the control
// data (a malformed buffer) is the end too: C's pointer sums wrap there
// (CMSG_ALIGN of a length near 2^64 is 0, or a small negative step), and
// would give cmsg itself again or a header before the buffer.
func (o *RecvmsgOut) CmsgNextHdr(msgh *unix.Msghdr, cmsg *unix.Cmsghdr) *unix.Cmsghdr {
	if uint64(cmsg.Len) < uint64(unsafe.Sizeof(unix.Cmsghdr{})) {
		return nil
	}
	first := o.CmsgFirstHdr(msgh)
	if first == nil {
		// C computes end from firsthdr unconditionally; with no control
		// data there is no next header either.
		return nil
	}
	end := uintptr(unsafe.Pointer(first)) + uintptr(o.controlLen(msgh))
	at := uintptr(unsafe.Pointer(cmsg))
	// fits reports whether n bytes from p end by end, without wrapping.
	fits := func(p uintptr, n uint64) bool { return p <= end && n <= uint64(end-p) }
	if !fits(at, uint64(cmsg.Len)) {
		return nil
	}
	step := cmsgAlign(uint64(cmsg.Len))
	if !fits(at, step) || !fits(at+uintptr(step), uint64(unsafe.Sizeof(unix.Cmsghdr{}))) {
		return nil
	}
	nc := (*unix.Cmsghdr)(unsafe.Add(unsafe.Pointer(cmsg), step))
	if !fits(at+uintptr(step), cmsgAlign(uint64(nc.Len))) {
		return nil
	}
	return nc
}

// Payload returns the address of the payload (io_uring_recvmsg_payload).
func (o *RecvmsgOut) Payload(msgh *unix.Msghdr) unsafe.Pointer {
	return unsafe.Add(o.Name(), uintptr(msgh.Namelen)+uintptr(msgh.Controllen))
}

// PayloadLength returns the payload bytes in a buffer of bufLen bytes
// (io_uring_recvmsg_payload_length): bufLen is the CQE's Res.
func (o *RecvmsgOut) PayloadLength(bufLen int, msgh *unix.Msghdr) uint32 {
	start := uintptr(o.Payload(msgh))
	end := uintptr(unsafe.Pointer(o)) + uintptr(bufLen)
	return uint32(end - start)
}

// PayloadBytes returns the payload as a slice of the buffer; bufLen is the
// CQE's Res. A bufLen that ends before the payload starts (a failed CQE's
// negative Res, a truncated buffer), where PayloadLength wraps as in C, gives
// nil rather than a slice past the buffer.
func (o *RecvmsgOut) PayloadBytes(bufLen int, msgh *unix.Msghdr) []byte {
	if bufLen < 0 || uint64(bufLen) < uint64(unsafe.Sizeof(RecvmsgOut{}))+uint64(msgh.Namelen)+uint64(msgh.Controllen) {
		return nil
	}
	return unsafe.Slice((*byte)(o.Payload(msgh)), o.PayloadLength(bufLen, msgh))
}
