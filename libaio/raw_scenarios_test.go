package libaio

// Raw-layer scenarios: Context, Iocb and Event driven the way a C program
// ported line by line drives libaio (iocbs in one C block, io_submit of
// random batches, io_getevents / io_pgetevents / io_queue_run with an
// eventfd to wait on), on real files and pipes. Every result is checked
// exactly; time bounds are hang guards only.

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawAppEventfd returns a non-blocking eventfd, closed at cleanup.
func rawAppEventfd(t testing.TB) int {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	return efd
}

// rawAppWaitEventfd waits (poll(2), at most d) until efd is readable and
// returns its count (0 on timeout).
func rawAppWaitEventfd(t testing.TB, efd int, d time.Duration) uint64 {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, int(d/time.Millisecond)); err != nil && err != unix.EINTR {
		t.Fatalf("poll eventfd: %v", err)
	}
	var b [8]byte
	if _, err := unix.Read(efd, b[:]); err == unix.EAGAIN {
		return 0
	} else if err != nil {
		t.Fatalf("read eventfd: %v", err)
	}
	return *(*uint64)(unsafe.Pointer(&b[0]))
}

// rawAppIocbIndex returns the index in iocbs (a C block) of the iocb an
// event completes, failing the test for an address outside the block.
func rawAppIocbIndex(t testing.TB, iocbs []Iocb, obj uint64) int {
	t.Helper()
	base := uint64(uintptr(unsafe.Pointer(&iocbs[0])))
	if obj < base || (obj-base)%uint64(SizeofIocb) != 0 || int((obj-base)/uint64(SizeofIocb)) >= len(iocbs) {
		t.Fatalf("event for iocb %#x, not one of the %d at %#x", obj, len(iocbs), base)
	}
	return int((obj - base) / uint64(SizeofIocb))
}

// ---------------------------------------------------------------------------
// Scenario 2: a batch copy of a 16 MiB file.

