package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Main runs a package's tests (call it from TestMain) and fails the run if
// they leave file descriptors open that were not open before: an io_uring,
// an eventfd of a queue that was never closed, a pipe or a file. It lists
// each leaked descriptor with what /proc/self/fd says it is.
//
// Descriptors that Go's runtime opens once for the whole process (the
// network poller's epoll instance and its wake-up eventfd) are opened before
// the first listing, so they do not count.
func Main(m *testing.M) {
	primePoller()
	before := openFDs()
	code := m.Run()
	if code == 0 {
		if leaked := leakedFDs(before); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "testutil: the tests leaked %d file descriptors:\n", len(leaked))
			for _, l := range leaked {
				fmt.Fprintf(os.Stderr, "\t%s\n", l)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// primePoller makes the runtime open its network poller now.
func primePoller() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.SetReadDeadline(time.Now()) // registers r with the poller
	r.Close()
	w.Close()
}

// openFDs returns the process's open descriptors and their targets.
func openFDs() map[int]string {
	fds := map[int]string{}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fds
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	self := int(d.Fd())
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == self {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + n)
		fds[fd] = target
	}
	return fds
}

// leakedFDs returns the descriptors open now that were not open (or were
// something else) in before. Finalizers get one chance to close forgotten
// *os.File values first: those are leaks too, but of the test's own making,
// and are still reported if a collection does not close them.
func leakedFDs(before map[int]string) []string {
	diff := func() []string {
		var out []string
		for fd, target := range openFDs() {
			if before[fd] != target {
				out = append(out, fmt.Sprintf("fd %d: %s", fd, target))
			}
		}
		sort.Strings(out)
		return out
	}
	leaked := diff()
	if len(leaked) == 0 {
		return nil
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	leaked = diff()
	for i, l := range leaked {
		if strings.Contains(l, "anon_inode:[io_uring]") {
			leaked[i] = l + " (a Ring or Queue not closed)"
		}
	}
	return leaked
}

// InheritedFDs returns what a child process started now with os/exec finds
// open beyond its standard input, output and error ("N -> target", as
// /proc/<pid>/fd shows it). Every descriptor a library opens without
// O_CLOEXEC shows up here: a ring, an eventfd or a file that leaks into
// every program the user runs, and keeps the file open after the parent
// closed it.
func InheritedFDs(t testing.TB) []string {
	t.Helper()
	// The shell's ls lists the shell's descriptors, which are what it
	// inherited: ls's own (the directory it reads) are not in that list.
	out, err := exec.Command("/bin/sh", "-c", `ls -l /proc/$$/fd`).Output()
	if err != nil {
		t.Fatalf("listing a child's descriptors: %v", err)
	}
	var fds []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[len(f)-2] != "->" {
			continue // "total 0"
		}
		if n, err := strconv.Atoi(f[len(f)-3]); err == nil && n > 2 {
			fds = append(fds, strings.Join(f[len(f)-3:], " "))
		}
	}
	return fds
}
