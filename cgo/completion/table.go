package completion

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

var liveOps, livePins counter

// counter is a process-wide debug count kept in shards on separate cache
// lines, chosen by slot index: every operation adds to it twice, and one
// shared word bouncing between CPUs cost 10-15 % of the NOP rate of a
// uring.Queue with 128 goroutines.
type counter struct {
	shards [16]struct {
		n atomic.Int64
		_ [56]byte
	}
}

func (c *counter) add(slot uint32, d int64) { c.shards[slot%16].n.Add(d) }

// one reports whether the count is exactly 1, stopping at the second
// non-zero shard. Shards never go below 0 (an operation adds and subtracts
// on the shard of its own slot, in that order), so the early answer is exact
// and a busy table costs a load or two, not sixteen.
func (c *counter) one() bool {
	var n int64
	for i := range c.shards {
		if n += c.shards[i].n.Load(); n > 1 {
			return false
		}
	}
	return n == 1
}

func (c *counter) load() int64 {
	var n int64
	for i := range c.shards {
		n += c.shards[i].n.Load()
	}
	return n
}

// Stats returns the number of operations in flight and of Go objects pinned
// for them, across every table of the process. Tests use it to prove that
// nothing leaks: both return to their earlier value once every completion has
// been reaped (while operations start and finish, the two sums are not a
// snapshot).
func Stats() (ops, pins int64) { return liveOps.load(), livePins.load() }

