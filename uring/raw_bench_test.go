package uring

import (
	"fmt"
	"runtime"
	"testing"
)

// rawNopBatch submits n NOPs in one Submit and reaps them with
// PeekBatchCQE/CQAdvance: the raw path with one cgo call per batch.
func rawNopBatch(tb testing.TB, r *Ring, cqes []*CQE, n int) {
	for i := 0; i < n; i++ {
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.SetUserData(uint64(i))
	}
	if _, err := r.SubmitAndWait(uint32(n)); err != nil {
		tb.Fatal(err)
	}
	for got := 0; got < n; {
		k := r.PeekBatchCQE(cqes)
		if k == 0 {
			tb.Fatalf("only %d of %d NOPs completed", got, n)
		}
		r.CQAdvance(uint32(k))
		got += k
	}
}

// BenchmarkRawNop measures batched NOPs at queue depth 32 and 128 through
// the raw layer; one op per b.N, reported as ops/s.
func BenchmarkRawNop(b *testing.B) {
	for _, qd := range []int{32, 128} {
		b.Run(fmt.Sprintf("QD%d", qd), func(b *testing.B) {
			r := rawRing(b, uint32(qd), nil)
			cqes := make([]*CQE, qd)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := qd
				if b.N-done < n {
					n = b.N - done
				}
				rawNopBatch(b, r, cqes, n)
				done += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// TestRawPathOneCgoCallPerBatch: getting, preparing and reaping happen in
// Go on the mapped rings; a batch of NOPs costs the one cgo call of
// io_uring_submit_and_wait. (The minimum over 20 batches: another
// goroutine's cgo call could land inside one.)
func TestRawPathOneCgoCallPerBatch(t *testing.T) {
	r := rawRing(t, 128, nil)
	cqes := make([]*CQE, 128)
	best := int64(1 << 62)
	for i := 0; i < 20; i++ {
		before := runtime.NumCgoCall()
		rawNopBatch(t, r, cqes, 64)
		best = min(best, runtime.NumCgoCall()-before)
	}
	if best != 1 {
		t.Fatalf("a batch of 64 NOPs made %d cgo calls, want 1", best)
	}
}

// TestRawPathZeroAllocs: GetSQE, Prep*, Submit*, PeekCQE, PeekBatchCQE,
// CQAdvance and the wait fast paths allocate nothing.
func TestRawPathZeroAllocs(t *testing.T) {
	r := rawRing(t, 128, nil)
	cqes := make([]*CQE, 128)
	if a := testing.AllocsPerRun(50, func() { rawNopBatch(t, r, cqes, 128) }); a != 0 {
		t.Fatalf("batch of 128 NOPs: %v allocs", a)
	}
	if a := testing.AllocsPerRun(50, func() {
		sqe := r.GetSQE()
		sqe.PrepNop()
		r.Submit()
		cqe, err := r.WaitCQE()
		if err != nil {
			t.Fatal(err)
		}
		r.CQESeen(cqe)
		if _, err := r.PeekCQE(); err == nil {
			t.Fatal("unexpected CQE")
		}
		sqe = r.GetSQE()
		sqe.PrepNop()
		r.Submit()
		cqe, err = r.WaitCQETimeout(1e9)
		if err != nil {
			t.Fatal(err)
		}
		r.CQESeen(cqe)
	}); a != 0 {
		t.Fatalf("single NOP submit/wait: %v allocs", a)
	}
}
