package completion

import "sync/atomic"

// LoneStreak is how many Waits in a row must find their operation alone in
// flight before Lone lets the next one wait in the kernel. Goroutines that
// share a queue also leave a single operation in flight now and then;
// blocking one of them in the kernel there cost uring 20-30 % of its NOP
// rate at QD 32.
const LoneStreak = 8

// LoneWaitSteps are the successive timeouts, in ns, of one inline wait:
// about 3 ms in all before the waiter parks as usual. Tests lengthen them.
var LoneWaitSteps = []int64{100e3, 200e3, 400e3, 800e3, 1600e3}

// Lone decides when a backend's table waiter (SetWaiter) may wait for a
// lone operation inside the kernel (io_uring_enter, io_getevents) instead of
// parking: once LoneStreak Waits in a row found their operation the only one
// in flight, and for one goroutine at a time. Its zero value is ready.
type Lone struct {
	streak atomic.Int32 // Waits in a row that found their operation alone
	busy   atomic.Bool  // a goroutine waits inline
}

// Enter reports whether the caller, whose operation is alone in flight when
// alone is true (Table.Lone), may wait inline; if so it must call Leave when
// done. A Wait that finds others in flight resets the streak (written only
// when it changes, so that busy queues do not bounce the line).
func (l *Lone) Enter(alone bool) bool {
	if !alone {
		if l.streak.Load() != 0 {
			l.streak.Store(0)
		}
		return false
	}
	if n := l.streak.Load(); n <= LoneStreak {
		n = l.streak.Add(1) // capped just past LoneStreak: it never wraps
		if n <= LoneStreak {
			return false
		}
	}
	return l.busy.CompareAndSwap(false, true)
}

// Leave ends the inline wait that Enter allowed.
func (l *Lone) Leave() { l.busy.Store(false) }

// Streak returns the current streak (tests).
func (l *Lone) Streak() int32 { return l.streak.Load() }
