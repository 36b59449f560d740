package uring

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/kver"
	"golang.org/x/sys/unix"
)

// Multishot requests of the handle layer.
//
// A multishot request (a multishot accept, poll or recv) posts many CQEs
// with the same user data: every one but the last carries IORING_CQE_F_MORE. The
// request keeps its table slot, and whatever that slot pins, from
// submission to that last CQE. The drainer (drainLocked) hands each CQE
// with F_MORE to q.more, which finds the request's *Multishot through the
// slot's aux pointer and appends the CQE to its buffer without completing
// anything; the last CQE takes the ordinary path and completes the slot's
// handle, after every earlier CQE of the request was buffered (they come
// first in the CQ, and the drainer buffers them before it flushes its
// batch of completions). Multishot.Next reads the buffer, then the handle.
//
// Queue code never sets a slot's aux otherwise: a nil aux on a CQE with
// F_MORE is a multishot request submitted through Queue.Prep, whose handle
// completes with its first CQE as before (the later ones are stale and
// dropped).

// ErrMultishotDone is returned by Multishot.Next, for ever, once the
// stream's final CQE (the one without IORING_CQE_F_MORE) has been returned,
// until the stream or its queue is closed (Next then returns ErrClosed).
var ErrMultishotDone = errors.New("uring: multishot request ended")

// Multishot is one multishot request in flight: its CQEs, in the order the
// kernel posted them, through Next. Its methods are safe for use by many
// goroutines (each CQE goes to exactly one Next).
//
// CQEs that arrive while nobody calls Next are buffered in the Multishot,
// without bound: a stream nobody reads (a poll on a descriptor that keeps
// becoming ready, a listener that keeps accepting) grows until Next, Close
// or Queue.Close. The request takes one of the queue's MaxInFlight slots
// until its final CQE. A Multishot dropped without Close stays in flight
// until the garbage collector finds it unreachable, and is then closed as
// Close closes it (in a goroutine of its own): Close it to let go of its
// slot, and what it buffered, at a time of your choosing.
//
// Descriptors (AcceptMultishot): a descriptor returned by Next belongs to
// the caller. One the stream accepted and Next has not returned is closed by
// the queue when the stream is closed (Multishot.Close) or the queue is
// (Queue.Close); Cancel alone closes nothing, since Next still returns what
// was accepted before the kernel stopped. So a stream that is not read to
// ErrMultishotDone after Cancel should be closed with Close.
//
// Provided buffers (RecvMultishot): the buffer of a CQE Next returned is
// the caller's; those of CQEs that Close or Queue.Close discarded are
// listed by DiscardedBuffers.
type Multishot struct {
	*msStream // what the queue refers to; Multishot itself only its users
}

// DiscardedBuffers returns, and forgets, the ids of the provided buffers
// (RecvMultishot) whose CQEs Close or Queue.Close discarded: they are the
// caller's again, to give back to the ring. Call it after Close (or
// Queue.Close) returned, when the list is complete; a stream read to its
// end, or not a recv, has none.
func (m *Multishot) DiscardedBuffers() []uint16 { return m.msStream.discardedBuffers() }

// Next returns the stream's next CQE: its result (res, a descriptor for
// AcceptMultishot, the ready events for PollMultishot, the byte count for
// RecvMultishot) and its flags (IORING_CQE_F_MORE on every CQE but the
// final one; IORING_CQE_F_BUFFER with the buffer's id for RecvMultishot), in the order the
// kernel posted them. A negative result is returned as a unix.Errno error,
// as Handle.Result does. It waits until a CQE is there or ctx ends (a nil
// ctx never ends); a ctx that has ended makes it return ctx.Err() at once,
// and no CQE is lost: a later Next returns it.
//
// After the final CQE (no F_MORE; -ECANCELED after Cancel, or an error, or
// a last result when the kernel ends the request on its own, as it does
// when the CQ overflows), Next returns ErrMultishotDone for ever. Once the
// queue is closing (Queue.Close), or the stream closed (Multishot.Close),
// it returns ErrClosed. An old kernel's -EINVAL for the whole request
// comes back as an *UnsupportedFeatureError.
func (m *Multishot) Next(ctx context.Context) (res int32, flags uint32, err error) {
	res, flags, err = m.msStream.next(ctx)
	// A Next that waits uses the stream: its finalizer (which closes the
	// stream) must not run meanwhile, even if the caller keeps m nowhere
	// else.
	runtime.KeepAlive(m)
	return res, flags, err
}

