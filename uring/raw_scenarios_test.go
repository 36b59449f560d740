package uring

// Raw-layer scenarios: the Ring, SQE and CQE API driven the way a C program
// ported line by line drives liburing (one goroutine owns the ring, SQEs are
// filled in place, CQEs are reaped in batches and consumed with CQESeen /
// CQAdvance), on real sockets, pipes and files. Every result is checked
// exactly; time bounds are hang guards only.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawAppSQE returns a vacant SQE, submitting what is queued when the SQ is
// full, as a C loop does around io_uring_get_sqe.
func rawAppSQE(t testing.TB, r *Ring) *SQE {
	t.Helper()
	for i := 0; i < 2; i++ {
		if sqe := r.GetSQE(); sqe != nil {
			return sqe
		}
		if _, err := r.Submit(); err != nil {
			t.Fatalf("Submit on a full SQ: %v", err)
		}
	}
	t.Fatalf("SQ still full after a submit (ready %d, space %d)", r.SQReady(), r.SQSpaceLeft())
	return nil
}

// rawAppRingFDs counts the io_uring instances open in the process.
func rawAppRingFDs() int {
	return strings.Count(testutil.ListFDs(), "anon_inode:[io_uring]")
}

// rawAppPeers tracks the client goroutines of a scenario and their
// connections: stop (deferred) closes the connections and waits for the
// goroutines, so that a test that fails in its server loop returns with no
// client left to report on it.
type rawAppPeers struct {
	t       testing.TB
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	stopped bool
}

// add registers c; false (and c closed) once stop has begun.
func (p *rawAppPeers) add(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

// errorf reports a client's failure unless the test is being torn down.
func (p *rawAppPeers) errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.t.Errorf(format, args...)
	}
}

// stopping reports whether stop has begun (for peers that cannot be
// unblocked by closing a connection: they poll it).
func (p *rawAppPeers) stopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

func (p *rawAppPeers) stop() {
	p.mu.Lock()
	p.stopped = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// rawAppReap hands every ready CQE (a copy) to handle and consumes it, in
// one of the ways a C loop does, chosen at random: a PeekBatchCQE into a
// small slice and CQAdvance, PeekCQE and CQESeen one by one, or ForEachCQE
// and CQAdvance. It returns how many it handled.
func rawAppReap(t testing.TB, r *Ring, rnd *rand.Rand, handle func(CQE)) int {
	t.Helper()
	total := 0
	switch rnd.IntN(3) {
	case 0:
		batch := make([]*CQE, 1+rnd.IntN(4))
		for {
			n := r.PeekBatchCQE(batch)
			if n == 0 {
				return total
			}
			cs := make([]CQE, n)
			for i := range cs {
				cs[i] = *batch[i]
			}
			r.CQAdvance(uint32(n))
			for _, c := range cs {
				handle(c)
			}
			total += n
		}
	case 1:
		for {
			cqe, err := r.PeekCQE()
			if errors.Is(err, unix.EAGAIN) {
				return total
			}
			if err != nil {
				t.Fatalf("PeekCQE: %v", err)
			}
			c := *cqe
			r.CQESeen(cqe)
			handle(c)
			total++
		}
	default:
		for {
			var cs []CQE
			n := r.ForEachCQE(func(c *CQE) bool {
				cs = append(cs, *c)
				return len(cs) < 3
			})
			if n == 0 {
				return total
			}
			r.CQAdvance(n)
			for _, c := range cs {
				handle(c)
			}
			total += int(n)
		}
	}
}

// ---------------------------------------------------------------------------
// Scenario 1: a TCP echo server, written as a C event loop on one goroutine.

const (
	rawEchoAccept = 1 + iota
	rawEchoRecv
	rawEchoSend
	rawEchoClose
)

func rawEchoUD(kind, conn int) uint64 { return uint64(kind)<<32 | uint64(uint32(conn)) }

const (
	rawEchoBgid    = 3
	rawEchoBufs    = 64 // provided buffers: fewer than the clients, so ENOBUFS happens
	rawEchoBufSize = 4096
	rawEchoGoBuf   = 16 << 10
)

type rawEchoChunk struct{ bid, off, n int }

type rawEchoConn struct {
	fd        int
	buf       []byte // one-shot recv buffer (Go memory, pinned)
	queue     []rawEchoChunk
	sending   bool
	recvArmed bool
	eof       bool
	closing   bool
	closed    bool
	rx, tx    int
}

type rawEchoServer struct {
	t      *testing.T
	r      *Ring
	ln     int
	multi  bool
	direct bool // accepted into fixed-file slots (multishot accept direct)
	pin    runtime.Pinner
	conns  []*rawEchoConn
	br     *BufRing
	brMem  []byte
	noBufs []int // conns whose multishot recv ended with ENOBUFS
	accept bool  // an accept is armed
	closed int
	enobuf int // ENOBUFS endings seen
	rearms int // multishot recvs re-armed
}

func (s *rawEchoServer) armAccept() {
	sqe := rawAppSQE(s.t, s.r)
	if s.direct {
		sqe.PrepMultishotAcceptDirect(s.ln, nil, nil, 0) // SOCK_CLOEXEC is EINVAL for a slot
	} else if s.multi {
		sqe.PrepMultishotAccept(s.ln, nil, nil, unix.SOCK_CLOEXEC)
	} else {
		sqe.PrepAccept(s.ln, nil, nil, unix.SOCK_CLOEXEC)
	}
	sqe.SetUserData(rawEchoUD(rawEchoAccept, 0))
	s.accept = true
}

func (s *rawEchoServer) armRecv(i int) {
	c := s.conns[i]
	sqe := rawAppSQE(s.t, s.r)
	if s.multi {
		sqe.PrepRecvMultishot(c.fd, nil, 0)
		sqe.Flags |= SQEBufferSelect
		sqe.BufIndex = rawEchoBgid
	} else {
		sqe.PrepRecv(c.fd, c.buf, 0)
	}
	if s.direct {
		sqe.Flags |= SQEFixedFile
	}
	sqe.SetUserData(rawEchoUD(rawEchoRecv, i))
	c.recvArmed = true
}

func (s *rawEchoServer) chunkBytes(c *rawEchoConn, ch rawEchoChunk) []byte {
	if ch.bid < 0 {
		return c.buf[ch.off : ch.off+ch.n]
	}
	base := ch.bid * rawEchoBufSize
	return s.brMem[base+ch.off : base+ch.off+ch.n]
}

// pump starts the next send of conn i, or closes it once the peer ended
// and everything was echoed.
func (s *rawEchoServer) pump(i int) {
	c := s.conns[i]
	if c.sending || c.closing {
		return
	}
	if len(c.queue) > 0 {
		sqe := rawAppSQE(s.t, s.r)
		sqe.PrepSend(c.fd, s.chunkBytes(c, c.queue[0]), unix.MSG_NOSIGNAL)
		if s.direct {
			sqe.Flags |= SQEFixedFile
		}
		sqe.SetUserData(rawEchoUD(rawEchoSend, i))
		c.sending = true
		return
	}
	if c.eof && !c.recvArmed {
		sqe := rawAppSQE(s.t, s.r)
		if s.direct {
			sqe.PrepCloseDirect(uint32(c.fd))
		} else {
			sqe.PrepClose(c.fd)
		}
		sqe.SetUserData(rawEchoUD(rawEchoClose, i))
		c.closing = true
	}
}

// giveBack returns provided buffer bid to the ring and re-arms one
// connection whose multishot recv ran out of buffers.
func (s *rawEchoServer) giveBack(bid int) {
	s.br.Add(s.brMem[bid*rawEchoBufSize:(bid+1)*rawEchoBufSize], uint16(bid), BufRingMask(rawEchoBufs), 0)
	s.br.Advance(1)
	if len(s.noBufs) > 0 {
		i := s.noBufs[0]
		s.noBufs = s.noBufs[1:]
		s.rearms++
		s.armRecv(i)
	}
}

func (s *rawEchoServer) handle(cqe CQE) {
	t := s.t
	kind, i := int(cqe.UserData>>32), int(uint32(cqe.UserData))
	switch kind {
	case rawEchoAccept:
		if cqe.Res < 0 {
			t.Fatalf("accept: %v", unix.Errno(-cqe.Res))
		}
		c := &rawEchoConn{fd: int(cqe.Res)}
		if !s.multi {
			c.buf = make([]byte, rawEchoGoBuf)
			s.pin.Pin(&c.buf[0])
		}
		s.conns = append(s.conns, c)
		s.armRecv(len(s.conns) - 1)
		if !s.multi || cqe.Flags&CQEFMore == 0 {
			s.accept = false
			s.armAccept()
		}
	case rawEchoRecv:
		c := s.conns[i]
		more := s.multi && cqe.Flags&CQEFMore != 0
		if !more {
			c.recvArmed = false
		}
		switch {
		case cqe.Res > 0:
			ch := rawEchoChunk{bid: -1, n: int(cqe.Res)}
			if s.multi {
				bid, ok := cqe.BufferID()
				if !ok || int(bid) >= rawEchoBufs || int(cqe.Res) > rawEchoBufSize {
					t.Fatalf("conn %d: multishot recv %+v without a valid buffer", i, cqe)
				}
				ch.bid = int(bid)
				if !more { // the kernel ended the request (full CQ): arm it again
					s.rearms++
					s.armRecv(i)
				}
			} else if cqe.Flags&CQEFBuffer != 0 {
				t.Fatalf("conn %d: one-shot recv into its own buffer has IORING_CQE_F_BUFFER: %+v", i, cqe)
			}
			c.rx += int(cqe.Res)
			c.queue = append(c.queue, ch)
		case cqe.Res == 0:
			if more {
				t.Fatalf("conn %d: end of stream with IORING_CQE_F_MORE: %+v", i, cqe)
			}
			c.eof = true
		case cqe.Res == -int32(unix.ENOBUFS) && s.multi && !more:
			s.enobuf++
			s.noBufs = append(s.noBufs, i)
		default:
			t.Fatalf("conn %d: recv %+v: %v", i, cqe, unix.Errno(-cqe.Res))
		}
		s.pump(i)
	case rawEchoSend:
		c := s.conns[i]
		if cqe.Res <= 0 {
			t.Fatalf("conn %d: send %+v: %v", i, cqe, unix.Errno(-cqe.Res))
		}
		c.sending = false
		ch := &c.queue[0]
		if int(cqe.Res) > ch.n {
			t.Fatalf("conn %d: send of %d bytes reports %d", i, ch.n, cqe.Res)
		}
		c.tx += int(cqe.Res)
		ch.off += int(cqe.Res)
		ch.n -= int(cqe.Res)
		if ch.n == 0 {
			done := c.queue[0]
			c.queue = c.queue[1:]
			if s.multi {
				s.giveBack(done.bid)
			} else if !c.eof {
				s.armRecv(i) // one buffer per connection: receive again once it is echoed
			}
		}
		s.pump(i)
	case rawEchoClose:
		c := s.conns[i]
		if cqe.Res != 0 || c.closed {
			t.Fatalf("conn %d: close %+v (closed before: %v)", i, cqe, c.closed)
		}
		c.closed = true
		s.closed++
	default:
		t.Fatalf("CQE with user data %#x that no request had", cqe.UserData)
	}
}

// loop submits and reaps until done reports true, failing after AppHang.
func (s *rawEchoServer) loop(rnd *rand.Rand, what string, done func() bool) {
	t := s.t
	deadline := time.Now().Add(testutil.AppHang)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no end after %v: %d conns, %d closed, accept armed %v, %d waiting for buffers",
				what, testutil.AppHang, len(s.conns), s.closed, s.accept, len(s.noBufs))
		}
		switch rnd.IntN(3) {
		case 0:
			if _, _, err := s.r.SubmitAndWaitFor(1, 50*time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
				t.Fatalf("SubmitAndWaitTimeout: %v", err)
			}
		case 1:
			if _, err := s.r.Submit(); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if _, err := s.r.WaitCQETimeout(50 * time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
				t.Fatalf("WaitCQETimeout: %v", err)
			}
		default:
			if _, err := s.r.Submit(); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if _, err := s.r.WaitCQEsFor(1, 50*time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
				t.Fatalf("WaitCQEs: %v", err)
			}
		}
		rawAppReap(t, s.r, rnd, s.handle)
	}
}

