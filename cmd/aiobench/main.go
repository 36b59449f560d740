package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/cli"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// byteSize is a flag value accepting "1GiB", "256MiB", "64KiB" or bytes.
type byteSize int64

// String formats the size for flag defaults.
func (b *byteSize) String() string { return bench.FormatBytes(int64(*b)) }

// Set parses a size with an optional GiB/MiB/KiB (or G/M/K/B) suffix; it
// must be a positive multiple of 4096.
func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return fmt.Errorf("bad size %q", s)
	}
	n *= mult
	if n%bench.BlockSize != 0 {
		return fmt.Errorf("size %q is not a multiple of 4096", s)
	}
	*b = byteSize(n)
	return nil
}

// run is main without the exit: it returns 0 on success (and for -h, as Go's
// flag package does), 2 for bad usage (an explicit -cbin without the C
// programs included) and 1 when the benchmark could not run: nothing
// matched -filter (with -list too), every engine failed, or stdout could
// not be written; cli.BrokenPipe (141) when stdout was a closed pipe.
func run(args []string, stdout, stderr io.Writer) int {
	out := &cli.ErrWriter{W: stdout}
	code := runTo(args, out, stderr)
	if cli.IsBrokenPipe(out.Err) {
		return cli.BrokenPipe // `| head -1`: silent, as a SIGPIPE death is
	}
	if out.Err != nil {
		fmt.Fprintf(stderr, "aiobench: writing the output: %v\n", out.Err)
		return 1
	}
	return code
}

