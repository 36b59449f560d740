package uring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// edgePattern is n bytes that differ from one offset to the next (within
// 251), so that a piece received twice, out of order or lost shows.
func edgePattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// edgeRecvStart starts a recv stream that may end at once (data pending,
// few buffers), skipping the test on a kernel without multishot recv.
func edgeRecvStart(t *testing.T, q *Queue, fd int, bgid uint16) *Multishot {
	t.Helper()
	m, err := q.RecvMultishot(fd, bgid, 0)
	if err != nil {
		var u *UnsupportedOpError
		if errors.As(err, &u) {
			testutil.FeatureMissing(t, 6, 0, "IORING_RECV_MULTISHOT", err)
		}
		t.Fatalf("RecvMultishot: %v", err)
	}
	return m
}

// edgeRecvAll reads m to its end, appending the data of each CQE to out
// and collecting the buffers (for the caller to give back): it returns the
// final CQE's error (nil for a final count, ENOBUFS, ...), and whether the
// stream ended on the peer's shutdown (a final 0).
func edgeRecvAll(t *testing.T, m *Multishot, b *msBufRing, out *[]byte) (bids []uint16, final error, eof bool) {
	t.Helper()
	for {
		n, flags, err := next(t, m)
		if errors.Is(err, ErrNotSupported) {
			var u *UnsupportedFeatureError
			errors.As(err, &u)
			testutil.FeatureMissing(t, u.Major, u.Minor, u.Feature, err)
		}
		bid, ok := CQEBufferID(flags)
		if err == nil && n > 0 {
			if !ok || int(bid) >= len(b.bufs) {
				t.Fatalf("Next = %d, %#x: data without a buffer", n, flags)
			}
			*out = append(*out, b.bufs[bid][:n]...)
			bids = append(bids, bid)
		} else if ok {
			t.Fatalf("Next = %d, %#x, %v: a buffer without data", n, flags, err)
		}
		if flags&CQEFMore == 0 || err != nil {
			if err != nil && flags&CQEFMore != 0 {
				t.Fatalf("Next = %v with F_MORE", err)
			}
			if _, _, err := m.Next(nil); err != ErrMultishotDone {
				t.Fatalf("Next after the final CQE = %v; want ErrMultishotDone", err)
			}
			return bids, err, err == nil && n == 0
		}
	}
}

// TestMultishotEdgeRecvOverrun: the peer sends far more than the 4
// buffers of 16 bytes hold, then shuts down. Each stream fills the 4
// buffers and ends with ENOBUFS; the buffers are given back and a new
// stream started, as the docs say, until the final 0. The bytes received,
// in order, are exactly those sent: nothing lost, nothing twice.
func TestMultishotEdgeRecvOverrun(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	const nbuf, size, bgid = 4, 16, 21
	b := newMSBufRing(t, q, nbuf, size, bgid)
	sfd, cfd := msConnPair(t)
	data := edgePattern(1000)
	if n, err := unix.Write(cfd, data); err != nil || n != len(data) {
		t.Fatalf("write: %d, %v", n, err)
	}
	unix.Shutdown(cfd, unix.SHUT_WR)
	var out []byte
	for round := 0; ; round++ {
		if round > 2*len(data)/size {
			t.Fatalf("%d streams and still no end: %d of %d bytes", round, len(out), len(data))
		}
		m := edgeRecvStart(t, q, sfd, bgid)
		bids, final, eof := edgeRecvAll(t, m, b, &out)
		if len(bids) > nbuf {
			t.Fatalf("round %d: %d buffers used, %d exist", round, len(bids), nbuf)
		}
		for _, bid := range bids {
			b.give(bid)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if d := m.DiscardedBuffers(); len(d) != 0 {
			t.Fatalf("DiscardedBuffers of a stream read to its end: %v", d)
		}
		if eof {
			break
		}
		if final != nil && !errors.Is(final, unix.ENOBUFS) {
			t.Fatalf("round %d: stream ended with %v; want ENOBUFS or the final 0", round, final)
		}
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("received %d bytes, sent %d; contents equal: false", len(out), len(data))
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight: %d", n)
	}
}

// TestMultishotEdgeRecvOverflowFinalData: data pending when a recv stream
// starts on a queue whose CQ holds 2 CQEs: the stream ends on the full CQ
// with a final CQE that carries data. Next returns it, with its buffer and
// the data in order, and the data left in the socket comes through a new
// stream: nothing is lost or duplicated.
func TestMultishotEdgeRecvOverflowFinalData(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 1})
	const nbuf, size, bgid = 8, 16, 22
	b := newMSBufRing(t, q, nbuf, size, bgid)
	sfd, cfd := msConnPair(t)
	data := edgePattern(200)
	if _, err := unix.Write(cfd, data); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(cfd, unix.SHUT_WR)
	time.Sleep(10 * time.Millisecond) // the data reaches the server side
	var out []byte
	sawFinalData := false
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatalf("no end after %d streams: %d of %d bytes", round, len(out), len(data))
		}
		m := edgeRecvStart(t, q, sfd, bgid)
		before := len(out)
		bids, final, eof := edgeRecvAll(t, m, b, &out)
		if final == nil && !eof && len(out) > before {
			sawFinalData = true
		}
		for _, bid := range bids {
			b.give(bid)
		}
		m.Close()
		if eof {
			break
		}
		if final != nil && !errors.Is(final, unix.ENOBUFS) {
			t.Fatalf("round %d: %v", round, final)
		}
	}
	if !sawFinalData {
		t.Logf("no stream ended with data in its final CQE")
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("received %d bytes, sent %d; contents equal: false", len(out), len(data))
	}
}

