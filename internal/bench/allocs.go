package bench

import (
	"fmt"
	"runtime"
	"time"
)

// AllocMeter counts Go heap allocations (runtime.MemStats.Mallocs) since it
// was started. It sees every goroutine of the process.
type AllocMeter struct {
	mallocs uint64
}

// StartAllocMeter reads runtime.ReadMemStats and remembers Mallocs.
func StartAllocMeter() AllocMeter {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return AllocMeter{mallocs: m.Mallocs}
}

// Allocs returns the number of heap allocations since StartAllocMeter.
func (a AllocMeter) Allocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs - a.mallocs
}

// PerOp returns Allocs()/ops (0 when ops <= 0).
func (a AllocMeter) PerOp(ops int64) float64 {
	n := a.Allocs()
	if ops <= 0 {
		return 0
	}
	return float64(n) / float64(ops)
}

// Result is the Result of an engine that measured its hot loop with a: ops in
// elapsed, at a.PerOp(ops) allocations per op, marked measured.
func (a AllocMeter) Result(ops int64, elapsed time.Duration) Result {
	return Result{Ops: ops, Elapsed: elapsed, AllocsPerOp: a.PerOp(ops), AllocsMeasured: true}
}

// Measure runs engine e on s once: it validates s, checks e.Supports, runs a
// garbage collection so that earlier runs' garbage is not collected inside
// this one, and calls e.Run. For Go engines (not IsC) that leave AllocsPerOp
// at 0 and unmeasured, it fills in the heap allocations of the whole Run call (setup
// included, amortized over the ops) per op; the value of an engine that
// measured its hot loop itself (AllocMeter.Result) is kept, 0 included. A run that completes no
// ops or reports no elapsed time is an error.
func Measure(e Engine, s Spec) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	if !e.Supports(s) {
		return Result{}, fmt.Errorf("%w: engine %s does not support %+v", ErrBadSpec, e.ID(), s)
	}
	runtime.GC()
	meter := StartAllocMeter()
	res, err := e.Run(s)
	if err != nil {
		return Result{}, err
	}
	if !e.IsC && !res.AllocsMeasured && res.AllocsPerOp == 0 {
		res.AllocsPerOp = meter.PerOp(res.Ops)
	}
	if res.Ops <= 0 {
		return res, fmt.Errorf("bench: engine %s completed no ops in %v", e.ID(), res.Elapsed)
	}
	if res.Elapsed <= 0 || res.Elapsed > s.Dur*100+time.Minute {
		return res, fmt.Errorf("bench: engine %s reported implausible elapsed time %v for Dur %v", e.ID(), res.Elapsed, s.Dur)
	}
	return res, nil
}
