package uring

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/inline"
	"golang.org/x/sys/unix"
)

// QueueConfig configures NewQueueConfig.
type QueueConfig struct {
	// Entries is the submission queue size passed to io_uring_queue_init_params.
	Entries uint32
	// Params are the io_uring_params inputs (flags, CQ size, SQPOLL settings).
	// Nil means defaults. On return from NewQueueConfig the outputs are not
	// copied back; use Queue.Ring for them.
	Params *Params
	// MaxInFlight bounds the number of operations in flight (the size of the
	// handle table). Zero means the CQ size the kernel chose (half of it on
	// kernels without IORING_FEAT_NODROP, to leave room for cancel CQEs). A
	// larger value relies on IORING_FEAT_NODROP (Linux 5.5+): completions
	// that do not fit are kept by the kernel and flushed when the CQ drains.
	// Without that feature a larger value is lowered to half the CQ size
	// (MaxInFlight reports it), since a dropped CQE would leave its handle
	// waiting forever. A value above completion.MaxTableSize (1<<20) is
	// refused with EINVAL.
	MaxInFlight int
	// RingOnly makes Read and File.ReadAt always go through the ring. By
	// default they first try a read of cached data in the calling
	// goroutine with preadv2(RWF_NOWAIT) (not on descriptors known to be
	// O_DIRECT); see Queue.Read.
	RingOnly bool
}

// Queue is the handle layer over a Ring: its methods may be called from any
// goroutine and return a *completion.Handle that reports the CQE's result.
//
// Submission: each method pins the memory the kernel will use (buffers,
// iovec arrays, timespecs, socket addresses, path names) in the handle's
// slot, prepares one SQE in a staging array under a short mutex and then
// either submits (io_uring_submit) itself or, when another goroutine is
// already submitting, leaves the SQE to that goroutine, which submits every
// staged SQE in one io_uring_submit call before it stops. Many goroutines'
// SQEs therefore share one system call when they arrive together.
//
// Completion: a reaper goroutine parks on an eventfd registered with
// io_uring_register_eventfd (and Go's network poller), drains the CQ in Go
// and completes the handles. The submitting goroutine drains the CQ itself
// right after io_uring_submit (with eventfd notifications switched off
// meanwhile), so operations that complete inline (NOPs, cached reads) need
// no wake-up of the reaper. Whoever completes handles yields once before
// submitting again, so the goroutines it woke stage their next operations
// into the same io_uring_submit.
//
// docs/uring.md describes the design, the buffer-lifetime rules,
// cancellation and Close in detail.
type Queue struct {
	ring   *Ring
	ringFd int // ring.Fd() at creation (Close zeroes ring's fields)
	table  *completion.Table
	notif  *completion.Notifier

	smu        sync.Mutex // guards the fields below
	staged     []staged   // SQEs prepared by callers, not yet in the ring
	closed     bool       // Close started: new operations fail with ErrClosed
	ringGone   bool       // the ring is closed: nothing may be staged
	submitting bool       // a goroutine runs flush
	reaping    bool       // the reaper completes handles and flushes next

	// Owned by the goroutine that set submitting.
	batch       []staged
	bpos        int
	unsubmitted int // SQEs in the ring that the kernel has not consumed
	sqSize      int
	canQuiet    bool // io_uring_cq_eventfd_toggle works
	// canWaitInline: a lone request's waiter may wait in io_uring_enter
	// (queue_wait.go): the kernel has IORING_FEAT_EXT_ARG, no SQPOLL.
	canWaitInline bool
	inlineWaiting atomic.Int32    // goroutines inside waitInline (Close waits for 0)
	lone          completion.Lone // when a lone request may be waited for in the kernel (queue_wait.go)
	inlineWaits   atomic.Int64    // io_uring_enter waits made by waitInline (tests)
	inlineRefused atomic.Bool     // the kernel refused such a wait: no more (queue_wait.go)
	sqpoll        bool            // IORING_SETUP_SQPOLL
	probe         *Probe          // opcodes of this kernel; nil if it cannot be probed
	// noCancel: the kernel has no IORING_OP_ASYNC_CANCEL (before 5.5), so
	// Close tears the ring down to end what is in flight (teardown).
	noCancel bool

	rmu     sync.Mutex  // serialises CQ consumption
	pending atomic.Bool // a CQE may be waiting: whoever holds rmu drains again
	cqes    []*CQE
	done    []doneCQE
	fin     completion.Batch // completes a drained batch with one free-stack push

	reaperDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	inline inline.Reader // reads of cached data in the caller (see Read)

	ms     multishots   // multishot streams that may hold descriptors (queue_multishot.go)
	msLive atomic.Int32 // multishot requests whose final CQE has not come yet

	cancels atomic.Int64  // cancel requests submitted (tests and docs)
	subSeq  atomic.Uint64 // bumped before each io_uring_submit

	// The overflow check (queue_reap.go): nil without IORING_FEAT_NODROP.
	ovfTimer  *time.Timer
	ovfArmed  atomic.Bool  // ovfTimer is set to fire
	ovfEvery  atomic.Int64 // its interval (ns): overflowCheck, doubling while it finds nothing
	ovfBusy   atomic.Bool  // a drain took ovfBusyN CQEs at once since the last check
	ovfBusyN  int          // half the CQ (at most a drain's batch)
	ovfChecks atomic.Int64 // checks made (tests)
	ovfWakes  atomic.Int64 // reaper wake-ups by the overflow check (tests)
}

