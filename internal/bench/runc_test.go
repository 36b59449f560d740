package bench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
)

func TestParseCOutput(t *testing.T) {
	good := []struct {
		out  string
		want Result
	}{
		{"ops=12 ns=3456\n", Result{Ops: 12, Elapsed: 3456}},
		{"warming up\n  ops=0 ns=1  \nbye\n", Result{Ops: 0, Elapsed: 1}},
		{"ops=9223372036854775807 ns=300000000", Result{Ops: 1<<63 - 1, Elapsed: 300 * time.Millisecond}},
	}
	for _, g := range good {
		got, err := ParseCOutput([]byte(g.out))
		if err != nil || got != g.want {
			t.Errorf("ParseCOutput(%q) = %+v, %v; want %+v", g.out, got, err, g.want)
		}
	}
	for _, bad := range []string{
		"", "hello\n", "ops=1\n", "ops=1 ns=0\n", "ops=-1 ns=5\n", "ops=x ns=5\n",
		"ops=1 ns=5 extra\n", "ops=1 time=5\n", "ops=1 ns=5\nops=2 ns=6\n", "ops=1 ns=99999999999999999999\n",
	} {
		if got, err := ParseCOutput([]byte(bad)); err == nil {
			t.Errorf("ParseCOutput(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestCArgs(t *testing.T) {
	s := Spec{Op: OpRead4k, Direct: true, QD: 32, Path: "/x/y", Size: 1 << 20, Dur: 1500*time.Microsecond + 1, Seed: 99}
	want := "--op read4k --direct 1 --qd 32 --path /x/y --size 1048576 --ms 2 --seed 99"
	if got := strings.Join(CArgs(s), " "); got != want {
		t.Errorf("CArgs = %q, want %q", got, want)
	}
	s.Fds = 1
	if got := strings.Join(CArgs(s), " "); got != want {
		t.Errorf("CArgs with Fds 1 = %q, want %q (no --fds)", got, want)
	}
	s.Fds, s.Direct = 128, false
	want = "--op read4k --direct 0 --qd 32 --path /x/y --size 1048576 --ms 2 --seed 99 --fds 128"
	if got := strings.Join(CArgs(s), " "); got != want {
		t.Errorf("CArgs with Fds 128 = %q, want %q", got, want)
	}
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCScripts(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Op: OpNop, QD: 4, Dur: 10 * time.Millisecond, Seed: 1}

	ok := writeScript(t, dir, "bench_ok", `echo "ops=$(( $6 * 10 )) ns=777"`)
	res, err := RunC(ok, s)
	if err != nil || res != (Result{Ops: 40, Elapsed: 777}) {
		t.Errorf("RunC(ok) = %+v, %v; want ops=40 (qd*10) ns=777", res, err)
	}

	// Bare names resolve in CDir.
	SetCDir(dir)
	defer SetCDir("")
	if res, err := RunC("bench_ok", s); err != nil || res.Ops != 40 {
		t.Errorf("RunC(bench_ok) via CDir = %+v, %v", res, err)
	}

	fail := writeScript(t, dir, "bench_fail", "echo 'io_uring_queue_init: Operation not permitted' >&2\nexit 3\n")
	if _, err := RunC(fail, s); err == nil || !strings.Contains(err.Error(), "Operation not permitted") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("RunC(fail) error = %v, want exit status 3 and the stderr text", err)
	}

	garbage := writeScript(t, dir, "bench_garbage", "echo done\n")
	if _, err := RunC(garbage, s); err == nil || !strings.Contains(err.Error(), "no \"ops=<n> ns=<n>\" line") {
		t.Errorf("RunC(garbage) error = %v", err)
	}

	if _, err := RunC("bench_does_not_exist", s); !errors.Is(err, ErrNoCProgram) {
		t.Errorf("RunC(missing) error = %v, want ErrNoCProgram", err)
	}
	if _, err := RunC(filepath.Join(dir, "nope"), s); !errors.Is(err, ErrNoCProgram) {
		t.Errorf("RunC(missing path) error = %v, want ErrNoCProgram", err)
	}
	notExec := filepath.Join(dir, "bench_noexec")
	os.WriteFile(notExec, []byte("x"), 0o644)
	if _, err := RunC(notExec, s); !errors.Is(err, ErrNoCProgram) {
		t.Errorf("RunC(not executable) error = %v, want ErrNoCProgram", err)
	}
	SetCProgramError("bench_ok", errors.New("cc: liburing.h not found"))
	if _, err := RunC("bench_ok", s); !errors.Is(err, ErrNoCProgram) || !strings.Contains(err.Error(), "liburing.h not found") {
		t.Errorf("RunC after a recorded build failure: %v", err)
	}
	SetCProgramError("bench_ok", nil)

	if _, err := RunC(ok, Spec{Op: "bogus", QD: 1, Dur: time.Millisecond}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("RunC with a bad spec: %v, want ErrBadSpec", err)
	}

	// A program that hangs is killed and reported.
	old := cTimeoutSlack
	cTimeoutSlack = 200 * time.Millisecond
	defer func() { cTimeoutSlack = old }()
	hang := writeScript(t, dir, "bench_hang", "exec sleep 30\n")
	t0 := time.Now()
	if _, err := RunC(hang, s); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("RunC(hang) error = %v, want a kill", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("RunC(hang) took %v", d)
	}
}

// bench_common.h's argument parsing, file opening and report line, end to end
// through RunC.
func TestRunCWithCommonHeader(t *testing.T) {
	bin := buildTestC(t, "argsdump")
	dir := testutil.TempDir(t)
	path, err := PrepareFile(dir, 64*BlockSize)
	if err != nil {
		t.Fatal(err)
	}
	argsOut := filepath.Join(t.TempDir(), "args")
	t.Setenv("BENCH_ARGS_OUT", argsOut)
	for _, c := range []struct {
		s    Spec
		want string
	}{
		{Spec{Op: OpNop, QD: 128, Dur: 300 * time.Millisecond, Seed: 18446744073709551615},
			"op=nop read4k=0 direct=0 qd=128 path= size=0 ms=300 seed=18446744073709551615 fds=1"},
		{Spec{Op: OpRead4k, Direct: true, QD: 1, Path: path, Size: 64 * BlockSize, Dur: 20 * time.Millisecond, Seed: 3, Fds: 128},
			"op=read4k read4k=1 direct=1 qd=1 path=" + path + " size=262144 ms=20 seed=3 fds=128"},
		{Spec{Op: OpRead4k, QD: 32, Path: path, Size: 64 * BlockSize, Dur: time.Millisecond},
			"op=read4k read4k=1 direct=0 qd=32 path=" + path + " size=262144 ms=1 seed=0 fds=1"},
	} {
		os.Remove(argsOut)
		res, err := RunC(bin, c.s)
		if err != nil {
			t.Fatalf("RunC(%+v): %v", c.s, err)
		}
		want := Result{Ops: int64(c.s.QD*1000 + c.s.NumFds()), Elapsed: time.Duration((c.s.Dur+time.Millisecond-1)/time.Millisecond) * time.Millisecond}
		if res != want {
			t.Errorf("RunC(%+v) = %+v, want %+v", c.s, res, want)
		}
		got, err := os.ReadFile(argsOut)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("C parsed\n  %s\nwant\n  %s", strings.TrimSpace(string(got)), c.want)
		}
	}

	// Bad arguments: usage on stderr, exit status 2.
	for _, args := range [][]string{
		{},
		{"--op", "nop", "--qd", "0", "--ms", "1"},
		{"--op", "write", "--qd", "1", "--ms", "1"},
		{"--op", "read4k", "--qd", "1", "--ms", "1", "--size", "4096"},
		{"--op", "read4k", "--qd", "1", "--ms", "1", "--path", path, "--size", "4095"},
		{"--op", "nop", "--qd", "1", "--ms", "1", "--direct", "2"},
		{"--op", "nop", "--qd", "1", "--ms", "1", "--seed", "-1"},
		{"--op", "nop", "--qd", "1", "--ms", "1", "--fds", "0"},
		{"--op", "nop", "--qd", "1", "--ms", "1", "--bogus", "1"},
		{"--op", "nop", "--qd", "1", "--ms", "1", "extra"},
		{"--op", "nop", "--qd", "1x", "--ms", "1"},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "usage:") {
			t.Errorf("argsdump %q: %v, output %q; want exit 2 with usage", args, err, out)
		}
	}
	// A missing file: exit 1 naming the errno.
	out, err := exec.Command(bin, CArgs(Spec{Op: OpRead4k, QD: 1, Path: path + ".missing", Size: 4096, Dur: time.Millisecond})...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ENOENT") {
		t.Errorf("argsdump on a missing file: %v %q, want ENOENT", err, out)
	}
}

// TestCDir: CDir is $AIOKIT_CBIN, else build/c of the module root xcheck.Root finds.
func TestCDir(t *testing.T) {
	root, err := xcheck.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "bench", "runc.go")); err != nil {
		t.Errorf("xcheck.Root() = %s, which has no internal/bench/runc.go: %v", root, err)
	}
	t.Setenv(CDirEnv, "/some/where")
	if got := CDir(); got != "/some/where" {
		t.Errorf("CDir() with $%s = %q", CDirEnv, got)
	}
	t.Setenv(CDirEnv, "")
	if got := CDir(); got != filepath.Join(root, "build", "c") {
		t.Errorf("CDir() = %q, want %s/build/c", got, root)
	}
}
