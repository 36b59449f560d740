package posixaio

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// readerTids returns the ids of the threads blocked in read(2) on fds.
func readerTids(t testing.TB, fds []int) map[string]bool {
	t.Helper()
	want := map[string]bool{}
	for _, fd := range fds {
		want["0x"+strconv.FormatInt(int64(fd), 16)] = true
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	out := map[string]bool{}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 && f[0] == "0" && want[f[1]] {
			out[task.Name()] = true
		}
	}
	return out
}

// threadScenario queues one read on each of npipes empty pipes and checks
// that glibc serves them with exactly wantThreads threads (one per
// descriptor, up to aio_threads), that the rest wait in its queue and run as
// threads free up, and that idle threads exit after aio_idle_time seconds.
func threadScenario(t *testing.T, npipes, wantThreads int) {
	var rd, wr []int
	var cbs []*Aiocb
	for i := 0; i < npipes; i++ {
		r, w := pipe(t)
		rd, wr = append(rd, r), append(wr, w)
		a := newCb(t, r, make([]byte, 8), 0)
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, a)
	}
	waitBlockedReaders(t, rd, wantThreads)
	tids := readerTids(t, rd)
	t.Logf("%d pipes: %d glibc threads blocked in read", npipes, len(tids))
	queued := 0
	for _, a := range cbs {
		if a.Error() == unix.EINPROGRESS {
			queued++
		}
	}
	if queued != npipes {
		t.Fatalf("%d of %d requests in progress", queued, npipes)
	}
	for i, w := range wr {
		if _, err := unix.Write(w, []byte(fmt.Sprintf("pipe%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range cbs {
		if err := waitDone(t, a); err != nil {
			t.Fatalf("pipe %d: %v", i, err)
		}
		if n, _ := a.Return(); n != 8 || !bytes.Equal(a.Buf(), []byte(fmt.Sprintf("pipe%04d", i))) {
			t.Fatalf("pipe %d: read %d %q", i, n, a.Buf())
		}
	}
	// The threads now idle; glibc ends them after aio_idle_time (1 s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := 0
		for tid := range tids {
			if _, err := os.Stat("/proc/self/task/" + tid); err == nil {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d glibc threads still alive 10s after going idle", left, len(tids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThreadsDefault(t *testing.T) { threadScenario(t, 30, 20) }

// TestThreadsAioInit runs in a fresh process (re-executing the test binary),
// because glibc only takes aio_threads from aio_init before the first request.
func TestThreadsAioInit(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	AioInit(Aioinit{Threads: 4, Num: 8, IdleTime: 1})
	threadScenario(t, 10, 4)
	// Too late now: the pool exists, aio_threads stays 4.
	AioInit(Aioinit{Threads: 50, IdleTime: 1})
	threadScenario(t, 10, 4)
}
