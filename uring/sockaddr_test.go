package uring

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// ignoreRaw leaves out the raw fields x/sys/unix caches in its Sockaddr
// types when it encodes them.
var ignoreRaw = cmpopts.IgnoreUnexported(unix.SockaddrInet4{}, unix.SockaddrInet6{},
	unix.SockaddrUnix{}, unix.SockaddrNetlink{}, unix.SockaddrLinklayer{}, unix.SockaddrVM{})

// sockaddrSamples has one or two of each Sockaddr type putSockaddr encodes.
var sockaddrSamples = []unix.Sockaddr{
	&unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}},
	&unix.SockaddrInet6{Port: 443, ZoneId: 3, Addr: [16]byte{15: 1}},
	&unix.SockaddrUnix{Name: "/run/x.sock"},
	&unix.SockaddrUnix{Name: "@abstract"},
	&unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: 4321, Groups: 0x11},
	&unix.SockaddrLinklayer{Protocol: 0x0008, Ifindex: 2, Hatype: 1, Pkttype: unix.PACKET_BROADCAST,
		Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	&unix.SockaddrVM{CID: unix.VMADDR_CID_LOCAL, Port: 5000, Flags: unix.VMADDR_FLAG_TO_HOST},
}

// Every Sockaddr type putSockaddr encodes decodes back to itself, and a
// typed nil of each is EINVAL.
func TestSockaddrRoundTrip(t *testing.T) {
	for _, sa := range sockaddrSamples {
		var rsa unix.RawSockaddrAny
		n, err := putSockaddr(&rsa, sa)
		if err != nil {
			t.Errorf("%T: putSockaddr: %v", sa, err)
			continue
		}
		got, err := sockaddrOf(&rsa, n)
		if err != nil {
			t.Errorf("%T: sockaddrOf: %v", sa, err)
			continue
		}
		if d := cmp.Diff(sa, got, ignoreRaw); d != "" {
			t.Errorf("%T: round trip (-put +decoded):\n%s", sa, d)
		}
	}
	for _, sa := range []unix.Sockaddr{(*unix.SockaddrNetlink)(nil), (*unix.SockaddrLinklayer)(nil),
		(*unix.SockaddrVM)(nil), &unix.SockaddrLinklayer{Ifindex: -1}} {
		var rsa unix.RawSockaddrAny
		if _, err := putSockaddr(&rsa, sa); !errors.Is(err, unix.EINVAL) {
			t.Errorf("putSockaddr(%#v) = %v, want EINVAL", sa, err)
		}
	}
}

// putSockaddr writes the bytes x/sys/unix writes for the same Sockaddr:
// unix.Connect encodes sa into the raw field it caches in sa before the
// system call (EBADF here), and that field is compared with ours.
func TestSockaddrMatchesXSys(t *testing.T) {
	for _, sa := range sockaddrSamples {
		var rsa unix.RawSockaddrAny
		if _, err := putSockaddr(&rsa, sa); err != nil {
			t.Fatalf("%T: %v", sa, err)
		}
		if err := unix.Connect(-1, sa); !errors.Is(err, unix.EBADF) {
			t.Fatalf("%T: unix.Connect(-1) = %v, want EBADF", sa, err)
		}
		raw := reflect.ValueOf(sa).Elem().FieldByName("raw")
		xsys := unsafe.Slice((*byte)(unsafe.Pointer(raw.UnsafeAddr())), raw.Type().Size())
		ours := unsafe.Slice((*byte)(unsafe.Pointer(&rsa)), len(xsys))
		if !bytes.Equal(ours, xsys) {
			t.Errorf("%T: putSockaddr % x\nx/sys/unix writes % x", sa, ours, xsys)
		}
	}
}

// connectVsUnix connects a fresh socket through Queue.Connect and another
// through unix.Connect to sa and fails unless both give the same errno.
// It returns the ring's socket (connected or not) and that error.
func connectVsUnix(t *testing.T, q *Queue, domain, typ, proto int, sa unix.Sockaddr) (int, error) {
	t.Helper()
	var fds [2]int
	for i := range fds {
		s, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		if errors.Is(err, unix.EPERM) {
			testutil.SkipNoPrivilege(t, "socket(2) of this family (CAP_NET_RAW)")
		}
		if err != nil {
			testutil.SkipNoFeature(t, "a socket of this family", err)
		}
		t.Cleanup(func() { unix.Close(s) })
		fds[i] = s
	}
	h, err := q.Connect(fds[0], sa)
	_, qerr := waitRes(t, h, err)
	uerr := unix.Connect(fds[1], sa)
	if !errors.Is(qerr, uerr) && qerr != uerr {
		t.Fatalf("Queue.Connect(%#v) = %v; unix.Connect: %v", sa, qerr, uerr)
	}
	return fds[0], qerr
}

// Connect and SendmsgBuffers take the netlink address of the kernel: the
// connected socket's peer is what unix.Connect's is, and a request sent to
// {AF_NETLINK, pid 0} is answered.
func TestQueueSockaddrNetlink(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	s, err := connectVsUnix(t, q, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE, kernel)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := unix.Getpeername(s)
	if err != nil || !cmp.Equal(peer, unix.Sockaddr(kernel), ignoreRaw) {
		t.Fatalf("peer after Queue.Connect: %#v, %v; want %#v", peer, err, kernel)
	}
	u, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(u)
	req := make([]byte, unix.NLMSG_HDRLEN)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.NLMSG_NOOP, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Seq: 77,
	}
	h, err := q.SendmsgBuffers(u, [][]byte{req}, nil, kernel, 0)
	mustRes(t, h, err, len(req))
	ack := make([]byte, 4096)
	n, from, err := unix.Recvfrom(u, ack, 0)
	if err != nil || n < unix.NLMSG_HDRLEN {
		t.Fatalf("recvfrom: %d, %v", n, err)
	}
	hdr := (*unix.NlMsghdr)(unsafe.Pointer(&ack[0]))
	if hdr.Type != unix.NLMSG_ERROR || hdr.Seq != 77 {
		t.Fatalf("answer %+v from %#v; want NLMSG_ERROR for seq 77", *hdr, from)
	}
}

// An AF_PACKET datagram socket sends to a link-layer address (the loopback
// device) through SendmsgBuffers as through unix.Sendto; connect(2) is
// EOPNOTSUPP on it through both.
func TestQueueSockaddrLinklayer(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		testutil.SkipNoFeature(t, "a loopback device", err)
	}
	const ethPIP = 0x0800
	proto := int(ethPIP>>8 | ethPIP&0xff<<8) // htons(ETH_P_IP)
	to := &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: lo.Index, Halen: 6}
	s, err := connectVsUnix(t, q, unix.AF_PACKET, unix.SOCK_DGRAM, proto, to)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("Queue.Connect on AF_PACKET = %v, want EOPNOTSUPP", err)
	}
	payload := make([]byte, 28) // an IPv4 header the stack will drop as bad
	if err := unix.Sendto(s, payload, 0, to); err != nil {
		t.Fatalf("unix.Sendto: %v", err)
	}
	h, err := q.SendmsgBuffers(s, [][]byte{payload}, nil, to, 0)
	mustRes(t, h, err, len(payload))
	bad := &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: 1 << 30, Halen: 6}
	uerr := unix.Sendto(s, payload, 0, bad)
	h, err = q.SendmsgBuffers(s, [][]byte{payload}, nil, bad, 0)
	if _, qerr := waitRes(t, h, err); qerr != uerr || uerr == nil {
		t.Fatalf("send to ifindex 1<<30: Queue %v, unix.Sendto %v; want the same error", qerr, uerr)
	}
}
