package fileio

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRefsCloseIdle(t *testing.T) {
	var r Refs
	calls := 0
	boom := errors.New("close failed")
	r.Final = func() error { calls++; return boom }
	s, ok := r.Acquire(0x1000)
	if !ok {
		t.Fatal("Acquire on an open Refs failed")
	}
	if err := r.Release(s); err != nil || calls != 0 {
		t.Fatalf("Release before Close = %v, Final ran %d times", err, calls)
	}
	busy := false
	ok, err := r.Close(func() { busy = true })
	if !ok || err != boom || calls != 1 || busy {
		t.Fatalf("idle Close = %v, %v; Final ran %d times, busy called %v; want Final's error at once", err, ok, calls, busy)
	}
	if _, ok := r.Acquire(0); ok {
		t.Error("Acquire after Close succeeded")
	}
	if ok, err := r.Close(func() {}); ok || err != nil || calls != 1 {
		t.Errorf("second Close = %v, %v (Final ran %d times), want not ok", err, ok, calls)
	}
}

func TestRefsCloseBusy(t *testing.T) {
	var r Refs
	calls := 0
	r.Final = func() error { calls++; return nil }
	a, _ := r.Acquire(0x1000)
	b, _ := r.Acquire(0x2000)
	busy := 0
	if ok, err := r.Close(func() { busy++ }); !ok || err != nil || busy != 1 || calls != 0 {
		t.Fatalf("busy Close = %v, %v; busy %d, Final %d; want busy once and no Final", err, ok, busy, calls)
	}
	if !r.Closing() {
		t.Error("Closing false after Close")
	}
	r.Release(a)
	if calls != 0 {
		t.Fatal("Final ran with a reference left")
	}
	r.Release(b)
	if calls != 1 {
		t.Fatalf("Final ran %d times after the last Release, want 1", calls)
	}
}

// Close with a reference held and a nil busy function waits for the last
// Release like any busy Close (it dereferenced nil).
func TestRefsCloseBusyNil(t *testing.T) {
	var r Refs
	calls := 0
	r.Final = func() error { calls++; return nil }
	a, _ := r.Acquire(0x1000)
	if ok, err := r.Close(nil); !ok || err != nil || calls != 0 {
		t.Fatalf("Close(nil) with a reference = %v, %v; Final %d", ok, err, calls)
	}
	r.Release(a)
	if calls != 1 {
		t.Fatalf("Final ran %d times, want 1", calls)
	}
}

// TestRefsRace closes while goroutines take and drop references on every
// shard: Final runs exactly once, never while a reference is held, and no
// Acquire succeeds after it.
func TestRefsRace(t *testing.T) {
	for round := 0; round < 200; round++ {
		var r Refs
		var held, finals atomic.Int64
		var after atomic.Bool
		r.Final = func() error {
			if held.Load() != 0 {
				t.Error("Final ran while a reference was held")
			}
			finals.Add(1)
			after.Store(true)
			return nil
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; ; i++ {
					s, ok := r.Acquire(uintptr(g*4096 + i*64))
					if !ok {
						return
					}
					held.Add(1)
					if after.Load() {
						t.Error("Acquire succeeded after Final")
					}
					held.Add(-1)
					r.Release(s)
				}
			}(g)
		}
		r.Close(func() {})
		wg.Wait()
		if finals.Load() != 1 {
			t.Fatalf("round %d: Final ran %d times, want 1", round, finals.Load())
		}
	}
}

// TestRefsCloseSeesAcquireInProgress: an Acquire that has added to its shard
// but not yet looked at closing keeps the descriptor open; when it then
// backs out, its Release runs Final.
func TestRefsCloseSeesAcquireInProgress(t *testing.T) {
	var r Refs
	calls := 0
	r.Final = func() error { calls++; return nil }
	const s = 5
	r.shards[s].n.Add(1) // Acquire between its Add and its second look
	if ok, err := r.Close(func() {}); !ok || err != nil || calls != 0 {
		t.Fatalf("Close = %v, %v, Final ran %d times; want it left to the acquirer", err, ok, calls)
	}
	r.Release(s) // the acquirer saw closing and backs out
	if calls != 1 {
		t.Fatalf("Final ran %d times after the back-out, want 1", calls)
	}
}
