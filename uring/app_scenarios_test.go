package uring

// Application-style scenarios: the handle layer driven the way a server or a
// tool would drive it, on real sockets, pipes and files, with every result
// checked exactly. Each test is bounded by generous hang guards only (no
// timing assertions) and runs in a few seconds on a loaded 2-CPU VM.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// appSubmit calls submit (of a handle, a Link's handles or a Multishot)
// until the queue stops answering ErrBusy, as a loaded server waits for a
// free slot.
func appSubmit[T any](submit func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		h, err := submit()
		if !errors.Is(err, ErrBusy) {
			return h, err
		}
		if i < 64 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// appWait waits for h at most testutil.AppHang; a hang is reported as an error
// naming what (the handle is then left alone).
func appWait(h *completion.Handle, what string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.AppHang)
	defer cancel()
	n, err := h.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return n, fmt.Errorf("%s: no completion in %v (hang)", what, testutil.AppHang)
	}
	return n, err
}

// appDone waits for h's completion (not only for its Wait) at most testutil.AppHang
// and reports whether it came.
func appDone(h *completion.Handle) bool {
	select {
	case <-h.Done():
		return true
	case <-time.After(testutil.AppHang):
		return false
	}
}

// appNoGoroutineLeak fails the test unless the number of goroutines comes
// back to at most base (the count when the test began).
func appNoGoroutineLeak(t *testing.T, base int) {
	t.Helper()
	if !testutil.Settle(10*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		t.Errorf("goroutine leak: %d goroutines, %d when the test began\n%s",
			runtime.NumGoroutine(), base, testutil.GoroutineDump())
	}
}

// appRand returns the test's generator, seeded from the clock or from
// $AIOKIT_APP_SEED (to draw a logged run's choices again; timing still
// differs); n tells the generators of one run apart.
func appRand(t *testing.T, n uint64) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(testutil.AppSeed(t), n))
}

// appFill fills b with random bytes from r.
func appFill(r *rand.Rand, b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, r.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// echoServer is a TCP echo server driven only through a Queue: a
// multishot accept (a loop of Accept before Linux 5.19), and per connection
// either a Recv/Send loop on handles or a multishot recv on a ring of
// provided buffers of its own (Linux 6.0) whose buffers are sent back and
// then returned to the ring.
type echoServer struct {
	t     *testing.T
	q     *Queue
	lfd   int
	rings chan *echoRing // free provided-buffer rings (nil: no multishot recv)

	wg      sync.WaitGroup // the accept loop and every connection's handler
	mu      sync.Mutex
	ended   map[string]int // handler results: "eof", "closed", or an error text
	acceptE error          // what ended the accept loop
	conns   atomic.Int32   // connections accepted
	live    atomic.Int32   // connections whose handler has not returned
	parked  atomic.Int32   // handlers waiting for a receive
	parkOps atomic.Int32   // the operations those receives have in flight
	restart atomic.Int32   // multishot recv streams restarted (ENOBUFS, CQ full)
}

type echoRing struct {
	b    *msBufRing
	bgid uint16
}

// park counts a handler that starts (ops > 0) or stops (ops < 0) waiting
// for a receive with ops operations in flight.
func (s *echoServer) park(ops int32) {
	if ops > 0 {
		s.parked.Add(1)
	} else {
		s.parked.Add(-1)
	}
	s.parkOps.Add(ops)
}

func (s *echoServer) end(what string) {
	s.mu.Lock()
	s.ended[what]++
	s.mu.Unlock()
}

// closedErr reports whether err is how an operation of a closing queue
// ends: cancelled by Close (ECANCELED) or refused (ErrClosed).
func closedErr(err error) bool {
	return errors.Is(err, unix.ECANCELED) || errors.Is(err, ErrClosed)
}

// acceptLoop accepts connections until the queue closes.
func (s *echoServer) acceptLoop(multishot bool) {
	defer s.wg.Done()
	for {
		if !multishot {
			h, err := appSubmit(func() (*completion.Handle, error) { return s.q.Accept(s.lfd, unix.SOCK_CLOEXEC) })
			if err == nil {
				var fd int
				fd, err = appWait(h, "accept")
				if err == nil {
					s.serve(fd)
					continue
				}
			}
			s.acceptE = err
			return
		}
		m, err := appSubmit(func() (*Multishot, error) { return s.q.AcceptMultishot(s.lfd, unix.SOCK_CLOEXEC) })
		if err != nil {
			s.acceptE = err
			return
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.AppHang)
			fd, _, err := m.Next(ctx)
			cancel()
			if err == nil {
				s.serve(int(fd))
				continue
			}
			m.Close()
			if errors.Is(err, ErrMultishotDone) {
				break // the kernel ended the request (CQ full): start another
			}
			s.acceptE = err
			return
		}
	}
}

// serve starts the handler of a new connection.
func (s *echoServer) serve(fd int) {
	s.conns.Add(1)
	s.live.Add(1)
	s.wg.Add(1)
	var ring *echoRing
	if s.rings != nil && fd%2 == 0 {
		select {
		case ring = <-s.rings:
		default:
		}
	}
	go func() {
		defer s.wg.Done()
		defer s.live.Add(-1)
		var err error
		if ring != nil {
			err = s.serveMultishot(fd, ring)
		} else {
			err = s.servePlain(fd)
		}
		// Close the connection through the ring; once the queue is closed,
		// directly.
		if h, cerr := appSubmit(func() (*completion.Handle, error) { return s.q.CloseFD(fd) }); cerr == nil {
			if _, cerr = appWait(h, "close"); cerr != nil {
				s.t.Errorf("CloseFD(%d): %v", fd, cerr)
			}
		} else if errors.Is(cerr, ErrClosed) {
			unix.Close(fd)
		} else {
			s.t.Errorf("CloseFD(%d): %v", fd, cerr)
			unix.Close(fd)
		}
		switch {
		case err == nil:
			s.end("eof")
		case closedErr(err):
			s.end("closed")
		default:
			s.end(err.Error())
		}
	}()
}

// appSendAll sends all of b on fd through q (IORING_OP_SEND may send less on
// a stream socket); what names the sends in a hang report.
func appSendAll(q *Queue, fd int, b []byte, what string) error {
	for len(b) > 0 {
		h, err := appSubmit(func() (*completion.Handle, error) { return q.Send(fd, b, unix.MSG_NOSIGNAL) })
		if err != nil {
			return err
		}
		n, err := appWait(h, what)
		if err != nil {
			return err
		}
		if n <= 0 || n > len(b) {
			return fmt.Errorf("send of %d bytes: %d", len(b), n)
		}
		b = b[n:]
	}
	return nil
}

// sendAll sends all of b to the connection fd.
func (s *echoServer) sendAll(fd int, b []byte) error { return appSendAll(s.q, fd, b, "send") }

// servePlain echoes with Recv and Send handles (on some connections a
// Recv -> LinkTimeout chain, a receive with an idle timeout); a Recv of 0
// is the peer's end.
func (s *echoServer) servePlain(fd int) error {
	buf := make([]byte, 1+rand.IntN(64<<10))
	for {
		var n int
		var err error
		if fd%5 == 0 {
			// A receive with an idle timeout: Recv -> LinkTimeout.
			hs, lerr := appSubmit(func() ([]*completion.Handle, error) {
				return s.q.Link(func(l *Link) {
					l.Recv(fd, buf, 0)
					l.LinkTimeout(testutil.AppHang, 0)
				})
			})
			if lerr != nil {
				return lerr
			}
			s.park(2)
			n, err = appWait(hs[0], "recv")
			_, terr := appWait(hs[1], "link timeout")
			s.park(-2)
			// The timeout ends with ECANCELED when the Recv ended first
			// (data, EOF, or Queue.Close's cancel); ETIME would be a
			// connection idle for testutil.AppHang.
			if !errors.Is(terr, unix.ECANCELED) {
				return fmt.Errorf("recv's link timeout: %v (recv: %d, %v)", terr, n, err)
			}
		} else {
			h, serr := appSubmit(func() (*completion.Handle, error) { return s.q.Recv(fd, buf, 0) })
			if serr != nil {
				return serr
			}
			s.park(1)
			if fd%3 == 0 {
				n, err = h.Wait(nil) // a nil context: may wait in the kernel when alone
			} else {
				n, err = appWait(h, "recv")
			}
			s.park(-1)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := s.sendAll(fd, buf[:n]); err != nil {
			return err
		}
	}
}

// serveMultishot echoes what a multishot recv on ring's buffers receives;
// the stream is started again when the kernel ends it with ENOBUFS or with
// a last buffer (CQ full).
func (s *echoServer) serveMultishot(fd int, ring *echoRing) error {
	for {
		m, err := appSubmit(func() (*Multishot, error) { return s.q.RecvMultishot(fd, ring.bgid, 0) })
		if err != nil {
			return err
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.AppHang)
			s.park(1)
			res, flags, err := m.Next(ctx)
			s.park(-1)
			cancel()
			if errors.Is(err, ErrMultishotDone) {
				m.Close()
				s.restart.Add(1)
				break
			}
			if errors.Is(err, unix.ENOBUFS) {
				continue // final CQE: every buffer is back, start again
			}
			if err != nil {
				m.Close()
				return err
			}
			if res == 0 && flags&CQEFMore == 0 {
				m.Close()
				return nil // the peer's end
			}
			bid, ok := CQEBufferID(flags)
			if !ok || int(bid) >= len(ring.b.bufs) || int(res) > len(ring.b.bufs[bid]) {
				m.Close()
				return fmt.Errorf("multishot recv CQE res %d flags %#x: no valid buffer", res, flags)
			}
			err = s.sendAll(fd, ring.b.bufs[bid][:res])
			ring.b.give(bid)
			if err != nil {
				m.Close()
				return err
			}
		}
	}
}

// appConn is an echo client's connection: Go's net package, or a socket
// driven through a Queue of its own (ringConn).
type appConn interface {
	WriteAll(b []byte) error
	ReadFull(b []byte) error
	ReadSome(b []byte) (int, error) // io.EOF at the end
	Close() error
}

type netConn struct{ c net.Conn }

func dialNet(addr string) (appConn, error) {
	c, err := net.DialTimeout("tcp", addr, testutil.AppHang)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(testutil.AppHang))
	return netConn{c}, nil
}

func (n netConn) WriteAll(b []byte) error { _, err := n.c.Write(b); return err }
func (n netConn) ReadFull(b []byte) error { _, err := io.ReadFull(n.c, b); return err }
func (n netConn) ReadSome(b []byte) (int, error) {
	return n.c.Read(b)
}
func (n netConn) Close() error { return n.c.Close() }

// ringConn is a client socket made (IORING_OP_SOCKET, Linux 5.19; else
// socket(2)), connected, used and closed through q.
type ringConn struct {
	q  *Queue
	fd int
}

func dialRing(q *Queue, sa unix.Sockaddr) (appConn, error) {
	fd := -1
	if testutil.KernelAtLeast(5, 19) {
		h, err := appSubmit(func() (*completion.Handle, error) {
			return q.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0)
		})
		if err != nil {
			return nil, err
		}
		if fd, err = appWait(h, "socket"); err != nil {
			return nil, err
		}
	} else {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return nil, err
		}
	}
	a := *sa.(*unix.SockaddrInet4)
	h, err := appSubmit(func() (*completion.Handle, error) { return q.Connect(fd, &a) })
	if err == nil {
		_, err = appWait(h, "connect")
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &ringConn{q, fd}, nil
}

