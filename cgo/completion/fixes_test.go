package completion

import (
	"context"
	"errors"
	"testing"
)

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
