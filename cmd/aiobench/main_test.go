package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
)

// TestMain runs aiobench itself instead of the tests in a child started with
// testutil.SelfCommand: the signal tests interrupt a real process that way.
func TestMain(m *testing.M) { testutil.MainOrRun(m, run) }

// SIGINT, SIGTERM or SIGHUP while the data file is written, or while a row is
// measured, removes what the run made in -dir (the finished data file stays
// with -keep) and exits 128+signal.
func TestSignalRemovesFiles(t *testing.T) {
	row := []string{"-v", "-warmup=false", "-reps", "1", "-filter", `^read4k/direct/qd1 goroutines/`}
	writing := func(dir string, _ *bufio.Scanner) {
		// The temporary file PrepareFile writes the 1 GiB into.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if m, _ := filepath.Glob(filepath.Join(dir, ".aiobench-*.tmp")); len(m) > 0 {
				return
			}
		}
		t.Error("no .aiobench-*.tmp appeared")
	}
	measuring := func(_ string, stderr *bufio.Scanner) {
		// -v says when the data file is ready; the row runs for 30 s.
		for stderr.Scan() {
			if strings.Contains(stderr.Text(), "data file") {
				time.Sleep(50 * time.Millisecond)
				return
			}
		}
		t.Error("no \"data file ... ready\" line on stderr")
	}
	for _, c := range []struct {
		name string
		args []string
		sig  syscall.Signal
		when func(dir string, stderr *bufio.Scanner)
		left string // what must remain in -dir
	}{
		{"writing", append([]string{"-size", "1GiB", "-dur", "30s"}, row...), syscall.SIGINT, writing, ""},
		{"writing-keep", append([]string{"-size", "1GiB", "-dur", "30s", "-keep"}, row...), syscall.SIGTERM, writing, ""},
		{"measuring", append([]string{"-size", "8MiB", "-dur", "30s"}, row...), syscall.SIGTERM, measuring, ""},
		{"measuring-keep", append([]string{"-size", "8MiB", "-dur", "30s", "-keep"}, row...), syscall.SIGINT, measuring, bench.DataFileName(8 << 20)},
		// A hangup (the terminal or ssh session gone) killed the run and left the files.
		{"measuring-hangup", append([]string{"-size", "8MiB", "-dur", "30s"}, row...), syscall.SIGHUP, measuring, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.sig == syscall.SIGHUP && signal.Ignored(c.sig) {
				t.Skip("SIGHUP is ignored here (nohup), and so in aiobench")
			}
			dir := testutil.TempDir(t)
			cmd := testutil.SelfCommand(append(c.args, "-dir", dir)...)
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(pipe)
			c.when(dir, sc)
			// Another aiobench's temporary file, made during this run: the
			// interrupted one must leave it alone.
			foreign := filepath.Join(dir, fmt.Sprintf(".aiobench-%d-other.tmp", os.Getpid()))
			if err := os.WriteFile(foreign, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd.Process.Signal(c.sig)
			var rest strings.Builder
			for sc.Scan() {
				rest.WriteString(sc.Text() + "\n")
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(c.sig) {
				t.Errorf("exit %v, want status %d\n%s", err, 128+int(c.sig), rest.String())
			}
			if !strings.Contains(rest.String(), "interrupted") {
				t.Errorf("stderr does not say it was interrupted:\n%s", rest.String())
			}
			if err := os.Remove(foreign); err != nil {
				t.Errorf("another process's temporary file: %v", err)
			}
			var names []string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != c.left {
				t.Errorf("left in -dir: %q, want %q", names, c.left)
			}
		})
	}
}

// cBuildProbe names, for each backend with a C engine, a cross-check
// program (testdata/c) that needs the same compiler, headers and library as
// its bench program: when it builds, the bench program must build too.
var cBuildProbe = map[string]string{
	"uring":    "uring_xcheck_rw",
	"libaio":   "libaio_xcheck_rw",
	"posixaio": "posixaio_xcheck_basic",
}

