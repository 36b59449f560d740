package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

func TestRegister(t *testing.T) {
	regMu.Lock()
	saved := append([]Engine(nil), engines...)
	regMu.Unlock()
	defer func() {
		regMu.Lock()
		engines = saved
		regMu.Unlock()
	}()
	yes := func(Spec) bool { return true }
	run := func(Spec) (Result, error) { return Result{Ops: 1, Elapsed: 1}, nil }
	Register(Engine{Backend: "zz", Name: "b", Supports: yes, Run: run})
	Register(Engine{Backend: "zz", Name: "a", Supports: yes, Run: run})
	Register(Engine{Backend: "zz", Name: "z", IsC: true, Supports: yes, Run: run})
	var ids []string
	for _, e := range Engines() {
		if e.Backend == "zz" {
			ids = append(ids, e.ID())
		}
	}
	if got := strings.Join(ids, " "); got != "zz/z zz/a zz/b" {
		t.Errorf("Engines order = %q, want C reference first then by name", got)
	}
	mustPanic := func(what string, e Engine) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("Register(%s) did not panic", what)
			}
		}()
		Register(e)
	}
	mustPanic("duplicate", Engine{Backend: "zz", Name: "a", Supports: yes, Run: run})
	mustPanic("second C", Engine{Backend: "zz", Name: "C2", IsC: true, Supports: yes, Run: run})
	mustPanic("no name", Engine{Backend: "zz", Supports: yes, Run: run})
	mustPanic("no Run", Engine{Backend: "zz", Name: "q", Supports: yes})
	mustPanic("no Supports", Engine{Backend: "zz", Name: "q", Run: run})
	if _, ok := Lookup("zz/none"); ok {
		t.Error("Lookup of an unknown engine succeeded")
	}
}

func TestSpecValidate(t *testing.T) {
	good := []Spec{
		{Op: OpNop, QD: 1, Dur: 1},
		{Op: OpRead4k, QD: 128, Path: "/x", Size: 4096, Dur: time.Second, Fds: 128},
	}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", s, err)
		}
	}
	bad := []Spec{
		{Op: "", QD: 1, Dur: 1},
		{Op: OpNop, QD: 0, Dur: 1},
		{Op: OpNop, QD: 1, Dur: 0},
		{Op: OpNop, QD: 1, Dur: 1, Fds: -2},
		{Op: OpRead4k, QD: 1, Size: 4096, Dur: 1},
		{Op: OpRead4k, QD: 1, Path: "/x", Size: 0, Dur: 1},
		{Op: OpRead4k, QD: 1, Path: "/x", Size: 8191, Dur: 1},
	}
	for _, s := range bad {
		if err := s.Validate(); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Validate(%+v) = %v, want ErrBadSpec", s, err)
		}
	}
	if (Spec{}).NumFds() != 1 || (Spec{Fds: 7}).NumFds() != 7 {
		t.Error("NumFds")
	}
	if (Result{Ops: 10, Elapsed: time.Second / 2}).OpsPerSec() != 20 || (Result{Ops: 1}).OpsPerSec() != 0 {
		t.Error("OpsPerSec")
	}
}

func TestMeasureChecksResults(t *testing.T) {
	yes := func(Spec) bool { return true }
	s := Spec{Op: OpNop, QD: 1, Dur: time.Millisecond}
	var keep [][]byte
	allocating := Engine{Backend: "t", Name: "alloc", Supports: yes, Run: func(Spec) (Result, error) {
		for i := 0; i < 1000; i++ {
			keep = append(keep, make([]byte, 64))
		}
		return Result{Ops: 100, Elapsed: time.Millisecond}, nil
	}}
	res, err := Measure(allocating, s)
	if err != nil || res.AllocsPerOp < 10 {
		t.Errorf("Measure(allocating) = %+v, %v; want >= 10 allocs/op", res, err)
	}
	keep = nil
	cEngine := allocating
	cEngine.IsC = true
	if res, err := Measure(cEngine, s); err != nil || res.AllocsPerOp != 0 {
		t.Errorf("Measure(C engine) = %+v, %v; want 0 allocs/op", res, err)
	}
	own := Engine{Backend: "t", Name: "own", Supports: yes, Run: func(Spec) (Result, error) {
		return Result{Ops: 5, Elapsed: time.Millisecond, AllocsPerOp: 0.25}, nil
	}}
	if res, _ := Measure(own, s); res.AllocsPerOp != 0.25 {
		t.Errorf("engine's own AllocsPerOp replaced: %v", res.AllocsPerOp)
	}
	zero := Engine{Backend: "t", Name: "zero", Supports: yes, Run: func(Spec) (Result, error) {
		return Result{Ops: 0, Elapsed: time.Millisecond}, nil
	}}
	if _, err := Measure(zero, s); err == nil {
		t.Error("Measure accepted a run with no ops")
	}
	failing := Engine{Backend: "t", Name: "fail", Supports: yes, Run: func(Spec) (Result, error) {
		return Result{}, errors.New("boom")
	}}
	if _, err := Measure(failing, s); err == nil || err.Error() != "boom" {
		t.Errorf("Measure(failing) = %v", err)
	}
}

// TestMeasureKeepsMeasuredZero: an engine that measured its hot loop
// (AllocMeter.Result) and found no allocation keeps 0 allocs/op; Measure
// fills in the whole Run call's allocations only for an engine that did not
// measure (it replaced a measured 0 with the setup's allocations).
func TestMeasureKeepsMeasuredZero(t *testing.T) {
	var sink [][]byte
	engine := func(measure bool) Engine {
		return Engine{Backend: "test", Name: "raw", Supports: func(Spec) bool { return true },
			Run: func(s Spec) (Result, error) {
				for i := 0; i < 1000; i++ { // setup
					sink = append(sink, make([]byte, 64))
				}
				meter := StartAllocMeter()
				if measure {
					return meter.Result(100, time.Millisecond), nil
				}
				return Result{Ops: 100, Elapsed: time.Millisecond}, nil
			}}
	}
	s := Spec{Op: OpNop, QD: 1, Dur: time.Millisecond}
	if res, err := Measure(engine(true), s); err != nil || res.AllocsPerOp != 0 {
		t.Errorf("measured loop without allocations: %.2f allocs/op, %v; want 0", res.AllocsPerOp, err)
	}
	if res, err := Measure(engine(false), s); err != nil || res.AllocsPerOp < 10 {
		t.Errorf("unmeasured engine: %.2f allocs/op, %v; want the setup's 1000 over 100 ops", res.AllocsPerOp, err)
	}
	_ = sink
}
