package uring

// Randomized stress test of the multishot streams (queue_multishot.go):
// workers dial loopback connections (each sends its own 8-byte id), start
// multishot accepts on two listeners and multishot polls on fed pipes, call
// Next from many goroutines with contexts that end at random (or none, in
// background waiters that only Queue.Close or the stream's end releases),
// Cancel, Close or drop streams, while Queue.Close comes at a random
// moment (testutil.Chaos.Run) and small queues make streams end on a full
// CQ and starts fail with ErrBusy. Checks: every connection Next returns
// carries an id that was dialed and that no other Next returned; each
// stream's final CQE is returned at most once, and ErrMultishotDone only
// after it; every Next returns (its ctx, the watchdogs); after the round
// every client sees its server side closed (EOF or a reset: returned by
// Next and closed by the worker, closed by the queue, or still in the
// listener's backlog when the listener closed), and no operation, pin,
// goroutine or descriptor is left (testutil.CheckLeaks, Chaos.Finish).
//
// AIOKIT_CHAOS_SEED=N runs only seed N; AIOKIT_CHAOS_ROUNDS=K runs K seeds
// (default 16) from AIOKIT_CHAOS_BASE.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

type msChaosStream struct {
	m        *Multishot
	accept   bool
	closed   atomic.Bool  // Multishot.Close was called
	finals   atomic.Int32 // final CQEs Next returned
	doneSeen atomic.Bool  // a Next returned ErrMultishotDone
}

type msChaos struct {
	*testutil.Chaos
	q     *Queue
	lfds  []int
	addrs []unix.Sockaddr
	pipes [][2]int

	mu      sync.Mutex
	live    []*msChaosStream // streams workers pick from
	all     []*msChaosStream // every stream started (also dropped ones)
	clients []int
	dialed  map[uint32]bool
	got     map[uint32]bool // ids Next returned
	nextID  uint32

	waiters  sync.WaitGroup // background Next(nil) callers
	nwaiters atomic.Int32
	accepted atomic.Int64
}

const msChaosMaxClients = 300

func TestChaosMultishot(t *testing.T) {
	testutil.RequireKernel(t, 5, 19, "IORING_ACCEPT_MULTISHOT")
	testutil.RunChaos(t, 16, msChaosRound)
}

func msChaosRound(t *testing.T, seed uint64) {
	testutil.CheckLeaks(t)
	c := &msChaos{Chaos: testutil.NewChaos(t, seed, "TestChaosMultishot", "./uring"),
		dialed: map[uint32]bool{}, got: map[uint32]bool{}}
	r := c.R
	for i := 0; i < 2; i++ {
		lfd, sa := loopbackListener(t, 512)
		c.lfds, c.addrs = append(c.lfds, lfd), append(c.addrs, sa)
	}
	for i := 0; i < 2; i++ {
		c.pipes = append(c.pipes, c.Pipe(true))
	}
	entries := []uint32{1, 4, 16, 64}[r.IntN(4)] // 1: a CQ of 2, streams end on overflow
	cfg := QueueConfig{Entries: entries}
	if r.IntN(3) == 0 {
		cfg.MaxInFlight = 2 + r.IntN(6)
	}
	q, err := NewQueueConfig(cfg)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSQPollPerm) {
		testutil.SkipNoPrivilege(t, "io_uring_setup: "+err.Error())
	}
	if err != nil {
		t.Fatalf("NewQueueConfig(%+v): %v", cfg, err)
	}
	c.q = q
	c.InFlight = q.InFlight
	c.HangDump = func() string {
		c.mu.Lock()
		defer c.mu.Unlock()
		s := fmt.Sprintf("streams: %d live, %d in all; in flight %d\n", len(c.live), len(c.all), q.InFlight())
		for i, st := range c.all {
			s += fmt.Sprintf("  %d: accept %v done %v buffered %d closed %v finals %d\n",
				i, st.accept, st.m.h.IsDone(), st.m.buffered(), st.closed.Load(), st.finals.Load())
		}
		return s
	}
	t.Logf("seed %d: config %+v", seed, cfg)
	c.FeedPipes(c.pipes)

	c.Run(r, q.Close, c.worker)

	// Queue.Close has returned: background waiters return, every stream
	// says ErrClosed and is done (and, at the end, its Close is harmless).
	wdone := make(chan struct{})
	go func() { c.waiters.Wait(); close(wdone) }()
	select {
	case <-wdone:
	case <-time.After(testutil.ChaosHang):
		c.Hung("%d Next(nil) callers still waiting %v after Queue.Close", c.nwaiters.Load(), testutil.ChaosHang)
	}
	for i, st := range c.all {
		if _, _, err := st.m.Next(context.Background()); !errors.Is(err, ErrClosed) {
			c.Errorf("stream %d: Next after Queue.Close = %v", i, err)
		}
		select {
		case <-st.m.Done():
		default:
			c.Errorf("stream %d: not done after Queue.Close", i)
		}
		if n := st.finals.Load(); n > 1 || st.doneSeen.Load() && n != 1 {
			c.Errorf("stream %d: %d final CQEs returned (ErrMultishotDone seen: %v)", i, n, st.doneSeen.Load())
		}
	}
	for _, lfd := range c.lfds {
		unix.Close(lfd)
	}
	// Every client's server side is closed by now: by the worker that got
	// it from Next, by the queue, or with the listener (a reset).
	buf := make([]byte, 16)
	deadline := time.Now().Add(3 * time.Second) // for all of them: a failing round ends soon
	for _, cfd := range c.clients {
		n, err := msReadBy(cfd, buf, deadline)
		if !(n == 0 && err == nil || errors.Is(err, unix.ECONNRESET)) {
			c.Errorf("client fd %d: read %d, %v; want EOF or a reset (an accepted descriptor neither returned nor closed)", cfd, n, err)
		}
		unix.Close(cfd)
	}
	c.Finish()
	// Only now: a Close would discard what the queue should have (and
	// hide a descriptor it left open).
	for i, st := range c.all {
		if err := st.m.Close(); err != nil && !errors.Is(err, ErrClosed) {
			c.Errorf("stream %d: Close after Queue.Close: %v", i, err)
		}
	}
	t.Logf("seed %d: %d streams, %d clients, %d connections returned by Next", seed, len(c.all), len(c.clients), c.accepted.Load())
}

