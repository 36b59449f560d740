package posixaio

/*
#include <aio.h>
#include <errno.h>
#include "notify.h"
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/schedyield"
	"golang.org/x/sys/unix"
)

func (a *Aiocb) submittable() error {
	if a == nil || a.cb == nil {
		return ErrFreed
	}
	if a.inProgress() {
		// Enqueuing an aiocb glibc already holds corrupts its request lists.
		return ErrInProgress
	}
	return nil
}

// Read is aio_read(3): it queues a read of aio_nbytes bytes at aio_offset of
// aio_fildes into aio_buf and returns at once. Errors glibc detects at
// submission (EINVAL for a bad aio_reqprio, EAGAIN when it cannot allocate or
// start a thread) come back here as unix.Errno; everything else (EBADF,
// EINVAL for a negative offset, ...) is the request's result, read with Error.
func (a *Aiocb) Read() error {
	if err := a.submittable(); err != nil {
		return err
	}
	a.arm()
	r, err := C.aio_read(a.cb)
	return a.submitted(r, err)
}

// Write is aio_write(3); see Read.
func (a *Aiocb) Write() error {
	if err := a.submittable(); err != nil {
		return err
	}
	a.arm()
	r, err := C.aio_write(a.cb)
	return a.submitted(r, err)
}

// Fsync is aio_fsync(3): op is OSync (fsync) or ODsync (fdatasync); it covers
// the requests for aio_fildes queued before it. glibc checks op (EINVAL) and
// that aio_fildes is open (EBADF) at submission.
func (a *Aiocb) Fsync(op int) error {
	if err := a.submittable(); err != nil {
		return err
	}
	if op != int(int32(op)) {
		return unix.EINVAL // glibc's answer to a bad op (its low 32 bits could be a good one)
	}
	a.arm()
	r, err := C.aio_fsync(C.int(op), a.cb)
	return a.submitted(r, err)
}

// submitted finishes a submission armed with arm: it returns nil when glibc
// took the request and otherwise unarms the aiocb (glibc did not queue it)
// and returns the errno.
func (a *Aiocb) submitted(r C.int, err error) error {
	if r == 0 {
		return nil
	}
	a.unarm()
	return errnoOf(r, err)
}

// Error is aio_error(3): nil once the request succeeded, unix.EINPROGRESS
// while it runs, unix.ECANCELED after a successful cancel, or the errno the
// read, write or sync failed with. For an aiocb never submitted it gives
// whatever glibc's field holds (nil for a fresh one).
func (a *Aiocb) Error() error {
	if a == nil || a.cb == nil {
		return ErrFreed
	}
	if e := a.observe(); e != 0 {
		return unix.Errno(e)
	}
	return nil
}

// Return is aio_return(3): the byte count of a finished request, or -1 with
// the request's error (from aio_error) when it failed. glibc's aio_return only
// reads a field: it can be called again and gives the same value, and before
// the request finished it gives what that field holds (see docs/posixaio.md).
func (a *Aiocb) Return() (int, error) {
	if a == nil || a.cb == nil {
		return -1, ErrFreed
	}
	n := C.aio_return(a.cb)
	if n < 0 {
		e := C.aio_error(a.cb)
		if e == 0 {
			e = C.EIO
		}
		return int(n), unix.Errno(e)
	}
	return int(n), nil
}

// Cancel is aio_cancel(aio_fildes, a): it returns Canceled (the request was
// dequeued; its Error becomes ECANCELED and its notification is sent),
// NotCanceled (a glibc thread is running it) or AllDone (it is not in
// progress). Errors: EBADF for a closed aio_fildes, EINVAL for a request in
// progress that glibc does not know.
func (a *Aiocb) Cancel() (int, error) {
	if a == nil || a.cb == nil {
		return -1, ErrFreed
	}
	return cancel(int(a.cb.aio_fildes), a.cb)
}

// AioRead is aio_read(3); see (*Aiocb).Read.
func AioRead(a *Aiocb) error { return a.Read() }

// AioWrite is aio_write(3); see (*Aiocb).Write.
func AioWrite(a *Aiocb) error { return a.Write() }

// AioFsync is aio_fsync(3); see (*Aiocb).Fsync.
func AioFsync(op int, a *Aiocb) error { return a.Fsync(op) }

// AioError is aio_error(3); see (*Aiocb).Error.
func AioError(a *Aiocb) error { return a.Error() }

// AioReturn is aio_return(3); see (*Aiocb).Return.
func AioReturn(a *Aiocb) (int, error) { return a.Return() }

// AioCancel is aio_cancel(3). With a nil aiocb it cancels every request queued
// for fd and returns Canceled, NotCanceled (one is running) or AllDone
// (nothing was queued). With an aiocb it is (*Aiocb).Cancel, except that
// glibc answers EINVAL when a's aio_fildes is not fd.
func AioCancel(fd int, a *Aiocb) (int, error) {
	if a == nil {
		return cancel(fd, nil)
	}
	if a.cb == nil {
		return -1, ErrFreed
	}
	return cancel(fd, a.cb)
}

// cancel is aio_cancel(fd, cb) through pa_raw_cancel: after it cancelled one
// request, the Queues' requests on fd that glibc 2.36 may have stranded behind it
// are submitted again (see pa_raw_cancel), and the reapers of the Queues that had
// one taken back scan their slots.
func cancel(fd int, cb *C.struct_aiocb) (int, error) {
	var rescan C.int
	r := C.pa_raw_cancel(cFd(fd), cb, &rescan)
	if rescan != 0 {
		wakeRescans()
	}
	if r < 0 {
		return -1, unix.Errno(-r)
	}
	return int(r), nil
}

var listPool = sync.Pool{New: func() any { s := make([]*C.struct_aiocb, 0, 64); return &s }}

// cList copies the aiocbs of list into a pooled C array, leaving the nil
// entries out: aio_suspend and lio_listio skip NULL entries, and they would
// only lengthen the arrays glibc keeps on the stack (see pa_suspend). The
// caller puts it back into listPool.
func cList(list []*Aiocb) (*[]*C.struct_aiocb, error) {
	for _, a := range list {
		if a != nil && a.cb == nil {
			return nil, ErrFreed
		}
	}
	p := listPool.Get().(*[]*C.struct_aiocb)
	l := (*p)[:0]
	for _, a := range list {
		if a != nil {
			l = append(l, a.cb)
		}
	}
	*p = l
	return p, nil
}

// AioSuspend is aio_suspend(3): it blocks the calling thread until one of the
// requests in list finished, or timeout passed (unix.EAGAIN); a negative
// timeout waits forever. nil entries are ignored; a freed Aiocb in list gives
// ErrFreed without calling glibc. It returns nil at once if one entry is not
// in progress (finished, or never submitted) and for a list with no entry
// but nil ones. Like the C call it can fail with unix.EINTR when
// a signal handler runs on the thread (Go's SIGURG preemption, os/signal
// deliveries); Suspend retries for you. glibc keeps 40 bytes per entry on
// the calling thread's stack, so a list of more than 4096 entries (nil
// ones aside) waits on a C thread with a stack of its own, where no signal
// interrupts it; unix.ENOMEM if that thread cannot be made.
func AioSuspend(list []*Aiocb, timeout time.Duration) error {
	p, err := cList(list)
	if err != nil {
		return err
	}
	defer listPool.Put(p)
	l := *p
	var first **C.struct_aiocb
	if len(l) > 0 {
		first = &l[0]
	}
	ns := int64(-1)
	if timeout >= 0 {
		ns = int64(timeout)
	}
	if ns != 0 {
		suspendGate.BeforeBlock()
	}
	r := C.pa_suspend(first, C.int(len(l)), C.int64_t(ns))
	runtime.KeepAlive(list) // the Aiocbs (whose finalizers free the aiocbs glibc reads)
	if r < 0 {
		return unix.Errno(-r)
	}
	return nil
}

// suspendGate yields to the Go scheduler before AioSuspend's waits at most
// every schedyield.Every, so that Go's sysmon does not take the P of a
// goroutine looping on aio_read and aio_suspend as a C event loop does
// (internal/schedyield). A minimal such loop over 128 descriptors of
// cached data did 0.2-12 % more reads with it, median 3 %, in 7
// alternated pairs of 2 s runs.
var suspendGate schedyield.Gate

// Suspend is AioSuspend that survives signals: after EINTR it calls
// aio_suspend again with the time left. It returns nil when a request in list
// finished, unix.EAGAIN when timeout (negative: none) passed.
func Suspend(list []*Aiocb, timeout time.Duration) error {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		err := AioSuspend(list, timeout)
		if err != unix.EINTR {
			return err
		}
		if timeout >= 0 {
			if timeout = time.Until(deadline); timeout < 0 {
				timeout = 0
			}
		}
	}
}

// LioListio is lio_listio(3): it queues every entry of list by its
// aio_lio_opcode (LioRead, LioWrite; LioNop and nil entries are skipped).
// A list that holds the same Aiocb twice (other than as LioNop) fails with
// EINVAL before anything is queued: glibc would queue it twice, and the
// Aiocb could then be freed or changed while its second request was still
// queued. A freed member gives ErrFreed, one in progress ErrInProgress,
// also before anything is queued.
//
// With LioNowait it returns once they are queued; sig (nil: none) is
// delivered when all have finished. If glibc refused to queue an entry (bad
// aio_reqprio, no resources) it still queues the others and fails with that
// entry's errno (EINVAL, EAGAIN); the entry's Error tells the same. A bad mode
// gives EINVAL.
//
// With LioWait it returns when every entry has finished, with unix.EIO if any
// failed or was refused (each entry's own result is its Error and Return);
// sig is ignored, as in glibc. If glibc refused every entry, it returns at
// once with the refused entry's errno (EINVAL for a bad aio_reqprio), as
// glibc's LIO_WAIT does. The binding does not use glibc's LIO_WAIT for this: glibc 2.36
// returns EINTR from an interrupted LIO_WAIT while the requests are still
// queued and later writes to the caller's dead stack frame when they finish
// (see docs/posixaio.md). Instead it submits with LIO_NOWAIT and waits with
// Suspend, so signals can neither cut the wait short nor corrupt memory.
//
// As for AioSuspend, a list of more than 4096 entries (nil ones aside) is
// submitted from a C thread with room on its stack for glibc's per-entry
// array (unix.EAGAIN, nothing queued, if that thread cannot be made).
func LioListio(mode int, list []*Aiocb, sig *Sigevent) error {
	if mode != int(int32(mode)) {
		return unix.EINVAL // glibc's answer to a bad mode (its low 32 bits could be LIO_WAIT)
	}
	if mode != LioWait {
		_, _, err := lioListio(mode, list, sig)
		return err
	}
	// A refused member makes LIO_NOWAIT fail with that member's errno
	// (EINVAL, EAGAIN) after queueing the others; glibc's LIO_WAIT then
	// still waits for those and reports EIO. With nothing queued it returns
	// at once: 0 for a list of only LIO_NOP and NULL entries, else -1 with
	// the errno of the last refused member, which is LIO_NOWAIT's answer too.
	queued, refused, err := lioListio(LioNowait, list, nil)
	if queued == 0 {
		return err
	}
	failed := refused > 0
	var pending []*Aiocb
	for {
		pending = pending[:0]
		for _, a := range list {
			if a == nil || a.LioOpcode() == LioNop {
				continue
			}
			switch e := a.Error(); e {
			case nil:
			case unix.EINPROGRESS:
				pending = append(pending, a)
			default:
				failed = true
			}
		}
		if len(pending) == 0 {
			break
		}
		if err := Suspend(pending, -1); err != nil {
			return err
		}
	}
	if failed {
		return unix.EIO
	}
	return nil
}

// noPolicy goes into the __policy field of each member before lio_listio:
// glibc stores the submitter's scheduling policy there once it has
// allocated the member's request, so a member that still has it afterwards
// was refused before that point.
const noPolicy = -1

// lioListio checks list, arms its members (every non-nil entry but LIO_NOP
// ones) and calls lio_listio. It returns how many members glibc queued and
// how many it refused (unarmed again), and lio_listio's error.
func lioListio(mode int, list []*Aiocb, sig *Sigevent) (queued, refused int, err error) {
	// Everything that can fail in Go fails before anything is armed.
	for _, a := range list {
		if a == nil {
			continue
		}
		if a.cb == nil {
			return 0, 0, ErrFreed
		}
		if a.listed() && a.inProgress() {
			// Enqueuing an aiocb glibc already holds corrupts its request lists.
			return 0, 0, ErrInProgress
		}
	}
	if hasDuplicate(list) {
		// glibc would queue it twice, and the guard above would let the
		// aiocb be freed once the first request finished.
		return 0, 0, unix.EINVAL
	}
	var cs *C.struct_sigevent
	var tmp C.struct_sigevent
	if sig != nil {
		if err := sig.fill(&tmp); err != nil {
			return 0, 0, err
		}
		cs = &tmp
	}
	p, _ := cList(list)
	defer listPool.Put(p)
	l := *p
	n := 0
	for _, a := range list {
		if a.listed() {
			a.prevPolicy = a.cb.__policy
			a.cb.__policy = noPolicy
			a.arm()
			n++
		}
	}
	var first **C.struct_aiocb
	if len(l) > 0 {
		first = &l[0]
	}
	r := C.pa_lio(C.int(mode), first, C.int(len(l)), cs)
	if r == 0 {
		return n, 0, nil
	}
	for _, a := range list {
		if a.listed() && a.listRefused() {
			a.unarm()
			refused++
		}
	}
	return n - refused, refused, unix.Errno(-r)
}

// listed reports whether lio_listio queues a (a non-nil entry whose
// aio_lio_opcode is not LIO_NOP). a must not be freed.
func (a *Aiocb) listed() bool { return a != nil && a.cb.aio_lio_opcode != C.LIO_NOP }

// hasDuplicate reports whether an aiocb other than a LIO_NOP one (glibc
// skips those) occurs twice in list.
func hasDuplicate(list []*Aiocb) bool {
	if len(list) <= 32 {
		for i, a := range list {
			if !a.listed() {
				continue
			}
			for _, b := range list[i+1:] {
				if b == a {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[*Aiocb]struct{}, len(list))
	for _, a := range list {
		if !a.listed() {
			continue
		}
		if _, ok := seen[a]; ok {
			return true
		}
		seen[a] = struct{}{}
	}
	return false
}

// listRefused reports, after a failed lio_listio, whether glibc refused to
// queue this member. A __policy still at noPolicy means that glibc refused
// it before it allocated a request (a bad aio_reqprio: glibc stored EINVAL;
// no memory: it stored nothing) or did not look at the list at all (a bad
// mode); __policy then gets its old value back. After that point the one
// refusal is a failure to start a thread while none runs: glibc then stores
// EAGAIN in __error_code and leaves __return_value at the 0 it stored with
// the request (a request that ran and failed has -1 there; aio_error's lock
// orders the two loads).
func (a *Aiocb) listRefused() bool {
	if a.cb.__policy == noPolicy {
		a.cb.__policy = a.prevPolicy
		return true
	}
	return C.aio_error(a.cb) == C.EAGAIN && a.cb.__return_value == 0
}

// Aioinit is struct aioinit, glibc's tuning for AioInit.
type Aioinit struct {
	Threads  int // aio_threads: most threads glibc runs requests on (default 20)
	Num      int // aio_num: expected simultaneous requests (default 64)
	Locks    int // aio_locks: unused by glibc
	Usedba   int // aio_usedba: unused by glibc
	Debug    int // aio_debug: unused by glibc
	Numusers int // aio_numusers: unused by glibc
	IdleTime int // aio_idle_time: seconds an idle glibc thread waits for work before exiting (default 1)
	Reserved int // aio_reserved
}

// AioInit is aio_init(3) (a GNU extension). glibc applies Threads and Num only
// if no request was submitted yet in this process (the first submission fixes
// them); IdleTime, when non-zero, applies at any time. It has no result.
//
// Values beyond C's int are clamped to it (its low 32 bits would be another
// value: Threads 1<<32+2 would be 2). Num is clamped to
// completion.MaxTableSize (1<<20, more than any Queue has in flight): glibc
// allocates and writes aio_num request entries of 64 bytes at the first
// submission (1<<28 would be 16 GiB), and when that allocation fails it
// fails every request of the process with EAGAIN, for good (or, under
// overcommit, the process is killed for memory). aio_num only sizes that
// first block: glibc adds entries 32 at a time when more requests are in
// flight, so the clamp limits nothing else.
func AioInit(in Aioinit) {
	cint := func(v int) C.int { return C.int(max(min(v, math.MaxInt32), math.MinInt32)) }
	var c C.struct_aioinit
	c.aio_threads = cint(in.Threads)
	c.aio_num = cint(min(in.Num, completion.MaxTableSize))
	c.aio_locks = cint(in.Locks)
	c.aio_usedba = cint(in.Usedba)
	c.aio_debug = cint(in.Debug)
	c.aio_numusers = cint(in.Numusers)
	c.aio_idle_time = cint(in.IdleTime)
	c.aio_reserved = cint(in.Reserved)
	C.aio_init(&c)
	if in.Threads > 0 {
		aioThreads.Store(int32(min(in.Threads, 1<<20)))
	}
}