// staged is one prepared SQE waiting to be copied into the ring.
type staged struct {
	sqe   SQE
	op    *completion.Op // nil for internal requests (cancels)
	group int            // on a chain's first member: the chain's length, else 0
}

type doneCQE struct {
	ud    uint64
	res   int32
	flags uint32
}

// ErrBusy is returned by Queue methods when MaxInFlight operations are in
// flight. It is completion.ErrBusy, shared by every aiokit backend.
var ErrBusy = completion.ErrBusy

// ErrPending is returned by Handle.Result before the completion arrived
// (completion.ErrPending).
var ErrPending = completion.ErrPending

// ErrQueueFlags is returned by NewQueueConfig for setup flags the handle
// layer cannot work with; errors.Is(err, unix.EINVAL) is also true.
var ErrQueueFlags error = queueFlagsError{}

const queueRejectedFlags = SetupIOPoll | SetupSingleIssuer | SetupDeferTaskrun | SetupCoopTaskrun | SetupSQE128

type queueFlagsError struct{}

func (queueFlagsError) Error() string {
	return "uring: Queue does not support IORING_SETUP_IOPOLL, SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN, SQE128, or SQPOLL with R_DISABLED"
}

func (queueFlagsError) Is(target error) bool { return target == unix.EINVAL }

// eventFDError is NewQueueConfig's error when io_uring_register_eventfd
// fails: the reaper is woken through that eventfd, so there is no queue
// without it. EINVAL is a kernel before 5.2, which lacks
// IORING_REGISTER_EVENTFD: the error then also matches ErrNotSupported.
type eventFDError struct{ errno error }

// Error names the call, what needs it, and the errno.
func (e *eventFDError) Error() string {
	return "uring: Queue needs io_uring_register_eventfd (Linux 5.2): " + e.errno.Error()
}

// Unwrap exposes the errno (errors.Is(err, unix.EINVAL)).
func (e *eventFDError) Unwrap() error { return e.errno }

// Is makes errors.Is(err, ErrNotSupported) true for EINVAL.
func (e *eventFDError) Is(target error) bool {
	return target == ErrNotSupported && e.errno == unix.EINVAL
}

// internalUserData marks requests the queue makes for itself
// (IORING_OP_ASYNC_CANCEL). The completion table never hands out 0.
const internalUserData = 0