// rawEchoClient sends total bytes of its own content in writes of random
// sizes, shuts its side down and checks that exactly those bytes come back.
func rawEchoClient(peers *rawAppPeers, addr string, id int, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	total := (1 + r.IntN(8)) * 8 << 10 // 8..64 KiB
	data := testutil.AppContent(total, uint64(id)<<40)
	conn, err := net.DialTimeout("tcp", addr, testutil.AppHang)
	if err != nil {
		return 0, err
	}
	if !peers.add(conn) {
		return 0, nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testutil.AppHang))
	sizes := make([]int, 0, 64)
	for left := total; left > 0; {
		n := min(left, 1+r.IntN(9000))
		sizes = append(sizes, n)
		left -= n
	}
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range sizes {
			if _, err := conn.Write(data[off : off+n]); err != nil {
				werr <- err
				return
			}
			off += n
		}
		werr <- conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if e := <-werr; e != nil {
		return 0, fmt.Errorf("client %d: write: %w", id, e)
	}
	if err != nil {
		return 0, fmt.Errorf("client %d: read: %w", id, err)
	}
	if !bytes.Equal(got, data) {
		return 0, fmt.Errorf("client %d: echo of %d bytes: %s", id, total, testutil.AppFirstDiff(got, data))
	}
	return total, nil
}

// TestRawAppEchoEventLoop serves 100 loopback TCP clients from one goroutine
// running a C-style loop on a Ring: accept, recv, send (short sends
// resubmitted), close. Three ways: one-shot, with a pinned Go buffer per
// connection; a multishot accept and multishot recvs on provided buffers
// (64 of them for 100 clients, so recvs end with ENOBUFS and are re-armed
// when buffers come back); the same with the connections accepted into
// fixed-file slots the kernel picks (io_uring_prep_multishot_accept_direct
// on a sparse table, IOSQE_FIXED_FILE recvs and sends, close_direct).
// Every client checks its echo byte for byte. Then eight more connections
// are accepted and echoed once, and the ring is closed
// (io_uring_queue_exit) with their recvs and the accept in flight: no
// crash, the ring's calls give ErrClosed, the accepted descriptors stay the
// program's to close (the fixed-file ones are closed with the ring: their
// clients see EOF), and no descriptor is left.
func TestRawAppEchoEventLoop(t *testing.T) {
	for _, mode := range []string{"oneshot", "multishot", "direct"} {
		t.Run(mode, func(t *testing.T) { rawAppEcho(t, mode != "oneshot", mode == "direct") })
	}
}

