package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

import (
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
)

// Waiting for a lone request in the kernel, as uring's Queue does (see
// uring/queue_wait.go): an event normally reaches its waiter through the
// RESFD eventfd, Go's poller and the reaper goroutine. Once completion.LoneStreak Waits
// in a row found their request alone in flight, the next one waits in
// io_getevents itself (min_nr 1, with short timeouts) and completes what it
// reaps, under the reaper's lock. One goroutine at a time does so; it gives
// up after about 3 ms, or as soon as other requests are in flight.

// waitInline is the table's waiter (completion.Table.SetWaiter).
func (q *Queue) waitInline(h *completion.Handle) bool {
	if !q.lone.Enter(q.table.Lone()) {
		return false
	}
	defer q.lone.Leave()
	// Close destroys the context under the write lock, after the table is
	// closed: a reader that gets the lock and sees the table open may use it.
	if !q.life.TryRLock() {
		return false
	}
	defer q.life.RUnlock()
	if q.table.Closed() {
		return false
	}
	evp := (*C.struct_io_event)(unsafe.Pointer(&q.events[0]))
	for _, ns := range completion.LoneWaitSteps {
		if h.IsDone() || !q.table.Lone() {
			break
		}
		q.rmu.Lock()
		// The reaper completes events under rmu: holding it, either ours is
		// still in the ring or its handle is done already.
		if h.IsDone() {
			q.rmu.Unlock()
			break
		}
		q.inlineWaits.Add(1)
		if r := C.aiokit_wait_events(q.cctx, C.long(len(q.events)), evp, C.longlong(ns)); r > 0 {
			q.completeEvents(int(r))
		}
		q.rmu.Unlock()
		// 0 (timeout) or -EINTR: look again.
	}
	return h.IsDone()
}
