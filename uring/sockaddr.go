package uring

// Socket addresses between x/sys/unix's Sockaddr types and the kernel's
// struct sockaddr_* forms, for the ops that take or return one (Connect,
// SendmsgBuffers, Msg.Result): the families unix.Connect and
// unix.Recvfrom handle that a ring's socket ops are used with.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSockaddr converts sa into its kernel form in a fresh RawSockaddrAny
// (Go memory, pinned by the caller) and returns it with its length.
func rawSockaddr(sa unix.Sockaddr) (*unix.RawSockaddrAny, uint32, error) {
	rsa := new(unix.RawSockaddrAny)
	n, err := putSockaddr(rsa, sa)
	if err != nil {
		return nil, 0, err
	}
	return rsa, n, nil
}

// putSockaddr writes sa in its kernel form into rsa and returns its length.
func putSockaddr(rsa *unix.RawSockaddrAny, sa unix.Sockaddr) (uint32, error) {
	port := func(p *uint16, v int) {
		b := (*[2]byte)(unsafe.Pointer(p))
		b[0], b[1] = byte(v>>8), byte(v)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a == nil {
			return 0, unix.EINVAL
		}
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		r.Family = unix.AF_INET
		r.Addr = a.Addr
		port(&r.Port, a.Port)
		return unix.SizeofSockaddrInet4, nil
	case *unix.SockaddrInet6:
		if a == nil {
			return 0, unix.EINVAL
		}
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		r.Family = unix.AF_INET6
		r.Addr = a.Addr
		r.Scope_id = a.ZoneId
		port(&r.Port, a.Port)
		return unix.SizeofSockaddrInet6, nil
	case *unix.SockaddrUnix:
		if a == nil {
			return 0, unix.EINVAL
		}
		// As x/sys/unix's SockaddrUnix (what unix.Connect and unix.Bind
		// pass): a 108-byte name only when abstract; length family +
		// name + NUL, none for an unnamed one; an abstract name ('@' or a
		// leading NUL) without the NUL.
		r := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		name := a.Name
		if len(name) > len(r.Path) || len(name) == len(r.Path) && name[0] != '@' {
			return 0, unix.EINVAL
		}
		r.Family = unix.AF_UNIX
		for i := range r.Path {
			r.Path[i] = 0
		}
		for i := 0; i < len(name); i++ {
			r.Path[i] = int8(name[i])
		}
		n := uint32(2)
		if len(name) > 0 {
			n += uint32(len(name)) + 1
		}
		if r.Path[0] == '@' || r.Path[0] == 0 && n > 3 {
			r.Path[0] = 0
			n--
		}
		return n, nil
	case *unix.SockaddrNetlink: // field by field, as x/sys/unix's sockaddr methods
		if a == nil {
			return 0, unix.EINVAL
		}
		r := (*unix.RawSockaddrNetlink)(unsafe.Pointer(rsa))
		r.Family, r.Pad, r.Pid, r.Groups = unix.AF_NETLINK, a.Pad, a.Pid, a.Groups
		return unix.SizeofSockaddrNetlink, nil
	case *unix.SockaddrLinklayer:
		if a == nil || a.Ifindex < 0 || a.Ifindex > 0x7fffffff {
			return 0, unix.EINVAL
		}
		r := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(rsa))
		r.Family, r.Protocol, r.Ifindex = unix.AF_PACKET, a.Protocol, int32(a.Ifindex)
		r.Hatype, r.Pkttype, r.Halen, r.Addr = a.Hatype, a.Pkttype, a.Halen, a.Addr
		return unix.SizeofSockaddrLinklayer, nil
	case *unix.SockaddrVM:
		if a == nil {
			return 0, unix.EINVAL
		}
		r := (*unix.RawSockaddrVM)(unsafe.Pointer(rsa))
		r.Family, r.Port, r.Cid, r.Flags = unix.AF_VSOCK, a.Port, a.CID, a.Flags
		return unix.SizeofSockaddrVM, nil
	}
	return 0, unix.EAFNOSUPPORT
}

// sockaddrOf decodes the n bytes of rsa that the kernel filled (AF_INET,
// AF_INET6, AF_UNIX, AF_NETLINK, AF_PACKET or AF_VSOCK; n 0 or AF_UNSPEC:
// no address, nil; another family: EAFNOSUPPORT): the inverse of
// putSockaddr.
func sockaddrOf(rsa *unix.RawSockaddrAny, n uint32) (unix.Sockaddr, error) {
	n = min(n, unix.SizeofSockaddrAny) // the kernel reports the full length of a truncated name
	if n < uint32(unsafe.Sizeof(rsa.Addr.Family)) || rsa.Addr.Family == unix.AF_UNSPEC {
		return nil, nil
	}
	port := func(p *uint16) int {
		b := (*[2]byte)(unsafe.Pointer(p))
		return int(b[0])<<8 | int(b[1])
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet4{Port: port(&r.Port), Addr: r.Addr}, nil
	case unix.AF_INET6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet6{Port: port(&r.Port), ZoneId: r.Scope_id, Addr: r.Addr}, nil
	case unix.AF_UNIX:
		r := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		path := unsafe.Slice((*byte)(unsafe.Pointer(&r.Path[0])), min(int(n)-2, len(r.Path)))
		if len(path) > 0 && path[0] == 0 {
			// An abstract name: exactly its length, with '@' for the
			// leading NUL (as putSockaddr and package unix spell it).
			return &unix.SockaddrUnix{Name: "@" + string(path[1:])}, nil
		}
		for i, c := range path {
			if c == 0 {
				path = path[:i]
				break
			}
		}
		return &unix.SockaddrUnix{Name: string(path)}, nil
	case unix.AF_NETLINK: // field by field, as x/sys/unix's anyToSockaddr
		r := (*unix.RawSockaddrNetlink)(unsafe.Pointer(rsa))
		return &unix.SockaddrNetlink{Family: r.Family, Pad: r.Pad, Pid: r.Pid, Groups: r.Groups}, nil
	case unix.AF_PACKET:
		r := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(rsa))
		return &unix.SockaddrLinklayer{Protocol: r.Protocol, Ifindex: int(r.Ifindex), Hatype: r.Hatype,
			Pkttype: r.Pkttype, Halen: r.Halen, Addr: r.Addr}, nil
	case unix.AF_VSOCK:
		r := (*unix.RawSockaddrVM)(unsafe.Pointer(rsa))
		return &unix.SockaddrVM{CID: r.Cid, Port: r.Port, Flags: r.Flags}, nil
	}
	return nil, unix.EAFNOSUPPORT
}
