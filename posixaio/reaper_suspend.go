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

	"golang.org/x/sys/unix"
)

// suspendTimeout bounds one aio_suspend of the NotifySuspend reaper: a
// wake-up signal that reaches the thread just before glibc's futex wait is
// lost, and a request the reaper's list does not cover is then noticed at
// the latest after this long.
const suspendTimeout = 20 * time.Millisecond

const (
	reaperAwake   = iota // scanning; will see every armed slot
	reaperIdle           // parked on the channel: nothing in flight
	reaperSuspend        // in aio_suspend on the list it built
)

// coveredFds bounds the descriptors the reaper tracks in its bitmap; a
// submission on a higher descriptor always wakes it.
const coveredFds = 1 << 16

type suspendState struct {
	list  **C.struct_aiocb // C array of nslots aiocb pointers
	fds   *C.int           // C array: descriptor of each listed aiocb
	bell  atomic.Uint64    // submissions (and cancels) since start
	state atomic.Int32
	tid   atomic.Int32
	wake  chan struct{}
	pid   int
	// covered has a bit set for each descriptor with a request in the list
	// of the reaper's current aio_suspend. glibc runs one descriptor's
	// requests in submission order, so a new request on such a descriptor
	// cannot finish before the listed one, which wakes the reaper: no
	// signal is needed. Only the reaper writes it, while awake.
	covered []atomic.Uint64
	set     []int // descriptors whose bit is set
}

func (q *Queue) startSuspendReaper() error {
	l := C.calloc(C.size_t(q.nslots), C.size_t(unsafe.Sizeof(uintptr(0))+C.sizeof_int))
	if l == nil {
		return unix.ENOMEM
	}
	q.sus = &suspendState{
		list:    (**C.struct_aiocb)(l),
		fds:     (*C.int)(unsafe.Add(l, uintptr(q.nslots)*unsafe.Sizeof(uintptr(0)))),
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
	s.bell.Add(1)
	switch s.state.Load() {
	case reaperIdle:
		if s.state.CompareAndSwap(reaperIdle, reaperAwake) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	case reaperSuspend:
		if fd >= 0 && fd < coveredFds && s.covered[fd/64].Load()&(1<<(fd%64)) != 0 {
			return
		}
		if s.state.CompareAndSwap(reaperSuspend, reaperAwake) {
			unix.Tgkill(s.pid, int(s.tid.Load()), unix.SIGURG)
		}
	}
}

func (q *Queue) reapSuspend(started chan struct{}) {
	defer close(q.reaped)
	s := q.sus
	close(started)
	idx, res := q.idx, q.res
	// The goroutine is wired to its thread while requests are in flight, so
	// that the thread id the ringer signals is the one waiting in
	// aio_suspend. Parked on the channel it is not: waking a locked
	// goroutine costs a thread hand-off.
	locked := false
	defer func() {
		if locked {
			runtime.UnlockOSThread()
		}
	}()
	for {
		bell := s.bell.Load()
		r := C.pa_collect(q.slots, C.uint32_t(q.nslots),
			(*C.uint64_t)(unsafe.Pointer(&idx[0])), (*C.int64_t)(unsafe.Pointer(&res[0])),
			C.int(len(idx)), s.list, s.fds)
		k, n := int(r&0xffffffff), int(r>>32)
		q.complete(k)
		if k == len(idx) {
			continue // more may be finished
		}
		if n == 0 {
			if locked {
				runtime.UnlockOSThread()
				locked = false
			}
			if q.stopping.Load() && q.tab.InFlight() == 0 {
				return
			}
			s.state.Store(reaperIdle)
			if s.bell.Load() != bell || q.stopping.Load() {
				s.state.Store(reaperAwake)
				continue
			}
			<-s.wake
			s.state.Store(reaperAwake)
			continue
		}
		s.cover(n)
		if !locked {
			runtime.LockOSThread()
			locked = true
			s.tid.Store(int32(unix.Gettid()))
		}
		s.state.Store(reaperSuspend)
		rung := false
		if s.bell.Load() == bell {
			// EINTR (rung), EAGAIN (timeout) and success all lead to a new
			// pass.
			rung = C.pa_suspend(s.list, C.int(n), C.int64_t(suspendTimeout)) == -C.EINTR
		}
		s.state.Store(reaperAwake)
		if rung {
			// Woken for a new submission: let the goroutines that are about
			// to submit more do so, so that one pass covers them all.
			runtime.Gosched()
		}
	}
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
