package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

import (
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Queue is the handle layer over a Context: its methods may be called from any
// goroutine and return a *completion.Handle per request.
//
// Each request's iocb lives in C memory owned by the Queue (one per handle-table slot),
// and every Go buffer it names stays pinned in the slot until its event is reaped. Every
// iocb carries IOCB_FLAG_RESFD pointing at a completion.Notifier (an eventfd on Go's
// network poller); one reaper goroutine per Queue sleeps there and, when woken, reaps
// with io_getevents and a zero timeout (one cgo call per batch of up to Depth events),
// completing each handle. Waiting goroutines therefore hold no OS thread.
type Queue struct {
	ctx      *Context
	cctx     C.io_context_t
	table    *completion.Table
	notifier *completion.Notifier

	mem    *cmem.Buf // iocbs | iocb pointers | events, one C allocation
	iocbs  []Iocb    // one per slot
	ptrs   []uintptr // ptrs[i] = &iocbs[i], for io_submit and io_cancel
	events []Event   // the reaper's batch

	iovs []*cmem.Iovecs // per slot: C iovec array of a vectored request in flight

	reaperDone chan struct{}
	reapErr    error // first unexpected io_getevents error (reaper-owned until reaperDone)
	closeOnce  sync.Once
	closeErr   error
}

// NewQueue creates a Context with io_setup(depth) and a Queue allowing depth requests
// in flight. depth <= 0 gives EINVAL and a depth above /proc/sys/fs/aio-max-nr gives
// EAGAIN, from io_setup.
func NewQueue(depth int) (q *Queue, err error) {
	ctx, err := Setup(depth)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ctx.Destroy()
		}
	}()
	n, err := completion.NewNotifier()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	const ptrSize = int(unsafe.Sizeof(uintptr(0)))
	size := depth * (SizeofIocb + ptrSize + SizeofEvent)
	mem, err := cmem.Alloc(size, 64)
	if err != nil {
		return nil, err
	}
	base := mem.Ptr()
	q = &Queue{
		ctx:        ctx,
		cctx:       ctx.ctx,
		table:      completion.NewTable(depth),
		notifier:   n,
		mem:        mem,
		iocbs:      unsafe.Slice((*Iocb)(base), depth),
		ptrs:       unsafe.Slice((*uintptr)(unsafe.Add(base, depth*SizeofIocb)), depth),
		events:     unsafe.Slice((*Event)(unsafe.Add(base, depth*(SizeofIocb+ptrSize))), depth),
		iovs:       make([]*cmem.Iovecs, depth),
		reaperDone: make(chan struct{}),
	}
	for i := range q.iocbs {
		q.ptrs[i] = uintptr(unsafe.Pointer(&q.iocbs[i]))
	}
	q.table.SetCanceler(q.cancel)
	go q.reap()
	return q, nil
}

// Depth returns the number of requests the Queue allows in flight.
func (q *Queue) Depth() int { return len(q.iocbs) }

// InFlight returns the number of requests submitted and not yet reaped.
func (q *Queue) InFlight() int { return q.table.InFlight() }

// Context returns the underlying raw Context (for Cancel or inspection). Reaping its
// events or destroying it behind the Queue's back loses completions.
func (q *Queue) Context() *Context { return q.ctx }