// A quick run of every registered engine: the JSON parses, every planned row
// is there, the baseline ran in every read row, and no engine failed, C
// engines included: a "missing" C engine fails its backend's subtest, which
// says whether the backend's cross-check program builds here (then the bench
// program is to blame) or not (the toolchain).
func TestQuickJSON(t *testing.T) {
	dir := testutil.TempDir(t)
	var out, errb bytes.Buffer
	if code := run([]string{"-quick", "-json", "-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("aiobench -quick -json: exit %d\n%s", code, errb.String())
	}
	r, err := bench.ReadJSON(&out)
	if err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, out.String())
	}
	if r.System.Kernel == "" || r.System.CPUs < 1 || r.System.DirFS == "" || r.System.DirFS == "unknown" || r.System.Dir != dir {
		t.Errorf("system facts incomplete: %+v", r.System)
	}
	if !r.Config.Quick || r.Config.Reps != 2 || r.Config.DurMS != 25 {
		t.Errorf("config: %+v", r.Config)
	}
	planned := plan(matrix(), bench.Engines(), nil)
	if len(r.Rows) != len(planned) {
		t.Fatalf("%d rows in the report, %d planned", len(r.Rows), len(planned))
	}
	baselineRows := 0
	type cMissing struct {
		rows    []string        // "row engine"
		reasons map[string]bool // their errors
	}
	missing := map[string]*cMissing{} // by backend
	for i, row := range r.Rows {
		if row.Name != planned[i].row.Name || len(row.Engines) != len(planned[i].engines) {
			t.Errorf("row %d = %s with %d engines, planned %s with %d", i, row.Name, len(row.Engines), planned[i].row.Name, len(planned[i].engines))
		}
		for _, e := range row.Engines {
			switch e.Status {
			case bench.StatusOK:
				if len(e.OpsPerSec) != 2 || e.Median <= 0 || len(e.AllocsPerOp) != 2 {
					t.Errorf("%s %s: %d samples, median %v", row.Name, e.Engine, len(e.OpsPerSec), e.Median)
				}
			case bench.StatusMissing:
				// The engines that run a C program: each backend's reference
				// (IsC) and the other C programs (posixaio/C-sigev-thread).
				cProgram := e.IsC || e.Name == "C" || strings.HasPrefix(e.Name, "C-")
				if !cProgram || !strings.Contains(e.Error, bench.ErrNoCProgram.Error()) {
					t.Errorf("%s %s: missing but not a C engine, or not for a missing C program: %+v", row.Name, e.Engine, e)
				}
				m := missing[e.Backend]
				if m == nil {
					m = &cMissing{reasons: map[string]bool{}}
					missing[e.Backend] = m
				}
				m.rows = append(m.rows, row.Name+" "+e.Engine)
				m.reasons[e.Error] = true
			default:
				t.Errorf("%s %s: %s: %s", row.Name, e.Engine, e.Status, e.Error)
			}
			if e.Engine == bench.BaselineBackend+"/"+bench.BaselineName {
				baselineRows++
				if e.Status != bench.StatusOK {
					t.Errorf("baseline failed in %s", row.Name)
				}
			} else if e.Status == bench.StatusOK && row.Op == bench.OpRead4k && e.VsBaseline == nil {
				t.Errorf("%s %s: no ratio to the baseline", row.Name, e.Engine)
			}
			if e.Status == bench.StatusOK && !e.IsC && e.VsC == nil {
				for _, o := range row.Engines {
					if o.IsC && o.Backend == e.Backend && o.Status == bench.StatusOK {
						t.Errorf("%s %s: no ratio to its C reference", row.Name, e.Engine)
					}
				}
			}
		}
	}
	if baselineRows != 10 {
		t.Errorf("baseline ran in %d rows, want the 10 read4k rows", baselineRows)
	}
	backends := make([]string, 0, len(missing))
	for b := range missing {
		backends = append(backends, b)
	}
	sort.Strings(backends)
	for _, b := range backends {
		m := missing[b]
		reasons := make([]string, 0, len(m.reasons))
		for r := range m.reasons {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		what := fmt.Sprintf("%d %s C engine rows missing (%s), because:\n%s", len(m.rows), b, strings.Join(m.rows, ", "), strings.Join(reasons, "\n"))
		t.Run("C "+b, func(t *testing.T) {
			probe, ok := cBuildProbe[b]
			if !ok {
				t.Fatalf("no build probe for backend %s: %s", b, what)
			}
			// make check needs the C toolchain anyway (every package's
			// cross-checks build C programs), so a missing C engine fails;
			// the probe's build says whether the toolchain or the bench
			// program is to blame.
			if _, err := xcheck.BuildErr(probe); err != nil {
				t.Fatalf("%s; the cross-check program %s does not build either: %v", what, probe, err)
			}
			t.Errorf("%s builds here, but %s", probe, what)
		})
	}
}