func (c *ringConn) WriteAll(b []byte) error { return appSendAll(c.q, c.fd, b, "client send") }

func (c *ringConn) ReadSome(b []byte) (int, error) {
	h, err := appSubmit(func() (*completion.Handle, error) { return c.q.Recv(c.fd, b, 0) })
	if err != nil {
		return 0, err
	}
	n, err := appWait(h, "client recv")
	if err == nil && n == 0 && len(b) > 0 {
		err = io.EOF
	}
	return n, err
}

func (c *ringConn) ReadFull(b []byte) error {
	for len(b) > 0 {
		n, err := c.ReadSome(b)
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (c *ringConn) Close() error {
	h, err := appSubmit(func() (*completion.Handle, error) { return c.q.CloseFD(c.fd) })
	if err == nil {
		_, err = appWait(h, "client close")
	}
	return err
}

// TestAppTCPEchoServer runs an echo server driven only through a Queue and
// 150 concurrent clients, each sending random messages of 1 B to 64 KiB and
// checking the echo byte for byte; half the clients use Go's net package,
// half a second Queue (Socket, Connect, Send, Recv, CloseFD). A quarter of
// the clients then stay connected and idle, their handlers blocked in Recv
// (a Recv -> LinkTimeout chain, or a multishot recv's Next), and the
// server's queue is closed: Close must return, every handler must end with
// ECANCELED or ErrClosed and close its connection (the idle clients see
// EOF, also those on the other queue, which Close leaves alone), and no
// goroutine, operation or pin may be left.
//
// It runs on three queues: a default one; one with a 4-entry SQ and an
// 8-entry CQ, so that completions overflow the CQ all the time
// (IORING_FEAT_NODROP) and the kernel ends multishot requests with a last
// CQE; and an SQPOLL queue.
func TestAppTCPEchoServer(t *testing.T) {
	for _, c := range appServerQueueConfigs() {
		t.Run(c.name, func(t *testing.T) { echoScenario(t, c.cfg) })
	}
}

func echoScenario(t *testing.T, cfg QueueConfig) {
	base := runtime.NumGoroutine()
	// Half the clients run on a queue of their own: two queues, whose
	// operations have the same user data values, in one process; closing
	// the server's must leave the clients' alone.
	cq := newTestQueue(t, QueueConfig{Entries: 256, MaxInFlight: 1024})
	q := newTestQueue(t, cfg)
	lfd, sa := loopbackListener(t, 1024)
	t.Cleanup(func() { unix.Close(lfd) })
	const clients, rounds = 150, 3

	s := &echoServer{t: t, q: q, lfd: lfd, ended: map[string]int{}}
	multishotAccept := testutil.KernelAtLeast(5, 19)
	if testutil.KernelAtLeast(6, 0) {
		s.rings = make(chan *echoRing, clients)
		for i := 0; i < clients/2; i++ {
			bgid := uint16(100 + i)
			s.rings <- &echoRing{b: newMSBufRing(t, q, 4, 16<<10, bgid), bgid: bgid}
		}
	}
	s.wg.Add(1)
	go s.acceptLoop(multishotAccept)

	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	r0 := appRand(t, 1)
	seeds := make([]uint64, clients)
	for i := range seeds {
		seeds[i] = r0.Uint64()
	}
	var cw, idle sync.WaitGroup // every client; the idle ones' echo phase
	release := make(chan struct{})
	var idleEOF atomic.Int32
	for c := 0; c < clients; c++ {
		stay := c%4 == 0
		cw.Add(1)
		if stay {
			idle.Add(1)
		}
		go func(c int) {
			defer cw.Done()
			idleDone := func() {}
			if stay {
				var once sync.Once
				idleDone = func() { once.Do(idle.Done) }
				defer idleDone()
			}
			r := rand.New(rand.NewPCG(seeds[c], uint64(c)))
			var conn appConn
			var err error
			if c%2 == 1 {
				conn, err = dialRing(cq, sa)
			} else {
				conn, err = dialNet(addr)
			}
			if err != nil {
				t.Errorf("client %d: dial: %v", c, err)
				return
			}
			defer func() {
				if err := conn.Close(); err != nil {
					t.Errorf("client %d: close: %v", c, err)
				}
			}()
			for k := 0; k < rounds; k++ {
				msg := make([]byte, 1+r.IntN(64<<10))
				appFill(r, msg)
				werr := make(chan error, 1)
				go func() { werr <- conn.WriteAll(msg) }()
				got := make([]byte, len(msg))
				rerr := conn.ReadFull(got)
				if err := <-werr; err != nil {
					t.Errorf("client %d round %d: write %d bytes: %v", c, k, len(msg), err)
					return
				}
				if rerr != nil {
					t.Errorf("client %d round %d: read echo of %d bytes: %v", c, k, len(msg), rerr)
					return
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("client %d round %d: echo of %d bytes differs: %s", c, k, len(msg), testutil.AppFirstDiff(got, msg))
					return
				}
			}
			if !stay {
				return // closing makes the server's Recv return 0
			}
			idleDone()
			<-release
			// The server closes the connection when its queue closes.
			if n, err := conn.ReadSome(make([]byte, 1)); err != io.EOF {
				t.Errorf("idle client %d: read after Queue.Close: %d, %v; want EOF", c, n, err)
				return
			}
			idleEOF.Add(1)
		}(c)
	}

	// Every client has had its echoes; the busy ones are closing.
	if !testutil.WaitGroupWithin(&idle, testutil.AppHang) {
		t.Fatalf("idle clients did not finish their echoes in %v", testutil.AppHang)
	}
	const idleN = (clients + 3) / 4
	// Wait until only the idle clients' handlers are left, each waiting
	// for a receive, and nothing else is in flight but the accept.
	settled := testutil.Settle(testutil.AppHang, func() bool {
		return s.live.Load() == idleN && s.parked.Load() == idleN && q.InFlight() == int(s.parkOps.Load())+1
	})
	if t.Failed() {
		close(release)
		t.FailNow()
	}
	if !settled {
		t.Fatalf("before Close: %d live handlers (%d waiting for a receive), %d in flight; want %d, %d and %d (ended %v)",
			s.live.Load(), s.parked.Load(), q.InFlight(), idleN, idleN, s.parkOps.Load()+1, s.ended)
	}
	closeWithin(t, q, testutil.AppHang)
	if !testutil.WaitGroupWithin(&s.wg, testutil.AppHang) {
		t.Fatalf("server handlers still running %v after Queue.Close: %d live\n%s", testutil.AppHang, s.live.Load(), testutil.GoroutineDump())
	}
	close(release)
	if !testutil.WaitGroupWithin(&cw, testutil.AppHang) {
		t.Fatalf("clients still running %v after Queue.Close", testutil.AppHang)
	}
	if n := cq.InFlight(); n != 0 {
		t.Errorf("client queue: InFlight after the clients ended = %d", n)
	}
	closeWithin(t, cq, testutil.AppHang)

	if got := s.conns.Load(); got != clients {
		t.Errorf("accepted %d connections, want %d", got, clients)
	}
	want := map[string]int{"eof": clients - idleN, "closed": idleN}
	if len(s.ended) != len(want) || s.ended["eof"] != want["eof"] || s.ended["closed"] != want["closed"] {
		t.Errorf("handler results %v, want %v", s.ended, want)
	}
	if !errors.Is(s.acceptE, ErrClosed) && !errors.Is(s.acceptE, unix.ECANCELED) {
		t.Errorf("accept loop ended with %v, want ErrClosed or ECANCELED", s.acceptE)
	}
	if n := idleEOF.Load(); n != idleN {
		t.Errorf("%d idle clients saw EOF, want %d", n, idleN)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight after Close = %d", n)
	}
	t.Logf("multishot accept %v, multishot recv %v, streams restarted %d", multishotAccept, s.rings != nil, s.restart.Load())
	appNoGoroutineLeak(t, base)
}

// appSpan is a chunk of a file: [off, off+n).
type appSpan struct{ off, n int }

// appChunks cuts size bytes into chunks of 4 KiB to 1 MiB, in random order.
func appChunks(r *rand.Rand, size int) []appSpan {
	var spans []appSpan
	for off := 0; off < size; {
		n := min(size-off, 4<<10+r.IntN(1<<20))
		spans = append(spans, appSpan{off, n})
		off += n
	}
	r.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
	return spans
}

// appSplit cuts b into k pieces at random places (some may be empty).
func appSplit(r *rand.Rand, b []byte, k int) [][]byte {
	cuts := make([]int, 0, k+1)
	cuts = append(cuts, 0)
	for i := 1; i < k; i++ {
		cuts = append(cuts, r.IntN(len(b)+1))
	}
	cuts = append(cuts, len(b))
	for i := 1; i < len(cuts); i++ { // insertion sort: k is small
		for j := i; j > 0 && cuts[j] < cuts[j-1]; j-- {
			cuts[j], cuts[j-1] = cuts[j-1], cuts[j]
		}
	}
	out := make([][]byte, k)
	for i := range out {
		out[i] = b[cuts[i]:cuts[i+1]:cuts[i+1]]
	}
	return out
}

// TestAppFileCopy copies a 32 MiB file (out of the page cache, so that
// reads go to the device) through uring.File with 16 goroutines taking
// chunks of random size in random order. Each chunk goes one of five
// ways: File.ReadAt and WriteAt; ReadAt and a linked Write -> Fsync
// (DATASYNC) -> Read-back chain; ReadAtContext and WriteAtContext with
// contexts that end after a random 0-3 ms (the chunk is retried later when
// either ends first); Readv and Writev of the queue on the Files'
// descriptors with the chunk cut into up to 64 pieces; or a linked
// ReadFixed -> WriteFixed chain through the worker's registered buffer
// (the kernel copies on its own). A buffer is reused for the next chunk as
// soon as a call returns, also after a timeout: a kernel still writing
// into it would show in the copy. After the retries the copy must equal
// the source byte for byte.
func TestAppFileCopy(t *testing.T) {
	const size, workers = 32 << 20, 16
	r0 := appRand(t, 2)
	dir := t.TempDir()
	srcPath, dstPath := dir+"/src", dir+"/dst"
	src := make([]byte, size)
	appFill(r0, src)
	if err := os.WriteFile(srcPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	// Out of the page cache: write back, then drop the clean pages.
	if fd, err := unix.Open(srcPath, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Fdatasync(fd)
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		unix.Close(fd)
	}

	// One registered buffer per worker (mmap memory, unmapped after the
	// queue's Close) for the fifth way.
	const regSize = 4<<10 + 1<<20
	regMem := rawMmap(t, workers*regSize)
	q := newTestQueue(t, QueueConfig{Entries: 64})
	reg := make([][]byte, workers)
	iovs := make([]unix.Iovec, workers)
	for w := range reg {
		reg[w] = regMem[w*regSize : (w+1)*regSize : (w+1)*regSize]
		iovs[w] = rawIovec(reg[w])
	}
	nmodes := 5
	if err := q.Ring().RegisterBuffers(iovs); err != nil {
		t.Logf("RegisterBuffers: %v: no registered-buffer chains", err)
		nmodes = 4
	}
	in, err := OpenFile(q, srcPath, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := OpenFile(q, dstPath, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	// copySpan copies s through ReadAt and WriteAt into b.
	copySpan := func(b []byte, s appSpan) error {
		if n, err := in.ReadAt(b, int64(s.off)); n != s.n || err != nil {
			return fmt.Errorf("ReadAt %d@%d: %d, %v", s.n, s.off, n, err)
		}
		if n, err := out.WriteAt(b, int64(s.off)); n != s.n || err != nil {
			return fmt.Errorf("WriteAt %d@%d: %d, %v", s.n, s.off, n, err)
		}
		return nil
	}
	spans := appChunks(r0, size)
	work := make(chan appSpan, len(spans))
	for _, s := range spans {
		work <- s
	}
	close(work)
	var mu sync.Mutex
	var retry []appSpan
	var modes [5]atomic.Int32
	var timeouts atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		seed := r0.Uint64()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 2))
			buf := make([]byte, 4<<10+1<<20)
			back := make([]byte, len(buf))
			for s := range work {
				if t.Failed() {
					return
				}
				b := buf[:s.n]
				off := int64(s.off)
				mode := r.IntN(nmodes)
				modes[mode].Add(1)
				switch mode {
				case 0:
					if err := copySpan(b, s); err != nil {
						t.Error(err)
						return
					}
				case 1:
					if n, err := in.ReadAt(b, off); n != s.n || err != nil {
						t.Errorf("ReadAt %d@%d: %d, %v", s.n, s.off, n, err)
						return
					}
					rb := back[:s.n]
					clear(rb)
					hs, err := appSubmit(func() ([]*completion.Handle, error) {
						return q.Link(func(l *Link) {
							l.Write(out.Fd(), b, uint64(off))
							l.Fsync(out.Fd(), FsyncDatasync)
							l.Read(out.Fd(), rb, uint64(off))
						})
					})
					if err != nil {
						t.Errorf("Link: %v", err)
						return
					}
					var res [3]int
					var errs [3]error
					for i, h := range hs {
						res[i], errs[i] = appWait(h, "link member")
					}
					if res[0] != s.n || errs[0] != nil || res[1] != 0 || errs[1] != nil || res[2] != s.n || errs[2] != nil {
						t.Errorf("write->fsync->read chain %d@%d: %v %v", s.n, s.off, res, errs)
						return
					}
					if !bytes.Equal(rb, b) {
						t.Errorf("chain read-back %d@%d: %s", s.n, s.off, testutil.AppFirstDiff(rb, b))
						return
					}
				case 2:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
					n, err := in.ReadAtContext(ctx, b, off)
					if err == nil && n == s.n {
						n, err = out.WriteAtContext(ctx, b, off)
					}
					cancel()
					switch {
					case err == nil && n == s.n:
					case errors.Is(err, context.DeadlineExceeded):
						timeouts.Add(1)
						mu.Lock()
						retry = append(retry, s)
						mu.Unlock()
					default:
						t.Errorf("ReadAtContext/WriteAtContext %d@%d: %d, %v", s.n, s.off, n, err)
						return
					}
					// Whatever happened, the kernel is done with b: scribble
					// on it, as the next chunk would.
					for i := range b {
						b[i] = 0xA5
					}
				case 3:
					rv := appSplit(r, b, 1+r.IntN(64))
					h, err := appSubmit(func() (*completion.Handle, error) { return q.Readv(in.Fd(), rv, uint64(off)) })
					if err != nil {
						t.Errorf("Readv: %v", err)
						return
					}
					n, err := appWait(h, "readv")
					if err != nil || n > s.n {
						t.Errorf("Readv %d@%d: %d, %v", s.n, s.off, n, err)
						return
					}
					if n < s.n { // a short readv (never at this size in practice)
						if m, err := in.ReadAt(b[n:], off+int64(n)); m != s.n-n || err != nil {
							t.Errorf("ReadAt rest %d@%d: %d, %v", s.n-n, s.off+n, m, err)
							return
						}
					}
					wv := appSplit(r, b, 1+r.IntN(64))
					h, err = appSubmit(func() (*completion.Handle, error) { return q.Writev(out.Fd(), wv, uint64(off)) })
					if err != nil {
						t.Errorf("Writev: %v", err)
						return
					}
					if n, err = appWait(h, "writev"); err != nil || n > s.n {
						t.Errorf("Writev %d@%d: %d, %v", s.n, s.off, n, err)
						return
					}
					if n < s.n {
						if m, err := out.WriteAt(b[n:], off+int64(n)); m != s.n-n || err != nil {
							t.Errorf("WriteAt rest %d@%d: %d, %v", s.n-n, s.off+n, m, err)
							return
						}
					}
				case 4:
					// The kernel copies on its own: ReadFixed -> WriteFixed
					// through the worker's registered buffer, one chain.
					rb := reg[w][:s.n]
					hs, err := appSubmit(func() ([]*completion.Handle, error) {
						return q.Link(func(l *Link) {
							l.ReadFixed(in.Fd(), rb, uint64(off), w)
							l.WriteFixed(out.Fd(), rb, uint64(off), w)
						})
					})
					if err != nil {
						t.Errorf("fixed Link: %v", err)
						return
					}
					n0, e0 := appWait(hs[0], "read fixed")
					n1, e1 := appWait(hs[1], "write fixed")
					if n0 != s.n || e0 != nil || n1 != s.n || e1 != nil {
						t.Errorf("ReadFixed -> WriteFixed %d@%d: %d, %v and %d, %v", s.n, s.off, n0, e0, n1, e1)
						return
					}
				}
			}
		}(w)
	}
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("copy workers still running after %v", testutil.AppHang)
	}
	if t.Failed() {
		return
	}
	buf := make([]byte, 4<<10+1<<20)
	for _, s := range retry {
		if err := copySpan(buf[:s.n], s); err != nil {
			t.Fatalf("retry %v", err)
		}
	}
	if err := out.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dstPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("copy differs from the source: %s", testutil.AppFirstDiff(got, src))
	}
	// And through the File, in one call.
	clear(got)
	if n, err := out.ReadAt(got, 0); n != size || err != nil {
		t.Fatalf("ReadAt of the whole copy: %d, %v", n, err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("copy read through the File differs: %s", testutil.AppFirstDiff(got, src))
	}
	t.Logf("%d chunks, modes %d/%d/%d/%d/%d, %d timed out and retried", len(spans),
		modes[0].Load(), modes[1].Load(), modes[2].Load(), modes[3].Load(), modes[4].Load(), timeouts.Load())
}

