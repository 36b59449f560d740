package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerOp is one worker's loop body: one operation on buf at an offset
// from rng, returning an error to stop the whole run.
type workerOp func(buf []byte, rng *Rand) error

// runWorkers is the harness of the engines that keep QD operations in flight
// with QD goroutines, one operation each (the handle engines and the
// goroutines+ReadAt baseline). newWorker(w) runs in worker w's goroutine
// before the clock starts and returns its loop body; each worker has its own
// 4096-aligned BlockSize buffer and offsets NewRand(WorkerSeed(s.Seed, w)).
// The measured phase runs from releasing the ready workers to the last one
// returning, at most s.Dur plus one operation each. The first error of any
// worker stops all and is returned. Allocations are counted over the
// measured phase only, so the workers' setup does not count.
func runWorkers(s Spec, newWorker func(w int) workerOp) (Result, error) {
	var (
		stop     atomic.Bool
		total    atomic.Int64
		errOnce  sync.Once
		firstErr error
		ready    sync.WaitGroup
		done     sync.WaitGroup
	)
	start := make(chan struct{})
	ready.Add(s.QD)
	done.Add(s.QD)
	for w := 0; w < s.QD; w++ {
		go func(w int) {
			defer done.Done()
			buf := alignedBlock(directAlign)
			rng := NewRand(WorkerSeed(s.Seed, w))
			op := newWorker(w)
			ready.Done()
			<-start
			var ops int64
			for !stop.Load() {
				if err := op(buf, rng); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					break
				}
				ops++
			}
			total.Add(ops)
		}(w)
	}
	ready.Wait()
	meter := StartAllocMeter()
	t0 := time.Now()
	close(start)
	timer := time.AfterFunc(s.Dur, func() { stop.Store(true) })
	done.Wait()
	elapsed := time.Since(t0)
	timer.Stop()
	if firstErr != nil {
		return Result{}, firstErr
	}
	ops := total.Load()
	return meter.Result(ops, elapsed), nil
}
