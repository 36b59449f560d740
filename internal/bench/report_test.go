package bench

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestMedianSpread(t *testing.T) {
	for _, c := range []struct {
		xs     []float64
		median float64
		spread float64
	}{
		{[]float64{5}, 5, 0},
		{[]float64{3, 1, 2}, 2, 1},
		{[]float64{4, 1, 3, 2}, 2.5, 3 / 2.5},
		{[]float64{10, 10, 10, 10, 1000}, 10, 99},
	} {
		in := append([]float64(nil), c.xs...)
		if got := Median(c.xs); got != c.median {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.median)
		}
		if got := Spread(c.xs); math.Abs(got-c.spread) > 1e-12 {
			t.Errorf("Spread(%v) = %v, want %v", c.xs, got, c.spread)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Fatalf("Median reordered its input")
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func testReport() *Report {
	r := &Report{
		System: System{Kernel: "6.18", CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26", Dir: "/tmp", DirFS: "ext4", DirDevice: "/dev/vda"},
		Config: Config{Reps: 3, DurMS: 300, DirectSize: 1 << 30, CacheSize: 256 << 20, Seed: 1},
		Rows: []RowResult{
			{Row: Row{Name: RowName(OpRead4k, true, 32, 1), Op: OpRead4k, Direct: true, QD: 32, Fds: 1}, Engines: []EngineResult{
				{Engine: "goroutines/readat", Backend: "goroutines", Name: "readat", Status: StatusOK, OpsPerSec: []float64{100, 120, 110}, AllocsPerOp: []float64{0, 0.5, 0}},
				{Engine: "uring/C", Backend: "uring", Name: "C", IsC: true, Status: StatusOK, OpsPerSec: []float64{400, 410, 390}},
				{Engine: "uring/raw", Backend: "uring", Name: "raw", Status: StatusOK, OpsPerSec: []float64{380, 400, 1000}},
				{Engine: "libaio/C", Backend: "libaio", Name: "C", IsC: true, Status: StatusMissing, Error: "bench: C bench program not available:\tno file"},
				{Engine: "libaio/raw", Backend: "libaio", Name: "raw", Status: StatusOK, OpsPerSec: []float64{330}},
				{Engine: "posixaio/handle", Backend: "posixaio", Name: "handle", Status: StatusError, Error: "EINVAL", OpsPerSec: []float64{1}},
			}},
			{Row: Row{Name: RowName(OpNop, false, 1, 1), Op: OpNop, QD: 1, Fds: 1}, Engines: []EngineResult{
				{Engine: "uring/C", Backend: "uring", Name: "C", IsC: true, Status: StatusOK, OpsPerSec: []float64{1000}},
				{Engine: "uring/raw", Backend: "uring", Name: "raw", Status: StatusOK, OpsPerSec: []float64{500}},
			}},
		},
	}
	for i := range r.Rows {
		r.Rows[i].Summarize()
	}
	return r
}

func TestSummarize(t *testing.T) {
	r := testReport()
	e := r.Rows[0].Engines
	if e[0].Median != 110 || e[0].VsC != nil || e[0].VsBaseline != nil || e[0].MedianAllocs != 0 {
		t.Errorf("baseline: %+v", e[0])
	}
	// Ratios are medians of per-repetition ratios: C/baseline 4, 3.42, 3.55.
	if e[1].VsC != nil || e[1].VsBaseline == nil || *e[1].VsBaseline != 390.0/110 {
		t.Errorf("uring/C: %+v", e[1])
	}
	// raw/C 0.95, 0.976, 2.56; raw/baseline 3.8, 3.33, 9.09.
	if e[2].Median != 400 || *e[2].VsC != 400.0/410 || *e[2].VsBaseline != 380.0/100 || math.Abs(e[2].Spread-620.0/400) > 1e-12 {
		t.Errorf("uring/raw: %+v", e[2])
	}
	// One repetition against three: the ratio of the medians.
	if e[4].VsC != nil || *e[4].VsBaseline != 3 {
		t.Errorf("libaio/raw (C reference missing): %+v", e[4])
	}
	if e[5].Median != 0 || e[5].VsBaseline != nil {
		t.Errorf("errored engine got numbers: %+v", e[5])
	}
	n := r.Rows[1].Engines
	if *n[1].VsC != 0.5 || n[1].VsBaseline != nil {
		t.Errorf("nop uring/raw: vs C %v, vs baseline %v", n[1].VsC, n[1].VsBaseline)
	}
}

func TestWriteTextAndJSON(t *testing.T) {
	r := testReport()
	r.Notes = []string{"O_DIRECT rows skipped: no device\nhere"}
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var table []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			table = append(table, l)
		}
	}
	if got := strings.Fields(table[0]); strings.Join(got, " ") != strings.Join(TableColumns, " ") {
		t.Errorf("header %q", table[0])
	}
	want := [][]string{
		{"read4k/direct/qd32", "goroutines/readat", "110", "18.2%", "0.00", "-", "-"},
		{"read4k/direct/qd32", "uring/C", "400", "5.0%", "-", "ref", "3.55"},
		{"read4k/direct/qd32", "uring/raw", "400", "155.0%", "0.00", "0.98", "3.80"},
		{"read4k/direct/qd32", "libaio/C", "-", "-", "-", "-", "-", "missing:", "bench:", "C", "bench", "program", "not", "available:", "no", "file"},
		{"read4k/direct/qd32", "libaio/raw", "330", "0.0%", "0.00", "-", "3.00"},
		{"read4k/direct/qd32", "posixaio/handle", "-", "-", "-", "-", "-", "error:", "EINVAL"},
		{"nop/qd1", "uring/C", "1000", "0.0%", "-", "ref", "-"},
		{"nop/qd1", "uring/raw", "500", "0.0%", "0.00", "0.50", "-"},
	}
	if len(table) != len(want)+1 {
		t.Fatalf("table has %d lines, want %d:\n%s", len(table), len(want)+1, out)
	}
	for i, w := range want {
		if got := strings.Fields(table[i+1]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want %q", i+1, got, w)
		}
	}
	for _, s := range []string{"kernel 6.18", "ext4 on /dev/vda", "direct 1 GiB, page cache 256 MiB", "3 reps x 300ms", "\n# note: O_DIRECT rows skipped: no device | here\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("header lacks %q:\n%s", s, out)
		}
	}

	buf.Reset()
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Rows[0].Engines[2].Median != 400 || *back.Rows[0].Engines[2].VsC != 400.0/410 || back.Rows[0].Engines[0].VsC != nil || back.System.DirFS != "ext4" || len(back.Notes) != 1 || back.Notes[0] != r.Notes[0] {
		t.Errorf("JSON round trip lost data: %+v", back.Rows[0].Engines[2])
	}
	if back.Schema != ReportSchema {
		t.Errorf("schema read back %d, want %d", back.Schema, ReportSchema)
	}
	// A report of a newer schema is refused by name; one from before the
	// field (no "schema") reads as 0.
	buf.Reset()
	WriteJSON(&buf, &Report{Schema: ReportSchema + 1, Rows: r.Rows})
	if _, err := ReadJSON(&buf); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("report of schema %d: %v, want refused as newer", ReportSchema+1, err)
	}
	// A newer schema that also adds a field is refused as newer, not for
	// the field this reader does not know.
	buf.Reset()
	WriteJSON(&buf, &Report{Schema: ReportSchema + 1, Rows: r.Rows})
	added := strings.Replace(buf.String(), "{", `{"added_later": true,`, 1)
	if _, err := ReadJSON(strings.NewReader(added)); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("report of schema %d with a new field: %v, want refused as newer", ReportSchema+1, err)
	}
	buf.Reset()
	WriteJSON(&buf, r)
	old := strings.Replace(buf.String(), fmt.Sprintf("\"schema\": %d,", ReportSchema), "", 1)
	if old == buf.String() {
		t.Fatalf("no schema field in %s", old)
	}
	if back, err := ReadJSON(strings.NewReader(old)); err != nil || back.Schema != 0 {
		t.Errorf("report without a schema field: %v, schema %v", err, back)
	}
}

