// Command aioprobe reports which asynchronous-I/O interfaces work on this
// kernel and filesystem, and which of them are truly asynchronous: whether
// the submitting call returns before the I/O is done (the kernel queued it),
// or the work was done inside the call (the "async" interface blocked).
// For POSIX AIO, whose requests glibc always hands to its own threads, a
// batch those threads finished before lio_listio returned is "threads"; an
// io_uring batch that its io-wq worker threads finished during
// io_uring_submit (every read of tmpfs goes to them) is "workers".
//
// Usage:
//
//	aioprobe [-dir DIR] [-json] [-depth N]
//
// DIR is where a scratch file of 64 MiB is made (default: the system
// temporary directory); the file system of DIR is what is probed for
// O_DIRECT.
//
// Exit status: 0 (also for -h), 1 when the probe cannot run or the report
// cannot be written, 2 for bad usage (an empty -dir included), 129, 130 or
// 143 after SIGHUP, SIGINT or SIGTERM (the scratch file is removed first),
// 141 without a message when stdout is a pipe closed before the report was
// written (`aioprobe | head -1`; the scratch file is gone by then).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aiokit/aio/internal/cli"
)

// Report is everything aioprobe found.
type Report struct {
	System   System   `json:"system"`
	Uring    Backend  `json:"io_uring"`
	Libaio   Backend  `json:"libaio"`
	PosixAIO Backend  `json:"posix_aio"`
	Notes    []string `json:"notes,omitempty"`
}

// Backend is one interface's findings.
type Backend struct {
	Available bool              `json:"available"`
	Error     string            `json:"error,omitempty"`
	Facts     map[string]string `json:"facts,omitempty"`
	Async     []AsyncResult     `json:"async,omitempty"`
}