var tableLine = regexp.MustCompile(`^(\S+)\s+(\S+/\S+)\s+(\d+)\s+(\d+\.\d%)\s+(\d+\.\d\d)\s+(-|ref|\d+\.\d\d)\s+(-|\d+\.\d\d)$`)

// The text table of a filtered quick run parses line by line.
func TestQuickText(t *testing.T) {
	dir := testutil.TempDir(t)
	var out, errb bytes.Buffer
	code := run([]string{"-quick", "-reps", "3", "-filter", `^read4k/(cache|direct)/qd(1|32) goroutines/`, "-dir", dir, "-v"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	var rows []string
	header := false
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "ROW"):
			header = true
			if strings.Join(strings.Fields(l), " ") != strings.Join(bench.TableColumns, " ") {
				t.Errorf("header %q", l)
			}
		default:
			m := tableLine.FindStringSubmatch(strings.TrimSpace(l))
			if m == nil {
				t.Errorf("line does not parse: %q", l)
				continue
			}
			if ops, _ := strconv.Atoi(m[3]); ops <= 0 || m[2] != "goroutines/readat" {
				t.Errorf("line %q", l)
			}
			rows = append(rows, m[1])
		}
	}
	want := []string{"read4k/cache/qd1", "read4k/cache/qd32", "read4k/direct/qd1", "read4k/direct/qd32"}
	if !header || strings.Join(rows, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v\n%s", rows, want, out.String())
	}
	if !strings.Contains(out.String(), "3 reps x 25ms") || !strings.Contains(errb.String(), "rep 2:") {
		t.Errorf("reps not honoured:\n%s\n%s", out.String(), errb.String())
	}
	// Data files are removed without -keep.
	if m, _ := os.ReadDir(dir); len(m) != 0 {
		t.Errorf("files left in -dir: %v", m)
	}
}

func TestUsageErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "file")
	if err := os.WriteFile(file, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-bogus"}, {"-filter", "("}, {"-reps", "0"}, {"-dur", "0s"}, {"-size", "1000"}, {"-cachesize", "x"}, {"extra"},
		// Sub-millisecond durations (the C programs round them up), an
		// empty -dir (was the working directory) or -render (ran the benchmark).
		{"-dur", "1ns"}, {"-dur", "1500us"}, {"-dir", "", "-list"}, {"-render", ""}, {"-render", "", "-list"},
		// An explicit -cbin must hold the C programs, -list or not.
		{"-cbin", "/nonexistent-aiokit"}, {"-cbin", file, "-list"}, {"-cbin", empty, "-quick"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("aiobench %q: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
	for _, h := range []string{"-h", "-help", "--help"} {
		var out, errb bytes.Buffer
		if code := run([]string{h}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-filter") {
			t.Errorf("aiobench %s: exit %d, stderr %q; want 0 (flag.ExitOnError's) and the usage", h, code, errb.String())
		}
	}
	for _, args := range [][]string{{"-quick", "-filter", "no-such-engine"}, {"-list", "-filter", "no-such-engine"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no engine matches") {
			t.Errorf("aiobench %q: exit %d, %q; want 1", args, code, errb.String())
		}
	}
}

// failWriter fails every write, like a full disk (/dev/full).
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// Output that cannot be written is an error (exit 1), not a silent success.
func TestWriteErrors(t *testing.T) {
	report := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(report, []byte(`{"system":{},"config":{},"rows":[{"row":"nop/qd1","op":"nop","qd":1,"fds":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-list"}, {"-render", report}} {
		var errb bytes.Buffer
		if code := run(args, io.Discard, &errb); code != 0 {
			t.Fatalf("aiobench %q: exit %d: %s", args, code, errb.String())
		}
		if code := run(args, failWriter{}, &errb); code != 1 || !strings.Contains(errb.String(), "no space left") {
			t.Errorf("aiobench %q > /dev/full: exit %d, stderr %q; want 1 and the error", args, code, errb.String())
		}
	}
}

// A run in which no engine measured anything exits 1 (after the report).
func TestEveryEngineFailed(t *testing.T) {
	cbin := t.TempDir()
	if err := os.WriteFile(filepath.Join(cbin, "bench_uring"), []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-quick", "-reps", "1", "-cbin", cbin, "-filter", `^nop/qd1 uring/C$`}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no engine ran") || !strings.Contains(out.String(), "error:") {
		t.Errorf("exit %d; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

// cProgramNames are the programs of testdata/c/bench_*.c.
func TestCProgramNames(t *testing.T) {
	root, err := xcheck.Root()
	if err != nil {
		t.Fatal(err)
	}
	srcs, _ := filepath.Glob(filepath.Join(root, "testdata", "c", "bench_*.c"))
	var names []string
	for _, src := range srcs {
		names = append(names, strings.TrimSuffix(filepath.Base(src), ".c"))
	}
	if strings.Join(names, " ") != strings.Join(cProgramNames, " ") {
		t.Errorf("testdata/c has %q, cProgramNames %q", names, cProgramNames)
	}
}

// On tmpfs the O_DIRECT rows are skipped with a note (direct reads would not
// reach a device); the NOP and page-cache rows still run. A run left with
// nothing to do fails.
func TestTmpfsDir(t *testing.T) {
	dir := testutil.TmpfsDir(t)
	var out, errb bytes.Buffer
	code := run([]string{"-quick", "-json", "-reps", "1", "-filter", `^(nop/qd1 uring/raw|read4k/.*/qd1 goroutines/)`, "-dir", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("-dir on tmpfs: exit %d\n%s", code, errb.String())
	}
	r, err := bench.ReadJSON(&out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, row := range r.Rows {
		rows = append(rows, row.Name)
		for _, e := range row.Engines {
			if e.Status != bench.StatusOK {
				t.Errorf("%s %s: %s %s", row.Name, e.Engine, e.Status, e.Error)
			}
		}
	}
	if got, want := strings.Join(rows, " "), "nop/qd1 read4k/cache/qd1"; got != want && got != "read4k/cache/qd1" {
		t.Errorf("rows %q, want %q (nop/qd1 only where io_uring works)", got, want)
	}
	if len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "O_DIRECT row skipped") || !strings.Contains(r.Notes[0], "-dir on a disk filesystem") ||
		!strings.Contains(errb.String(), "note: 1 O_DIRECT row skipped") {
		t.Errorf("no note on the skipped O_DIRECT rows: notes %q, stderr %q", r.Notes, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left in -dir: %v", ents)
	}
	out.Reset()
	errb.Reset()
	code = run([]string{"-quick", "-filter", `^read4k/direct/qd1 goroutines/`, "-dir", dir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "O_DIRECT row skipped") || !strings.Contains(errb.String(), "nothing left to run") {
		t.Errorf("only O_DIRECT rows on tmpfs: exit %d, %q", code, errb.String())
	}
}

// -list -json prints the same plan as a JSON array of {row, engines}.
func TestListJSON(t *testing.T) {
	var text, js, errb bytes.Buffer
	if code := run([]string{"-list", "-filter", "fds128 "}, &text, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if code := run([]string{"-list", "-json", "-filter", "fds128 "}, &js, &errb); code != 0 {
		t.Fatalf("-json: exit %d: %s", code, errb.String())
	}
	var rows []struct {
		Row     string   `json:"row"`
		Engines []string `json:"engines"`
	}
	if err := json.Unmarshal(js.Bytes(), &rows); err != nil {
		t.Fatalf("-list -json output is not JSON: %v\n%s", err, js.String())
	}
	var back []string
	for _, r := range rows {
		back = append(back, r.Row+"\t"+strings.Join(r.Engines, " "))
	}
	if got, want := strings.Join(back, "\n"), strings.TrimSpace(text.String()); got != want {
		t.Errorf("-list -json says\n%s\nwhere -list says\n%s", got, want)
	}
}

func TestList(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-list", "-filter", "fds128 "}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("-list -filter fds128: %d lines, want 4:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		name, engines, _ := strings.Cut(l, "\t")
		if !strings.HasSuffix(name, "/fds128") || !strings.Contains(engines, "goroutines/readat") {
			t.Errorf("line %q", l)
		}
		for _, e := range strings.Fields(engines) {
			if !strings.HasPrefix(e, "posixaio/") && !strings.HasPrefix(e, "goroutines/") {
				t.Errorf("fds row %s runs %s", name, e)
			}
		}
	}
}

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "8M": 8 << 20, "4096": 4096, "64 KiB": 64 << 10} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-4096", "1000", "1.5GiB", "xMiB", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, b)
		}
	}
}

func TestMountOf(t *testing.T) {
	if fstype, src := mountOf("/proc/self"); fstype != "proc" {
		t.Errorf("mountOf(/proc/self) = %s %s, want proc", fstype, src)
	}
	if got := unescapeMount(`/mnt/a\040b`); got != "/mnt/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
}

// An engine that never returns is reported as hung; the row still completes.
func TestHungEngine(t *testing.T) {
	old := hangSlack
	hangSlack = 100 * time.Millisecond
	defer func() { hangSlack = old }()
	block := make(chan struct{})
	defer close(block)
	hung := bench.Engine{Backend: "test", Name: "hung", Supports: func(bench.Spec) bool { return true },
		Run: func(bench.Spec) (bench.Result, error) { <-block; return bench.Result{}, nil }}
	fine := bench.Engine{Backend: "test", Name: "fine", Supports: func(bench.Spec) bool { return true },
		Run: func(s bench.Spec) (bench.Result, error) { return bench.Result{Ops: 10, Elapsed: s.Dur}, nil }}
	row := bench.Row{Name: "nop/qd1", Op: bench.OpNop, QD: 1, Fds: 1}
	rr := runRow(plannedRow{row: row, engines: []bench.Engine{hung, fine}}, runConfig{reps: 2, dur: 10 * time.Millisecond, seed: 1})
	if rr.Engines[0].Status != bench.StatusError || !strings.Contains(rr.Engines[0].Error, "hung") {
		t.Errorf("hung engine: %+v", rr.Engines[0])
	}
	if rr.Engines[1].Status != bench.StatusOK || rr.Engines[1].Median != 1000 {
		t.Errorf("healthy engine: %+v", rr.Engines[1])
	}
}

// Files that were already in -dir are reused and left alone; files the run
// created are removed unless -keep.
func TestDataFilesKeptOrRemoved(t *testing.T) {
	dir := testutil.TempDir(t)
	args := []string{"-quick", "-reps", "1", "-filter", `^read4k/(cache|direct)/qd1 goroutines/`, "-dir", dir}
	var out, errb bytes.Buffer
	if code := run(append(args, "-keep"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	names := func() []string {
		ents, _ := os.ReadDir(dir)
		var n []string
		for _, e := range ents {
			n = append(n, e.Name())
		}
		return n
	}
	want := bench.DataFileName(4<<20) + " " + bench.DataFileName(8<<20)
	if got := strings.Join(names(), " "); got != want {
		t.Fatalf("after -keep: %q, want %q", got, want)
	}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Join(names(), " "); got != want {
		t.Errorf("a run without -keep removed files it reused: %q", got)
	}
}

// otherCPU sees CPU time burnt by another process, and not our own.
func TestOtherCPU(t *testing.T) {
	a := sampleCPU()
	if !a.ok {
		t.Fatal("cannot read /proc/stat or /proc/self/stat")
	}
	// Burn CPU in this process only until its own CPU time has grown by 10
	// ticks (100 ms): on a busy VM (steal time, other processes) that takes
	// longer than 100 ms of wall time, so the deadline only bounds a
	// sampleCPU that never sees this process's time grow.
	const ticks = 10
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	b := sampleCPU()
	for b.self-a.self < ticks && time.Now().Before(deadline) {
		for i := 0; i < 1e6; i++ {
			x++
		}
		b = sampleCPU()
	}
	if !b.ok || b.self-a.self < ticks {
		t.Fatalf("own CPU time grew by %d ticks in 10 s of spinning, want %d (sample ok %v)", b.self-a.self, ticks, b.ok)
	}
	if o := otherCPU(a, b); o < 0 || o > 1 {
		t.Errorf("otherCPU = %v, want a share in [0,1]", o)
	}
	if o := otherCPU(b, a); o != 0 {
		t.Errorf("otherCPU with samples swapped = %v, want 0", o)
	}
	_ = x
}

// An installed aiobench finds the C programs in ../libexec/aiokit, through
// a symlink to it too.
func TestInstalledCDir(t *testing.T) {
	prefix := t.TempDir()
	bin, libexec := filepath.Join(prefix, "bin"), filepath.Join(prefix, "libexec", "aiokit")
	for _, d := range []string{bin, libexec} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(bin, "aiobench")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if d, ok := installedCDir(exe); ok || d != libexec {
		t.Errorf("empty libexec: installedCDir = %q, %v; want %q, false", d, ok, libexec)
	}
	if err := os.WriteFile(filepath.Join(libexec, "bench_uring"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "aiobench")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{exe, link} {
		if d, ok := installedCDir(e); !ok || d != libexec {
			t.Errorf("installedCDir(%s) = %q, %v; want %q, true", e, d, ok, libexec)
		}
	}
	if d, ok := installedCDir(""); ok || d != "" {
		t.Errorf(`installedCDir("") = %q, %v`, d, ok)
	}
}

// $AIOKIT_CBIN is checked like -cbin and wins over the in-tree build.
func TestCBinEnv(t *testing.T) {
	t.Setenv(bench.CDirEnv, t.TempDir())
	var out, errb bytes.Buffer
	if code := run([]string{"-list"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "$"+bench.CDirEnv) {
		t.Errorf("empty $%s: exit %d, %q; want 2", bench.CDirEnv, code, errb.String())
	}
	cbin := t.TempDir()
	if err := os.WriteFile(filepath.Join(cbin, "bench_uring"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(bench.CDirEnv, cbin)
	out.Reset()
	errb.Reset()
	code := run([]string{"-quick", "-json", "-reps", "1", "-filter", `^nop/qd1 uring/C$`}, &out, &errb)
	r, err := bench.ReadJSON(&out)
	if code != 1 || err != nil || !strings.HasPrefix(r.Config.CDir, cbin) {
		t.Errorf("$%s=%s: exit %d, report %+v, %v\n%s", bench.CDirEnv, cbin, code, r, err, errb.String())
	}
}

// The usage lines of doc.go name every flag -h lists.
func TestDocUsage(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, usage, _ := strings.Cut(string(doc), "// Usage:")
	usage, _, _ = strings.Cut(usage, "\n//\n// -filter")
	var errb bytes.Buffer
	run([]string{"-h"}, io.Discard, &errb)
	flags := regexp.MustCompile(`(?m)^  -(\w+)`).FindAllStringSubmatch(errb.String(), -1)
	if len(flags) < 15 {
		t.Fatalf("-h lists %d flags:\n%s", len(flags), errb.String())
	}
	for _, f := range flags {
		if !regexp.MustCompile(`\[-` + f[1] + `[ =\]]|aiobench -` + f[1] + ` `).MatchString(usage) {
			t.Errorf("doc.go usage lacks -%s:\n%s", f[1], usage)
		}
	}
}

// Two runs share a data file: the one that made it removes it when it ends
// (no -keep), and the other, which reused it, still reads it through its
// own link; each run's link goes at its end, interrupted or not.
func TestDataFileLinkOutlivesOtherRun(t *testing.T) {
	dir := testutil.TempDir(t)
	p := filepath.Join(dir, bench.DataFileName(4096))
	a := newScratch(dir, false)
	a.creating(p)
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	la := a.link(p)
	b := newScratch(dir, false)
	lb := b.link(p)
	if la == p || lb == p || la == lb {
		t.Fatalf("links %q and %q of %q: want two names of their own", la, lb, p)
	}
	a.remove(false)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the run that made %s left it: %v", p, err)
	}
	if got, err := os.ReadFile(lb); err != nil || string(got) != "data" {
		t.Errorf("the other run's link after the first ended: %q, %v", got, err)
	}
	c := newScratch(dir, true)
	c.link(lb)
	b.remove(false)
	c.remove(true) // interrupted, -keep: links go all the same
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in dir: %v", ents)
	}
}