func runTo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aiobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: aiobench [flags]\n       aiobench -render FILE|-\n\nRuns the benchmark matrix (docs/benchmarks.md), every engine side by side with the C programs.\nExit status: 0 something was measured, 1 nothing could run or an error, 2 bad usage,\n128+signal when interrupted (the data files it made are removed first).\n\nFlags:")
		fs.PrintDefaults()
	}
	reps := fs.Int("reps", 5, "repetitions of each engine in each row (median reported)")
	dur := fs.Duration("dur", 300*time.Millisecond, "duration of one measured run (whole milliseconds: the C programs' unit)")
	filter := fs.String("filter", "", "regexp on \"<row> <backend>/<engine>\" selecting what runs")
	quick := fs.Bool("quick", false, "smoke run: 2 reps of 25ms, 8 MiB/4 MiB files, no warm-up (explicit flags win)")
	dir := fs.String("dir", os.TempDir(), "directory for the data files (the O_DIRECT rows need a disk filesystem and are skipped elsewhere, tmpfs included)")
	size := byteSize(1 << 30)
	fs.Var(&size, "size", "data file size for O_DIRECT rows")
	cacheSize := byteSize(256 << 20)
	fs.Var(&cacheSize, "cachesize", "data file size for page-cache rows (mlocked while measured)")
	cbin := fs.String("cbin", "", "directory of built C bench programs (default: $AIOKIT_CBIN; in the source tree, a go.mod of module github.com/aiokit/aio at or above the working directory, build testdata/c/bench_*.c into build/c; else ../libexec/aiokit next to the executable, which an installed aiobench also uses inside a source tree)")
	jsonOut := fs.Bool("json", false, "print JSON instead of the text table")
	seed := fs.Uint64("seed", 1, "seed of the random offsets (repetition r uses seed+r)")
	warmup := fs.Bool("warmup", true, "run every engine once for dur/3 before measuring a row")
	keep := fs.Bool("keep", false, "keep the data files in -dir for the next run (they are reused when intact)")
	verbose := fs.Bool("v", false, "progress on stderr")
	list := fs.Bool("list", false, "list rows and engines that would run, and exit")
	render := fs.String("render", "", "print the text table of a report saved with -json (FILE, or - for stdin), and exit; takes no other flag, and refuses anything but one report")
	if code, ok := cli.ParseFlags(fs, "aiobench", args, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "aiobench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["render"] {
		if *render == "" {
			fmt.Fprintln(stderr, "aiobench: -render: empty file name (FILE, or - for stdin)")
			return 2
		}
		if len(set) > 1 {
			fmt.Fprintln(stderr, "aiobench: -render takes no other flag (it prints a saved report as it is)")
			return 2
		}
		return renderReport(*render, stdout, stderr)
	}
	if *quick {
		if !set["reps"] {
			*reps = 2
		}
		if !set["dur"] {
			*dur = 25 * time.Millisecond
		}
		if !set["size"] {
			size = 8 << 20
		}
		if !set["cachesize"] {
			cacheSize = 4 << 20
		}
		if !set["warmup"] {
			*warmup = false
		}
	}
	if *reps < 1 || *dur <= 0 {
		fmt.Fprintln(stderr, "aiobench: -reps must be >= 1 and -dur > 0")
		return 2
	}
	if *dur%time.Millisecond != 0 {
		// The C programs take --ms: they would run longer than the Go engines.
		fmt.Fprintf(stderr, "aiobench: -dur %v: want whole milliseconds (the C programs run for whole milliseconds)\n", *dur)
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "aiobench: -dir: empty directory name")
		return 2
	}
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			fmt.Fprintf(stderr, "aiobench: -filter: %v\n", err)
			return 2
		}
	}

	if *cbin != "" {
		if err := checkCBin(*cbin); err != nil {
			fmt.Fprintf(stderr, "aiobench: -cbin: %v\n", err)
			return 2
		}
	} else if env := os.Getenv(bench.CDirEnv); env != "" {
		if err := checkCBin(env); err != nil {
			fmt.Fprintf(stderr, "aiobench: $%s: %v\n", bench.CDirEnv, err)
			return 2
		}
	}

	planned := plan(matrix(), bench.Engines(), re)
	if len(planned) == 0 {
		fmt.Fprintf(stderr, "aiobench: no engine matches -filter %q\n", *filter)
		return 1
	}
	if *list {
		type listed struct {
			Row     string   `json:"row"`
			Engines []string `json:"engines"`
		}
		var rows []listed
		for _, pr := range planned {
			var ids []string
			for _, e := range pr.engines {
				ids = append(ids, e.ID())
			}
			rows = append(rows, listed{pr.row.Name, ids})
		}
		if *jsonOut {
			b, _ := json.MarshalIndent(rows, "", "  ")
			if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
				return 1
			}
			return 0
		}
		for _, r := range rows {
			fmt.Fprintf(stdout, "%s\t%s\n", r.Row, strings.Join(r.Engines, " "))
		}
		return 0
	}
	var logw io.Writer
	if *verbose {
		logw = stderr
	}

	absDir, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}
	cdir, err := setupC(*cbin, logw)
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}

	report := &bench.Report{
		Schema: bench.ReportSchema,
		System: systemFacts(absDir),
		Config: bench.Config{
			Reps: *reps, DurMS: float64(*dur) / float64(time.Millisecond), Warmup: *warmup,
			DirectSize: int64(size), CacheSize: int64(cacheSize), Seed: *seed,
			Filter: *filter, Quick: *quick, CDir: cdir, Tags: buildTags,
		},
	}
	sc := newScratch(absDir, *keep)
	defer sc.watchSignals(stderr)()
	planned, fl, resident, notes, cleanupFiles, err := prepareFiles(absDir, planned, int64(size), int64(cacheSize), sc, logw)
	for _, n := range notes {
		fmt.Fprintf(stderr, "aiobench: note: %s\n", n)
	}
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}
	defer cleanupFiles()
	// The report names only the data files this run has (none for rows it
	// skipped or does not run).
	if fl.direct == "" {
		report.Config.DirectSize = 0
	}
	if fl.cache == "" {
		report.Config.CacheSize = 0
	}
	if len(planned) == 0 {
		fmt.Fprintln(stderr, "aiobench: nothing left to run")
		return 1
	}
	report.Notes = notes

	cfg := runConfig{reps: *reps, dur: *dur, warmup: *warmup, seed: *seed, files: fl, log: logw}
	cpu0 := sampleCPU()
	for _, pr := range planned {
		if !pr.row.Direct && pr.row.Op == bench.OpRead4k && resident != nil {
			if in, total, err := resident.Check(); err != nil || in != total {
				fmt.Fprintf(stderr, "aiobench: page-cache file not resident before %s: %d of %d pages, %v\n", pr.row.Name, in, total, err)
				return 1
			}
		}
		report.Rows = append(report.Rows, runRow(pr, cfg))
	}
	report.System.OtherCPU = otherCPU(cpu0, sampleCPU())
	if *jsonOut {
		err = bench.WriteJSON(stdout, report)
	} else {
		err = bench.WriteText(stdout, report)
	}
	if err != nil {
		if !outputFailed(stdout) { // else run reports it, once
			fmt.Fprintf(stderr, "aiobench: %v\n", err)
		}
		return 1
	}
	if !anyOK(report.Rows) {
		fmt.Fprintln(stderr, "aiobench: no engine ran: every one failed or is missing (see the NOTE column)")
		return 1
	}
	return 0
}

