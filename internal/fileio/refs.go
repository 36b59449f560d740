package fileio

import "sync/atomic"

// Refs counts the operations that use a file descriptor, so that Close
// closes it only after the last one has finished: a closed descriptor's
// number may be handed out again at once, and an operation still holding
// the old number would then read or write another file.
//
// Every call takes and drops a reference, from goroutines on every CPU. One
// shared count makes its cache line travel between CPUs twice per call (8-10
// % of a 4 KiB page-cache read), so the count is kept in shards on separate
// cache lines, chosen by a key the caller passes (its buffer's address):
// goroutines with different buffers touch different lines. Close sets
// closing and then sums the shards; an operation adds to its shard and then
// looks at closing. Go's atomics are sequentially consistent, so at least
// one of the two sees the other: either the operation backs out, or Close's
// sum counts it. A shard never goes below 0 (an operation adds and takes
// away on the same shard), so a sum of 0 means that no operation is using
// the descriptor, however the shards were read.
//
// The zero value is ready; set Final before the first Acquire.
type Refs struct {
	closing atomic.Bool
	_       [63]byte
	shards  [refShards]struct {
		n atomic.Int64
		_ [56]byte
	}
	finalled atomic.Bool
	closer   atomic.Bool // set by the one Close that runs; see Close
	// Final closes the descriptor. It runs once, in whichever goroutine
	// drops the last reference after Close (or in Close itself).
	Final func() error
}

const refShards = 8

// Acquire takes a reference for one operation on the shard that key picks
// (any value; a buffer address spreads goroutines best) and returns the
// shard to give back to Release. It fails once Close has been called.
func (r *Refs) Acquire(key uintptr) (int, bool) {
	if r.closing.Load() {
		return 0, false
	}
	s := int((key>>6)^(key>>12)) % refShards
	r.shards[s].n.Add(1)
	if r.closing.Load() {
		r.Release(s)
		return 0, false
	}
	return s, true
}

// Release drops the reference Acquire took on shard s. The last one after
// Close runs Final and returns its error.
func (r *Refs) Release(s int) error {
	r.shards[s].n.Add(-1)
	if !r.closing.Load() {
		return nil
	}
	return r.final()
}

// Closing reports whether Close has been called.
func (r *Refs) Closing() bool { return r.closing.Load() }

// Close makes every later Acquire fail. With no operation in flight it runs
// Final at once and returns its error. Otherwise it calls busy (which may
// cancel the operations: the descriptor is still open while busy runs; nil
// for none) and returns nil; the last operation to finish runs Final (its
// error then goes to that operation's Release, and is lost if that was an
// Acquire backing out).
//
// Exactly one Close, the first, returns ok true, however many goroutines
// call it at once; it alone may run Final from Close, so Final's error is
// never lost between Closes. Every other Close returns ok false and a nil
// error, takes no reference and does nothing: it neither runs Final nor
// waits for it (a caller maps ok false to its "already closed" error).
func (r *Refs) Close(busy func()) (ok bool, err error) {
	// The closer flag picks the one Close that runs before it touches the
	// count: a losing Close that took a reference could drop the last one,
	// run Final in the winner's place and lose Final's error.
	if r.closing.Load() || !r.closer.CompareAndSwap(false, true) {
		return false, nil
	}
	r.shards[0].n.Add(1) // Close's own reference keeps the descriptor open for busy
	r.closing.Store(true)
	if r.sum() > 1 && busy != nil {
		busy()
	}
	return true, r.Release(0)
}

func (r *Refs) sum() int64 {
	var n int64
	for i := range r.shards {
		n += r.shards[i].n.Load()
	}
	return n
}

// final runs Final when no reference is left and nobody ran it yet.
func (r *Refs) final() error {
	if r.sum() != 0 || !r.finalled.CompareAndSwap(false, true) {
		return nil
	}
	if r.Final == nil {
		return nil
	}
	return r.Final()
}