func rawAppEcho(t *testing.T, multi, direct bool) {
	const clients, extra = 100, 8
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 1))
	fds0, rings0 := testutil.FDCount(), rawAppRingFDs()

	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	lnOpen := true
	defer func() {
		if lnOpen {
			unix.Close(ln)
		}
	}()
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 512); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(ln)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)

	r, err := New(64, &Params{Flags: SetupCQSize, CQEntries: 256})
	if errors.Is(err, ErrUnavailable) {
		testutil.SkipNoFeature(t, "io_uring", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &rawEchoServer{t: t, r: r, ln: ln, multi: multi, direct: direct}
	ringOpen := true
	defer func() {
		if ringOpen {
			r.Close()
		}
		s.pin.Unpin() // after the ring is gone: recvs into these buffers may be in flight until then
	}()
	// A C server checks the opcodes it needs (io_uring_opcode_supported).
	probe, err := r.Probe()
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	for _, op := range []uint8{OpAccept, OpRecv, OpSend, OpClose, OpAsyncCancel} {
		if !probe.OpSupported(op) {
			testutil.FeatureMissing(t, 5, 6, OpName(op), unix.EINVAL)
		}
	}
	if probe.LastOp < 255 && probe.OpSupported(probe.LastOp+1) {
		t.Fatalf("probe says opcodes past last_op %d are supported", probe.LastOp)
	}
	defer func() { // the accepted descriptors are the program's, whatever happened
		for _, c := range s.conns {
			if !c.closed && !c.closing && !direct {
				unix.Close(c.fd)
			}
		}
	}()
	if direct {
		if err := r.RegisterFilesSparse(128); err != nil {
			t.Fatal(err)
		}
	}
	if multi {
		br, err := r.SetupBufRing(rawEchoBufs, rawEchoBgid)
		if err != nil {
			t.Fatal(err)
		}
		s.br = br
		defer r.FreeBufRing(br, rawEchoBufs, rawEchoBgid) // EINVAL once freed after Close
		s.brMem = rawMmap(t, rawEchoBufs*rawEchoBufSize)
		for bid := 0; bid < rawEchoBufs; bid++ {
			br.Add(s.brMem[bid*rawEchoBufSize:(bid+1)*rawEchoBufSize], uint16(bid), BufRingMask(rawEchoBufs), bid)
		}
		br.Advance(rawEchoBufs)
	}
	s.armAccept()

	peers := &rawAppPeers{t: t}
	defer peers.stop()
	var sent atomic.Int64
	for id := 0; id < clients; id++ {
		peers.wg.Add(1)
		go func() {
			defer peers.wg.Done()
			n, err := rawEchoClient(peers, addr, id, seed)
			if err != nil {
				peers.errorf("%v", err)
			}
			sent.Add(int64(n))
		}()
	}
	s.loop(rnd, "echo", func() bool {
		if t.Failed() {
			t.FailNow()
		}
		return s.closed == clients
	})
	testutil.AppWaitGroup(t, &peers.wg, "echo clients")
	if t.Failed() {
		return
	}
	var rx, tx int
	for i, c := range s.conns {
		if c.rx != c.tx || len(c.queue) != 0 || c.recvArmed || c.sending {
			t.Fatalf("conn %d: received %d, sent %d, %d chunks queued, recv armed %v, sending %v",
				i, c.rx, c.tx, len(c.queue), c.recvArmed, c.sending)
		}
		rx += c.rx
		tx += c.tx
	}
	if int64(rx) != sent.Load() || len(s.conns) != clients {
		t.Fatalf("server received %d bytes over %d connections, the clients sent %d over %d", rx, len(s.conns), sent.Load(), clients)
	}
	t.Logf("%d connections, %d bytes echoed; %d recvs ended with ENOBUFS, %d re-armed", clients, tx, s.enobuf, s.rearms)

	// Eight connections that stay open: each echoes one ping, then the ring
	// goes away under their recvs.
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; i < extra; i++ {
		c, err := net.DialTimeout("tcp", addr, testutil.AppHang)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		c.SetDeadline(time.Now().Add(testutil.AppHang))
		if _, err := c.Write([]byte(fmt.Sprintf("ping%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.loop(rnd, "pings", func() bool {
		if len(s.conns) < clients+extra {
			return false
		}
		for _, c := range s.conns[clients:] {
			if c.tx != 8 || c.sending || !c.recvArmed {
				return false
			}
		}
		return true
	})
	for _, c := range idle {
		got := make([]byte, 8)
		if _, err := io.ReadFull(c, got); err != nil || !strings.HasPrefix(string(got), "ping") {
			t.Fatalf("ping echo %q: %v", got, err)
		}
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close with %d recvs and an accept in flight: %v", extra, err)
	}
	ringOpen = false
	if r.GetSQE() != nil || r.Fd() != -1 {
		t.Fatal("a closed ring hands out SQEs or a descriptor")
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
	if _, err := r.WaitCQETimeout(time.Millisecond); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitCQETimeout after Close: %v, want ErrClosed", err)
	}
	if n := r.PeekBatchCQE(make([]*CQE, 4)); n != 0 {
		t.Fatalf("PeekBatchCQE after Close: %d", n)
	}
	r.CQAdvance(1) // no crash
	if multi {
		if err := r.FreeBufRing(s.br, rawEchoBufs, rawEchoBgid); !errors.Is(err, ErrClosed) {
			t.Fatalf("FreeBufRing after Close: %v, want ErrClosed", err)
		}
	}
	// The ring did not close the descriptors it had in flight: they are still
	// open, and the program closes them now (an EBADF would mean the ring had).
	// Fixed-file slots go with the ring.
	for i, c := range s.conns[clients:] {
		if !direct {
			if err := unix.Close(c.fd); err != nil {
				t.Errorf("closing accepted descriptor %d (conn %d) after the ring closed: %v", c.fd, clients+i, err)
			}
		}
		c.closed = true
	}
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(testutil.AppHang))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("idle client after the server closed: %d, %v; want EOF", n, err)
		}
		c.Close()
	}
	idle = nil
	unix.Close(ln)
	lnOpen = false
	if !testutil.Settle(5*time.Second, func() bool { return testutil.FDCount() == fds0 && rawAppRingFDs() == rings0 }) {
		t.Fatalf("descriptors: %d open, %d before (io_uring %d, before %d)\n%s",
			testutil.FDCount(), fds0, rawAppRingFDs(), rings0, testutil.ListFDs())
	}
}

// ---------------------------------------------------------------------------
// Scenario 1b: a UDP echo server on one multishot recvmsg.