// TestRawAppBatchCopy copies a 16 MiB file that does not end on a block
// boundary, O_DIRECT at both ends, through 32 iocbs in one C block and 32
// aligned C buffers: reads of random sizes (io_prep_pread, or
// io_prep_preadv over two halves from cmem.NewIovecs) go in with io_submit
// in batches of random size (a short count is resubmitted from where it
// stopped), each completed read becomes a write (io_prep_pwrite or
// io_prep_pwritev2), and every iocb has io_set_eventfd and io_set_callback.
// Events are reaped in random ways: io_getevents with a random min_nr into
// a small array, io_pgetevents with SIGURG blocked, or a wait on the
// eventfd and io_queue_run (the callbacks). The read at the end of the file
// is short; its block is written whole and the file truncated. Then an
// IO_CMD_FSYNC, the eventfd's count is checked against the events, and the
// copy compared byte for byte.
func TestRawAppBatchCopy(t *testing.T) {
	const (
		size  = 16<<20 - 3000
		slots = 32
		block = 4096
		maxIO = 256 << 10
	)
	rnd, content, src, dst, dstPath := testutil.AppDirectCopyFiles(t, size, 1)
	efd := rawAppEventfd(t)
	c := testContext(t, slots)

	iocbs := unsafeIocbs(cbuf(t, slots*SizeofIocb), slots)
	mem := cbuf(t, slots*maxIO)
	bufs := make([][]byte, slots)
	halves := make([][]unix.Iovec, slots)
	for i := range bufs {
		bufs[i] = mem[i*maxIO : (i+1)*maxIO : (i+1)*maxIO]
		v, err := cmem.NewIovecs([][]byte{bufs[i][:maxIO/2], bufs[i][maxIO/2:]})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Free()
		halves[i] = unsafe.Slice((*unix.Iovec)(v.Ptr()), 2)
	}
	// The callbacks must not outlive the C block (a later iocb at the same
	// address would find them).
	defer func() {
		for i := range iocbs {
			iocbs[i].SetCallback(nil)
		}
	}()

	st := make([]testutil.AppCopySpan, slots)
	var tally testutil.AppCopyTally
	var queue []*Iocb // prepared, not yet accepted by io_submit
	next, inflight, events := 0, 0, 0
	var readvs, runs, pgets, gets int
	var handle func(i int, res, res2 int64)
	callback := func(_ *Context, cb *Iocb, res, res2 int64) {
		runs++
		handle(rawAppIocbIndex(t, iocbs, uint64(uintptr(unsafe.Pointer(cb)))), res, res2)
	}
	prep := func(i int) {
		s, cb := &st[i], &iocbs[i]
		switch {
		case !s.Write && s.Done == 0 && s.Want == maxIO && rnd.IntN(4) == 0:
			cb.PrepPreadv(src, halves[i], int64(s.Off))
			readvs++
		case !s.Write:
			cb.PrepPread(src, bufs[i][s.Done:s.Want], int64(s.Off+s.Done))
		case rnd.IntN(2) == 0:
			cb.PrepPwrite(dst, bufs[i][s.Done:s.Want], int64(s.Off+s.Done))
		default:
			v := unsafe.Slice(&halves[i][0], 1) // first iovec, resized for the range
			off := s.Done
			setIov(&v[0], bufs[i][off:s.Want])
			cb.PrepPwritev2(dst, v, int64(s.Off+off), 0)
		}
		cb.SetEventfd(efd)
		cb.SetCallback(callback)
		queue = append(queue, cb)
		inflight++
	}
	handle = func(i int, res, res2 int64) {
		events++
		inflight--
		s := &st[i]
		if res < 0 || res2 != 0 {
			t.Fatalf("slot %d (write %v) at %d: res %d res2 %d", i, s.Write, s.Off+s.Done, res, res2)
		}
		if err := s.Step(int(res), size, block, bufs[i], &tally); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		if s.Busy {
			prep(i)
		}
	}
	// The halves' first iovec is rewritten by the pwritev2 path: restore it
	// before a preadv (only when the slot reads whole, as prep checks).
	restore := func(i int) { setIov(&halves[i][0], bufs[i][:maxIO/2]) }

	evs := make([]Event, 8)
	var urg unix.Sigset_t
	urg.Val[(unix.SIGURG-1)/64] |= 1 << ((uint(unix.SIGURG) - 1) % 64)
	var efdCount uint64
	deadline := time.Now().Add(testutil.AppHang)
	for tally.Written < size {
		if time.Now().After(deadline) {
			t.Fatalf("copy: %d of %d bytes after %v (%d in flight)", tally.Written, size, testutil.AppHang, inflight)
		}
		testutil.AppStartSpans(rnd, len(st), func(i int) bool { return st[i].Busy }, &next, size, block, maxIO, func(i, off, n int) {
			st[i] = testutil.AppCopySpan{Busy: true, Off: off, Want: n}
			restore(i)
			prep(i)
		})
		// io_submit in batches of random size; a short count is resubmitted.
		for len(queue) > 0 {
			k := 1 + rnd.IntN(len(queue))
			n, err := c.Submit(queue[:k])
			if err != nil {
				t.Fatalf("io_submit of %d: %v", k, err)
			}
			if n == 0 {
				t.Fatalf("io_submit of %d accepted none", k)
			}
			queue = queue[n:]
		}
		switch rnd.IntN(3) {
		case 0:
			minNr := 1 + rnd.IntN(min(inflight, len(evs)))
			nr := minNr + rnd.IntN(len(evs)-minNr+1)
			ts := unix.NsecToTimespec(int64(testutil.AppHang))
			n, err := c.GetEvents(minNr, evs[:nr], &ts)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n < minNr || n > nr {
				t.Fatalf("io_getevents(%d, %d) with %d in flight = %d, %v", minNr, nr, inflight, n, err)
			}
			gets++
			for _, ev := range append([]Event(nil), evs[:n]...) {
				if ev.Data != trampoline {
					t.Fatalf("event data %#x, want the callback's %#x", ev.Data, trampoline)
				}
				handle(rawAppIocbIndex(t, iocbs, ev.Obj), ev.Res, ev.Res2)
			}
		case 1:
			ts := unix.NsecToTimespec(int64(testutil.AppHang))
			n, err := c.PGetEvents(1, evs[:1+rnd.IntN(len(evs))], &ts, &urg)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n < 1 {
				t.Fatalf("io_pgetevents with %d in flight = %d, %v", inflight, n, err)
			}
			pgets++
			for _, ev := range append([]Event(nil), evs[:n]...) {
				handle(rawAppIocbIndex(t, iocbs, ev.Obj), ev.Res, ev.Res2)
			}
		default:
			efdCount += rawAppWaitEventfd(t, efd, time.Second)
			if _, err := c.QueueRun(); err != nil {
				t.Fatalf("io_queue_run: %v", err)
			}
		}
	}
	if inflight != 0 {
		t.Fatalf("%d requests in flight after the copy", inflight)
	}
	if err := unix.Ftruncate(dst, size); err != nil {
		t.Fatal(err)
	}
	var fs Iocb
	fs.PrepFsync(dst)
	fs.SetEventfd(efd)
	if n, err := c.Submit([]*Iocb{&fs}); n != 1 || err != nil {
		t.Fatalf("io_submit fsync: %d, %v", n, err)
	}
	if ev := getAll(t, c, 1)[0]; !ev.ObjIs(&fs) || ev.Res != 0 {
		t.Fatalf("fsync event %+v", ev)
	}
	runtime.KeepAlive(&fs)
	// Every completion, the fsync's too, added 1 to the eventfd.
	for efdCount < uint64(events+1) {
		k := rawAppWaitEventfd(t, efd, testutil.AppHang)
		if k == 0 {
			break
		}
		efdCount += k
	}
	if efdCount != uint64(events+1) {
		t.Fatalf("eventfd counted %d completions, %d events were reaped", efdCount, events+1)
	}
	testutil.AppCheckCopy(t, dstPath, content)
	if tally.ShortEOF != 1 {
		t.Fatalf("%d short reads at the end of the file, want 1", tally.ShortEOF)
	}
	t.Logf("%d events: %d by io_queue_run callbacks, %d io_getevents, %d io_pgetevents calls; %d preadv", events, runs, gets, pgets, readvs)
}

