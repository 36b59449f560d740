package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Callback is libaio's io_callback_t, called by QueueRun for each reaped event of an
// Iocb prepared with SetCallback: res and res2 are the event's results.
type Callback func(ctx *Context, cb *Iocb, res, res2 int64)

// callbacks maps Iocb addresses to their Go callbacks, and io_context_t values to their
// *Context, for the C trampoline that io_queue_run calls.
var callbacks struct {
	sync.Mutex
	byIocb map[uintptr]Callback
	ctxs   map[uintptr]*Context
}

func registerContext(c *Context) {
	callbacks.Lock()
	if callbacks.ctxs == nil {
		callbacks.ctxs = make(map[uintptr]*Context)
	}
	callbacks.ctxs[uintptr(unsafe.Pointer(c.ctx))] = c
	callbacks.Unlock()
}

// unregisterContext removes c's entry, after io_destroy. By then a concurrent io_setup
// may have been given the same ring address and registered its own Context there:
// that entry stays.
func unregisterContext(c *Context) {
	key := uintptr(unsafe.Pointer(c.ctx))
	callbacks.Lock()
	if callbacks.ctxs[key] == c {
		delete(callbacks.ctxs, key)
	}
	callbacks.Unlock()
}

// SetCallback is io_set_callback: make QueueRun call fn when cb's event is reaped.
// As in C it stores a C function pointer (a trampoline into Go) in cb.Data, so it
// replaces any Data; call it after the Prep* method, which clears the Iocb. fn is kept
// in a table keyed by cb's address until QueueRun calls it, or GetEvents or PGetEvents
// reaps its event (the callback is then not called, as in C); a nil fn forgets it.
func (cb *Iocb) SetCallback(fn Callback) {
	key := uintptr(unsafe.Pointer(cb))
	callbacks.Lock()
	if fn == nil {
		delete(callbacks.byIocb, key)
	} else {
		if callbacks.byIocb == nil {
			callbacks.byIocb = make(map[uintptr]Callback)
		}
		callbacks.byIocb[key] = fn
	}
	callbacks.Unlock()
	cb.Data = trampoline
}

// trampoline is the C function pointer SetCallback stores in Data.
var trampoline = uint64(uintptr(unsafe.Pointer(C.aiokit_callback_ptr())))

// forgetCallbacks drops the table entries of events reaped by GetEvents or
// PGetEvents instead of QueueRun: their callbacks will never be called, and
// the entries would otherwise stay until the Iocb got a new callback.
func forgetCallbacks(events []Event) {
	locked := false
	for i := range events {
		if events[i].Data != trampoline {
			continue
		}
		if !locked {
			callbacks.Lock()
			locked = true
		}
		delete(callbacks.byIocb, uintptr(events[i].Obj))
	}
	if locked {
		callbacks.Unlock()
	}
}

// QueueRun is io_queue_run: reap every available event without waiting and call the
// callback of each (set with SetCallback), on this goroutine. It returns io_queue_run's
// result: 0 when the ring is empty, or the errno of io_getevents.
//
// As in C, the Data of every event reaped here is called as a function: each request
// submitted on a Context drained with QueueRun must have been given SetCallback.
// Callbacks must not Destroy the Context.
func (c *Context) QueueRun() (int, error) {
	ctx, err := c.enter()
	if err != nil {
		return 0, err
	}
	r := C.io_queue_run(ctx)
	c.leave()
	if r < 0 {
		return 0, errnoErr(r)
	}
	return int(r), nil
}

//export aiokitGoCallback
func aiokitGoCallback(ctx C.io_context_t, iocb *C.struct_iocb, res, res2 C.long) {
	key := uintptr(unsafe.Pointer(iocb))
	callbacks.Lock()
	fn := callbacks.byIocb[key]
	delete(callbacks.byIocb, key)
	c := callbacks.ctxs[uintptr(unsafe.Pointer(ctx))]
	callbacks.Unlock()
	if fn != nil {
		fn(c, (*Iocb)(unsafe.Pointer(iocb)), int64(res), int64(res2))
	}
	runtime.KeepAlive(iocb)
}

// Poll is io_poll: PrepPoll(fd, events), SetCallback(fn), then Submit of cb alone;
// the result is io_submit's. When io_submit rejects cb, fn is forgotten (no event will
// ever call it).
func (c *Context) Poll(cb *Iocb, fn Callback, fd int, events int16) (int, error) {
	cb.PrepPoll(fd, events)
	cb.SetCallback(fn)
	return c.submitCallback(cb)
}

// Fsync is io_fsync: PrepFsync(fd), SetCallback(fn), then Submit of cb alone (see Poll).
func (c *Context) Fsync(cb *Iocb, fn Callback, fd int) (int, error) {
	cb.PrepFsync(fd)
	cb.SetCallback(fn)
	return c.submitCallback(cb)
}

// Fdsync is io_fdsync: PrepFdsync(fd), SetCallback(fn), then Submit of cb alone (see Poll).
func (c *Context) Fdsync(cb *Iocb, fn Callback, fd int) (int, error) {
	cb.PrepFdsync(fd)
	cb.SetCallback(fn)
	return c.submitCallback(cb)
}

func (c *Context) submitCallback(cb *Iocb) (int, error) {
	n, err := c.Submit([]*Iocb{cb})
	if n != 1 {
		callbacks.Lock()
		delete(callbacks.byIocb, uintptr(unsafe.Pointer(cb)))
		callbacks.Unlock()
	}
	return n, err
}
