package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/aiokit/aio/internal/bench"
)

// fdsRowBackends are the backends that run the rows spreading reads over many
// fds: POSIX AIO (glibc serializes requests per fd, so fds matter there) and
// the baseline the ratios are computed against.
var fdsRowBackends = []string{"posixaio", bench.BaselineBackend}

// manyFds is the fd count of the spread rows.
const manyFds = 128

// matrix returns every row aiobench knows, in output order.
func matrix() []bench.Row {
	var rows []bench.Row
	add := func(op string, direct bool, qd, fds int, backends []string) {
		rows = append(rows, bench.Row{Name: bench.RowName(op, direct, qd, fds), Op: op, Direct: direct, QD: qd, Fds: fds, Backends: backends})
	}
	for _, qd := range []int{1, 32, 128} {
		add(bench.OpNop, false, qd, 1, nil)
	}
	for _, direct := range []bool{false, true} {
		for _, qd := range []int{1, 32, 128} {
			add(bench.OpRead4k, direct, qd, 1, nil)
		}
	}
	for _, direct := range []bool{false, true} {
		for _, qd := range []int{32, 128} {
			add(bench.OpRead4k, direct, qd, manyFds, fdsRowBackends)
		}
	}
	return rows
}

// plannedRow is a row with the engines selected for it.
type plannedRow struct {
	row     bench.Row
	engines []bench.Engine
}

// rowSpec is the Spec of a row, before Path/Size/Dur/Seed are set.
func rowSpec(r bench.Row) bench.Spec {
	return bench.Spec{Op: r.Op, Direct: r.Direct, QD: r.QD, Fds: r.Fds}
}

// plan selects, for each row, the engines that are allowed in it
// (row.Backends), match filter ("<row> <backend>/<name>") and support its
// spec. Rows without engines are dropped. Supports is asked with a
// representative Path and Size so engines can check them.
func plan(rows []bench.Row, engines []bench.Engine, filter *regexp.Regexp) []plannedRow {
	var out []plannedRow
	for _, r := range rows {
		probe := rowSpec(r)
		probe.Dur = time.Second
		if r.Op == bench.OpRead4k {
			probe.Path, probe.Size = "/nonexistent/aiobench.dat", 1<<30
		}
		pr := plannedRow{row: r}
		for _, e := range engines {
			if len(r.Backends) > 0 && !contains(r.Backends, e.Backend) {
				continue
			}
			if filter != nil && !filter.MatchString(r.Name+" "+e.ID()) {
				continue
			}
			if !e.Supports(probe) {
				continue
			}
			pr.engines = append(pr.engines, e)
		}
		if len(pr.engines) > 0 {
			out = append(out, pr)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// files are the data files of a run.
type files struct {
	cache, direct         string
	cacheSize, directSize int64
}

// runConfig is what runRow needs besides the row.
type runConfig struct {
	reps   int
	dur    time.Duration
	warmup bool
	seed   uint64
	files  files
	log    io.Writer // progress; nil for none
}

// runRow measures every engine of pr.row: an optional warm-up pass (dur/3
// each, not recorded), then cfg.reps repetitions in which every engine runs
// once for cfg.dur, in round-robin order starting at engine rep%n, all with
// seed cfg.seed+rep. An engine whose run fails is not run again in this row;
// a missing C program (bench.ErrNoCProgram) is "missing", anything else
// "error".
func runRow(pr plannedRow, cfg runConfig) bench.RowResult {
	rr := bench.RowResult{Row: pr.row}
	spec := rowSpec(pr.row)
	if pr.row.Op == bench.OpRead4k {
		if pr.row.Direct {
			spec.Path, spec.Size = cfg.files.direct, cfg.files.directSize
		} else {
			spec.Path, spec.Size = cfg.files.cache, cfg.files.cacheSize
		}
	}
	results := make([]bench.EngineResult, len(pr.engines))
	for i, e := range pr.engines {
		results[i] = bench.EngineResult{Engine: e.ID(), Backend: e.Backend, Name: e.Name, IsC: e.IsC, Status: bench.StatusOK}
	}
	fail := func(i int, err error) {
		results[i].Status = bench.StatusError
		if errors.Is(err, bench.ErrNoCProgram) {
			results[i].Status = bench.StatusMissing
		}
		results[i].Error = err.Error()
		logf(cfg.log, "%s %s: %s: %v\n", pr.row.Name, results[i].Engine, results[i].Status, err)
	}
	if cfg.warmup {
		ws := spec
		ws.Dur, ws.Seed = cfg.dur/3, cfg.seed
		if ws.Dur <= 0 {
			ws.Dur = time.Millisecond
		}
		for i, e := range pr.engines {
			if _, err := measure(e, ws); err != nil {
				fail(i, err)
			}
		}
	}
	n := len(pr.engines)
	for rep := 0; rep < cfg.reps; rep++ {
		s := spec
		s.Dur, s.Seed = cfg.dur, cfg.seed+uint64(rep)
		for k := 0; k < n; k++ {
			i := (rep + k) % n
			if results[i].Status != bench.StatusOK {
				continue
			}
			res, err := measure(pr.engines[i], s)
			if err != nil {
				fail(i, err)
				continue
			}
			results[i].OpsPerSec = append(results[i].OpsPerSec, res.OpsPerSec())
			results[i].AllocsPerOp = append(results[i].AllocsPerOp, res.AllocsPerOp)
			logf(cfg.log, "%s %s rep %d: %.0f ops/s %.3f allocs/op\n", pr.row.Name, results[i].Engine, rep, res.OpsPerSec(), res.AllocsPerOp)
		}
	}
	rr.Engines = results
	rr.Summarize()
	return rr
}

// hangSlack is how long past its Dur an engine may take before measure gives
// up on it.
var hangSlack = time.Minute

// measure is bench.Measure with a watchdog: an engine that has not returned
// s.Dur+hangSlack after it started is reported as hung (its goroutine is
// abandoned) so one broken engine cannot stall the whole matrix.
func measure(e bench.Engine, s bench.Spec) (bench.Result, error) {
	type outcome struct {
		res bench.Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		res, err := bench.Measure(e, s)
		ch <- outcome{res, err}
	}()
	timer := time.NewTimer(s.Dur + hangSlack)
	defer timer.Stop()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-timer.C:
		return bench.Result{}, fmt.Errorf("aiobench: engine %s hung: no result %v after a %v run", e.ID(), s.Dur+hangSlack, s.Dur)
	}
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
