package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/inline"
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
//
// Submissions from concurrent goroutines are combined: at most GOMAXPROCS goroutines
// submit at a time, requests made meanwhile are queued and submitted by them in one more
// io_submit per batch before they return, so a busy Queue makes few, large io_submit
// calls as a C program would.
type Queue struct {
	ctx      *Context
	cctx     C.io_context_t
	table    *completion.Table
	notifier *completion.Notifier

	mem    *cmem.Buf // iocbs | iocb pointers | events, one C allocation
	iocbs  []Iocb    // one per slot
	ptrs   []uintptr // ptrs[i] = &iocbs[i], for io_submit and io_cancel
	events []Event   // the reaper's batch

	// per slot: C iovec array of a vectored request in flight. Atomic because the
	// submitter stores it and the reaper takes it with only the kernel in between.
	iovs []atomic.Pointer[cmem.Iovecs]

	life sync.RWMutex     // read-held by submitters; Close write-locks it before io_destroy
	rmu  sync.Mutex       // serializes reaping (events, iovs of completing slots)
	fin  completion.Batch // completes reaped events with one free-stack push (under rmu)

	smu     sync.Mutex
	pending []uint64 // user data of the requests queued for the goroutines submitting
	batches []*batch // free batch buffers: one per submitter that may still start

	// per slot: the user data of its request from submit until io_submit took it (queued
	// in pending or in a submitter's batch), ^ud once the canceler asked to cancel it
	// meanwhile, 0 otherwise (see cancel).
	sub []atomic.Uint64

	inline inline.Reader // reads of cached data in the caller (see Read)

	reaperDone  chan struct{}
	lone        completion.Lone // when a lone request may be waited for in the kernel (queue_wait.go)
	inlineWaits atomic.Int64    // io_getevents waits made by waitInline (tests)
	reapErr     error           // first unexpected io_getevents error (under rmu)
	reapFailing bool            // the last io_getevents of drain failed (under rmu)
	// io_cancel was refused by the system (ENOSYS, EPERM), not answered for the
	// request: Close then leaves polls to io_destroy (see Close).
	cancelRefused atomic.Bool
	closeOnce     sync.Once
	closeErr      error
}

