package libaio

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// A QueueRun callback that panics (and a caller that recovers, as servers do) does not
// leave the Context unusable: the panic comes out of QueueRun, and Destroy returns.
func TestQueueRunPanicReraised(t *testing.T) {
	fd, _ := testFile(t, pattern(4096, 1), unix.O_RDWR)
	c, err := QueueInit(4)
	if err != nil {
		t.Fatal(err)
	}
	var cb Iocb
	cb.PrepFsync(fd)
	cb.SetCallback(func(*Context, *Iocb, int64, int64) { panic("callback boom") })
	if n, err := c.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatalf("Submit: %d, %v", n, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	panicked := false
	for !panicked && time.Now().Before(deadline) {
		func() {
			defer func() {
				if r := recover(); r != nil {
					if r != "callback boom" {
						t.Errorf("QueueRun panicked with %v, want the callback's value", r)
					}
					panicked = true
				}
			}()
			c.QueueRun()
		}()
	}
	if !panicked {
		t.Fatal("callback never ran")
	}
	done := make(chan error, 1)
	go func() { done <- c.QueueRelease() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("QueueRelease: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("QueueRelease hangs after a recovered callback panic (users = %#x)", c.users.Load())
	}
}

// TestCallbackLifetime: as C calls whatever function iocb->data names, QueueRun
// calls an Iocb's callback for every event of it (C reference: io_set_callback,
// then io_submit of {&a, &a}: 2 calls; resubmitted: 1; after an io_getevents
// reaped one event without calling: 1; resubmitted on a new context after
// io_destroy: 1), until a Prep* method or SetCallback(nil) releases it.
func TestCallbackLifetime(t *testing.T) {
	fd, _ := testFile(t, []byte("hello world"), unix.O_RDONLY)
	mem := cbuf(t, 4096)
	a := &unsafeIocbs(mem, 1)[0]
	calls := 0
	a.PrepPread(fd, mem[1024:1029], 0)
	a.SetCallback(func(*Context, *Iocb, int64, int64) { calls++ })
	run := func(c *Context, want int) {
		t.Helper()
		calls = 0
		for deadline := time.Now().Add(5 * time.Second); calls < want && time.Now().Before(deadline); {
			if _, err := c.QueueRun(); err != nil {
				t.Fatal(err)
			}
		}
		if calls != want {
			t.Fatalf("%d callback calls, want %d", calls, want)
		}
	}
	submit := func(c *Context, ios ...*Iocb) {
		t.Helper()
		if n, err := c.Submit(ios); n != len(ios) || err != nil {
			t.Fatalf("Submit = %d, %v", n, err)
		}
	}
	c1 := testContext(t, 8)
	submit(c1, a, a)
	run(c1, 2)
	submit(c1, a)
	run(c1, 1)
	submit(c1, a)
	getAll(t, c1, 1) // reaped without the callback
	submit(c1, a)
	run(c1, 1)
	c2, err := Setup(8)
	if err != nil {
		t.Fatal(err)
	}
	submit(c2, a)
	getAll(t, c2, 1)
	submit(c2, a)
	if err := c2.Destroy(); err != nil { // discards a's event
		t.Fatal(err)
	}
	submit(c1, a)
	run(c1, 1)
	// Released by SetCallback(nil) and by a Prep* method.
	key := uintptr(unsafe.Pointer(a))
	registered := func() bool {
		callbacks.Lock()
		defer callbacks.Unlock()
		_, ok := callbacks.byIocb[key]
		return ok
	}
	if a.SetCallback(nil); registered() {
		t.Error("SetCallback(nil) kept the callback")
	}
	a.SetCallback(func(*Context, *Iocb, int64, int64) {})
	if a.PrepPread(fd, mem[1024:1029], 0); registered() {
		t.Error("PrepPread kept the callback of the Iocb it cleared")
	}
}

// TestPrepPollHighBit: io_prep_poll takes an int, and the kernel any 16-bit mask:
// PrepPoll's int16 with bit 15 set (0x8001) is that mask, not sign-extended to
// 0xffff8001 (which io_submit refused with EINVAL). C: io_prep_poll(fd,
// 0x8000|POLLIN) submits and the event's res is POLLIN.
func TestPrepPollHighBit(t *testing.T) {
	ctx := testContext(t, 4)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.Write(p[1], []byte("x"))
	var cb Iocb
	cb.PrepPoll(p[0], int16(-0x8000)|int16(unix.POLLIN))
	if cb.Buf != 0x8001 || cb.PollEvents() != int16(-0x8000)|int16(unix.POLLIN) {
		t.Fatalf("u.poll.events = %#x, PollEvents %#x", cb.Buf, cb.PollEvents())
	}
	if n, err := ctx.Submit([]*Iocb{&cb}); n != 1 || err != nil {
		t.Fatalf("Submit(poll 0x8001) = %d, %v", n, err)
	}
	if ev := getAll(t, ctx, 1); ev[0].Res != int64(unix.POLLIN) {
		t.Errorf("Res = %d, want POLLIN (%d) as in C", ev[0].Res, unix.POLLIN)
	}
}

// A GetEvents waiting with a timespec the kernel does not check (Nsec past a second
// adds to the wait, a negative total waits forever: kernelTimeout) is waited for in
// slices like any long wait, so Destroy does not wait for it (it waited 30 s, or
// forever, when such a timespec was one unbounded C call).
func TestDestroyWakesUnnormalizedTimeout(t *testing.T) {
	for _, ts := range []unix.Timespec{{Sec: 0, Nsec: 30e9}, {Sec: -1, Nsec: 0}} {
		ts := ts
		c, err := Setup(4)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			evs := make([]Event, 1)
			// Retried on EINTR, as callers do: a GetEvents that a signal ended
			// before the loop below saw it inside left it waiting for ever.
			for {
				if _, err := c.GetEvents(1, evs, &ts); err != unix.EINTR {
					return
				}
			}
		}()
		for c.users.Load() == 0 {
			time.Sleep(time.Millisecond) // until GetEvents is inside io_getevents
		}
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.Destroy() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("timeout %+v: Destroy = %v after %v", ts, err, time.Since(t0))
			}
		case <-time.After(5 * time.Second):
			t.Errorf("timeout %+v: Destroy still blocked after 5 s behind a GetEvents", ts)
		}
	}
}

