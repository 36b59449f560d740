package completion

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

var (
	liveOps  atomic.Int64
	livePins atomic.Int64
)

// Stats returns the number of operations in flight and of Go objects pinned
// for them, across every table of the process. Tests use it to prove that
// nothing leaks: both return to their earlier value once every completion has
// been reaped.
func Stats() (ops, pins int64) { return liveOps.Load(), livePins.Load() }

// Op is the slot of one in-flight operation. The backend owns it between
// Table.Begin and Table.Complete (or Table.Abort).
type Op struct {
	h      *Handle
	pinner runtime.Pinner
	pins   int64
	aux    unsafe.Pointer
	idx    uint32
	gen    uint32
	inUse  bool
}

// UserData returns the value to hand to the kernel or C library: the slot's
// generation in the high 32 bits and its index in the low 32 bits. It is
// never 0 and never all ones (liburing's LIBURING_UDATA_TIMEOUT).
func (op *Op) UserData() uint64 { return uint64(op.gen)<<32 | uint64(op.idx) }

// Handle returns the handle that Begin returned with this slot.
func (op *Op) Handle() *Handle { return op.h }

// Pin pins p (a pointer, unsafe.Pointer, or pointer-shaped value accepted by
// runtime.Pinner.Pin) until the operation's completion is reaped.
func (op *Op) Pin(p any) {
	op.pinner.Pin(p)
	op.pins++
	livePins.Add(1)
}

// PinBytes pins the backing array of b when len(b) > 0.
func (op *Op) PinBytes(b []byte) {
	if len(b) > 0 {
		op.Pin(unsafe.SliceData(b))
	}
}

// SetAux keeps backend data (for example a C control block) with the slot.
func (op *Op) SetAux(p unsafe.Pointer) { op.aux = p }

// Aux returns what SetAux stored.
func (op *Op) Aux() unsafe.Pointer { return op.aux }

func (op *Op) release() {
	if op.pins > 0 {
		op.pinner.Unpin()
		livePins.Add(-op.pins)
		op.pins = 0
	}
	op.h = nil
	op.aux = nil
	op.inUse = false
	op.gen++
	if op.gen == 0 || op.gen == ^uint32(0) {
		op.gen = 1
	}
}

// Table maps user data to in-flight operations. Its size bounds the number
// of operations in flight; it never grows, so *Op values stay valid.
type Table struct {
	mu       sync.Mutex
	ops      []Op
	free     []uint32
	inflight int
	closed   bool
	closedCh chan struct{}
	drained  chan struct{}
	sem      chan struct{}
	canceler func(userData uint64)
}

// NewTable returns a table for at most size operations in flight.
func NewTable(size int) *Table {
	if size < 1 {
		size = 1
	}
	t := &Table{
		ops:      make([]Op, size),
		free:     make([]uint32, size),
		closedCh: make(chan struct{}),
		drained:  make(chan struct{}),
		sem:      make(chan struct{}, size),
	}
	for i := range t.ops {
		t.ops[i].idx = uint32(i)
		t.ops[i].gen = 1
		t.free[i] = uint32(size - 1 - i)
	}
	return t
}

// Size returns the table's capacity.
func (t *Table) Size() int { return len(t.ops) }

// SetCanceler sets the function Handle.Wait calls when its context ends
// before the operation completes. It receives the operation's user data and
// must tolerate user data that has completed meanwhile.
func (t *Table) SetCanceler(f func(userData uint64)) {
	t.mu.Lock()
	t.canceler = f
	t.mu.Unlock()
}

func (t *Table) cancel(ud uint64) {
	t.mu.Lock()
	f := t.canceler
	live := t.lookupLocked(ud) != nil
	t.mu.Unlock()
	if f != nil && live {
		f(ud)
	}
}

// Begin takes a free slot and returns its handle. It fails with ErrClosed
// after Close and with ErrBusy when every slot is in flight.
func (t *Table) Begin() (*Handle, *Op, error) {
	select {
	case t.sem <- struct{}{}:
	default:
		if t.isClosed() {
			return nil, nil, ErrClosed
		}
		return nil, nil, ErrBusy
	}
	return t.take()
}

