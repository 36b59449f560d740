package completion

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Handle is one submitted operation. It is safe for use by many goroutines.
//
// The result is exactly what the C library or kernel reported: a
// non-negative count, or a negative errno returned as a unix.Errno error.
//
// A nil *Handle (what a caller holds after ignoring Begin's or a backend's
// error) does not panic: it behaves as a handle completed with
// ErrNilHandle. IsDone reports true, Done returns a closed channel, Result
// and Wait return (0, ErrNilHandle), and UserData, Res and Flags return 0.
//
// The fields are ordered so that a Handle fits the allocator's 80-byte size
// class (flags fills done's padding); one is allocated per operation.
type Handle struct {
	done  atomic.Bool
	flags uint32
	gate  sync.WaitGroup // 1 from Begin until completion: a wait with no context parks without spinning
	mu    sync.Mutex     // guards ch
	ch    chan struct{}
	res   int64
	err   error // set by Table.Abort: the operation never reached the kernel
	t     *Table
	ud    uint64
}

// UserData returns the user data that identifies the operation to the
// backend (slot index and generation).
func (h *Handle) UserData() uint64 {
	if h == nil {
		return 0
	}
	return h.ud
}

// closedDone is the Done channel of a nil *Handle, and of a handle whose
// Done is first asked for after it completed.
var closedDone = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Done returns a channel that is closed when the operation has completed.
func (h *Handle) Done() <-chan struct{} {
	if h == nil {
		return closedDone
	}
	h.mu.Lock()
	if h.ch == nil {
		if h.done.Load() {
			h.ch = closedDone
		} else {
			h.ch = make(chan struct{})
		}
	}
	ch := h.ch
	h.mu.Unlock()
	return ch
}

// IsDone reports whether the operation has completed.
func (h *Handle) IsDone() bool { return h == nil || h.done.Load() }

// Result returns the operation's result: (n, nil) for a non-negative result,
// (0, unix.Errno) for a negative one, and (0, ErrPending) before completion.
func (h *Handle) Result() (int, error) {
	if h == nil {
		return 0, ErrNilHandle
	}
	if !h.done.Load() {
		return 0, ErrPending
	}
	return h.result()
}

// Res returns the raw result as the kernel or C library reported it
// (negative errno on failure); valid once the handle is done.
func (h *Handle) Res() int64 {
	if h == nil {
		return 0
	}
	return h.res
}

// Flags returns the completion flags (io_uring CQE flags); 0 for the other
// backends or before completion.
func (h *Handle) Flags() uint32 {
	if h == nil || !h.done.Load() {
		return 0
	}
	return h.flags
}

func (h *Handle) result() (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if h.res < 0 {
		return 0, unix.Errno(-h.res)
	}
	return int(h.res), nil
}

// Wait blocks until the operation completes or ctx ends (a nil ctx never
// ends, like context.Background()).
//
// When ctx ends first, Wait asks the backend to cancel the operation and
// returns ctx.Err(). The operation's memory stays pinned until the kernel's
// completion arrives; the handle then still reports that completion through
// Done and Result.
func (h *Handle) Wait(ctx context.Context) (int, error) {
	if h == nil {
		return 0, ErrNilHandle
	}
	if h.done.Load() {
		return h.result()
	}
	var cd <-chan struct{}
	if ctx != nil { // a nil ctx waits like context.Background()
		cd = ctx.Done()
	}
	if cd == nil {
		if t := h.t; t != nil && t.waiter != nil && t.waiter(h) {
			return h.result()
		}
		h.gate.Wait()
		return h.result()
	}
	select {
	case <-h.Done():
		return h.result()
	case <-cd:
		if h.done.Load() {
			return h.result()
		}
		if h.t != nil {
			h.t.cancel(h.ud)
		}
		return 0, ctx.Err()
	}
}

// complete records the result and wakes every waiter. Called once.
func (h *Handle) complete(res int64, flags uint32, err error) {
	h.mu.Lock()
	h.res, h.flags, h.err = res, flags, err
	h.done.Store(true)
	if h.ch != nil {
		close(h.ch)
	}
	h.mu.Unlock()
	h.gate.Done()
}

// Completed returns a handle that is already done with result res (a count,
// or a negative errno), for an operation a backend finished without the
// kernel's asynchronous path (for example a read of cached data done in the
// caller). It takes no table slot and pins nothing; Wait, Done and Result
// behave as for any completed handle.
func Completed(res int64) *Handle {
	h := &Handle{res: res}
	h.done.Store(true)
	return h
}
