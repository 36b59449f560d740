package completion

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTableConcurrentOwnership runs many goroutines that start and finish
// operations on a small table at once, with BeginWait callers competing for
// the slots. It fails if two in-flight operations ever share a slot or a
// user data value, if a completion reaches the wrong handle, or if a waiter
// misses a freed slot (the test would then hang and time out).
func TestTableConcurrentOwnership(t *testing.T) {
	checkStats(t)
	const size, workers, rounds = 8, 32, 2000
	tab := NewTable(size)
	var owner [size]atomic.Int32 // worker+1 owning each slot, 0 when free
	var wg sync.WaitGroup
	var fail atomic.Bool
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds && !fail.Load(); i++ {
				var h *Handle
				var op *Op
				var err error
				if i%2 == 0 {
					h, op, err = tab.BeginWait(context.Background())
				} else {
					h, op, err = tab.Begin()
					if err == ErrBusy {
						continue
					}
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					fail.Store(true)
					return
				}
				ud := op.UserData()
				idx := uint32(ud)
				if !owner[idx].CompareAndSwap(0, int32(w+1)) {
					t.Errorf("slot %d handed to worker %d while worker %d holds it", idx, w, owner[idx].Load()-1)
					fail.Store(true)
					return
				}
				if tab.Lookup(ud) != op {
					t.Errorf("lookup of %#x failed", ud)
				}
				res := int64(w*rounds + i)
				owner[idx].Store(0) // before Complete: the slot may be reused at once
				if !tab.Complete(ud, res, 0) {
					t.Errorf("complete of %#x refused", ud)
				}
				if tab.Complete(ud, res+1, 0) {
					t.Errorf("second complete of %#x accepted", ud)
				}
				if n, err := h.Wait(context.Background()); err != nil || int64(n) != res {
					t.Errorf("handle got %d, %v, want %d", n, err, res)
				}
			}
		}(w)
	}
	wg.Wait()
	if n := tab.InFlight(); n != 0 {
		t.Errorf("in flight %d after every completion", n)
	}
	tab.Close()
	select {
	case <-tab.Drained():
	case <-time.After(5 * time.Second):
		t.Fatal("closed empty table not drained")
	}
}

// TestVisitHoldsOffCompletion fails if Complete can finish an operation (and
// so unpin its memory and reuse its slot) while a Visit callback is using it.
func TestVisitHoldsOffCompletion(t *testing.T) {
	checkStats(t)
	tab := NewTable(2)
	h, op, _ := tab.Begin()
	ud := op.UserData()
	inVisit := make(chan struct{})
	release := make(chan struct{})
	visited := make(chan bool)
	go func() {
		visited <- tab.Visit(ud, func(o *Op) {
			close(inVisit)
			<-release
		})
	}()
	<-inVisit
	completed := make(chan bool)
	go func() { completed <- tab.Complete(ud, 7, 0) }()
	select {
	case <-completed:
		t.Fatal("Complete finished while Visit held the operation")
	case <-time.After(50 * time.Millisecond):
	}
	if h.IsDone() {
		t.Fatal("handle done while Visit held the operation")
	}
	close(release)
	if !<-visited {
		t.Error("Visit did not find the operation")
	}
	if !<-completed {
		t.Error("Complete after Visit refused")
	}
	if n, err := h.Wait(context.Background()); n != 7 || err != nil {
		t.Errorf("Wait = %d, %v", n, err)
	}
	if tab.Visit(ud, func(*Op) { t.Error("visited a completed operation") }) {
		t.Error("Visit found a completed operation")
	}
	count := 0
	tab.Each(func(*Op) { count++ })
	if count != 0 {
		t.Errorf("Each saw %d operations on an idle table", count)
	}
}

// TestCloseRacesBegin closes a table while goroutines keep starting
// operations: Drained must close exactly when the last admitted operation
// completes, and nothing may be admitted after Close returned.
func TestCloseRacesBegin(t *testing.T) {
	checkStats(t)
	for round := 0; round < 50; round++ {
		tab := NewTable(16)
		var wg sync.WaitGroup
		var closedAt atomic.Bool
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					after := closedAt.Load()
					_, op, err := tab.Begin()
					if err == ErrClosed {
						return
					}
					if err == ErrBusy {
						continue
					}
					if after {
						t.Error("Begin succeeded after Close returned")
					}
					tab.Complete(op.UserData(), 0, 0)
				}
			}()
		}
		time.Sleep(time.Millisecond)
		tab.Close()
		closedAt.Store(true)
		wg.Wait()
		select {
		case <-tab.Drained():
		case <-time.After(5 * time.Second):
			t.Fatal("not drained")
		}
	}
}

