package posixaio

/*
#include <aio.h>
#include <stdlib.h>
#include "notify.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Queue is the handle layer: Read, Write and Fsync may be called from any
// goroutine and return a *completion.Handle.
//
// Each request gets one of the queue's aiocbs in C memory. With
// NotifySuspend (NewQueue's default) the aiocbs carry SIGEV_NONE and the
// queue's reaper goroutine waits in aio_suspend on the oldest request of
// each descriptor in flight; see NotifyMode. With NotifyThread the aio_sigevent is SIGEV_THREAD with a
// C trampoline that records the aiocb's slot number in a ring and wakes the
// reaper through an eventfd on Go's poller (see ThreadSink). Either way the
// reaper checks aio_error, calls aio_return exactly once for each finished
// request (the slot is claimed by compare-and-swap), and only then unpins
// the buffer and reuses the aiocb. As a safety net against a notification
// glibc could not deliver (it starts a thread per notification and ignores
// failure to do so), the NotifyThread reaper also scans every in-flight
// aiocb every 250 ms while requests are in flight (completions of other
// requests meanwhile do not put the scan off).
type Queue struct {
	tab    *completion.Table
	sink   *ThreadSink
	slots  *C.struct_pa_slot
	nslots int
	reg    *C.struct_pa_queue // the slots in the list cancels look at (pa_register)
	cur    []atomic.Uint64    // user data of the request in each slot
	mode   NotifyMode
	sus    *suspendState

	mu       sync.Mutex       // orders cancels and aborts against completions
	fin      completion.Batch // completes a collected batch with one free-stack push (under mu)
	scan     atomic.Bool
	stopping atomic.Bool
	reaped   chan struct{}
	stopWD   chan struct{}
	close    sync.Once
	closeErr error

	idx []uint64 // reaper buffers
	res []int64

	// submitters counts the goroutines inside submit whose Begin
	// succeeded: Close waits for them before it frees the slots and the
	// reaper's words, which a submitter whose request already completed
	// may still be using. Calls refused by Begin (ErrClosed) are not
	// counted, so callers that keep coming cannot keep Close waiting.
	submitters atomic.Int32
	// afterSubmit, when set (tests only), runs between pa_submit and the
	// reaper's doorbell.
	afterSubmit func()
}

// NotifyMode selects how a Queue learns that glibc finished a request.
type NotifyMode int

const (
	// NotifySuspend (the default): requests carry SIGEV_NONE and the reaper
	// goroutine waits in aio_suspend on the oldest request of each
	// descriptor in flight (glibc runs one descriptor's requests in order;
	// at most listMax of them, the oldest: 2*aio_threads, and at least
	// 16), reaps the finished ones and builds the next list. A submission the reaper's
	// current aio_suspend does not cover wakes it with a SIGURG to the
	// thread that runs it (Go ignores SIGURG outside Go code; it only makes
	// the timed aio_suspend return EINTR). The reaper occupies one OS thread
	// while requests are in flight; waiting goroutines hold none. With
	// GOMAXPROCS 1 its waits move to a C thread of the queue's (the
	// suspender) once one of them held up a submission.
	NotifySuspend NotifyMode = iota
	// NotifyThread: every request carries a SIGEV_THREAD notification whose C
	// trampoline wakes the reaper goroutine through an eventfd on Go's
	// poller. No OS thread waits, but glibc starts one thread per finished
	// request (slow: see docs/posixaio.md).
	NotifyThread
)

// QueueOptions configures NewQueueOptions.
type QueueOptions struct {
	Notify NotifyMode
}

// NewQueue returns a queue for at most size requests in flight (submissions
// beyond that fail with ErrBusy), with NotifySuspend notification. A size
// below 1 or above completion.MaxTableSize is refused with EINVAL.
func NewQueue(size int) (*Queue, error) {
	return NewQueueOptions(size, QueueOptions{})
}

// NewQueueOptions is NewQueue with options; a Notify other than
// NotifySuspend and NotifyThread is refused with EINVAL, and a NotifyThread
// queue fails with NewThreadSink's errors (the eventfd's EMFILE among
// them). Where the Go memory of the
// queue's handle table (128 bytes a slot) cannot be had (RLIMIT_AS,
// RLIMIT_DATA), it fails with an error matching unix.ENOMEM instead of a
// fatal out-of-memory error of the runtime (completion.CheckGoAlloc); so
// does the C memory of its slots.
func NewQueueOptions(size int, o QueueOptions) (*Queue, error) {
	if size < 1 || size > completion.MaxTableSize || o.Notify != NotifyThread && o.Notify != NotifySuspend {
		return nil, unix.EINVAL
	}
	var sink *ThreadSink
	if o.Notify == NotifyThread {
		var err error
		if sink, err = NewThreadSink(2 * size); err != nil {
			return nil, err
		}
	}
	p := C.calloc(C.size_t(size), C.sizeof_struct_pa_slot)
	if p == nil {
		if sink != nil {
			sink.Close()
		}
		return nil, unix.ENOMEM
	}
	// The Go slices below cannot fail without ending the process: check
	// them after the C memory, which takes from the same address space.
	err := completion.CheckGoAlloc(completion.TableBytes(size) + size*8)
	var reg *C.struct_pa_queue
	if err == nil {
		if reg = C.pa_register((*C.struct_pa_slot)(p), C.uint32_t(size)); reg == nil {
			err = unix.ENOMEM
		}
	}
	if err != nil {
		C.free(p)
		if sink != nil {
			sink.Close()
		}
		return nil, err
	}
	q := &Queue{
		tab:    completion.NewTable(size),
		sink:   sink,
		slots:  (*C.struct_pa_slot)(p),
		nslots: size,
		reg:    reg,
		cur:    make([]atomic.Uint64, size),
		mode:   o.Notify,
		reaped: make(chan struct{}),
		stopWD: make(chan struct{}),
		idx:    make([]uint64, 256),
		res:    make([]int64, 256),
	}
	q.tab.SetCanceler(q.cancel)
	if o.Notify == NotifySuspend {
		for i := 0; i < size; i++ {
			q.slot(uint32(i)).cb.aio_sigevent.sigev_notify = C.SIGEV_NONE
		}
		if err := q.startSuspendReaper(); err != nil {
			C.pa_unregister(reg)
			C.free(p)
			return nil, err
		}
		queues.add(q)
		return q, nil
	}
	for i := 0; i < size; i++ {
		C.pa_sigev_thread(&q.slot(uint32(i)).cb.aio_sigevent, sink.id, C.uint64_t(i))
	}
	go q.reap()
	go q.watchdog()
	queues.add(q)
	return q, nil
}

// queues are the open Queues: a cancel in one may take back and submit
// again requests of another on the same descriptor (pa_requeue, see
// pa_cancel), whose reaper must then scan its slots.
var queues = queueSet{m: make(map[*Queue]struct{})}

type queueSet struct {
	sync.Mutex
	m map[*Queue]struct{}
}

func (qs *queueSet) add(q *Queue) {
	qs.Lock()
	qs.m[q] = struct{}{}
	qs.Unlock()
}

// wakeRescans wakes, for a scan of every slot, the reaper of each open
// queue that a cancel took requests back from (pa_take_rescan).
func wakeRescans() {
	queues.Lock()
	defer queues.Unlock()
	for q := range queues.m {
		if C.pa_take_rescan(q.reg) != 0 {
			q.scan.Store(true)
			if q.sink != nil {
				q.sink.Wake()
			}
			if q.sus != nil {
				q.sus.ring(-1)
			}
		}
	}
}

func (q *Queue) slot(i uint32) *C.struct_pa_slot {
	return (*C.struct_pa_slot)(unsafe.Add(unsafe.Pointer(q.slots), uintptr(i)*C.sizeof_struct_pa_slot))
}

// Read queues aio_read of len(buf) bytes of fd at off into buf. buf stays
// pinned until the request finished and its aio_return was collected; do
// not touch it before the handle is done. The handle's result is the byte
// count or the request's errno (EBADF, EINVAL for a negative offset, ...).
// Read itself fails, with a nil handle and nothing left pinned, with ErrBusy
// when size requests are in flight, ErrClosed after Close, and glibc's
// errno when aio_read refuses the request (EAGAIN: no AIO thread could be
// started and none runs). The same holds for Write and Fsync.
func (q *Queue) Read(fd int, buf []byte, off int64) (*completion.Handle, error) {
	return q.submit(nil, C.LIO_READ, fd, buf, off)
}

// Write queues aio_write of buf to fd at off; see Read.
func (q *Queue) Write(fd int, buf []byte, off int64) (*completion.Handle, error) {
	return q.submit(nil, C.LIO_WRITE, fd, buf, off)
}

// Fsync queues aio_fsync(op, ...) for fd: op is OSync or ODsync. glibc rejects
// a bad op (EINVAL) or a closed fd (EBADF) at once; that error is returned
// here.
func (q *Queue) Fsync(fd int, op int) (*completion.Handle, error) {
	return q.fsync(nil, fd, op)
}

func (q *Queue) fsync(ctx context.Context, fd int, op int) (*completion.Handle, error) {
	if op != OSync && op != ODsync {
		return nil, unix.EINVAL
	}
	return q.submit(ctx, C.int(op), fd, nil, 0)
}

// submit queues one request. With a nil ctx it fails with ErrBusy when every
// slot is in flight; otherwise it waits for a slot or for ctx (File's calls).
func (q *Queue) submit(ctx context.Context, op C.int, fd int, buf []byte, off int64) (*completion.Handle, error) {
	var h *completion.Handle
	var o *completion.Op
	var err error
	if ctx == nil {
		h, o, err = q.tab.Begin()
	} else {
		h, o, err = q.tab.BeginWait(ctx)
	}
	if err != nil {
		return nil, err
	}
	// Counted from a successful Begin on (Close waits for 0): its request
	// cannot complete, nor the table drain, before this. Counting callers
	// whose Begin fails with ErrClosed too kept Close spinning for as long
	// as such callers kept coming.
	q.submitters.Add(1)
	defer q.submitters.Add(-1)
	i := uint32(o.UserData())
	s := q.slot(i)
	o.PinBytes(buf)
	s.cb.aio_fildes = cFd(fd)
	s.cb.aio_offset = C.__off64_t(off)
	s.cb.aio_reqprio = 0
	setBufPtr(&s.cb, buf)
	q.cur[i].Store(o.UserData())
	early := C.int(0)
	if q.sus == nil {
		early = 1
	}
	r := C.pa_submit(q.reg, s, op, early)
	if r < 0 {
		q.mu.Lock()
		q.tab.Abort(o, unix.Errno(-r))
		q.mu.Unlock()
		return nil, unix.Errno(-r)
	}
	if q.afterSubmit != nil {
		q.afterSubmit()
	}
	if r == C.PA_SUBMIT_CLOSING {
		// Close cancelled the queued requests before this one reached
		// glibc: it was not submitted and completes with ECANCELED, found
		// by a scan (no notification comes, and the descriptor's listed
		// request may not finish soon).
		q.scan.Store(true)
		if q.sink != nil {
			q.sink.Wake()
		}
		fd = -1
	}
	if q.sus != nil {
		q.sus.ring(fd)
	}
	return h, nil
}

// cancel is the table's canceler (Handle.Wait with an ended context): it asks
// glibc to cancel the request with aio_cancel. A request that a glibc thread
// already runs is not cancelable; it completes normally. The table calls it
// only with the user data of one of its own handles, so a handle of another
// queue cannot reach it.
func (q *Queue) cancel(ud uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.tab.Lookup(ud) == nil {
		return
	}
	q.cancelSlot(uint32(ud))
}

// cancelSlot is pa_cancel of slot i (under q.mu): aio_cancel, and after a
// successful one the other requests on the descriptor, of this queue and
// of every other, taken back and submitted again (a glibc bug could strand
// them, see notify.c). It wakes the reaper, and for a scan of every slot
// those of the queues whose requests were taken back.
func (q *Queue) cancelSlot(i uint32) C.int {
	var rescan C.int
	r := C.pa_cancel(q.slot(i), &rescan)
	if rescan != 0 {
		wakeRescans()
	}
	if q.sus != nil {
		q.sus.ring(-1)
	}
	return r
}

// Cancel asks glibc to cancel the request behind h (aio_cancel). It returns
// Canceled (h will complete with ECANCELED; the other requests on its
// descriptor, of this queue and of every other open Queue, are then
// submitted again, which a glibc 2.36 bug could otherwise strand: see
// docs/posixaio.md), NotCanceled (a glibc thread is
// running it; it completes normally) or AllDone (it already finished). A nil
// h, or one that another queue returned, gives unix.EINVAL: handles of
// different queues share user data values, so such a handle could otherwise
// name one of this queue's requests.
func (q *Queue) Cancel(h *completion.Handle) (int, error) {
	if !q.tab.Owns(h) {
		return -1, unix.EINVAL
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ud := h.UserData()
	if q.tab.Lookup(ud) == nil {
		return AllDone, nil
	}
	r := q.cancelSlot(uint32(ud))
	switch {
	case r == C.PA_NOT_ARMED:
		return AllDone, nil
	case r < 0:
		return -1, unix.Errno(-r)
	default:
		return int(r), nil
	}
}

// InFlight returns the number of requests submitted and not yet reaped.
func (q *Queue) InFlight() int { return q.tab.InFlight() }

func (q *Queue) complete(k int) {
	if k == 0 {
		return
	}
	q.mu.Lock()
	for j := 0; j < k; j++ {
		q.fin.Add(q.tab, q.cur[q.idx[j]].Load(), q.res[j], 0)
	}
	q.fin.Flush()
	q.mu.Unlock()
}

func (q *Queue) reap() {
	defer close(q.reaped)
	idx, res := q.idx, q.res
	for {
		n, overflow, err := q.sink.Drain(idx, true)
		if err != nil {
			return
		}
		if n > 0 {
			q.complete(int(C.pa_reap(q.slots, C.uint32_t(q.nslots),
				(*C.uint64_t)(unsafe.Pointer(&idx[0])), C.int(n), (*C.int64_t)(unsafe.Pointer(&res[0])))))
		}
		if overflow || q.scan.Swap(false) {
			for {
				k := int(C.pa_scan(q.slots, C.uint32_t(q.nslots),
					(*C.uint64_t)(unsafe.Pointer(&idx[0])), C.int(len(idx)), (*C.int64_t)(unsafe.Pointer(&res[0]))))
				q.complete(k)
				if k < len(idx) {
					break
				}
			}
			continue
		}
		if n > 0 {
			continue
		}
		if q.stopping.Load() {
			return // set by Close once the table drained and no submitter is inside
		}
		if q.sink.Wait() != nil {
			return
		}
	}
}

// watchdog asks the reaper for a full scan every 250 ms while requests are in
// flight, in case a notification was lost. (Only when none completed for a
// while, as before, missed the lost one under steady traffic: it then waited
// for ever, pinned.) A scan reads each slot's state: cheap beside the thread
// glibc starts per notification.
func (q *Queue) watchdog() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-q.stopWD:
			return
		case <-t.C:
		}
		if q.tab.InFlight() > 0 {
			q.scan.Store(true)
			q.sink.Wake()
		}
	}
}

// Close stops new submissions (they fail with ErrClosed), asks glibc to
// cancel every queued request (a Read, Write or Fsync call that got its
// slot before Close but reaches glibc only after those cancels returns a
// handle that completes with ECANCELED, the request not submitted), waits
// until every request in flight has
// finished and been reaped and every Read, Write or Fsync call that got a
// slot before Close has returned (calls refused with ErrClosed are not
// waited for), and frees the C memory. A request a glibc thread
// is running cannot be canceled: Close waits for it (a read from a pipe with
// no data keeps Close waiting until data arrives or the writer closes).
func (q *Queue) Close() error {
	q.close.Do(func() {
		q.tab.Close()
		// Under mu, as Cancel: the reaper completes slots under it, so a
		// slot armed when pa_cancel looks cannot be completed and refilled
		// by a submitter that began before tab.Close while aio_cancel runs.
		// (Nothing takes mu while it holds glibc's lock, which aio_cancel
		// takes, so the order mu, then glibc's lock, cannot deadlock.)
		q.mu.Lock()
		rescan := C.pa_cancel_all(q.reg)
		q.mu.Unlock()
		if rescan != 0 {
			wakeRescans() // other queues' requests behind ours, taken back
		}
		if q.sus != nil {
			q.sus.ring(-1)
		}
		<-q.tab.Drained()
		// A request can complete, and the table drain, while its submitter
		// is still between pa_submit and ring; wait until it has left.
		for q.submitters.Load() != 0 {
			runtime.Gosched()
		}
		// Nothing in flight: no cancel needs to see the slots any more.
		queues.Lock()
		delete(queues.m, q)
		queues.Unlock()
		C.pa_unregister(q.reg)
		q.stopping.Store(true)
		if q.sus != nil {
			q.sus.ring(-1)
		} else {
			q.sink.Wake()
		}
		<-q.reaped
		close(q.stopWD)
		if q.sink != nil {
			q.closeErr = q.sink.Close()
		}
		if q.sus != nil {
			q.sus.stopSuspender()
			C.free(q.sus.mem)
		}
		C.free(unsafe.Pointer(q.slots))
		q.slots = nil
	})
	return q.closeErr
}

var defaultQueue struct {
	once sync.Once
	q    *Queue
	err  error
}

// DefaultQueueSize is the size of the queue behind the package-level Read,
// Write and Fsync.
const DefaultQueueSize = 1024

// Default returns the package's shared Queue, creating it on first use. It
// is never closed.
func Default() (*Queue, error) {
	defaultQueue.once.Do(func() {
		defaultQueue.q, defaultQueue.err = NewQueue(DefaultQueueSize)
	})
	return defaultQueue.q, defaultQueue.err
}

// Read is aio_read through the default queue; see (*Queue).Read.
func Read(fd int, buf []byte, off int64) (*completion.Handle, error) {
	q, err := Default()
	if err != nil {
		return nil, err
	}
	return q.Read(fd, buf, off)
}

// Write is aio_write through the default queue; see (*Queue).Write.
func Write(fd int, buf []byte, off int64) (*completion.Handle, error) {
	q, err := Default()
	if err != nil {
		return nil, err
	}
	return q.Write(fd, buf, off)
}

// Fsync is aio_fsync through the default queue; see (*Queue).Fsync.
func Fsync(fd int, op int) (*completion.Handle, error) {
	q, err := Default()
	if err != nil {
		return nil, err
	}
	return q.Fsync(fd, op)
}