// NewQueue creates a ring with io_uring_queue_init_params(entries, p) and
// the handle layer on top of it. See NewQueueConfig.
func NewQueue(entries uint32, p *Params) (*Queue, error) {
	return NewQueueConfig(QueueConfig{Entries: entries, Params: p})
}

// NewQueueConfig creates a ring (io_uring_queue_init_params), an eventfd
// registered with io_uring_register_eventfd, a handle table and the reaper
// goroutine.
//
// Setup flags that need a single submitting thread, completions reaped by
// io_uring_enter, or submitting threads that enter the kernel again to run
// their task work (IORING_SETUP_IOPOLL, SINGLE_ISSUER, DEFER_TASKRUN,
// COOP_TASKRUN) do not fit goroutines that submit from any OS thread and a
// reaper woken by an eventfd: an idle Go thread may sleep for a long time.
// NewQueueConfig rejects them with ErrQueueFlags (which matches
// unix.EINVAL), and IORING_SETUP_SQE128 too: the queue stages and copies
// 64-byte SQEs, so the second half of a 128-byte command would be lost; so
// is SQPOLL together with R_DISABLED: liburing enters the kernel only when
// the SQ thread asks for a wake-up, so an operation submitted before Ring().
// EnableRings could sit in the SQ unseen, with no error to fail it. A
// MaxInFlight above completion.MaxTableSize is refused with EINVAL, and so
// are setup flags liburing 2.3 does not know (by New: see there). An
// ENOMEM from io_uring_setup names RLIMIT_MEMLOCK when that limit is
// finite (a ring made without CAP_IPC_LOCK counts against it on Linux
// before 5.12 and again on 6.x kernels; errors.Is(err, unix.ENOMEM) holds).
// Where the handle table's Go memory (128 bytes a slot) cannot be had
// (RLIMIT_AS, RLIMIT_DATA) it fails with an error matching unix.ENOMEM
// instead of a fatal out-of-memory error of the runtime
// (completion.CheckGoAlloc). On
// Linux 5.1, which lacks io_uring_register_eventfd, it fails with an error
// that names that call and matches unix.EINVAL and ErrNotSupported.
func NewQueueConfig(c QueueConfig) (*Queue, error) {
	var p Params
	if c.Params != nil {
		p = *c.Params
	}
	if p.Flags&queueRejectedFlags != 0 || p.Flags&(SetupSQPoll|SetupRDisabled) == SetupSQPoll|SetupRDisabled {
		return nil, ErrQueueFlags
	}
	if c.MaxInFlight > completion.MaxTableSize {
		return nil, fmt.Errorf("uring: MaxInFlight %d above %d: %w", c.MaxInFlight, completion.MaxTableSize, unix.EINVAL)
	}
	r, err := New(c.Entries, &p)
	if err != nil {
		return nil, queueSetupErr(err, c.Entries)
	}
	n, err := completion.NewNotifier()
	if err != nil {
		r.Close()
		return nil, err
	}
	if err := r.RegisterEventFD(n.FD()); err != nil {
		n.Close()
		r.Close()
		return nil, &eventFDError{errno: err}
	}
	size, reserve := tableSize(c.MaxInFlight, int(c.Entries), int(p.CQEntries), p.Features)
	// The handle table's Go memory cannot fail without ending the process.
	if err := completion.CheckGoAlloc(completion.TableBytes(size + reserve)); err != nil {
		n.Close()
		r.Close()
		return nil, err
	}
	r.owned = true
	r.guard = new(sync.RWMutex)
	q := &Queue{
		ring:       r,
		ringFd:     r.Fd(),
		table:      completion.NewTableReserve(size, reserve),
		notif:      n,
		staged:     make([]staged, 0, 64),
		batch:      make([]staged, 0, 64),
		sqSize:     int(p.SQEntries),
		cqes:       make([]*CQE, 256),
		done:       make([]doneCQE, 0, 256),
		reaperDone: make(chan struct{}),
	}
	q.sqpoll = p.Flags&SetupSQPoll != 0
	q.inline.SetEnabled(!c.RingOnly)
	// io_uring_register_probe (Linux 5.6+): methods refuse the opcodes this
	// kernel lacks with an *UnsupportedOpError. Without a probe the
	// kernel's -EINVAL reaches the handle instead.
	q.probe, _ = r.Probe()
	// IORING_OP_ASYNC_CANCEL and IORING_FEAT_NODROP both came in 5.5, the
	// probe in 5.6: a ring without the probe and without NODROP is older
	// than 5.5, and one with a probe says itself.
	q.noCancel = testKernel.noAsyncCancel || q.probe == nil && r.Features()&FeatNodrop == 0 ||
		q.probe != nil && !q.probe.OpSupported(OpAsyncCancel)
	if q.sqSize <= 0 {
		q.sqSize = int(r.SQSpaceLeft())
	}
	// Kernels without CQ ring flags (before 5.8) cannot switch eventfd
	// notifications off; the queue then leaves them on all the time. (Asking
	// io_uring_cq_eventfd_toggle(true) does not tell: it returns 0 there,
	// since notifications are on, and only the switch off fails.)
	q.canQuiet = r.cqFlags != nil
	q.canWaitInline = !q.sqpoll && r.Features()&FeatExtArg != 0
	q.table.SetCanceler(q.cancel)
	if q.canWaitInline {
		q.table.SetWaiter(q.waitInline)
	}
	if r.Features()&FeatNodrop != 0 {
		q.ovfTimer = time.AfterFunc(time.Hour, q.checkOverflow)
		q.ovfTimer.Stop()
		q.ovfEvery.Store(int64(overflowCheck))
		q.ovfBusyN = max(1, min(len(q.cqes), int(r.CQEntries())/2))
	}
	go q.reap()
	return q, nil
}

