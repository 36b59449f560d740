package uring

import (
	"errors"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// ErrLinkTooLong is returned by Queue.Link when a chain has more members
// than the submission queue has entries, or more than 8 on a queue with
// IORING_SETUP_SQPOLL: a chain must reach the kernel in one submission to
// stay a chain. It is also returned for a chain of more members than
// MaxInFlight, which can never be in flight at once (ErrBusy would have a
// caller retry for ever).
var ErrLinkTooLong = errors.New("uring: linked chain too long (longer than the submission queue or MaxInFlight, or than 8 members with SQPOLL)")

// sqpollChainMax is the longest chain an SQPOLL queue takes: an SQ thread
// that serves several rings (IORING_SETUP_ATTACH_WQ, by this ring or by
// another that attaches to it later) takes at most 8 SQEs of a ring per pass
// (IORING_SQPOLL_CAP_ENTRIES_VALUE) and ends a chain at that boundary, so
// members after the 8th ran although an earlier one had failed.
const sqpollChainMax = 8

// ErrEmptyLink is returned by Queue.Link when the build function added no
// operation.
var ErrEmptyLink = errors.New("uring: empty linked chain")

// Link collects the members of a chain of linked SQEs (IOSQE_IO_LINK, or
// IOSQE_IO_HARDLINK for Queue.HardLink). The kernel starts a member only
// after the previous one completed; with a plain link a member that the
// kernel marks failed (a negative result of most opcodes, or a short read
// or write) completes every later member with -ECANCELED. Which negative
// results break a link is the kernel's choice per opcode: on Linux 6.x a
// failed Statx, Mkdirat, Unlinkat, Renameat, Symlinkat, Linkat or Madvise
// does not, and the next member runs as after a success (the handles
// report what the kernel did, as liburing does). With a hard link the
// chain continues regardless.
//
// A Link is only valid inside the build function given to Queue.Link, and
// is not safe for concurrent use (the chain's order is the order of the
// calls). Each method returns the member's handle, or nil once an earlier
// method failed (the error is then returned by Queue.Link and no member is
// submitted) or once the build function has returned. If the build function panics, the
// members it added are released and nothing is submitted.
type Link struct {
	q    *Queue
	sqes []SQE
	ops  []*completion.Op
	hs   []*completion.Handle
	err  error
	// built is set when the build function has returned: a Link kept
	// beyond it adds nothing (its methods return nil).
	built bool
	// asked counts the members the build function added, also those after
	// an error (link turns an ErrBusy of a chain longer than MaxInFlight
	// into ErrLinkTooLong).
	asked int
}

var errLinkPanicked = errors.New("uring: the Link build function panicked")

// Link builds a chain with build and submits it as one unit: the chain's
// SQEs are contiguous in the submission queue and go to the kernel in one
// io_uring_submit, every member but the last flagged IOSQE_IO_LINK. It
// returns one handle per member, in order. Memory rules are those of the
// Queue methods: everything is pinned until each member's own completion.
func (q *Queue) Link(build func(l *Link)) ([]*completion.Handle, error) {
	return q.link(build, SQEIOLink)
}

// HardLink is Link with IOSQE_IO_HARDLINK: a member's failure does not
// cancel the rest of the chain.
func (q *Queue) HardLink(build func(l *Link)) ([]*completion.Handle, error) {
	return q.link(build, SQEIOHardlink)
}

func (q *Queue) link(build func(l *Link), flag uint8) ([]*completion.Handle, error) {
	l := &Link{q: q}
	if build == nil {
		return nil, ErrEmptyLink
	}
	built := false
	defer func() {
		if !built { // build panicked: free the members begun so far
			for _, op := range l.ops {
				q.table.Abort(op, errLinkPanicked)
			}
		}
	}()
	build(l)
	built = true
	l.built = true
	if errors.Is(l.err, completion.ErrBusy) && l.asked > q.table.Size() {
		l.err = ErrLinkTooLong // never fits, however many slots are free
	}
	if l.err == nil && len(l.sqes) == 0 {
		l.err = ErrEmptyLink
	}
	if l.err == nil && (len(l.sqes) > q.sqSize || q.sqpoll && len(l.sqes) > sqpollChainMax) {
		l.err = ErrLinkTooLong
	}
	if l.err == nil {
		for i := 0; i < len(l.sqes)-1; i++ {
			l.sqes[i].Flags |= flag
		}
		for i := range l.sqes {
			l.sqes[i].SetUserData(l.ops[i].UserData())
		}
		l.err = q.stageGroup(l.sqes, l.ops)
	}
	if l.err != nil {
		for _, op := range l.ops {
			q.table.Abort(op, l.err)
		}
		return nil, l.err
	}
	return l.hs, nil
}

// add begins one member and returns its zeroed SQE, or nil after an error.
func (l *Link) add() (*completion.Handle, *completion.Op, *SQE) {
	if l.built {
		return nil, nil, nil
	}
	l.asked++
	if l.err != nil {
		return nil, nil, nil
	}
	if l.asked > l.q.table.Size() {
		// More members than the table holds: the chain can never be in
		// flight whole, and Begin's ErrBusy would say "try again" for ever,
		// also on an idle queue.
		l.err = ErrLinkTooLong
		return nil, nil, nil
	}
	h, op, err := l.q.table.Begin()
	if err != nil {
		l.err = err
		return nil, nil, nil
	}
	l.sqes = append(l.sqes, SQE{})
	l.ops = append(l.ops, op)
	l.hs = append(l.hs, h)
	return h, op, &l.sqes[len(l.sqes)-1]
}

// do adds one member: pin (nil for none) pins what the kernel uses and prep
// fills its SQE, as for Queue.submit.
func (l *Link) do(pin func(op *completion.Op), prep func(s *SQE)) *completion.Handle {
	h, op, s := l.add()
	if s != nil {
		if pin != nil {
			pin(op)
		}
		prep(s)
	}
	return h
}

// doBytes adds a member whose SQE points at buf, pinned until its
// completion.
func (l *Link) doBytes(buf []byte, prep func(s *SQE)) *completion.Handle {
	return l.do(func(op *completion.Op) { op.PinBytes(buf) }, prep)
}

// doVec adds a member on an iovec array over bufs (Queue.submitVec).
func (l *Link) doVec(bufs [][]byte, prep func(s *SQE, iov []unix.Iovec)) *completion.Handle {
	h, op, s := l.add()
	if s != nil {
		prep(s, pinIovecs(op, bufs))
	}
	return h
}

// run is do for a member whose arguments were converted first (path names,
// socket addresses): a conversion error ends the chain like a failed add.
func (l *Link) run(pin func(op *completion.Op), prep func(s *SQE), err error) *completion.Handle {
	if err != nil {
		if l.err == nil {
			l.err = err
		}
		return nil
	}
	return l.do(pin, prep)
}

// Nop adds IORING_OP_NOP (io_uring_prep_nop).
func (l *Link) Nop() *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepNop() })
}