// TestRawAppUDPRecvmsgMultishot serves 16 UDP clients from one multishot
// recvmsg on provided buffers: each datagram is taken apart with the
// RecvmsgOut helpers (the sender's address from the name area, an
// IP_PKTINFO control message, the payload) and sent back with SENDMSG to
// the address the name area gave. Datagrams larger than a buffer's payload
// area arrive truncated (MSG_TRUNC, Payloadlen the full length) and only
// what fit is echoed. Clients check every echo byte for byte; the server
// checks that the name area names the client the datagram says it is from.
func TestRawAppUDPRecvmsgMultishot(t *testing.T) {
	const (
		clients  = 16
		rounds   = 40
		bufs     = 64
		bufSize  = 1024
		bgid     = 9
		recvUD   = 1 << 40
		maxDgram = 1400
	)
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 2))
	r := rawRing(t, 32, &Params{Flags: SetupCQSize, CQEntries: 128})
	srv, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(srv)
	if err := unix.Bind(srv, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(srv, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(srv)
	srvAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}

	br, err := r.SetupBufRing(bufs, bgid)
	if err != nil {
		t.Fatal(err)
	}
	defer r.FreeBufRing(br, bufs, bgid)
	mem := rawMmap(t, bufs*bufSize)
	for bid := 0; bid < bufs; bid++ {
		br.Add(mem[bid*bufSize:(bid+1)*bufSize], uint16(bid), BufRingMask(bufs), bid)
	}
	br.Advance(bufs)

	var pin runtime.Pinner
	defer pin.Unpin()
	ctrl := unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	msgh := &unix.Msghdr{Namelen: unix.SizeofSockaddrInet4, Controllen: uint64(ctrl)}
	pin.Pin(msgh)
	room := bufSize - int(unsafe.Sizeof(RecvmsgOut{})) - unix.SizeofSockaddrInet4 - ctrl // payload area
	arm := func() {
		sqe := rawAppSQE(t, r)
		// MSG_TRUNC: Payloadlen is the datagram's whole length, also when
		// it did not fit (without it, the length that was copied).
		sqe.PrepRecvmsgMultishot(srv, msgh, unix.MSG_TRUNC)
		sqe.Flags |= SQEBufferSelect
		sqe.BufIndex = bgid
		sqe.SetUserData(recvUD)
	}
	arm()

	// One reply in flight per buffer: its msghdr, iovec and address live in
	// Go memory pinned until the SENDMSG completes.
	type reply struct {
		msg  unix.Msghdr
		iov  unix.Iovec
		name unix.RawSockaddrInet4
		bid  int
		n    int
	}
	replies := make([]reply, bufs)
	pin.Pin(&replies[0])
	sendmsgs, truncated, armed := 0, 0, 1
	handle := func(c CQE) {
		if c.UserData != recvUD {
			i := int(c.UserData)
			rp := &replies[i]
			if c.Res != int32(rp.n) {
				t.Fatalf("sendmsg of %d bytes: %+v", rp.n, c)
			}
			br.Add(mem[rp.bid*bufSize:(rp.bid+1)*bufSize], uint16(rp.bid), BufRingMask(bufs), 0)
			br.Advance(1)
			sendmsgs++
			return
		}
		if c.Flags&CQEFMore == 0 {
			if c.Res < 0 && c.Res != -int32(unix.ENOBUFS) {
				t.Fatalf("multishot recvmsg ended: %v", unix.Errno(-c.Res))
			}
			arm()
			armed++
			if c.Res < 0 {
				return
			}
		}
		if c.Res < 0 {
			t.Fatalf("multishot recvmsg: %+v: %v", c, unix.Errno(-c.Res))
		}
		bid, ok := c.BufferID()
		if !ok || int(bid) >= bufs {
			t.Fatalf("recvmsg CQE without a provided buffer: %+v", c)
		}
		buf := mem[int(bid)*bufSize : int(bid)*bufSize+int(c.Res)]
		o := RecvmsgValidate(buf, msgh)
		if o == nil {
			t.Fatalf("RecvmsgValidate refused a %d-byte buffer", len(buf))
		}
		payload := o.PayloadBytes(int(c.Res), msgh)
		if len(payload) < 8 || int(o.Payloadlen) < len(payload) {
			t.Fatalf("payload %d bytes, Payloadlen %d", len(payload), o.Payloadlen)
		}
		if trunc := o.Flags&unix.MSG_TRUNC != 0; trunc != (int(o.Payloadlen) > room) || len(payload) != min(int(o.Payloadlen), room) {
			t.Fatalf("datagram of %d bytes, %d fit, MSG_TRUNC %v: payload %d bytes", o.Payloadlen, room, trunc, len(payload))
		} else if trunc {
			truncated++
		}
		name := o.NameBytes(msgh)
		if o.Namelen != unix.SizeofSockaddrInet4 || len(name) != unix.SizeofSockaddrInet4 {
			t.Fatalf("name area %d bytes (Namelen %d)", len(name), o.Namelen)
		}
		var from unix.RawSockaddrInet4
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&from)), unix.SizeofSockaddrInet4), name)
		port := int(binary.BigEndian.Uint16(unsafe.Slice((*byte)(unsafe.Pointer(&from.Port)), 2)))
		if from.Family != unix.AF_INET || from.Addr != [4]byte{127, 0, 0, 1} || port != int(binary.LittleEndian.Uint16(payload[4:])) {
			t.Fatalf("name area %+v (port %d) for a datagram from port %d", from, port, binary.LittleEndian.Uint16(payload[4:]))
		}
		cm := o.CmsgFirstHdr(msgh)
		if cm == nil || cm.Level != unix.IPPROTO_IP || cm.Type != unix.IP_PKTINFO || o.CmsgNextHdr(msgh, cm) != nil {
			t.Fatalf("control data: %+v (controllen %d)", cm, o.Controllen)
		}
		rp := &replies[bid]
		rp.name, rp.bid, rp.n = from, int(bid), len(payload)
		rp.iov = unix.Iovec{Base: &payload[0]}
		rp.iov.SetLen(len(payload))
		rp.msg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&rp.name)), Namelen: unix.SizeofSockaddrInet4, Iov: &rp.iov, Iovlen: 1}
		sqe := rawAppSQE(t, r)
		sqe.PrepSendmsg(srv, &rp.msg, 0)
		sqe.SetUserData(uint64(bid))
	}

	peers := &rawAppPeers{t: t}
	defer peers.stop()
	var echoed atomic.Int64
	for id := 0; id < clients; id++ {
		peers.wg.Add(1)
		go func() {
			defer peers.wg.Done()
			cr := rand.New(rand.NewPCG(seed, uint64(100+id)))
			conn, err := net.DialUDP("udp4", nil, srvAddr)
			if err != nil {
				peers.errorf("%v", err)
				return
			}
			if !peers.add(conn) {
				return
			}
			defer conn.Close()
			port := conn.LocalAddr().(*net.UDPAddr).Port
			got := make([]byte, 2048)
			for seq := 0; seq < rounds; seq++ {
				n := 8 + cr.IntN(room-8)
				if seq%7 == 3 {
					n = room + 1 + cr.IntN(maxDgram-room) // truncated by the server's buffer
				}
				dg := testutil.AppContent((n+7)&^7, uint64(id)<<32|uint64(seq))[:n]
				binary.LittleEndian.PutUint32(dg, uint32(id))
				binary.LittleEndian.PutUint16(dg[4:], uint16(port))
				if _, err := conn.Write(dg); err != nil {
					peers.errorf("client %d: write: %v", id, err)
					return
				}
				conn.SetReadDeadline(time.Now().Add(testutil.AppHang))
				k, err := conn.Read(got)
				if err != nil {
					peers.errorf("client %d seq %d: read: %v", id, seq, err)
					return
				}
				if want := dg[:min(n, room)]; !bytes.Equal(got[:k], want) {
					peers.errorf("client %d seq %d: echo of %d bytes: %s", id, seq, n, testutil.AppFirstDiff(got[:k], want))
					return
				}
				echoed.Add(1)
			}
		}()
	}
	clientsDone := make(chan struct{})
	go func() { peers.wg.Wait(); close(clientsDone) }()
	deadline := time.Now().Add(testutil.AppHang)
	for running := true; running || sendmsgs < clients*rounds; {
		select {
		case <-clientsDone:
			running = false
		default:
		}
		if t.Failed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP echo: %d replies after %v", sendmsgs, testutil.AppHang)
		}
		if _, _, err := r.SubmitAndWaitFor(1, 20*time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
			t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
		rawAppReap(t, r, rnd, handle)
	}
	testutil.AppWaitGroup(t, &peers.wg, "UDP clients")
	if t.Failed() {
		return
	}
	if sendmsgs != clients*rounds || echoed.Load() != clients*rounds || truncated == 0 {
		t.Fatalf("%d replies, %d echoes checked, %d truncated; want %d, %d, > 0", sendmsgs, echoed.Load(), truncated, clients*rounds, clients*rounds)
	}
	// Cancel the multishot recvmsg: its last CQE is ECANCELED, without F_MORE.
	sqe := rawAppSQE(t, r)
	sqe.PrepCancel64(recvUD, 0)
	sqe.SetUserData(2)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	got := rawReap(t, r, 2)
	if got[2].Res != 0 || got[recvUD].Res != -int32(unix.ECANCELED) || got[recvUD].Flags&CQEFMore != 0 {
		t.Fatalf("cancel of the multishot recvmsg: %+v", got)
	}
	t.Logf("%d datagrams echoed, %d truncated, recvmsg armed %d times", sendmsgs, truncated, armed)
}