// AsyncResult says whether a batch of reads was still in flight when the
// submitting call returned.
type AsyncResult struct {
	Mode         string  `json:"mode"`           // buffered-cold, buffered-warm, direct
	Batch        int     `json:"batch"`          // reads submitted in one call
	DoneAtReturn int     `json:"done_at_return"` // completed when the submit call returned
	SubmitMicros float64 `json:"submit_us"`      // time inside the submit call
	TotalMicros  float64 `json:"total_us"`       // until the last completion
	Verdict      string  `json:"verdict"`        // async, inline, workers (io_uring's io-wq), threads (POSIX AIO), or "" after an error
	Error        string  `json:"error,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit: it returns 0 on success (and for -h, as Go's
// flag package does), 2 for bad usage, 1 when the probe failed and
// cli.BrokenPipe when stdout was a closed pipe.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aioprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: aioprobe [-dir DIR] [-json] [-depth N]\n\nReports which asynchronous-I/O interfaces work here and which are truly asynchronous.\nExit status: 0 ok, 1 the probe failed, 2 bad usage, 128+signal when interrupted.\n\nFlags:")
		fs.PrintDefaults()
	}
	dir := fs.String("dir", os.TempDir(), "directory for the scratch file (its file system is probed)")
	asJSON := fs.Bool("json", false, "print JSON")
	depth := fs.Int("depth", 32, "reads per submitted batch (1..1024)")
	if code, ok := cli.ParseFlags(fs, "aioprobe", args, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "aioprobe: unexpected arguments %q (flags go before arguments; aioprobe takes none)\n", fs.Args())
		return 2
	}
	if *depth < 1 || *depth > 1024 {
		fmt.Fprintf(stderr, "aioprobe: -depth %d: want 1..1024\n", *depth)
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "aioprobe: -dir: empty directory name")
		return 2
	}
	defer watchSignals(stderr)()
	rep, err := Run(*dir, *depth)
	if err != nil {
		fmt.Fprintln(stderr, "aioprobe:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = Print(stdout, rep)
	}
	if cli.IsBrokenPipe(err) {
		return cli.BrokenPipe // `| head -1`: silent, as a SIGPIPE death is
	}
	if err != nil {
		fmt.Fprintf(stderr, "aioprobe: writing the report: %v\n", err)
		return 1
	}
	return 0
}

// Run probes everything, using a scratch file in dir.
func Run(dir string, depth int) (*Report, error) {
	if depth < 1 || depth > 1024 {
		return nil, fmt.Errorf("-depth %d: want 1..1024", depth)
	}
	sys, df, err := probeSystem(dir)
	if err != nil {
		return nil, err
	}
	defer df.Close()
	rep := &Report{System: sys}
	rep.Uring = probeUring(df, depth)
	rep.Libaio = probeLibaio(df, depth)
	rep.PosixAIO = probePosix(df, depth)
	if !sys.DirectIO {
		rep.Notes = append(rep.Notes, "O_DIRECT is not supported in "+dir+": direct rows skipped; try -dir on a disk file system")
	} else if sys.MemoryFS {
		rep.Notes = append(rep.Notes, sys.FSType+" accepts O_DIRECT but keeps files in memory: the direct reads in "+dir+
			" never reach a device (aiobench skips its O_DIRECT rows here); try -dir on a disk file system")
	}
	return rep, nil
}

// Print writes the report as text and returns the first write error.
func Print(out io.Writer, r *Report) error {
	w := &cli.ErrWriter{W: out}
	s := r.System
	fmt.Fprintf(w, "kernel     %s (%s), %d CPUs\n", s.Kernel, s.Machine, s.CPUs)
	fmt.Fprintf(w, "directory  %s: %s", s.Dir, s.FSType)
	// The alignments, reported or guessed (the JSON's dio_align_guess).
	align := fmt.Sprintf("memory alignment %d, offset alignment %d", s.DIOMemAlign, s.DIOOffsetAlign)
	if s.DIOAlignGuess != "" {
		align = fmt.Sprintf("alignment not reported: %s; %d assumed for memory and offset", s.DIOAlignGuess, s.DIOMemAlign)
	}
	switch {
	case s.DirectIO && s.MemoryFS:
		fmt.Fprintf(w, ", O_DIRECT accepted (%s) but %s keeps files in memory: direct reads do not reach a device\n", align, s.FSType)
	case s.DirectIO:
		fmt.Fprintf(w, ", O_DIRECT ok (%s)\n", align)
	default:
		fmt.Fprintf(w, ", O_DIRECT not supported: %s\n", s.DirectIOError)
	}
	if s.NowaitRead {
		fmt.Fprintf(w, "nowait     preadv2(RWF_NOWAIT) reads cached data without blocking (uring and libaio File and Queue reads use it)\n")
	} else {
		fmt.Fprintf(w, "nowait     no: %s (uring and libaio File and Queue reads then always queue)\n", s.NowaitReadError)
	}
	for _, b := range []struct {
		name string
		b    Backend
	}{{"io_uring (liburing)", r.Uring}, {"libaio", r.Libaio}, {"POSIX AIO (glibc)", r.PosixAIO}} {
		fmt.Fprintf(w, "\n%s: ", b.name)
		if !b.b.Available {
			fmt.Fprintf(w, "NOT AVAILABLE: %s\n", b.b.Error)
			continue
		}
		fmt.Fprintln(w, "available")
		for _, k := range sortedKeys(b.b.Facts) {
			fmt.Fprintf(w, "  %-22s %s\n", k, b.b.Facts[k])
		}
		for _, a := range b.b.Async {
			if a.Error != "" {
				fmt.Fprintf(w, "  %-14s %s\n", a.Mode, a.Error)
				continue
			}
			fmt.Fprintf(w, "  %-14s %-7s %2d/%d done when submit returned, submit %.0f us, all done %.0f us\n",
				a.Mode, a.Verdict, a.DoneAtReturn, a.Batch, a.SubmitMicros, a.TotalMicros)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "\nnote:", n)
	}
	return w.Err
}