// Done returns a channel that is closed when the request's final CQE has
// arrived: no further CQE comes, though Next may still have buffered ones
// to return. A Multishot that becomes unreachable is closed by its
// finalizer, which also closes this channel: a goroutine that only waits
// on it must keep m reachable (call Next or Close after the wait).
func (m *Multishot) Done() <-chan struct{} { return m.h.Done() }

// Cancel asks the kernel to stop the request (IORING_OP_ASYNC_CANCEL for
// its user data, which also finds polls) and returns without waiting. The
// CQEs posted before the request stopped, and the final one (-ECANCELED,
// unless it had ended already), are still returned by Next; accepted
// descriptors among them stay buffered until Next, Close or Queue.Close.
// Each call stages a cancel again (one that reached the kernel while the
// request was still being issued finds nothing: call Cancel again, or use
// Close, which repeats it). Cancel of an ended stream does nothing; it
// returns ErrClosed once the queue is closing (Close cancels every request
// itself).
func (m *Multishot) Cancel() error { return m.msStream.cancelStream() }

// Close ends the stream: it cancels the request like Cancel, waits for its
// final CQE (the kernel answers the cancel of a poll or an accept at once;
// the cancel is repeated every 20 ms meanwhile) and discards every CQE
// that Next has not returned, closing the descriptors among them (for
// AcceptMultishot), as it closes those the kernel accepts before it stops.
// Next then returns ErrClosed. Close is idempotent and returns nil; it
// returns ErrClosed when the queue was closed first (Queue.Close has then
// closed what was left).
func (m *Multishot) Close() error {
	runtime.SetFinalizer(m, nil)
	return m.msStream.close()
}

// msStream is a Multishot's state. The queue (its registry, the slot's aux)
// points at the msStream, never at the Multishot, so that a Multishot its
// users dropped is collected: its finalizer closes the stream (start).
type msStream struct {
	q      *Queue
	h      *completion.Handle // the request's slot; completes with the final CQE
	accept bool               // CQE results are descriptors the stream owns until Next
	what   string             // the kernel feature, for an old kernel's -EINVAL
	since  [2]int             // the Linux version that has it

	sig chan struct{} // capacity 1: a CQE was buffered (or another Next should look)

	mu       sync.Mutex
	buf      []msCQE // CQEs with F_MORE not yet returned, from head on
	head     int
	got      int      // CQEs with F_MORE received
	final    bool     // Next returned the final CQE (or Close discarded it)
	closed   bool     // Multishot.Close: CQEs arriving from now on are discarded
	gone     bool     // Queue.Close discarded what was left
	canceled bool     // Cancel (or Close) staged an IORING_OP_ASYNC_CANCEL
	dropped  []uint16 // provided buffers of discarded CQEs (RecvMultishot)

	// testPark, set by tests before any Next, runs in Next after it found
	// nothing to return and before it waits (the window in which the
	// drainer's signal may find nobody waiting: see Next).
	testPark func()
}

type msCQE struct {
	res   int32
	flags uint32
}

// multishots is the set of a queue's streams that may still hold buffered
// descriptors: Queue.Close closes what they hold (closeAll).
type multishots struct {
	mu  sync.Mutex
	set map[*msStream]struct{}
}

func (s *multishots) add(m *msStream) {
	s.mu.Lock()
	if s.set == nil {
		s.set = make(map[*msStream]struct{})
	}
	s.set[m] = struct{}{}
	s.mu.Unlock()
}

func (s *multishots) remove(m *msStream) {
	s.mu.Lock()
	delete(s.set, m)
	s.mu.Unlock()
}