// begin reserves a slot: the Iocb to fill and the op to pin memory in. With a nil ctx
// it fails with ErrBusy when every slot is in use, otherwise it waits for one until ctx
// ends.
func (q *Queue) begin(ctx context.Context) (*completion.Handle, *completion.Op, *Iocb, error) {
	var h *completion.Handle
	var op *completion.Op
	var err error
	if ctx == nil {
		h, op, err = q.table.Begin()
	} else {
		h, op, err = q.table.BeginWait(ctx)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return h, op, &q.iocbs[uint32(op.UserData())], nil
}

// submit finishes cb (user data, eventfd) and hands it to io_submit. A rejected request
// is aborted: its memory unpinned, its slot freed, and the errno returned.
func (q *Queue) submit(h *completion.Handle, op *completion.Op, cb *Iocb) (*completion.Handle, error) {
	ud := op.UserData()
	cb.Data = ud
	cb.SetEventfd(q.notifier.FD())
	slot := uint32(ud)
	r := C.aiokit_io_submit(q.cctx, 1, (*C.uintptr_t)(unsafe.Pointer(&q.ptrs[slot])))
	if r == 1 {
		return h, nil
	}
	err := errnoErr(r)
	if r >= 0 { // 0: nothing queued and no errno; cannot happen for one iocb
		err = unix.EAGAIN
	}
	q.freeIov(slot)
	q.table.Abort(op, err)
	return nil, err
}

func (q *Queue) freeIov(slot uint32) {
	if v := q.iovs[slot]; v != nil {
		v.Free()
		q.iovs[slot] = nil
	}
}

// reap is the reaper goroutine: sleep on the eventfd, drain the ring, complete handles.
func (q *Queue) reap() {
	defer close(q.reaperDone)
	for {
		_, err := q.notifier.Wait()
		q.drain()
		if err != nil {
			return
		}
	}
}

func (q *Queue) drain() {
	evp := (*C.struct_io_event)(unsafe.Pointer(&q.events[0]))
	for {
		r := C.aiokit_reap(q.cctx, C.long(len(q.events)), evp)
		if r < 0 {
			if q.reapErr == nil {
				q.reapErr = errnoErr(r)
			}
			return
		}
		for i := 0; i < int(r); i++ {
			ev := &q.events[i]
			if slot := uint32(ev.Data); int(slot) < len(q.iovs) {
				q.freeIov(slot)
			}
			q.table.Complete(ev.Data, ev.Res, 0)
		}
		if int(r) < len(q.events) {
			return
		}
	}
}

// cancel is the table's canceler (Handle.Wait with an ended context): io_cancel on the
// request's iocb, under the table lock so that the slot cannot be reused meanwhile. The
// result is ignored: read/write/fsync requests cannot be cancelled (EINVAL) and stay
// pinned until their event arrives; a poll is cancelled (EINPROGRESS) and completes
// with result 0.
func (q *Queue) cancel(ud uint64) {
	q.table.Visit(ud, func(op *completion.Op) {
		var ev C.struct_io_event
		C.aiokit_io_cancel(q.cctx, C.uintptr_t(q.ptrs[uint32(ud)]), &ev)
	})
}

// Close stops new requests (ErrClosed), asks the kernel to cancel the in-flight ones
// (only polls can be), waits until every in-flight request has completed and its handle
// is done, then destroys the Context (io_destroy) and frees the C memory. Buffers stay
// pinned until their requests complete, so Close blocks as long as the slowest request
// (a read from a device that never answers blocks it forever, as io_destroy would in C).
// Close is idempotent; later calls return the first call's result.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.table.Close()
		cancelAll := func() {
			q.table.Each(func(op *completion.Op) {
				var ev C.struct_io_event
				C.aiokit_io_cancel(q.cctx, C.uintptr_t(q.ptrs[uint32(op.UserData())]), &ev)
			})
		}
		cancelAll()
		tick := time.NewTicker(20 * time.Millisecond)
	wait:
		for {
			select {
			case <-q.table.Drained():
				break wait
			case <-tick.C:
				// A request between Begin and io_submit during the first pass was not
				// cancellable yet: ask again.
				cancelAll()
			}
		}
		tick.Stop()
		q.notifier.Close()
		<-q.reaperDone
		q.closeErr = q.ctx.Destroy()
		if err := q.mem.Free(); q.closeErr == nil {
			q.closeErr = err
		}
		if q.closeErr == nil && q.reapErr != nil {
			q.closeErr = errors.Join(errors.New("libaio: io_getevents failed in the reaper"), q.reapErr)
		}
	})
	return q.closeErr
}
