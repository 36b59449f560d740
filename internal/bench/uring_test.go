package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"github.com/aiokit/aio/uring"
)

// The uring engines run every op they support on a small file and count a
// plausible number of operations; the C reference runs through RunC.
func TestUringEngines(t *testing.T) {
	dir := testutil.TempDir(t)
	path, err := PrepareFile(dir, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := xcheck.BuildErr("bench_uring")
	if err != nil {
		t.Fatalf("building bench_uring: %v", err)
	}
	specs := []Spec{
		{Op: OpNop, QD: 1},
		{Op: OpNop, QD: 32},
		{Op: OpRead4k, QD: 8, Path: path, Size: 4 << 20},
		{Op: OpRead4k, QD: 8, Path: path, Size: 4 << 20, Direct: true},
	}
	for _, s := range specs {
		s.Dur = 30 * time.Millisecond
		s.Seed = 7
		for _, name := range []string{"raw", "handle", "handle-ring", "file", "C"} {
			e, ok := Lookup("uring/" + name)
			if !ok {
				t.Fatalf("engine uring/%s not registered", name)
			}
			if (name == "handle-ring" || name == "file") && s.Op == OpNop {
				if e.Supports(s) {
					t.Errorf("uring/%s claims NOP rows", name)
				}
				continue
			}
			if !e.Supports(s) {
				t.Fatalf("uring/%s does not support %+v", name, s)
			}
			var res Result
			if name == "C" {
				res, err = RunC(bin, s)
			} else {
				res, err = Measure(e, s)
			}
			if errors.Is(err, uring.ErrUnavailable) {
				testutil.SkipNoPrivilege(t, err.Error())
			}
			if err != nil {
				t.Fatalf("uring/%s %+v: %v", name, s, err)
			}
			if res.Ops < int64(s.QD) || res.Elapsed < s.Dur {
				t.Fatalf("uring/%s %+v: implausible %+v", name, s, res)
			}
			if (name == "handle" || name == "handle-ring" || name == "file") && res.AllocsPerOp > 1.5 {
				t.Errorf("uring/%s %+v: %.2f allocs/op, want <= 1", name, s, res.AllocsPerOp)
			}
			if name == "raw" && res.AllocsPerOp > 0.05 {
				t.Errorf("uring/raw %+v: %.2f allocs/op, want 0", s, res.AllocsPerOp)
			}
		}
	}
	// Engines reject specs they cannot run.
	e, _ := Lookup("uring/handle")
	if e.Supports(Spec{Op: OpRead4k, QD: 1, Fds: 4}) {
		t.Error("uring/handle claims to support Fds > 1")
	}
	if _, err := runUringHandle(Spec{Op: "bogus", QD: 1, Dur: time.Millisecond}, false); !errors.Is(err, ErrBadSpec) {
		t.Errorf("bogus op: %v", err)
	}
	if _, err := runUringRaw(Spec{Op: OpRead4k, QD: 1, Dur: time.Millisecond, Path: dir + "/missing", Size: 4096}); err == nil {
		t.Error("missing file: no error")
	}
}
