package libaio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Older kernels and restricted systems, emulated by making the real kernel refuse
// system calls with a seccomp filter (testutil.DenySyscalls): on the calling thread
// for what the handle layer does on the caller's goroutine (io_setup, eventfd2, statx,
// preadv2, io_submit, io_cancel in Close), on every thread of a child process for what
// the reaper does on its own (io_getevents) and for io_destroy (see runChild).

func deny(nr int, errno unix.Errno) []testutil.SyscallRule {
	return []testutil.SyscallRule{{Nr: nr, Arg: -1, Errno: errno}}
}

// liveContexts is the number of Contexts alive (registered for QueueRun callbacks).
func liveContexts() int {
	callbacks.Lock()
	defer callbacks.Unlock()
	return len(callbacks.ctxs)
}

// TestSetupRefused: io_setup refused as a kernel without CONFIG_AIO (ENOSYS) or a
// seccomp profile (EPERM) refuses it: NewQueue's error matches ErrUnavailable and the
// errno, and names io_setup; Setup and QueueInit (the raw layer) return the plain
// errno, as C. aio-max-nr used up (EAGAIN) is the plain errno everywhere. Nothing is
// left behind: no Context, eventfd, goroutine or C memory.
func TestSetupRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	ctxs, gs := liveContexts(), runtime.NumGoroutine()
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM, unix.EAGAIN} {
		errs := map[string]error{}
		testutil.OnFilteredThread(t, deny(unix.SYS_IO_SETUP, errno), func() {
			_, errs["Setup"] = Setup(4)
			_, errs["QueueInit"] = QueueInit(4)
			q, err := NewQueue(4)
			if q != nil {
				q.Close()
			}
			errs["NewQueue"] = err
		})
		for name, err := range errs {
			if !errors.Is(err, errno) {
				t.Errorf("%s with io_setup refused (%v): %v; want %v", name, errno, err, errno)
			}
			unavailable := name == "NewQueue" && errno != unix.EAGAIN
			if errors.Is(err, ErrUnavailable) != unavailable {
				t.Errorf("%s with io_setup refused (%v): %v; ErrUnavailable %v, want %v", name, errno, err, !unavailable, unavailable)
			}
			if !unavailable && err != errno {
				t.Errorf("%s with io_setup refused (%v): %#v, want the plain unix.Errno", name, errno, err)
			}
			if unavailable && !strings.Contains(err.Error(), "io_setup") {
				t.Errorf("%s: %q does not name io_setup", name, err)
			}
		}
	}
	if n := liveContexts(); n != ctxs {
		t.Errorf("%d Contexts alive after the refusals, %d before", n, ctxs)
	}
	waitFor(t, "goroutines back", func() bool { return runtime.NumGoroutine() <= gs })
}

// TestNewQueueEventfdRefused: eventfd2 refused (EMFILE: the process's descriptor
// limit; ENFILE: the system's) after io_setup succeeded: NewQueue returns the errno
// and destroys its context again.
func TestNewQueueEventfdRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	ctxs := liveContexts()
	for _, errno := range []unix.Errno{unix.EMFILE, unix.ENFILE} {
		var err error
		testutil.OnFilteredThread(t, deny(unix.SYS_EVENTFD2, errno), func() {
			var q *Queue
			if q, err = NewQueue(4); q != nil {
				q.Close()
			}
		})
		if !errors.Is(err, errno) || !strings.Contains(err.Error(), "eventfd") {
			t.Errorf("NewQueue with eventfd2 refused (%v): %v; want %v, naming eventfd", errno, err, errno)
		}
		if n := liveContexts(); n != ctxs {
			t.Errorf("eventfd2 refused (%v): %d Contexts alive, %d before (io_setup's context not destroyed)", errno, n, ctxs)
		}
	}
}