// closeAll runs in Queue.Close once the table is drained: every stream has
// had its final CQE (each handle completes right after the drain counted
// it out). It closes every descriptor still buffered; from then on Next
// returns ErrClosed.
func (s *multishots) closeAll() {
	s.mu.Lock()
	set := s.set
	s.set = nil
	s.mu.Unlock()
	for m := range set {
		<-m.h.Done()
		m.mu.Lock()
		m.gone = true
		m.discardLocked()
		m.mu.Unlock()
	}
}

// AcceptMultishot submits a multishot IORING_OP_ACCEPT
// (io_uring_prep_multishot_accept with a NULL address, Linux 5.19) on the
// listening socket fd with accept4(2) flags (unix.SOCK_CLOEXEC,
// SOCK_NONBLOCK). Each Next returns one accepted descriptor, the caller's
// to close; descriptors Next has not returned when the stream is closed
// (Multishot.Close, Queue.Close) are closed by the queue. A kernel before
// 5.19 fails the request with -EINVAL, which Next returns as an
// *UnsupportedFeatureError (matching ErrNotSupported and unix.EINVAL).
// Nothing is pinned.
func (q *Queue) AcceptMultishot(fd int, flags int) (*Multishot, error) {
	m := &msStream{accept: true, what: "multishot accept (IORING_ACCEPT_MULTISHOT)", since: [2]int{5, 19}}
	return m.start(q, func(s *SQE) { s.PrepMultishotAccept(fd, nil, nil, flags) })
}

// RecvMultishot submits a multishot IORING_OP_RECV
// (io_uring_prep_recv_multishot with IOSQE_BUFFER_SELECT, Linux 6.0) on
// the socket fd with recv(2) flags, receiving into the provided buffers of
// group bgid: a buffer ring the caller set up on the queue's ring
// (q.Ring().SetupBufRing, io_uring_register_buf_ring, Linux 5.19; then
// BufRing.Add and Advance) over buffers in memory the Go collector does
// not manage (mmap or C). Each Next returns the byte count
// and flags with IORING_CQE_F_BUFFER: the buffer's id is
// CQEBufferID(flags); the buffer is the caller's until it gives it back to
// the ring. The stream ends (a final CQE without F_MORE) with -ENOBUFS when
// the group has no buffer left for data that arrived (give buffers back
// and start a new stream), with a result of 0 when the peer shut down,
// or with a last count and buffer when the CQ is full. The buffers of CQEs
// that Close or Queue.Close discard are not lost: DiscardedBuffers returns
// their ids. A kernel before 6.0 fails the request with -EINVAL, which
// Next returns as an *UnsupportedFeatureError. Nothing is pinned.
func (q *Queue) RecvMultishot(fd int, bgid uint16, flags int) (*Multishot, error) {
	m := &msStream{what: "multishot recv (IORING_RECV_MULTISHOT)", since: [2]int{6, 0}}
	return m.start(q, func(s *SQE) {
		s.PrepRecvMultishot(fd, nil, flags)
		s.Flags |= SQEBufferSelect
		s.BufIndex = bgid
	})
}

// CQEBufferID returns the provided buffer's id in a CQE's flags
// (flags >> IORING_CQE_BUFFER_SHIFT), and whether the CQE has one
// (IORING_CQE_F_BUFFER: a request with IOSQE_BUFFER_SELECT, Linux 5.7,
// such as RecvMultishot's).
func CQEBufferID(flags uint32) (bid uint16, ok bool) {
	return uint16(flags >> CQEBufferShift), flags&CQEFBuffer != 0
}

// discardedBuffers is Multishot.DiscardedBuffers.
func (m *msStream) discardedBuffers() []uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dropped
	m.dropped = nil
	return d
}

// PollMultishot submits a multishot IORING_OP_POLL_ADD
// (io_uring_prep_poll_multishot, Linux 5.13) for the POLL* bits in mask on
// fd. Each Next returns the events of one wake-up (the request stays armed:
// a descriptor that stays ready is not reported again until it is woken
// again, for example by more data). A kernel before 5.13 fails the request
// with -EINVAL, which Next returns as an *UnsupportedFeatureError. Nothing
// is pinned.
func (q *Queue) PollMultishot(fd int, mask uint32) (*Multishot, error) {
	m := &msStream{what: "multishot poll (IORING_POLL_ADD_MULTI)", since: [2]int{5, 13}}
	return m.start(q, func(s *SQE) { s.PrepPollMultishot(fd, mask) })
}

