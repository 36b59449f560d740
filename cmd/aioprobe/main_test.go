package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/uring"
	"golang.org/x/sys/unix"
)

// TestMain runs aioprobe itself instead of the tests in a child started with
// testutil.SelfCommand: the signal tests interrupt a real process that way.
// denyEnv (restricted_test.go) makes such a child refuse the system calls its
// rules describe, for the whole process, before it runs aioprobe.
func TestMain(m *testing.M) {
	testutil.MainOrRun(m, func(args []string, stdout, stderr io.Writer) int {
		if err := denyFromEnv(); err != nil {
			fmt.Fprintf(stderr, "seccomp: %v\n", err)
			return 3
		}
		return run(args, stdout, stderr)
	})
}

// SIGHUP, SIGINT or SIGTERM while the scratch file exists removes it and
// exits 128+signal (SIGHUP killed it and left the file).
func TestSignalRemovesScratch(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		if sig == syscall.SIGHUP && signal.Ignored(sig) {
			t.Log("SIGHUP is ignored here (nohup), and so in aioprobe: not tested")
			continue
		}
		dir := testutil.TempDir(t)
		cmd := testutil.SelfCommand("-dir", dir)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		appeared := false
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if m, _ := filepath.Glob(filepath.Join(dir, "aioprobe-*")); len(m) > 0 {
				appeared = true
				break
			}
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !appeared || !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("%v: scratch file seen %v; exit %v, want status %d; stderr %q", sig, appeared, err, 128+int(sig), errb.String())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%v: left in -dir: %v", sig, ents)
		}
	}
}