// TestSubmitRefused: io_submit refusing every request, as an old kernel refuses an
// opcode it lacks (IOCB_CMD_POLL before 4.18) or IOCB_FLAG_RESFD (before 2.6.22) with
// EINVAL, or EAGAIN (out of kernel resources): each request method returns the errno
// with a nil handle, frees its slot and pins (CheckLeaks), and Close returns at once.
func TestSubmitRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	fd, _ := testFile(t, pattern(8192, 21), unix.O_RDWR)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for _, errno := range []unix.Errno{unix.EINVAL, unix.EAGAIN} {
		q := testQueue(t, 4)
		q.SetInlineReads(false)
		testutil.OnFilteredThread(t, deny(unix.SYS_IO_SUBMIT, errno), func() {
			buf := make([]byte, 4096)
			ops := map[string]func() (*completion.Handle, error){
				"Read":   func() (*completion.Handle, error) { return q.Read(fd, buf, 0) },
				"Write":  func() (*completion.Handle, error) { return q.Write(fd, buf, 0) },
				"Readv":  func() (*completion.Handle, error) { return q.Readv(fd, [][]byte{buf, buf}, 0) },
				"Writev": func() (*completion.Handle, error) { return q.Writev(fd, [][]byte{buf}, 0) },
				"Fsync":  func() (*completion.Handle, error) { return q.Fsync(fd) },
				"Fdsync": func() (*completion.Handle, error) { return q.Fdsync(fd) },
				"Poll":   func() (*completion.Handle, error) { return q.Poll(p[0], unix.POLLIN) },
			}
			for i := 0; i < 3; i++ { // more requests than Depth: every slot came back
				for name, op := range ops {
					if h, err := op(); h != nil || err != errno {
						t.Errorf("%s with io_submit refused (%v) = %v, %v; want nil, %v", name, errno, h, err, errno)
					}
				}
			}
			f, err := NewFile(q, fd)
			if err != nil {
				t.Error(err)
				return
			}
			if n, err := f.ReadAt(buf, 0); n != 0 || err != errno {
				t.Errorf("File.ReadAt with io_submit refused (%v) = %d, %v", errno, n, err)
			}
			if n := q.InFlight(); n != 0 {
				t.Errorf("io_submit refused (%v): %d requests in flight", errno, n)
			}
			start := time.Now()
			if err := q.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v with nothing in flight", d)
			}
		})
	}
}

// TestStatxRefusedNewFile: statx refused (ENOSYS before 4.11, EPERM from a seccomp
// profile) on an O_DIRECT descriptor: NewFile still works, with the guessed alignment
// (cmem.DefaultDirectAlign for memory, offsets left to the kernel), and reads the
// file, from an aligned and a misaligned (bounced) buffer. EPERM made NewFile fail.
func TestStatxRefusedNewFile(t *testing.T) {
	testutil.CheckLeaks(t)
	data := pattern(16384, 5)
	fd, _ := testFile(t, data, unix.O_RDONLY|unix.O_DIRECT)
	q := testQueue(t, 4)
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		testutil.OnFilteredThread(t, deny(unix.SYS_STATX, errno), func() {
			f, err := NewFile(q, fd)
			if err != nil {
				t.Errorf("NewFile(O_DIRECT) with statx refused (%v): %v", errno, err)
				return
			}
			if mem, off := f.Align(); mem != cmem.DefaultDirectAlign || off != 1 {
				t.Errorf("statx refused (%v): Align() = %d, %d; want %d, 1 (a guess)", errno, mem, off, cmem.DefaultDirectAlign)
			}
			for _, buf := range [][]byte{alignedGo(8192), make([]byte, 8193)[1:]} {
				if n, err := f.ReadAt(buf, 4096); n != len(buf) || err != nil || !bytes.Equal(buf, data[4096:4096+8192]) {
					t.Errorf("statx refused (%v): ReadAt = %d, %v, data equal %v", errno, n, err, bytes.Equal(buf, data[4096:4096+8192]))
				}
			}
		})
	}
}

// readResult is what a read gave: count, error and a checksum of the bytes.
type readResult struct {
	n   int
	err string
	sum uint32
}

func result(n int, err error, buf []byte) readResult {
	r := readResult{n: n, err: fmt.Sprint(err)}
	for _, b := range buf[:n] {
		r.sum = r.sum*31 + uint32(b)
	}
	return r
}