// ---------------------------------------------------------------------------
// Scenario 3: what a careless porter does wrong.

// TestRawAppSubmitMisuse: io_submit with a NULL member (EFAULT when it is
// the first, a short count when a later one is); more requests than the
// context holds (a short count, then EAGAIN with nothing accepted; after
// the events are reaped the context takes requests again); the same iocb
// submitted twice while the first is in flight (two requests: io_cancel
// finds one per call, then EINVAL); io_getevents and io_pgetevents with
// min_nr > nr or nr == 0 and no timeout (EINVAL at once, not a wait).
func TestRawAppSubmitMisuse(t *testing.T) {
	c := testContext(t, 4)
	r, w := pipe(t)
	cbs := unsafeIocbs(cbuf(t, 1024*SizeofIocb), 1024)
	ptrs := make([]*Iocb, len(cbs))
	for i := range cbs {
		cbs[i].PrepPoll(r, unix.POLLIN)
		cbs[i].Data = uint64(i)
		ptrs[i] = &cbs[i]
	}

	if n, err := c.Submit([]*Iocb{nil, ptrs[0]}); n != 0 || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("io_submit(NULL, iocb) = %d, %v; want 0, EFAULT", n, err)
	}
	if n, err := c.Submit([]*Iocb{ptrs[0], nil, ptrs[1]}); n != 1 || err != nil {
		t.Fatalf("io_submit(iocb, NULL, iocb) = %d, %v; want 1, nil", n, err)
	}
	// Fill the context: a short count, then EAGAIN. (The kernel keeps part
	// of a context's capacity per CPU, so a thread that moved to another CPU
	// may have a few more accepted after the first short count.)
	accepted := 1
	for {
		n, err := c.Submit(ptrs[accepted:])
		accepted += n
		if errors.Is(err, unix.EAGAIN) && n == 0 {
			break
		}
		if err != nil || n == 0 || accepted == len(ptrs) {
			t.Fatalf("io_submit of %d polls on a 4-event context = %d, %v (%d accepted); want a short count, then EAGAIN",
				len(ptrs)-accepted+n, n, err, accepted)
		}
	}
	if accepted < 4 {
		t.Fatalf("a context set up for 4 events took %d requests", accepted)
	}
	t.Logf("a context set up for 4 events took %d requests", accepted)
	// Nothing is ready: min_nr > nr and nr == 0 are EINVAL before any wait.
	evs := make([]Event, accepted+1)
	within(t, 5*time.Second, "io_getevents with bad arguments", func() {
		if _, err := c.GetEvents(3, evs[:2], nil); !errors.Is(err, unix.EINVAL) {
			t.Errorf("io_getevents(min_nr 3, nr 2, no timeout): %v, want EINVAL", err)
		}
		if _, err := c.GetEvents(1, nil, nil); !errors.Is(err, unix.EINVAL) {
			t.Errorf("io_getevents(min_nr 1, nr 0, no timeout): %v, want EINVAL", err)
		}
		long := unix.NsecToTimespec(int64(time.Hour))
		if _, err := c.PGetEvents(2, evs[:1], &long, nil); !errors.Is(err, unix.EINVAL) {
			t.Errorf("io_pgetevents(min_nr 2, nr 1, 1 h): %v, want EINVAL", err)
		}
	})
	// Cancel every accepted poll: each io_cancel succeeds (EINPROGRESS), the
	// events come with res 0, and the context takes requests again.
	for i := 0; i < accepted; i++ {
		if err := c.Cancel(ptrs[i], nil); err != unix.EINPROGRESS {
			t.Fatalf("io_cancel of poll %d: %v, want EINPROGRESS", i, err)
		}
	}
	seen := make([]bool, accepted)
	for _, ev := range getAll(t, c, accepted) {
		i := int(ev.Data)
		if i >= accepted || seen[i] || !ev.ObjIs(ptrs[i]) || ev.Res != 0 {
			t.Fatalf("cancelled poll event %+v", ev)
		}
		seen[i] = true
	}
	// The same iocb twice: two requests, io_cancel finds one per call.
	if n, err := c.Submit([]*Iocb{ptrs[0], ptrs[0]}); n != 2 || err != nil {
		t.Fatalf("io_submit of one iocb twice = %d, %v", n, err)
	}
	for k := 0; k < 2; k++ {
		if err := c.Cancel(ptrs[0], nil); err != unix.EINPROGRESS {
			t.Fatalf("io_cancel %d of the twice-submitted iocb: %v, want EINPROGRESS", k, err)
		}
	}
	if err := c.Cancel(ptrs[0], nil); err != unix.EINVAL {
		t.Fatalf("third io_cancel: %v, want EINVAL", err)
	}
	for _, ev := range getAll(t, c, 2) {
		if !ev.ObjIs(ptrs[0]) || ev.Data != 0 || ev.Res != 0 {
			t.Fatalf("event of the twice-submitted iocb %+v", ev)
		}
	}
	// Back to normal: a poll completes when the pipe has data.
	if n, err := c.Submit(ptrs[5:6]); n != 1 || err != nil {
		t.Fatalf("io_submit after the cancels = %d, %v", n, err)
	}
	unix.Write(w, []byte("x"))
	if ev := getAll(t, c, 1)[0]; !ev.ObjIs(ptrs[5]) || ev.Res&unix.POLLIN == 0 {
		t.Fatalf("poll event %+v", ev)
	}
}