// appStream is byte i of data pipe p's stream.
func appStream(p, i int) byte { return byte(i*7 + i>>8 + p*31) }

// appStreamData is the first n bytes of data pipe p's stream.
func appStreamData(p, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = appStream(p, i)
	}
	return data
}

// appCheckStreams wants got[p] to be data pipe p's stream of streamLen
// bytes, for every p.
func appCheckStreams(t *testing.T, got [][]byte, streamLen int) {
	t.Helper()
	for p := range got {
		if len(got[p]) != streamLen {
			t.Errorf("pipe %d: received %d bytes, want %d", p, len(got[p]), streamLen)
			continue
		}
		for i, c := range got[p] {
			if c != appStream(p, i) {
				t.Errorf("pipe %d: byte %d is %#x, want %#x (data lost, repeated or out of order)", p, i, c, appStream(p, i))
				break
			}
		}
	}
}

// appStreamsEnd waits for the goroutines of a streaming scenario (wg; what
// names them), wants got to be the streams of streamLen bytes
// (appCheckStreams) and nothing in flight on q.
func appStreamsEnd(t *testing.T, q *Queue, wg *sync.WaitGroup, what string, got [][]byte, streamLen int) {
	t.Helper()
	if !testutil.WaitGroupWithin(wg, testutil.AppHang) {
		t.Fatalf("%s still running after %v (%d in flight)", what, testutil.AppHang, q.InFlight())
	}
	appCheckStreams(t, got, streamLen)
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight at the end = %d", n)
	}
}

// TestAppCancelStorm: 64 goroutines read pipes nobody writes to and end
// their reads through contexts at random times (a deadline of 0-3 ms, a
// cancel from another goroutine, a context ended before the Wait, a File
// ReadAtContext, Queue.Cancel, a linked timeout), while 8 writers stream
// 256 KiB each into 8 other pipes through the queue and 8 readers receive
// them with reads whose contexts also end at random. Every handle must end
// (the idle reads with ECANCELED, or ETIME/ECANCELED pairs for the linked
// timeouts), and each stream must arrive exactly once and in order: a read
// whose context ended still reports what it received once its handle is
// done, and that data must be kept.
//
// It runs on a default queue, on one whose 8-entry CQ overflows all the
// time, and on an SQPOLL queue.
func TestAppCancelStorm(t *testing.T) {
	for _, c := range appQueueConfigs() {
		t.Run(c.name, func(t *testing.T) { cancelStorm(t, c.cfg) })
	}
}

// appQueueConfig is a queue a scenario runs on, and its subtest's name.
type appQueueConfig struct {
	name string
	cfg  QueueConfig
}

// appQueueConfigs are the queues a scenario runs on: default, a CQ that
// overflows all the time (IORING_FEAT_NODROP keeps what does not fit) and
// SQPOLL.
func appQueueConfigs() []appQueueConfig {
	return []appQueueConfig{
		{"default", QueueConfig{Entries: 128}},
		{"overflow", QueueConfig{Entries: 4, Params: &Params{Flags: SetupCQSize, CQEntries: 8}, MaxInFlight: 512}},
		{"sqpoll", QueueConfig{Entries: 128, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 2}}},
	}
}

// appServerQueueConfigs are the same three queues for a server: a 256-entry
// SQ (4 entries where the CQ is to overflow) and room for 1024 operations in
// flight.
func appServerQueueConfigs() []appQueueConfig {
	return []appQueueConfig{
		{"default", QueueConfig{Entries: 256, MaxInFlight: 1024}},
		{"overflow", QueueConfig{Entries: 4, Params: &Params{Flags: SetupCQSize, CQEntries: 8}, MaxInFlight: 1024}},
		{"sqpoll", QueueConfig{Entries: 256, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 2}, MaxInFlight: 1024}},
	}
}