// start submits the request that prep fills for m, m's pointer in the
// slot's aux (see q.more), registers m for Queue.Close, and returns m's
// Multishot, whose finalizer closes m.
func (m *msStream) start(q *Queue, prep func(s *SQE)) (*Multishot, error) {
	m.q = q
	m.sig = make(chan struct{}, 1)
	_, err := q.submit(nil, func(op *completion.Op) {
		// Before the SQE exists: its CQEs may be drained before submit
		// returns.
		m.h = op.Handle()
		op.SetAux(unsafe.Pointer(m))
		q.ms.add(m)
	}, prep)
	if err != nil {
		if m.h != nil {
			q.ms.remove(m)
		}
		return nil, err
	}
	q.msLive.Add(1)
	go func() { <-m.h.Done(); q.msLive.Add(-1) }()
	w := &Multishot{m}
	// The finalizer runs on the runtime's finalizer goroutine, which close
	// (waiting for the final CQE) must not hold up.
	runtime.SetFinalizer(w, func(w *Multishot) { go w.msStream.close() })
	return w, nil
}

// more receives a CQE with IORING_CQE_F_MORE (from drainLocked, with q.rmu
// held): the next CQE of the multishot request it names, whose slot stays
// in flight until the final CQE.
func (q *Queue) more(d *doneCQE) {
	if d.ud == internalUserData {
		return
	}
	op := q.table.Lookup(d.ud) // only the drainer completes a request that has CQEs
	if op == nil {
		return // a later CQE of a multishot Prep whose handle completed
	}
	m := (*msStream)(op.Aux())
	if m == nil {
		// Queue.Prep of a multishot request: its handle completes with
		// this, its first CQE.
		q.fin.Add(q.table, d.ud, int64(d.res), d.flags)
		return
	}
	m.mu.Lock()
	m.got++
	if m.closed || m.gone {
		m.discard(d.res, d.flags)
		m.mu.Unlock()
		return
	}
	if m.head > 0 && len(m.buf) == cap(m.buf) {
		n := copy(m.buf, m.buf[m.head:])
		m.buf, m.head = m.buf[:n], 0
	}
	m.buf = append(m.buf, msCQE{res: d.res, flags: d.flags})
	m.mu.Unlock()
	m.signal()
}

