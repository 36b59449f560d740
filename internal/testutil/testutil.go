// Package testutil holds the helpers every aiokit test uses to skip (only
// with a named missing kernel feature or privilege), to find a directory
// that supports O_DIRECT, and to prove that no operation or pin leaks.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/kver"
	"golang.org/x/sys/unix"
)

// SkipNoFeature skips the test because the kernel lacks feature; err is the
// error that showed it (for example EINVAL from a probe).
func SkipNoFeature(t testing.TB, feature string, err error) {
	t.Helper()
	t.Skipf("kernel feature missing: %s: %v (kernel %s)", feature, err, Release())
}

// SkipNoPrivilege skips the test because the process lacks what (a
// capability, a writable sysctl, root).
func SkipNoPrivilege(t testing.TB, what string) {
	t.Helper()
	t.Skipf("privilege missing: %s", what)
}

// Release returns the running kernel's release string (uname -r).
func Release() string { return kver.Release() }

// KernelVersion returns the running kernel's major and minor version (0, 0
// when the release does not parse).
func KernelVersion() (major, minor int) {
	ma, mi, _ := kver.Version()
	return ma, mi
}

// KernelAtLeast reports whether the kernel is major.minor or newer.
func KernelAtLeast(major, minor int) bool {
	ma, mi := KernelVersion()
	return ma > major || ma == major && mi >= minor
}

// RequireKernel skips the test on kernels older than major.minor, naming
// feature. On a kernel new enough it returns, and the test must then fail
// (not skip) if the feature turns out to be missing.
func RequireKernel(t testing.TB, major, minor int, feature string) {
	t.Helper()
	if !KernelAtLeast(major, minor) {
		t.Skipf("kernel feature missing: %s needs Linux %d.%d, running %s", feature, major, minor, Release())
	}
}

// FeatureMissing is for a test that probed feature and got err: below
// major.minor it skips; on a kernel new enough it fails, because the feature
// should be there.
func FeatureMissing(t testing.TB, major, minor int, feature string, err error) {
	t.Helper()
	if KernelAtLeast(major, minor) {
		t.Fatalf("%s missing on Linux %s (expected since %d.%d): %v", feature, Release(), major, minor, err)
	}
	SkipNoFeature(t, feature, err)
}

// CheckLeaks makes the test fail unless, when it ends, the live operations
// and pins of cgo/completion and the live C allocations of cgo/cmem are back
// to what they were when CheckLeaks was called. It waits up to five seconds
// for in-flight completions to be reaped.
func CheckLeaks(t testing.TB) {
	t.Helper()
	ops0, pins0 := completion.Stats()
	mem0 := cmem.Live()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ops, pins := completion.Stats()
			mem := cmem.Live()
			if ops == ops0 && pins == pins0 && mem == mem0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: live ops %d -> %d, live pins %d -> %d, C buffers %d -> %d",
					ops0, ops, pins0, pins, mem0, mem)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// SupportsDirectIO reports whether files in dir can be opened with O_DIRECT.
func SupportsDirectIO(dir string) error {
	f, err := os.CreateTemp(dir, "aiokit-odirect-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open O_DIRECT: %w", err)
	}
	unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Type == unix.TMPFS_MAGIC {
		return fmt.Errorf("%s is tmpfs", dir)
	}
	return nil
}

// TempDir returns a fresh directory, removed at the end of the test, on a
// disk filesystem that supports O_DIRECT. $AIOKIT_TESTDIR is tried first,
// then the usual temporary directories and the working directory. If none
// qualifies the test is skipped, naming the missing feature.
func TempDir(t testing.TB) string {
	t.Helper()
	cands := []string{os.Getenv("AIOKIT_TESTDIR"), os.TempDir(), "/var/tmp", "."}
	var errs []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		if err := SupportsDirectIO(c); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		d, err := os.MkdirTemp(c, "aiokit-test-")
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		d, _ = filepath.Abs(d)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	SkipNoFeature(t, "O_DIRECT on a disk filesystem", fmt.Errorf("%s", strings.Join(errs, "; ")))
	return ""
}

// TmpfsDir returns a fresh directory on the tmpfs at /dev/shm, removed at
// the end of the test; the test is skipped, by name, when /dev/shm is not
// tmpfs.
func TmpfsDir(t testing.TB) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || uint32(st.Type) != unix.TMPFS_MAGIC {
		SkipNoFeature(t, "tmpfs at /dev/shm", fmt.Errorf("statfs type %#x, %v", st.Type, err))
	}
	d, err := os.MkdirTemp("/dev/shm", "aiokit-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// RequireNowaitRead skips the test, by name, unless preadv2(RWF_NOWAIT)
// reads of cached data work on fd (Linux 4.14+ on most file systems; the
// test fails instead on 5.1+, where they should).
func RequireNowaitRead(t testing.TB, fd int) {
	t.Helper()
	_, err := unix.Preadv2(fd, [][]byte{make([]byte, 1)}, 0, unix.RWF_NOWAIT)
	if err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EINVAL {
		FeatureMissing(t, 5, 1, "preadv2(RWF_NOWAIT) on buffered files", err)
	}
}

// CloseWithin calls c.Close and returns its error; if Close has not
// returned after d, it fails the test (Fatalf, naming what) and leaves the
// call running. For Close methods that wait for what is in flight and must
// not hang.
func CloseWithin(t testing.TB, c io.Closer, d time.Duration, what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s: Close still waiting after %v", what, d)
		return nil
	}
}

// WaitHandle waits for h for at most 10 s and returns its result; a hang
// fails the test, naming what.
func WaitHandle(t testing.TB, h *completion.Handle, what string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := h.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: no completion in 10 s", what)
	}
	return n, err
}
