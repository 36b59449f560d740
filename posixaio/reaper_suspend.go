package posixaio

/*
#include <aio.h>
#include <errno.h>
#include <stdlib.h>
#include "notify.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// suspendTimeout bounds one aio_suspend of the NotifySuspend reaper: a
// wake-up signal that reaches the thread just before glibc's futex wait is
// lost, and a request the reaper's list does not cover is then noticed at
// the latest after this long.
const suspendTimeout = 20 * time.Millisecond

const (
	reaperAwake   = C.PA_REAPER_AWAKE   // scanning; will see every armed slot
	reaperIdle    = C.PA_REAPER_IDLE    // parked on the channel: nothing in flight
	reaperSuspend = C.PA_REAPER_SUSPEND // in aio_suspend on the list it built
)

// coveredFds bounds the descriptors the reaper tracks in its bitmap; a
// submission on a higher descriptor always wakes it.
const coveredFds = 1 << 16

// yieldMax bounds the runtime.Gosched calls with which the reaper, after
// completing k requests, waits for about k new submissions before its next
// pass.
const yieldMax = 4

type suspendState struct {
	mem  unsafe.Pointer      // one C allocation for everything below
	list **C.struct_aiocb    // C array of nslots aiocb pointers
	fds  *C.int              // C array: descriptor of each listed aiocb
	r    *C.struct_pa_reaper // state, thread id and doorbell, in C memory
	tab  *C.struct_pa_fdtab  // pa_collect's descriptor table
	wake chan struct{}
	pid  int
	// covered has a bit set for each descriptor with a request in the list
	// of the reaper's current aio_suspend. glibc runs one descriptor's
	// requests in submission order, so a new request on such a descriptor
	// cannot finish before the listed one, which wakes the reaper: no
	// signal is needed. Only the reaper writes it, while awake.
	covered []atomic.Uint64
	set     []int         // descriptors whose bit is set
	passes  atomic.Uint64 // collect passes so far (a test guards against spinning)
	waits   atomic.Uint64 // aio_suspend calls so far
	listed  atomic.Int64  // aiocbs in the list of the last aio_suspend
	// lateReaps counts passes that completed requests right after an
	// aio_suspend that timed out: mostly requests whose wake-up did not
	// come (a test checks that the doorbell and signal make them rare).
	lateReaps atomic.Uint64
	// capped is set while the list of the current aio_suspend holds only
	// the oldest listMax() requests: a new request, younger than all of
	// them, then needs no signal either.
	capped atomic.Bool

	// The suspender (notify.h), started the first time the reaper waits
	// with GOMAXPROCS 1: its thread runs the aio_suspend and wakes the
	// reaper through spN on Go's poller. Only the reaper uses these, and
	// Queue.Close once the reaper has returned.
	sp       *C.struct_pa_suspender // C memory: its thread keeps the pointer
	spN      *completion.Notifier
	spFailed bool // it could not be started: the reaper waits in the cgo call
	oneP     bool // GOMAXPROCS was 1 when last looked at (every 64 waits)
	spLeft   int  // waits still to go to the suspender (see suspenderWaits)
	// spWaits counts the waits the suspender ran (tests).
	spWaits atomic.Uint64
}

// aioThreads is the aio_threads value of the last AioInit (glibc's
// default: 20). glibc takes it only before the first request, so it may
// differ from glibc's; the reaper's list cap only costs a late wake-up then.
var aioThreads atomic.Int32

func init() { aioThreads.Store(20) }

// listMax is how many requests of different descriptors the reaper lists:
// twice the threads glibc runs them on, which covers every request that
// can be running while its aio_suspend starts (see pa_collect).
func listMax() int { return 2 * max(int(aioThreads.Load()), 8) }

func (s *suspendState) state() *int32 { return (*int32)(unsafe.Pointer(&s.r.state)) }
func (s *suspendState) tid() *int32   { return (*int32)(unsafe.Pointer(&s.r.tid)) }
func (s *suspendState) bell() *uint64 { return (*uint64)(unsafe.Pointer(&s.r.bell)) }

func (q *Queue) startSuspendReaper() error {
	ptr := unsafe.Sizeof(uintptr(0))
	n := uintptr(q.nslots)
	tabEnts := uintptr(1)
	for tabEnts < 2*n {
		tabEnts <<= 1
	}
	// One allocation: the reaper's words, the list, its descriptors and
	// pa_collect's table (8-byte aligned: n*ptr and n*int are multiples of 4
	// and the table's words are 4-byte).
	tabOff := C.sizeof_struct_pa_reaper + n*ptr + n*C.sizeof_int
	l := C.calloc(1, C.size_t(tabOff+C.sizeof_struct_pa_fdtab+tabEnts*C.sizeof_struct_pa_fdent))
	if l == nil {
		return unix.ENOMEM
	}
	tab := (*C.struct_pa_fdtab)(unsafe.Add(l, tabOff))
	tab.mask = C.uint32_t(tabEnts - 1)
	q.sus = &suspendState{
		mem:     l,
		r:       (*C.struct_pa_reaper)(l),
		list:    (**C.struct_aiocb)(unsafe.Add(l, C.sizeof_struct_pa_reaper)),
		fds:     (*C.int)(unsafe.Add(l, C.sizeof_struct_pa_reaper+n*ptr)),
		tab:     tab,
		wake:    make(chan struct{}, 1),
		pid:     unix.Getpid(),
		covered: make([]atomic.Uint64, coveredFds/64),
	}
	started := make(chan struct{})
	go q.reapSuspend(started)
	<-started
	return nil
}

// ring makes the reaper look at the slots again: after a submission on fd
// (-1: unknown) its current aio_suspend list may lack the new request.
func (s *suspendState) ring(fd int) {
	atomic.AddUint64(s.bell(), 1)
	switch atomic.LoadInt32(s.state()) {
	case reaperIdle:
		if atomic.CompareAndSwapInt32(s.state(), reaperIdle, reaperAwake) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	case reaperSuspend:
		if s.capped.Load() || fd >= 0 && fd < coveredFds && s.covered[fd/64].Load()&(1<<(fd%64)) != 0 {
			return
		}
		if atomic.CompareAndSwapInt32(s.state(), reaperSuspend, reaperAwake) {
			// pa_reaper_wait stored the thread id before the state, so this
			// is the thread in (or about to enter) aio_suspend, or one that
			// has left it already: then the signal is a stray SIGURG, which
			// Go's runtime sends to its threads all the time anyway.
			unix.Tgkill(s.pid, int(atomic.LoadInt32(s.tid())), unix.SIGURG)
		}
	}
}

// reapSuspend is the NotifySuspend reaper. It is not locked to an OS
// thread: pa_reaper_wait publishes the id of whichever thread runs the
// aio_suspend, within the same cgo call.
func (q *Queue) reapSuspend(started chan struct{}) {
	defer close(q.reaped)
	s := q.sus
	close(started)
	idx, res := q.idx, q.res
	timedOut := false // the last aio_suspend ended at suspendTimeout
	for {
		bell := atomic.LoadUint64(s.bell())
		s.passes.Add(1)
		r := C.pa_collect(q.slots, C.uint32_t(q.nslots),
			(*C.uint64_t)(unsafe.Pointer(&idx[0])), (*C.int64_t)(unsafe.Pointer(&res[0])),
			C.int(len(idx)), s.list, s.fds, s.tab, C.int(listMax()))
		k, n := int(r&0xffffffff), int(r>>32&0x3fffffff)
		q.complete(k)
		if timedOut && k > 0 {
			s.lateReaps.Add(1)
		}
		timedOut = false
		if k == len(idx) {
			continue // more may be finished
		}
		if k > 0 && n > 0 {
			// The goroutines just completed are runnable, most of them on
			// this P; they usually submit their next request at once. Let
			// them run before this goroutine blocks in aio_suspend (which
			// would hold the P in a cgo call until sysmon retakes it), and
			// pick their requests up in the next pass: this is how the C
			// loop batches, reaping and resubmitting before it waits.
			for i := 0; i < yieldMax && atomic.LoadUint64(s.bell())-bell < uint64(k); i++ {
				runtime.Gosched()
			}
			continue
		}
		if n == 0 {
			if q.stopping.Load() && q.tab.InFlight() == 0 {
				return
			}
			atomic.StoreInt32(s.state(), reaperIdle)
			if atomic.LoadUint64(s.bell()) != bell || q.stopping.Load() {
				atomic.StoreInt32(s.state(), reaperAwake)
				continue
			}
			<-s.wake
			atomic.StoreInt32(s.state(), reaperAwake)
			continue
		}
		s.cover(n)
		s.capped.Store(r&C.PA_COLLECT_CAPPED != 0)
		s.listed.Store(int64(n))
		if s.waits.Add(1)%64 == 1 {
			s.oneP = runtime.GOMAXPROCS(0) == 1
		}
		// EINTR (rung), EAGAIN (timeout), success and "the bell moved" all
		// lead to a new pass.
		if s.oneP && s.spLeft > 0 && s.suspender() {
			s.spLeft--
			timedOut = s.suspend(bell, n) == -C.EAGAIN
			continue
		}
		timedOut = C.pa_reaper_wait(s.r, C.uint64_t(bell), s.list, C.int(n), C.int64_t(suspendTimeout)) == -C.EAGAIN
		if s.oneP && atomic.LoadUint64(s.bell()) != bell {
			// Submissions came while this goroutine held the only P
			// (sysmon had handed it over): the next waits go to the
			// suspender.
			s.spLeft = suspenderWaits
		}
	}
}

// suspenderWaits is how many waits go to the suspender once a direct wait
// (GOMAXPROCS 1) saw submissions meanwhile, before a direct one is tried
// again.
const suspenderWaits = 256

// suspender starts the suspender thread unless it runs already, and says
// whether it does.
//
// With GOMAXPROCS 1 the reaper's own aio_suspend would hold the only P in a
// cgo call: the goroutines it has just completed, and any other, then wait
// for sysmon to take the P back (20 us to 10 ms), and the queue goes in
// lockstep (a quarter of C's rate on cached reads). On the suspender the
// reaper parks on Go's poller instead. The direct call is cheaper (no
// thread hop) where nothing else wants the P, as with one request in
// flight whose goroutine only waits for it: the reaper waits directly until
// a wait sees submissions arrive meanwhile (which, with one P, only sysmon
// taking it over allows), then the next suspenderWaits waits go to the
// suspender. With more Ps the direct call stays.
func (s *suspendState) suspender() bool {
	if s.sp != nil || s.spFailed {
		return s.sp != nil
	}
	n, err := completion.NewNotifier()
	if err != nil {
		s.spFailed = true
		return false
	}
	sp := (*C.struct_pa_suspender)(C.calloc(1, C.sizeof_struct_pa_suspender))
	if sp == nil {
		n.Close()
		s.spFailed = true
		return false
	}
	if C.pa_suspender_start(sp, s.r, C.int(n.FD())) != 0 {
		C.free(unsafe.Pointer(sp))
		n.Close()
		s.spFailed = true
		return false
	}
	s.sp, s.spN = sp, n
	return true
}

// suspend runs pa_reaper_wait(bell, the n listed aiocbs) on the suspender
// and parks until it has returned; it returns that result.
func (s *suspendState) suspend(bell uint64, n int) C.int {
	C.pa_suspender_arm(s.sp, C.uint64_t(bell), s.list, C.int(n), C.int64_t(suspendTimeout))
	s.spWaits.Add(1)
	if _, err := s.spN.Wait(); err != nil {
		// Only Queue.Close closes spN, after the reaper returned.
		panic("posixaio: suspender notifier closed under the reaper: " + err.Error())
	}
	return C.pa_suspender_ret(s.sp)
}

// stopSuspender ends the suspender thread, if it was started (Queue.Close,
// after the reaper has returned: no wait is pending).
func (s *suspendState) stopSuspender() {
	if s.sp == nil {
		return
	}
	C.pa_suspender_stop(s.sp)
	C.free(unsafe.Pointer(s.sp))
	s.sp = nil
	s.spN.Close()
}

// cover replaces the covered descriptors by those of the n listed aiocbs.
func (s *suspendState) cover(n int) {
	for _, fd := range s.set {
		s.covered[fd/64].Store(0)
	}
	s.set = s.set[:0]
	for _, fd := range unsafe.Slice(s.fds, n) {
		if f := int(fd); f >= 0 && f < coveredFds {
			w := &s.covered[f/64]
			w.Store(w.Load() | 1<<(f%64))
			s.set = append(s.set, f)
		}
	}
}