func (c *msChaos) worker(id int, r *rand.Rand) {
	for i := 0; !c.Stop.Load() && i < 500; i++ {
		c.Ops.Add(1)
		switch k := r.IntN(16); {
		case k < 3:
			c.dial(r)
		case k == 3:
			c.start(r, true)
		case k == 4:
			c.start(r, false)
		case k < 10:
			if st := c.pick(r); st != nil {
				c.next(r, st)
			}
		case k == 10:
			if st := c.pick(r); st != nil && c.nwaiters.Load() < 8 {
				c.waiter(st)
			}
		case k == 11:
			if st := c.pick(r); st != nil {
				if err := st.m.Cancel(); err != nil && !(errors.Is(err, ErrClosed) && c.Closed.Load()) {
					c.Errorf("Cancel: %v", err)
				}
			}
		case k == 12:
			if st := c.pick(r); st != nil {
				st.closed.Store(true)
				if err := st.m.Close(); err != nil && !(errors.Is(err, ErrClosed) && c.Closed.Load()) {
					c.Errorf("Close: %v", err)
				}
				c.drop(st)
			}
		case k == 13:
			if st := c.pick(r); st != nil { // forgotten: only Queue.Close cleans up
				if r.IntN(2) == 0 {
					st.m.Cancel()
				}
				c.drop(st)
			}
		default: // empty a pipe: its poll streams get new wake-ups
			b := make([]byte, 4096)
			unix.Read(c.pipes[r.IntN(len(c.pipes))][0], b)
		}
		testutil.ChaosYield(r)
	}
}

// dial connects a client to a listener and sends its id.
func (c *msChaos) dial(r *rand.Rand) {
	c.mu.Lock()
	if len(c.clients) >= msChaosMaxClients {
		c.mu.Unlock()
		return
	}
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.mu.Unlock()
		c.Errorf("socket: %v", err)
		return
	}
	c.clients = append(c.clients, cfd)
	c.nextID++
	cid := c.nextID
	c.dialed[cid] = true
	c.mu.Unlock()
	sa := *c.addrs[r.IntN(len(c.addrs))].(*unix.SockaddrInet4)
	if err := unix.Connect(cfd, &sa); err != nil {
		c.Errorf("connect: %v", err)
		return
	}
	msg := fmt.Sprintf("%08d", cid)
	if _, err := unix.Write(cfd, []byte(msg)); err != nil {
		c.Errorf("client write: %v", err)
	}
}

