package uring

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Regression tests from an audit of the package's documentation against its
// behaviour (each names the claim it holds the code to).

// netlinkAck sends a NLMSG_NOOP request with NLM_F_ACK on s, which the
// kernel answers with one NLMSG_ERROR message (error 0) from address
// {AF_NETLINK, pid 0}.
func netlinkAck(t *testing.T, s int, seq uint32) {
	t.Helper()
	req := make([]byte, unix.NLMSG_HDRLEN)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.NLMSG_NOOP, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Seq: seq,
	}
	if err := unix.Sendto(s, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("netlink sendto: %v", err)
	}
}

// Msg.Result "returns what unix.RecvmsgBuffers returns": on a netlink socket
// that is the kernel's *unix.SockaddrNetlink and no error. It used to be
// unix.EAFNOSUPPORT for a message that was received in full.
func TestAuditRecvmsgNetlinkSender(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		testutil.SkipNoFeature(t, "a NETLINK_ROUTE socket", err)
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	netlinkAck(t, s, 1)
	h, m, err := q.RecvmsgBuffers(s, [][]byte{buf}, nil, 0)
	hn, herr := waitRes(t, h, err)
	n, oobn, flags, from, err := m.Result()
	if herr != nil || err != nil || n != hn || n < unix.NLMSG_HDRLEN {
		t.Fatalf("Result = %d, %d, %#x, %v, %v (handle %d, %v); want the ack and no error", n, oobn, flags, from, err, hn, herr)
	}
	netlinkAck(t, s, 2)
	un, uoobn, uflags, ufrom, uerr := unix.RecvmsgBuffers(s, [][]byte{buf}, nil, 0)
	if uerr != nil {
		t.Fatalf("unix.RecvmsgBuffers: %v", uerr)
	}
	if un != n || uoobn != oobn || uflags != flags || !reflect.DeepEqual(from, ufrom) {
		t.Errorf("Result = %d, %d, %#x, %#v; unix.RecvmsgBuffers: %d, %d, %#x, %#v", n, oobn, flags, from, un, uoobn, uflags, ufrom)
	}
}

// The sender of an AF_PACKET socket decodes field by field as x/sys/unix
// decodes it; a family neither knows is EAFNOSUPPORT, as there.
func TestAuditSockaddrOfPacket(t *testing.T) {
	var rsa unix.RawSockaddrAny
	ll := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&rsa))
	*ll = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: 0x0008, Ifindex: 7, Hatype: 1,
		Pkttype: unix.PACKET_HOST, Halen: 6, Addr: [8]uint8{1, 2, 3, 4, 5, 6}}
	sa, err := sockaddrOf(&rsa, unix.SizeofSockaddrLinklayer)
	want := &unix.SockaddrLinklayer{Protocol: 0x0008, Ifindex: 7, Hatype: 1, Pkttype: unix.PACKET_HOST, Halen: 6,
		Addr: [8]uint8{1, 2, 3, 4, 5, 6}}
	if err != nil || !reflect.DeepEqual(sa, want) {
		t.Errorf("sockaddrOf(AF_PACKET) = %#v, %v; want %#v", sa, err, want)
	}
	rsa = unix.RawSockaddrAny{}
	rsa.Addr.Family = unix.AF_APPLETALK
	if sa, err := sockaddrOf(&rsa, 16); sa != nil || !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Errorf("sockaddrOf(AF_APPLETALK) = %v, %v; want nil, EAFNOSUPPORT", sa, err)
	}
}