// NewQueue creates a Context with io_setup(depth) and a Queue allowing depth requests
// in flight. depth <= 0 gives EINVAL and a depth above /proc/sys/fs/aio-max-nr gives
// EAGAIN, from io_setup; a depth above completion.MaxTableSize gives EINVAL. When the
// system refuses Linux AIO (io_setup: ENOSYS or EPERM) the error matches ErrUnavailable
// and the errno (see ErrUnavailable). The Queue's eventfd comes next: its errno (EMFILE,
// ENFILE) is returned as an *os.SyscallError, and the context is destroyed again. Where
// the queue's memory cannot be had (RLIMIT_AS, RLIMIT_DATA: its Go slices, checked
// first by completion.CheckGoAlloc since the runtime cannot recover from a failed
// allocation, or its C block of iocbs) the error matches unix.ENOMEM.
func NewQueue(depth int) (q *Queue, err error) {
	if depth > completion.MaxTableSize {
		return nil, unix.EINVAL
	}
	ctx, err := Setup(depth)
	if err != nil {
		return nil, setupErr(err)
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
	// The Go slices below cannot fail without ending the process (the table,
	// iovs, sub, pending and a batch per submitter): check them after the C
	// memory, which takes from the same address space.
	goBytes := completion.TableBytes(depth) + depth*(8+8+8) + min(runtime.GOMAXPROCS(0), depth)*min(depth, batchInitCap)*16
	if err := completion.CheckGoAlloc(goBytes); err != nil {
		mem.Free()
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
		iovs:       make([]atomic.Pointer[cmem.Iovecs], depth),
		pending:    make([]uint64, 0, depth),
		batches:    make([]*batch, min(runtime.GOMAXPROCS(0), depth)),
		sub:        make([]atomic.Uint64, depth),
		reaperDone: make(chan struct{}),
	}
	for i := range q.iocbs {
		q.ptrs[i] = uintptr(unsafe.Pointer(&q.iocbs[i]))
	}
	for i := range q.batches {
		// Grown on demand up to Depth and kept (submitPending stores them back): a
		// full-depth pair per CPU up front was 16 bytes x depth x GOMAXPROCS.
		q.batches[i] = &batch{uds: make([]uint64, 0, min(depth, batchInitCap)), ptrs: make([]uintptr, 0, min(depth, batchInitCap))}
	}
	q.table.SetCanceler(q.cancel)
	q.table.SetWaiter(q.waitInline)
	go q.reap()
	return q, nil
}

// Depth returns the number of requests the Queue allows in flight.
func (q *Queue) Depth() int { return len(q.iocbs) }

// InFlight returns the number of requests submitted and not yet reaped.
func (q *Queue) InFlight() int { return q.table.InFlight() }

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

// batch is a submitter's buffer: the user data of the requests it submits, and their
// iocb addresses for io_submit. Each holds up to Depth entries; it starts with room for
// batchInitCap and keeps what it grew to.
type batch struct {
	uds  []uint64
	ptrs []uintptr
}

const batchInitCap = 64

// submit finishes cb (user data, eventfd) and hands it to io_submit.
//
// Submissions are combined. While fewer than GOMAXPROCS goroutines are submitting, the
// caller becomes a submitter: it yields once (runtime.Gosched) so that the goroutines
// already runnable, typically those just woken by completions, can queue their requests,
// then submits its own request together with everything queued, one io_submit per
// batch, until the queue is empty. Otherwise the request is queued and the call returns
// at once. One io_submit for many requests is what makes O_DIRECT AIO fast (one
// block-layer plug and one device notification per batch); more than one submitter
// lets page-cache requests, which are copied inside io_submit, use every CPU.
//
// If io_submit rejects the caller's own request, the request is aborted (memory
// unpinned, slot freed) and the errno is returned; a rejected request queued by another
// goroutine completes its handle with the errno instead.
func (q *Queue) submit(h *completion.Handle, op *completion.Op, cb *Iocb) (*completion.Handle, error) {
	ud := op.UserData()
	cb.Data = ud
	cb.SetEventfd(q.notifier.FD())
	slot := uint32(ud)
	q.sub[slot].Store(ud)
	q.smu.Lock()
	if len(q.batches) == 0 { // every submitter slot taken
		q.pending = append(q.pending, ud)
		q.smu.Unlock()
		return h, nil
	}
	b := q.batches[len(q.batches)-1]
	q.batches = q.batches[:len(q.batches)-1]
	q.smu.Unlock()

	q.life.RLock()
	defer q.life.RUnlock()
	runtime.Gosched()
	if err := q.submitPending(b, ud); err != nil {
		q.freeIov(slot)
		q.table.Abort(op, err)
		return nil, err
	}
	// Buffered requests complete inside io_submit: reap them now, on this goroutine,
	// rather than after a trip through the eventfd and the reaper. (libaio checks an
	// empty ring in user space, so this costs no system call when nothing is there.)
	if q.rmu.TryLock() {
		q.drain()
		q.rmu.Unlock()
	}
	return h, nil
}

// submitPending submits own and the queued requests, batch after batch, in b, and gives
// up the submitter role when nothing is queued. It returns the errno of own if io_submit
// rejected it (and leaves own to the caller); other rejected requests are aborted here,
// and requests cancelled before io_submit took them complete with ECANCELED.
func (q *Queue) submitPending(b *batch, own uint64) (ownErr error) {
	// own is uds[0] of the first io_submit and of no later one.
	uds := append(b.uds[:0], own)
	for {
		q.smu.Lock()
		uds = append(uds, q.pending...) // own and pending: distinct in-flight slots, <= Depth
		q.pending = q.pending[:0]
		if len(uds) == 0 {
			b.uds = uds
			q.batches = append(q.batches, b)
			q.smu.Unlock()
			return ownErr
		}
		q.smu.Unlock()

		rest := uds
		for len(rest) > 0 {
			// Drop the requests cancelled since they were queued: they never reach the
			// kernel, and complete as io_cancel would have completed them there.
			ptrs := b.ptrs[:0]
			n := 0
			for _, ud := range rest {
				if q.sub[uint32(ud)].Load() != ud { // ^ud: cancelled
					q.sub[uint32(ud)].Store(0)
					if ud == own {
						ownErr, own = unix.ECANCELED, 0
					} else {
						q.abortUD(ud, unix.ECANCELED)
					}
					continue
				}
				rest[n] = ud
				n++
				ptrs = append(ptrs, q.ptrs[uint32(ud)])
			}
			b.ptrs = ptrs[:0] // what it grew to, for the next batch
			rest = rest[:n]
			if n == 0 {
				break
			}
			r := C.aiokit_io_submit(q.cctx, C.long(len(ptrs)), (*C.uintptr_t)(unsafe.Pointer(&ptrs[0])))
			isOwn := own != 0 && rest[0] == own
			own = 0
			if r > 0 {
				for _, ud := range rest[:r] {
					q.submitted(ud)
				}
				rest = rest[r:]
				continue
			}
			// rest[0] rejected: it fails with the errno, the rest goes on.
			err := errnoErr(r)
			if err == nil { // 0 queued and no errno: not expected from Linux
				err = unix.EAGAIN
			}
			q.sub[uint32(rest[0])].Store(0)
			if isOwn {
				ownErr = err
			} else {
				q.abortUD(rest[0], err)
			}
			rest = rest[1:]
		}
		uds = uds[:0]
	}
}

// submitted ends the submission of ud, which io_submit accepted: if the canceler asked
// to cancel it while io_submit ran, it is cancelled now (io_cancel before io_submit
// returned found no such request). By then it may have completed and its slot may
// carry a new request: the compare-and-swaps leave that one alone.
func (q *Queue) submitted(ud uint64) {
	s := &q.sub[uint32(ud)]
	if !s.CompareAndSwap(ud, 0) && s.CompareAndSwap(^ud, 0) {
		q.table.Visit(ud, q.cancelOp)
	}
}

// abortUD fails a request that never reached the kernel (rejected by io_submit, or
// cancelled before it).
func (q *Queue) abortUD(ud uint64, err error) {
	op := q.table.Lookup(ud)
	q.freeIov(uint32(ud))
	if op != nil {
		q.table.Abort(op, err)
	}
}

func (q *Queue) freeIov(slot uint32) {
	if v := q.iovs[slot].Swap(nil); v != nil {
		v.Free()
	}
}

// reap is the reaper goroutine: sleep on the eventfd, drain the ring, complete handles.
func (q *Queue) reap() {
	defer close(q.reaperDone)
	for {
		_, err := q.notifier.Wait()
		q.rmu.Lock()
		q.drain()
		q.rmu.Unlock()
		if err != nil {
			return
		}
	}
}

func (q *Queue) drain() {
	evp := (*C.struct_io_event)(unsafe.Pointer(&q.events[0]))
	for {
		r := C.aiokit_reap(q.cctx, C.long(len(q.events)), evp)
		q.reapFailing = r < 0
		if r < 0 {
			if q.reapErr == nil {
				q.reapErr = errnoErr(r)
			}
			return
		}
		q.completeEvents(int(r))
		if int(r) < len(q.events) {
			return
		}
	}
}

// completeEvents completes the handles of q.events[:n]; the caller holds rmu.
func (q *Queue) completeEvents(n int) {
	for i := 0; i < n; i++ {
		ev := &q.events[i]
		if slot := uint32(ev.Data); int(slot) < len(q.iovs) {
			q.freeIov(slot)
		}
		q.fin.Add(q.table, ev.Data, ev.Res, 0)
	}
	q.fin.Flush()
}

// cancel is the table's canceler (Handle.Wait with an ended context).
//
// A request still queued for a submitter is taken out of the queue and completes with
// ECANCELED, without being submitted: what io_cancel does to a request it cancels
// before it ran. One that a submitter has taken but whose io_submit has not returned
// yet is marked (^ud): the submitter drops it with ECANCELED if it has not called
// io_submit yet, or calls io_cancel once io_submit returned (submitted). Otherwise it
// is in the kernel: io_cancel on its iocb, under the table lock so that the slot cannot
// be reused meanwhile. The result is ignored: read/write/fsync requests cannot be
// cancelled (EINVAL) and stay pinned until their event arrives; a poll is cancelled
// (EINPROGRESS) and completes with result 0.
func (q *Queue) cancel(ud uint64) {
	slot := uint32(ud)
	if int(slot) >= len(q.sub) {
		return
	}
	if q.sub[slot].Load() == ud { // not through io_submit yet
		if q.unqueue(ud) {
			return
		}
		if q.sub[slot].CompareAndSwap(ud, ^ud) {
			return // a submitter has it: it cancels it
		}
	}
	q.table.Visit(ud, q.cancelOp)
}

// unqueue removes the request ud from the queue of pending requests, if it is there,
// and completes it with ECANCELED.
func (q *Queue) unqueue(ud uint64) bool {
	q.smu.Lock()
	i := 0
	for i < len(q.pending) && q.pending[i] != ud {
		i++
	}
	if i == len(q.pending) {
		q.smu.Unlock()
		return false
	}
	q.pending = append(q.pending[:i], q.pending[i+1:]...)
	q.sub[uint32(ud)].Store(0)
	q.smu.Unlock()
	q.abortUD(ud, unix.ECANCELED)
	return true
}

// cancelOp calls io_cancel on op's iocb; the caller holds the table lock (Visit, Each).
// The kernel's answer for the request (EINPROGRESS, EINVAL, EAGAIN) is ignored; ENOSYS
// or EPERM, io_cancel refused by the system, is remembered for Close.
func (q *Queue) cancelOp(op *completion.Op) {
	var ev C.struct_io_event
	r := C.aiokit_io_cancel(q.cctx, C.uintptr_t(q.ptrs[uint32(op.UserData())]), &ev)
	if e := errnoErr(r); e == unix.ENOSYS || e == unix.EPERM {
		q.cancelRefused.Store(true)
	}
}

// stuckTicks is how many of Close's 20 ms looks in a row must find the Queue stuck
// (see Close) before it gives the remaining requests up to io_destroy.
const stuckTicks = 5

// stuck reports whether the requests still in flight cannot complete through the ring:
// io_getevents fails (the reaper cannot reap them), or io_cancel is refused and every
// one left is a poll (nothing but io_cancel or io_destroy ends a poll of a descriptor
// that never gets ready). It first reaps what it can, as the reaper would.
func (q *Queue) stuck() bool {
	q.rmu.Lock()
	q.drain()
	failing := q.reapFailing
	q.rmu.Unlock()
	if failing {
		return true
	}
	if !q.cancelRefused.Load() {
		return false
	}
	polls := true
	q.table.Each(func(op *completion.Op) {
		if q.iocbs[uint32(op.UserData())].Opcode != CmdPoll {
			polls = false
		}
	})
	return polls
}

// abandon fails every request still in flight with err, once io_destroy has returned:
// the kernel then has finished with them (io_destroy cancels polls and waits for the
// rest) and their events are gone with the ring.
func (q *Queue) abandon(err error) {
	var uds []uint64
	q.table.Each(func(op *completion.Op) { uds = append(uds, op.UserData()) })
	for _, ud := range uds {
		q.abortUD(ud, err)
	}
}

// Close stops new requests (ErrClosed), asks the kernel to cancel the in-flight ones
// (only polls can be), waits until every in-flight request has completed and its handle
// is done, then destroys the Context (io_destroy) and frees the C memory. Buffers stay
// pinned until their requests complete, so Close blocks as long as the slowest request
// (a read from a device that never answers blocks it forever, as io_destroy would in C).
// Close is idempotent; later calls return the first call's result.
//
// Where the system makes that impossible, Close does not wait forever: when
// io_getevents keeps failing (the events cannot be reaped), or io_cancel is refused
// (ENOSYS, EPERM) and only polls are left, for about 100 ms, Close calls io_destroy
// (which cancels the polls and waits in the kernel for the other requests) and fails
// the requests left with the io_getevents error, or ECANCELED for the polls; if
// io_destroy fails too, their memory stays pinned (the kernel may still use it), the
// Queue's C memory (its iocbs) stays allocated, and Close returns the errors.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.table.Close()
		q.table.Each(q.cancelOp)
		tick := time.NewTicker(20 * time.Millisecond)
		stuck := 0
	wait:
		for {
			select {
			case <-q.table.Drained():
				break wait
			case <-tick.C:
				// A request between Begin and io_submit during the first pass was not
				// cancellable yet: ask again.
				q.table.Each(q.cancelOp)
				if !q.stuck() {
					stuck = 0
				} else if stuck++; stuck >= stuckTicks {
					break wait
				}
			}
		}
		tick.Stop()
		q.notifier.Close()
		<-q.reaperDone
		q.life.Lock() // a submitter may still be reaping after its last request completed
		var reapErr error
		if q.reapErr != nil {
			reapErr = errors.Join(errors.New("libaio: io_getevents failed in the reaper"), q.reapErr)
		}
		q.closeErr = q.ctx.Destroy()
		if q.table.InFlight() > 0 {
			if q.closeErr != nil {
				q.closeErr = errors.Join(fmt.Errorf("libaio: %d requests left in flight, their memory pinned", q.table.InFlight()),
					reapErr, q.closeErr)
			} else if reapErr != nil {
				q.abandon(reapErr)
			} else {
				q.abandon(unix.ECANCELED) // the polls io_cancel could not cancel
			}
		}
		if q.table.InFlight() == 0 {
			if err := q.mem.Free(); q.closeErr == nil {
				q.closeErr = err
			}
		} // else io_destroy failed: the iocbs and q.ptrs stay, for the cancels of waits that end later
		if q.closeErr == nil && reapErr != nil {
			q.closeErr = reapErr
		}
		q.life.Unlock()
	})
	return q.closeErr
}