func TestProbe(t *testing.T) {
	dir := testutil.TempDir(t)
	rep, err := Run(dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.System.DirectIO || rep.System.DIOMemAlign == 0 || rep.System.MemoryFS {
		t.Errorf("O_DIRECT not detected in %s (a directory TempDir chose for O_DIRECT): %+v", dir, rep.System)
	}
	uerr := rawUringSetup()
	if uerr != nil && !errors.Is(uerr, unix.EPERM) && !errors.Is(uerr, unix.ENOSYS) {
		t.Fatalf("io_uring_setup(1): %v (neither refused nor supported)", uerr)
	}
	if rep.Uring.Available != (uerr == nil) {
		t.Errorf("probe says io_uring available=%v (%q), io_uring_setup(2) says %v", rep.Uring.Available, rep.Uring.Error, uerr)
	}
	if !rep.Libaio.Available || !rep.PosixAIO.Available {
		t.Fatalf("libaio %q / POSIX AIO %q unavailable", rep.Libaio.Error, rep.PosixAIO.Error)
	}
	for _, c := range []struct {
		name string
		b    Backend
	}{{"uring", rep.Uring}, {"libaio", rep.Libaio}, {"posixaio", rep.PosixAIO}} {
		t.Run(c.name, func(t *testing.T) {
			if !c.b.Available {
				// Only io_uring can get here (the others are required
				// above), and only when the system refuses io_uring_setup.
				if errors.Is(uerr, unix.ENOSYS) {
					testutil.SkipNoFeature(t, "io_uring", uerr)
				}
				testutil.SkipNoPrivilege(t, "io_uring_setup: "+uerr.Error())
			}
			if len(c.b.Async) != len(modes) {
				t.Fatalf("%d async rows, want %d", len(c.b.Async), len(modes))
			}
			for _, a := range c.b.Async {
				if a.Error != "" || !verdictOK(c.name == "posixaio", a) || a.DoneAtReturn > a.Batch {
					t.Errorf("row %+v", a)
				}
			}
		})
	}
	// Facts that hold on every kernel: libaio does buffered reads of cached
	// pages inside io_submit; glibc's POSIX AIO queues to threads, so the
	// batch of cold direct reads cannot have finished when lio_listio returned.
	if len(rep.Libaio.Async) != len(modes) || len(rep.PosixAIO.Async) != len(modes) {
		t.FailNow() // the subtests said which rows are missing
	}
	if v := rep.Libaio.Async[1]; v.Mode != "buffered-warm" || v.Verdict != "inline" {
		t.Errorf("libaio buffered-warm: %+v, want inline", v)
	}
	if v := rep.PosixAIO.Async[0]; v.Mode != "buffered-cold" || v.Verdict != "async" {
		t.Errorf("POSIX AIO buffered-cold: %+v, want async", v)
	}
	var out bytes.Buffer
	Print(&out, rep)
	for _, want := range []string{"kernel", "io_uring (liburing)", "libaio", "POSIX AIO", "direct"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

// rawUringSetup says whether this system lets a process set up an io_uring,
// without the code under test: a raw io_uring_setup(2) of one entry, whose
// ring it closes at once. EPERM (kernel.io_uring_disabled, seccomp) and
// ENOSYS mean no.
func rawUringSetup() error {
	var params [120]byte // struct io_uring_params, zeroed
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	if errno != 0 {
		return errno
	}
	unix.Close(int(fd))
	return nil
}

func TestProbeBadDepth(t *testing.T) {
	if _, err := Run(t.TempDir(), 0); err == nil {
		t.Fatal("depth 0 accepted")
	}
	if _, err := Run("/nonexistent-aiokit", 8); err == nil {
		t.Fatal("missing directory accepted")
	}
}

// On tmpfs, O_DIRECT may open (Linux 6.6+) but is never called "ok": the
// report says the reads stay in memory, as aiobench does when it skips its
// O_DIRECT rows there.
func TestProbeTmpfs(t *testing.T) {
	dir := testutil.TmpfsDir(t)
	rep, err := Run(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.System.MemoryFS || rep.System.FSType != "tmpfs" {
		t.Errorf("system %+v: tmpfs not recognised as memory-only", rep.System)
	}
	var out bytes.Buffer
	Print(&out, rep)
	if strings.Contains(out.String(), "O_DIRECT ok") {
		t.Errorf("tmpfs reported as O_DIRECT ok:\n%s", out.String())
	}
	want := "O_DIRECT not supported"
	if rep.System.DirectIO {
		want = "direct reads do not reach a device"
		if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "never reach a device") {
			t.Errorf("notes %q", rep.Notes)
		}
	}
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("scratch files left: %v", ents)
	}
}

// Bad usage exits 2 with a message, before anything is probed; -h exits 0
// like Go's flag.ExitOnError (and aiobench).
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"bogus", "-dir", "/dev/shm"}, {"-dir", t.TempDir(), "extra"}, {"-bogus"}, {"-depth", "0"}, {"-depth", "1025"},
		{"-dir", ""}, // was "statfs : no such file or directory", exit 1
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || errb.Len() == 0 || out.Len() != 0 {
			t.Errorf("aioprobe %q: exit %d, stdout %q, stderr %q; want 2 with a message", args, code, out.String(), errb.String())
		}
	}
	for _, h := range []string{"-h", "-help", "--help"} {
		var out, errb bytes.Buffer
		if code := run([]string{h}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-depth") {
			t.Errorf("aioprobe %s: exit %d, stderr %q; want 0 and the usage", h, code, errb.String())
		}
	}
}

