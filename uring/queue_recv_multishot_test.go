package uring

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// msBufRing is a provided-buffer ring of n buffers of size bytes each in
// mmap memory, registered as group bgid on q's ring, every buffer added.
// The ring is freed and the memory unmapped at the end of the test (after
// the queue is closed).
type msBufRing struct {
	br   *BufRing
	bufs [][]byte
	mask int
}

func newMSBufRing(t *testing.T, q *Queue, n uint32, size int, bgid uint16) *msBufRing {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, int(n)*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) }) // after the queue's Close (cleanups run last first)
	br, err := q.Ring().SetupBufRing(n, bgid)
	if err != nil {
		testutil.FeatureMissing(t, 5, 19, "IORING_REGISTER_PBUF_RING", err)
	}
	t.Cleanup(func() { q.Ring().FreeBufRing(br, n, bgid) }) // ErrClosed once the queue is closed
	b := &msBufRing{br: br, mask: BufRingMask(n)}
	for i := 0; i < int(n); i++ {
		b.bufs = append(b.bufs, mem[i*size:(i+1)*size:(i+1)*size])
		br.Add(b.bufs[i], uint16(i), b.mask, i)
	}
	br.Advance(int(n))
	return b
}

// give hands buffer bid back to the kernel.
func (b *msBufRing) give(bid uint16) {
	b.br.Add(b.bufs[bid], bid, b.mask, 0)
	b.br.Advance(1)
}

// msConnPair returns the two ends of a loopback TCP connection (server,
// client), closed at the end of the test.
func msConnPair(t *testing.T) (int, int) {
	t.Helper()
	lfd, sa := msListener(t)
	cfd := msDial(t, sa, "")
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sfd) })
	return sfd, cfd
}

// msRecvStarted is msStarted for RecvMultishot (Linux 6.0).
func msRecvStarted(t *testing.T, q *Queue, m *Multishot, err error) *Multishot {
	t.Helper()
	if err != nil {
		var u *UnsupportedOpError
		if errors.As(err, &u) {
			testutil.FeatureMissing(t, 6, 0, "IORING_RECV_MULTISHOT", err)
		}
		t.Fatalf("RecvMultishot: %v", err)
	}
	return msStarted(t, q, m, nil)
}