// Op is the slot of one in-flight operation. The backend owns it between
// Table.Begin and Table.Complete (or Table.Abort).
type Op struct {
	key    atomic.Uint64 // UserData while in flight, 0 while free
	mu     sync.Mutex    // held by Visit/Each callbacks and by finish's claim
	next   atomic.Uint32 // free-list link: index+1 of the next free slot, 0 ends
	h      *Handle
	pinner runtime.Pinner
	pins   int64
	aux    unsafe.Pointer
	idx    uint32
	gen    uint32
	// Two cache lines per slot: neighbouring slots belong to goroutines on
	// other CPUs, and the CPU's adjacent-line prefetch pairs lines (+2-6 %
	// on the handle NOP rate).
	_ [64]byte
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
	livePins.add(op.idx, 1)
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

// release unpins and clears the slot. The caller has claimed it (key is 0)
// and it is not yet back on the free list, so nobody else touches it.
func (op *Op) release() {
	if op.pins > 0 {
		op.pinner.Unpin()
		livePins.add(op.idx, -op.pins)
		op.pins = 0
	}
	op.h = nil
	op.aux = nil
	op.gen++
	if op.gen == 0 || op.gen == ^uint32(0) {
		op.gen = 1
	}
}

// Table maps user data to in-flight operations. Its size bounds the number
// of operations in flight; it never grows, so *Op values stay valid.
//
// Begin and Complete take no table-wide lock: free slots form a lock-free
// stack (a Treiber stack whose head carries a modification count against
// ABA), a slot's key says atomically which operation owns it, and the one
// caller whose claim of the key succeeds completes the operation. Goroutines
// on many threads can therefore start and finish operations without
// contending on one mutex; only the rare paths (BeginWait on a full table,
// Visit, Each, Close) take locks.
type Table struct {
	ops      []Op
	size     int           // ordinary slots: ops[:size]; the rest are the reserve
	head     atomic.Uint64 // free stack: modification count << 32 | (index+1)
	rhead    atomic.Uint64 // free stack of the reserve slots, the same way
	inflight counter       // by slot, like liveOps: both change twice per operation
	closed   atomic.Bool
	closedCh chan struct{}
	drained  chan struct{}
	drainSet atomic.Bool // drained has been closed

	wmu     sync.Mutex    // guards freed; waiters changes under it
	waiters atomic.Int32  // BeginWait callers waiting for a free slot
	freed   chan struct{} // closed (and replaced) when a slot is freed for waiters

	cmu      sync.Mutex
	canceler func(userData uint64)
	waiter   func(h *Handle) bool // see SetWaiter; set before the table is used
}

// MaxTableSize is the most ordinary slots a table holds (each slot takes
// 128 bytes; NewTableReserve adds its few reserve slots beyond them): the
// backends refuse a larger queue size with EINVAL before they make one.
const MaxTableSize = 1 << 20

// NewTable returns a table for at most size operations in flight (1 to
// MaxTableSize; a size out of that range is taken as the nearest bound).
func NewTable(size int) *Table { return NewTableReserve(size, 0) }

// NewTableReserve is NewTable with reserve more slots that only
// BeginReserved takes, once the size ordinary slots are all in flight: a
// backend keeps them for short operations that act on others (a cancel, a
// poll or timeout removal), which must not be refused for ever because the
// operations they would end hold every ordinary slot. Size reports the
// ordinary slots only. The reserve may take the table beyond MaxTableSize
// (it is at most MaxTableSize itself); a negative reserve is taken as 0.
func NewTableReserve(size, reserve int) *Table {
	size = min(size, MaxTableSize)
	if size < 1 {
		size = 1
	}
	reserve = max(0, min(reserve, MaxTableSize))
	t := &Table{
		ops:      make([]Op, size+reserve),
		size:     size,
		closedCh: make(chan struct{}),
		drained:  make(chan struct{}),
		freed:    make(chan struct{}),
	}
	// Slot 0 on top, so the first operations get small indexes.
	for i := len(t.ops) - 1; i >= 0; i-- {
		t.ops[i].idx = uint32(i)
		t.ops[i].gen = 1
		t.push(&t.ops[i])
	}
	return t
}

// reserved reports whether op is one of the reserve slots.
func (t *Table) reserved(op *Op) bool { return int(op.idx) >= t.size }

// push puts op on its free stack (the reserve's for a reserve slot).
func (t *Table) push(op *Op) {
	if t.reserved(op) {
		pushChain(&t.rhead, op, op)
	} else {
		pushChain(&t.head, op, op)
	}
}

// pushChain puts the slots linked from first to last (through next) on the
// free stack whose head is head, with one compare-and-swap.
func pushChain(head *atomic.Uint64, first, last *Op) {
	for {
		old := head.Load()
		last.next.Store(uint32(old))
		nw := (old>>32+1)<<32 | uint64(first.idx+1)
		if head.CompareAndSwap(old, nw) {
			return
		}
	}
}

// pop takes a slot off the ordinary free stack, or returns nil when none
// is free.
func (t *Table) pop() *Op { return t.popFrom(&t.head) }

// popFrom takes a slot off the free stack whose head is head.
func (t *Table) popFrom(head *atomic.Uint64) *Op {
	for {
		old := head.Load()
		top := uint32(old)
		if top == 0 {
			return nil
		}
		op := &t.ops[top-1]
		// op.next may be stale if op was popped and pushed again since the
		// load; the modification count in head then makes the CAS fail.
		nw := (old>>32+1)<<32 | uint64(op.next.Load())
		if head.CompareAndSwap(old, nw) {
			return op
		}
	}
}

// Size returns the table's capacity in ordinary slots (without the
// reserve of NewTableReserve).
func (t *Table) Size() int { return t.size }

// SetWaiter sets a function that Handle.Wait without a context calls
// before it parks: the backend may wait for the operation in the kernel
// instead (a lone request), and reports whether the handle is done. When it
// returns false, Wait parks as usual. Call it before the table is used.
func (t *Table) SetWaiter(f func(h *Handle) bool) { t.waiter = f }

// SetCanceler sets the function Handle.Wait calls when its context ends
// before the operation completes. It receives the operation's user data and
// must tolerate user data that has completed meanwhile.
func (t *Table) SetCanceler(f func(userData uint64)) {
	t.cmu.Lock()
	t.canceler = f
	t.cmu.Unlock()
}

func (t *Table) cancel(ud uint64) {
	t.cmu.Lock()
	f := t.canceler
	t.cmu.Unlock()
	if f != nil && t.lookup(ud) != nil {
		f(ud)
	}
}

// Begin takes a free slot and returns its handle. It fails with ErrClosed
// after Close and with ErrBusy when every slot is in flight.
func (t *Table) Begin() (*Handle, *Op, error) {
	if t.closed.Load() {
		// Before pop: take counts a popped slot in flight until it sees
		// closed, and a closed, drained table must not seem busy.
		return nil, nil, ErrClosed
	}
	op := t.pop()
	if op == nil {
		return nil, nil, t.noSlot()
	}
	return t.take(op)
}

// noSlot is Begin's error when no slot was free: ErrClosed if Close ran
// meanwhile, else ErrBusy.
func (t *Table) noSlot() error {
	if t.closed.Load() {
		return ErrClosed
	}
	return ErrBusy
}

// BeginReserved is Begin, but when every ordinary slot is in flight it
// takes a reserve slot (see NewTableReserve). It fails with ErrBusy only
// when the reserve is in flight too.
func (t *Table) BeginReserved() (*Handle, *Op, error) {
	if t.closed.Load() {
		return nil, nil, ErrClosed // before pop, as in Begin
	}
	op := t.popReserved()
	if op == nil {
		return nil, nil, t.noSlot()
	}
	return t.take(op)
}

// BeginWait is Begin, but waits for a free slot while every slot is in
// flight. It returns ctx.Err() if ctx ends first and ErrClosed if the table
// is closed meanwhile. A nil ctx never ends (as for Handle.Wait).
func (t *Table) BeginWait(ctx context.Context) (*Handle, *Op, error) {
	return t.beginWait(ctx, false)
}

// BeginWaitReserved is BeginWait, but a reserve slot (see NewTableReserve)
// will do when every ordinary slot is in flight, as for BeginReserved; it
// waits only while the reserve is in flight too.
func (t *Table) BeginWaitReserved(ctx context.Context) (*Handle, *Op, error) {
	return t.beginWait(ctx, true)
}

// popReserved takes an ordinary slot, or else a reserve slot; nil when none
// is free.
func (t *Table) popReserved() *Op {
	if op := t.pop(); op != nil {
		return op
	}
	return t.popFrom(&t.rhead)
}

// beginWait is BeginWait, and BeginWaitReserved with reserve set.
func (t *Table) beginWait(ctx context.Context, reserve bool) (*Handle, *Op, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	pop := func() *Op {
		if reserve {
			return t.popReserved()
		}
		return t.pop()
	}
	for {
		if t.closed.Load() {
			return nil, nil, ErrClosed // before pop, as in Begin
		}
		if op := pop(); op != nil {
			return t.take(op)
		}
		t.wmu.Lock()
		t.waiters.Add(1)
		ch := t.freed
		t.wmu.Unlock()
		// A slot freed between the failed pop and the increment above was
		// pushed before finish looked at waiters: look again.
		op := pop()
		if op == nil {
			select {
			case <-ch:
			case <-t.closedCh:
			case <-ctx.Done():
			}
		}
		t.wmu.Lock()
		t.waiters.Add(-1)
		t.wmu.Unlock()
		if op != nil {
			return t.take(op)
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
	}
}

// take makes op, just popped off the free stack, an operation in flight.
func (t *Table) take(op *Op) (*Handle, *Op, error) {
	t.inflight.add(op.idx, 1)
	if t.closed.Load() {
		// Close ran meanwhile; it cannot have seen this slot in flight.
		t.push(op)
		t.wakeWaiters()
		t.dec(op)
		return nil, nil, ErrClosed
	}
	h := &Handle{t: t}
	h.gate.Add(1)
	op.h = h
	h.ud = op.UserData()
	liveOps.add(op.idx, 1)
	op.key.Store(h.ud) // publishes the fields above to Visit, Each and finish
	return h, op, nil
}

// dec counts op's operation out and reports the drain of a closed table.
// Every dec sums the shards after its own decrement, so the last one of a
// closed table sees 0 (Close sets closed before it sums).
func (t *Table) dec(op *Op) {
	t.inflight.add(op.idx, -1)
	if t.closed.Load() && t.inflight.load() == 0 {
		t.setDrained()
	}
}

func (t *Table) setDrained() {
	if t.drainSet.CompareAndSwap(false, true) {
		close(t.drained)
	}
}

// wakeWaiters wakes BeginWait callers after a slot was pushed.
func (t *Table) wakeWaiters() {
	if t.waiters.Load() == 0 {
		return
	}
	t.wmu.Lock()
	close(t.freed)
	t.freed = make(chan struct{})
	t.wmu.Unlock()
}

func (t *Table) isClosed() bool { return t.closed.Load() }

// lookup returns the slot that ud names while that operation is in flight.
func (t *Table) lookup(ud uint64) *Op {
	idx := uint32(ud)
	if ud == 0 || int(idx) >= len(t.ops) {
		return nil
	}
	op := &t.ops[idx]
	if op.key.Load() != ud {
		return nil
	}
	return op
}

// Owns reports whether h was begun in this table (false for nil). A
// backend checks it before it acts on a handle a caller passes back, since
// user data values repeat across tables.
func (t *Table) Owns(h *Handle) bool { return h != nil && h.t == t }

// Lookup returns the in-flight operation with this user data, or nil if it
// is unknown or has completed. The caller must not use the result after the
// operation may have completed (in practice: only the reaper, or code that
// holds the operation in flight, may use it).
func (t *Table) Lookup(ud uint64) *Op { return t.lookup(ud) }

// Visit calls f with the in-flight operation that has this user data while
// the slot is locked, so the operation cannot complete meanwhile (a
// concurrent Complete waits for f to return). It reports whether the
// operation was found. f must not call into the table.
func (t *Table) Visit(ud uint64, f func(op *Op)) bool {
	op := t.lookup(ud)
	if op == nil {
		return false
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.key.Load() != ud {
		return false
	}
	f(op)
	return true
}

// Each calls f for every in-flight operation, each while its slot is locked
// (see Visit). f must not call into the table.
func (t *Table) Each(f func(op *Op)) {
	for i := range t.ops {
		op := &t.ops[i]
		if op.key.Load() == 0 {
			continue
		}
		op.mu.Lock()
		if op.key.Load() != 0 {
			f(op)
		}
		op.mu.Unlock()
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
// failed): the handle reports err, or ErrAborted when err is nil (never the
// (0, nil) of a successful empty transfer). Res reports 0.
func (t *Table) Abort(op *Op, err error) {
	if err == nil {
		err = ErrAborted
	}
	t.finish(op.UserData(), 0, 0, err)
}

// finish counts the operation out before it completes the handle: a
// goroutine woken by the handle finds InFlight without it (File.ReadAtContext
// relies on that). Drained can therefore close just before the last handle
// is marked done.
func (t *Table) finish(ud uint64, res int64, flags uint32, err error) bool {
	op, h := t.claim(ud)
	if op == nil {
		return false
	}
	t.push(op)
	t.wakeWaiters()
	t.dec(op)
	h.complete(res, flags, err)
	return true
}

// claim takes the in-flight operation ud away from everybody else: exactly
// one claimer of ud gets its slot (released: unpinned, cleared, not yet on
// the free stack) and handle; a Visit or Each callback that holds op.mu
// finishes first. It returns nil for unknown or stale user data.
func (t *Table) claim(ud uint64) (*Op, *Handle) {
	op := t.lookup(ud)
	if op == nil {
		return nil, nil
	}
	op.mu.Lock()
	if !op.key.CompareAndSwap(ud, 0) {
		op.mu.Unlock()
		return nil, nil
	}
	op.mu.Unlock()
	h := op.h
	op.release()
	liveOps.add(op.idx, -1)
	return op, h
}

// Batch completes many operations with one push of their slots onto the
// free stack: a reaper that drains a batch of CQEs otherwise makes the
// stack's head travel between its CPU and the submitters' once per
// operation. Its zero value is ready; Flush completes what Add collected.
// A Batch is not safe for concurrent use.
type Batch struct {
	t             *Table
	first, last   *Op // chain of ordinary slots
	rfirst, rlast *Op // chain of reserve slots (see NewTableReserve)
	done          []batched
}

type batched struct {
	h     *Handle
	op    *Op
	res   int64
	flags uint32
}

// Add claims the operation with this user data for b (see Complete); it
// returns false for unknown or stale user data. The handle completes at
// Flush.
func (b *Batch) Add(t *Table, ud uint64, res int64, flags uint32) bool {
	if b.t != nil && b.t != t {
		b.Flush()
	}
	op, h := t.claim(ud)
	if op == nil {
		return false
	}
	b.t = t
	if t.reserved(op) {
		b.rfirst, b.rlast = link(b.rfirst, b.rlast, op)
	} else {
		b.first, b.last = link(b.first, b.last, op)
	}
	b.done = append(b.done, batched{h: h, op: op, res: res, flags: flags})
	return true
}

// Flush puts the collected slots back on the free stack, in one push, and
// then completes their handles: a waiter woken by its handle always finds
// its slot free again, as with Complete.
func (b *Batch) Flush() {
	t := b.t
	if t == nil {
		return
	}
	if b.first != nil {
		pushChain(&t.head, b.first, b.last)
	}
	if b.rfirst != nil {
		pushChain(&t.rhead, b.rfirst, b.rlast)
	}
	t.wakeWaiters()
	for i := range b.done {
		d := &b.done[i]
		t.dec(d.op)
		d.h.complete(d.res, d.flags, nil)
		*d = batched{}
	}
	b.done = b.done[:0]
	b.t, b.first, b.last, b.rfirst, b.rlast = nil, nil, nil, nil, nil
}

// link appends op to the chain from first to last and returns the chain's
// new ends.
func link(first, last, op *Op) (*Op, *Op) {
	if first == nil {
		return op, op
	}
	last.next.Store(op.idx + 1)
	return first, op
}

// InFlight returns the number of operations begun and not yet completed.
func (t *Table) InFlight() int { return int(t.inflight.load()) }

// Lone reports whether exactly one operation is in flight, more cheaply than
// InFlight() == 1 on a busy table (a table waiter asks on every Wait).
func (t *Table) Lone() bool { return t.inflight.one() }

// Close makes Begin fail with ErrClosed from now on. Operations in flight
// still complete normally.
func (t *Table) Close() {
	if !t.closed.CompareAndSwap(false, true) {
		return
	}
	close(t.closedCh)
	if t.inflight.load() == 0 {
		t.setDrained()
	}
}

// Closed reports whether Close has been called.
func (t *Table) Closed() bool { return t.isClosed() }

// Drained returns a channel closed once the table is closed and no
// operation is in flight (possibly just before the last handle is marked
// done; backends wait for their reaper after it).
func (t *Table) Drained() <-chan struct{} { return t.drained }
