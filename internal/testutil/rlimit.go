package testutil

// Resource limits for real: the soft limit of the test process lowered and
// restored (only the soft limit, so that no privilege is needed to raise it
// again: CAP_SYS_RESOURCE is needed only above the hard limit), the
// descriptor table filled to the limit, a test re-run in a child process
// whose limits may stay lowered, and a thread without CAP_IPC_LOCK, for
// which RLIMIT_MEMLOCK counts.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// SetSoftRlimit lowers the soft limit of resource to cur for the rest of
// the test (the hard limit stays), and restores it when the test ends. A
// cur above the hard limit, or a limit the process may not change, skips
// the test as a missing privilege.
func SetSoftRlimit(t testing.TB, resource int, cur uint64) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(resource, &old); err != nil {
		SkipNoPrivilege(t, fmt.Sprintf("getrlimit(%d): %v", resource, err))
	}
	if old.Max != unix.RLIM_INFINITY && cur > old.Max {
		SkipNoPrivilege(t, fmt.Sprintf("rlimit %d of %d above the hard limit %d", resource, cur, old.Max))
	}
	if err := unix.Setrlimit(resource, &unix.Rlimit{Cur: cur, Max: old.Max}); err != nil {
		SkipNoPrivilege(t, fmt.Sprintf("setrlimit(%d, %d): %v", resource, cur, err))
	}
	t.Cleanup(func() {
		if err := unix.Setrlimit(resource, &old); err != nil {
			t.Errorf("restoring rlimit %d to %+v: %v", resource, old, err)
		}
	})
}

// VMSize returns the address space the process uses now (VmSize in
// /proc/self/status), in bytes: the base of an RLIMIT_AS that leaves a
// test a known amount of room. Without /proc the test is skipped; a status
// file without VmSize fails it.
func VMSize(t testing.TB) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		SkipNoFeature(t, "/proc/self/status", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb uint64
		if _, err := fmt.Sscanf(l, "VmSize: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// FDExhaustion is a descriptor table filled up to RLIMIT_NOFILE: every
// open, socket, eventfd or io_uring_setup of the process fails with EMFILE
// until Free or Restore.
type FDExhaustion struct {
	t       testing.TB
	fillers []int
	old     unix.Rlimit
	done    bool
}

// ExhaustFDs lowers the soft RLIMIT_NOFILE to a few descriptors above those
// open now and fills every free number below it with /dev/null, so that the
// next descriptor the process asks for fails with EMFILE. The test's
// cleanup (or Restore) closes the fillers and restores the limit.
func ExhaustFDs(t testing.TB) *FDExhaustion {
	t.Helper()
	e := &FDExhaustion{t: t}
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &e.old); err != nil {
		SkipNoPrivilege(t, fmt.Sprintf("getrlimit(RLIMIT_NOFILE): %v", err))
	}
	high := 0
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		SkipNoFeature(t, "/proc/self/fd", err)
	}
	for _, d := range ents {
		var n int
		if _, err := fmt.Sscan(d.Name(), &n); err == nil && n > high {
			high = n
		}
	}
	lim := uint64(high + 8)
	if lim > e.old.Cur {
		SkipNoPrivilege(t, fmt.Sprintf("RLIMIT_NOFILE %d already below %d", e.old.Cur, lim))
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: lim, Max: e.old.Max}); err != nil {
		SkipNoPrivilege(t, fmt.Sprintf("setrlimit(RLIMIT_NOFILE, %d): %v", lim, err))
	}
	t.Cleanup(e.Restore)
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EMFILE {
			break
		}
		if err != nil {
			e.Restore()
			t.Fatalf("filling the descriptor table: %v", err)
		}
		e.fillers = append(e.fillers, fd)
		if len(e.fillers) > int(lim) {
			e.Restore()
			t.Fatalf("RLIMIT_NOFILE %d: %d descriptors opened without EMFILE", lim, len(e.fillers))
		}
	}
	return e
}

// Free closes n of the fillers: the process may open n descriptors more.
func (e *FDExhaustion) Free(n int) {
	e.t.Helper()
	if n > len(e.fillers) {
		e.t.Fatalf("FDExhaustion.Free(%d): only %d fillers", n, len(e.fillers))
	}
	for _, fd := range e.fillers[len(e.fillers)-n:] {
		unix.Close(fd)
	}
	e.fillers = e.fillers[:len(e.fillers)-n]
}

// Refill fills the free descriptor numbers below the limit again (after
// Free, or after the code under test closed what it opened).
func (e *FDExhaustion) Refill() {
	e.t.Helper()
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EMFILE {
			return
		}
		if err != nil {
			e.t.Fatalf("refilling the descriptor table: %v", err)
		}
		e.fillers = append(e.fillers, fd)
	}
}

// Restore closes the fillers and restores RLIMIT_NOFILE. It is idempotent.
func (e *FDExhaustion) Restore() {
	if e.done {
		return
	}
	e.done = true
	for _, fd := range e.fillers {
		unix.Close(fd)
	}
	e.fillers = nil
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &e.old); err != nil {
		e.t.Errorf("restoring RLIMIT_NOFILE to %+v: %v", e.old, err)
	}
}

// childTestEnv names the test that a process started by InChild runs.
const childTestEnv = "AIOKIT_TEST_CHILD"

