package uring

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Guards of the handle layer against ring states and requests that would
// strand a handle or complete the wrong one.

// TestQueueSQPollDisabledRefused: SQPOLL with R_DISABLED is ErrQueueFlags.
// liburing enters the kernel (and gets EBADFD from a disabled ring) only when
// the SQ thread has asked for a wake-up, so an operation submitted before
// EnableRings could sit in the SQ with no error to fail it, and Close with it.
func TestQueueSQPollDisabledRefused(t *testing.T) {
	q, err := NewQueueConfig(QueueConfig{Entries: 8, Params: &Params{Flags: SetupSQPoll | SetupRDisabled, SQThreadIdle: 1}})
	if q != nil || !errors.Is(err, ErrQueueFlags) {
		if q != nil {
			q.Close()
		}
		t.Fatalf("NewQueueConfig(SQPOLL|R_DISABLED) = %v, %v; want ErrQueueFlags", q, err)
	}
}

// TestQueuePrepMsgRingDupOwnRing: MSG_RING through a dup of the queue's own
// ring descriptor is refused like one through the descriptor itself: its
// CQE would carry the user data of the pending read and complete (and
// unpin) it while the kernel still owns the buffer.
func TestQueuePrepMsgRingDupOwnRing(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, w := testPipe(t)
	h, err := q.Read(r, make([]byte, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(q.Ring().Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	if m, err := q.Prep(func(s *SQE) { s.PrepMsgRing(dup, 0, h.UserData(), 0) }); m != nil || !errors.Is(err, unix.EINVAL) {
		t.Errorf("MSG_RING through dup %d of ring fd %d = %v, %v; want EINVAL", dup, q.Ring().Fd(), m, err)
	}
	// Another ring's descriptor is not the queue's own.
	other := rawRing(t, 4, nil)
	m, err := q.Prep(func(s *SQE) { s.PrepMsgRing(other.Fd(), 0, 77, 0) })
	mustRes(t, m, err, 0)
	if c, err := other.WaitCQETimeout(5 * time.Second); err != nil || c.UserData != 77 {
		t.Errorf("MSG_RING to another ring: CQE %+v, %v; want user data 77", c, err)
	}
	unix.Write(w, []byte("x"))
	if n, err := waitRes(t, h, nil); n != 1 || err != nil {
		t.Errorf("pending read = %d, %v; want 1, nil", n, err)
	}
}

// TestQueueSQPollChainCap: an SQ thread serving several rings takes at most
// 8 SQEs of a ring per pass and ends a chain there (members after the 8th ran
// although the head had failed), so an SQPOLL queue refuses longer chains,
// and 8 members still make one chain, also on rings that share the thread.
func TestQueueSQPollChainCap(t *testing.T) {
	a := newTestQueue(t, QueueConfig{Entries: 32, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 50}})
	b := newTestQueue(t, QueueConfig{Entries: 32, Params: &Params{Flags: SetupSQPoll | SetupAttachWQ, WQFd: uint32(a.Ring().Fd()), SQThreadIdle: 50}})
	for _, q := range []*Queue{a, b} {
		buf := make([]byte, 8)
		chain := func(n int) func(l *Link) {
			return func(l *Link) {
				l.Read(-1, buf, 0)
				for i := 1; i < n; i++ {
					l.Nop()
				}
			}
		}
		if hs, err := q.Link(chain(9)); hs != nil || !errors.Is(err, ErrLinkTooLong) {
			t.Errorf("9-member chain on an SQPOLL queue: %v, %v; want ErrLinkTooLong", hs, err)
		}
		hs, err := q.Link(chain(8))
		got := results(t, hs, err)
		for i, v := range got {
			want := -int(unix.ECANCELED)
			if i == 0 {
				want = -int(unix.EBADF)
			}
			if v != want {
				t.Errorf("8-member chain (ring fd %d): results %v; want EBADF then ECANCELED", q.Ring().Fd(), got)
				break
			}
		}
	}
}

// TestSetupFlagsUnknownToLiburing: a setup flag newer than liburing 2.3
// (IORING_SETUP_NO_SQARRAY, Linux 6.6) is EINVAL: liburing 2.3 would write
// its SQ index array at offset 0 of such a ring, over the heads and tails.
func TestSetupFlagsUnknownToLiburing(t *testing.T) {
	const setupNoSQArray = 1 << 16
	if r, err := New(8, &Params{Flags: setupNoSQArray}); r != nil || !errors.Is(err, unix.EINVAL) {
		if r != nil {
			r.Close()
		}
		t.Errorf("New(IORING_SETUP_NO_SQARRAY) = %v, %v; want EINVAL", r, err)
	}
	if r, err := QueueMmap(0, &Params{Flags: setupNoSQArray}); r != nil || !errors.Is(err, unix.EINVAL) {
		t.Errorf("QueueMmap(IORING_SETUP_NO_SQARRAY) = %v, %v; want EINVAL", r, err)
	}
}

// TestQueueRingRestrictionsRefused: restrictions on a queue's ring would
// refuse the queue's own cancels (EACCES), so that Close waited for ever.
func TestQueueRingRestrictionsRefused(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8, Params: &Params{Flags: SetupRDisabled}})
	res := []Restriction{{Opcode: RestrictionSQEOp, Arg: OpRead}}
	if err := q.Ring().RegisterRestrictions(res); !errors.Is(err, ErrQueueRing) {
		t.Fatalf("RegisterRestrictions on a queue's ring = %v, want ErrQueueRing", err)
	}
	if err := q.Ring().EnableRings(); err != nil {
		t.Fatal(err)
	}
	h, err := q.Nop()
	mustRes(t, h, err, 0)
}