// A batch the ring cannot take fails without leaving prepared SQEs behind
// (the next Submit would send them with freed buffers and a closed fd), and
// the ring still works for a batch that fits; a normal batch is reaped in
// full before uringAsync returns.
func TestUringAsyncLeavesRingIdle(t *testing.T) {
	r, err := uring.New(4, nil)
	if errors.Is(err, uring.ErrUnavailable) && errors.Is(err, unix.ENOSYS) {
		testutil.SkipNoFeature(t, "io_uring", err)
	}
	if errors.Is(err, uring.ErrUnavailable) {
		testutil.SkipNoPrivilege(t, "io_uring_setup: "+err.Error())
	}
	if err != nil {
		t.Fatalf("uring.New(4): %v", err)
	}
	defer r.Close()
	_, d, err := probeSystem(testutil.TempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	idle := func(when string) {
		t.Helper()
		if r.SQReady() != 0 || r.CQReady() != 0 {
			t.Fatalf("%s: %d SQEs pending, %d completions unreaped", when, r.SQReady(), r.CQReady())
		}
		if n, err := r.Submit(); n != 0 || err != nil {
			t.Fatalf("%s: a later Submit sent %d SQEs (%v)", when, n, err)
		}
	}
	big := int(r.SQSpaceLeft()) * 2
	for _, vectored := range []bool{false, true} { // IORING_OP_READ, IORING_OP_READV
		res, ok := uringAsync(r, d, "buffered-warm", big, vectored)
		if res.Error == "" || !ok {
			t.Errorf("vectored %v: batch of %d on a ring of %d: %+v, ok %v; want an error and a reusable ring", vectored, big, big/2, res, ok)
		}
		idle("after the batch that did not fit")
		res, ok = uringAsync(r, d, "buffered-cold", big/2, vectored)
		if res.Error != "" || !ok || res.Verdict == "" {
			t.Errorf("vectored %v: batch that fits: %+v, ok %v", vectored, res, ok)
		}
		idle("after a full batch")
	}
}

// failWriter fails every write, like a full disk (/dev/full).
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A report that cannot be written is an error (exit 1), text or JSON.
func TestWriteErrors(t *testing.T) {
	dir := testutil.TempDir(t)
	for _, args := range [][]string{{"-depth", "2", "-dir", dir}, {"-json", "-depth", "2", "-dir", dir}} {
		var errb bytes.Buffer
		if code := run(args, failWriter{}, &errb); code != 1 || !strings.Contains(errb.String(), "no space left") {
			t.Errorf("aioprobe %q > /dev/full: exit %d, stderr %q; want 1 and the error", args, code, errb.String())
		}
	}
}

// TestNoArguments: aioprobe with no arguments runs with its defaults (and
// testutil.SelfCommand() passes no arguments, not one empty one). TMPDIR
// points the default -dir at a test directory.
func TestNoArguments(t *testing.T) {
	cmd := testutil.SelfCommand()
	cmd.Env = append(cmd.Env, "TMPDIR="+testutil.TempDir(t))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("SelfCommand() (aioprobe with no arguments): %v\nstderr: %s", err, errb.String())
	}
}

// A closed stdout (`aioprobe | head -1`, the reader gone before the report)
// ends it with status 141 and no message, as a SIGPIPE death does, and no
// scratch file left.
func TestClosedStdout(t *testing.T) {
	dir := testutil.TempDir(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	cmd := testutil.SelfCommand("-dir", dir)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 141 || errb.Len() != 0 {
		t.Errorf("exit %v, want status 141 and no message; stderr %q", err, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in -dir: %v", ents)
	}
}

// verdictOK reports whether a row without an error has a verdict its
// backend can give: POSIX AIO says "threads" where the kernel interfaces
// say "inline".
func verdictOK(posix bool, a AsyncResult) bool {
	if posix {
		return a.Verdict == "async" || a.Verdict == "threads"
	}
	return a.Verdict == "async" || a.Verdict == "inline"
}

// A batch glibc's threads finished before lio_listio returned was not read
// inline (aioprobe -depth 32 labelled cached POSIX AIO reads "inline").
func TestVerdicts(t *testing.T) {
	for _, c := range []struct {
		posix       bool
		done, batch int
		want        string
	}{
		{false, 0, 32, "async"}, {false, 31, 32, "async"}, {false, 32, 32, "inline"},
		{true, 0, 32, "async"}, {true, 31, 32, "async"}, {true, 32, 32, "threads"},
	} {
		v := verdict
		if c.posix {
			v = posixVerdict
		}
		if got := v(c.done, c.batch); got != c.want {
			t.Errorf("posix %v, %d of %d done: %q, want %q", c.posix, c.done, c.batch, got, c.want)
		}
	}
}