// Read adds IORING_OP_READ (io_uring_prep_read) into buf at off.
func (l *Link) Read(fd int, buf []byte, off uint64) *completion.Handle {
	return l.doBytes(buf, func(s *SQE) { s.PrepRead(fd, rwSpan(buf), off) })
}

// Write adds IORING_OP_WRITE (io_uring_prep_write) of buf at off.
func (l *Link) Write(fd int, buf []byte, off uint64) *completion.Handle {
	return l.doBytes(buf, func(s *SQE) { s.PrepWrite(fd, rwSpan(buf), off) })
}

// Readv adds IORING_OP_READV (io_uring_prep_readv) into bufs at off.
func (l *Link) Readv(fd int, bufs [][]byte, off uint64) *completion.Handle {
	return l.doVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepReadv(fd, iov, off) })
}

// Writev adds IORING_OP_WRITEV (io_uring_prep_writev) from bufs at off.
func (l *Link) Writev(fd int, bufs [][]byte, off uint64) *completion.Handle {
	return l.doVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepWritev(fd, iov, off) })
}

// Fsync adds IORING_OP_FSYNC (io_uring_prep_fsync).
func (l *Link) Fsync(fd int, flags uint32) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepFsync(fd, flags) })
}

// Send adds IORING_OP_SEND (io_uring_prep_send).
func (l *Link) Send(fd int, buf []byte, flags int) *completion.Handle {
	return l.doBytes(buf, func(s *SQE) { s.PrepSend(fd, rwSpan(buf), flags) })
}

// Recv adds IORING_OP_RECV (io_uring_prep_recv).
func (l *Link) Recv(fd int, buf []byte, flags int) *completion.Handle {
	return l.doBytes(buf, func(s *SQE) { s.PrepRecv(fd, rwSpan(buf), flags) })
}

// PollAdd adds IORING_OP_POLL_ADD (io_uring_prep_poll_add).
func (l *Link) PollAdd(fd int, mask uint32) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepPollAdd(fd, mask) })
}

// Timeout adds IORING_OP_TIMEOUT (io_uring_prep_timeout) as a chain member.
func (l *Link) Timeout(d time.Duration, count, flags uint32) *completion.Handle {
	h, op, s := l.add()
	if s != nil {
		s.PrepTimeout(newTimespec(op, d), count, flags)
	}
	return h
}

// LinkTimeout adds IORING_OP_LINK_TIMEOUT (io_uring_prep_link_timeout)
// guarding the member added just before it: if that member has not
// completed after d it is cancelled (it completes with -ECANCELED, or
// -EINTR for some operations) and the timeout completes with -ETIME; if it
// completes in time the timeout completes with -ECANCELED. It must not be
// the chain's first member (the kernel reports -EINVAL then).
func (l *Link) LinkTimeout(d time.Duration, flags uint32) *completion.Handle {
	h, op, s := l.add()
	if s != nil {
		s.PrepLinkTimeout(newTimespec(op, d), flags)
	}
	return h
}

// CloseFD adds IORING_OP_CLOSE (io_uring_prep_close).
func (l *Link) CloseFD(fd int) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepClose(fd) })
}

// Statx adds IORING_OP_STATX (io_uring_prep_statx); path and st are pinned.
func (l *Link) Statx(dirfd int, path string, flags int, mask uint32, st *unix.Statx_t) *completion.Handle {
	if l.err != nil {
		return nil
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		l.err = err
		return nil
	}
	h, op, s := l.add()
	if s != nil {
		op.Pin(p)
		if st != nil { // a nil st is the kernel's EFAULT, not a panic
			op.Pin(st)
		}
		s.PrepStatx(dirfd, p, flags, mask, st)
	}
	return h
}
