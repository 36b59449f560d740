package completion

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMoreDoneConcurrent: many goroutines call Done while the operation
// completes; every one gets the same channel, and it is closed.
func TestMoreDoneConcurrent(t *testing.T) {
	checkStats(t)
	tab := NewTable(4)
	for round := 0; round < 200; round++ {
		h, op, err := tab.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		chs := make([]<-chan struct{}, 16)
		start := make(chan struct{})
		for i := range chs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				chs[i] = h.Done()
				<-chs[i]
			}(i)
		}
		close(start)
		tab.Complete(op.UserData(), int64(round), 0)
		wg.Wait()
		for i := range chs {
			if chs[i] != h.Done() {
				t.Fatalf("round %d: Done returned different channels", round)
			}
		}
		if n, err := h.Result(); n != round || err != nil {
			t.Fatalf("Result = %d, %v", n, err)
		}
	}
}

// TestMoreWaitCancelledCtxOnDone: a done handle gives its result to a Wait
// whose context has already ended, and the canceler is not asked.
func TestMoreWaitCancelledCtxOnDone(t *testing.T) {
	checkStats(t)
	tab := NewTable(2)
	var asked atomic.Int32
	tab.SetCanceler(func(uint64) { asked.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h, op, _ := tab.Begin()
	tab.Complete(op.UserData(), 42, 0)
	for i := 0; i < 100; i++ {
		if n, err := h.Wait(ctx); n != 42 || err != nil {
			t.Fatalf("Wait(cancelled ctx) on a done handle = %d, %v", n, err)
		}
	}
	h, op, _ = tab.Begin()
	tab.Abort(op, errors.New("boom"))
	if _, err := h.Wait(ctx); err == nil || err.Error() != "boom" {
		t.Fatalf("Wait(cancelled ctx) on an aborted handle = %v", err)
	}
	if asked.Load() != 0 {
		t.Errorf("canceler asked %d times for done handles", asked.Load())
	}
	h = Completed(-5)
	if _, err := h.Wait(ctx); err == nil || err == context.Canceled {
		t.Errorf("Completed(-5).Wait(cancelled) = %v", err)
	}
}

// TestMoreWaitRacesCompleteAndCancel: Wait with a context that ends while
// the reaper completes and the canceler completes too: exactly one
// completion reaches the handle, the canceler never sees the user data of
// an operation that is not the waiter's, and nothing leaks.
func TestMoreWaitRacesCompleteAndCancel(t *testing.T) {
	checkStats(t)
	tab := NewTable(4)
	var mine sync.Map // ud -> true while it is the waiter's own
	var wrong atomic.Int32
	tab.SetCanceler(func(ud uint64) {
		if op := tab.Lookup(ud); op != nil {
			if _, ok := mine.Load(ud); !ok {
				wrong.Add(1)
			}
		}
		tab.Complete(ud, -125, 0)
	})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				h, op, err := tab.BeginWait(nil)
				if err != nil {
					t.Error(err)
					return
				}
				ud := op.UserData()
				mine.Store(ud, true)
				ctx, cancel := context.WithCancel(context.Background())
				go cancel()
				go tab.Complete(ud, 7, 0)
				n, err := h.Wait(ctx)
				if err == nil && n != 7 {
					t.Errorf("Wait = %d", n)
				}
				<-h.Done()
				if n, err := h.Result(); !(n == 7 && err == nil) && !(n == 0 && err != nil) {
					t.Errorf("Result = %d, %v", n, err)
				}
				mine.Delete(ud)
				cancel()
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Errorf("canceler saw %d foreign user data", wrong.Load())
	}
	if tab.InFlight() != 0 {
		t.Errorf("InFlight %d", tab.InFlight())
	}
}

// TestMoreCloseWakesBeginWait: Close wakes every BeginWait and
// BeginWaitReserved caller waiting on a full table with ErrClosed.
func TestMoreCloseWakesBeginWait(t *testing.T) {
	checkStats(t)
	tab := NewTableReserve(2, 1)
	var held []*Op
	for i := 0; i < 3; i++ {
		_, op, err := tab.BeginReserved()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, op)
	}
	errc := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			var err error
			if i%2 == 0 {
				_, _, err = tab.BeginWait(nil)
			} else {
				_, _, err = tab.BeginWaitReserved(context.Background())
			}
			errc <- err
		}(i)
	}
	time.Sleep(20 * time.Millisecond)
	tab.Close()
	for i := 0; i < 8; i++ {
		select {
		case err := <-errc:
			if err != ErrClosed {
				t.Errorf("BeginWait after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not wake a BeginWait caller")
		}
	}
	select {
	case <-tab.Drained():
		t.Fatal("drained with operations in flight")
	default:
	}
	for _, op := range held {
		tab.Complete(op.UserData(), 0, 0)
	}
	select {
	case <-tab.Drained():
	case <-time.After(2 * time.Second):
		t.Fatal("not drained")
	}
}