// TestRawAppIocbFreedInFlight frees (and scribbles over) the C block of the
// iocbs as soon as io_submit returned, with 16 O_DIRECT reads in flight:
// the kernel copied each iocb at submission, so every event still carries
// the iocb's data and address, and every buffer gets its data.
func TestRawAppIocbFreedInFlight(t *testing.T) {
	const n, size = 16, 64 << 10
	content := testutil.AppContent(n*size, 7)
	dir := testutil.TempDir(t)
	fd := testutil.AppOpen(t, testutil.AppDataFile(t, dir, "f", content), unix.O_RDONLY|unix.O_DIRECT)
	c := testContext(t, n)
	bufs := cbuf(t, n*size)
	block, err := cmem.Alloc(n*SizeofIocb, 64)
	if err != nil {
		t.Fatal(err)
	}
	cbs := unsafeIocbs(block.Bytes(), n)
	ptrs := make([]*Iocb, n)
	addrs := make([]uint64, n)
	for i := range cbs {
		cbs[i].PrepPread(fd, bufs[i*size:(i+1)*size], int64(i*size))
		cbs[i].Data = 0xDA7A0000 + uint64(i)
		ptrs[i] = &cbs[i]
		addrs[i] = uint64(uintptr(unsafe.Pointer(&cbs[i])))
	}
	if got, err := c.Submit(ptrs); got != n || err != nil {
		t.Fatalf("io_submit = %d, %v", got, err)
	}
	for i := range block.Bytes() {
		block.Bytes()[i] = 0xFF
	}
	if err := block.Free(); err != nil {
		t.Fatal(err)
	}
	clear(ptrs) // no Go reference to the freed memory is left
	seen := make([]bool, n)
	for _, ev := range getAll(t, c, n) {
		i := int(ev.Data - 0xDA7A0000)
		if i < 0 || i >= n || seen[i] || ev.Obj != addrs[i] || ev.Res != size || ev.Res2 != 0 {
			t.Fatalf("event %+v", ev)
		}
		seen[i] = true
	}
	mustEqual(t, "buffers of the reads whose iocbs were freed", bufs, content)
}

