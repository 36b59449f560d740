package libaio

/*
#cgo LDFLAGS: -laio
#include "aiokit_libaio.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/aiokit/aio/internal/schedyield"
	"golang.org/x/sys/unix"
)

// Context is libaio's io_context_t: a kernel AIO context (its completion ring is mapped
// into the process). It is the raw layer: every method is one libaio call and returns
// what that call returns, a negative result becoming a unix.Errno.
//
// Methods may be called from any goroutine. Destroy (or QueueRelease) waits for calls
// already inside libaio on this Context to return, then destroys it; calls made after it
// return ErrClosed instead of touching an unmapped ring (where C would fault).
type Context struct {
	mu    sync.RWMutex // read-held by every call, write-held by Destroy
	ctx   C.io_context_t
	yield schedyield.Gate // see mayBlock
}

// mayBlock is called before an io_getevents that may wait in the kernel: it yields to
// the Go scheduler at most every schedyield.Every, so that Go's sysmon does not take
// the P of a goroutine looping on Submit + GetEvents (see internal/schedyield).
func (c *Context) mayBlock(minNr int, timeout *unix.Timespec) {
	if minNr <= 0 || (timeout != nil && timeout.Sec == 0 && timeout.Nsec == 0) {
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
// maxEvents <= 0 gives EINVAL; more than /proc/sys/fs/aio-max-nr (counting the events of
// every live context in the system) gives EAGAIN.
func Setup(maxEvents int) (*Context, error) {
	return newContext(maxEvents, false)
}

// QueueInit is io_queue_init: libaio's wrapper of io_setup (same results).
func QueueInit(maxEvents int) (*Context, error) {
	return newContext(maxEvents, true)
}

func newContext(maxEvents int, queue bool) (*Context, error) {
	if maxEvents > 1<<31-1 {
		return nil, unix.EINVAL // the C parameter is an int; the kernel would see garbage
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
	c := &Context{ctx: ctx}
	registerContext(c)
	return c, nil
}

// enter read-locks c and returns its io_context_t, or ErrClosed.
func (c *Context) enter() (C.io_context_t, error) {
	c.mu.RLock()
	if c.ctx == nil {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	return c.ctx, nil
}

func (c *Context) leave() { c.mu.RUnlock() }

// Destroy is io_destroy: cancel what can be cancelled, wait in the kernel for the rest of
// the in-flight requests, then free the context and its ring. Events not yet reaped are
// discarded. A second Destroy returns ErrClosed.
func (c *Context) Destroy() error { return c.destroy(false) }

// QueueRelease is io_queue_release: libaio's wrapper of io_destroy.
func (c *Context) QueueRelease() error { return c.destroy(true) }

func (c *Context) destroy(queue bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	var r C.int
	if queue {
		r = C.io_queue_release(c.ctx)
	} else {
		r = C.io_destroy(c.ctx)
	}
	if r < 0 {
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
// expires (nil waits forever, a zero Timespec does not wait), then copy up to
// len(events) of them into events and return how many. A timeout returns the events
// available then, possibly fewer than minNr or 0, with a nil error. A signal delivered
// to the waiting thread before any event arrived gives EINTR, as in C; Go's runtime
// sends such signals (SIGURG) at any time, so callers retry on EINTR.
// minNr > len(events) or minNr < 0 gives EINVAL.
//
// A call that may wait (minNr > 0, timeout not zero) first yields to the Go scheduler
// if none of this Context's waits did for 5 ms (runtime.Gosched; see mayBlock): it keeps
// Go's sysmon from taking the thread's P away during the waits of a goroutine that
// loops on Submit and GetEvents. Results are unaffected.
func (c *Context) GetEvents(minNr int, events []Event, timeout *unix.Timespec) (int, error) {
	c.mayBlock(minNr, timeout)
	ctx, err := c.enter()
	if err != nil {
		return 0, err
	}
	r := C.io_getevents(ctx, C.long(minNr), C.long(len(events)), eventsPtr(events), (*C.struct_timespec)(unsafe.Pointer(timeout)))
	c.leave()
	runtime.KeepAlive(events)
	runtime.KeepAlive(timeout)
	if r < 0 {
		return 0, errnoErr(r)
	}
	forgetCallbacks(events[:r])
	return int(r), nil
}

// PGetEvents is io_pgetevents: GetEvents with the thread's signal mask replaced by
// sigmask (when non-nil) for the duration of the wait, atomically, like ppoll(2). Like
// GetEvents, a call that may wait may first yield to the Go scheduler.
func (c *Context) PGetEvents(minNr int, events []Event, timeout *unix.Timespec, sigmask *unix.Sigset_t) (int, error) {
	c.mayBlock(minNr, timeout)
	ctx, err := c.enter()
	if err != nil {
		return 0, err
	}
	r := C.io_pgetevents(ctx, C.long(minNr), C.long(len(events)), eventsPtr(events),
		(*C.struct_timespec)(unsafe.Pointer(timeout)), (*C.sigset_t)(unsafe.Pointer(sigmask)))
	c.leave()
	runtime.KeepAlive(events)
	runtime.KeepAlive(timeout)
	runtime.KeepAlive(sigmask)
	if r < 0 {
		return 0, errnoErr(r)
	}
	forgetCallbacks(events[:r])
	return int(r), nil
}
