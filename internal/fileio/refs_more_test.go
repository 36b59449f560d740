package fileio

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRefsConcurrentFirstCloses: two goroutines make the first Close of an
// idle Refs at the same moment. Exactly one of them must report ok, and
// since no operation is in flight that one must run Final and return its
// error; the other reports ok false, nil and must not run Final (before the
// fix the loser could drop the last reference, run Final itself and
// discard its error, while the winner returned nil).
func TestRefsConcurrentFirstCloses(t *testing.T) {
	const rounds = 20000
	boom := errors.New("close failed")
	lost := 0
	for i := 0; i < rounds; i++ {
		var r Refs
		var calls atomic.Int32
		r.Final = func() error { calls.Add(1); return boom }
		type result struct {
			ok  bool
			err error
		}
		var res [2]result
		var start, wg sync.WaitGroup
		start.Add(1)
		for g := range res {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				start.Wait()
				ok, err := r.Close(nil)
				res[g] = result{ok, err}
			}(g)
		}
		start.Done()
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("round %d: Final ran %d times, want 1", i, n)
		}
		winners := 0
		for g, x := range res {
			switch {
			case x.ok && x.err == boom:
				winners++
			case x.ok:
				t.Fatalf("round %d: Close %d = ok, %v; want Final's error", i, g, x.err)
			case x.err != nil:
				t.Fatalf("round %d: losing Close %d = %v, want nil", i, g, x.err)
			}
		}
		if winners != 1 {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("in %d of %d rounds no Close returned Final's error", lost, rounds)
	}
}

// A Close that loses to a concurrent first Close which is still running
// busy (so the descriptor is still open) returns at once with ok false and
// runs nothing; the winner's Final runs exactly once, when the operation
// ends, and its error goes to that operation's Release.
func TestRefsSecondCloseDuringBusy(t *testing.T) {
	var r Refs
	boom := errors.New("close failed")
	var calls atomic.Int32
	r.Final = func() error { calls.Add(1); return boom }
	s, ok := r.Acquire(0x1000)
	if !ok {
		t.Fatal("Acquire failed")
	}
	inBusy := make(chan struct{})
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		ok, err := r.Close(func() { close(inBusy); <-release })
		if !ok {
			err = errors.New("first Close not ok")
		}
		first <- err
	}()
	<-inBusy
	if ok, err := r.Close(func() { t.Error("second Close called busy") }); ok || err != nil {
		t.Errorf("second Close during busy = %v, %v; want false, nil", ok, err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Close with an operation in flight = %v, want nil", err)
	}
	if calls.Load() != 0 {
		t.Fatal("Final ran with a reference left")
	}
	if err := r.Release(s); err != boom || calls.Load() != 1 {
		t.Fatalf("last Release = %v (Final ran %d times), want Final's error once", err, calls.Load())
	}
}