// kernelTimeout reads a timespec as fs/aio.c does (timespec64_to_ktime, a relative
// hrtimer whose expiry before the clock's start means the end of time).
func TestKernelTimeout(t *testing.T) {
	for _, c := range []struct {
		ts      *unix.Timespec
		d       time.Duration
		forever bool
	}{
		{nil, 0, true},
		{&unix.Timespec{}, 0, false},
		{&unix.Timespec{Sec: 1, Nsec: 5}, time.Second + 5, false},
		{&unix.Timespec{Nsec: 3e9}, 3 * time.Second, false},
		{&unix.Timespec{Sec: 2, Nsec: -1e9}, time.Second, false},
		{&unix.Timespec{Sec: 1, Nsec: -1e9}, 0, false},
		{&unix.Timespec{Sec: -1}, 0, true},
		{&unix.Timespec{Nsec: -1}, 0, true},
		{&unix.Timespec{Sec: ktimeSecMax - 1}, time.Duration(ktimeSecMax-1) * time.Second, false},
		{&unix.Timespec{Sec: ktimeSecMax}, 0, true},
		{&unix.Timespec{Sec: 1 << 62}, 0, true},
	} {
		d, forever := kernelTimeout(c.ts)
		if d != c.d || forever != c.forever {
			t.Errorf("kernelTimeout(%+v) = %v, %v; want %v, %v", c.ts, d, forever, c.d, c.forever)
		}
	}
}

// On tmpfs (/dev/shm) O_DIRECT is accepted at any alignment, and statx reports no
// STATX_DIOALIGN: File bounces to the guess (cmem.DefaultDirectAlign) but leaves
// offsets and lengths to the kernel, which carries out what it refused before.
func TestFileDirectUnknownAlign(t *testing.T) {
	path := filepath.Join(testutil.TmpfsDir(t), "f")
	if err := os.WriteFile(path, pattern(8192, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		testutil.SkipNoFeature(t, "O_DIRECT on tmpfs", err)
	}
	defer unix.Close(fd)
	q := testQueue(t, 4)
	data := []byte("hello, tmpfs")
	h, err := q.Write(fd, data, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(nil); n != len(data) || err != nil {
		t.Fatalf("kernel: Queue.Write(%d bytes at 1) = %d, %v", len(data), n, err)
	}
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	if mem, off := f.Align(); mem != cmem.DefaultDirectAlign || off != 1 {
		t.Errorf("Align() = %d, %d; want %d, 1 (alignment unknown)", mem, off, cmem.DefaultDirectAlign)
	}
	if n, err := f.WriteAt(data, 1); n != len(data) || err != nil {
		t.Errorf("File.WriteAt(%d bytes at 1) = %d, %v; the kernel wrote them (Align() = %v)", len(data), n, err, fmt.Sprint(f.Align()))
	}
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 1); n != len(data) || err != nil {
		t.Errorf("File.ReadAt(%d bytes at 1) = %d, %v; pread/AIO read them", len(data), n, err)
	}
}

// An empty ReadAt/WriteAt on an O_DIRECT file at an offset that is not aligned: the
// kernel (and os.File) returns 0, nil, and so does File (no *AlignError).
func TestFileEmptyUnalignedDirect(t *testing.T) {
	fd, _ := testFile(t, pattern(8192, 4), unix.O_RDWR|unix.O_DIRECT)
	q := testQueue(t, 4)
	q.SetInlineReads(false)
	h, err := q.Read(fd, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(nil); n != 0 || err != nil {
		t.Fatalf("kernel: empty AIO read at 1 = %d, %v", n, err)
	}
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReadAt(nil, 1); n != 0 || err != nil {
		t.Errorf("File.ReadAt(nil, 1) = %d, %v; kernel gives 0, nil", n, err)
	}
	if n, err := f.WriteAt([]byte{}, 1); n != 0 || err != nil {
		t.Errorf("File.WriteAt(empty, 1) = %d, %v; want 0, nil", n, err)
	}
}

// TestNewQueueDepthErrors: NewQueue gives io_setup's errno for a depth of 0
// (EINVAL) and one above fs.aio-max-nr (EAGAIN), and EINVAL beyond
// completion.MaxTableSize, as uring and posixaio (io_setup would take it
// where fs.aio-max-nr is raised, and the table would be cut to MaxTableSize).
func TestNewQueueDepthErrors(t *testing.T) {
	if q, err := NewQueue(0); q != nil || err != unix.EINVAL {
		t.Errorf("NewQueue(0) = %v, %v; want EINVAL", q, err)
	}
	if b, err := os.ReadFile("/proc/sys/fs/aio-max-nr"); err == nil {
		max, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if max < completion.MaxTableSize {
			if q, err := NewQueue(max + 1); q != nil || err != unix.EAGAIN {
				t.Errorf("NewQueue(aio-max-nr+1 = %d) = %v, %v; want EAGAIN", max+1, q, err)
			}
		}
	}
	if q, err := NewQueue(completion.MaxTableSize + 1); q != nil || err != unix.EINVAL {
		t.Fatalf("NewQueue(MaxTableSize+1) = %v, %v; want EINVAL", q, err)
	}
}
