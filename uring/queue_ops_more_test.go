package uring

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// requireOp skips (below the Linux release that brought op) or fails (from
// it on) when the queue's probe lacks op.
func requireOp(t *testing.T, q *Queue, major, minor int, ops ...uint8) {
	t.Helper()
	for _, op := range ops {
		if q.probe != nil && !q.probe.OpSupported(op) {
			testutil.FeatureMissing(t, major, minor, OpName(op), &UnsupportedOpError{Op: op})
		}
	}
}

// fileBytes returns the whole content of the file at fd.
func fileBytes(t *testing.T, fd int) []byte {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size)
	if n, err := unix.Pread(fd, b, 0); err != nil || n != len(b) {
		t.Fatalf("pread: %d, %v", n, err)
	}
	return b
}

// wantBytes fails the test unless got is want.
func wantBytes(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func TestQueuePrep(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, nil)

	data := []byte("prepared write")
	h, err := q.Prep(func(s *SQE) {
		s.PrepWrite(fd, data, 0)
		s.SetUserData(12345) // overwritten by the queue: the handle completes
	}, data)
	mustRes(t, h, err, len(data))
	wantBytes(t, "file", fileBytes(t, fd), "prepared write")

	// An iovec array pins itself and its buffers; a [][]byte its buffers.
	a, b := make([]byte, 8), make([]byte, 6)
	iov := []unix.Iovec{rawIovec(a), rawIovec(b)}
	h, err = q.Prep(func(s *SQE) { s.PrepReadv(fd, iov, 0) }, iov, [][]byte{a, b})
	mustRes(t, h, err, 14)
	wantBytes(t, "readv", append(a, b...), "prepared write")

	// Pointers: a path and a statx buffer.
	path, err := unix.BytePtrFromString("")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statx_t
	h, err = q.Prep(func(s *SQE) {
		s.PrepStatx(fd, path, unix.AT_EMPTY_PATH, unix.STATX_SIZE, &st)
	}, path, &st, nil)
	mustRes(t, h, err, 0)
	if st.Size != uint64(len(data)) {
		t.Fatalf("statx size %d, want %d", st.Size, len(data))
	}

	// The values stay pinned until the CQE: a poll on an empty pipe keeps
	// its three pins until it is cancelled.
	pr, _ := testPipe(t)
	_, pins0 := completion.Stats()
	x := new(int64)
	h, err = q.Prep(func(s *SQE) { s.PrepPollAdd(pr, unix.POLLIN) }, []byte("abc"), x, unsafe.Pointer(x))
	if err != nil {
		t.Fatal(err)
	}
	if _, pins := completion.Stats(); pins != pins0+3 {
		t.Fatalf("pins while the poll is armed: %d, want %d", pins, pins0+3)
	}
	hc, err := q.Cancel(h)
	mustRes(t, hc, err, 0)
	mustErrno(t, h, nil, unix.ECANCELED)
	if _, pins := completion.Stats(); pins != pins0 {
		t.Fatalf("pins after the completion: %d, want %d", pins, pins0)
	}

	// A multishot poll completes its handle with the first CQE (F_MORE);
	// Cancel still finds the request that goes on in the kernel.
	pr2, pw2 := testPipe(t)
	h, err = q.Prep(func(s *SQE) { s.PrepPollMultishot(pr2, unix.POLLIN) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(pw2, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := waitRes(t, h, nil); err != nil || n&unix.POLLIN == 0 || h.Flags()&CQEFMore == 0 {
		t.Fatalf("multishot poll: %#x, %v, flags %#x; want POLLIN with F_MORE", n, err, h.Flags())
	}
	hc, err = q.Cancel(h)
	mustRes(t, hc, err, 0)

	// The kernel's errno reaches the handle.
	h, err = q.Prep(func(s *SQE) { s.PrepRead(-1, a, 0) }, a)
	mustErrno(t, h, err, unix.EBADF)

	// Refused before submission, with nothing left in flight or pinned.
	nop := func(s *SQE) { s.PrepNop() }
	for name, c := range map[string]struct {
		prep func(s *SQE)
		pins []any
	}{
		"nil prep":   {nil, nil},
		"int pin":    {nop, []any{7}},
		"string pin": {nop, []any{"abc"}},
		"skip CQE":   {func(s *SQE) { s.PrepNop(); s.Flags |= SQECQESkipSuccess }, nil},
		"SEND_ZC":    {func(s *SQE) { s.PrepSendZC(pr, a, 0, 0) }, []any{a}},
		"SENDMSG_ZC": {func(s *SQE) { s.PrepSendmsgZC(pr, nil, 0) }, nil},
	} {
		if h, err := q.Prep(c.prep, c.pins...); h != nil || !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: Prep = %v, %v; want nil, EINVAL", name, h, err)
		}
	}
	if q.probe == nil {
		testutil.FeatureMissing(t, 5, 6, "io_uring_register_probe", errors.New("no probe"))
	}
	// An opcode the kernel lacks is refused as by the named methods
	// (commit checks the opcode prep wrote).
	const bogus = 250
	h, err = q.Prep(func(s *SQE) { s.PrepRW(bogus, -1, nil, 0, 0) })
	var uerr *UnsupportedOpError
	if h != nil || !errors.As(err, &uerr) || uerr.Op != bogus {
		t.Fatalf("Prep of opcode %d = %v, %v; want *UnsupportedOpError", bogus, h, err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight after refused Preps: %d", n)
	}
}

func TestLinkPrep(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, nil)
	data, back := []byte("linked prep"), make([]byte, 11)
	hs, err := q.Link(func(l *Link) {
		l.Prep(func(s *SQE) { s.PrepWrite(fd, data, 0) }, data)
		l.Prep(func(s *SQE) { s.PrepRead(fd, back, 0) }, back)
	})
	if got := results(t, hs, err); !equalInts(got, []int{11, 11}) {
		t.Fatalf("results %v", got)
	}
	wantBytes(t, "read back", back, "linked prep")

	// The chain sets the link flags: a hard link that prep asks for is
	// cleared, so the failed read cancels the NOP after it.
	hs, err = q.Link(func(l *Link) {
		l.Prep(func(s *SQE) { s.PrepRead(-1, back, 0); s.Flags |= SQEIOHardlink }, back)
		l.Nop()
	})
	if got := results(t, hs, err); !equalInts(got, []int{-int(unix.EBADF), -int(unix.ECANCELED)}) {
		t.Fatalf("results %v, want [-EBADF -ECANCELED]", got)
	}

	// A refused member refuses the chain, before anything is submitted.
	hs, err = q.Link(func(l *Link) {
		l.Nop()
		if l.Prep(func(s *SQE) { s.PrepNop() }, 1.5) != nil {
			t.Error("Link.Prep with a float pin returned a handle")
		}
		if l.Nop() != nil {
			t.Error("member after a refused one returned a handle")
		}
	})
	if hs != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Link with a refused Prep = %v, %v", hs, err)
	}
}
