package bench

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
)

func TestReadAtEngine(t *testing.T) {
	dir := testutil.TempDir(t)
	const size = 4 << 20
	path, err := PrepareFile(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := Lookup(BaselineBackend + "/" + BaselineName)
	if !ok {
		t.Fatal("baseline engine not registered")
	}
	if e.IsC || e.Supports(Spec{Op: OpNop, QD: 1}) || !e.Supports(Spec{Op: OpRead4k, QD: 1}) {
		t.Errorf("baseline: IsC %v, supports nop %v", e.IsC, e.Supports(Spec{Op: OpNop}))
	}
	for _, s := range []Spec{
		{Op: OpRead4k, QD: 1, Path: path, Size: size, Dur: 30 * time.Millisecond, Seed: 1},
		{Op: OpRead4k, Direct: true, QD: 1, Path: path, Size: size, Dur: 30 * time.Millisecond, Seed: 2},
		{Op: OpRead4k, Direct: true, QD: 16, Path: path, Size: size, Dur: 30 * time.Millisecond, Seed: 3, Fds: 4},
		{Op: OpRead4k, QD: 8, Path: path, Size: size, Dur: 30 * time.Millisecond, Seed: 4, Fds: 8},
	} {
		t0 := time.Now()
		res, err := Measure(e, s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		wall := time.Since(t0)
		if res.Ops <= 0 || res.Elapsed < s.Dur || res.Elapsed > wall {
			t.Errorf("%+v: %+v (wall %v)", s, res, wall)
		}
		// The read loop itself must not allocate: everything measured is
		// setup (goroutines, buffers, files, runtime threads), bounded per
		// worker, plus a little slack for the runtime.
		if total, budget := res.AllocsPerOp*float64(res.Ops), float64(200+20*s.QD)+0.05*float64(res.Ops); res.AllocsPerOp < 0 || total > budget {
			t.Errorf("%+v: %.0f allocations for %d ops, want <= %.0f", s, total, res.Ops, budget)
		}
		t.Logf("direct=%v qd=%d fds=%d: %.0f ops/s, %.4f allocs/op", s.Direct, s.QD, s.Fds, res.OpsPerSec(), res.AllocsPerOp)
	}
}

func TestReadAtEngineErrors(t *testing.T) {
	dir := testutil.TempDir(t)
	path, err := PrepareFile(dir, 16*BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Lookup(BaselineBackend + "/" + BaselineName)
	// The Spec claims a larger file than there is: reads past EOF must fail
	// the run, not be counted.
	_, err = e.Run(Spec{Op: OpRead4k, QD: 4, Path: path, Size: 1 << 30, Dur: time.Second, Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("reading past EOF: %v, want an EOF error", err)
	}
	if _, err := e.Run(Spec{Op: OpRead4k, QD: 1, Path: path + ".missing", Size: 4096, Dur: time.Millisecond}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ENOENT", err)
	}
	for _, s := range []Spec{
		{Op: OpNop, QD: 1, Dur: time.Millisecond},
		{Op: OpRead4k, QD: 0, Path: path, Size: 4096, Dur: time.Millisecond},
		{Op: OpRead4k, QD: 1, Path: path, Size: 4000, Dur: time.Millisecond},
		{Op: OpRead4k, QD: 1, Path: "", Size: 4096, Dur: time.Millisecond},
		{Op: OpRead4k, QD: 1, Path: path, Size: 4096, Dur: 0},
		{Op: OpRead4k, QD: 1, Path: path, Size: 4096, Dur: time.Millisecond, Fds: -1},
	} {
		if _, err := e.Run(s); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Run(%+v) = %v, want ErrBadSpec", s, err)
		}
	}
	if _, err := Measure(e, Spec{Op: OpNop, QD: 1, Dur: time.Millisecond}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Measure of an unsupported spec = %v, want ErrBadSpec", err)
	}
}

func TestAlignedBlock(t *testing.T) {
	for i := 0; i < 20; i++ {
		b := alignedBlock(4096)
		if len(b) != BlockSize || cap(b) != BlockSize || addr(b)%4096 != 0 {
			t.Fatalf("alignedBlock: len %d cap %d addr %#x", len(b), cap(b), addr(b))
		}
	}
}