func (c *msChaos) start(r *rand.Rand, accept bool) {
	c.mu.Lock()
	n := len(c.live)
	c.mu.Unlock()
	if n >= 6 {
		return
	}
	var m *Multishot
	var err error
	if accept {
		m, err = c.q.AcceptMultishot(c.lfds[r.IntN(len(c.lfds))], unix.SOCK_CLOEXEC)
	} else {
		m, err = c.q.PollMultishot(c.pipes[r.IntN(len(c.pipes))][0], unix.POLLIN)
	}
	if !c.SubmitErr("multishot start", err) {
		return
	}
	st := &msChaosStream{m: m, accept: accept}
	c.mu.Lock()
	c.live = append(c.live, st)
	c.all = append(c.all, st)
	c.mu.Unlock()
}

func (c *msChaos) pick(r *rand.Rand) *msChaosStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.live) == 0 {
		return nil
	}
	return c.live[r.IntN(len(c.live))]
}

func (c *msChaos) drop(st *msChaosStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.live {
		if s == st {
			c.live = append(c.live[:i], c.live[i+1:]...)
			return
		}
	}
}

// next calls Next with a ctx that has ended, ends after 0-3 ms, or is
// cancelled from another goroutine, and checks what it returns.
func (c *msChaos) next(r *rand.Rand, st *msChaosStream) {
	var ctx context.Context
	var cancel context.CancelFunc
	switch r.IntN(3) {
	case 0:
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
	case 1:
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
	default:
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(r.IntN(2000))*time.Microsecond, cancel)
	}
	defer cancel()
	start := time.Now()
	res, flags, err := st.m.Next(ctx)
	if d := time.Since(start); d > testutil.ChaosHang {
		c.Hung("Next with a ctx of at most 3 ms took %v", d)
	}
	c.check(st, res, flags, err)
}

// waiter calls Next(nil) on st in the background until it fails.
func (c *msChaos) waiter(st *msChaosStream) {
	c.waiters.Add(1)
	c.nwaiters.Add(1)
	go func() {
		defer c.waiters.Done()
		defer c.nwaiters.Add(-1)
		for {
			res, flags, err := st.m.Next(nil)
			if !c.check(st, res, flags, err) {
				return
			}
		}
	}()
}

// check judges one Next result; it reports whether the stream may have more.
func (c *msChaos) check(st *msChaosStream, res int32, flags uint32, err error) bool {
	var errno unix.Errno
	if err == nil || errors.As(err, &errno) {
		// A CQE: with F_MORE, or the final one (once).
		final := flags&CQEFMore == 0
		if final && st.finals.Add(1) > 1 {
			c.Errorf("a second final CQE: %d, %#x, %v", res, flags, err)
		}
		if err != nil {
			if !errors.Is(err, unix.ECANCELED) {
				c.Errorf("final CQE error: %v (accept %v)", err, st.accept)
			}
			return false
		}
		if st.accept {
			c.accepted.Add(1)
			c.conn(int(res))
		} else if res&unix.POLLIN == 0 {
			c.Errorf("poll CQE without POLLIN: %#x, flags %#x", res, flags)
		}
		return !final
	}
	switch {
	case errors.Is(err, ErrMultishotDone):
		st.doneSeen.Store(true)
	case errors.Is(err, ErrClosed):
		if !st.closed.Load() && !c.Closed.Load() {
			c.Errorf("Next = ErrClosed, neither the stream nor the queue closed")
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	default:
		c.Errorf("Next: %d, %#x, %v", res, flags, err)
	}
	return false
}

// conn reads the id a client sent on an accepted descriptor Next
// returned, checks it, and closes the descriptor.
func (c *msChaos) conn(fd int) {
	defer unix.Close(fd)
	b := make([]byte, 8)
	n := 0
	deadline := time.Now().Add(2 * time.Second)
	for n < len(b) {
		k, err := msReadBy(fd, b[n:], deadline)
		if err != nil || k == 0 {
			c.Errorf("accepted fd %d: read %d bytes of the id, then %d, %v", fd, n, k, err)
			return
		}
		n += k
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		c.Errorf("accepted fd %d: id %q", fd, b)
		return
	}
	cid := uint32(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.dialed[cid]:
		c.Errorf("accepted fd %d: id %d was never dialed", fd, cid)
	case c.got[cid]:
		c.Errorf("accepted fd %d: connection %d returned by Next twice", fd, cid)
	}
	c.got[cid] = true
}

// msReadBy reads from the blocking socket fd, waiting until deadline at
// most (at least 10 ms), and retries the EINTR that a signal (the runtime's
// preemption) gives a read with a receive timeout.
func msReadBy(fd int, b []byte, deadline time.Time) (int, error) {
	for {
		d := max(time.Until(deadline), 10*time.Millisecond)
		tv := unix.NsecToTimeval(d.Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}
