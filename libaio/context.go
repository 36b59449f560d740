package libaio

/*
#cgo LDFLAGS: -laio
#include "aiokit_libaio.h"
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/schedyield"
	"golang.org/x/sys/unix"
)

// Context is libaio's io_context_t: a kernel AIO context (its completion ring is mapped
// into the process). It is the raw layer: every method is one libaio call and returns
// what that call returns, a negative result becoming a unix.Errno.
//
// Methods may be called from any goroutine. Destroy (or QueueRelease) waits for calls
// already inside libaio on this Context to return, then destroys it; calls made once it
// has started return ErrClosed instead of touching an unmapped ring (where C would
// fault), and a GetEvents or PGetEvents waiting for events returns (see GetEvents).
type Context struct {
	ctx   C.io_context_t
	users atomic.Int64    // calls inside libaio on ctx, plus closing once Destroy has started
	idle  chan struct{}   // leave wakes Destroy here when the last call returns
	dmu   sync.Mutex      // serializes Destroy and QueueRelease
	yield schedyield.Gate // see mayBlock

	// The first panic of a callback in QueueRun (guarded by callbacks' mutex;
	// never nil for a panic: panic(nil) recovers as a *runtime.PanicNilError).
	cbPanic any
}

// closing is the bit of Context.users that Destroy sets: enter fails from then on.
const closing = 1 << 62

// waitSlice bounds each io_getevents wait of a blocking GetEvents or PGetEvents, and so
// how long Destroy waits for such a call to notice it (see GetEvents).
const waitSlice = 50 * time.Millisecond

// mayBlock is called before an io_getevents that may wait in the kernel: it yields to
// the Go scheduler at most every schedyield.Every, so that Go's sysmon does not take
// the P of a goroutine looping on Submit + GetEvents (see internal/schedyield).
func (c *Context) mayBlock(minNr int, timeout *unix.Timespec) {
	if d, forever := kernelTimeout(timeout); minNr <= 0 || !forever && d == 0 {
		return // io_getevents returns at once
	}
	c.yield.BeforeBlock()
}

// errnoErr turns a libaio result (-errno on failure) into a Go error.
func errnoErr(r C.int) error {
	if r >= 0 {
		return nil
	}
	return unix.Errno(-r)
}

// Setup is io_setup: create a context that can hold at least maxEvents completions.
// maxEvents <= 0 gives EINVAL, and so does one beyond C's int (never taken for its low
// 32 bits) or above 4 Mi (1<<22, the kernel's bound on its ring); more than
// /proc/sys/fs/aio-max-nr (counting the events of every live context in the system)
// gives EAGAIN. A system that refuses Linux AIO
// gives ENOSYS (no CONFIG_AIO) or EPERM (seccomp): the plain errno, as C sees it
// (NewQueue wraps these in ErrUnavailable).
func Setup(maxEvents int) (*Context, error) {
	return newContext(maxEvents, false)
}

// QueueInit is io_queue_init: libaio's wrapper of io_setup (same results).
func QueueInit(maxEvents int) (*Context, error) {
	return newContext(maxEvents, true)
}

func newContext(maxEvents int, queue bool) (*Context, error) {
	if maxEvents != int(int32(maxEvents)) {
		// The C parameter is an int: its low 32 bits could be a valid size
		// (-(1<<32)+5 would be 5).
		return nil, unix.EINVAL
	}
	var ctx C.io_context_t
	var r C.int
	if queue {
		r = C.io_queue_init(C.int(maxEvents), &ctx)
	} else {
		r = C.io_setup(C.int(maxEvents), &ctx)
	}
	if r < 0 {
		return nil, errnoErr(r)
	}
	c := &Context{ctx: ctx, idle: make(chan struct{}, 1)}
	registerContext(c)
	return c, nil
}

// enter counts a call in and returns c's io_context_t, or ErrClosed once Destroy has
// started. It never blocks: a call made while Destroy waits (a QueueRun callback's
// Submit among them) fails instead of waiting behind it.
func (c *Context) enter() (C.io_context_t, error) {
	if c.users.Add(1)&closing != 0 {
		c.leave()
		return nil, ErrClosed
	}
	return c.ctx, nil
}

// leave counts a call out and wakes Destroy when it was the last one.
func (c *Context) leave() {
	if c.users.Add(-1) == closing {
		select {
		case c.idle <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// Destroy is io_destroy: cancel what can be cancelled, wait in the kernel for the rest of
// the in-flight requests, then free the context and its ring. Events not yet reaped are
// discarded. From its start every new call on c returns ErrClosed, and a GetEvents or
// PGetEvents waiting for events returns within about 50 ms; Destroy waits for the calls
// inside libaio to return before it calls io_destroy (a QueueRun callback must therefore
// not call it). A second Destroy returns ErrClosed.
func (c *Context) Destroy() error { return c.destroy(false) }

// QueueRelease is io_queue_release: libaio's wrapper of io_destroy (see Destroy).
func (c *Context) QueueRelease() error { return c.destroy(true) }

func (c *Context) destroy(queue bool) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	c.users.Add(closing)
	for c.users.Load() != closing {
		<-c.idle
	}
	var r C.int
	if queue {
		r = C.io_queue_release(c.ctx)
	} else {
		r = C.io_destroy(c.ctx)
	}
	if r < 0 {
		c.users.Add(-closing) // the context lives on
		return errnoErr(r)
	}
	unregisterContext(c)
	c.ctx = nil
	return nil
}

// Submit is io_submit: queue the requests ios. It returns the number accepted, exactly
// as C: when the first request is rejected the error is its errno (EBADF, EINVAL,
// EAGAIN, EFAULT ...) and the count is 0; when a later one is rejected the count is
// short and the error is nil (resubmitting ios[n:] then reports that request's errno).
// Errors found while the I/O runs (EIO, misaligned O_DIRECT on some filesystems,
// EFAULT for a bad buffer on buffered files ...) arrive in the Event instead.
//
// Every Iocb, and the memory it points at, must stay valid and unmoved until its event
// is reaped: see Iocb. An empty ios submits nothing and returns (0, nil) like C.
func (c *Context) Submit(ios []*Iocb) (int, error) {
	ctx, err := c.enter()
	if err != nil {
		return 0, err
	}
	var p *C.uintptr_t
	if len(ios) > 0 {
		p = (*C.uintptr_t)(unsafe.Pointer(&ios[0]))
	}
	r := C.aiokit_io_submit(ctx, C.long(len(ios)), p)
	c.leave()
	runtime.KeepAlive(ios)
	if r < 0 {
		return 0, errnoErr(r)
	}
	return int(r), nil
}

// Cancel is io_cancel: ask the kernel to cancel the in-flight request cb. On current
// kernels only IO_CMD_POLL requests can be cancelled: success is reported as
// unix.EINPROGRESS (the event, Res 0 for a poll, still arrives through the ring, so evt is
// left untouched and may be nil). Reads, writes and syncs, and requests already
// complete, give EINVAL; a cb that was never submitted gives EINVAL (or EFAULT for nil).
func (c *Context) Cancel(cb *Iocb, evt *Event) error {
	ctx, err := c.enter()
	if err != nil {
		return err
	}
	r := C.aiokit_io_cancel(ctx, C.uintptr_t(uintptr(unsafe.Pointer(cb))), (*C.struct_io_event)(unsafe.Pointer(evt)))
	c.leave()
	runtime.KeepAlive(cb)
	runtime.KeepAlive(evt)
	return errnoErr(r)
}

func eventsPtr(events []Event) *C.struct_io_event {
	if len(events) == 0 {
		return nil
	}
	return (*C.struct_io_event)(unsafe.Pointer(&events[0]))
}

// GetEvents is io_getevents: wait until at least minNr events are available or timeout
// expires (nil waits forever, a zero Timespec does not wait; like the kernel, which
// checks no field, a Nsec past a second adds to the wait and a negative total waits
// forever: see kernelTimeout), then copy up to
// len(events) of them into events and return how many. A timeout returns the events
// available then, possibly fewer than minNr or 0, with a nil error. A signal delivered
// to the waiting thread before any event arrived gives EINTR, as in C (after some
// arrived, the call returns them); Go's runtime sends such signals (SIGURG) at any
// time, so callers retry on EINTR. minNr > len(events) or minNr < 0 gives EINVAL, except
// with a zero timeout on an empty ring: libaio answers that in user space with 0, as C's
// io_getevents does, before the kernel could check the arguments.
//
// A wait longer than 50 ms is made of several io_getevents calls of at most 50 ms each,
// asking each for the events still missing, so that Destroy never waits long for it:
// the result is the one a single C call would give (a signal that lands between two
// of the calls, in Go code, is not seen, as one that lands just before a C call is not).
// When Destroy starts during the wait, GetEvents returns the events reaped so far, or
// ErrClosed if there are none (C's io_getevents returns EINVAL when io_destroy kills
// the context under it; ErrClosed is what every call that Destroy overtakes returns).
//
// A call that may wait (minNr > 0, timeout not zero) first yields to the Go scheduler
// if none of this Context's waits did for 5 ms (runtime.Gosched; see mayBlock; the clock
// is read on one such call in schedyield.ClockEvery, so a yield may be that late): it keeps
// Go's sysmon from taking the thread's P away during the waits of a goroutine that
// loops on Submit and GetEvents. A long wait yields the same way between its slices.
// Results are unaffected.
func (c *Context) GetEvents(minNr int, events []Event, timeout *unix.Timespec) (int, error) {
	return c.getEvents(minNr, events, timeout, nil, false)
}

// PGetEvents is io_pgetevents: GetEvents with the thread's signal mask replaced by
// sigmask (when non-nil) for the duration of the wait, atomically, like ppoll(2). Like
// GetEvents, a call that may wait may first yield to the Go scheduler, and a wait
// longer than 50 ms is made of several io_pgetevents calls (the thread's own mask is
// in force between them, while Go code runs: a signal that sigmask blocks but the
// thread does not may then be handled by Go instead of staying pending).
//
// A kernel without io_pgetevents (before Linux 4.18) gives ENOSYS, and a seccomp profile
// without it its errno (EPERM), as C's io_pgetevents does: libaio does not fall back to
// io_getevents, nor does PGetEvents (use GetEvents there). Only a zero timeout on an
// empty ring returns 0 even then: libaio answers it in user space, with no system call.
func (c *Context) PGetEvents(minNr int, events []Event, timeout *unix.Timespec, sigmask *unix.Sigset_t) (int, error) {
	return c.getEvents(minNr, events, timeout, sigmask, true)
}

func (c *Context) getEvents(minNr int, events []Event, timeout *unix.Timespec, sigmask *unix.Sigset_t, pget bool) (int, error) {
	c.mayBlock(minNr, timeout)
	if !sliced(minNr, len(events), timeout) {
		ctx, err := c.enter()
		if err != nil {
			return 0, err
		}
		var r C.int
		if pget {
			r = C.io_pgetevents(ctx, C.long(minNr), C.long(len(events)), eventsPtr(events),
				(*C.struct_timespec)(unsafe.Pointer(timeout)), (*C.sigset_t)(unsafe.Pointer(sigmask)))
		} else {
			r = C.io_getevents(ctx, C.long(minNr), C.long(len(events)), eventsPtr(events),
				(*C.struct_timespec)(unsafe.Pointer(timeout)))
		}
		c.leave()
		runtime.KeepAlive(events)
		runtime.KeepAlive(timeout)
		runtime.KeepAlive(sigmask)
		if r < 0 {
			return 0, errnoErr(r)
		}
		return int(r), nil
	}
	d, forever := kernelTimeout(timeout)
	var deadline time.Time
	if !forever {
		deadline = time.Now().Add(d)
	}
	got := 0
	var err error
	for slice := 0; ; slice++ {
		ns := waitSlice
		if !forever {
			ns = min(ns, time.Until(deadline))
			if ns <= 0 {
				break // timed out with got < minNr events
			}
		}
		if slice > 0 {
			// Yield as mayBlock did before the first slice. Without this, the
			// goroutine back from a long cgo call runs on a schedtick that Go's sysmon
			// finds stale, and the preemption signal it sends may land in the next
			// io_getevents (EINTR) instead of in Go code.
			c.yield.BeforeBlock()
		}
		var ctx C.io_context_t
		if ctx, err = c.enter(); err != nil {
			break // Destroy has started
		}
		var r C.int
		if pget {
			r = C.aiokit_pgetevents_ns(ctx, C.long(minNr-got), C.long(len(events)-got), eventsPtr(events[got:]),
				C.longlong(ns), (*C.sigset_t)(unsafe.Pointer(sigmask)))
		} else {
			r = C.aiokit_getevents_ns(ctx, C.long(minNr-got), C.long(len(events)-got), eventsPtr(events[got:]), C.longlong(ns))
		}
		c.leave()
		if r < 0 {
			err = errnoErr(r) // EINTR, or EINVAL for bad arguments on the first call
			break
		}
		got += int(r)
		if got >= minNr {
			break
		}
	}
	runtime.KeepAlive(events)
	runtime.KeepAlive(sigmask)
	if got > 0 {
		return got, nil // as the kernel returns the events it has on a signal or a dead context
	}
	return 0, err
}

// sliced reports whether a GetEvents call waits in bounded slices: when it may wait
// longer than waitSlice. A call that cannot wait (minNr <= 0, or more than nr: EINVAL)
// and one with a short timeout is one C call.
func sliced(minNr, nr int, timeout *unix.Timespec) bool {
	if minNr <= 0 || minNr > nr {
		return false
	}
	d, forever := kernelTimeout(timeout)
	return forever || d > waitSlice
}

// ktimeSecMax is the kernel's KTIME_SEC_MAX: seconds from which a timespec means no
// limit.
const ktimeSecMax = math.MaxInt64 / int64(time.Second)

// kernelTimeout reads an io_getevents timeout as the kernel does, which checks none of
// it (timespec64_to_ktime, then a relative hrtimer): nil and seconds >= KTIME_SEC_MAX
// mean no limit; otherwise the wait is Sec*1e9+Nsec nanoseconds (Nsec may exceed a
// second or be negative), 0 does not wait, and a negative total waits forever too (the
// hrtimer's expiry lands before the clock's start and is pushed to the end of time).
func kernelTimeout(ts *unix.Timespec) (d time.Duration, forever bool) {
	if ts == nil || int64(ts.Sec) >= ktimeSecMax {
		return 0, true
	}
	ns := int64(ts.Sec)*1e9 + int64(ts.Nsec) // wraps as the kernel's s64 does
	if ns < 0 {
		return 0, true
	}
	return time.Duration(ns), false
}