// Ring returns the ring under the queue, for io_uring_register_* calls and
// inspection. Submitting or reaping on it directly would race with the
// queue and is not allowed. The Ring methods meant for it (register calls,
// probes, buffer rings, the flag and counter words) may race Queue.Close:
// each runs on the live ring or, once Close freed it, returns ErrClosed.
func (q *Queue) Ring() *Ring { return q.ring }

// tableSize is the handle table's size for QueueConfig.MaxInFlight
// (maxInFlight), its Entries and the CQ size and features the kernel
// reported (see QueueConfig.MaxInFlight), and the number of reserve slots
// beyond it (see controlReserve).
func tableSize(maxInFlight, entries, cqEntries int, features uint32) (size, reserve int) {
	if cqEntries <= 0 {
		cqEntries = 2 * entries
	}
	nodrop := features&FeatNodrop != 0
	safe := cqEntries // what fits the CQ with room for cancel CQEs
	if !nodrop && safe > 1 {
		safe /= 2
	}
	switch {
	case maxInFlight <= 0:
		size = safe
	case !nodrop && maxInFlight > safe:
		size = safe
	default:
		size = maxInFlight
	}
	if nodrop {
		return size, controlReserve
	}
	// Every slot in flight may cost a CQE of its own and one of a cancel:
	// the reserve is what still fits in the half of the CQ kept for cancel
	// CQEs, nothing when MaxInFlight was left to its default.
	return size, max(0, min(controlReserve, cqEntries/2-size))
}

// controlReserve is the number of slots beyond MaxInFlight that only
// Cancel, PollRemove and TimeoutRemove take (Queue.control), and File's
// close of its descriptor, when the kernel keeps every CQE
// (IORING_FEAT_NODROP).
const controlReserve = 4

// MaxInFlight returns the number of operations that may be in flight at
// once; beyond it methods return ErrBusy. Cancel, PollRemove and
// TimeoutRemove may still take one of a few reserve slots beyond it (on
// kernels with IORING_FEAT_NODROP, Linux 5.5+), so that operations holding
// every slot can be removed.
func (q *Queue) MaxInFlight() int { return q.table.Size() }

