package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

import (
	"fmt"
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
// in a table keyed by cb's address for as long as cb.Data names the trampoline, and, as
// C calls whatever function Data names, QueueRun calls it for every event of cb: twice
// for cb submitted twice, again after cb is resubmitted (on this or another Context),
// also after GetEvents or PGetEvents reaped an event of cb without calling it. A Prep*
// method (which clears cb, as io_prep_* do) or SetCallback(nil) releases the entry; an
// Iocb dropped with its callback set keeps fn, and what it captures, alive: release it
// first. SetCallback(nil) stores 0 in Data, as io_set_callback(iocb, NULL) stores NULL
// (so GetEvents reports Data 0 for its events, and QueueRun a *NoCallbackError).
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
	if fn == nil {
		cb.Data = 0 // io_set_callback(iocb, NULL): data = NULL
	} else {
		cb.Data = trampoline
	}
}

// dropCallback releases the callback of cb, about to be cleared by a Prep*
// method, if it has one.
func (cb *Iocb) dropCallback() {
	if cb.Data != trampoline {
		return
	}
	callbacks.Lock()
	delete(callbacks.byIocb, uintptr(unsafe.Pointer(cb)))
	callbacks.Unlock()
}

// trampoline is the C function pointer SetCallback stores in Data.
var trampoline = uint64(uintptr(unsafe.Pointer(C.aiokit_callback_ptr())))

// QueueRun is io_queue_run: reap every available event without waiting and call the
// callback of each (set with SetCallback), on this goroutine. It returns io_queue_run's
// result: 0 when the ring is empty, or the errno of io_getevents.
//
// As in C, each request submitted on a Context drained with QueueRun must have been
// given SetCallback. Where C would call whatever Data names (a NULL Data crashes the
// process) or call a function that finds no Go callback (a copy of an Iocb given one:
// the callback is kept by the Iocb's address), QueueRun stops at that event instead,
// calls nothing for it and returns it in a *NoCallbackError (count 0): the events
// before it were called back, the ones after it stay in the ring for the next call.
// It runs io_queue_run's own loop for that (io_getevents of one event at a time with a
// zero timeout, aiokit_queue_run), so its results are otherwise C's.
//
// Callbacks must not Destroy the Context. A callback that panics does not stop the
// others of the run: the first panic is raised again from QueueRun once the loop has
// returned (with its value; its stack is gone by then).
func (c *Context) QueueRun() (int, error) {
	ctx, err := c.enter()
	if err != nil {
		return 0, err
	}
	var stray C.struct_io_event
	r := func() C.int {
		defer c.leave() // also when a callback calls runtime.Goexit
		return C.aiokit_queue_run(ctx, &stray)
	}()
	if p := c.takePanic(); p != nil {
		panic(p)
	}
	if r == 1 {
		return 0, &NoCallbackError{Event: *(*Event)(unsafe.Pointer(&stray))}
	}
	if r < 0 {
		return 0, errnoErr(r)
	}
	return int(r), nil
}

// NoCallbackError is QueueRun's error for an event it reaped but could not call back:
// its Data is not the trampoline SetCallback stores, or its iocb (by address) has no Go
// callback. The event is reaped (it is no longer in the ring): Event holds it whole.
type NoCallbackError struct {
	Event Event
}

func (e *NoCallbackError) Error() string {
	return fmt.Sprintf("libaio: QueueRun: event of iocb %#x (data %#x, res %d) has no callback set with SetCallback",
		e.Event.Obj, e.Event.Data, e.Event.Res)
}

// aiokitGoCallback is called by aiokit_callback (a C io_queue_run) and by
// aiokit_queue_run (QueueRun) for an event whose Data names the trampoline. It
// returns 0, calling nothing, when the iocb has no Go callback.
//
//export aiokitGoCallback
func aiokitGoCallback(ctx C.io_context_t, iocb *C.struct_iocb, res, res2 C.long) C.int {
	key := uintptr(unsafe.Pointer(iocb))
	callbacks.Lock()
	fn := callbacks.byIocb[key] // kept: the Iocb's Data still names it, as in C
	c := callbacks.ctxs[uintptr(unsafe.Pointer(ctx))]
	callbacks.Unlock()
	if fn == nil {
		return 0
	}
	callBack(c, fn, (*Iocb)(unsafe.Pointer(iocb)), int64(res), int64(res2))
	runtime.KeepAlive(iocb)
	return 1
}

// callBack calls fn for QueueRun. A panic must not unwind through io_queue_run,
// whose loop would lose the events it reaped and had not called back yet (and the
// call would skip QueueRun's leave, so that Destroy waited forever): it is kept for
// QueueRun to raise again. A runtime.Goexit still unwinds (recover does not stop it).
func callBack(c *Context, fn Callback, cb *Iocb, res, res2 int64) {
	if c != nil {
		defer c.catchPanic()
	}
	fn(c, cb, res, res2)
}

// catchPanic is deferred by callBack: it keeps the first panic of the run.
func (c *Context) catchPanic() {
	p := recover()
	if p == nil {
		return
	}
	callbacks.Lock()
	if c.cbPanic == nil {
		c.cbPanic = p
	}
	callbacks.Unlock()
}

// takePanic returns (and clears) the panic catchPanic kept, or nil.
func (c *Context) takePanic() any {
	callbacks.Lock()
	p := c.cbPanic
	c.cbPanic = nil
	callbacks.Unlock()
	return p
}

// Poll is io_poll: PrepPoll(fd, events), SetCallback(fn), then Submit of cb alone;
// the result is io_submit's. As in C, cb keeps fn when io_submit rejects it (see
// SetCallback for how long).
func (c *Context) Poll(cb *Iocb, fn Callback, fd int, events int16) (int, error) {
	cb.PrepPoll(fd, events)
	cb.SetCallback(fn)
	return c.Submit([]*Iocb{cb})
}

// Fsync is io_fsync: PrepFsync(fd), SetCallback(fn), then Submit of cb alone (see Poll).
func (c *Context) Fsync(cb *Iocb, fn Callback, fd int) (int, error) {
	cb.PrepFsync(fd)
	cb.SetCallback(fn)
	return c.Submit([]*Iocb{cb})
}

// Fdsync is io_fdsync: PrepFdsync(fd), SetCallback(fn), then Submit of cb alone (see Poll).
func (c *Context) Fdsync(cb *Iocb, fn Callback, fd int) (int, error) {
	cb.PrepFdsync(fd)
	cb.SetCallback(fn)
	return c.Submit([]*Iocb{cb})
}