// TestRawAppPipeFanInBufRing reads 16 pipes, each fed 64 KiB in writes of
// random sizes by its own goroutine, through one-shot reads that pick a
// provided buffer (IOSQE_BUFFER_SELECT on a ring of 8 buffers, so reads also
// end with ENOBUFS and are issued again). The loop is liburing's idiom:
// walk the CQEs with ForEachCQE, copy each buffer's bytes out, put the
// buffers back with BufRing.Add at increasing offsets, and publish them and
// consume the CQEs at once with BufRingCQAdvance (Advance plus CQAdvance
// when a CQE of the batch had no buffer). Every pipe's bytes must arrive
// whole and in order; a read of 0 is the pipe's end (the kernel may have
// selected a buffer for it: IORING_CQE_F_BUFFER with Res 0, a buffer to give
// back like the others).
func TestRawAppPipeFanInBufRing(t *testing.T) {
	const (
		pipes   = 16
		perPipe = 64 << 10
		bufs    = 8
		bufSize = 512
		bgid    = 4
	)
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 5))
	r := rawRing(t, 32, nil)
	br, err := r.SetupBufRing(bufs, bgid)
	if err != nil {
		t.Fatal(err)
	}
	defer r.FreeBufRing(br, bufs, bgid)
	mem := rawMmap(t, bufs*bufSize)
	mask := BufRingMask(bufs)
	for bid := 0; bid < bufs; bid++ {
		br.Add(mem[bid*bufSize:(bid+1)*bufSize], uint16(bid), mask, bid)
	}
	br.Advance(bufs)
	ps := make([]*testutil.AppPipe, pipes)
	want := make([][]byte, pipes)
	got := make([][]byte, pipes)
	arm := func(i int) {
		sqe := rawAppSQE(t, r)
		sqe.PrepRead(ps[i].R, nil, ^uint64(0)) // len 0: the whole provided buffer
		sqe.Flags |= SQEBufferSelect
		sqe.BufIndex = bgid
		sqe.SetUserData(uint64(i))
	}
	peers := &rawAppPeers{t: t}
	defer peers.stop()
	for i := range ps {
		ps[i] = testutil.NewAppPipe(t, false)
		want[i] = testutil.AppContent(perPipe, seed^uint64(i)<<48)
		arm(i)
		p, data := ps[i], want[i]
		wr := rand.New(rand.NewPCG(seed, uint64(200+i)))
		peers.wg.Add(1)
		if err := unix.SetNonblock(p.W, true); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer peers.wg.Done()
			defer p.CloseW()
			for off := 0; off < len(data) && !peers.stopping(); {
				n := min(len(data)-off, 1+wr.IntN(1500)) // < PIPE_BUF: all or EAGAIN
				k, err := unix.Write(p.W, data[off:off+n])
				if err == unix.EAGAIN {
					unix.Poll([]unix.PollFd{{Fd: int32(p.W), Events: unix.POLLOUT}}, 20)
					continue
				}
				if err != nil {
					peers.errorf("pipe %d: write: %v", i, err)
					return
				}
				off += k
			}
		}()
	}
	eof, enobufs, batches, whole := 0, 0, 0, 0
	deadline := time.Now().Add(testutil.AppHang)
	for eof < pipes {
		if t.Failed() {
			t.FailNow()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pipes ended after %v", eof, pipes, testutil.AppHang)
		}
		if _, _, err := r.SubmitAndWaitFor(1, 50*time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
			t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
		limit := 1 + rnd.IntN(12)
		var rearm []int
		withBuf := 0
		n := r.ForEachCQE(func(c *CQE) bool {
			i := int(c.UserData)
			switch bid, ok := c.BufferID(); {
			case c.Res > 0 && ok && int(bid) < bufs && int(c.Res) <= bufSize:
				got[i] = append(got[i], mem[int(bid)*bufSize:int(bid)*bufSize+int(c.Res)]...)
				br.Add(mem[int(bid)*bufSize:(int(bid)+1)*bufSize], bid, mask, withBuf)
				withBuf++
				rearm = append(rearm, i)
			case c.Res == 0:
				eof++
				if ok {
					br.Add(mem[int(bid)*bufSize:(int(bid)+1)*bufSize], bid, mask, withBuf)
					withBuf++
				}
			case c.Res == -int32(unix.ENOBUFS) && !ok:
				enobufs++
				rearm = append(rearm, i)
			default:
				t.Fatalf("pipe %d: read %+v", i, *c)
			}
			return withBuf < limit
		})
		if n == 0 {
			continue
		}
		batches++
		if withBuf == int(n) {
			r.BufRingCQAdvance(br, int(n))
			whole++
		} else {
			br.Advance(withBuf)
			r.CQAdvance(n)
		}
		for _, i := range rearm {
			arm(i)
		}
	}
	testutil.AppWaitGroup(t, &peers.wg, "pipe writers")
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("pipe %d: %s", i, testutil.AppFirstDiff(got[i], want[i]))
		}
	}
	if r.CQReady() != 0 {
		t.Fatalf("%d CQEs left", r.CQReady())
	}
	t.Logf("%d batches (%d with BufRingCQAdvance), %d reads ended with ENOBUFS", batches, whole, enobufs)
}

// ---------------------------------------------------------------------------
// Scenario 2: a batch copy of a 16 MiB file, O_DIRECT, registered files and
// buffers.