// InChild runs the calling test again in a child process (the test binary
// with -test.run naming it) and reports whether the caller is that child.
// In the parent it waits for the child (two minutes at most), fails the test
// with the child's output if the child failed, skips it with the child's
// reason if the child skipped, logs the child's output otherwise, and
// returns false: the caller returns. In the child it returns true, and the
// caller sets limits that cannot be restored (a hard limit, RLIMIT_AS) and
// runs the test body. The child's TestMain checks its descriptors too.
// The child runs with MALLOC_ARENA_MAX=1: otherwise a thread's first
// malloc may reserve a new glibc arena, 64 MiB of address space, at any
// moment, and the room a test leaves under RLIMIT_AS would depend on which
// threads the scheduler started meanwhile.
func InChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childTestEnv) == t.Name() {
		return true
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childTestEnv+"="+t.Name(), "MALLOC_ARENA_MAX=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	switch {
	case err != nil:
		t.Fatalf("child process: %v\n%s", err, text)
	case strings.Contains(text, "--- SKIP: "+t.Name()):
		reason := "child skipped"
		if i := strings.Index(text, "privilege missing: "); i >= 0 {
			reason = strings.TrimPrefix(firstLine(text[i:]), "privilege missing: ")
			SkipNoPrivilege(t, reason)
		}
		if i := strings.Index(text, "kernel feature missing: "); i >= 0 {
			t.Skip(firstLine(text[i:]))
		}
		t.Fatalf("child skipped without naming a missing feature or privilege:\n%s", text)
	case !strings.Contains(text, "--- PASS: "+t.Name()):
		t.Fatalf("child process ran no test %s:\n%s", t.Name(), text)
	}
	t.Logf("child process:\n%s", text)
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// WithoutCapability runs f on an OS thread whose effective capabilities
// lack capability (unix.CAP_IPC_LOCK: then RLIMIT_MEMLOCK applies to what
// the thread locks or pins, and to the io_uring instances it creates, even
// as root). The thread gets the capability back before it serves other
// goroutines; if that fails it is left locked, so that it ends with f's
// goroutine.
func WithoutCapability(t testing.TB, capability int, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capget: %w", err)
			return
		}
		saved := data
		data[capability/32].Effective &^= 1 << (capability % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- fmt.Errorf("capset: %w", err)
			return
		}
		errc <- nil
		defer func() {
			if err := unix.Capset(&hdr, &saved[0]); err == nil {
				runtime.UnlockOSThread()
			}
		}()
		f()
	}()
	if err := <-errc; err != nil {
		SkipNoPrivilege(t, fmt.Sprintf("dropping capability %d from a thread: %v", capability, err))
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("hung for a minute on the thread without the capability")
	}
}

// WarmGoHeap makes the Go heap hold some free room before a test leaves the
// process almost no address space (RLIMIT_AS): it allocates and drops
// 32 MiB and collects, so that the runtime's small allocations meanwhile
// come from arenas it has already reserved. A new 64 MiB heap arena that
// cannot be reserved ends the process ("fatal error: out of memory"),
// which no test can catch.
func WarmGoHeap() {
	b := make([]byte, 32<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	runtime.GC()
}

// WarmThreads makes the runtime start n OS threads at once and leaves them
// idle, for it to reuse later: under a tight RLIMIT_AS a thread the runtime
// would start (pthread_create maps the new thread's stack) fails, and the
// runtime then aborts the process ("runtime/cgo: pthread_create failed",
// seen once in a CI run of TestRlimitAS under -race).
func WarmThreads(n int) {
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread() // each on a thread of its own meanwhile
			ready.Done()
			<-release
			runtime.UnlockOSThread() // the thread goes back to the runtime
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}

// LimitAddressSpace sets a soft RLIMIT_AS room bytes above the address
// space the process uses now (VMSize), for the rest of the test, after
// starting spare threads (WarmThreads) that a thread the runtime needs
// under the limit would otherwise have to map a stack for. Run it in a
// child process (InChild).
func LimitAddressSpace(t testing.TB, room uint64) {
	t.Helper()
	WarmThreads(8)
	SetSoftRlimit(t, unix.RLIMIT_AS, VMSize(t)+room)
}

// LeaveAddressSpace leaves the process about 1 MiB of address space for
// the rest of the test: it starts spare threads (WarmThreads), warms the
// Go heap (WarmGoHeap), sets a soft
// RLIMIT_AS 64 MiB above what the process uses, fills that with 1 MiB
// PROT_NONE mappings and unmaps the last one. Mappings above 1 MiB (a big
// ring, C memory) then fail with ENOMEM, small ones and the runtime's
// small allocations still fit. release unmaps the mappings (the room is
// back, under the limit still); they go anyway, and the limit is restored,
// when the test ends. Run it in a child process (InChild): a runtime that
// still needs a new heap arena under the limit ends the process.
func LeaveAddressSpace(t testing.TB) (release func()) {
	t.Helper()
	WarmGoHeap()
	LimitAddressSpace(t, 64<<20)
	var maps [][]byte
	for {
		m, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			break
		}
		maps = append(maps, m)
	}
	if len(maps) == 0 {
		t.Fatal("RLIMIT_AS: no 1 MiB mapping fits")
	}
	unix.Munmap(maps[len(maps)-1])
	maps = maps[:len(maps)-1]
	release = func() {
		for _, m := range maps {
			unix.Munmap(m)
		}
		maps = nil
	}
	t.Cleanup(release)
	return release
}