// TestRawAppDestroyInFlightThenReuse destroys a context with 16 polls and
// 8 O_DIRECT reads in flight and a goroutine waiting in io_getevents for
// ever: Destroy returns (the kernel cancelled the polls and waited for the
// reads, whose buffers hold their data), the waiter returns ErrClosed, and
// every later call on the context is ErrClosed. A new context then takes
// the same iocbs: it gets exactly its own 16 poll events when the pipes
// get data, none of the destroyed context's.
func TestRawAppDestroyInFlightThenReuse(t *testing.T) {
	const polls, reads, size = 16, 8, 64 << 10
	content := testutil.AppContent(reads*size, 9)
	dir := testutil.TempDir(t)
	fd := testutil.AppOpen(t, testutil.AppDataFile(t, dir, "f", content), unix.O_RDONLY|unix.O_DIRECT)
	bufs := cbuf(t, reads*size)
	cbs := unsafeIocbs(cbuf(t, (polls+reads)*SizeofIocb), polls+reads)
	pipes := make([][2]int, polls)
	for i := range pipes {
		pipes[i][0], pipes[i][1] = pipe(t)
	}
	ptrs := make([]*Iocb, polls+reads)
	prepare := func() {
		for i := range cbs {
			if i < polls {
				cbs[i].PrepPoll(pipes[i][0], unix.POLLIN)
			} else {
				j := i - polls
				cbs[i].PrepPread(fd, bufs[j*size:(j+1)*size], int64(j*size))
			}
			cbs[i].Data = uint64(i)
			ptrs[i] = &cbs[i]
		}
	}
	c, err := Setup(polls + reads)
	if err != nil {
		t.Fatal(err)
	}
	prepare()
	if n, err := c.Submit(ptrs); n != polls+reads || err != nil {
		c.Destroy()
		t.Fatalf("io_submit = %d, %v", n, err)
	}
	waited := make(chan error, 1)
	go func() {
		evs := make([]Event, polls+reads)
		got := 0
		for {
			n, err := c.GetEvents(polls+reads-got, evs[got:], nil)
			if err == unix.EINTR {
				continue
			}
			got += n
			if err != nil || got == polls+reads {
				waited <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter reach io_getevents (not required)
	within(t, testutil.AppHang, "Destroy with requests in flight", func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	select {
	case err := <-waited:
		if err != ErrClosed {
			t.Fatalf("io_getevents waiting across Destroy: %v, want ErrClosed", err)
		}
	case <-time.After(testutil.AppHang):
		t.Fatal("io_getevents still waiting after Destroy returned")
	}
	mustEqual(t, "reads in flight at Destroy", bufs, content)
	var cb Iocb
	cb.PrepPoll(pipes[0][0], unix.POLLIN)
	if n, err := c.Submit([]*Iocb{&cb}); n != 0 || err != ErrClosed {
		t.Fatalf("io_submit on the destroyed context: %d, %v", n, err)
	}
	if _, err := c.GetEvents(0, make([]Event, 1), &unix.Timespec{}); err != ErrClosed {
		t.Fatalf("io_getevents on the destroyed context: %v", err)
	}
	if err := c.Cancel(ptrs[0], nil); err != ErrClosed {
		t.Fatalf("io_cancel on the destroyed context: %v", err)
	}
	if err := c.Destroy(); err != ErrClosed {
		t.Fatalf("second Destroy: %v", err)
	}

	c2 := testContext(t, polls)
	prepare()
	if n, err := c2.Submit(ptrs[:polls]); n != polls || err != nil {
		t.Fatalf("io_submit on the new context = %d, %v", n, err)
	}
	for i := range pipes {
		unix.Write(pipes[i][1], []byte{byte(i)})
	}
	seen := make([]bool, polls)
	for _, ev := range getAll(t, c2, polls) {
		i := int(ev.Data)
		if i >= polls || seen[i] || !ev.ObjIs(ptrs[i]) || ev.Res&unix.POLLIN == 0 {
			t.Fatalf("event on the new context %+v", ev)
		}
		seen[i] = true
	}
	if n, err := c2.GetEvents(0, make([]Event, 4), &unix.Timespec{}); n != 0 || err != nil {
		t.Fatalf("events beyond the new context's own: %d, %v", n, err)
	}
}

// ---------------------------------------------------------------------------
// Scenario 4: the collector runs while raw requests are in flight.

// TestRawAppGCPressure keeps 48 O_DIRECT reads in flight, four rounds, while
// the collector runs in a loop beside a goroutine making garbage. The iocbs
// are Go memory (pinned) and the test keeps only their addresses for
// io_submit; each read's buffers (framed by guard bytes) are reachable only
// from its callback, which the library's callback table holds: half the
// reads are preadv over a pinned Go iovec array. io_queue_run, after a wait
// on the eventfd, calls each callback, which checks that exactly its file
// range landed in its buffers and that the guards are intact.
func TestRawAppGCPressure(t *testing.T) {
	const reads, rounds, fileSize = 48, 4, 8 << 20
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 4))
	content := testutil.AppContent(fileSize, seed)
	dir := testutil.TempDir(t)
	fd := testutil.AppOpen(t, testutil.AppDataFile(t, dir, "f", content), unix.O_RDONLY|unix.O_DIRECT)
	efd := rawAppEventfd(t)
	c := testContext(t, reads)
	stop := testutil.AppGC(true)
	defer stop()
	for round := 0; round < rounds; round++ {
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		ptrs := make([]*Iocb, reads)
		done, bad := 0, 0
		for i := range ptrs {
			cb := new(Iocb)
			var pin runtime.Pinner
			pin.Pin(cb)
			off := 4096 * rnd.IntN(fileSize/4096-64)
			k := 1 + rnd.IntN(3)
			gs := make([]testutil.AppGuarded, k)
			for j := range gs {
				gs[j] = testutil.NewAppGuarded(4096*(1+rnd.IntN(8)), true)
				pin.Pin(&gs[j].Whole[0])
			}
			if i%2 == 0 {
				iov := make([]unix.Iovec, k)
				for j := range gs {
					setIov(&iov[j], gs[j].Inner)
				}
				pin.Pin(&iov[0])
				cb.PrepPreadv(fd, iov, int64(off))
			} else {
				gs = gs[:1]
				cb.PrepPread(fd, gs[0].Inner, int64(off))
			}
			want := 0
			for _, g := range gs {
				want += len(g.Inner)
			}
			cb.SetEventfd(efd)
			cb.SetCallback(func(_ *Context, got *Iocb, res, res2 int64) {
				if got != cb || res != int64(want) || res2 != 0 || !testutil.AppGuardedOK(gs, content, off) {
					bad++
					t.Errorf("round %d read %d at %d: res %d (want %d), right iocb %v, data and guards ok %v",
						round, i, off, res, want, got == cb, testutil.AppGuardedOK(gs, content, off))
				}
				done++
				got.SetCallback(nil)
				pin.Unpin()
			})
			ptrs[i] = cb
		}
		for sent := 0; sent < reads; {
			n, err := c.Submit(ptrs[sent:min(reads, sent+1+rnd.IntN(16))])
			if err != nil || n == 0 {
				t.Fatalf("io_submit: %d, %v", n, err)
			}
			sent += n
		}
		// Only the callback table refers to the buffers now.
		for i := range ptrs {
			ptrs[i] = nil
		}
		deadline := time.Now().Add(testutil.AppHang)
		for done < reads {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d callbacks after %v", round, done, reads, testutil.AppHang)
			}
			runtime.GC()
			rawAppWaitEventfd(t, efd, 100*time.Millisecond)
			if _, err := c.QueueRun(); err != nil {
				t.Fatalf("io_queue_run: %v", err)
			}
		}
		if bad > 0 {
			t.FailNow()
		}
	}
}