// TestRawAppBatchCopy copies a 16 MiB file that does not end on a block
// boundary, O_DIRECT at both ends, through 24 slots of registered C memory
// (RegisterBuffersSparse + RegisterBuffersUpdateTag with tags) and a sparse
// fixed-file table filled with RegisterFilesUpdate: reads of random sizes
// (READ_FIXED, or READV into the same memory) are queued in random batches
// on an 8-entry SQ (more than it holds: GetSQE gives nil and the loop
// submits), each completed read becomes a WRITE_FIXED, and CQEs are reaped
// in random ways (WaitCQENr of a random count, PeekBatchCQE into small
// slices, PeekCQE, ForEachCQE) from a 16-entry CQ that 24 requests in
// flight can overflow. The read at the end of the file is short; its block
// is written whole and the file truncated, as a C program does. Then the
// buffers are unregistered, which posts one CQE per tag, and the copy is
// compared byte for byte.
func TestRawAppBatchCopy(t *testing.T) {
	const (
		size  = 16<<20 - 3000 // not a multiple of the block: a short read at EOF
		slots = 24
		block = 4096
		maxIO = 256 << 10
	)
	rnd, content, src, dst, dstPath := testutil.AppDirectCopyFiles(t, size, 3)

	r := rawRing(t, 8, nil) // SQ 8, CQ 16
	if r.Features()&FeatNodrop == 0 {
		testutil.FeatureMissing(t, 5, 5, "IORING_FEAT_NODROP", nil)
	}
	mem, err := cmem.Alloc(slots*maxIO, block)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	bufs := make([][]byte, slots)
	iov := make([]unix.Iovec, slots)
	tags := make([]uint64, slots)
	for i := range bufs {
		bufs[i] = mem.Bytes()[i*maxIO : (i+1)*maxIO : (i+1)*maxIO]
		iov[i] = rawIovec(bufs[i])
		tags[i] = 0xC0DE0000 + uint64(i)
	}
	if err := r.RegisterBuffersSparse(slots); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RegisterBuffersUpdateTag(0, iov, tags); n != slots || err != nil {
		t.Fatalf("RegisterBuffersUpdateTag = %d, %v", n, err)
	}
	if err := r.RegisterFilesSparse(4); err != nil {
		t.Fatal(err)
	}
	const srcIdx, dstIdx = 1, 3
	if n, err := r.RegisterFilesUpdate(srcIdx, []int{src, RegisterFilesSkip, dst}); n != 3 || err != nil {
		t.Fatalf("RegisterFilesUpdate = %d, %v", n, err)
	}
	// READV of registered memory needs an iovec array the kernel may read
	// until it has issued the request: C memory, one per slot.
	civ := make([]*cmem.Iovecs, slots)
	for i := range civ {
		if civ[i], err = cmem.NewIovecs([][]byte{bufs[i][:maxIO/2], bufs[i][maxIO/2:]}); err != nil {
			t.Fatal(err)
		}
		defer civ[i].Free()
	}

	st := make([]testutil.AppCopySpan, slots)
	var tally testutil.AppCopyTally
	next, inflight := 0, 0
	var readvs, waits int
	const opRead, opWrite = 1, 2
	prepRead := func(i int) {
		s := &st[i]
		sqe := rawAppSQE(t, r)
		if s.Done == 0 && s.Want == maxIO && rnd.IntN(4) == 0 {
			sqe.PrepReadv(srcIdx, unsafe.Slice((*unix.Iovec)(civ[i].Ptr()), 2), uint64(s.Off))
			readvs++
		} else {
			sqe.PrepReadFixed(srcIdx, bufs[i][s.Done:s.Want], uint64(s.Off+s.Done), i)
		}
		sqe.Flags |= SQEFixedFile
		sqe.SetUserData(uint64(opRead)<<32 | uint64(i))
		inflight++
	}
	prepWrite := func(i int) {
		s := &st[i]
		sqe := rawAppSQE(t, r)
		sqe.PrepWriteFixed(dstIdx, bufs[i][s.Done:s.Want], uint64(s.Off+s.Done), i)
		sqe.Flags |= SQEFixedFile
		sqe.SetUserData(uint64(opWrite)<<32 | uint64(i))
		inflight++
	}
	handle := func(c CQE) {
		op, i := int(c.UserData>>32), int(uint32(c.UserData))
		if op != opRead && op != opWrite || i >= slots || !st[i].Busy || st[i].Write != (op == opWrite) {
			t.Fatalf("CQE %+v for no request in flight", c)
		}
		inflight--
		s := &st[i]
		if c.Res < 0 {
			t.Fatalf("slot %d %s at %d: %v", i, map[int]string{opRead: "read", opWrite: "write"}[op], s.Off+s.Done, unix.Errno(-c.Res))
		}
		// The short read at the end of the file writes the whole block
		// (zeros after the data); the copy is truncated later.
		if err := s.Step(int(c.Res), size, block, bufs[i], &tally); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		switch {
		case s.Busy && s.Write:
			prepWrite(i)
		case s.Busy:
			prepRead(i)
		}
	}
	cqes := make([]*CQE, 4)
	deadline := time.Now().Add(testutil.AppHang)
	for tally.Written < size {
		if time.Now().After(deadline) {
			t.Fatalf("copy: %d of %d bytes after %v (%d in flight)", tally.Written, size, testutil.AppHang, inflight)
		}
		// Queue a batch of reads of random sizes into idle slots.
		testutil.AppStartSpans(rnd, len(st), func(i int) bool { return st[i].Busy }, &next, size, block, maxIO, func(i, off, n int) {
			st[i] = testutil.AppCopySpan{Busy: true, Off: off, Want: n}
			prepRead(i)
		})
		if _, err := r.Submit(); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		// Reap in chunks of random size.
		switch rnd.IntN(3) {
		case 0:
			want := 1 + rnd.IntN(min(inflight, int(r.CQEntries())))
			if _, err := r.WaitCQENr(uint32(want)); err != nil {
				t.Fatalf("WaitCQENr(%d) with %d in flight: %v", want, inflight, err)
			}
			waits++
			for want > 0 {
				n := r.PeekBatchCQE(cqes[:1+rnd.IntN(len(cqes))])
				if n == 0 {
					t.Fatalf("WaitCQENr(%d) returned, PeekBatchCQE found nothing", want)
				}
				cs := make([]CQE, n)
				for k := range cs {
					cs[k] = *cqes[k]
				}
				r.CQAdvance(uint32(n))
				for _, c := range cs {
					handle(c)
				}
				want -= n
			}
		case 1:
			cqe, err := r.WaitCQE()
			if err != nil {
				t.Fatalf("WaitCQE: %v", err)
			}
			c := *cqe
			r.CQESeen(cqe)
			handle(c)
		default:
			rawAppReap(t, r, rnd, handle)
		}
	}
	if inflight != 0 || r.CQReady() != 0 || r.CQHasOverflow() {
		t.Fatalf("after the copy: %d in flight, %d CQEs ready, overflow %v", inflight, r.CQReady(), r.CQHasOverflow())
	}
	if err := unix.Ftruncate(dst, size); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	got := rawReap(t, r, slots)
	for i, tag := range tags {
		if c, ok := got[tag]; !ok || c.Res != 0 {
			t.Fatalf("tag CQE of buffer %d: %+v (present %v)", i, c, ok)
		}
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	testutil.AppCheckCopy(t, dstPath, content)
	if tally.ShortEOF != 1 {
		t.Fatalf("%d short reads at the end of the file, want 1", tally.ShortEOF)
	}
	t.Logf("%d bytes copied; %d READV, %d WaitCQENr", size, readvs, waits)
}

// ---------------------------------------------------------------------------
// Scenario 3: what a careless porter does wrong.

// TestRawAppCQOverrun: consuming more CQEs than are ready (CQESeen twice on
// the last one, CQAdvance of more than PeekBatchCQE returned). liburing's
// io_uring_cq_advance stores head+n whatever n is: the head passes the
// kernel's tail, io_uring_cq_ready then says 2^32-1, io_uring_peek_cqe
// returns a stale entry as a completion, and the next CQEs the kernel posts
// land under the head, never to be seen (a loop waiting for them hangs).
// The binding holds n to what is ready, so the extra consumption does
// nothing: the CQ stays empty and the next completion is reaped.
func TestRawAppCQOverrun(t *testing.T) {
	r := rawRing(t, 4, nil)
	rawNops(t, r, 2, 10)
	if n, err := r.SubmitAndWait(2); n != 2 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v", n, err)
	}
	cqe, err := r.WaitCQE()
	if err != nil || cqe.UserData != 10 {
		t.Fatalf("WaitCQE = %+v, %v", cqe, err)
	}
	r.CQESeen(cqe)
	r.CQESeen(cqe) // the porter's double "seen": consumes user data 11, as in C
	if r.CQReady() != 0 {
		t.Fatalf("CQReady after consuming both: %d", r.CQReady())
	}
	r.CQESeen(cqe) // nothing left to consume
	r.CQAdvance(5)
	r.BufRingCQAdvance(nil, 3)
	if n := r.CQReady(); n != 0 {
		t.Fatalf("CQReady after consuming more than was ready: %d, want 0", n)
	}
	if c, err := r.PeekCQE(); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("PeekCQE on an empty CQ after the overrun: %+v, %v; want EAGAIN", c, err)
	}
	if n := r.PeekBatchCQE(make([]*CQE, 4)); n != 0 {
		t.Fatalf("PeekBatchCQE on an empty CQ after the overrun: %d", n)
	}
	// The ring still works: every later completion arrives once.
	for round := 0; round < 3; round++ {
		rawNops(t, r, 3, uint64(100*round))
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		got := rawReap(t, r, 3)
		for i := 0; i < 3; i++ {
			if c, ok := got[uint64(100*round+i)]; !ok || c.Res != 0 {
				t.Fatalf("round %d: NOP %d: %+v, present %v", round, i, c, ok)
			}
		}
		if r.CQReady() != 0 {
			t.Fatalf("round %d: %d CQEs left", round, r.CQReady())
		}
		// PeekBatchCQE gave 1, the porter advances 4.
		rawNops(t, r, 1, 999)
		if _, err := r.SubmitAndWait(1); err != nil {
			t.Fatal(err)
		}
		batch := make([]*CQE, 8)
		if n := r.PeekBatchCQE(batch); n != 1 || batch[0].UserData != 999 {
			t.Fatalf("round %d: PeekBatchCQE = %d", round, n)
		}
		r.CQAdvance(4)
	}
	if r.CQReady() != 0 || r.CQHasOverflow() {
		t.Fatalf("CQ at the end: %d ready, overflow %v", r.CQReady(), r.CQHasOverflow())
	}
}

