package posixaio

/*
#include <aio.h>
#include <fcntl.h>
#include <signal.h>
*/
import "C"

// Return values of aio_cancel (AIO_CANCELED, AIO_NOTCANCELED, AIO_ALLDONE).
const (
	Canceled    = int(C.AIO_CANCELED)    // AIO_CANCELED: every matching request was canceled
	NotCanceled = int(C.AIO_NOTCANCELED) // AIO_NOTCANCELED: at least one request is running on a glibc thread
	AllDone     = int(C.AIO_ALLDONE)     // AIO_ALLDONE: nothing left to cancel
)

// Operation codes for the aio_lio_opcode field (LIO_READ, LIO_WRITE, LIO_NOP).
const (
	LioRead  = int(C.LIO_READ)  // LIO_READ
	LioWrite = int(C.LIO_WRITE) // LIO_WRITE
	LioNop   = int(C.LIO_NOP)   // LIO_NOP: the list entry is ignored
)

// Modes of lio_listio (LIO_WAIT, LIO_NOWAIT).
const (
	LioWait   = int(C.LIO_WAIT)   // LIO_WAIT: lio_listio returns when every request finished
	LioNowait = int(C.LIO_NOWAIT) // LIO_NOWAIT: lio_listio returns once the requests are queued
)

// Notification kinds for Sigevent.Notify (SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD).
const (
	SigevNone   = int(C.SIGEV_NONE)   // SIGEV_NONE: no notification; poll with Error or wait with AioSuspend
	SigevSignal = int(C.SIGEV_SIGNAL) // SIGEV_SIGNAL: glibc queues Signo to the process (sigqueue)
	SigevThread = int(C.SIGEV_THREAD) // SIGEV_THREAD: glibc starts a thread that runs a C function
)

// Operations of aio_fsync (O_SYNC, O_DSYNC from fcntl.h).
const (
	OSync  = int(C.O_SYNC)  // O_SYNC: aio_fsync does fsync(2)
	ODsync = int(C.O_DSYNC) // O_DSYNC: aio_fsync does fdatasync(2)
)

// PrioDeltaMax is AIO_PRIO_DELTA_MAX: the largest aio_reqprio glibc accepts.
const PrioDeltaMax = 20
