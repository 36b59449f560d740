package completion

import (
	"math"
	"testing"
	"time"
)

// TestLoneStreakCapped: Lone's streak stops just past LoneStreak: uncapped, it
// wrapped negative after 2^31 lone Waits in a row (half an hour at 1M
// waits/s), and Enter then refused inline waits for the next 2^31.
func TestLoneStreakCapped(t *testing.T) {
	var l Lone
	l.streak.Store(math.MaxInt32 - 1) // after 2^31-1 lone Waits in a row
	if !l.Enter(true) {
		t.Fatal("Enter(true) refused with a streak of 2^31-1")
	}
	l.Leave()
	if !l.Enter(true) {
		t.Errorf("Enter(true) refused after one more lone Wait: streak wrapped to %d", l.Streak())
	} else {
		l.Leave()
	}
}

// TestClosedTableNeverInFlight: Begin on a closed table fails before it pops a
// slot, so a closed, drained table never reports an operation in flight (take
// counted the popped slot until it saw closed: posixaio's reaper, which looked
// then, parked for good; see posixaio TestCloseAfterLateSubmission).
func TestClosedTableNeverInFlight(t *testing.T) {
	tab := NewTable(4)
	tab.Close()
	<-tab.Drained()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := tab.Begin(); err != ErrClosed {
				t.Errorf("Begin on a closed table: %v", err)
				return
			}
		}
	}()
	seen, lone := 0, 0
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if tab.InFlight() != 0 {
			seen++
		}
		if tab.Lone() {
			lone++
		}
	}
	close(stop)
	<-done
	if seen > 0 || lone > 0 {
		t.Errorf("closed, drained table whose every Begin fails with ErrClosed: InFlight() != 0 in %d samples, Lone() true in %d", seen, lone)
	}
}