func cancelStorm(t *testing.T, cfg QueueConfig) {
	const idlers, iters, streams, streamLen = 64, 24, 8, 256 << 10
	base := runtime.NumGoroutine()
	q := newTestQueue(t, cfg)
	r0 := appRand(t, 3)
	var wg sync.WaitGroup
	var ways [6]atomic.Int32

	for g := 0; g < idlers; g++ {
		pr, _ := testPipe(t) // the write end stays open: the reads block
		var f *File
		if g%8 == 0 {
			fd, err := unix.Dup(pr)
			if err != nil {
				t.Fatal(err)
			}
			f = NewFile(q, fd, "idle-pipe-"+strconv.Itoa(g))
		}
		seed := r0.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f != nil {
				defer f.Close()
			}
			r := rand.New(rand.NewPCG(seed, 3))
			buf := make([]byte, 512)
			for i := 0; i < iters && !t.Failed(); i++ {
				way := r.IntN(6)
				if f == nil && way == 4 {
					way = 0
				}
				ways[way].Add(1)
				d := time.Duration(r.IntN(3000)) * time.Microsecond
				if way == 4 {
					ctx, cancel := context.WithTimeout(context.Background(), d)
					n, err := f.ReadAtContext(ctx, buf, 0)
					cancel()
					if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("idle File.ReadAtContext: %d, %v; want 0, DeadlineExceeded", n, err)
					}
					continue
				}
				if way == 5 {
					hs, err := appSubmit(func() ([]*completion.Handle, error) {
						return q.Link(func(l *Link) {
							l.Read(pr, buf, 0)
							l.LinkTimeout(d, 0)
						})
					})
					if err != nil {
						t.Errorf("Link: %v", err)
						return
					}
					n0, e0 := appWait(hs[0], "linked read")
					n1, e1 := appWait(hs[1], "link timeout")
					if n0 != 0 || !errors.Is(e0, unix.ECANCELED) && !errors.Is(e0, unix.EINTR) || n1 != 0 || !errors.Is(e1, unix.ETIME) {
						t.Errorf("idle read + link timeout: %d, %v and %d, %v; want ECANCELED and ETIME", n0, e0, n1, e1)
					}
					continue
				}
				h, err := appSubmit(func() (*completion.Handle, error) { return q.Read(pr, buf, 0) })
				if err != nil {
					t.Errorf("Read: %v", err)
					return
				}
				var ctx context.Context
				var cancel context.CancelFunc
				switch way {
				case 0:
					ctx, cancel = context.WithTimeout(context.Background(), d)
				case 1:
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(d, cancel)
				case 2:
					ctx, cancel = context.WithCancel(context.Background())
					cancel()
				case 3:
					time.Sleep(d)
					c, err := q.Cancel(h)
					if err != nil {
						t.Errorf("Cancel: %v", err)
						return
					}
					// 0: found and cancelled; ENOENT: it was not in the
					// kernel yet or any more; EALREADY: running.
					if n, err := appWait(c, "cancel"); n != 0 || err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EALREADY) {
						t.Errorf("Cancel's own result: %d, %v", n, err)
					}
					ctx, cancel = context.WithTimeout(context.Background(), testutil.AppHang)
				}
				n, err := h.Wait(ctx)
				cancel()
				if way != 3 && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("idle read way %d: Wait = %d, %v; want the context's error", way, n, err)
				}
				if !appDone(h) {
					t.Errorf("idle read way %d: no completion %v after its context ended", way, testutil.AppHang)
					return
				}
				if n, err := h.Result(); n != 0 || !errors.Is(err, unix.ECANCELED) {
					t.Errorf("idle read way %d: result %d, %v; want ECANCELED", way, n, err)
				}
			}
		}()
	}

	// The data pipes.
	got := make([][]byte, streams)
	var dataCancels atomic.Int32
	for p := 0; p < streams; p++ {
		ap := testutil.NewAppPipe(t, false)
		pr, pw, closeW := ap.R, ap.W, ap.CloseW
		seed := r0.Uint64()
		wg.Add(2)
		go func() { // writer: chunks of 1 B to 32 KiB through the queue
			defer wg.Done()
			defer closeW() // the reader's EOF
			r := rand.New(rand.NewPCG(seed, 4))
			data := appStreamData(p, streamLen)
			for off := 0; off < streamLen; {
				n := min(streamLen-off, 1+r.IntN(32<<10))
				h, err := appSubmit(func() (*completion.Handle, error) { return q.Write(pw, data[off:off+n], 0) })
				if err != nil {
					t.Errorf("pipe %d: Write: %v", p, err)
					return
				}
				m, err := appWait(h, "pipe write")
				if err != nil || m <= 0 || m > n {
					t.Errorf("pipe %d: write of %d: %d, %v", p, n, m, err)
					return
				}
				off += m
				if r.IntN(4) == 0 {
					time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
				}
			}
		}()
		go func() { // reader: reads of random size whose contexts end at random
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 5))
			var all []byte
			for !t.Failed() {
				buf := make([]byte, 1+r.IntN(16<<10))
				h, err := appSubmit(func() (*completion.Handle, error) { return q.Read(pr, buf, 0) })
				if err != nil {
					t.Errorf("pipe %d: Read: %v", p, err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(1500))*time.Microsecond)
				n, err := h.Wait(ctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					dataCancels.Add(1)
					// The read may have received data before the cancel
					// reached it: its result says so.
					if !appDone(h) {
						t.Errorf("pipe %d: no completion %v after the context ended", p, testutil.AppHang)
						return
					}
					n, err = h.Result()
					if errors.Is(err, unix.ECANCELED) || errors.Is(err, unix.EINTR) {
						continue
					}
				}
				if err != nil {
					t.Errorf("pipe %d: read: %d, %v", p, n, err)
					return
				}
				if n == 0 {
					break // EOF
				}
				all = append(all, buf[:n]...)
			}
			got[p] = all
		}()
	}
	appStreamsEnd(t, q, &wg, "storm goroutines", got, streamLen)
	t.Logf("idle ways %d/%d/%d/%d/%d/%d, %d data reads timed out", ways[0].Load(), ways[1].Load(),
		ways[2].Load(), ways[3].Load(), ways[4].Load(), ways[5].Load(), dataCancels.Load())
	closeWithin(t, q, testutil.AppHang)
	appNoGoroutineLeak(t, base)
}

// appFileByte is byte i of test file k in TestAppFDReuse.
func appFileByte(k, i int) byte { return byte(k*37 + i + i>>12*5) }

// TestAppFDReuse opens, reads and closes files from 8 goroutines at once so
// that descriptor numbers are reused all the time, each file going one of
// several ways (OpenFile with or without O_DIRECT, then File.ReadAt or
// Queue.Read/Readv on its descriptor, closed with File.Close; or
// Queue.Openat and Queue.CloseFD; or open(2) and close(2)); every read must
// return the content of the file it was made on, never that of a file that
// reused the number (the queue remembers per descriptor number whether it
// is O_DIRECT). Meanwhile File.Close races ReadAt: a read of a closed File
// fails with fs.ErrClosed, and no read returns another file's data.
func TestAppFDReuse(t *testing.T) {
	const files, fsize, workers, iters = 16, 64 << 10, 8, 40
	q := newTestQueue(t, QueueConfig{Entries: 64})
	dir := testutil.TempDir(t)
	paths := make([]string, files)
	for k := range paths {
		paths[k] = dir + "/f" + strconv.Itoa(k)
		b := make([]byte, fsize)
		for i := range b {
			b[i] = appFileByte(k, i)
		}
		if err := os.WriteFile(paths[k], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r0 := appRand(t, 6)
	check := func(what string, k, off int, b []byte) bool {
		for i, c := range b {
			if c != appFileByte(k, off+i) {
				t.Errorf("%s of file %d at %d: byte %d is %#x, want %#x (another file's data?)", what, k, off, i, c, appFileByte(k, off+i))
				return false
			}
		}
		return true
	}
	// read makes a read of n bytes on fd (submit), reporting a failure, which
	// what names.
	read := func(what string, fd, n int, submit func() (*completion.Handle, error)) {
		h, err := appSubmit(submit)
		if err == nil {
			var m int
			if m, err = appWait(h, what); m != n {
				err = fmt.Errorf("count %d, %v", m, err)
			}
		}
		if err != nil {
			t.Errorf("%s fd %d: %v", what, fd, err)
		}
	}
	var wg sync.WaitGroup
	var ways [5]atomic.Int32
	for w := 0; w < workers; w++ {
		seed := r0.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 6))
			buf := testutil.AlignedBuf(16 << 10)
			for i := 0; i < iters && !t.Failed(); i++ {
				k := r.IntN(files)
				direct := r.IntN(2) == 0
				flags := unix.O_RDONLY
				if direct {
					flags |= unix.O_DIRECT
				}
				// Aligned for O_DIRECT: 4 KiB multiples.
				n := 4096 * (1 + r.IntN(4))
				off := 4096 * r.IntN((fsize-n)/4096+1)
				b := buf[:n]
				clear(b)
				way := r.IntN(5)
				ways[way].Add(1)
				switch way {
				case 0, 1, 2: // a File
					f, err := OpenFile(q, paths[k], flags, 0)
					if err != nil {
						t.Errorf("OpenFile: %v", err)
						return
					}
					fd := f.Fd()
					switch way {
					case 0:
						m, err := f.ReadAt(b, int64(off))
						if m != n || err != nil {
							t.Errorf("ReadAt: %d, %v", m, err)
						}
					case 1:
						read("Queue.Read", fd, n, func() (*completion.Handle, error) { return q.Read(fd, b, uint64(off)) })
					case 2:
						parts := [][]byte{b[:n/2], b[n/2:]}
						if direct { // keep every piece a multiple of 4 KiB
							parts = [][]byte{b}
						}
						read("Queue.Readv", fd, n, func() (*completion.Handle, error) { return q.Readv(fd, parts, uint64(off)) })
					}
					if err := f.Close(); err != nil {
						t.Errorf("File.Close: %v", err)
					}
				case 3: // Openat and CloseFD through the ring
					h, err := appSubmit(func() (*completion.Handle, error) {
						return q.Openat(unix.AT_FDCWD, paths[k], flags|unix.O_CLOEXEC, 0)
					})
					if err != nil {
						t.Errorf("Openat: %v", err)
						return
					}
					fd, err := appWait(h, "openat")
					if err != nil {
						t.Errorf("Openat: %v", err)
						return
					}
					read("Queue.Read", fd, n, func() (*completion.Handle, error) { return q.Read(fd, b, uint64(off)) })
					h, err = appSubmit(func() (*completion.Handle, error) { return q.CloseFD(fd) })
					if err == nil {
						_, err = appWait(h, "closefd")
					}
					if err != nil {
						t.Errorf("CloseFD(%d): %v", fd, err)
						unix.Close(fd)
					}
				case 4: // plain open(2), read through the queue, close(2)
					fd, err := unix.Open(paths[k], flags|unix.O_CLOEXEC, 0)
					if err != nil {
						t.Errorf("open: %v", err)
						return
					}
					read("Queue.Read", fd, n, func() (*completion.Handle, error) { return q.Read(fd, b, uint64(off)) })
					unix.Close(fd)
				}
				if !check(fmt.Sprintf("way %d (direct %v)", way, direct), k, off, b) {
					return
				}
			}
		}()
	}

	// Close racing ReadAt, the numbers reused at once by other opens.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(r0.Uint64(), 7))
		for i := 0; i < 30 && !t.Failed(); i++ {
			k := r.IntN(files)
			f, err := OpenFile(q, paths[k], unix.O_RDONLY, 0)
			if err != nil {
				t.Errorf("OpenFile: %v", err)
				return
			}
			var rw sync.WaitGroup
			for g := 0; g < 3; g++ {
				rw.Add(1)
				go func() {
					defer rw.Done()
					b := make([]byte, 4096)
					for j := 0; ; j++ {
						off := 4096 * (j % (fsize / 4096))
						clear(b)
						n, err := f.ReadAt(b, int64(off))
						if err != nil {
							if !errors.Is(err, fs.ErrClosed) {
								t.Errorf("ReadAt racing Close: %d, %v; want fs.ErrClosed", n, err)
							}
							return
						}
						if n != len(b) || !check("ReadAt racing Close", k, off, b) {
							return
						}
					}
				}()
			}
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			if err := f.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			rw.Wait()
		}
	}()
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("workers still running after %v", testutil.AppHang)
	}
	t.Logf("ways %d/%d/%d/%d/%d", ways[0].Load(), ways[1].Load(), ways[2].Load(), ways[3].Load(), ways[4].Load())
}

