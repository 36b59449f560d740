package posixaio

/*
#include <signal.h>
#include <string.h>
#include "notify.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// Sigevent is a struct sigevent: how glibc notifies the end of a request
// (aio_sigevent) or of a lio_listio list.
//
//   - SigevNone: nothing; poll with Error or wait with AioSuspend.
//   - SigevSignal: glibc sigqueue(3)s Signo with Value to the process when the
//     request finishes. Use a real-time signal from RTSignal and os/signal.Notify:
//     Go's runtime accepts SIGRTMIN+n (n >= 0) and delivers it to the channel,
//     but it coalesces pending signals of one number and does not expose
//     si_value, so treat the signal as "something finished" and poll with Error.
//     Signals 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID) and give
//     ErrReservedSignal.
//   - SigevThread: glibc starts a new thread per notification and runs Function,
//     which must be a C function void (*)(union sigval) (never a Go function:
//     that thread is not known to Go). Attributes is a pthread_attr_t* in C
//     memory or nil. ThreadSink provides a ready-made function that feeds an
//     eventfd watched by Go's poller.
//
// Value is sigev_value.sival_ptr (sival_int is its low 32 bits). It must not
// be a Go pointer: glibc keeps it past the call.
type Sigevent struct {
	Notify     int
	Signo      int
	Value      uintptr
	Function   unsafe.Pointer
	Attributes unsafe.Pointer
}

// SigRTMin returns SIGRTMIN as glibc defines it (the kernel's 32 plus the two
// signals glibc reserves: 34).
func SigRTMin() int { return int(C.pa_sigrtmin()) }

// SigRTMax returns SIGRTMAX (64 on Linux).
func SigRTMax() int { return int(C.pa_sigrtmax()) }

// RTSignal returns SIGRTMIN+n, or ErrBadSigevent if that exceeds SIGRTMAX.
// Pass it to os/signal.Notify and to Sigevent.Signo.
func RTSignal(n int) (syscall.Signal, error) {
	if n < 0 || n > SigRTMax()-SigRTMin() {
		return 0, ErrBadSigevent
	}
	return syscall.Signal(SigRTMin() + n), nil
}

func (ev *Sigevent) fill(c *C.struct_sigevent) error {
	var tmp C.struct_sigevent
	switch ev.Notify {
	case SigevNone:
	case SigevSignal:
		if ev.Signo < 0 || ev.Signo > SigRTMax() {
			return ErrBadSigevent
		}
		if ev.Signo > 31 && ev.Signo < SigRTMin() {
			return ErrReservedSignal
		}
		tmp.sigev_signo = C.int(ev.Signo)
	case SigevThread:
		if ev.Function == nil {
			return ErrBadSigevent
		}
		C.pa_sigev_set_thread(&tmp, ev.Function, ev.Attributes)
	default:
		return ErrBadSigevent
	}
	tmp.sigev_notify = C.int(ev.Notify)
	*(*uintptr)(unsafe.Pointer(&tmp.sigev_value)) = ev.Value
	*c = tmp
	return nil
}