// TestMultishotEdgeSharedGroup: three recv streams on three connections
// share one buffer group of 8 buffers; the peers write at once and
// readers give each buffer back after copying it. Each stream delivers
// exactly its peer's bytes, and no buffer is held by two CQEs at once.
func TestMultishotEdgeSharedGroup(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	const nbuf, size, bgid, streams = 8, 64, 23, 3
	b := newMSBufRing(t, q, nbuf, size, bgid)
	var giveMu sync.Mutex
	held := map[uint16]int{} // buffer -> stream holding it
	var wg sync.WaitGroup
	for s := 0; s < streams; s++ {
		sfd, cfd := msConnPair(t)
		m := edgeRecvStart(t, q, sfd, bgid)
		data := bytes.Repeat([]byte{byte('a' + s)}, 37)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out []byte
			var want []byte
			for i := 0; i < 20; i++ {
				if _, err := unix.Write(cfd, data); err != nil {
					t.Error(err)
					return
				}
				want = append(want, data...)
				for len(out) < len(want) {
					n, flags, err := next(t, m)
					if err != nil || flags&CQEFMore == 0 {
						t.Errorf("stream %d: Next = %d, %#x, %v", s, n, flags, err)
						return
					}
					bid, ok := CQEBufferID(flags)
					giveMu.Lock()
					if o, dup := held[bid]; !ok || dup {
						giveMu.Unlock()
						t.Errorf("stream %d: buffer %d (ok %v) already held by stream %d", s, bid, ok, o)
						return
					}
					held[bid] = s
					giveMu.Unlock()
					out = append(out, b.bufs[bid][:n]...)
					giveMu.Lock()
					delete(held, bid)
					b.give(bid)
					giveMu.Unlock()
				}
			}
			if !bytes.Equal(out, want) {
				t.Errorf("stream %d received %q", s, out)
			}
			m.Cancel()
			for {
				_, _, err := next(t, m)
				if errors.Is(err, unix.ECANCELED) {
					break
				}
				if err != nil {
					t.Errorf("stream %d: end %v", s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestMultishotEdgeCloseWakesAllNexts: Close of a recv stream while three
// goroutines wait in Next makes every one return ErrClosed at once, and
// lets go of the slot.
func TestMultishotEdgeCloseWakesAllNexts(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	newMSBufRing(t, q, 4, 64, 24)
	sfd, _ := msConnPair(t)
	m, err := q.RecvMultishot(sfd, 24, 0)
	msRecvStarted(t, q, m, err)
	const waiters = 3
	errc := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		go func() { _, _, err := m.Next(nil); errc <- err }()
	}
	waitParkedInNext(t, waiters)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < waiters; i++ {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("waiting Next = %v; want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d waiting Nexts still wait after Close", waiters-i)
		}
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight after Close: %d", n)
	}
}

// TestMultishotEdgeNextKeepsAlive: a goroutine waits in Next on a stream
// that nothing else refers to (the call is the caller's last use of it).
// The stream is in use: collections meanwhile must not finalize (close) it,
// and the connection that arrives next is returned by that Next.
func TestMultishotEdgeNextKeepsAlive(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	type ret struct {
		fd  int32
		err error
	}
	got := make(chan ret, 1)
	func() {
		m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
		msStarted(t, q, m, err)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			fd, _, err := m.Next(ctx)
			got <- ret{fd, err}
		}()
	}()
	waitParkedInNext(t, 1)
	for i := 0; i < 10; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	msDial(t, sa, "alive")
	r := <-got
	if r.err != nil {
		t.Fatalf("Next of a stream in use = %v; want the new connection (the stream was finalized while Next waited)", r.err)
	}
	if s := readMsg(t, int(r.fd)); s != "alive" {
		t.Errorf("read %q", s)
	}
	unix.Close(int(r.fd))
}

// TestMultishotEdgeMaxInFlightOne: on a queue with one slot, a stream
// takes it (another operation or stream gets ErrBusy, leaving nothing
// registered), Close still cancels the stream (the cancel needs no slot),
// and the slot serves a new stream, which Queue.Close ends.
func TestMultishotEdgeMaxInFlightOne(t *testing.T) {
	q := newTestQueue(t, QueueConfig{MaxInFlight: 1})
	lfd, sa := msListener(t)
	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStartedBusy(t, q, m, err)
	if _, err := q.Nop(); !errors.Is(err, completion.ErrBusy) {
		t.Fatalf("Nop beside a stream on a 1-slot queue = %v; want ErrBusy", err)
	}
	r, _ := testPipe(t)
	if m2, err := q.PollMultishot(r, unix.POLLIN); !errors.Is(err, completion.ErrBusy) || m2 != nil {
		t.Fatalf("second stream = %v, %v; want ErrBusy", m2, err)
	}
	q.ms.mu.Lock()
	reg := len(q.ms.set)
	q.ms.mu.Unlock()
	if reg != 1 {
		t.Fatalf("streams registered: %d, want 1", reg)
	}
	msDial(t, sa, "one")
	fd, _, err := next(t, m)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(int(fd))
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close of the stream holding the only slot hangs")
	}
	m2, err := q.PollMultishot(r, unix.POLLIN)
	if err != nil {
		t.Fatalf("stream after Close freed the slot: %v", err)
	}
	closeWithin(t, q, 5*time.Second)
	if _, _, err := m2.Next(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Queue.Close = %v", err)
	}
}

// msStartedBusy is msStarted for a queue whose only slot the stream holds
// (msStarted's NOP would get ErrBusy): a short wait for an early end.
func msStartedBusy(t *testing.T, q *Queue, m *Multishot, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	select {
	case <-m.Done():
		_, _, err := m.Next(nil)
		t.Fatalf("stream ended at once: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
}

// TestMultishotEdgeListenerShutdown: connections accepted before the
// listener is shut down come out of Next, each once, then the kernel's
// error for the shut-down listener ends the stream (no F_MORE), followed by
// ErrMultishotDone; nothing is left in flight.
func TestMultishotEdgeListenerShutdown(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	lfd, sa := msListener(t)
	m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
	msStarted(t, q, m, err)
	for i := 0; i < 2; i++ {
		msDial(t, sa, fmt.Sprint("s", i))
	}
	waitBuffered(t, m, 2)
	if err := unix.Shutdown(lfd, unix.SHUT_RDWR); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		fd, flags, err := next(t, m)
		if err != nil || flags&CQEFMore == 0 {
			t.Fatalf("Next %d = %d, %#x, %v", i, fd, flags, err)
		}
		if s := readMsg(t, int(fd)); s != fmt.Sprint("s", i) {
			t.Errorf("connection %d read %q", i, s)
		}
		unix.Close(int(fd))
	}
	fd, flags, err := next(t, m)
	if err == nil || flags&CQEFMore != 0 {
		t.Fatalf("Next after the listener's shutdown = %d, %#x, %v; want the final error", fd, flags, err)
	}
	if _, _, err := m.Next(nil); err != ErrMultishotDone {
		t.Fatalf("Next after the end = %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight: %d", n)
	}
}

// TestMultishotEdgeCloseRacesQueueClose: Multishot.Close and Queue.Close
// at once, on an accept stream holding descriptors: both return, the
// buffered descriptors are closed exactly once (the descriptor count is
// back), and nothing leaks.
func TestMultishotEdgeCloseRacesQueueClose(t *testing.T) {
	for round := 0; round < 5; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			lfd, sa := msListener(t)
			q := newTestQueue(t, QueueConfig{})
			fd0 := testutil.FDCount()
			m, err := q.AcceptMultishot(lfd, unix.SOCK_CLOEXEC)
			msStarted(t, q, m, err)
			for i := 0; i < 3; i++ {
				msDial(t, sa, "")
			}
			waitBuffered(t, m, 3)
			fd1 := testutil.FDCount()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); m.Close() }()
			go func() { defer wg.Done(); q.Close() }()
			if !testutil.WaitGroupWithin(&wg, 5*time.Second) {
				t.Fatal("Close and Queue.Close together hang")
			}
			// The 3 clients stay open; their accepted ends are closed,
			// and so are the ring and its eventfd.
			if got := testutil.FDCount(); got != fd1-3-2 || fd1 != fd0+6 {
				t.Errorf("descriptors: %d before, %d with the streams, %d after; want %d", fd0, fd1, got, fd1-5)
			}
		})
	}
}