// TestBatch: a Batch claims like Complete, returns every slot in one push
// before it wakes the handles, ignores stale user data, and switches
// tables by flushing first.
func TestBatch(t *testing.T) {
	tab := NewTable(4)
	other := NewTable(2)
	var hs []*Handle
	var uds []uint64
	for i := 0; i < 4; i++ {
		h, _, err := tab.Begin()
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		uds = append(uds, h.UserData())
	}
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("Begin on a full table = %v", err)
	}
	var b Batch
	for i, ud := range uds[:3] {
		if !b.Add(tab, ud, int64(10+i), uint32(i)) {
			t.Fatalf("Add(%#x) = false", ud)
		}
	}
	if b.Add(tab, uds[0], 0, 0) {
		t.Error("second Add of the same user data = true")
	}
	if hs[0].IsDone() || tab.InFlight() != 4 {
		t.Fatalf("before Flush: done %v, in flight %d; want not done, 4", hs[0].IsDone(), tab.InFlight())
	}
	b.Flush()
	for i, h := range hs[:3] {
		if n, err := h.Result(); n != 10+i || err != nil || h.Flags() != uint32(i) {
			t.Errorf("handle %d = %d, %v, flags %d", i, n, err, h.Flags())
		}
	}
	if tab.InFlight() != 1 {
		t.Fatalf("in flight %d after Flush, want 1", tab.InFlight())
	}
	// The three slots are free again, each once.
	seen := map[uint32]bool{}
	var again []*Op
	for i := 0; i < 3; i++ {
		_, op, err := tab.Begin()
		if err != nil {
			t.Fatalf("Begin %d after Flush: %v", i, err)
		}
		if seen[op.idx] {
			t.Fatalf("slot %d handed out twice", op.idx)
		}
		seen[op.idx] = true
		again = append(again, op)
	}
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("fifth Begin = %v, want ErrBusy", err)
	}
	for _, op := range again {
		tab.Complete(op.UserData(), 0, 0)
	}
	// A batch that moves to another table flushes the first one.
	oh, _, _ := other.Begin()
	b.Add(tab, uds[3], 1, 0)
	b.Add(other, oh.UserData(), 2, 0)
	if !hs[3].IsDone() || oh.IsDone() {
		t.Fatalf("after switching tables: first done %v, second done %v; want true, false", hs[3].IsDone(), oh.IsDone())
	}
	b.Flush()
	if n, _ := oh.Result(); n != 2 || tab.InFlight() != 0 || other.InFlight() != 0 {
		t.Fatalf("second table's handle = %d, in flight %d/%d", n, tab.InFlight(), other.InFlight())
	}
	b.Flush() // empty: nothing to do
}

// Owns tells a table's handles from another table's (whose user data values
// are the same: both start at slot 0, generation 1) and from nil.
func TestOwns(t *testing.T) {
	a, b := NewTable(2), NewTable(2)
	ha, opa, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	hb, opb, err := b.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if opa.UserData() != opb.UserData() {
		t.Fatalf("user data %#x and %#x differ: the first Begin of two new tables should take slot 0, generation 1", opa.UserData(), opb.UserData())
	}
	if !a.Owns(ha) || a.Owns(hb) || b.Owns(ha) || !b.Owns(hb) || a.Owns(nil) {
		t.Errorf("Owns: a(ha)=%v a(hb)=%v b(ha)=%v b(hb)=%v a(nil)=%v", a.Owns(ha), a.Owns(hb), b.Owns(ha), b.Owns(hb), a.Owns(nil))
	}
	if Completed(0) == nil || a.Owns(Completed(0)) {
		t.Error("a pre-completed handle belongs to no table")
	}
	a.Complete(opa.UserData(), 0, 0)
	b.Complete(opb.UserData(), 0, 0)
}