// TestMoreBatchAcrossTables: a Batch that moves to another table flushes
// the first one's completions; with Flush never called the second table's
// stay claimed (in flight, not done) until Flush.
func TestMoreBatchAcrossTables(t *testing.T) {
	checkStats(t)
	a, b := NewTable(2), NewTable(2)
	ha, opa, _ := a.Begin()
	hb, opb, _ := b.Begin()
	var bt Batch
	if !bt.Add(a, opa.UserData(), 1, 0) {
		t.Fatal("Add a")
	}
	if ha.IsDone() {
		t.Fatal("done before Flush")
	}
	// Same user data value in b would be a different op: a's ud may equal b's.
	if !bt.Add(b, opb.UserData(), 2, 0) {
		t.Fatal("Add b")
	}
	if !ha.IsDone() || a.InFlight() != 0 {
		t.Fatal("moving to another table did not flush the first")
	}
	if hb.IsDone() || b.InFlight() != 1 {
		t.Fatal("b completed before Flush")
	}
	if bt.Add(b, opb.UserData(), 3, 0) {
		t.Fatal("second Add of the same ud accepted")
	}
	if b.Complete(opb.UserData(), 4, 0) {
		t.Fatal("Complete of a claimed ud accepted")
	}
	bt.Flush()
	if n, _ := hb.Result(); n != 2 || b.InFlight() != 0 {
		t.Fatalf("after Flush: %d, in flight %d", n, b.InFlight())
	}
	bt.Flush() // empty: nothing
	var zero Batch
	zero.Flush()
	if zero.Add(a, 12345, 0, 0) {
		t.Fatal("Add of unknown ud accepted")
	}
	zero.Flush()
}

// TestMoreNotifierCloseRaces: Close racing Wait and Signal never panics,
// and Wait ends with ErrClosed (or a count).
func TestMoreNotifierCloseRaces(t *testing.T) {
	for i := 0; i < 50; i++ {
		n, err := NewNotifier()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, err := n.Wait(); err != nil {
					if err != ErrClosed {
						t.Errorf("Wait: %v", err)
					}
					return
				}
			}
		}()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := n.Signal(); err != nil {
					if err != ErrClosed {
						t.Errorf("Signal: %v", err)
					}
					return
				}
			}
		}()
		time.Sleep(time.Millisecond)
		n.Close()
		wg.Wait()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("Wait not woken by Close")
		}
		n.Close() // a second Close returns an error, never panics
		if err := n.Signal(); err != ErrClosed {
			t.Errorf("Signal after Close: %v", err)
		}
		if _, err := n.Wait(); err != ErrClosed {
			t.Errorf("Wait after Close: %v", err)
		}
	}
}

// TestMoreZeroTable: sizes out of range are clamped, and user data no
// operation ever had (0, all ones, an index past the table) is unknown.
func TestMoreZeroTable(t *testing.T) {
	tab := NewTable(0)
	if tab.Size() != 1 {
		t.Fatal(tab.Size())
	}
	tab = NewTableReserve(-5, -5)
	if tab.Size() != 1 {
		t.Fatal(tab.Size())
	}
	if tab.Lookup(0) != nil || tab.Lookup(^uint64(0)) != nil || tab.Complete(^uint64(0), 0, 0) {
		t.Fatal("bad ud")
	}
	if tab.Visit(1<<32|5, func(*Op) {}) {
		t.Fatal("visit")
	}
}

// TestMoreBatchReaperStress: a reaper completes through a Batch (ordinary
// and reserve slots in one batch) while workers take slots with BeginWait,
// BeginWaitReserved and BeginReserved, Pin memory, and a third goroutine
// Visits and Each-es; then Close mid-way. No slot is handed out twice, no
// waiter misses a freed slot (a hang), every handle gets its own result,
// and nothing leaks.
func TestMoreBatchReaperStress(t *testing.T) {
	checkStats(t)
	const size, reserve, workers = 3, 2, 8
	tab := NewTableReserve(size, reserve)
	var owner [size + reserve]atomic.Int32
	sub := make(chan uint64, size+reserve)
	reaped := make(chan struct{})
	go func() { // the reaper
		defer close(reaped)
		var b Batch
		for {
			ud, ok := <-sub
			if !ok {
				b.Flush()
				return
			}
			if !b.Add(tab, ud, int64(ud), 0) {
				t.Errorf("Add(%#x) refused", ud)
			}
		drain:
			for {
				select {
				case ud, ok := <-sub:
					if !ok {
						b.Flush()
						return
					}
					if !b.Add(tab, ud, int64(ud), 0) {
						t.Errorf("Add(%#x) refused", ud)
					}
				default:
					break drain
				}
			}
			b.Flush()
		}
	}()
	stopVisit := make(chan struct{})
	visited := make(chan struct{})
	go func() {
		defer close(visited)
		for {
			select {
			case <-stopVisit:
				return
			default:
			}
			tab.Each(func(op *Op) { _ = op.UserData(); _ = op.Aux() })
			tab.Visit(1<<32, func(op *Op) { _ = op.Handle() })
		}
	}()
	var wg sync.WaitGroup
	var admitted atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; ; i++ {
				var h *Handle
				var op *Op
				var err error
				switch i % 3 {
				case 0:
					h, op, err = tab.BeginWait(nil)
				case 1:
					h, op, err = tab.BeginWaitReserved(context.Background())
				default:
					h, op, err = tab.BeginReserved()
					if err == ErrBusy {
						continue
					}
				}
				if err == ErrClosed {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				admitted.Add(1)
				idx := uint32(op.UserData())
				if !owner[idx].CompareAndSwap(0, int32(w+1)) {
					t.Errorf("slot %d handed to %d while %d holds it", idx, w, owner[idx].Load()-1)
					return
				}
				op.PinBytes(buf)
				op.Pin(&buf[1])
				ud := op.UserData()
				owner[idx].Store(0)
				sub <- ud
				if n, err := h.Wait(nil); err != nil || uint64(n) != ud {
					t.Errorf("Wait = %d, %v, want %d", n, err, ud)
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	tab.Close()
	wg.Wait()
	close(sub)
	<-reaped
	close(stopVisit)
	<-visited
	select {
	case <-tab.Drained():
	case <-time.After(2 * time.Second):
		t.Fatalf("not drained: %d in flight", tab.InFlight())
	}
	if admitted.Load() == 0 {
		t.Fatal("nothing admitted")
	}
}