// TestInlineRefusedSameResults: with preadv2 refused (ENOSYS before 4.6, EPERM from a
// seccomp profile) or RWF_NOWAIT refused (EOPNOTSUPP before 4.14), Queue.Read and
// File.ReadAt give exactly what the asynchronous path gives (a Queue with inline reads
// off), and after the first refusal they make (nearly) no more refused preadv2 calls:
// EPERM cost one per read before.
func TestInlineRefusedSameResults(t *testing.T) {
	testutil.CheckLeaks(t)
	data := pattern(10000, 9)
	fd, _ := testFile(t, data, unix.O_RDONLY)
	offs := []int64{0, 4096, 10000 - 100, 10000, 20000}
	read := func(q *Queue, f *File) (rs []readResult) {
		for _, off := range offs {
			buf := make([]byte, 4096)
			h, err := q.Read(fd, buf, off)
			n := 0
			if err == nil {
				n, err = h.Wait(nil)
			}
			rs = append(rs, result(n, err, buf))
			buf = make([]byte, 4096)
			n, err = f.ReadAt(buf, off)
			rs = append(rs, result(n, err, buf))
		}
		h, err := q.Read(1<<20, make([]byte, 8), 0) // not a descriptor
		return append(rs, result(0, fmt.Errorf("handle %v, %v", h != nil, err), nil))
	}
	async := testQueue(t, 4)
	async.SetInlineReads(false)
	fa, err := NewFile(async, fd)
	if err != nil {
		t.Fatal(err)
	}
	want := read(async, fa)
	if want[0].n != 4096 || want[len(offs)*2-1].err != io.EOF.Error() {
		t.Fatalf("asynchronous reads: %v", want)
	}
	for _, tc := range []struct {
		name  string
		rules []testutil.SyscallRule
		most  int64 // refused preadv2 calls allowed for the reads
	}{
		{"preadv2 ENOSYS", deny(unix.SYS_PREADV2, unix.ENOSYS), 1},
		{"preadv2 EPERM", deny(unix.SYS_PREADV2, unix.EPERM), 1},
		// One descriptor: one refusal, then it is skipped for 1024 reads.
		{"RWF_NOWAIT EOPNOTSUPP", []testutil.SyscallRule{{Nr: unix.SYS_PREADV2, Arg: 5, AnyBit: unix.RWF_NOWAIT, Errno: unix.EOPNOTSUPP}}, 1},
	} {
		q := testQueue(t, 4)
		q.inline.Count(true) // for Missed
		f, err := NewFile(q, fd)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]readResult
		testutil.OnFilteredThread(t, tc.rules, func() {
			for i := 0; i < 50; i++ {
				got = append(got, read(q, f))
			}
		})
		for i, g := range got {
			if fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("%s, round %d: reads gave\n%v\nwant (asynchronous path)\n%v", tc.name, i, g, want)
				break
			}
		}
		if m := q.inline.Missed(); m > tc.most {
			t.Errorf("%s: %d reads made %d refused preadv2 calls, want at most %d", tc.name, 50*len(want), m, tc.most)
		}
	}
}

// TestCloseCancelRefused: io_cancel refused (ENOSYS, EPERM) while a poll of a pipe
// that never gets ready is in flight: Close cannot cancel it, and hung for ever. Now
// it gives up after about 100 ms: io_destroy cancels the poll in the kernel, the
// handle completes with ECANCELED and nothing stays pinned.
func TestCloseCancelRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		q, err := NewQueue(4)
		if err != nil {
			t.Fatal(err)
		}
		h, err := q.Poll(p[0], unix.POLLIN)
		if err != nil {
			t.Fatal(err)
		}
		var cerr error
		var took time.Duration
		testutil.OnFilteredThread(t, deny(unix.SYS_IO_CANCEL, errno), func() {
			start := time.Now()
			cerr = q.Close()
			took = time.Since(start)
		})
		if cerr != nil {
			t.Errorf("io_cancel refused (%v): Close = %v", errno, cerr)
		}
		if _, err := h.Result(); err != unix.ECANCELED {
			t.Errorf("io_cancel refused (%v): poll handle %v, want ECANCELED", errno, err)
		}
		t.Logf("io_cancel refused (%v): Close took %v", errno, took)
	}
}

