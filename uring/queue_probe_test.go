package uring

import (
	"errors"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// withoutOp returns a copy of p in which op is not supported.
func withoutOp(p *Probe, op uint8) *Probe {
	c := *p
	c.Ops = append([]ProbeOp(nil), p.Ops...)
	c.Ops[op].Flags &^= ProbeOpSupportedFlag
	return &c
}

// TestQueueUnsupportedOp: an opcode the probe reports as missing is refused
// before it reaches the ring, with an error that names it and matches
// ErrNotSupported and EINVAL; nothing stays pinned or in flight, and the
// queue goes on working. The probe is the kernel's own, with one opcode
// cleared, since this kernel may support every opcode liburing knows.
func TestQueueUnsupportedOp(t *testing.T) {
	q := newTestQueue(t, QueueConfig{RingOnly: true}) // an inline read needs no opcode
	if q.probe == nil {
		testutil.FeatureMissing(t, 5, 6, "io_uring_register_probe", errors.New("no probe"))
	}
	for op := uint8(0); op < OpLast; op++ {
		if q.probe.OpSupported(op) != q.ring.mustProbe(t).OpSupported(op) {
			t.Fatalf("queue probe and ring probe disagree on %s", OpName(op))
		}
	}
	q.probe = withoutOp(q.probe, OpRead)
	_, fd := tempFile(t, []byte("hello"))
	buf := make([]byte, 5)

	h, err := q.Read(fd, buf, 0)
	var uerr *UnsupportedOpError
	if h != nil || !errors.As(err, &uerr) || uerr.Op != OpRead {
		t.Fatalf("Read with IORING_OP_READ unsupported = %v, %v; want nil, *UnsupportedOpError", h, err)
	}
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EINVAL) {
		t.Errorf("%v does not match ErrNotSupported and EINVAL", err)
	}
	if got := err.Error(); got != "uring: IORING_OP_READ not supported by this kernel (io_uring probe)" {
		t.Errorf("error text %q", got)
	}
	if q.InFlight() != 0 {
		t.Errorf("in flight %d after a refused op", q.InFlight())
	}

	// A chain with an unsupported member is refused whole.
	var nop *completion.Handle
	hs, err := q.Link(func(l *Link) {
		nop = l.Nop()
		l.Read(fd, buf, 0)
	})
	if hs != nil || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Link with an unsupported member = %v, %v", hs, err)
	}
	if r, rerr := nop.Result(); rerr == nil {
		t.Errorf("member of a refused chain reports %d, nil", r)
	}

	// Everything else still works, and readv reads the file.
	h, err = q.Nop()
	mustRes(t, h, err, 0)
	h, err = q.Readv(fd, [][]byte{buf}, 0)
	mustRes(t, h, err, 5)
	if string(buf) != "hello" {
		t.Errorf("readv read %q", buf)
	}
}

func (r *Ring) mustProbe(t *testing.T) *Probe {
	t.Helper()
	p, err := r.Probe()
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	return p
}

// TestOpNames: every opcode liburing 2.3 knows has its kernel name, and the
// names are distinct.
func TestOpNames(t *testing.T) {
	seen := map[string]uint8{}
	for op := uint8(0); op < OpLast; op++ {
		n := OpName(op)
		if opNames[op] == "" {
			t.Errorf("opcode %d has no name", op)
		}
		if prev, dup := seen[n]; dup {
			t.Errorf("opcodes %d and %d are both %s", prev, op, n)
		}
		seen[n] = op
	}
	if OpName(OpRead) != "IORING_OP_READ" || OpName(200) != "IORING_OP_200" {
		t.Errorf("OpName(OpRead) = %s, OpName(200) = %s", OpName(OpRead), OpName(200))
	}
}