// TestRawAppUnregisterInFlight unregisters, and replaces, registered buffers
// and files while a READ_FIXED of a pipe through both is in flight: the
// calls succeed (the kernel keeps what a request uses until it completes),
// the request then completes with the data in the buffer that was
// registered when it was submitted (not in the one registered in its slot
// since), and new requests see the new tables.
func TestRawAppUnregisterInFlight(t *testing.T) {
	r := rawRing(t, 8, nil)
	p := testutil.NewAppPipe(t, false)
	old := rawMmap(t, 4096)
	repl := rawMmap(t, 4096)
	if err := r.RegisterBuffers([]unix.Iovec{rawIovec(old)}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterBuffers([]unix.Iovec{rawIovec(repl)}); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second RegisterBuffers: %v, want EBUSY", err)
	}
	if err := r.RegisterFiles([]int{p.R}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFiles([]int{p.R}); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second RegisterFiles: %v, want EBUSY", err)
	}
	sqe := r.GetSQE()
	sqe.PrepReadFixed(0, old[100:200], ^uint64(0), 0)
	sqe.Flags |= SQEFixedFile
	sqe.SetUserData(1)
	if n, err := r.Submit(); n != 1 || err != nil {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	if c, err := r.PeekCQE(); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("the read of an empty pipe completed: %+v, %v", c, err)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatalf("UnregisterBuffers with a READ_FIXED in flight: %v", err)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatalf("UnregisterFiles with a fixed-file read in flight: %v", err)
	}
	if err := r.RegisterBuffers([]unix.Iovec{rawIovec(repl)}); err != nil {
		t.Fatalf("RegisterBuffers after the unregister: %v", err)
	}
	q := testutil.NewAppPipe(t, false)
	if err := r.RegisterFiles([]int{q.R}); err != nil {
		t.Fatalf("RegisterFiles after the unregister: %v", err)
	}
	if _, err := unix.Write(p.W, []byte("old request")); err != nil {
		t.Fatal(err)
	}
	cqe, err := r.WaitCQETimeout(testutil.AppHang)
	if err != nil || cqe.UserData != 1 || cqe.Res != 11 {
		t.Fatalf("in-flight read: %+v, %v", cqe, err)
	}
	r.CQESeen(cqe)
	if string(old[100:111]) != "old request" || !bytes.Equal(repl, make([]byte, 4096)) {
		t.Fatalf("data went to the wrong buffer: old %q, replacement %q", old[100:111], bytes.TrimRight(repl[:120], "\x00"))
	}
	// New requests use the new tables: slot 0 is q's read end now, and a
	// buffer inside old is no longer registered (refused before the pipe is
	// read).
	unix.Write(q.W, []byte("new"))
	if c := rawDo(t, r, func(s *SQE) { s.PrepReadFixed(0, old[:10], ^uint64(0), 0); s.Flags |= SQEFixedFile }); c.Res != -int32(unix.EFAULT) {
		t.Fatalf("READ_FIXED into the unregistered buffer: res %d, want -EFAULT", c.Res)
	}
	if n := rawOK(t, r, "read_fixed", func(s *SQE) { s.PrepReadFixed(0, repl[:10], ^uint64(0), 0); s.Flags |= SQEFixedFile }); n != 3 || string(repl[:3]) != "new" {
		t.Fatalf("READ_FIXED into the new buffer: %d %q", n, repl[:3])
	}
}