// Child processes (runChild) for the calls that the reaper goroutine makes on its own
// threads: a filter on every thread of the process.

// childEnv names the scenario a SelfCommand child runs.
const childEnv = "LIBAIO_TEST_CHILD"

// runChild is the body of a child test process: it sets up a Queue, installs a
// filter on every thread that refuses one call, and checks what the Queue does then.
// Exit 0: as expected; 3: no seccomp filter here; 1: the failure on stderr.
func runChild(args []string, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, format+"\n", a...)
		return 1
	}
	scenario := os.Getenv(childEnv)
	q, err := NewQueue(4)
	if err != nil {
		return fail("NewQueue: %v", err)
	}
	fd, err := unix.Open(args[0], unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open: %v", err)
	}
	var nr int
	switch scenario {
	case "getevents":
		nr = unix.SYS_IO_GETEVENTS
	case "destroy":
		nr = unix.SYS_IO_DESTROY
	default:
		return fail("unknown scenario %q", scenario)
	}
	if err := testutil.DenySyscalls(deny(nr, unix.EPERM), true); err != nil {
		fmt.Fprintf(stderr, "seccomp: %v\n", err)
		return 3
	}
	buf := []byte("written through a Queue whose io_getevents fails")
	h, err := q.Write(fd, buf, 0)
	if err != nil {
		return fail("Write: %v", err)
	}
	closed := make(chan error, 1)
	time.AfterFunc(100*time.Millisecond, func() { closed <- q.Close() })
	var cerr error
	select {
	case cerr = <-closed:
	case <-time.After(10 * time.Second):
		return fail("%s refused: Close hung for 10 s", scenario)
	}
	n, werr := h.Result()
	ops, pins := completion.Stats()
	switch scenario {
	case "getevents":
		// The write completed in the kernel, but its event cannot be reaped:
		// Close gives the request up after io_destroy, with the reaper's error.
		if !errors.Is(cerr, unix.EPERM) || !strings.Contains(fmt.Sprint(cerr), "io_getevents") {
			return fail("io_getevents refused: Close = %v, want the io_getevents EPERM", cerr)
		}
		if !errors.Is(werr, unix.EPERM) || n != 0 {
			return fail("io_getevents refused: handle %d, %v; want the io_getevents EPERM", n, werr)
		}
		if ops != 0 || pins != 0 {
			return fail("io_getevents refused: %d ops, %d pins left", ops, pins)
		}
	case "destroy":
		// The event was reaped (the handle is done), io_destroy fails: Close says so.
		if werr != nil || n != len(buf) {
			return fail("io_destroy refused: handle %d, %v", n, werr)
		}
		if !errors.Is(cerr, unix.EPERM) {
			return fail("io_destroy refused: Close = %v, want EPERM", cerr)
		}
	}
	fmt.Fprintf(stdout, "ok: Close = %v\n", cerr)
	return 0
}

// TestChildRefusals runs runChild's scenarios in child processes: io_getevents refused
// on every thread (the reaper cannot reap: the write's handle was never done and Close
// hung for ever; now Close gives up after about 100 ms, fails the handle with the
// error and unpins it), and io_destroy refused (Close returns its errno).
func TestChildRefusals(t *testing.T) {
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, scenario := range []string{"getevents", "destroy"} {
		cmd := testutil.SelfCommand(path)
		cmd.Env = append(cmd.Env, childEnv+"="+scenario)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
			testutil.SkipNoPrivilege(t, "seccomp filters ("+strings.TrimSpace(errb.String())+")")
		}
		if err != nil {
			t.Errorf("%s refused: %v\n%s", scenario, err, errb.String())
			continue
		}
		t.Logf("%s refused: %s", scenario, strings.TrimSpace(out.String()))
	}
}
