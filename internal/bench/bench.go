package bench

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes one benchmark run of one engine.
type Spec struct {
	Op     string        // OpNop or OpRead4k
	Direct bool          // O_DIRECT file (read4k only)
	QD     int           // ops in flight
	Path   string        // data file (read4k), created and sized by the orchestrator
	Size   int64         // file size in bytes (a multiple of 4096)
	Dur    time.Duration // how long to run
	Seed   uint64        // random offsets: same seed, same sequence, in Go and C
	// Fds is the number of file descriptors the reads are spread over (each
	// opened separately on Path; op i of a submitter uses fd i%Fds). 0 means 1.
	// Engines that do not implement Fds > 1 must return false from Supports.
	Fds int
}

// Op names.
const (
	OpNop    = "nop"    // no-op submission (io_uring IORING_OP_NOP)
	OpRead4k = "read4k" // random 4 KiB-aligned 4 KiB reads of Path
)

// NumFds returns the number of file descriptors the spec asks for (Fds, at least 1).
func (s Spec) NumFds() int {
	if s.Fds < 1 {
		return 1
	}
	return s.Fds
}

// openFlags are the open(2) flags of a read4k engine's file: read-only,
// close-on-exec, and O_DIRECT for Direct rows.
func (s Spec) openFlags() int {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if s.Direct {
		flags |= unix.O_DIRECT
	}
	return flags
}

// Validate reports a clear error for a spec no engine can run: unknown op,
// QD < 1, Dur <= 0, or for read4k an empty Path or a Size that is not a
// positive multiple of 4096.
func (s Spec) Validate() error {
	switch s.Op {
	case OpNop:
	case OpRead4k:
		if s.Path == "" {
			return fmt.Errorf("%w: read4k needs a Path", ErrBadSpec)
		}
		if s.Size < BlockSize || s.Size%BlockSize != 0 {
			return fmt.Errorf("%w: Size %d is not a positive multiple of %d", ErrBadSpec, s.Size, BlockSize)
		}
	default:
		return fmt.Errorf("%w: unknown op %q", ErrBadSpec, s.Op)
	}
	if s.QD < 1 {
		return fmt.Errorf("%w: QD %d < 1", ErrBadSpec, s.QD)
	}
	if s.Dur <= 0 {
		return fmt.Errorf("%w: Dur %v <= 0", ErrBadSpec, s.Dur)
	}
	if s.Fds < 0 {
		return fmt.Errorf("%w: Fds %d < 0", ErrBadSpec, s.Fds)
	}
	return nil
}

// ErrBadSpec is returned (wrapped) by Spec.Validate and by engines for a spec
// they cannot run.
var ErrBadSpec = errors.New("bench: bad spec")

// Result is what one run measured.
type Result struct {
	Ops         int64         // operations completed
	Elapsed     time.Duration // wall time of the measured phase
	AllocsPerOp float64       // Go heap allocations per op (0 for C engines)
	// AllocsMeasured says the engine measured AllocsPerOp over its hot loop
	// itself (AllocMeter.Result), so that Measure keeps a measured 0.
	AllocsMeasured bool
}

// OpsPerSec returns Ops / Elapsed in operations per second (0 if Elapsed is 0).
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Engine is one way of running a Spec: a backend's raw layer, handle layer,
// C reference program, or the goroutines+ReadAt baseline.
type Engine struct {
	Backend  string // "uring", "libaio", "posixaio", "goroutines"
	Name     string // "raw", "handle", "C", "iceber-batch", "readat" ...
	IsC      bool   // the C reference the ratios of its Backend are computed against
	Supports func(Spec) bool
	Run      func(Spec) (Result, error)
}

// ID returns "Backend/Name", the engine's unique name.
func (e Engine) ID() string { return e.Backend + "/" + e.Name }

// BaselineBackend and BaselineName identify the goroutines+ReadAt baseline
// engine defined in readat.go.
const (
	BaselineBackend = "goroutines"
	BaselineName    = "readat"
)

var (
	regMu   sync.Mutex
	engines []Engine
)

// Register adds an engine; backends call it from init(). It panics on an
// empty Backend or Name, a nil Supports or Run, or a duplicate ID, or a second
// IsC engine for the same Backend (each backend has one C reference).
func Register(e Engine) {
	if e.Backend == "" || e.Name == "" || e.Supports == nil || e.Run == nil {
		panic(fmt.Sprintf("bench.Register: incomplete engine %q", e.ID()))
	}
	regMu.Lock()
	defer regMu.Unlock()
	for _, o := range engines {
		if o.ID() == e.ID() {
			panic(fmt.Sprintf("bench.Register: duplicate engine %q", e.ID()))
		}
		if e.IsC && o.IsC && o.Backend == e.Backend {
			panic(fmt.Sprintf("bench.Register: second C reference %q for backend %q (have %q)", e.ID(), e.Backend, o.ID()))
		}
	}
	engines = append(engines, e)
}

// Engines returns the registered engines sorted by Backend, the C reference
// first within a backend, then by Name.
func Engines() []Engine {
	regMu.Lock()
	out := append([]Engine(nil), engines...)
	regMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Backend != b.Backend {
			return a.Backend < b.Backend
		}
		if a.IsC != b.IsC {
			return a.IsC
		}
		return a.Name < b.Name
	})
	return out
}

// Lookup returns the registered engine with the given ID ("Backend/Name").
func Lookup(id string) (Engine, bool) {
	for _, e := range Engines() {
		if e.ID() == id {
			return e, true
		}
	}
	return Engine{}, false
}