// TestAppLargeIovecs moves data with 1024-entry iovec arrays (UIO_MAXIOV):
// Writev of 1024 separately allocated pieces of 0-300 bytes at a random
// offset, Readv back into 1024 other pieces (sub-slices of one array, so the
// same object is pinned 1024 times), a linked Writev2(RWF_DSYNC) ->
// Readv2 chain, and SendmsgBuffers/RecvmsgBuffers of 1024 buffers over a
// socket pair, with a collection running all the time; every byte must
// land where its iovec said.
func TestAppLargeIovecs(t *testing.T) {
	const iovs = 1024
	q := newTestQueue(t, QueueConfig{Entries: 32})
	_, fd := tempFile(t, nil)
	r := appRand(t, 8)
	defer testutil.AppGC(false)()

	pieces := func() ([][]byte, []byte) {
		bs := make([][]byte, iovs)
		var all []byte
		for i := range bs {
			bs[i] = make([]byte, r.IntN(301))
			appFill(r, bs[i])
			all = append(all, bs[i]...)
		}
		return bs, all
	}
	// scatter cuts a fresh array of n bytes into iovs pieces.
	scatter := func(n int) ([][]byte, []byte) {
		arr := make([]byte, n)
		for i := range arr {
			arr[i] = 0xEE
		}
		return appSplit(r, arr, iovs), arr
	}
	for round := 0; round < 6; round++ {
		wb, want := pieces()
		off := uint64(r.IntN(1 << 20))
		h, err := q.Writev(fd, wb, off)
		mustRes(t, h, err, len(want))
		rb, arr := scatter(len(want))
		runtime.GC()
		h, err = q.Readv(fd, rb, off)
		mustRes(t, h, err, len(want))
		if !bytes.Equal(arr, want) {
			t.Fatalf("round %d: Readv of %d iovecs: %s", round, iovs, testutil.AppFirstDiff(arr, want))
		}

		// The same as a chain, with RWF flags.
		wb, want = pieces()
		rb, arr = scatter(len(want))
		hs, err := q.Link(func(l *Link) {
			l.Writev2(fd, wb, off, unix.RWF_DSYNC)
			l.Readv2(fd, rb, off, 0)
		})
		got := results(t, hs, err)
		if got[0] != len(want) || got[1] != len(want) {
			t.Fatalf("round %d: Writev2 -> Readv2 chain: %v, want %d each", round, got, len(want))
		}
		if !bytes.Equal(arr, want) {
			t.Fatalf("round %d: chained Readv2 of %d iovecs: %s", round, iovs, testutil.AppFirstDiff(arr, want))
		}
	}

	// A message of 1024 buffers over a datagram socket pair: it arrives
	// whole, in order.
	sv, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sv[0])
	defer unix.Close(sv[1])
	for round := 0; round < 4; round++ {
		wb, want := pieces()
		if len(want) > 100<<10 { // stay below the socket's buffer
			wb, want = wb[:iovs/2], want[:0]
			for _, b := range wb {
				want = append(want, b...)
			}
		}
		rb, arr := scatter(len(want) + 1) // one spare byte: no MSG_TRUNC
		hr, m, err := q.RecvmsgBuffers(sv[1], rb, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := q.SendmsgBuffers(sv[0], wb, nil, nil, 0)
		mustRes(t, hs, err, len(want))
		n, _, flags, _ := recvmsgResult(t, hr, m, nil)
		if n != len(want) || flags&unix.MSG_TRUNC != 0 {
			t.Fatalf("round %d: recvmsg of %d buffers: %d bytes, flags %#x; want %d", round, len(rb), n, flags, len(want))
		}
		if !bytes.Equal(arr[:n], want) || arr[n] != 0xEE {
			t.Fatalf("round %d: recvmsg data: %s", round, testutil.AppFirstDiff(arr[:n], want))
		}
	}
}

// TestAppCloseRacesSubmitters: in each of 6 rounds, 24 goroutines submit a
// mix of everything (NOPs, reads of an idle pipe, file writes and reads,
// write -> fsync chains, timeouts, polls, File calls, multishot polls)
// as fast as they can, and Queue.Close comes at a random moment. Close
// must return; every submit fails only with ErrClosed (or ErrBusy before
// it); every handle a submit returned completes, with its result or
// ECANCELED (-ETIME for timeouts); a multishot stream's Next then returns
// ErrClosed; after Close every call fails with ErrClosed; and nothing is
// left in flight or pinned (newTestQueue's leak check, per round).
func TestAppCloseRacesSubmitters(t *testing.T) {
	base := runtime.NumGoroutine()
	r0 := appRand(t, 9)
	for _, c := range appQueueConfigs() {
		cfg := c.cfg
		if cfg.MaxInFlight == 0 {
			cfg.Entries, cfg.MaxInFlight = 16, 64
		}
		for round := 0; round < 3; round++ {
			t.Run(c.name+strconv.Itoa(round), func(t *testing.T) {
				closeRacesSubmittersRound(t, cfg, r0.Uint64())
			})
			if t.Failed() {
				break
			}
		}
	}
	appNoGoroutineLeak(t, base)
}

func closeRacesSubmittersRound(t *testing.T, cfg QueueConfig, seed uint64) {
	const workers = 24
	q := newTestQueue(t, cfg)
	pr, _ := testPipe(t)
	_, fd := tempFile(t, make([]byte, 64<<10))
	f := NewFile(q, func() int {
		d, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}(), "file")
	defer f.Close()

	type result struct {
		h    *completion.Handle
		what string
	}
	var mu sync.Mutex
	var handles []result
	var streams []*Multishot
	var closing atomic.Bool
	one := func(h *completion.Handle, err error) ([]*completion.Handle, error) {
		return []*completion.Handle{h}, err
	}
	var wg sync.WaitGroup
	r := rand.New(rand.NewPCG(seed, 9))
	for w := 0; w < workers; w++ {
		wseed := r.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(wseed, 10))
			wbuf := make([]byte, 4096)
			for {
				var hs []*completion.Handle
				var err error
				what := ""
				switch r.IntN(9) {
				case 0:
					what = "nop"
					hs, err = one(q.Nop())
				case 1:
					what = "idle pipe read"
					hs, err = one(q.Read(pr, make([]byte, 64), 0))
				case 2:
					what = "file write"
					hs, err = one(q.Write(fd, wbuf, uint64(r.IntN(16))*4096))
				case 3:
					what = "write->fsync chain"
					hs, err = q.Link(func(l *Link) {
						l.Write(fd, wbuf, 0)
						l.Fsync(fd, FsyncDatasync)
					})
				case 4:
					what = "timeout"
					hs, err = one(q.Timeout(time.Hour, 0, 0))
				case 5:
					what = "poll"
					hs, err = one(q.PollAdd(pr, unix.POLLIN))
				case 6:
					what = "File.ReadAt"
					b := make([]byte, 4096)
					n, ferr := f.ReadAtContext(context.Background(), b, int64(r.IntN(16))*4096)
					if ferr == nil && n != len(b) {
						t.Errorf("File.ReadAt: %d, nil", n)
						return
					}
					if errors.Is(ferr, unix.ECANCELED) && closing.Load() {
						continue // in flight when Close cancelled it
					}
					err = ferr
				case 7:
					what = "multishot poll"
					var m *Multishot
					m, err = q.PollMultishot(pr, unix.POLLIN)
					if err == nil {
						mu.Lock()
						streams = append(streams, m)
						mu.Unlock()
					}
				case 8:
					what = "read of the file"
					hs, err = one(q.Read(fd, make([]byte, 4096), uint64(r.IntN(16))*4096))
				}
				if errors.Is(err, ErrBusy) {
					runtime.Gosched()
					continue
				}
				if errors.Is(err, ErrClosed) {
					if !closing.Load() {
						t.Errorf("%s: ErrClosed before Close", what)
					}
					return
				}
				if err != nil {
					t.Errorf("%s: %v", what, err)
					return
				}
				mu.Lock()
				for _, h := range hs {
					handles = append(handles, result{h, what})
				}
				mu.Unlock()
				// Now and then wait for one, mostly not.
				if len(hs) > 0 && what != "idle pipe read" && what != "timeout" && what != "poll" && r.IntN(4) == 0 {
					if _, err := appWait(hs[len(hs)-1], what); err != nil && !errors.Is(err, unix.ECANCELED) {
						t.Errorf("%s: %v", what, err)
						return
					}
				}
			}
		}()
	}
	time.Sleep(time.Duration(r.IntN(20000)) * time.Microsecond)
	closing.Store(true)
	closeWithin(t, q, testutil.AppHang)
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("submitters still running %v after Close", testutil.AppHang)
	}
	for _, res := range handles {
		if !appDone(res.h) {
			t.Fatalf("%s: no completion after Close returned", res.what)
		}
		n, err := res.h.Result()
		switch res.what {
		case "nop", "write->fsync chain":
			if err != nil && !errors.Is(err, unix.ECANCELED) {
				t.Errorf("%s: %d, %v", res.what, n, err)
			}
		case "file write", "read of the file":
			if err == nil && n != 4096 || err != nil && !errors.Is(err, unix.ECANCELED) {
				t.Errorf("%s: %d, %v", res.what, n, err)
			}
		case "idle pipe read", "timeout", "poll":
			if !errors.Is(err, unix.ECANCELED) && !errors.Is(err, unix.EINTR) {
				t.Errorf("%s: %d, %v; want ECANCELED", res.what, n, err)
			}
		}
	}
	for _, m := range streams {
		if _, _, err := m.Next(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("multishot Next after Queue.Close: %v, want ErrClosed", err)
		}
		if err := m.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("Multishot.Close after Queue.Close: %v, want ErrClosed", err)
		}
	}
	if _, err := q.Nop(); !errors.Is(err, ErrClosed) {
		t.Errorf("Nop after Close: %v", err)
	}
	if _, err := q.Link(func(l *Link) { l.Nop() }); !errors.Is(err, ErrClosed) {
		t.Errorf("Link after Close: %v", err)
	}
	if _, err := q.PollMultishot(pr, unix.POLLIN); !errors.Is(err, ErrClosed) {
		t.Errorf("PollMultishot after Close: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("File.ReadAt after Queue.Close: %v", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight after Close = %d", n)
	}
	t.Logf("%d handles, %d multishot streams", len(handles), len(streams))
}