// installedCDir returns exe's ../libexec/aiokit (symlinks resolved), the
// layout of make install (BINDIR $(PREFIX)/bin, LIBEXECDIR
// $(PREFIX)/libexec/aiokit), and whether it holds C bench programs.
func installedCDir(exe string) (dir string, ok bool) {
	if exe == "" {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	dir = filepath.Join(filepath.Dir(exe), "..", "libexec", "aiokit")
	return dir, len(cPrograms(dir)) > 0
}

// anyOK reports whether some engine of some row has a measurement.
func anyOK(rows []bench.RowResult) bool {
	for _, r := range rows {
		for _, e := range r.Engines {
			if e.Status == bench.StatusOK {
				return true
			}
		}
	}
	return false
}

// cProgramNames are the C reference programs the engines run
// (testdata/c/bench_*.c, built by make cprogs or setupC).
var cProgramNames = []string{"bench_libaio", "bench_posixaio", "bench_posixaio_thread", "bench_uring"}

// cPrograms returns the C bench programs (cProgramNames) that are
// executable regular files in dir.
func cPrograms(dir string) []string {
	var progs []string
	for _, name := range cProgramNames {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			progs = append(progs, p)
		}
	}
	return progs
}

// checkCBin verifies that an explicit -cbin is a directory holding C bench
// programs (make cprogs builds them into build/c; make install puts them in
// $(PREFIX)/libexec/aiokit).
func checkCBin(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if len(cPrograms(dir)) == 0 {
		return fmt.Errorf("%s holds none of the C bench programs (%s): build them with `make cprogs` (into build/c)", dir, strings.Join(cProgramNames, " "))
	}
	return nil
}

// setupC points bench.RunC at the C programs, found in the first of:
//
//   - -cbin (already checked by checkCBin);
//   - $AIOKIT_CBIN (bench.CDirEnv), checked the same way by run;
//   - in the source tree (internal/xcheck.Root finds its go.mod above the
//     working directory): every testdata/c/bench_*.c, built into build/c
//     with internal/xcheck.BuildErr, the cross-check tests' builder (it
//     reads CC and CFLAGS only, not the Makefile's CPPFLAGS and LDFLAGS, and
//     rebuilds a program that has no .key stamp, as the Makefile's have not);
//   - ../libexec/aiokit next to the aiobench executable, where make install
//     puts them (installedCDir).
//
// A program that fails to build is recorded with bench.SetCProgramError, so
// its rows say why; with none of the above every C row is "missing". It
// returns a description of the directory for the report.
func setupC(cbin string, logw io.Writer) (desc string, err error) {
	if cbin != "" {
		abs, err := filepath.Abs(cbin)
		if err != nil {
			return "", err
		}
		bench.SetCDir(abs)
		return abs, nil
	}
	if env := os.Getenv(bench.CDirEnv); env != "" {
		abs, err := filepath.Abs(env)
		if err != nil {
			return "", err
		}
		bench.SetCDir(abs)
		return abs + " ($" + bench.CDirEnv + ")", nil
	}
	root, rootErr := xcheck.Root()
	exe, _ := os.Executable()
	d, installed := installedCDir(exe)
	// Outside aiokit's source tree, and for an installed aiobench run inside
	// one (the installed GOSRCDIR has aiokit's go.mod too), the programs next
	// to the executable: nothing is built there.
	if rootErr != nil || installed && !within(exe, root) {
		if d != "" {
			// Missing programs are reported with the path looked at.
			bench.SetCDir(d)
		}
		if installed {
			return d, nil
		}
		return "none (not in the source tree, none in " + d + ", no -cbin or $" + bench.CDirEnv + ")", nil
	}
	srcs, err := filepath.Glob(filepath.Join(root, "testdata", "c", "bench_*.c"))
	if err != nil {
		return "", err
	}
	built, failed := 0, 0
	dir := filepath.Join(root, "build", "c")
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		bin, err := xcheck.BuildErr(name)
		if err != nil {
			failed++
			bench.SetCProgramError(name, err)
			logf(logw, "aiobench: %s does not build: %v\n", name, err)
			continue
		}
		bench.SetCProgramError(name, nil)
		dir = filepath.Dir(bin)
		built++
	}
	bench.SetCDir(dir)
	return fmt.Sprintf("%s (built %d, failed %d)", dir, built, failed), nil
}

