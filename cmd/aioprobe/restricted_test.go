package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// denyEnv carries a JSON []testutil.SyscallRule to a SelfCommand child,
// which installs them for every thread (TSYNC) before it runs aioprobe: the
// real kernel then refuses those calls as an older kernel or a container's
// seccomp profile does.
const denyEnv = "AIOPROBE_TEST_DENY"

// denyFromEnv installs the rules of denyEnv, if set, for the whole process.
// Go's network poller is started first (its eventfd and epoll instance): a
// real process gets them at its first file, long before a limit such as
// RLIMIT_NOFILE or a seccomp rule could make eventfd2 fail, and the runtime
// dies if it cannot have them.
func denyFromEnv() error {
	v := os.Getenv(denyEnv)
	if v == "" {
		return nil
	}
	var rules []testutil.SyscallRule
	if err := json.Unmarshal([]byte(v), &rules); err != nil {
		return err
	}
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	if os.Getenv(denyThreadEnv) != "" {
		// The probe runs on this goroutine: lock it to its thread
		// (never unlocked) and filter only that thread and the threads
		// it creates, such as glibc's AIO threads. Go's runtime creates
		// its own threads elsewhere for a locked thread.
		runtime.LockOSThread()
		return testutil.DenySyscalls(rules, false)
	}
	return testutil.DenySyscalls(rules, true)
}

// denyThreadEnv makes denyFromEnv filter only the thread that runs the
// probe: for rules the Go runtime itself cannot live with process-wide
// (clone of a thread).
const denyThreadEnv = "AIOPROBE_TEST_DENY_THREAD"

// probeDenied runs aioprobe -json -depth 4 in a child that refuses what
// rules say, and returns its report. It skips, naming the privilege, when
// the child cannot install the filter, and fails when the child does not
// exit 0 within two minutes (a hang, a crash or a failed probe).
func probeDenied(t *testing.T, rules []testutil.SyscallRule) *Report {
	t.Helper()
	return probeDeniedOn(t, rules, false)
}

// probeDeniedOn is probeDenied; with thread set the rules apply to the
// probing thread only (denyThreadEnv).
func probeDeniedOn(t *testing.T, rules []testutil.SyscallRule, thread bool) *Report {
	t.Helper()
	js, err := json.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	cmd := testutil.SelfCommand("-json", "-depth", "4", "-dir", testutil.TempDir(t))
	cmd.Env = append(cmd.Env, denyEnv+"="+string(js))
	if thread {
		cmd.Env = append(cmd.Env, denyThreadEnv+"=1")
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	hung := !timer.Stop()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, unix.ENOTSUP.Error()) || strings.Contains(msg, unix.EINVAL.Error()) {
			testutil.SkipNoFeature(t, "seccomp filters", errors.New(msg))
		}
		testutil.SkipNoPrivilege(t, "seccomp filters ("+msg+")")
	}
	if hung {
		t.Fatalf("aioprobe under %s hung (killed after 2 minutes)\nstderr: %s", js, errb.String())
	}
	if err != nil {
		t.Fatalf("aioprobe under %s: %v\nstderr: %s", js, err, errb.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var txt bytes.Buffer
	Print(&txt, &rep)
	t.Logf("aioprobe under %s:\n%s", js, txt.String())
	return &rep
}

func deny(nr int, errno unix.Errno) testutil.SyscallRule {
	return testutil.SyscallRule{Nr: nr, Arg: -1, Errno: errno}
}

// usable fails the test unless b is available with one error-free row per
// mode: a backend the rules did not touch must still be probed in full.
func usable(t *testing.T, name string, b Backend) {
	t.Helper()
	if !b.Available || len(b.Async) != len(modes) {
		t.Errorf("%s: available %v (%q), %d rows; want available with %d rows", name, b.Available, b.Error, len(b.Async), len(modes))
		return
	}
	for _, a := range b.Async {
		if a.Error != "" || !verdictOK(name == "POSIX AIO", a) {
			t.Errorf("%s: row %+v", name, a)
		}
	}
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q; want it to contain %q", what, got, w)
		}
	}
}