// TestAppGCPressureBuffers checks, with the collector running all the time
// (GOGC=1 and a runtime.GC loop), that the kernel writes into the buffer an
// operation was given and nowhere else: 8 goroutines read file regions into
// fresh buffers framed by guard bytes and check both; reads of pipes are
// submitted and their handles and buffers dropped at once, or dropped after
// a Wait whose context ends, and only then is data written to the pipes:
// the kernel writes into the pinned, unreachable buffers, which the
// collector must not have handed out again (4096 canaries of 16 B to 4 KiB
// allocated meanwhile stay intact), and every pin is released in the end.
// Datagram receives (RecvmsgBuffers) are dropped the same way.
func TestAppGCPressureBuffers(t *testing.T) {
	defer setGCPercent(1)()
	q := newTestQueue(t, QueueConfig{Entries: 64})
	const fsize = 1 << 20
	content := make([]byte, fsize)
	r0 := appRand(t, 11)
	appFill(r0, content)
	_, fd := tempFile(t, content)
	defer testutil.AppGC(false)()

	// Reads of pipes (Read, and Readv into three buffers) and receives of
	// datagrams (RecvmsgBuffers: the kernel also writes the msghdr and the
	// sender's address) whose memory nobody keeps.
	const pipes = 32
	var pws, dgrams []int
	canaryPattern := func(i int) byte { return byte(0x5A ^ i) }
	for p := 0; p < pipes; p++ {
		pr, pw := testPipe(t)
		pws = append(pws, pw)
		var h *completion.Handle
		var err error
		if p%4 < 2 {
			h, err = q.Read(pr, make([]byte, 4096), 0)
		} else {
			h, err = q.Readv(pr, [][]byte{make([]byte, 100), make([]byte, 1000), make([]byte, 2996)}, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		if p%2 == 1 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			h.Wait(ctx) // its context ends: cancelled, or it gets the data
			cancel()
		}
	}
	for p := 0; p < 8; p++ {
		sv, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(sv[0]); unix.Close(sv[1]) })
		dgrams = append(dgrams, sv[0])
		if _, _, err := q.RecvmsgBuffers(sv[1], [][]byte{make([]byte, 64), make([]byte, 4032)}, make([]byte, 64), 0); err != nil {
			t.Fatal(err)
		}
	}
	var canaries [][]byte
	sizes := []int{16, 48, 176, 192, 512, 4096}
	for i := 0; i < 4096; i++ {
		if i%256 == 0 {
			runtime.GC()
		}
		c := make([]byte, sizes[i%len(sizes)])
		for j := range c {
			c[j] = canaryPattern(i)
		}
		canaries = append(canaries, c)
	}
	junk := bytes.Repeat([]byte{0xFF}, 4096)
	for _, pw := range pws {
		if n, err := unix.Write(pw, junk); n != len(junk) || err != nil {
			t.Fatalf("write to pipe: %d, %v", n, err)
		}
	}
	for _, s := range dgrams {
		if n, err := unix.Write(s, junk); n != len(junk) || err != nil {
			t.Fatalf("send datagram: %d, %v", n, err)
		}
	}

	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		seed := r0.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 12))
			for i := 0; i < 200 && !t.Failed(); i++ {
				n := 1 + r.IntN(32<<10)
				off := r.IntN(fsize - n)
				frame := make([]byte, n+128)
				for j := range frame {
					frame[j] = 0xC3
				}
				b := frame[64 : 64+n : 64+n]
				_ = make([]byte, r.IntN(64<<10)) // garbage
				var h *completion.Handle
				var err error
				if r.IntN(2) == 0 {
					h, err = appSubmit(func() (*completion.Handle, error) { return q.Read(fd, b, uint64(off)) })
				} else {
					h, err = appSubmit(func() (*completion.Handle, error) {
						return q.Readv(fd, appSplit(r, b, 1+r.IntN(8)), uint64(off))
					})
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if i%16 == 0 {
					runtime.GC()
				}
				if m, err := appWait(h, "read"); m != n || err != nil {
					t.Errorf("read %d@%d: %d, %v", n, off, m, err)
					return
				}
				if !bytes.Equal(b, content[off:off+n]) {
					t.Errorf("read %d@%d: %s", n, off, testutil.AppFirstDiff(b, content[off:off+n]))
					return
				}
				for j := 0; j < 64; j++ {
					if frame[j] != 0xC3 || frame[64+n+j] != 0xC3 {
						t.Errorf("read %d@%d wrote outside its buffer", n, off)
						return
					}
				}
			}
		}()
	}
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("readers still running after %v", testutil.AppHang)
	}
	// Every dropped pipe read has its data (or was cancelled): nothing is
	// in flight, and no canary was written to.
	if !testutil.Settle(testutil.AppHang, func() bool { return q.InFlight() == 0 }) {
		t.Fatalf("%d operations still in flight", q.InFlight())
	}
	for i, c := range canaries {
		for j, x := range c {
			if x != canaryPattern(i) {
				t.Fatalf("canary %d byte %d is %#x, want %#x: the kernel wrote into memory the collector reused", i, j, x, canaryPattern(i))
			}
		}
	}
}

// TestAppRecvMultishotBufferAccounting: a server reading a TCP stream with
// multishot recvs on a ring of 16 provided buffers closes and restarts its
// stream again and again (Multishot.Close, Cancel, ENOBUFS, the kernel's
// own end when the CQ is full) while the client keeps sending. Every buffer
// the kernel takes must come back to the server exactly once, through Next
// or DiscardedBuffers: a buffer handed out twice while the server holds it
// means it was reported twice (and given back twice), and at the end, with
// everything given back, a stream that gives nothing back must take
// exactly 16 buffers before ENOBUFS (a lost buffer makes it fewer). The
// bytes Next returns must be the client's stream, in order, with the
// stretches that discarded buffers held missing.
func TestAppRecvMultishotBufferAccounting(t *testing.T) {
	testutil.RequireKernel(t, 6, 0, "IORING_RECV_MULTISHOT")
	for _, c := range []appQueueConfig{
		{"default", QueueConfig{Entries: 64}},
		{"overflow", QueueConfig{Entries: 4, Params: &Params{Flags: SetupCQSize, CQEntries: 8}, MaxInFlight: 64}},
	} {
		t.Run(c.name, func(t *testing.T) { recvAccountingScenario(t, c.cfg) })
	}
}

func recvAccountingScenario(t *testing.T, cfg QueueConfig) {
	const nbuf, bsize, bgid = 16, 4096, 7
	var sfd0 int
	q := newTestQueue(t, cfg)
	br := newMSBufRing(t, q, nbuf, bsize, bgid)
	{ // the kernel has multishot recv (skips, by name, if not)
		a, _ := msConnPair(t)
		m, err := q.RecvMultishot(a, bgid, 0)
		msRecvStarted(t, q, m, err).Close()
	}
	// Streams started below may end at once (ENOBUFS with data waiting),
	// which msRecvStarted would take for a refusal.
	start := func() *Multishot {
		t.Helper()
		m, err := q.RecvMultishot(sfd0, bgid, 0)
		if err != nil {
			t.Fatalf("RecvMultishot: %v", err)
		}
		return m
	}
	lfd, sa := msListener(t)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port), testutil.AppHang)
	if err != nil {
		t.Fatal(err)
	}
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	defer unix.Close(sfd)
	sfd0 = sfd
	// The client streams 8-byte big-endian counters until stopped.
	stop := make(chan struct{})
	wdone := make(chan error, 1)
	go func() {
		var chunk [512]byte
		var ctr uint64
		for {
			select {
			case <-stop:
				wdone <- nil
				return
			default:
			}
			for i := 0; i < len(chunk); i += 8 {
				binary.BigEndian.PutUint64(chunk[i:], ctr)
				ctr++
			}
			conn.SetWriteDeadline(time.Now().Add(testutil.AppHang))
			if _, err := conn.Write(chunk[:]); err != nil {
				wdone <- err
				return
			}
		}
	}()
	stopped := false
	stopClient := func() {
		if !stopped {
			stopped = true
			close(stop)
			conn.Close() // wakes a blocked Write
			<-wdone
		}
	}
	defer stopClient()

	r := appRand(t, 13)
	held := map[uint16]bool{}
	take := func(what string, flags uint32) (uint16, bool) {
		bid, ok := CQEBufferID(flags)
		if !ok || bid >= nbuf {
			t.Fatalf("%s: CQE flags %#x name no buffer of the ring", what, flags)
		}
		if held[bid] {
			t.Fatalf("%s: buffer %d handed out again while the server holds it (reported twice, or given back twice)", what, bid)
		}
		held[bid] = true
		return bid, ok
	}
	give := func(bid uint16) {
		if !held[bid] {
			t.Fatalf("giving back buffer %d, which the server does not hold", bid)
		}
		delete(held, bid)
		br.give(bid)
	}
	// The stream as received: counters must increase, by exactly one
	// within a CQE's data, and never go back.
	var partial []byte
	last := int64(-1)
	consume := func(b []byte, gap bool) {
		if gap {
			partial = partial[:0] // a discarded buffer's bytes are gone
		}
		partial = append(partial, b...)
		for len(partial) >= 8 {
			v := int64(binary.BigEndian.Uint64(partial))
			if gap {
				gap = false // realign: the first whole counter after a gap
				for v <= last || v > last+1<<20 {
					partial = partial[1:]
					if len(partial) < 8 {
						return
					}
					v = int64(binary.BigEndian.Uint64(partial))
				}
			} else if v != last+1 {
				t.Fatalf("stream counter %d after %d: data lost, repeated or out of order", v, last)
			}
			last = v
			partial = partial[8:]
		}
	}

	var ends [4]int // closed, cancelled, ENOBUFS, ended by the kernel
	gap := false
	for round := 0; round < 40; round++ {
		m := start()
		steps := r.IntN(24)
		how := r.IntN(3)
		ended := false
		for i := 0; i < steps && !ended; i++ {
			res, flags, err := next(t, m)
			switch {
			case errors.Is(err, unix.ENOBUFS):
				ends[2]++
				ended = true
				gap = false // ENOBUFS consumes no data
				continue
			case err != nil:
				t.Fatalf("round %d: Next: %d, %#x, %v", round, res, flags, err)
			}
			bid, _ := take("Next", flags)
			consume(br.bufs[bid][:res], gap)
			gap = false
			if flags&CQEFMore == 0 {
				ends[3]++
				ended = true
			}
			// Give back at random, some later.
			for b := range held {
				if r.IntN(3) != 0 {
					give(b)
				}
			}
		}
		if !ended {
			switch how {
			case 0: // Close: what Next did not return is discarded
				if err := m.Close(); err != nil {
					t.Fatalf("round %d: Close: %v", round, err)
				}
				ends[0]++
				gap = true
			default: // Cancel: Next returns everything up to -ECANCELED
				if err := m.Cancel(); err != nil {
					t.Fatal(err)
				}
				for {
					res, flags, err := next(t, m)
					if errors.Is(err, ErrMultishotDone) {
						break
					}
					if errors.Is(err, unix.ECANCELED) || errors.Is(err, unix.ENOBUFS) {
						continue
					}
					if err != nil {
						t.Fatalf("round %d: Next after Cancel: %v", round, err)
					}
					bid, _ := take("Next after Cancel", flags)
					consume(br.bufs[bid][:res], gap)
					gap = false
				}
				ends[1]++
			}
		}
		m.Close()
		for _, bid := range m.DiscardedBuffers() {
			if held[bid] {
				t.Fatalf("round %d: DiscardedBuffers lists buffer %d, which Next returned", round, bid)
			}
			held[bid] = true
			gap = true
		}
		for b := range held {
			give(b)
		}
	}

	// Every buffer is back in the ring: a stream that gives none back takes
	// all 16 before ENOBUFS (or before the kernel ends it when the CQ is
	// full: then it is started again).
	got := 0
	for got < nbuf {
		m := start()
		for {
			res, flags, err := next(t, m)
			if errors.Is(err, ErrMultishotDone) {
				break
			}
			if errors.Is(err, unix.ENOBUFS) {
				if got != nbuf {
					t.Fatalf("ENOBUFS after %d buffers; the ring should hold %d (buffers lost)", got, nbuf)
				}
				continue
			}
			if err != nil {
				t.Fatalf("final stream: Next: %v", err)
			}
			bid, _ := take("final stream", flags)
			consume(br.bufs[bid][:res], gap)
			gap = false
			got++
		}
		m.Close()
		if d := m.DiscardedBuffers(); len(d) != 0 {
			t.Fatalf("final stream read to its end discarded %v", d)
		}
	}
	for b := range held {
		give(b)
	}

	// Queue.Close with CQEs buffered: DiscardedBuffers lists each buffer
	// Next did not return, once, and none that it did.
	m := start()
	for i := 0; i < 3; i++ {
		res, flags, err := next(t, m)
		if err != nil {
			break // ENOBUFS, or the kernel's end: nothing more to take
		}
		bid, _ := take("before Queue.Close", flags)
		consume(br.bufs[bid][:res], gap)
		gap = false
		if flags&CQEFMore == 0 {
			break
		}
	}
	if !testutil.Settle(testutil.AppHang, func() bool { return m.buffered() > 0 || isClosed(m.Done()) }) {
		t.Fatalf("no CQE buffered before Queue.Close")
	}
	stopClient()
	closeWithin(t, q, testutil.AppHang)
	if _, _, err := m.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Queue.Close: %v, want ErrClosed", err)
	}
	if err := m.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Multishot.Close after Queue.Close: %v, want ErrClosed", err)
	}
	d := m.DiscardedBuffers()
	for _, bid := range d {
		if held[bid] {
			t.Fatalf("DiscardedBuffers after Queue.Close lists buffer %d twice, or one Next returned (%v)", bid, d)
		}
		held[bid] = true
	}
	t.Logf("stream ends: closed %d, cancelled %d, ENOBUFS %d, by the kernel %d; %d counters checked; %d buffers discarded by Queue.Close",
		ends[0], ends[1], ends[2], ends[3], last+1, len(d))
}

