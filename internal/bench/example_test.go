package bench_test

import (
	"fmt"

	"github.com/aiokit/aio/internal/bench"
)

// The offsets every engine (Go or C) reads for seed 42 in a 1 GiB file.
func ExampleRand() {
	r := bench.NewRand(42)
	for i := 0; i < 3; i++ {
		fmt.Println(r.Offset(1 << 30))
	}
	// Output:
	// 976879616
	// 853385216
	// 2580480
}

// Registered engines can be run one at a time with Measure; the orchestrator
// (cmd/aiobench) does this for every row of its matrix.
func ExampleMeasure() {
	e, ok := bench.Lookup("goroutines/readat")
	fmt.Println(ok, e.Supports(bench.Spec{Op: bench.OpNop}), e.Supports(bench.Spec{Op: bench.OpRead4k}))
	// Output: true false true
}
