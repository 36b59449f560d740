package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aiokit/aio/internal/xcheck"
)

// ErrNoCProgram is returned (wrapped) by RunC and CProgram when a C bench
// program is not built: the orchestrator shows "missing" in that row instead of
// failing the whole run.
var ErrNoCProgram = errors.New("bench: C bench program not available")

// CDirEnv names the environment variable that sets the directory of the built
// C bench programs when SetCDir was not called.
const CDirEnv = "AIOKIT_CBIN"

var (
	cMu      sync.Mutex
	cDir     string
	cMissing = map[string]error{}
)

// SetCDir sets the directory where RunC and CProgram look up bare program
// names such as "bench_uring".
func SetCDir(dir string) {
	cMu.Lock()
	cDir = dir
	cMu.Unlock()
}

// SetCProgramError records why program name could not be built, so that
// CProgram reports that reason instead of a bare "not found".
func SetCProgramError(name string, err error) {
	cMu.Lock()
	if err == nil {
		delete(cMissing, name)
	} else {
		cMissing[name] = err
	}
	cMu.Unlock()
}

// CDir returns the directory of the C bench programs: the one given to
// SetCDir, else $AIOKIT_CBIN, else build/c under the module root (where the
// Makefile puts them), else "build/c".
func CDir() string {
	cMu.Lock()
	d := cDir
	cMu.Unlock()
	if d != "" {
		return d
	}
	if d = os.Getenv(CDirEnv); d != "" {
		return d
	}
	if root, err := xcheck.Root(); err == nil {
		return filepath.Join(root, "build", "c")
	}
	return filepath.Join("build", "c")
}

// CProgram resolves a C bench program: a name without a slash is looked up
// in CDir(); a path is used as given. The error wraps ErrNoCProgram when the
// file does not exist or is not executable.
func CProgram(bin string) (string, error) {
	path := bin
	if !strings.ContainsRune(bin, '/') {
		cMu.Lock()
		why := cMissing[bin]
		cMu.Unlock()
		if why != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrNoCProgram, bin, why)
		}
		path = filepath.Join(CDir(), bin)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCProgram, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrNoCProgram, path)
	}
	return path, nil
}

// CArgs returns the command-line arguments RunC passes for s:
// --op OP --direct 0|1 --qd N --path P --size BYTES --ms MS --seed S, plus
// --fds N only when s.Fds > 1 (so programs that do not know --fds keep working).
// MS is s.Dur rounded up to a whole millisecond.
func CArgs(s Spec) []string {
	direct := "0"
	if s.Direct {
		direct = "1"
	}
	ms := int64((s.Dur + time.Millisecond - 1) / time.Millisecond)
	args := []string{
		"--op", s.Op,
		"--direct", direct,
		"--qd", strconv.Itoa(s.QD),
		"--path", s.Path,
		"--size", strconv.FormatInt(s.Size, 10),
		"--ms", strconv.FormatInt(ms, 10),
		"--seed", strconv.FormatUint(s.Seed, 10),
	}
	if s.Fds > 1 {
		args = append(args, "--fds", strconv.Itoa(s.Fds))
	}
	return args
}

// cTimeoutSlack is how long past s.Dur RunC lets a C program run before it
// kills it and reports a hang.
var cTimeoutSlack = 30 * time.Second

// RunC runs a C bench program (a bare name is resolved with CProgram) with
// CArgs(s) and parses its "ops=<n> ns=<n>" line with ParseCOutput. A non-zero
// exit status gives an error that quotes the program's stderr; a program still
// running s.Dur+30s after its start is killed and reported as hung.
// AllocsPerOp is 0: C engines do not allocate Go memory.
func RunC(bin string, s Spec) (Result, error) {
	path, err := CProgram(bin)
	if err != nil {
		return Result{}, err
	}
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Dur+cTimeoutSlack)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, CArgs(s)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err = cmd.Start(); err == nil {
		cprocs.add(cmd.Process)
		err = cmd.Wait()
		cprocs.remove(cmd.Process)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return Result{}, fmt.Errorf("bench: %s %s: still running after %v, killed", filepath.Base(path), strings.Join(CArgs(s), " "), s.Dur+cTimeoutSlack)
	}
	if err != nil {
		return Result{}, fmt.Errorf("bench: %s %s: %v: %s", filepath.Base(path), strings.Join(CArgs(s), " "), err, firstLines(stderr.String(), 5))
	}
	res, err := ParseCOutput(stdout.Bytes())
	if err != nil {
		return Result{}, fmt.Errorf("bench: %s: %w", filepath.Base(path), err)
	}
	return res, nil
}

// cprocs are the C programs RunC is running, for KillC.
var cprocs = procSet{m: map[*os.Process]struct{}{}}

type procSet struct {
	mu     sync.Mutex
	m      map[*os.Process]struct{}
	killed bool
}

func (ps *procSet) add(p *os.Process) {
	ps.mu.Lock()
	ps.m[p] = struct{}{}
	if ps.killed {
		p.Kill() // started while KillC ran: the process is on its way out
	}
	ps.mu.Unlock()
}

func (ps *procSet) remove(p *os.Process) {
	ps.mu.Lock()
	delete(ps.m, p)
	ps.mu.Unlock()
}

// KillC kills (SIGKILL) every C program RunC is running, and any RunC starts
// from then on: a command interrupted by a signal calls it before it exits,
// so that no reference program goes on running, re-parented to init, on a
// data file the command then removes.
func KillC() {
	cprocs.mu.Lock()
	cprocs.killed = true
	for p := range cprocs.m {
		p.Kill()
	}
	cprocs.mu.Unlock()
}

// ParseCOutput extracts the result from a C bench program's standard output:
// exactly one line "ops=<n> ns=<n>" (decimal, n >= 0 for ops, n > 0 for ns,
// surrounding blanks allowed). Other lines are ignored.
func ParseCOutput(out []byte) (Result, error) {
	var res Result
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "ops=") {
			continue
		}
		found++
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[1], "ns=") {
			return Result{}, fmt.Errorf("malformed result line %q (want \"ops=<n> ns=<n>\")", line)
		}
		ops, err := strconv.ParseInt(strings.TrimPrefix(f[0], "ops="), 10, 64)
		if err != nil || ops < 0 {
			return Result{}, fmt.Errorf("bad ops in %q", line)
		}
		ns, err := strconv.ParseInt(strings.TrimPrefix(f[1], "ns="), 10, 64)
		if err != nil || ns <= 0 {
			return Result{}, fmt.Errorf("bad ns in %q", line)
		}
		res = Result{Ops: ops, Elapsed: time.Duration(ns)}
	}
	if err := sc.Err(); err != nil {
		return Result{}, err
	}
	switch found {
	case 0:
		return Result{}, fmt.Errorf("no \"ops=<n> ns=<n>\" line in output %q", firstLines(string(out), 3))
	case 1:
		return res, nil
	default:
		return Result{}, fmt.Errorf("%d result lines in output, want exactly one", found)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}