// TestQueueRecvMultishot receives 40 messages, sent one at a time, through
// one multishot recv on a ring of 4 provided buffers: each Next returns the
// message's length and a buffer (F_BUFFER, its id from CQEBufferID) that
// holds it; the test gives each buffer back after reading it, so 4 buffers
// serve every message. The peer's shutdown then ends the stream with a
// result of 0.
func TestQueueRecvMultishot(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	b := newMSBufRing(t, q, 4, 256, 3)
	sfd, cfd := msConnPair(t)
	m, err := q.RecvMultishot(sfd, 3, 0)
	msRecvStarted(t, q, m, err)
	used := map[uint16]int{}
	for i := 0; i < 40; i++ {
		msg := fmt.Sprintf("message %d", i)
		if _, err := unix.Write(cfd, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		n, flags, err := next(t, m)
		bid, ok := CQEBufferID(flags)
		if err != nil || flags&CQEFMore == 0 || !ok || int(bid) >= len(b.bufs) {
			t.Fatalf("Next %d = %d, %#x, %v; want a count with F_MORE and F_BUFFER", i, n, flags, err)
		}
		if got := string(b.bufs[bid][:n]); got != msg {
			t.Fatalf("buffer %d holds %q, want %q", bid, got, msg)
		}
		used[bid]++
		b.give(bid)
	}
	if len(used) != 4 {
		t.Errorf("buffers used: %v; want all 4, recycled", used)
	}
	unix.Shutdown(cfd, unix.SHUT_WR)
	n, flags, err := next(t, m)
	if err != nil || n != 0 || flags&CQEFMore != 0 {
		t.Fatalf("Next after the peer's shutdown = %d, %#x, %v; want the final 0", n, flags, err)
	}
	if _, _, err := m.Next(nil); err != ErrMultishotDone {
		t.Fatalf("Next after the end = %v", err)
	}
	if d := m.DiscardedBuffers(); len(d) != 0 {
		t.Errorf("DiscardedBuffers of a stream read to its end: %v", d)
	}
}

// TestRecvMultishotNoBuffers: with 2 provided buffers that nobody gives
// back, the third message ends the stream with -ENOBUFS (no F_MORE) after
// the two buffered ones; once buffers are back, a new stream receives it.
func TestRecvMultishotNoBuffers(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	b := newMSBufRing(t, q, 2, 256, 4)
	sfd, cfd := msConnPair(t)
	m, err := q.RecvMultishot(sfd, 4, 0)
	msRecvStarted(t, q, m, err)
	for i := 0; i < 3; i++ {
		unix.Write(cfd, []byte(fmt.Sprint("m", i)))
		if i < 2 {
			waitBuffered(t, m, i+1)
		}
	}
	var bids []uint16
	for i := 0; i < 2; i++ {
		n, flags, err := next(t, m)
		bid, ok := CQEBufferID(flags)
		if err != nil || !ok || string(b.bufs[bid][:n]) != fmt.Sprint("m", i) {
			t.Fatalf("Next %d = %d, %#x, %v", i, n, flags, err)
		}
		bids = append(bids, bid)
	}
	msEnd(t, m, unix.ENOBUFS)
	for _, bid := range bids {
		b.give(bid)
	}
	m2, err := q.RecvMultishot(sfd, 4, 0)
	msRecvStarted(t, q, m2, err)
	n, flags, err := next(t, m2)
	bid, ok := CQEBufferID(flags)
	if err != nil || !ok || string(b.bufs[bid][:n]) != "m2" {
		t.Fatalf("new stream: Next = %d, %#x, %v; want m2", n, flags, err)
	}
	b.give(bid)
	if err := m2.Cancel(); err != nil {
		t.Fatal(err)
	}
	msEnd(t, m2, unix.ECANCELED)
}

// TestRecvMultishotCloseBuffers: Close of a recv stream with buffered CQEs
// hands their buffers back through DiscardedBuffers (exactly the ones Next
// did not return); given back to the ring, they serve a new stream that
// needs every buffer (it would end with -ENOBUFS if one were lost). Cancel
// keeps the buffered CQEs for Next, and Queue.Close discards them as Close
// does.
func TestRecvMultishotCloseBuffers(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	const nbuf = 4
	b := newMSBufRing(t, q, nbuf, 256, 5)
	sfd, cfd := msConnPair(t)

	// Close with 3 CQEs buffered, one returned first.
	m, err := q.RecvMultishot(sfd, 5, 0)
	msRecvStarted(t, q, m, err)
	for i := 0; i < 3; i++ {
		unix.Write(cfd, []byte(fmt.Sprint("c", i)))
		waitBuffered(t, m, i+1)
	}
	_, flags, err := next(t, m)
	kept, _ := CQEBufferID(flags)
	if err != nil || flags&CQEFBuffer == 0 {
		t.Fatalf("Next = %#x, %v", flags, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	d := m.DiscardedBuffers()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) != 2 || d[0] == kept || d[1] == kept || d[0] == d[1] {
		t.Fatalf("DiscardedBuffers after Close = %v; want the 2 buffers other than %d", d, kept)
	}
	if again := m.DiscardedBuffers(); len(again) != 0 {
		t.Errorf("DiscardedBuffers again = %v; want none (forgotten)", again)
	}
	for _, bid := range append(d, kept) {
		b.give(bid)
	}

	// Every buffer is back: a new stream takes nbuf messages without any
	// given back. Cancel leaves them to Next.
	m2, err := q.RecvMultishot(sfd, 5, 0)
	msRecvStarted(t, q, m2, err)
	for i := 0; i < nbuf; i++ {
		unix.Write(cfd, []byte(fmt.Sprint("n", i)))
		waitBuffered(t, m2, i+1)
	}
	if err := m2.Cancel(); err != nil {
		t.Fatal(err)
	}
	<-m2.Done()
	seen := map[uint16]bool{}
	for i := 0; i < nbuf; i++ {
		n, flags, err := next(t, m2)
		bid, ok := CQEBufferID(flags)
		if err != nil || !ok || seen[bid] || string(b.bufs[bid][:n]) != fmt.Sprint("n", i) {
			t.Fatalf("Next %d after Cancel = %d, %#x, %v (buffers seen %v)", i, n, flags, err, seen)
		}
		seen[bid] = true
		b.give(bid)
	}
	msEnd(t, m2, unix.ECANCELED)

	// Queue.Close discards like Close.
	m3, err := q.RecvMultishot(sfd, 5, 0)
	msRecvStarted(t, q, m3, err)
	for i := 0; i < 2; i++ {
		unix.Write(cfd, []byte(fmt.Sprint("q", i)))
		waitBuffered(t, m3, i+1)
	}
	closeWithin(t, q, 5*time.Second)
	if d := m3.DiscardedBuffers(); len(d) != 2 || d[0] == d[1] {
		t.Fatalf("DiscardedBuffers after Queue.Close = %v; want 2 buffers", d)
	}
}

// TestRecvMultishotCQOverflow: data pending in 16-byte pieces when a recv
// stream starts on a queue whose CQ holds 2 CQEs: the kernel fills the CQ
// and ends the stream with a final CQE that still carries data and a
// buffer. Close discards it with the others, and DiscardedBuffers names
// all three buffers.
func TestRecvMultishotCQOverflow(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 1})
	b := newMSBufRing(t, q, 8, 16, 6)
	sfd, cfd := msConnPair(t)
	if _, err := unix.Write(cfd, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the data reaches the server side
	m, err := q.RecvMultishot(sfd, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end on a full CQ")
	}
	if n, err := m.h.Result(); err != nil || m.h.Flags()&CQEFBuffer == 0 {
		if errors.Is(err, unix.EINVAL) {
			testutil.FeatureMissing(t, 6, 0, "IORING_RECV_MULTISHOT", err)
		}
		t.Fatalf("final CQE = %d, %#x, %v; want data in a buffer", n, m.h.Flags(), err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	d := m.DiscardedBuffers()
	if len(d) != 3 {
		t.Fatalf("DiscardedBuffers = %v; want 3 (2 CQEs with F_MORE and the final one)", d)
	}
	_ = b
}