// TestProbeRestricted runs aioprobe in a child process whose kernel refuses
// one feature the way an older kernel or a container's seccomp profile
// does. Each time aioprobe must exit 0 with a report that says that feature
// is unavailable and why, claims nothing the kernel refused, and still
// probes everything else.
func TestProbeRestricted(t *testing.T) {
	const (
		registerProbe = 8 // IORING_REGISTER_PROBE
		enterExtArg   = 8 // IORING_ENTER_EXT_ARG
	)
	cases := []struct {
		name  string
		rules []testutil.SyscallRule
		check func(t *testing.T, r *Report)
	}{
		{"nothing refused", nil, func(t *testing.T, r *Report) {
			// The facts the other cases expect to change are there when
			// nothing is refused (on kernels that have them).
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
			if !r.System.NowaitRead && testutil.KernelAtLeast(5, 1) {
				t.Errorf("preadv2(RWF_NOWAIT) reported unusable on %s: %s", r.System.FSType, r.System.NowaitReadError)
			}
			if r.System.DIOAlignGuess != "" && testutil.KernelAtLeast(6, 1) {
				t.Errorf("O_DIRECT alignment reported as a guess on %s: %s", r.System.FSType, r.System.DIOAlignGuess)
			}
			if testutil.KernelAtLeast(5, 11) {
				contains(t, "io_uring features", r.Uring.Facts["features"], "ext_arg")
			}
			if strings.Contains(r.Uring.Facts["opcodes"], "unknown") || r.Uring.Facts["reads"] != "IORING_OP_READ" {
				t.Errorf("opcodes %q, reads %q", r.Uring.Facts["opcodes"], r.Uring.Facts["reads"])
			}
		}},
		{"io_uring_setup EPERM (container profile, kernel.io_uring_disabled)", []testutil.SyscallRule{deny(unix.SYS_IO_URING_SETUP, unix.EPERM)}, func(t *testing.T, r *Report) {
			if r.Uring.Available {
				t.Errorf("io_uring available under the filter")
			}
			contains(t, "io_uring error", r.Uring.Error, "operation not permitted", "io_uring refused by this system")
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"io_uring_setup ENOSYS (no io_uring)", []testutil.SyscallRule{deny(unix.SYS_IO_URING_SETUP, unix.ENOSYS)}, func(t *testing.T, r *Report) {
			if r.Uring.Available {
				t.Errorf("io_uring available under the filter")
			}
			contains(t, "io_uring error", r.Uring.Error, "function not implemented", "no io_uring in this kernel")
			if strings.Contains(r.Uring.Error, "io_uring_disabled") {
				t.Errorf("io_uring error %q blames kernel.io_uring_disabled, which gives EPERM", r.Uring.Error)
			}
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"IORING_REGISTER_PROBE EINVAL (Linux 5.5)", []testutil.SyscallRule{{Nr: unix.SYS_IO_URING_REGISTER, Arg: 1, Value: registerProbe, Errno: unix.EINVAL}}, func(t *testing.T, r *Report) {
			// Without a probe nothing says IORING_OP_READ (5.6) works:
			// the reads use IORING_OP_READV (5.1), and still succeed.
			usable(t, "io_uring", r.Uring)
			contains(t, "opcodes", r.Uring.Facts["opcodes"], "unknown", "IORING_REGISTER_PROBE", "invalid argument", "5.6")
			contains(t, "reads", r.Uring.Facts["reads"], "IORING_OP_READV")
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"IORING_ENTER_EXT_ARG EINVAL (before 5.11)", []testutil.SyscallRule{{Nr: unix.SYS_IO_URING_ENTER, Arg: 3, AnyBit: enterExtArg, Errno: unix.EINVAL}}, func(t *testing.T, r *Report) {
			usable(t, "io_uring", r.Uring)
			if strings.Contains(" "+r.Uring.Facts["features"]+" ", " ext_arg ") {
				t.Errorf("features %q claim ext_arg, which the kernel refused", r.Uring.Facts["features"])
			}
			if testutil.KernelAtLeast(5, 11) { // older kernels do not advertise it
				contains(t, "ext_arg fact", r.Uring.Facts["ext_arg"], "invalid argument")
			}
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"io_setup ENOSYS (no CONFIG_AIO)", []testutil.SyscallRule{deny(unix.SYS_IO_SETUP, unix.ENOSYS)}, func(t *testing.T, r *Report) {
			if r.Libaio.Available || len(r.Libaio.Async) != 0 {
				t.Errorf("libaio available %v with %d rows under the filter", r.Libaio.Available, len(r.Libaio.Async))
			}
			contains(t, "libaio error", r.Libaio.Error, "io_setup", "function not implemented", "CONFIG_AIO")
			usable(t, "io_uring", r.Uring)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"io_setup EAGAIN (aio-max-nr exhausted)", []testutil.SyscallRule{deny(unix.SYS_IO_SETUP, unix.EAGAIN)}, func(t *testing.T, r *Report) {
			if r.Libaio.Available || len(r.Libaio.Async) != 0 {
				t.Errorf("libaio available %v with %d rows under the filter", r.Libaio.Available, len(r.Libaio.Async))
			}
			contains(t, "libaio error", r.Libaio.Error, "io_setup", "resource temporarily unavailable", "aio-max-nr")
			usable(t, "io_uring", r.Uring)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"preadv2 ENOSYS (before 4.6)", []testutil.SyscallRule{deny(unix.SYS_PREADV2, unix.ENOSYS)}, func(t *testing.T, r *Report) {
			if r.System.NowaitRead {
				t.Errorf("preadv2(RWF_NOWAIT) reported usable; the kernel refused preadv2")
			}
			contains(t, "nowait error", r.System.NowaitReadError, "function not implemented", "4.6")
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"preadv2 RWF_NOWAIT EOPNOTSUPP (before 4.14)", []testutil.SyscallRule{{Nr: unix.SYS_PREADV2, Arg: 5, AnyBit: unix.RWF_NOWAIT, Errno: unix.EOPNOTSUPP}}, func(t *testing.T, r *Report) {
			if r.System.NowaitRead {
				t.Errorf("preadv2(RWF_NOWAIT) reported usable; the kernel refused RWF_NOWAIT")
			}
			contains(t, "nowait error", r.System.NowaitReadError, "RWF_NOWAIT", "operation not supported", "4.14")
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"statx ENOSYS (before 4.11)", []testutil.SyscallRule{deny(unix.SYS_STATX, unix.ENOSYS)}, func(t *testing.T, r *Report) {
			// O_DIRECT itself works; only its alignment is not known.
			if !r.System.DirectIO || r.System.DIOMemAlign != cmem.DefaultDirectAlign {
				t.Errorf("system %+v: want O_DIRECT with the %d-byte fallback alignment", r.System, cmem.DefaultDirectAlign)
			}
			contains(t, "alignment guess", r.System.DIOAlignGuess, "statx", "ENOSYS")
			var txt bytes.Buffer
			Print(&txt, r)
			contains(t, "text report", txt.String(), "alignment not reported", "assumed")
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"eventfd2 EMFILE", []testutil.SyscallRule{deny(unix.SYS_EVENTFD2, unix.EMFILE)}, func(t *testing.T, r *Report) {
			// aioprobe's raw paths need no eventfd.
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
		{"clone3 ENOSYS (glibc falls back to clone)", []testutil.SyscallRule{deny(unix.SYS_CLONE3, unix.ENOSYS)}, func(t *testing.T, r *Report) {
			usable(t, "io_uring", r.Uring)
			usable(t, "libaio", r.Libaio)
			usable(t, "POSIX AIO", r.PosixAIO)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, probeDenied(t, c.rules)) })
	}
}

// TestProbeNoThreads: with the probing thread unable to create threads
// (clone3 ENOSYS, then clone EAGAIN, as RLIMIT_NPROC or a full pids cgroup
// give pthread_create), glibc refuses every POSIX AIO request with EAGAIN:
// aioprobe reports POSIX AIO unavailable and why, counts no refused read as
// done, and still probes io_uring and libaio (their workers, if any, are
// the kernel's).
func TestProbeNoThreads(t *testing.T) {
	r := probeDeniedOn(t, []testutil.SyscallRule{
		{Nr: unix.SYS_CLONE3, Arg: -1, Errno: unix.ENOSYS},
		{Nr: unix.SYS_CLONE, Arg: 0, AnyBit: unix.CLONE_THREAD, Errno: unix.EAGAIN},
	}, true)
	if r.PosixAIO.Available {
		t.Errorf("POSIX AIO available with no thread to be had")
	}
	contains(t, "POSIX AIO error", r.PosixAIO.Error, "lio_listio", "resource temporarily unavailable", "4 of 4 reads refused", "no AIO thread")
	if len(r.PosixAIO.Async) != len(modes) {
		t.Errorf("%d POSIX AIO rows, want %d", len(r.PosixAIO.Async), len(modes))
	}
	for _, a := range r.PosixAIO.Async {
		if a.Error == "" || a.Verdict != "" || a.DoneAtReturn != 0 {
			t.Errorf("POSIX AIO row %+v: want an error, no verdict and no read done", a)
		}
	}
	usable(t, "io_uring", r.Uring)
	usable(t, "libaio", r.Libaio)
}
