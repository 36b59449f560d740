package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Median returns the median of xs (mean of the two middle values for an even
// count), NaN for an empty slice. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Spread returns (max-min)/median of xs, the relative range used as the noise
// figure of a row (0 for fewer than two values, NaN if the median is 0).
func Spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	med := Median(xs)
	if med == 0 {
		return math.NaN()
	}
	return (hi - lo) / med
}

// System records the facts of the machine a report was measured on.
type System struct {
	Kernel     string `json:"kernel"`
	CPUModel   string `json:"cpu_model"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemTotalKB int64  `json:"mem_total_kb"`
	GoVersion  string `json:"go_version"`
	Dir        string `json:"dir"`
	DirFS      string `json:"dir_fs"`     // filesystem type of Dir (from /proc/self/mountinfo)
	DirDevice  string `json:"dir_device"` // mount source of Dir
	Time       string `json:"time"`       // RFC 3339 start time
	// LoadStart is the 1-minute load average (/proc/loadavg) when the run
	// started. (Later values would count the benchmark's own threads blocked
	// in I/O, so OtherCPU measures the noise during the run instead.)
	LoadStart float64 `json:"load_start"`
	// OtherCPU is the share of the machine's CPU time (all CPUs, from
	// /proc/stat, steal included) used during the run by anything but this
	// process and its C children: other work that adds noise. 0..1.
	OtherCPU float64 `json:"other_cpu"`
}

// Config records how a report was measured.
type Config struct {
	Reps       int     `json:"reps"`
	DurMS      float64 `json:"dur_ms"`
	Warmup     bool    `json:"warmup"`
	DirectSize int64   `json:"direct_size"` // 0: the run had no O_DIRECT data file
	CacheSize  int64   `json:"cache_size"`  // 0: the run had no page-cache data file
	Seed       uint64  `json:"seed"`
	Filter     string  `json:"filter,omitempty"`
	Quick      bool    `json:"quick"`
	CDir       string  `json:"c_dir"`
	Tags       string  `json:"tags,omitempty"`
}

// Row is one line of the benchmark matrix: an op at a queue depth, and for
// read4k the file kind (page cache or O_DIRECT) and number of fds.
type Row struct {
	Name   string `json:"row"`
	Op     string `json:"op"`
	Direct bool   `json:"direct"`
	QD     int    `json:"qd"`
	Fds    int    `json:"fds"`
	// Backends, if non-empty, restricts the row to engines of these backends.
	Backends []string `json:"backends,omitempty"`
}

// RowName builds the canonical row name: "nop/qd32", "read4k/cache/qd1",
// "read4k/direct/qd128/fds128" (fds only when > 1).
func RowName(op string, direct bool, qd, fds int) string {
	if op != OpRead4k {
		return fmt.Sprintf("%s/qd%d", op, qd)
	}
	kind := "cache"
	if direct {
		kind = "direct"
	}
	name := fmt.Sprintf("%s/%s/qd%d", op, kind, qd)
	if fds > 1 {
		name += fmt.Sprintf("/fds%d", fds)
	}
	return name
}

// Engine statuses in a report.
const (
	StatusOK      = "ok"
	StatusMissing = "missing" // C program not built (ErrNoCProgram)
	StatusError   = "error"   // a repetition failed
)

// EngineResult is one engine's measurements in one row.
type EngineResult struct {
	Engine      string    `json:"engine"` // Backend/Name
	Backend     string    `json:"backend"`
	Name        string    `json:"name"`
	IsC         bool      `json:"is_c"`
	Status      string    `json:"status"`
	Error       string    `json:"error,omitempty"`
	OpsPerSec   []float64 `json:"ops_per_sec"`   // one per repetition, in order
	AllocsPerOp []float64 `json:"allocs_per_op"` // one per repetition, in order
	// Filled by Summarize:
	Median       float64  `json:"median_ops_per_sec"`
	Spread       float64  `json:"spread"` // (max-min)/median
	MedianAllocs float64  `json:"median_allocs_per_op"`
	VsC          *float64 `json:"vs_c"`        // vs the backend's C reference (see Ratio)
	VsBaseline   *float64 `json:"vs_baseline"` // vs goroutines/readat, read4k rows (see Ratio)
}

// RowResult is a row with the results of every engine that ran in it.
type RowResult struct {
	Row
	Engines []EngineResult `json:"engines"`
}

// Report is the output of cmd/aiobench.
type Report struct {
	// Schema is the version of this layout (ReportSchema when written);
	// reports from before the field existed read as 0, which is the same
	// layout as 1.
	Schema int         `json:"schema"`
	System System      `json:"system"`
	Config Config      `json:"config"`
	Rows   []RowResult `json:"rows"`
	// Notes say what the run left out and why (e.g. the O_DIRECT rows on a
	// memory filesystem), or what qualifies its numbers.
	Notes []string `json:"notes,omitempty"`
}

// Summarize computes each engine's median, spread and median allocs/op (NaN
// and infinite samples, which JSON cannot carry, become 0), then
// the ratios: VsC against the ok C reference (IsC) of the same backend, for
// engines that are not themselves the reference; VsBaseline against the ok
// goroutines/readat engine, in read4k rows, for every other engine.
func (rr *RowResult) Summarize() {
	for i := range rr.Engines {
		e := &rr.Engines[i]
		e.VsC, e.VsBaseline = nil, nil
		if e.Status != StatusOK || len(e.OpsPerSec) == 0 {
			e.Median, e.Spread, e.MedianAllocs = 0, 0, 0
			continue
		}
		for k := range e.OpsPerSec {
			e.OpsPerSec[k] = finite(e.OpsPerSec[k])
		}
		for k := range e.AllocsPerOp {
			e.AllocsPerOp[k] = finite(e.AllocsPerOp[k])
		}
		e.Median = finite(Median(e.OpsPerSec))
		e.Spread = finite(Spread(e.OpsPerSec))
		if len(e.AllocsPerOp) > 0 {
			e.MedianAllocs = finite(Median(e.AllocsPerOp))
		}
	}
	ref := func(match func(*EngineResult) bool) *EngineResult {
		for i := range rr.Engines {
			e := &rr.Engines[i]
			if e.Status == StatusOK && e.Median > 0 && match(e) {
				return e
			}
		}
		return nil
	}
	base := ref(func(e *EngineResult) bool { return e.Backend == BaselineBackend && e.Name == BaselineName })
	for i := range rr.Engines {
		e := &rr.Engines[i]
		if e.Status != StatusOK {
			continue
		}
		if !e.IsC {
			if c := ref(func(o *EngineResult) bool { return o.IsC && o.Backend == e.Backend }); c != nil {
				v := Ratio(e.OpsPerSec, c.OpsPerSec)
				e.VsC = &v
			}
		}
		if rr.Op == OpRead4k && base != nil && base != e {
			v := Ratio(e.OpsPerSec, base.OpsPerSec)
			e.VsBaseline = &v
		}
	}
}

// Ratio is how an engine's repetitions a compare with a reference's b: the
// median of the per-repetition ratios a[k]/b[k] when both ran the same
// repetitions (repetition k of every engine of a row runs in one round, so
// the two samples of a pair were taken seconds apart at most, while the
// machine's speed drifts by 30 % and more over a run), else the ratio of the
// medians. Pairs with b[k] <= 0 are left out.
func Ratio(a, b []float64) float64 {
	if len(a) == len(b) {
		rs := make([]float64, 0, len(a))
		for k := range a {
			if b[k] > 0 {
				rs = append(rs, a[k]/b[k])
			}
		}
		if len(rs) > 0 {
			return finite(Median(rs))
		}
	}
	return finite(Median(a) / Median(b))
}

// finite maps NaN and infinities (which JSON cannot carry) to 0.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// ReportSchema is the version of the report layout this aiobench writes.
// It goes up when a field changes meaning or goes away; added fields are
// refused by older readers anyway (ReadJSON takes no unknown field).
const ReportSchema = 1

// WriteJSON writes the report as indented JSON, with Schema ReportSchema
// when r leaves it 0.
func WriteJSON(w io.Writer, r *Report) error {
	if r.Schema == 0 {
		c := *r
		c.Schema = ReportSchema
		r = &c
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON parses a report written by WriteJSON: exactly one JSON object
// with at least one row (`{}`, `null`, two concatenated reports or trailing
// data are errors, not an empty or partial table), as is a report of a
// newer schema than ReportSchema.
func ReadJSON(rd io.Reader) (*Report, error) {
	dec := json.NewDecoder(rd)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	// The schema first: a newer report likely has fields this one does not
	// know, and is refused for its schema rather than for one of them.
	var v struct {
		Schema int `json:"schema"`
	}
	if json.Unmarshal(raw, &v) == nil && v.Schema > ReportSchema {
		return nil, fmt.Errorf("bench: report schema %d is newer than this aiobench's (%d)", v.Schema, ReportSchema)
	}
	var r Report
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&r); err != nil {
		return nil, err
	}
	if len(r.Rows) == 0 {
		return nil, errors.New("bench: not an aiobench report (no rows)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("bench: data after the report (one report per file)")
	}
	return &r, nil
}

// fileSize is a data file's size in the text header, "none" when the run
// had no such file (0: its rows were skipped or not selected).
func fileSize(n int64) string {
	if n == 0 {
		return "none"
	}
	return FormatBytes(n)
}

// TableColumns are the column headers of the text table, in order.
var TableColumns = []string{"ROW", "ENGINE", "OPS/S", "SPREAD", "ALLOCS/OP", "VS_C", "VS_READAT", "NOTE"}

// WriteText writes the system facts, configuration and notes as "# " comment
// lines, then an aligned table with one line per row and engine (columns
// TableColumns; "-" where a value does not apply, "ref" for a C reference's
// VS_C, ALLOCS/OP "-" for every engine that is a C program: RunsC). NOTE
// holds the status and error of engines that did not run; every line has
// the cell, empty or not (else a note line away from the header was aligned
// on its own), and no line ends in blanks.
func WriteText(out io.Writer, r *Report) error {
	w := &trimWriter{w: out}
	s, c := r.System, r.Config
	fmt.Fprintf(w, "# aiobench %s  kernel %s  %d CPUs (GOMAXPROCS %d) %s  %.1f GiB RAM\n",
		s.GoVersion, s.Kernel, s.CPUs, s.GOMAXPROCS, s.CPUModel, float64(s.MemTotalKB)/(1<<20))
	fmt.Fprintf(w, "# load average %.2f at start; other processes used %.0f%% of the CPUs during the run\n", s.LoadStart, 100*s.OtherCPU)
	fmt.Fprintf(w, "# dir %s: %s on %s; data files: direct %s, page cache %s (mmap+mlock while measured)\n",
		s.Dir, s.DirFS, s.DirDevice, fileSize(c.DirectSize), fileSize(c.CacheSize))
	fmt.Fprintf(w, "# %d reps x %gms per engine and row, engines interleaved round-robin (start rotates), warmup %v; median ops/s; spread=(max-min)/median; VS_* = median of per-rep ratios\n",
		c.Reps, c.DurMS, c.Warmup)
	fmt.Fprintf(w, "# seed %d  C programs %s  filter %q  quick %v  tags %q  %s\n", c.Seed, c.CDir, c.Filter, c.Quick, c.Tags, s.Time)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# note: %s\n", strings.ReplaceAll(n, "\n", " | "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(TableColumns, "\t"))
	for _, row := range r.Rows {
		for _, e := range row.Engines {
			ops, spread, allocs, vsc, vsb, note := "-", "-", "-", "-", "-", ""
			if e.Status == StatusOK {
				ops = fmt.Sprintf("%.0f", e.Median)
				spread = fmt.Sprintf("%.1f%%", 100*e.Spread)
				if !e.RunsC() {
					allocs = fmt.Sprintf("%.2f", e.MedianAllocs)
				}
				if e.IsC {
					vsc = "ref"
				} else if e.VsC != nil {
					vsc = fmt.Sprintf("%.2f", *e.VsC)
				}
				if e.VsBaseline != nil {
					vsb = fmt.Sprintf("%.2f", *e.VsBaseline)
				}
			} else {
				note = e.Status + ": " + oneLine(e.Error)
			}
			fmt.Fprintln(tw, strings.Join([]string{row.Name, e.Engine, ops, spread, allocs, vsc, vsb, note}, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return w.flush()
}

// RunsC reports whether the engine runs a C program: the backend's reference
// (IsC) or another one, named "C-..." (posixaio/C-sigev-thread). Its
// allocations per op are the Go side's of RunC, not the program's, and the
// table shows "-" for them.
func (e *EngineResult) RunsC() bool {
	return e.IsC || e.Name == "C" || strings.HasPrefix(e.Name, "C-")
}

// trimWriter passes whole lines on with their trailing blanks removed (the
// padding tabwriter gives the cell before an empty NOTE). It keeps the
// first write error.
type trimWriter struct {
	w    io.Writer
	line []byte
	err  error
}

func (t *trimWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if t.err != nil {
			return 0, t.err
		}
		if c != '\n' {
			t.line = append(t.line, c)
			continue
		}
		t.line = append(bytes.TrimRight(t.line, " "), '\n')
		_, t.err = t.w.Write(t.line)
		t.line = t.line[:0]
	}
	if t.err != nil {
		return 0, t.err
	}
	return len(p), nil
}

// flush writes a last line that has no newline.
func (t *trimWriter) flush() error {
	if t.err == nil && len(t.line) > 0 {
		_, t.err = t.w.Write(bytes.TrimRight(t.line, " "))
		t.line = nil
	}
	return t.err
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	s = strings.ReplaceAll(s, "\t", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// FormatBytes formats n as "1 GiB", "256 MiB", "12 KiB" or "100 B".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
