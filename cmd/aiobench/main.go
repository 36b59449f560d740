package main

import (
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

// run is main without the exit: it returns 0 on success, 2 for bad usage and
// 1 when the benchmark could not run.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aiobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 5, "repetitions of each engine in each row (median reported)")
	dur := fs.Duration("dur", 300*time.Millisecond, "duration of one measured run")
	filter := fs.String("filter", "", "regexp on \"<row> <backend>/<engine>\" selecting what runs")
	quick := fs.Bool("quick", false, "smoke run: 2 reps of 25ms, 8 MiB/4 MiB files, no warm-up (explicit flags win)")
	dir := fs.String("dir", os.TempDir(), "directory for the data files (disk filesystem with O_DIRECT)")
	size := byteSize(1 << 30)
	fs.Var(&size, "size", "data file size for O_DIRECT rows")
	cacheSize := byteSize(256 << 20)
	fs.Var(&cacheSize, "cachesize", "data file size for page-cache rows (mlocked while measured)")
	cbin := fs.String("cbin", "", "directory of built C bench programs (default: build testdata/c/bench_*.c into build/c like internal/xcheck)")
	jsonOut := fs.Bool("json", false, "print JSON instead of the text table")
	seed := fs.Uint64("seed", 1, "seed of the random offsets (repetition r uses seed+r)")
	warmup := fs.Bool("warmup", true, "run every engine once for dur/3 before measuring a row")
	keep := fs.Bool("keep", false, "keep the data files in -dir for the next run (they are reused when intact)")
	verbose := fs.Bool("v", false, "progress on stderr")
	list := fs.Bool("list", false, "list rows and engines that would run, and exit")
	render := fs.String("render", "", "print the text table of a report saved with -json (FILE, or - for stdin), and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "aiobench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *render != "" {
		return renderReport(*render, stdout, stderr)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
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
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			fmt.Fprintf(stderr, "aiobench: -filter: %v\n", err)
			return 2
		}
	}

	planned := plan(matrix(), bench.Engines(), re)
	if *list {
		for _, pr := range planned {
			var ids []string
			for _, e := range pr.engines {
				ids = append(ids, e.ID())
			}
			fmt.Fprintf(stdout, "%s\t%s\n", pr.row.Name, strings.Join(ids, " "))
		}
		return 0
	}
	if len(planned) == 0 {
		fmt.Fprintf(stderr, "aiobench: no engine matches -filter %q\n", *filter)
		return 1
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
		System: systemFacts(absDir),
		Config: bench.Config{
			Reps: *reps, DurMS: float64(*dur) / float64(time.Millisecond), Warmup: *warmup,
			DirectSize: int64(size), CacheSize: int64(cacheSize), Seed: *seed,
			Filter: *filter, Quick: *quick, CDir: cdir, Tags: buildTags,
		},
	}
	fl, resident, cleanupFiles, err := prepareFiles(absDir, planned, int64(size), int64(cacheSize), *keep, logw)
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}
	defer cleanupFiles()

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
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}
	return 0
}

// setupC points bench.RunC at the C programs: -cbin if given; otherwise it
// builds every testdata/c/bench_*.c of the source tree with
// internal/xcheck.BuildErr (the same compiler, flags and cache as the
// cross-check tests, into build/c) and uses build/c. A program that fails to
// build is recorded with bench.SetCProgramError, so its rows say why. Outside
// the source tree it falls back to bench.CDir(). It returns a description of
// the directory for the report.
func setupC(cbin string, logw io.Writer) (desc string, err error) {
	if cbin != "" {
		abs, err := filepath.Abs(cbin)
		if err != nil {
			return "", err
		}
		bench.SetCDir(abs)
		return abs, nil
	}
	root, err := xcheck.Root()
	if err != nil {
		return bench.CDir() + " (not built: " + err.Error() + ")", nil
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

// prepareFiles creates the data files the planned rows need (PrepareFile) and
// makes the page-cache file resident (mmap + mlock) for the whole run. Unless
// keep, cleanup removes the files this run created (not ones it reused).
func prepareFiles(dir string, planned []plannedRow, directSize, cacheSize int64, keep bool, logw io.Writer) (fl files, resident *bench.Resident, cleanup func(), err error) {
	var needCache, needDirect bool
	for _, pr := range planned {
		if pr.row.Op == bench.OpRead4k {
			if pr.row.Direct {
				needDirect = true
			} else {
				needCache = true
			}
		}
	}
	var created []string
	cleanup = func() {
		if resident != nil {
			resident.Close()
		}
		if !keep {
			for _, p := range created {
				os.Remove(p)
			}
		}
	}
	prep := func(size int64) (string, error) {
		t0 := time.Now()
		_, statErr := os.Stat(filepath.Join(dir, bench.DataFileName(size)))
		p, err := bench.PrepareFile(dir, size)
		if err != nil {
			return "", err
		}
		if statErr != nil {
			// Only files this run created are removed: one that was
			// there may belong to another run (kept with -keep).
			created = append(created, p)
		}
		logf(logw, "aiobench: data file %s (%s) ready in %v\n", p, bench.FormatBytes(size), time.Since(t0).Round(time.Millisecond))
		return p, nil
	}
	fl.directSize, fl.cacheSize = directSize, cacheSize
	if needDirect {
		if fl.direct, err = prep(directSize); err != nil {
			cleanup()
			return files{}, nil, nil, err
		}
	}
	if needCache {
		if fl.cache, err = prep(cacheSize); err != nil {
			cleanup()
			return files{}, nil, nil, err
		}
		if resident, err = bench.MakeResident(fl.cache); err != nil {
			cleanup()
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) {
				err = fmt.Errorf("%w (raise `ulimit -l` or run as root)", err)
			}
			return files{}, nil, nil, err
		}
	}
	return fl, resident, cleanup, nil
}

// renderReport prints the text table of a JSON report.
func renderReport(path string, stdout, stderr io.Writer) int {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "aiobench: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	r, err := bench.ReadJSON(in)
	if err != nil {
		fmt.Fprintf(stderr, "aiobench: %s: %v\n", path, err)
		return 1
	}
	for i := range r.Rows {
		r.Rows[i].Summarize()
	}
	if err := bench.WriteText(stdout, r); err != nil {
		fmt.Fprintf(stderr, "aiobench: %v\n", err)
		return 1
	}
	return 0
}
