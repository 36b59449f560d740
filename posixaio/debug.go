package posixaio

/*
#include "notify.h"
static void pa_set_drop(int v) { __atomic_store_n(&pa_drop_notifications, v, __ATOMIC_RELAXED); }
*/
import "C"

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
