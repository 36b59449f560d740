// Package schedyield keeps Go's sysmon from taking the P of a goroutine that
// loops on blocking cgo calls, as a C event loop does (io_getevents,
// io_uring_submit_and_wait).
//
// Go's sysmon takes the P of a thread that sits in a cgo call or system call
// for more than about 20 µs when the goroutine has held that P for 10 ms
// without being rescheduled (runtime.retake, forcePreemptNS), and hands the P
// to another thread. A goroutine that only submits and waits never blocks in
// Go, so after its first 10 ms about every other wait loses its P: a
// handoff, a futex wake, the slow path of exitsyscall. Measured on libaio's
// O_DIRECT QD 32 loop: 22 % more CPU per read than the C program and 2.7x
// its context switches; with a Gate before each wait, 5 % and 1.2x.
package schedyield

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Every bounds the time between two yields of a Gate: half of the runtime's
// 10 ms forcePreemptNS.
const Every = 5 * time.Millisecond

// ClockEvery: a Gate reads the clock on one BeforeBlock in ClockEvery (the
// first, then every ClockEvery-th). A clock read costs 40-50 ns on this
// project's VMs, as much as a raw io_uring loop spends on a dozen NOPs; an
// atomic add costs 8. A yield is then late by at most ClockEvery-1 calls,
// which matters only when calls are long, and then each already gives up
// its P in the kernel.
const ClockEvery = 8

// base is an hour in the past, so that the first wait through a Gate
// always yields.
var base = time.Now().Add(-time.Hour)

// Gate yields to the Go scheduler (runtime.Gosched) before a wait when no
// goroutine did so through the same Gate for Every. Its zero value is ready
// to use; it is safe for concurrent use.
type Gate struct {
	last  atomic.Int64  // time of the last yield, in ns since base; 0: never
	calls atomic.Uint32 // BeforeBlock calls, for ClockEvery
}

// BeforeBlock is called before a cgo call or system call that may wait in
// the kernel. It costs an atomic add, a clock read on one call in
// ClockEvery, and a Gosched every Every.
func (g *Gate) BeforeBlock() {
	if (g.calls.Add(1)-1)%ClockEvery != 0 {
		return
	}
	now := int64(time.Since(base))
	last := g.last.Load()
	if now-last >= int64(Every) && g.last.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
}

// Last returns when the gate last yielded, in ns since an arbitrary base
// (0: never). Tests use it.
func (g *Gate) Last() int64 { return g.last.Load() }
