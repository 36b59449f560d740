package posixaio

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// blockedReaders counts the threads of this process that are blocked in
// read(2) on one of fds, from /proc/self/task/*/syscall ("0 0x<fd> ...").
func blockedReaders(t testing.TB, fds []int) int {
	t.Helper()
	want := map[string]bool{}
	for _, fd := range fds {
		want["0x"+strconv.FormatInt(int64(fd), 16)] = true
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 && f[0] == "0" && want[f[1]] {
			n++
		}
	}
	return n
}

// waitBlockedReaders waits until exactly n threads block in read on fds and
// the count has been stable for a little while.
func waitBlockedReaders(t testing.TB, fds []int, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stable := 0
	for stable < 5 {
		got := blockedReaders(t, fds)
		if got == n {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads blocked in read on %v, want %d", got, fds, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// threadCount returns the number of threads of this process.
func threadCount(t testing.TB) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}
