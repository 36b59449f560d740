// Package xcheck is aiokit's C cross-check harness. C programs in
// testdata/c run a scenario through the C library and print a trace; the Go
// test runs the same scenario through the Go API, builds the same trace with
// Trace, and Compare diffs the two with go-cmp.
//
// Trace format, one line per step (testdata/c/trace.h prints the same):
//
//	<op> res=<n> err=<NAME>
//
// n is the result, or -1 on failure; NAME is the errno's symbolic name
// (EBADF, EINVAL, ...) or OK.
package xcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// Trace collects the lines of one scenario run through the Go API.
type Trace struct {
	Lines []string
}

// ErrName returns the symbolic errno name of err (EBADF, ...), "OK" for
// nil, or err's text for errors that carry no errno.
func ErrName(err error) string {
	if err == nil {
		return "OK"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		if e == unix.EOPNOTSUPP {
			// One number, two names: package unix says ENOTSUP, glibc's
			// strerrorname_np (trace.h) EOPNOTSUPP.
			return "EOPNOTSUPP"
		}
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
		return fmt.Sprintf("errno%d", int(e))
	}
	return err.Error()
}

// Add records one step: res on success, -1 and err's errno name on failure.
func (tr *Trace) Add(op string, res int, err error) {
	if err != nil {
		res = -1
	}
	tr.Lines = append(tr.Lines, fmt.Sprintf("%s res=%d err=%s", op, res, ErrName(err)))
}

// AddNeg records a step whose result carries -errno (an io_uring CQE's
// res, a libaio event's res), like trace_neg in trace.h.
func (tr *Trace) AddNeg(op string, res int64) {
	if res < 0 {
		tr.Add(op, -1, unix.Errno(-res))
		return
	}
	tr.Add(op, int(res), nil)
}

// Linef records a free-form line, like trace_line in trace.h.
func (tr *Trace) Linef(format string, args ...any) {
	tr.Lines = append(tr.Lines, fmt.Sprintf(format, args...))
}

// Compare fails the test with a "(-C +Go)" diff unless the traces are equal,
// and when the C trace is empty.
func Compare(t testing.TB, c, goTrace []string) {
	t.Helper()
	if len(c) == 0 {
		// Two empty traces are equal, and prove nothing: every scenario
		// prints at least one line.
		t.Errorf("the C program printed no trace lines (Go trace: %d lines)", len(goTrace))
		return
	}
	if diff := cmp.Diff(c, goTrace); diff != "" {
		t.Errorf("C and Go traces differ (-C +Go):\n%s", diff)
	}
}

// Root returns the module's root directory (where go.mod is).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isAiokitMod(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("xcheck: module root (go.mod of github.com/aiokit/aio) not found above the working directory")
		}
		dir = parent
	}
}

// isAiokitMod reports whether a go.mod declares module github.com/aiokit/aio
// itself (not one whose path merely starts so, github.com/aiokit/aiotools).
func isAiokitMod(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], "\"`") == "github.com/aiokit/aio"
		}
	}
	return false
}

// Flags returns the compiler and linker flags a C program needs, from the
// prefix of its name: uring_ and bench_uring link liburing (flags from
// pkg-config when it knows liburing), libaio_ and bench_libaio link -laio,
// posixaio_ and bench_posixaio link -lrt -lpthread. The Makefile uses the
// same rule.
func Flags(name string) (cflags, libs []string) {
	base := strings.TrimPrefix(name, "bench_")
	switch {
	case strings.HasPrefix(base, "uring"):
		if out, err := exec.Command("pkg-config", "--cflags", "--libs", "liburing").Output(); err == nil {
			return nil, strings.Fields(string(out))
		}
		return nil, []string{"-luring"}
	case strings.HasPrefix(base, "libaio"):
		return nil, []string{"-laio"}
	case strings.HasPrefix(base, "posixaio"):
		return nil, []string{"-lrt", "-lpthread"}
	}
	return nil, nil
}

var buildMu sync.Mutex

// Build compiles testdata/c/<name>.c (with every header in testdata/c) into
// build/c/<name> under the module root, unless an up-to-date binary built
// from the same sources and flags is there, and returns its path. CC and
// CFLAGS from the environment are honoured. A missing compiler or header
// fails the test with the command that installs it.
func Build(t testing.TB, name string) string {
	t.Helper()
	bin, err := BuildErr(name)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildErr is Build without a testing.TB.
func BuildErr(name string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := Root()
	if err != nil {
		return "", err
	}
	cdir := filepath.Join(root, "testdata", "c")
	src := filepath.Join(cdir, name+".c")
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	ccArgs := strings.Fields(os.Getenv("CFLAGS"))
	if len(ccArgs) == 0 {
		ccArgs = []string{"-O2", "-g"}
	}
	extra, libs := Flags(name)
	args := append(append([]string{"-D_GNU_SOURCE", "-Wall", "-Werror=implicit-function-declaration", "-I", cdir}, ccArgs...), extra...)

	// The cache key: the sources, the compiler and the flags.
	h := sha256.New()
	fmt.Fprintln(h, cc, args, libs)
	srcs := []string{src}
	hdrs, _ := filepath.Glob(filepath.Join(cdir, "*.h"))
	sort.Strings(hdrs)
	srcs = append(srcs, hdrs...)
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("xcheck: C program %s: %w", name, err)
		}
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	outDir := filepath.Join(root, "build", "c")
	bin := filepath.Join(outDir, name)
	stamp := bin + ".key"
	if old, err := os.ReadFile(stamp); err == nil && string(old) == key {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("xcheck: C compiler %q not found: install it (Debian: apt-get install gcc) or set CC", cc)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	cmdArgs := append(append(append([]string{}, args...), "-o", tmp, src), libs...)
	cmd := exec.Command(cc, cmdArgs...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		hint := ""
		if bytes.Contains(out, []byte("No such file or directory")) && bytes.Contains(out, []byte(".h")) {
			hint = "\nA header is missing: run `make deps` (Debian: apt-get install liburing-dev libaio-dev pkg-config gcc)."
		}
		return "", fmt.Errorf("xcheck: building %s: %s %s: %v\n%s%s", name, cc, strings.Join(cmdArgs, " "), err, out, hint)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	if err := os.WriteFile(stamp, []byte(key), 0o644); err != nil {
		return "", err
	}
	return bin, nil
}

// Run runs a C program and returns its stdout lines. A non-zero exit fails
// the test, showing stderr.
func Run(t testing.TB, bin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return Lines(stdout.String())
}

// Lines splits program output into lines, dropping the final empty one.
func Lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// RunScenario builds testdata/c/<name>.c, runs it with args, and compares
// its trace with goTrace.
func RunScenario(t testing.TB, name string, goTrace *Trace, args ...string) {
	t.Helper()
	bin := Build(t, name)
	Compare(t, Run(t, bin, args...), goTrace.Lines)
}
