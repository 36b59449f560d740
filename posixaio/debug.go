package posixaio

/*
#include "notify.h"
static void pa_set_drop(int v) { __atomic_store_n(&pa_drop_notifications, v, __ATOMIC_RELAXED); }
static void pa_pin_probe(void *p) { (void)p; }
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setDropNotifications makes the SIGEV_THREAD trampoline drop every
// notification (tests use it to stand for glibc failing to start the
// notification thread).
func setDropNotifications(drop bool) {
	v := C.int(0)
	if drop {
		v = 1
	}
	C.pa_set_drop(v)
}

// notified returns the number of notifications that reached the sink,
// kept in its ring or dropped as overflow.
func (s *ThreadSink) notified() uint64 { return uint64(C.pa_sink_notified(s.id)) }

// pinned reports whether the Go object p points into is pinned
// (runtime.Pinner), as cgo's pointer check sees it: a C call's argument may
// point to Go memory that holds Go pointers only if those are pinned, so
// the call panics ("cgo argument has Go pointer to unpinned Go pointer")
// for a box holding p unless p is pinned. ok is false when cgo's checks are
// off (GODEBUG=cgocheck=0), which a box holding a fresh object shows.
func pinned(p unsafe.Pointer) (pinned, ok bool) {
	if !probePanics(unsafe.Pointer(new(int))) {
		return false, false
	}
	return !probePanics(p), true
}

func probePanics(p unsafe.Pointer) (panicked bool) {
	box := new(unsafe.Pointer)
	*box = p
	defer func() { panicked = recover() != nil }()
	C.pa_pin_probe(unsafe.Pointer(box))
	return false
}

// LiveAiocbs returns the number of Aiocbs allocated with NewAiocb and not
// yet freed (by Free or by the garbage collector once unreachable and
// finished). Tests use it to check for leaks.
func LiveAiocbs() int64 { return liveAiocbs.Load() }

// sigevNoneC, sigevThreadC and slotNotify let tests (which cannot use cgo)
// check the notification a queue's aiocbs carry.
const (
	sigevNoneC   = int(C.SIGEV_NONE)
	sigevThreadC = int(C.SIGEV_THREAD)
)

func slotNotify(q *Queue, i int) int {
	return int(q.slot(uint32(i)).cb.aio_sigevent.sigev_notify)
}

// slotStatus returns a function that reads the __error_code of slot i's
// aiocb (EINPROGRESS, ECANCELED, ...; without glibc's lock). It looks the
// slot up now, so that calling it does not read q.slots, which Close
// clears; it must not be called once Close may have freed the slots.
func slotStatus(q *Queue, i int) func() unix.Errno {
	p := (*int32)(unsafe.Pointer(&q.slot(uint32(i)).cb.__error_code))
	return func() unix.Errno { return unix.Errno(atomic.LoadInt32(p)) }
}

// listedSlots returns the slot numbers of the aiocbs the suspend reaper
// listed for its last aio_suspend (read while it waits in it).
func listedSlots(q *Queue) []int {
	s := q.sus
	n := int(s.listed.Load())
	list := unsafe.Slice(s.list, n)
	out := make([]int, n)
	for i, cb := range list {
		out[i] = int((uintptr(unsafe.Pointer(cb)) - uintptr(unsafe.Pointer(q.slots))) / C.sizeof_struct_pa_slot)
	}
	return out
}