// TestMultishotEdgeRecvCloseAccounting: Close of a recv stream while the
// peer keeps sending: the buffers Next returned and those DiscardedBuffers
// lists are each named once, and given back they are the whole ring
// again (a new stream then fills every buffer before ENOBUFS).
func TestMultishotEdgeRecvCloseAccounting(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	const nbuf, size, bgid = 8, 32, 25
	b := newMSBufRing(t, q, nbuf, size, bgid)
	sfd, cfd := msConnPair(t)
	for round := 0; round < 5; round++ {
		m := edgeRecvStart(t, q, sfd, bgid)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				unix.Write(cfd, []byte("0123456789"))
				time.Sleep(50 * time.Microsecond)
			}
		}()
		var mine []uint16
		for i := 0; i < 3; i++ {
			_, flags, err := next(t, m)
			if err != nil {
				break // ENOBUFS: the buffers ran out
			}
			if bid, ok := CQEBufferID(flags); ok {
				mine = append(mine, bid)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		all := append(mine, m.DiscardedBuffers()...)
		seen := map[uint16]bool{}
		for _, bid := range all {
			if seen[bid] || int(bid) >= nbuf {
				t.Fatalf("round %d: buffer %d named twice (or unknown): %v", round, bid, all)
			}
			seen[bid] = true
			b.give(bid)
		}
		// Drain the socket so the next round starts clean.
		for {
			var tmp [4096]byte
			n, _, err := unix.Recvfrom(sfd, tmp[:], unix.MSG_DONTWAIT)
			if n <= 0 || err != nil {
				break
			}
		}
	}
	// Every buffer is back: a new stream fills all of them.
	if _, err := unix.Write(cfd, make([]byte, nbuf*size+100)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	m := edgeRecvStart(t, q, sfd, bgid)
	var out []byte
	bids, final, _ := edgeRecvAll(t, m, b, &out)
	if !errors.Is(final, unix.ENOBUFS) || len(bids) != nbuf {
		t.Fatalf("new stream: %d buffers then %v; want all %d then ENOBUFS (a buffer was lost)", len(bids), final, nbuf)
	}
	for _, bid := range bids {
		b.give(bid)
	}
	m.Close()
}