// TestRawAppFreeBufRingInFlight frees a buffer ring while a multishot recv
// selects from it: FreeBufRing succeeds, the recv ends with ENOBUFS when the
// next data arrives, a second FreeBufRing of the ring is EINVAL (it is not
// unmapped twice), and a new ring for the same group serves a new multishot
// recv, which receives the data that waited in the socket.
func TestRawAppFreeBufRingInFlight(t *testing.T) {
	r := rawRing(t, 8, nil)
	const entries, size, bgid = 4, 64, 6
	br, err := r.SetupBufRing(entries, bgid)
	if err != nil {
		t.Fatal(err)
	}
	mem := rawMmap(t, entries*size)
	for i := 0; i < entries; i++ {
		br.Add(mem[i*size:(i+1)*size], uint16(i), BufRingMask(entries), i)
	}
	br.Advance(entries)
	c, s := rawTCPPair(t)
	recv := func(ud uint64) {
		sqe := r.GetSQE()
		sqe.PrepRecvMultishot(s, nil, 0)
		sqe.Flags |= SQEBufferSelect
		sqe.BufIndex = bgid
		sqe.SetUserData(ud)
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
	}
	recv(1)
	unix.Write(c, []byte("first"))
	cqe, err := r.WaitCQETimeout(testutil.AppHang)
	if err != nil {
		t.Fatal(err)
	}
	if bid, ok := cqe.BufferID(); cqe.Res != 5 || !ok || cqe.Flags&CQEFMore == 0 || string(mem[int(bid)*size:][:5]) != "first" {
		t.Fatalf("first recv: %+v", *cqe)
	}
	r.CQESeen(cqe)
	if err := r.FreeBufRing(br, entries, bgid); err != nil {
		t.Fatalf("FreeBufRing with a multishot recv in flight: %v", err)
	}
	if err := r.FreeBufRing(br, entries, bgid); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("second FreeBufRing: %v, want EINVAL", err)
	}
	unix.Write(c, []byte("second"))
	cqe, err = r.WaitCQETimeout(testutil.AppHang)
	if err != nil {
		t.Fatal(err)
	}
	if cqe.UserData != 1 || cqe.Res != -int32(unix.ENOBUFS) || cqe.Flags&CQEFMore != 0 {
		t.Fatalf("recv after its ring was freed: %+v, want -ENOBUFS without F_MORE", *cqe)
	}
	r.CQESeen(cqe)
	br2, err := r.SetupBufRing(entries, bgid)
	if err != nil {
		t.Fatalf("SetupBufRing of the freed group: %v", err)
	}
	defer r.FreeBufRing(br2, entries, bgid)
	mem2 := rawMmap(t, entries*size)
	for i := 0; i < entries; i++ {
		br2.Add(mem2[i*size:(i+1)*size], uint16(i), BufRingMask(entries), i)
	}
	br2.Advance(entries)
	recv(2)
	cqe, err = r.WaitCQETimeout(testutil.AppHang)
	if err != nil {
		t.Fatal(err)
	}
	if bid, ok := cqe.BufferID(); cqe.UserData != 2 || cqe.Res != 6 || !ok || string(mem2[int(bid)*size:][:6]) != "second" {
		t.Fatalf("recv from the new ring: %+v", *cqe)
	}
	r.CQESeen(cqe)
	rawOK(t, r, "cancel", func(q *SQE) { q.PrepCancel64(2, 0) })
	if got := rawReap(t, r, 1); got[2].Res != -int32(unix.ECANCELED) {
		t.Fatalf("cancelled multishot recv: %+v", got)
	}
}

// ---------------------------------------------------------------------------
// Scenario 4: the collector runs while raw requests are in flight.

// TestRawAppGCPressure keeps 48 reads of pipes in flight while the collector
// runs in a loop beside a goroutine making garbage. The buffers are Go
// memory the test keeps no reference to: a READV's buffers are reachable
// only through the pinned iovec array, a READ's only through its Pinner.
// Timeouts are queued with a timespec that is unpinned and dropped as soon
// as Submit returns (the kernel has copied it by then). Each pipe is then
// fed its own content in pieces: every read must land in its own buffers,
// byte for byte, and every timeout expire with ETIME.
func TestRawAppGCPressure(t *testing.T) {
	const pipes, timeouts = 48, 16
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 4))
	r := rawRing(t, 64, &Params{Flags: SetupCQSize, CQEntries: 128})
	type read struct {
		p    *testutil.AppPipe
		pin  runtime.Pinner
		iov  []unix.Iovec // READV: the only reference to its buffers
		one  *byte        // READ: its buffer's first byte (pinned)
		n    int
		want []byte
	}
	stop := testutil.AppGC(true)
	defer stop()
	reads := make([]*read, pipes)
	for i := range reads {
		rd := &read{p: testutil.NewAppPipe(t, false), n: 1 + rnd.IntN(3000)}
		rd.want = testutil.AppContent((rd.n+7)&^7, uint64(i)<<32|seed)[:rd.n]
		sqe := rawAppSQE(t, r)
		if i%2 == 0 {
			// Split the read over up to 4 buffers.
			k := 1 + rnd.IntN(min(4, rd.n))
			cuts := []int{0}
			for j := 1; j < k; j++ {
				cuts = append(cuts, 1+rnd.IntN(rd.n-1))
			}
			cuts = append(cuts, rd.n)
			slices.Sort(cuts)
			rd.iov = make([]unix.Iovec, 0, k)
			for j := 0; j+1 < len(cuts); j++ {
				if cuts[j+1] == cuts[j] {
					continue
				}
				b := make([]byte, cuts[j+1]-cuts[j])
				rd.pin.Pin(&b[0])
				v := unix.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				rd.iov = append(rd.iov, v)
			}
			rd.pin.Pin(&rd.iov[0])
			sqe.PrepReadv(rd.p.R, rd.iov, ^uint64(0))
		} else {
			b := make([]byte, rd.n)
			rd.pin.Pin(&b[0])
			rd.one = &b[0]
			sqe.PrepRead(rd.p.R, b, ^uint64(0))
		}
		sqe.SetUserData(uint64(i))
		reads[i] = rd
	}
	for i := 0; i < timeouts; i++ {
		var pin runtime.Pinner
		ts := &KernelTimespec{Nsec: int64(1+rnd.IntN(5)) * int64(time.Millisecond)}
		pin.Pin(ts)
		sqe := rawAppSQE(t, r)
		sqe.PrepTimeout(ts, 0, 0)
		sqe.SetUserData(1<<32 | uint64(i))
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		pin.Unpin() // the kernel copied the timespec at submission
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 5; k++ {
		runtime.GC()
	}
	// Feed the pipes in random order, each its content in one write (a
	// pipe read returns what the writes before it left, so one write makes
	// the read's count exact), collecting between the writes.
	order := rnd.Perm(pipes)
	gotReads, gotTimeouts := 0, 0
	handle := func(c CQE) {
		if c.UserData>>32 == 1 {
			if c.Res != -int32(unix.ETIME) {
				t.Errorf("timeout %d: res %d, want -ETIME", uint32(c.UserData), c.Res)
			}
			gotTimeouts++
			return
		}
		rd := reads[c.UserData]
		if c.Res != int32(rd.n) {
			t.Fatalf("read %d: res %d, want %d", c.UserData, c.Res, rd.n)
		}
		var got []byte
		if rd.iov != nil {
			for _, v := range rd.iov {
				got = append(got, unsafe.Slice(v.Base, v.Len)...)
			}
		} else {
			got = unsafe.Slice(rd.one, rd.n)
		}
		if !bytes.Equal(got, rd.want) {
			t.Errorf("read %d (%d iovecs): %s", c.UserData, len(rd.iov), testutil.AppFirstDiff(got, rd.want))
		}
		rd.pin.Unpin()
		gotReads++
	}
	deadline := time.Now().Add(testutil.AppHang)
	for _, i := range order {
		runtime.GC()
		if _, err := unix.Write(reads[i].p.W, reads[i].want); err != nil {
			t.Fatal(err)
		}
		rawAppReap(t, r, rnd, handle)
	}
	for gotReads < pipes || gotTimeouts < timeouts {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d reads, %d of %d timeouts after %v", gotReads, pipes, gotTimeouts, timeouts, testutil.AppHang)
		}
		if _, err := r.WaitCQETimeout(100 * time.Millisecond); err != nil && !errors.Is(err, unix.ETIME) {
			t.Fatal(err)
		}
		rawAppReap(t, r, rnd, handle)
	}
}
