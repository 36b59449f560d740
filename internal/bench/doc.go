// Package bench is the benchmark framework behind cmd/aiobench and
// `make bench`.
//
// An Engine runs a Spec (an op, a queue depth, a data file, a duration, a
// seed) and returns how many ops it completed in how long. Backends register
// their engines from init() in internal/bench/<backend>*.go: a Go raw-layer
// engine, a Go handle-layer engine, and a C reference (IsC) that runs
// testdata/c/bench_<backend>.c through RunC. This file set adds the
// goroutines+ReadAt baseline (readat.go), the shared xorshift64* offset
// generator (Rand, mirrored in testdata/c/bench_common.h), data-file
// preparation (PrepareFile), page-cache residency (MakeResident: mmap + mlock),
// allocation counting (AllocMeter, Measure) and the report format
// (Median, Spread, Report, WriteText, WriteJSON).
//
// Writing an engine:
//
//	func init() {
//		bench.Register(bench.Engine{Backend: "uring", Name: "C", IsC: true,
//			Supports: func(s bench.Spec) bool { return s.Fds <= 1 },
//			Run:      func(s bench.Spec) (bench.Result, error) { return bench.RunC("bench_uring", s) },
//		})
//	}
//
// RunC resolves a bare program name in CDir() (build/c, where the Makefile
// and internal/xcheck build testdata/c/bench_*.c); a program that is
// not built gives an error wrapping ErrNoCProgram, which the orchestrator shows
// as "missing" in that row. Engines that do not implement Spec.Fds > 1 must
// say so in Supports. A Go engine that counts the allocations of its measured
// phase returns AllocMeter.Result (Result.AllocsMeasured set), and Measure keeps
// that figure even when it is 0; only an engine that leaves AllocsPerOp at 0
// unmeasured gets the heap allocations of the whole Run call per op.
package bench