// isClosed reports whether ch is closed (without blocking).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestAppLinkLongerThanMaxInFlight: a queue whose MaxInFlight is below its
// SQ size (an application bounding what it pins) and workers that retry
// Link on ErrBusy, as ErrBusy invites. A chain of more members than
// MaxInFlight can never be in flight at once: Link must say so with
// ErrLinkTooLong, not ErrBusy, which an idle queue answering for ever would
// keep such a worker retrying for ever. Chains that fit go through, also
// from 8 goroutines competing for the 4 slots, and nothing leaks.
func TestAppLinkLongerThanMaxInFlight(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16, MaxInFlight: 4})
	if q.MaxInFlight() != 4 {
		t.Fatalf("MaxInFlight = %d, want 4", q.MaxInFlight())
	}
	nops := func(n int) func(l *Link) {
		return func(l *Link) {
			for i := 0; i < n; i++ {
				l.Nop()
			}
		}
	}
	hs, err := q.Link(nops(6))
	if !errors.Is(err, ErrLinkTooLong) || hs != nil {
		t.Errorf("Link of 6 members on an idle queue with MaxInFlight 4: %v, %v; want ErrLinkTooLong (InFlight %d)", hs, err, q.InFlight())
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight after the refused chain = %d", n)
	}
	// The same with a slot taken (Begin fails before the 5th member).
	pr, _ := testPipe(t)
	busy, err := q.Read(pr, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if hs, err = q.Link(nops(6)); !errors.Is(err, ErrLinkTooLong) || hs != nil {
		t.Errorf("Link of 6 members with MaxInFlight 4, one slot in use: %v, %v; want ErrLinkTooLong", hs, err)
	}
	if hs, err = q.Link(nops(4)); !errors.Is(err, ErrBusy) || hs != nil {
		t.Errorf("Link of 4 members with MaxInFlight 4, one slot in use: %v, %v; want ErrBusy", hs, err)
	}
	c, err := q.Cancel(busy)
	mustRes(t, c, err, 0)
	mustErrno(t, busy, nil, unix.ECANCELED)
	hs, err = q.Link(nops(4))
	got := results(t, hs, err)
	if !equalInts(got, []int{0, 0, 0, 0}) {
		t.Fatalf("chain of 4 NOPs: %v", got)
	}

	// Competing chains of 2 to 4 members, retried on ErrBusy.
	var wg sync.WaitGroup
	var chains atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50 && !t.Failed(); i++ {
				n := 2 + (g+i)%3
				var hs []*completion.Handle
				var err error
				for try := 0; ; try++ {
					hs, err = q.Link(nops(n))
					if !errors.Is(err, ErrBusy) {
						break
					}
					if try > 1e6 {
						t.Errorf("Link of %d members: still ErrBusy after %d tries", n, try)
						return
					}
					runtime.Gosched()
				}
				if err != nil || len(hs) != n {
					t.Errorf("Link of %d members: %d handles, %v", n, len(hs), err)
					return
				}
				for _, h := range hs {
					if n, err := appWait(h, "nop"); n != 0 || err != nil {
						t.Errorf("chained NOP: %d, %v", n, err)
						return
					}
				}
				chains.Add(1)
			}
		}(g)
	}
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("chain workers still running after %v", testutil.AppHang)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight at the end = %d", n)
	}
	t.Logf("%d chains", chains.Load())
}

// TestAppTimers uses the queue as a timer wheel: 8 goroutines start 600
// timeouts of 0-20 ms; half of them are removed after a random delay,
// through TimeoutRemove or Cancel. The removal's own result and the
// target's must agree exactly: 0 means the target ends with ECANCELED;
// ENOENT or EALREADY means it fired (ETIME). A timeout left alone ends with
// ETIME, and none fires before its duration has passed (measured from
// before its submission, on the monotonic clock the kernel uses too).
func TestAppTimers(t *testing.T) {
	const workers, per = 8, 75
	q := newTestQueue(t, QueueConfig{Entries: 64, MaxInFlight: 1024})
	r0 := appRand(t, 14)
	var wg sync.WaitGroup
	var removed, fired, lateRemove [2]atomic.Int32
	for w := 0; w < workers; w++ {
		seed := r0.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 15))
			type timer struct {
				h     *completion.Handle
				d     time.Duration
				start time.Time
			}
			var timers []timer
			var rm sync.WaitGroup
			for i := 0; i < per && !t.Failed(); i++ {
				d := time.Duration(r.IntN(20000)) * time.Microsecond
				start := time.Now()
				h, err := appSubmit(func() (*completion.Handle, error) { return q.Timeout(d, 0, 0) })
				if err != nil {
					t.Errorf("Timeout: %v", err)
					return
				}
				if r.IntN(2) == 0 {
					timers = append(timers, timer{h, d, start})
					continue
				}
				delay := time.Duration(r.IntN(20000)) * time.Microsecond
				useCancel := r.IntN(2)
				rm.Add(1)
				go func() {
					defer rm.Done()
					time.Sleep(delay)
					var c *completion.Handle
					var err error
					if useCancel == 1 {
						c, err = appSubmit(func() (*completion.Handle, error) { return q.Cancel(h) })
					} else {
						c, err = appSubmit(func() (*completion.Handle, error) { return q.TimeoutRemove(h, 0) })
					}
					if err != nil {
						t.Errorf("removal: %v", err)
						return
					}
					n, rerr := appWait(c, "removal")
					_, terr := appWait(h, "removed timeout")
					switch {
					case n == 0 && rerr == nil:
						removed[useCancel].Add(1)
						if !errors.Is(terr, unix.ECANCELED) {
							t.Errorf("removal (cancel %d) found the timeout, which then ended with %v; want ECANCELED", useCancel, terr)
						}
					case errors.Is(rerr, unix.ENOENT), errors.Is(rerr, unix.EALREADY):
						lateRemove[useCancel].Add(1)
						if !errors.Is(terr, unix.ETIME) {
							t.Errorf("removal (cancel %d) gave %v, but the timeout ended with %v; want ETIME", useCancel, rerr, terr)
						}
					default:
						t.Errorf("removal (cancel %d): %d, %v (timeout: %v)", useCancel, n, rerr, terr)
					}
				}()
			}
			for _, tm := range timers {
				_, err := appWait(tm.h, "timeout")
				el := time.Since(tm.start)
				if !errors.Is(err, unix.ETIME) {
					t.Errorf("timeout of %v: %v; want ETIME", tm.d, err)
					continue
				}
				fired[0].Add(1)
				if el < tm.d {
					t.Errorf("timeout of %v fired after %v", tm.d, el)
				}
			}
			rm.Wait()
		}()
	}
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("timer goroutines still running after %v", testutil.AppHang)
	}
	if n := q.InFlight(); n != 0 {
		t.Errorf("InFlight at the end = %d", n)
	}
	t.Logf("fired %d; removed by TimeoutRemove %d (late %d), by Cancel %d (late %d)", fired[0].Load(),
		removed[0].Load(), lateRemove[0].Load(), removed[1].Load(), lateRemove[1].Load())
}

// TestAppPollLoop is an epoll-style event loop on multishot polls: 24
// pipes with non-blocking read ends, one PollMultishot each, read by two
// goroutines per stream (Next is shared), each event drained with read(2)
// to EAGAIN while writers stream 96 KiB into each pipe. A lost or misrouted
// CQE leaves data in a pipe with nobody woken; every stream must arrive
// whole and in order. Streams the kernel ends (CQ full) are armed again, and
// a third of them are closed (Multishot.Close) or cancelled (read to
// ErrMultishotDone) and armed again along the way.
func TestAppPollLoop(t *testing.T) {
	for _, c := range appQueueConfigs() {
		t.Run(c.name, func(t *testing.T) { pollLoop(t, c.cfg) })
	}
}