// BeginWait is Begin, but waits for a free slot while every slot is in
// flight. It returns ctx.Err() if ctx ends first and ErrClosed if the table
// is closed meanwhile.
func (t *Table) BeginWait(ctx context.Context) (*Handle, *Op, error) {
	select {
	case t.sem <- struct{}{}:
	default:
		select {
		case t.sem <- struct{}{}:
		case <-t.closedCh:
			return nil, nil, ErrClosed
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	return t.take()
}

func (t *Table) take() (*Handle, *Op, error) {
	h := &Handle{t: t}
	h.gate.Lock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.sem
		return nil, nil, ErrClosed
	}
	n := len(t.free) - 1
	op := &t.ops[t.free[n]]
	t.free = t.free[:n]
	op.inUse = true
	op.h = h
	h.ud = op.UserData()
	t.inflight++
	t.mu.Unlock()
	liveOps.Add(1)
	return h, op, nil
}

func (t *Table) isClosed() bool {
	select {
	case <-t.closedCh:
		return true
	default:
		return false
	}
}

func (t *Table) lookupLocked(ud uint64) *Op {
	idx := uint32(ud)
	if int(idx) >= len(t.ops) {
		return nil
	}
	op := &t.ops[idx]
	if !op.inUse || op.gen != uint32(ud>>32) {
		return nil
	}
	return op
}

// Lookup returns the in-flight operation with this user data, or nil if it
// is unknown or has completed. The caller must not use the result after the
// operation may have completed (in practice: only the reaper, or code that
// holds the operation in flight, may use it).
func (t *Table) Lookup(ud uint64) *Op {
	t.mu.Lock()
	op := t.lookupLocked(ud)
	t.mu.Unlock()
	return op
}

// Visit calls f with the in-flight operation that has this user data while
// the table is locked, so the operation cannot complete meanwhile. It
// reports whether the operation was found. f must not call into the table.
func (t *Table) Visit(ud uint64, f func(op *Op)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := t.lookupLocked(ud)
	if op == nil {
		return false
	}
	f(op)
	return true
}

// Each calls f for every in-flight operation while the table is locked.
// f must not call into the table.
func (t *Table) Each(f func(op *Op)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.ops {
		if t.ops[i].inUse {
			f(&t.ops[i])
		}
	}
}

// Complete finishes the operation with this user data: it unpins its memory,
// frees the slot and wakes the handle's waiters with res (a count, or a
// negative errno) and flags. It returns false for unknown or stale user
// data, which it ignores.
func (t *Table) Complete(ud uint64, res int64, flags uint32) bool {
	return t.finish(ud, res, flags, nil)
}

// Abort finishes an operation that never reached the kernel (its submission
// failed): the handle reports err.
func (t *Table) Abort(op *Op, err error) {
	t.finish(op.UserData(), 0, 0, err)
}

func (t *Table) finish(ud uint64, res int64, flags uint32, err error) bool {
	t.mu.Lock()
	op := t.lookupLocked(ud)
	if op == nil {
		t.mu.Unlock()
		return false
	}
	h := op.h
	op.release()
	t.free = append(t.free, op.idx)
	t.inflight--
	if t.closed && t.inflight == 0 {
		select {
		case <-t.drained:
		default:
			close(t.drained)
		}
	}
	t.mu.Unlock()
	<-t.sem
	liveOps.Add(-1)
	h.complete(res, flags, err)
	return true
}

// InFlight returns the number of operations begun and not yet completed.
func (t *Table) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inflight
}

// Close makes Begin fail with ErrClosed from now on. Operations in flight
// still complete normally.
func (t *Table) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	close(t.closedCh)
	if t.inflight == 0 {
		close(t.drained)
	}
}

// Closed reports whether Close has been called.
func (t *Table) Closed() bool { return t.isClosed() }

// Drained returns a channel closed once the table is closed and no
// operation is in flight.
func (t *Table) Drained() <-chan struct{} { return t.drained }