func (m *msStream) signal() {
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

// discard drops a CQE nobody will get (m.mu held): an accepted descriptor
// is closed, a provided buffer's id kept for DiscardedBuffers.
func (m *msStream) discard(res int32, flags uint32) {
	if m.accept && res >= 0 {
		unix.Close(int(res))
	}
	if bid, ok := CQEBufferID(flags); ok && !m.accept {
		m.dropped = append(m.dropped, bid)
	}
}

// discardLocked drops every buffered CQE and, once the request has ended,
// its final one (m.mu held).
func (m *msStream) discardLocked() {
	for _, c := range m.buf[m.head:] {
		m.discard(c.res, c.flags)
	}
	m.buf, m.head = nil, 0
	if !m.final && m.h.IsDone() {
		m.final = true
		if n, err := m.h.Result(); err == nil {
			m.discard(int32(n), m.h.Flags())
		}
	}
}

// next is Multishot.Next.
func (m *msStream) next(ctx context.Context) (res int32, flags uint32, err error) {
	var cd <-chan struct{}
	if ctx != nil {
		cd = ctx.Done()
	}
	for {
		if cd != nil {
			if err := ctx.Err(); err != nil {
				// This Next may have taken the signal of a CQE it now
				// leaves buffered: pass it on to another waiting Next.
				m.mu.Lock()
				more := m.head < len(m.buf)
				m.mu.Unlock()
				if more {
					m.signal()
				}
				return 0, 0, err
			}
		}
		if m.q.table.Closed() {
			return 0, 0, ErrClosed
		}
		m.mu.Lock()
		if m.closed || m.gone {
			m.mu.Unlock()
			return 0, 0, ErrClosed
		}
		if m.head < len(m.buf) {
			c := m.buf[m.head]
			m.buf[m.head] = msCQE{}
			if m.head++; m.head == len(m.buf) {
				m.buf, m.head = m.buf[:0], 0
			}
			more := m.head < len(m.buf)
			m.mu.Unlock()
			if more {
				m.signal() // for another Next that may be waiting
			}
			if c.res < 0 {
				return 0, c.flags, unix.Errno(-c.res)
			}
			return c.res, c.flags, nil
		}
		// Every CQE with F_MORE was buffered before the handle completed:
		// with the buffer empty, a done handle is the last CQE.
		if m.h.IsDone() {
			if m.final {
				m.mu.Unlock()
				return 0, 0, ErrMultishotDone
			}
			m.final = true
			got := m.got
			m.mu.Unlock()
			m.q.ms.remove(m) // nothing left to close
			n, err := m.h.Result()
			if err != nil {
				return 0, m.h.Flags(), m.finalErr(err, got)
			}
			return int32(n), m.h.Flags(), nil
		}
		m.mu.Unlock()
		if m.testPark != nil {
			m.testPark()
		}
		select {
		case <-m.sig:
		case <-m.h.Done():
		case <-cd:
		}
	}
}

// finalErr is the error of a final CQE: -EINVAL as the request's only CQE
// on a kernel older than the feature is that feature missing.
func (m *msStream) finalErr(err error, got int) error {
	if got == 0 && errors.Is(err, unix.EINVAL) && !kver.AtLeast(m.since[0], m.since[1], true) {
		return &UnsupportedFeatureError{Feature: m.what, Major: m.since[0], Minor: m.since[1], Err: err}
	}
	return err
}

// cancelStream is Multishot.Cancel.
func (m *msStream) cancelStream() error {
	if m.q.table.Closed() {
		return ErrClosed
	}
	m.cancel(true)
	return nil
}

// cancel stages a cancel for the request unless it has ended (or, without
// again, a cancel was staged already).
func (m *msStream) cancel(again bool) {
	m.mu.Lock()
	skip := m.canceled && !again || m.h.IsDone()
	m.canceled = true
	m.mu.Unlock()
	if !skip {
		m.q.stageCancel(m.h.UserData(), 0)
	}
}

// close is Multishot.Close.
func (m *msStream) close() error {
	m.mu.Lock()
	gone := m.gone
	m.closed = true
	m.discardLocked()
	m.mu.Unlock()
	if gone {
		return ErrClosed
	}
	m.signal() // a waiting Next returns ErrClosed
	if !m.h.IsDone() {
		m.cancel(false)
		tick := time.NewTicker(20 * time.Millisecond)
		for done := false; !done; {
			select {
			case <-m.h.Done():
				done = true
			case <-tick.C:
				m.cancel(true)
			}
		}
		tick.Stop()
	}
	m.mu.Lock()
	m.discardLocked() // the final CQE
	m.mu.Unlock()
	m.q.ms.remove(m)
	if m.q.table.Closed() {
		return ErrClosed // also for a stream read to its end before Queue.Close
	}
	return nil
}

// UnsupportedFeatureError is returned by Multishot.Next when the kernel
// failed a request with -EINVAL and is older than the Linux version that
// added the feature it needs (a flag, where the probe only knows opcodes).
// It matches ErrNotSupported and unix.EINVAL with errors.Is.
type UnsupportedFeatureError struct {
	Feature      string // what the request needs
	Major, Minor int    // the first Linux version that has it
	Err          error  // the kernel's error (unix.EINVAL)
}

// Error names the feature and the kernel versions.
func (e *UnsupportedFeatureError) Error() string {
	return "uring: " + e.Feature + " needs Linux " + strconv.Itoa(e.Major) + "." + strconv.Itoa(e.Minor) +
		" (running " + kver.Release() + "): " + e.Err.Error()
}

// Unwrap returns the kernel's error.
func (e *UnsupportedFeatureError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotSupported) true.
func (e *UnsupportedFeatureError) Is(target error) bool { return target == ErrNotSupported }
