package libaio

// Resource limits for real (internal/testutil/rlimit.go): RLIMIT_NOFILE
// exhausted on the test process, RLIMIT_AS tight in a child process. Each
// refusal must come back as the C errno, with nothing leaked (context,
// eventfd, C memory, pins), and the Queue must work again once the limit is
// lifted. (A depth above fs.aio-max-nr, EAGAIN, is TestNewQueueDepthErrors
// in edge_test.go.)

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestRlimitNofileNewQueue: with no descriptor left NewQueue fails with
// the eventfd's EMFILE (an *os.SyscallError naming eventfd) after io_setup
// succeeded, and destroys that context again; a Queue made before keeps
// reading and writing (it needs no descriptor), and closes; after the
// limit is lifted NewQueue works. No descriptor, context, C memory or pin
// is left.
func TestRlimitNofileNewQueue(t *testing.T) {
	testutil.CheckLeaks(t)
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, []byte("0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	old, err := NewQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	ctxs, fd0 := liveContexts(), testutil.FDCount()

	e := testutil.ExhaustFDs(t)
	for i := 0; i < 3; i++ {
		q, err := NewQueue(8)
		var se *os.SyscallError
		if q != nil || !errors.Is(err, unix.EMFILE) || !errors.As(err, &se) || !strings.Contains(err.Error(), "eventfd") {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueue with no descriptor left: %v, %v; want an *os.SyscallError eventfd EMFILE", q, err)
		}
		if n := liveContexts(); n != ctxs {
			t.Fatalf("%d Contexts alive after the refused NewQueue, %d before (io_setup's context not destroyed)", n, ctxs)
		}
		buf := make([]byte, 4)
		if n := wait(t)(old.Read(fd, buf, 4)); n != 4 || string(buf) != "4567" {
			t.Errorf("Read on a Queue made before, no descriptor left: %d %q", n, buf)
		}
		if n := wait(t)(old.Write(fd, []byte("WXYZ"), 8)); n != 4 {
			t.Errorf("Write on a Queue made before, no descriptor left: %d", n)
		}
	}
	if err := testutil.CloseWithin(t, old, 10*time.Second, "Queue with no descriptor left"); err != nil {
		t.Errorf("Close with no descriptor left: %v", err)
	}
	e.Restore()
	if n := testutil.FDCount(); n != fd0-1 { // the old Queue's eventfd is closed
		t.Errorf("descriptors: %d with the old Queue, %d after it closed and the refused NewQueues\n%s", fd0, n, testutil.ListFDs())
	}
	q := testQueue(t, 8)
	buf := make([]byte, 4)
	if n := wait(t)(q.Read(fd, buf, 8)); n != 4 || string(buf) != "WXYZ" {
		t.Errorf("Read after the limit was lifted: %d %q", n, buf)
	}
}

// TestRlimitAS, in a child process whose address space has 1 MiB left:
// NewQueue(16384), whose io_setup ring (1 MiB of events) and C block of
// iocbs (1.6 MiB) do not fit, fails with ENOMEM, leaving no context,
// eventfd or C memory behind; NewQueue(4) still works.
func TestRlimitAS(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	testutil.CheckLeaks(t)
	ctxs := liveContexts()
	release := testutil.LeaveAddressSpace(t) // about 1 MiB left
	fd0 := testutil.FDCount()
	for i := 0; i < 3; i++ {
		q, err := NewQueue(16384)
		if q != nil || !errors.Is(err, unix.ENOMEM) && !errors.Is(err, unix.EAGAIN) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("NewQueue(16384) with 1 MiB of address space left: %v, %v; want ENOMEM (or EAGAIN from io_setup)", q, err)
		}
		t.Logf("NewQueue(16384) with 1 MiB of address space left: %v", err)
		if n := liveContexts(); n != ctxs {
			t.Fatalf("%d Contexts alive after the refused NewQueue, %d before", n, ctxs)
		}
	}
	if n := testutil.FDCount(); n != fd0 {
		t.Errorf("descriptors: %d before, %d after the refused NewQueues\n%s", fd0, n, testutil.ListFDs())
	}
	// Under the limit still, with room again (a thread's new malloc arena
	// takes 64 MiB of address space), a small queue works.
	release()
	q, err := NewQueue(4)
	if err != nil {
		t.Fatalf("NewQueue(4) under RLIMIT_AS: %v", err)
	}
	if n := wait(t)(q.Poll(pipeReadable(t), unix.POLLIN)); n&unix.POLLIN == 0 {
		t.Errorf("poll of a readable pipe: %#x", n)
	}
	if err := q.Close(); err != nil {
		t.Error(err)
	}
}

// pipeReadable returns the read end of a pipe with a byte in it (closed at
// the end of the test).
func pipeReadable(t *testing.T) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	unix.Write(p[1], []byte{1})
	return p[0]
}