func pollLoop(t *testing.T, cfg QueueConfig) {
	const pipes, streamLen = 24, 96 << 10
	base := runtime.NumGoroutine()
	q := newTestQueue(t, cfg)
	r0 := appRand(t, 16)
	var wg sync.WaitGroup
	got := make([][]byte, pipes)
	var rearms atomic.Int32
	for p := 0; p < pipes; p++ {
		ap := testutil.NewAppPipe(t, true)
		pr, pw, closeW := ap.R, ap.W, ap.CloseW
		seed := r0.Uint64()
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			defer closeW()
			r := rand.New(rand.NewPCG(seed, 17))
			data := appStreamData(p, streamLen)
			for off := 0; off < streamLen; {
				n := min(streamLen-off, 1+r.IntN(8<<10))
				m, err := unix.Write(pw, data[off:off+n])
				if err != nil || m <= 0 {
					t.Errorf("pipe %d: write: %d, %v", p, m, err)
					return
				}
				off += m
				if r.IntN(3) == 0 {
					time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
				}
			}
		}()
		go func() { // the pipe's event loop
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 18))
			var mu sync.Mutex // the reader's state: read(2) calls and the data
			var all []byte
			eof := false
			buf := make([]byte, 4096)
			drain := func() {
				mu.Lock()
				defer mu.Unlock()
				for !eof {
					n, err := unix.Read(pr, buf)
					if err == unix.EAGAIN {
						return
					}
					if err != nil {
						t.Errorf("pipe %d: read: %v", p, err)
						eof = true
						return
					}
					if n == 0 {
						eof = true
						return
					}
					all = append(all, buf[:n]...)
				}
			}
			done := func() bool { mu.Lock(); defer mu.Unlock(); return eof }
			for !done() && !t.Failed() {
				m, err := appSubmit(func() (*Multishot, error) { return q.PollMultishot(pr, unix.POLLIN) })
				if err != nil {
					t.Errorf("pipe %d: PollMultishot: %v", p, err)
					return
				}
				// Data may have come before the poll was armed.
				drain()
				// Two goroutines take the stream's events.
				var lw sync.WaitGroup
				stop := make(chan struct{})
				var stopOnce sync.Once
				for g := 0; g < 2; g++ {
					lw.Add(1)
					go func() {
						defer lw.Done()
						for {
							ctx, cancel := context.WithTimeout(context.Background(), testutil.AppHang)
							ev, _, err := m.Next(ctx)
							cancel()
							if err != nil {
								if errors.Is(err, context.DeadlineExceeded) {
									t.Errorf("pipe %d: no poll event in %v with the stream open", p, testutil.AppHang)
								} else if !errors.Is(err, ErrMultishotDone) && !errors.Is(err, ErrClosed) && !errors.Is(err, unix.ECANCELED) {
									t.Errorf("pipe %d: Next: %v", p, err)
								}
								stopOnce.Do(func() { close(stop) })
								return
							}
							if ev&(unix.POLLIN|unix.POLLHUP) == 0 {
								t.Errorf("pipe %d: poll event %#x", p, ev)
							}
							drain()
							if done() {
								stopOnce.Do(func() { close(stop) })
								return
							}
						}
					}()
				}
				// Now and then end the stream early and arm a new one.
				switch r.IntN(6) {
				case 0:
					time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
					m.Close()
				case 1:
					time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
					m.Cancel()
				}
				select {
				case <-stop:
				case <-time.After(testutil.AppHang):
					t.Errorf("pipe %d: event loop stuck", p)
				}
				m.Close()
				lw.Wait()
				rearms.Add(1)
			}
			mu.Lock()
			got[p] = all
			mu.Unlock()
		}()
	}
	appStreamsEnd(t, q, &wg, "event loops", got, streamLen)
	t.Logf("%d streams armed", rearms.Load())
	closeWithin(t, q, testutil.AppHang)
	appNoGoroutineLeak(t, base)
}

// TestAppCloseDataAccounting closes a queue with 800 reads of 16 pipes in
// flight (100 times what its CQ holds in one configuration, so that the
// cancellations overflow it) while writers put 64-byte records into the
// pipes. Close must return, and every record must be accounted for exactly
// once: either a read completed with it (a pipe read of 64 bytes takes one
// whole record, written atomically) or it is still in the pipe afterwards.
// A read that received a record but was reported cancelled, or a CQE
// given to the wrong handle, loses or duplicates one.
func TestAppCloseDataAccounting(t *testing.T) {
	for _, c := range appServerQueueConfigs() {
		t.Run(c.name, func(t *testing.T) {
			for round := 0; round < 3 && !t.Failed(); round++ {
				closeDataAccounting(t, c.cfg, uint64(round))
			}
		})
	}
}

func closeDataAccounting(t *testing.T, cfg QueueConfig, round uint64) {
	const pipes, reads, rec = 16, 50, 64
	q := newTestQueue(t, cfg)
	r := appRand(t, 19+round)
	type read struct {
		h   *completion.Handle
		buf []byte
		p   int
	}
	var all []read
	prs := make([]int, pipes)
	pws := make([]int, pipes)
	for p := range prs {
		prs[p], pws[p] = testPipe(t)
		for i := 0; i < reads; i++ {
			buf := make([]byte, rec)
			h, err := q.Read(prs[p], buf, 0)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			all = append(all, read{h, buf, p})
		}
	}
	// Writers: records "pipe, sequence", until told to stop.
	stop := make(chan struct{})
	written := make([]int, pipes)
	var wg sync.WaitGroup
	for p := range pws {
		seed := r.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(seed, 20))
			max := wr.IntN(2 * reads)
			var b [rec]byte
			for i := 0; i < max; i++ {
				select {
				case <-stop:
					return
				default:
				}
				binary.LittleEndian.PutUint32(b[0:], uint32(p))
				binary.LittleEndian.PutUint32(b[4:], uint32(i))
				for j := 8; j < rec; j++ {
					b[j] = byte(i + j)
				}
				if n, err := unix.Write(pws[p], b[:]); n != rec || err != nil {
					t.Errorf("write: %d, %v", n, err)
					return
				}
				written[p]++
				if wr.IntN(8) == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
	closeWithin(t, q, testutil.AppHang)
	close(stop)
	wg.Wait()

	seen := make([]map[uint32]bool, pipes)
	for p := range seen {
		seen[p] = map[uint32]bool{}
	}
	record := func(what string, p int, b []byte) {
		if len(b) != rec {
			t.Errorf("%s of pipe %d: %d bytes, want a whole record of %d", what, p, len(b), rec)
			return
		}
		rp, seq := binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:])
		if int(rp) != p {
			t.Errorf("%s of pipe %d: a record of pipe %d", what, p, rp)
			return
		}
		for j := 8; j < rec; j++ {
			if b[j] != byte(int(seq)+j) {
				t.Errorf("%s of pipe %d: record %d corrupt at byte %d", what, p, seq, j)
				return
			}
		}
		if seen[p][seq] {
			t.Errorf("%s of pipe %d: record %d received twice", what, p, seq)
		}
		seen[p][seq] = true
	}
	var got, cancelled int
	for _, rd := range all {
		if !appDone(rd.h) {
			t.Fatalf("a read of pipe %d has not completed after Close", rd.p)
		}
		n, err := rd.h.Result()
		switch {
		case err == nil:
			got++
			record("read", rd.p, rd.buf[:n])
		case errors.Is(err, unix.ECANCELED):
			cancelled++
		default:
			t.Errorf("read of pipe %d: %d, %v; want a record or ECANCELED", rd.p, n, err)
		}
	}
	// What the reads did not take is still in the pipes.
	for p, pr := range prs {
		unix.SetNonblock(pr, true)
		for {
			b := make([]byte, rec)
			n, err := unix.Read(pr, b)
			if err == unix.EAGAIN {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("draining pipe %d: %d, %v", p, n, err)
			}
			record("leftover", p, b[:n])
		}
		if len(seen[p]) != written[p] {
			t.Errorf("pipe %d: %d records written, %d accounted for (lost: a read that received one reported otherwise?)", p, written[p], len(seen[p]))
		}
	}
	t.Logf("%d reads completed with a record, %d cancelled", got, cancelled)
}

// TestAppInlineWaitBesideStreams: a sequential O_DIRECT reader keeps one
// request in flight and waits with a nil context, so that it waits for its
// CQE inside io_uring_enter, holding the queue's drain lock, while 4
// multishot poll streams on pipes get bursts of events that their event
// loops drain; the inline waiter must hand those CQEs on (a stream left
// waiting would strand data in its pipe). Every chunk read must be the
// file's and every pipe's stream must arrive whole; then the queue is
// closed while the reader is still reading: Close returns, and the reader
// stops with ErrClosed or ECANCELED.
func TestAppInlineWaitBesideStreams(t *testing.T) {
	const fsize, chunk, pipes, streamLen = 4 << 20, 4096, 4, 256 << 10
	q := newTestQueue(t, QueueConfig{Entries: 64, RingOnly: true})
	r0 := appRand(t, 21)
	content := make([]byte, fsize)
	appFill(r0, content)
	path := testutil.TempDir(t) + "/seq"
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	stopRead := make(chan struct{})
	readerDone := make(chan error, 1)
	var chunks atomic.Int64
	go func() {
		buf := testutil.AlignedBuf(chunk)
		for i := 0; ; i++ {
			select {
			case <-stopRead:
				readerDone <- nil
				return
			default:
			}
			off := (i * chunk) % fsize
			h, err := appSubmit(func() (*completion.Handle, error) { return q.Read(fd, buf, uint64(off)) })
			if err != nil {
				readerDone <- err
				return
			}
			n, err := h.Wait(nil)
			if err != nil {
				readerDone <- err
				return
			}
			if n != chunk || !bytes.Equal(buf, content[off:off+chunk]) {
				readerDone <- fmt.Errorf("read %d@%d: %d bytes, %s", chunk, off, n, testutil.AppFirstDiff(buf[:n], content[off:off+n]))
				return
			}
			chunks.Add(1)
		}
	}()

	var wg sync.WaitGroup
	got := make([][]byte, pipes)
	for p := 0; p < pipes; p++ {
		ap := testutil.NewAppPipe(t, true)
		pr, pw, closeW := ap.R, ap.W, ap.CloseW
		seed := r0.Uint64()
		m, err := q.PollMultishot(pr, unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // bursts of writes with pauses
			defer wg.Done()
			defer closeW()
			r := rand.New(rand.NewPCG(seed, 22))
			data := appStreamData(p, streamLen)
			for off := 0; off < streamLen; {
				n := min(streamLen-off, 1+r.IntN(2048))
				m, err := unix.Write(pw, data[off:off+n])
				if err != nil {
					t.Errorf("pipe %d: write: %v", p, err)
					return
				}
				off += m
				if r.IntN(2) == 0 {
					time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
				}
			}
		}()
		go func() { // its event loop
			defer wg.Done()
			defer func() { m.Close() }() // the last stream armed
			var all []byte
			buf := make([]byte, 4096)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), testutil.AppHang)
				_, _, err := m.Next(ctx)
				cancel()
				if errors.Is(err, ErrMultishotDone) { // the kernel ended it: arm again
					m.Close()
					if m, err = q.PollMultishot(pr, unix.POLLIN); err != nil {
						t.Errorf("pipe %d: PollMultishot again: %v", p, err)
						return
					}
				} else if err != nil {
					t.Errorf("pipe %d: Next: %v (%d bytes so far)", p, err, len(all))
					return
				}
				for {
					n, err := unix.Read(pr, buf)
					if err == unix.EAGAIN {
						break
					}
					if err != nil || n == 0 {
						if err != nil {
							t.Errorf("pipe %d: read: %v", p, err)
						}
						got[p] = all
						return
					}
					all = append(all, buf[:n]...)
				}
			}
		}()
	}
	if !testutil.WaitGroupWithin(&wg, testutil.AppHang) {
		t.Fatalf("event loops still running after %v", testutil.AppHang)
	}
	appCheckStreams(t, got, streamLen)
	// Close under the reader.
	closeWithin(t, q, testutil.AppHang)
	select {
	case err := <-readerDone:
		if err != nil && !closedErr(err) {
			t.Errorf("reader: %v", err)
		}
	case <-time.After(testutil.AppHang):
		t.Fatalf("reader still running %v after Close", testutil.AppHang)
	}
	close(stopRead)
	t.Logf("%d chunks read, %d waits in io_uring_enter", chunks.Load(), q.inlineWaits.Load())
}