// Degenerate samples never put NaN into the JSON (which would not encode).
func TestSummarizeDegenerate(t *testing.T) {
	r := &Report{Rows: []RowResult{{Row: Row{Name: "nop/qd1", Op: OpNop}, Engines: []EngineResult{
		{Engine: "a/b", Backend: "a", Name: "b", Status: StatusOK, OpsPerSec: []float64{0, 0}, AllocsPerOp: []float64{math.NaN()}},
		{Engine: "a/C", Backend: "a", Name: "C", IsC: true, Status: StatusOK, OpsPerSec: []float64{0}},
	}}}}
	r.Rows[0].Summarize()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if e := r.Rows[0].Engines[0]; e.Spread != 0 || e.MedianAllocs != 0 || e.VsC != nil {
		t.Errorf("degenerate engine: %+v", e)
	}
}

func TestRowNameFormatBytes(t *testing.T) {
	for _, c := range [][2]string{
		{RowName(OpNop, false, 32, 1), "nop/qd32"},
		{RowName(OpRead4k, false, 1, 1), "read4k/cache/qd1"},
		{RowName(OpRead4k, true, 128, 128), "read4k/direct/qd128/fds128"},
		{FormatBytes(1 << 30), "1 GiB"}, {FormatBytes(3 << 20), "3 MiB"}, {FormatBytes(4096), "4 KiB"}, {FormatBytes(100), "100 B"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %q, want %q", c[0], c[1])
		}
	}
}

// Every NOTE starts in the header's NOTE column, also on a line away from
// the header (tabwriter aligned such a line on its own: the cell before NOTE
// ended with a tab only there), no line ends in blanks, and a C program that
// is not the reference (posixaio/C-sigev-thread) shows no ALLOCS/OP (it
// showed the Go side's of RunC).
func TestWriteTextNoteColumn(t *testing.T) {
	r := testReport()
	r.Rows[1].Engines = append(r.Rows[1].Engines,
		EngineResult{Engine: "posixaio/C-sigev-thread", Backend: "posixaio", Name: "C-sigev-thread", Status: StatusOK, OpsPerSec: []float64{50}, AllocsPerOp: []float64{0.01}},
		EngineResult{Engine: "uring/handle", Backend: "uring", Name: "handle", Status: StatusError, Error: "EBUSY"})
	r.Rows[1].Summarize()
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	col, notes := -1, 0
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.HasSuffix(l, " ") {
			t.Errorf("line ends in blanks: %q", l)
		}
		if strings.HasPrefix(l, "ROW") {
			col = strings.Index(l, "NOTE")
		}
		for _, s := range []string{StatusMissing + ":", StatusError + ":"} {
			if i := strings.Index(l, s); i >= 0 {
				notes++
				if i != col {
					t.Errorf("NOTE at column %d, the header's at %d:\n%s", i, col, buf.String())
				}
			}
		}
		if f := strings.Fields(l); len(f) > 4 && f[1] == "posixaio/C-sigev-thread" && f[4] != "-" {
			t.Errorf("ALLOCS/OP of a C program: %q", l)
		}
	}
	if col < 0 || notes != 3 {
		t.Errorf("header NOTE at %d, %d notes:\n%s", col, notes, buf.String())
	}
}
