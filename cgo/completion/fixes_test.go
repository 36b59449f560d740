package completion

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Drained of a closed table must not close while the last operation's
// handle is still being completed. The test holds the handle's lock, so its
// completion stops inside Handle.complete: before the fix Drained was
// already closed by then. (The wait below can only make the test pass on the
// old code by luck, never fail on the new.)
func TestDrainedAfterLastHandleDone(t *testing.T) {
	for _, how := range []string{"Complete", "Abort", "Batch"} {
		t.Run(how, func(t *testing.T) {
			checkStats(t)
			tab := NewTable(1)
			h, op, err := tab.Begin()
			if err != nil {
				t.Fatal(err)
			}
			tab.Close()
			h.mu.Lock()
			finished := make(chan struct{})
			go func() {
				defer close(finished)
				switch how {
				case "Complete":
					tab.Complete(op.UserData(), 3, 0)
				case "Abort":
					tab.Abort(op, errors.New("submit failed"))
				case "Batch":
					var b Batch
					b.Add(tab, op.UserData(), 3, 0)
					b.Flush()
				}
			}()
			// The slot goes back on the free stack just before the
			// handle completes (before the drain, too, on the old code).
			for uint32(tab.head.Load()) == 0 {
				runtime.Gosched()
			}
			select {
			case <-tab.Drained():
				h.mu.Unlock()
				t.Fatal("Drained closed before the last handle was done")
			case <-time.After(50 * time.Millisecond):
			}
			h.mu.Unlock()
			<-finished
			select {
			case <-tab.Drained():
			default:
				t.Fatal("not drained once the last completion returned")
			}
			if !h.IsDone() {
				t.Fatal("handle not done after its completion returned")
			}
		})
	}
}

// Waiters on Drained find every handle done, with its result, however the
// completions race (Complete, Abort and a Batch from three goroutines).
func TestDrainedSeesEveryHandleDone(t *testing.T) {
	checkStats(t)
	abortErr := errors.New("submit failed")
	for round := 0; round < 2000; round++ {
		tab := NewTable(3)
		var hs [3]*Handle
		var ops [3]*Op
		for i := range hs {
			h, op, err := tab.Begin()
			if err != nil {
				t.Fatal(err)
			}
			hs[i], ops[i] = h, op
		}
		tab.Close()
		checked := make(chan string, 1)
		go func() {
			<-tab.Drained()
			for i, h := range hs {
				if !h.IsDone() {
					checked <- "handle " + string(rune('0'+i)) + " not done when Drained closed"
					return
				}
				select {
				case <-h.Done():
				default:
					checked <- "Done channel open when Drained closed"
					return
				}
			}
			checked <- ""
		}()
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); tab.Complete(ops[0].UserData(), 1, 0) }()
		go func() { defer wg.Done(); tab.Abort(ops[1], abortErr) }()
		go func() {
			defer wg.Done()
			var b Batch
			b.Add(tab, ops[2].UserData(), 2, 0)
			b.Flush()
		}()
		wg.Wait()
		if msg := <-checked; msg != "" {
			t.Fatalf("round %d: %s", round, msg)
		}
		if n, err := hs[0].Result(); n != 1 || err != nil {
			t.Fatalf("Complete's handle = %d, %v", n, err)
		}
		if _, err := hs[1].Result(); err != abortErr {
			t.Fatalf("Abort's handle = %v", err)
		}
		if n, err := hs[2].Result(); n != 2 || err != nil {
			t.Fatalf("Batch's handle = %d, %v", n, err)
		}
	}
}

// Abort with a nil error must not look like a success of 0 bytes.
func TestAbortNilError(t *testing.T) {
	checkStats(t)
	tab := NewTable(1)
	h, op, err := tab.Begin()
	if err != nil {
		t.Fatal(err)
	}
	tab.Abort(op, nil)
	if n, err := h.Result(); n != 0 || err != ErrAborted {
		t.Errorf("Result after Abort(op, nil) = %d, %v; want 0, ErrAborted", n, err)
	}
	if n, err := h.Wait(context.Background()); n != 0 || err != ErrAborted {
		t.Errorf("Wait after Abort(op, nil) = %d, %v; want 0, ErrAborted", n, err)
	}
	if h.Res() != 0 || !h.IsDone() || tab.InFlight() != 0 {
		t.Errorf("Res %d, done %v, in flight %d", h.Res(), h.IsDone(), tab.InFlight())
	}
	// A non-nil error is kept as it is.
	h, op, _ = tab.Begin()
	boom := errors.New("boom")
	tab.Abort(op, boom)
	if _, err := h.Result(); err != boom {
		t.Errorf("Abort(op, boom) = %v", err)
	}
}

// Every exported method of a nil *Handle answers as for a handle completed
// with ErrNilHandle instead of panicking.
func TestNilHandle(t *testing.T) {
	var h *Handle
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("method of a nil *Handle panicked: %v", r)
			}
		}()
		if h.UserData() != 0 || h.Res() != 0 || h.Flags() != 0 {
			t.Errorf("UserData %d, Res %d, Flags %d; want 0", h.UserData(), h.Res(), h.Flags())
		}
		if !h.IsDone() {
			t.Error("IsDone = false")
		}
		select {
		case <-h.Done():
		default:
			t.Error("Done channel of a nil handle is open")
		}
		if n, err := h.Result(); n != 0 || err != ErrNilHandle {
			t.Errorf("Result = %d, %v; want 0, ErrNilHandle", n, err)
		}
		for _, ctx := range []context.Context{nil, context.Background()} {
			if n, err := h.Wait(ctx); n != 0 || err != ErrNilHandle {
				t.Errorf("Wait = %d, %v; want 0, ErrNilHandle", n, err)
			}
		}
	}()
	if NewTable(1).Owns(h) {
		t.Error("a table owns the nil handle")
	}
}