// InFlight returns the number of operations submitted and not yet reaped.
func (q *Queue) InFlight() int { return q.table.InFlight() }

// Close cancels every operation in flight (IORING_OP_ASYNC_CANCEL with
// IORING_ASYNC_CANCEL_ANY, repeated per operation until the kernel has
// completed all of them), waits for every completion so that all memory is
// unpinned, stops the reaper, unregisters and closes the eventfd and closes
// the ring (io_uring_queue_exit). Operations started afterwards fail with
// ErrClosed. Close is idempotent; every call returns the first call's result.
//
// A kernel before 5.5 has no IORING_OP_ASYNC_CANCEL: there, what is still in
// flight 20 ms after Close began (a read of a pipe or a socket that gets no
// data) is ended by closing the ring's descriptor first, as C's
// io_uring_queue_exit does. Those kernels cancel every request of a ring
// whose last descriptor is closed, interrupting the blocked ones, and wait
// for all of them before close(2) returns; the operations left then
// complete with ECANCELED (or the result the kernel had posted).
func (q *Queue) Close() error {
	q.closeOnce.Do(q.doClose)
	return q.closeErr
}

func (q *Queue) doClose() {
	q.smu.Lock()
	q.closed = true
	q.smu.Unlock()
	q.table.Close()

	if q.table.InFlight() > 0 {
		q.stageCancel(0, AsyncCancelAny)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	var uds []uint64
	teardown := false
	for done := false; !done; {
		select {
		case <-q.table.Drained():
			done = true
		case <-tick.C:
			if q.noCancel {
				teardown, done = true, true // nothing can be cancelled: see teardown
				break
			}
			// The kernel may lack IORING_ASYNC_CANCEL_ANY, or an operation was
			// mid-issue: cancel what is left one by one.
			uds = uds[:0]
			q.table.Each(func(op *completion.Op) { uds = append(uds, op.UserData()) })
			for _, ud := range uds {
				q.stageCancel(ud, 0)
			}
		}
	}
	tick.Stop()

	q.smu.Lock()
	q.ringGone = true
	q.smu.Unlock()
	// Wait for a submitter that may still be finishing a cancel batch.
	for {
		q.smu.Lock()
		busy := q.submitting
		q.smu.Unlock()
		if !busy {
			break
		}
		time.Sleep(50 * time.Microsecond)
	}
	q.waitInlineDone()
	if q.ovfTimer != nil {
		q.ovfTimer.Stop() // nothing is in flight: it would not fire again
	}
	q.notif.Close()
	<-q.reaperDone
	if teardown {
		q.teardown()
	}
	q.ms.closeAll() // descriptors multishot accepts buffered and nobody took
	q.ring.unregisterEventFD()
	q.closeErr = q.ring.close()
}

// teardown is Close's end of what is in flight on a kernel without
// IORING_OP_ASYNC_CANCEL (before 5.5), once the reaper has stopped and
// nothing is staged any more. It closes the ring's descriptor (closeFD):
// the kernel's release of the ring cancels its requests, interrupting
// those blocked in its workers, and before 5.5 waits for all of them to
// finish before close(2) returns, so that none of them touches the
// caller's memory afterwards. The rings stay mapped: teardown drains what
// the kernel posted meanwhile, and completes every operation still in the
// table with -ECANCELED, unpinning its memory.
func (q *Queue) teardown() {
	q.ring.closeFD()
	q.rmu.Lock()
	defer q.rmu.Unlock()
	q.drainLocked()
	var uds []uint64
	q.table.Each(func(op *completion.Op) { uds = append(uds, op.UserData()) })
	for _, ud := range uds {
		q.fin.Add(q.table, ud, -int64(unix.ECANCELED), 0)
	}
	q.fin.Flush()
}

// Closed reports whether Close has been called.
func (q *Queue) Closed() bool {
	q.smu.Lock()
	defer q.smu.Unlock()
	return q.closed
}