// BeginWait with a nil ctx waits for a slot like context.Background().
func TestBeginWaitNilContext(t *testing.T) {
	tab := NewTable(1)
	_, op, err := tab.Begin()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		//lint:ignore SA1012 a nil ctx is what this test is about
		_, op2, err := tab.BeginWait(nil)
		if err == nil {
			tab.Complete(op2.UserData(), 0, 0)
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	tab.Complete(op.UserData(), 0, 0)
	if err := <-got; err != nil {
		t.Fatalf("BeginWait(nil) = %v", err)
	}
}

// TestReserve: the reserve slots of NewTableReserve go only to
// BeginReserved, and only once every ordinary slot is in flight; freed
// reserve slots (by Complete or by a Batch that mixes both kinds) go back
// to the reserve, never to Begin; Size counts the ordinary slots.
func TestReserve(t *testing.T) {
	tab := NewTableReserve(2, 2)
	if tab.Size() != 2 {
		t.Fatalf("Size = %d, want 2", tab.Size())
	}
	var ord []*Handle
	for i := 0; i < 2; i++ {
		h, op, err := tab.BeginReserved()
		if err != nil || tab.reserved(op) {
			t.Fatalf("BeginReserved %d on a table with free ordinary slots: %v, reserve slot %v", i, err, err == nil && tab.reserved(op))
		}
		ord = append(ord, h)
	}
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("Begin with only the reserve free = %v, want ErrBusy", err)
	}
	var res []*Handle
	for i := 0; i < 2; i++ {
		h, op, err := tab.BeginReserved()
		if err != nil || !tab.reserved(op) {
			t.Fatalf("BeginReserved %d on a full table: %v (want a reserve slot)", i, err)
		}
		res = append(res, h)
	}
	if _, _, err := tab.BeginReserved(); err != ErrBusy {
		t.Fatalf("BeginReserved with the reserve in flight = %v, want ErrBusy", err)
	}
	if tab.InFlight() != 4 {
		t.Fatalf("InFlight = %d, want 4", tab.InFlight())
	}
	// A freed reserve slot is not an ordinary one.
	tab.Complete(res[0].UserData(), 7, 0)
	if n, _ := res[0].Result(); n != 7 {
		t.Fatalf("reserve handle = %d, want 7", n)
	}
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("Begin after a reserve slot was freed = %v, want ErrBusy", err)
	}
	h, op, err := tab.BeginReserved()
	if err != nil || !tab.reserved(op) {
		t.Fatalf("BeginReserved after a reserve slot was freed: %v", err)
	}
	res[0] = h
	// One batch frees both kinds: each goes back to its own stack.
	var b Batch
	for _, h := range []*Handle{ord[0], res[0], ord[1], res[1]} {
		if !b.Add(tab, h.UserData(), 1, 0) {
			t.Fatalf("Add(%#x) = false", h.UserData())
		}
	}
	b.Flush()
	if tab.InFlight() != 0 {
		t.Fatalf("InFlight after Flush = %d", tab.InFlight())
	}
	seen := map[uint32]bool{}
	var left []*Op
	for i := 0; i < 2; i++ {
		_, op, err := tab.Begin()
		left = append(left, op)
		if err != nil || tab.reserved(op) || seen[op.idx] {
			t.Fatalf("Begin %d after Flush: %v (slot %d)", i, err, op.idx)
		}
		seen[op.idx] = true
	}
	if _, _, err := tab.Begin(); err != ErrBusy {
		t.Fatalf("third Begin = %v, want ErrBusy", err)
	}
	for i := 0; i < 2; i++ {
		_, op, err := tab.BeginReserved()
		left = append(left, op)
		if err != nil || !tab.reserved(op) || seen[op.idx] {
			t.Fatalf("BeginReserved %d after Flush: %v (slot %d)", i, err, op.idx)
		}
		seen[op.idx] = true
	}
	for _, op := range left {
		tab.Complete(op.UserData(), 0, 0)
	}
	tab.Close()
	if _, _, err := tab.BeginReserved(); err != ErrClosed {
		t.Fatalf("BeginReserved after Close = %v, want ErrClosed", err)
	}
	if plain := NewTable(3); len(plain.ops) != 3 || plain.Size() != 3 {
		t.Fatalf("NewTable(3): %d slots, Size %d", len(plain.ops), plain.Size())
	}
}

// TestBeginWaitReserved: BeginWaitReserved takes an ordinary slot, then a
// reserve slot, then waits until either kind is freed (here a reserve
// slot), and gives up with the context.
func TestBeginWaitReserved(t *testing.T) {
	tab := NewTableReserve(1, 1)
	h1, op1, err := tab.BeginWaitReserved(context.Background())
	if err != nil || tab.reserved(op1) {
		t.Fatalf("first BeginWaitReserved: %v (reserve %v)", err, err == nil && tab.reserved(op1))
	}
	h2, op2, err := tab.BeginWaitReserved(nil)
	if err != nil || !tab.reserved(op2) {
		t.Fatalf("second BeginWaitReserved: %v, want a reserve slot", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := tab.BeginWaitReserved(ctx); err != context.DeadlineExceeded {
		t.Fatalf("BeginWaitReserved with both kinds in flight = %v, want the context's error", err)
	}
	got := make(chan *Op, 1)
	go func() {
		_, op, err := tab.BeginWaitReserved(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- op
	}()
	time.Sleep(10 * time.Millisecond)
	tab.Complete(h2.UserData(), 0, 0) // frees the reserve slot
	select {
	case op := <-got:
		if op == nil || !tab.reserved(op) {
			t.Fatal("the waiter did not get the freed reserve slot")
		}
		tab.Complete(op.UserData(), 0, 0)
	case <-time.After(5 * time.Second):
		t.Fatal("BeginWaitReserved still waiting after a reserve slot was freed")
	}
	tab.Complete(h1.UserData(), 0, 0)
	if tab.InFlight() != 0 {
		t.Fatalf("InFlight = %d", tab.InFlight())
	}
}
