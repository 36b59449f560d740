package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
)

// -render of something that is not one report is an error (exit 1): `{}`
// and `null` rendered an empty table of zeros, and of two reports in one file
// (aiobench -json >> all.json twice) only the first was shown.
func TestRenderRejectsNonReports(t *testing.T) {
	dir := t.TempDir()
	one := `{"system":{"kernel":"k"},"config":{"reps":1},"rows":[{"row":"nop/qd1","op":"nop","direct":false,"qd":1,"fds":1,` +
		`"engines":[{"engine":"uring/raw","backend":"uring","name":"raw","is_c":false,"status":"ok","ops_per_sec":[100],"allocs_per_op":[0]}]}]}`
	two := strings.Replace(one, `"nop/qd1"`, `"nop/qd32"`, 1)
	for name, content := range map[string]string{
		"empty-object":  "{}\n",
		"null":          "null\n",
		"two-reports":   one + "\n" + two + "\n",
		"trailing-junk": one + "\ngarbage\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".json")
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run([]string{"-render", p}, &out, &errb)
			if code != 1 {
				t.Errorf("-render %s: exit %d, want 1; output:\n%s", name, code, out.String())
			}
		})
	}
}

// -render takes no other flag (exit 2): they were ignored silently (-json
// printed the text table, -reps 0 and -filter '(' were no usage errors).
func TestRenderTakesNoOtherFlag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-render", p, "-json"}, &out, &errb); code != 2 {
		t.Errorf("-render FILE -json: exit %d, want 2", code)
	}
	if code := run([]string{"-render", p, "-reps", "0", "-filter", "("}, &out, &errb); code != 2 {
		t.Errorf("-render FILE -reps 0 -filter '(': exit %d, want 2 (bad usage elsewhere)", code)
	}
}

// SIGINT while a C reference program runs kills the program too: it went on
// running, re-parented to init, for the rest of its --ms.
func TestSignalKillsCProgram(t *testing.T) {
	bin, err := xcheck.BuildErr("bench_uring")
	if err != nil {
		t.Fatalf("bench_uring does not build: %v", err) // its libraries are build dependencies
	}
	dir := testutil.TempDir(t)
	cmd := testutil.SelfCommand("-cbin", filepath.Dir(bin), "-warmup=false", "-reps", "1", "-dur", "20s",
		"-filter", `^nop/qd1 uring/C`, "-dir", dir)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := 0
	for deadline := time.Now().Add(20 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		child = childNamed(cmd.Process.Pid, "bench_uring")
	}
	if child == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("bench_uring never started\n%s", errb.String())
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want 130\n%s", err, errb.String())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone, or dead and waiting for init to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiobench exited but its C program (pid %d) still runs 5 s later: %s", child, strings.TrimSpace(string(st)))
		}
	}
}

// childNamed returns the pid of a child of ppid whose comm is name, or 0.
func childNamed(ppid int, name string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 || s[i+1:j] != name {
			continue
		}
		if p, _ := strconv.Atoi(f[1]); p == ppid {
			return pid
		}
	}
	return 0
}

// Inside another module whose path merely starts like aiokit's
// (github.com/aiokit/aiotools), setupC does not take it for aiokit's source
// tree (xcheck.Root matched the module line as a substring: nothing was
// built and every C engine was missing).
func TestSetupCInsideOtherModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module github.com/aiokit/aiotools\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	defer bench.SetCDir("")
	t.Setenv(bench.CDirEnv, "")
	desc, err := setupC("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(desc, filepath.Join(dir, "build", "c")) {
		t.Errorf("in module github.com/aiokit/aiotools, setupC took %s for aiokit's source tree: %q", dir, desc)
	}
}

// A data file of the right name that does not verify (stale, truncated) is
// rewritten, and without -keep the run removes the file it wrote (it was left
// behind: only a missing name counted as created). The header names no data
// file for rows that do not run.
func TestRewrittenDataFileRemoved(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, bench.DataFileName(4<<20))
	if err := os.WriteFile(p, make([]byte, 4<<20), 0o644); err != nil { // all zeros: fails verification
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-quick", "-dur", "2ms", "-filter", `^read4k/cache/qd1 goroutines/`, "-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("without -keep, the data file the run rewrote is still there (%v)", err)
	}
	if !strings.Contains(out.String(), "data files: direct none, page cache 4 MiB") {
		t.Errorf("header does not name just the page-cache file:\n%s\n%s", out.String(), errb.String())
	}
}

// A write to a closed pipe on stdout (`aiobench | head -1`) or stderr
// (`aiobench -v 2>&1 | head`) ends the run with status 141 and no message, as
// the SIGPIPE death it was, but removes the data files first (the death left
// them, 1.25 GiB by default); a closed stderr ends it at that write, not at
// the end of a 30 s row.
func TestClosedPipe(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		stderr bool // close stderr, not stdout
	}{
		{"stdout", []string{"-quick", "-reps", "1"}, false},
		{"stderr", []string{"-v", "-warmup=false", "-reps", "1", "-dur", "30s", "-size", "8MiB"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := testutil.TempDir(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			defer w.Close()
			cmd := testutil.SelfCommand(append(c.args, "-filter", `^read4k/(cache|direct)/qd1 goroutines/`, "-dir", dir)...)
			var other bytes.Buffer
			cmd.Stdout, cmd.Stderr = w, &other
			if c.stderr {
				cmd.Stdout, cmd.Stderr = &other, w
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 141 {
				t.Errorf("exit %v, want status 141\n%s", err, other.String())
			}
			if c.stderr && time.Since(t0) > 20*time.Second {
				t.Errorf("a closed stderr ended the run after %v: not at the first progress line", time.Since(t0))
			}
			if !c.stderr && other.Len() != 0 {
				t.Errorf("a message on stderr: %q", other.String())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left in -dir: %v", ents)
			}
		})
	}
}