// prepareFiles creates the data files the planned rows need and makes the
// page-cache file resident (mmap + mlock) for the whole run. Rows that cannot
// run in dir are dropped from the returned plan with a note saying why: the
// O_DIRECT rows when bench.PrepareFile's check refuses dir (O_DIRECT rejected, or
// a memory filesystem such as tmpfs where direct reads never reach a
// device), the page-cache rows when the file cannot be mlocked. The
// page-cache file needs no O_DIRECT (bench.PrepareCacheFile), so those rows
// and the NOP rows run on tmpfs too. err is for what stops the whole run (dir
// missing, a write failing). Unless -keep, cleanup removes the files this run
// created (not ones it reused); sc records them, for a signal too.
func prepareFiles(dir string, planned []plannedRow, directSize, cacheSize int64, sc *scratch, logw io.Writer) (kept []plannedRow, fl files, resident *bench.Resident, notes []string, cleanup func(), err error) {
	cleanup = func() {
		if resident != nil {
			resident.Close()
		}
		sc.remove(false)
	}
	fail := func(err error) ([]plannedRow, files, *bench.Resident, []string, func(), error) {
		cleanup()
		return nil, files{}, nil, notes, nil, err
	}
	// drop removes the read4k rows of one kind, noting why.
	drop := func(direct bool, why string) {
		var out []plannedRow
		n := 0
		for _, pr := range planned {
			if pr.row.Op == bench.OpRead4k && pr.row.Direct == direct {
				n++
				continue
			}
			out = append(out, pr)
		}
		planned = out
		kind := "page-cache"
		if direct {
			kind = "O_DIRECT"
		}
		rows := "rows"
		if n == 1 {
			rows = "row"
		}
		notes = append(notes, fmt.Sprintf("%d %s %s skipped: %s", n, kind, rows, why))
	}
	need := func(direct bool) bool {
		for _, pr := range planned {
			if pr.row.Op == bench.OpRead4k && pr.row.Direct == direct {
				return true
			}
		}
		return false
	}
	prep := func(size int64, direct bool) (string, error) {
		t0 := time.Now()
		if !bench.DataFileIntact(dir, size) {
			// Only files this run writes are removed: an intact one that
			// was there may belong to another run (kept with -keep). One
			// that is missing, or stale and rewritten now, is this run's.
			sc.creating(filepath.Join(dir, bench.DataFileName(size)))
		}
		prepare := bench.PrepareCacheFile
		if direct {
			prepare = bench.PrepareFile
		}
		p, err := prepare(dir, size)
		if err != nil {
			return "", err
		}
		logf(logw, "aiobench: data file %s (%s) ready in %v\n", p, bench.FormatBytes(size), time.Since(t0).Round(time.Millisecond))
		return sc.link(p), nil
	}
	fl.directSize, fl.cacheSize = directSize, cacheSize
	if need(true) {
		// bench.PrepareFile checks dir (bench.CheckDirect) before it writes.
		if fl.direct, err = prep(directSize, true); errors.Is(err, bench.ErrNotDiskFS) {
			drop(true, strings.TrimPrefix(err.Error(), bench.ErrNotDiskFS.Error()+": ")+"; use -dir on a disk filesystem (ext4, xfs, btrfs) for them")
		} else if err != nil {
			return fail(err)
		}
	}
	if need(false) {
		if fl.cache, err = prep(cacheSize, false); err != nil {
			return fail(err)
		}
		if resident, err = bench.MakeResident(fl.cache); err != nil {
			// Name the data file, not the run's hard link of it (gone at the end).
			why := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "bench: "),
				fl.cache, filepath.Join(filepath.Dir(fl.cache), bench.DataFileName(cacheSize)))
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) {
				why += " (raise `ulimit -l`, or run with CAP_IPC_LOCK, as root usually has)"
			}
			resident = nil
			fl.cache = "" // no page-cache row runs: the report names no such file
			drop(false, why)
		} else if fs := memoryFS(dir); fs != "" {
			notes = append(notes, "the page-cache rows read a file on "+fs+" (shared memory), not a disk filesystem's page cache")
		}
	}
	return planned, fl, resident, notes, cleanup, nil
}

// memoryFS names dir's filesystem if it keeps files only in memory (tmpfs,
// ramfs), else returns "".
func memoryFS(dir string) string {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return ""
	}
	if bench.MemoryFS(int64(st.Type)) {
		return bench.FSTypeName(int64(st.Type))
	}
	return ""
}

// renderReport prints the text table of a JSON report.
func renderReport(path string, stdout, stderr io.Writer) int {
	var in io.Reader = os.Stdin
	name := path
	if path == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "aiobench: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	r, err := bench.ReadJSON(in)
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		err = errors.New("empty, not an aiobench -json report")
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errors.New("truncated: the JSON ends early")
	case errors.As(err, &syntax):
		err = fmt.Errorf("not an aiobench -json report: %v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: -render %s: %v\n", name, err)
		return 1
	}
	for i := range r.Rows {
		r.Rows[i].Summarize()
	}
	if err := bench.WriteText(stdout, r); err != nil {
		if !outputFailed(stdout) { // else run reports it, once
			fmt.Fprintf(stderr, "aiobench: %v\n", err)
		}
		return 1
	}
	return 0
}

// outputFailed reports whether a write to stdout, the cli.ErrWriter of run,
// failed: run then reports that error (or, for a closed pipe, nothing).
func outputFailed(stdout io.Writer) bool {
	w, ok := stdout.(*cli.ErrWriter)
	return ok && w.Err != nil
}

// within reports whether path is inside dir (both made absolute, symlinks
// resolved where they exist).
func within(path, dir string) bool {
	resolve := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
