package posixaio

// Raw-layer scenarios: Aiocb, LioListio, Suspend and friends driven the way
// a C program ported line by line drives glibc's POSIX AIO (an array of
// aiocbs, lio_listio of random batches, aio_suspend on what is in flight,
// aio_error / aio_return once per request), on real files and pipes. Every
// result is checked exactly; time bounds are hang guards only.

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------------
// Scenario 2: a batch copy of a 16 MiB file.

// TestRawAppBatchCopy copies a 16 MiB file that does not end on a block
// boundary, O_DIRECT at both ends, through 32 aiocbs and 32 aligned C
// buffers. Requests of random sizes are queued in batches of random size,
// each batch one of: lio_listio LIO_NOWAIT with nil and LIO_NOP entries
// mixed in (half of them with a SIGEV_THREAD notification of the whole list
// to a ThreadSink), lio_listio LIO_WAIT, or aio_read/aio_write one by one.
// Completions are found by aio_suspend (Suspend, or AioSuspend retried on
// EINTR) on a random subset of what is in flight, then aio_error on every
// request, and aio_return once per finished one. The read at the end of the
// file is short; its block is written whole and the file truncated. Then an
// aio_fsync, every list notification is accounted for, the aiocbs are
// freed, and the copy is compared byte for byte.
func TestRawAppBatchCopy(t *testing.T) {
	const (
		size  = 16<<20 - 3000
		slots = 32
		block = 4096
		maxIO = 256 << 10
	)
	rnd, content, src, dst, dstPath := testutil.AppDirectCopyFiles(t, size, 1)
	mem, err := cmem.Alloc(slots*maxIO, block)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Free()
	sink, err := NewThreadSink(64)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	type slot struct {
		a *Aiocb
		testutil.AppCopySpan
	}
	st := make([]slot, slots)
	for i := range st {
		st[i].a = NewAiocb()
	}
	defer func() {
		for i := range st {
			if st[i].a.Ptr() != nil {
				if st[i].a.inProgress() {
					st[i].a.Cancel()
					waitDone(t, st[i].a)
				}
				st[i].a.Free()
			}
		}
	}()
	nop := NewAiocb()
	defer nop.Free()
	nop.Prep(src, mem.Bytes()[:block], 0) // would read, if glibc did not skip LIO_NOP
	nop.SetLioOpcode(LioNop)

	next := 0
	var tally testutil.AppCopyTally
	var lists, notified, listWaits, singles, suspends int
	var queue []int // slots prepared and not yet submitted
	buf := func(i int) []byte { return mem.Bytes()[i*maxIO : (i+1)*maxIO] }
	prep := func(i int) {
		s := &st[i]
		fd, op := src, LioRead
		if s.Write {
			fd, op = dst, LioWrite
		}
		if err := s.a.Prep(fd, buf(i)[s.Done:s.Want], int64(s.Off+s.Done)); err != nil {
			t.Fatalf("slot %d: Prep: %v", i, err)
		}
		if err := s.a.SetLioOpcode(op); err != nil {
			t.Fatalf("slot %d: SetLioOpcode: %v", i, err)
		}
		queue = append(queue, i)
	}
	submit := func() {
		for len(queue) > 0 {
			k := 1 + rnd.IntN(len(queue))
			batch := queue[:k]
			queue = queue[k:]
			switch mode := rnd.IntN(4); mode {
			case 0, 1:
				var list []*Aiocb
				for _, i := range batch {
					list = append(list, st[i].a)
					switch rnd.IntN(6) {
					case 0:
						list = append(list, nil)
					case 1:
						list = append(list, nop)
					}
				}
				var sig *Sigevent
				if mode == 1 {
					ev := sink.Sigevent(uint64(lists))
					sig = &ev
					lists++
				}
				if err := LioListio(LioNowait, list, sig); err != nil {
					t.Fatalf("lio_listio LIO_NOWAIT of %d: %v", len(list), err)
				}
			case 2:
				list := make([]*Aiocb, 0, len(batch))
				for _, i := range batch {
					list = append(list, st[i].a)
				}
				if err := LioListio(LioWait, list, nil); err != nil {
					t.Fatalf("lio_listio LIO_WAIT of %d: %v", len(list), err)
				}
				listWaits++
				for _, a := range list {
					if err := a.Error(); err != nil {
						t.Fatalf("member of a finished LIO_WAIT list: aio_error %v", err)
					}
				}
			default:
				for _, i := range batch {
					var err error
					if st[i].Write {
						err = AioWrite(st[i].a)
					} else {
						err = AioRead(st[i].a)
					}
					if err != nil {
						t.Fatalf("slot %d: aio_read/aio_write: %v", i, err)
					}
					singles++
				}
			}
		}
	}
	finish := func(i int) {
		s := &st[i]
		n, err := AioReturn(s.a)
		if err != nil || n < 0 {
			t.Fatalf("slot %d (write %v) at %d: aio_return %d, %v", i, s.Write, s.Off+s.Done, n, err)
		}
		if err := s.Step(n, size, block, buf(i), &tally); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		if s.Busy {
			prep(i)
		}
	}
	vals := make([]uint64, 64)
	deadline := time.Now().Add(testutil.AppHang)
	for tally.Written < size {
		if time.Now().After(deadline) {
			t.Fatalf("copy: %d of %d bytes after %v", tally.Written, size, testutil.AppHang)
		}
		testutil.AppStartSpans(rnd, len(st), func(i int) bool { return st[i].Busy }, &next, size, block, maxIO, func(i, off, n int) {
			st[i].AppCopySpan = testutil.AppCopySpan{Busy: true, Off: off, Want: n}
			prep(i)
		})
		submit()
		// aio_suspend on a random subset of the busy aiocbs (nil entries too).
		var list []*Aiocb
		for i := range st {
			if st[i].Busy && rnd.IntN(2) == 0 {
				list = append(list, st[i].a)
			}
			if rnd.IntN(8) == 0 {
				list = append(list, nil)
			}
		}
		if rnd.IntN(2) == 0 {
			if err := Suspend(list, testutil.AppHang); err != nil {
				t.Fatalf("Suspend of %d: %v", len(list), err)
			}
		} else {
			for {
				err := AioSuspend(list, testutil.AppHang)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					t.Fatalf("aio_suspend of %d: %v", len(list), err)
				}
				break
			}
		}
		suspends++
		for i := range st {
			if !st[i].Busy {
				continue
			}
			switch err := AioError(st[i].a); err {
			case unix.EINPROGRESS:
			case nil:
				finish(i)
			default:
				t.Fatalf("slot %d (write %v) at %d: aio_error %v", i, st[i].Write, st[i].Off+st[i].Done, err)
			}
		}
		if n, overflow, err := sink.Drain(vals, false); err != nil || overflow {
			t.Fatalf("sink: %v, overflow %v", err, overflow)
		} else {
			notified += n
		}
	}
	if err := unix.Ftruncate(dst, size); err != nil {
		t.Fatal(err)
	}
	fs := NewAiocb()
	fs.SetFildes(dst)
	if err := AioFsync(OSync, fs); err != nil {
		t.Fatalf("aio_fsync: %v", err)
	}
	if err := waitDone(t, fs); err != nil {
		t.Fatalf("aio_fsync: %v", err)
	}
	if n, err := fs.Return(); n != 0 || err != nil {
		t.Fatalf("aio_fsync return %d, %v", n, err)
	}
	if err := fs.Free(); err != nil {
		t.Fatal(err)
	}
	if notified < lists {
		notified += len(waitSink(t, sink, lists-notified))
	}
	if notified != lists {
		t.Fatalf("%d list notifications for %d lists", notified, lists)
	}
	for i := range st {
		if err := st[i].a.Free(); err != nil {
			t.Fatalf("Free of slot %d after the copy: %v", i, err)
		}
	}
	if err := nop.Error(); err != nil || nop.Nbytes() != block {
		t.Fatalf("the LIO_NOP aiocb was touched: aio_error %v", err)
	}
	if n, _ := nop.Return(); n != 0 {
		t.Fatalf("the LIO_NOP aiocb was run: aio_return %d", n)
	}
	testutil.AppCheckCopy(t, dstPath, content)
	if tally.ShortEOF != 1 {
		t.Fatalf("%d short reads at the end of the file, want 1", tally.ShortEOF)
	}
	t.Logf("%d notified LIO_NOWAIT lists (%d notifications), %d LIO_WAIT lists, %d single submissions, %d suspends", lists, notified, listWaits, singles, suspends)
}

// ---------------------------------------------------------------------------
// Scenario 3: what a careless porter does wrong.

// TestRawAppInFlightMisuse: everything that would let glibc touch memory
// the program changed or freed, done to an aiocb whose read blocks on an
// empty pipe, fails with ErrInProgress and changes nothing: every setter,
// Prep, Free, aio_read / aio_write / aio_fsync of it again, and a
// lio_listio that has it as a member (the list's other members are not
// submitted either). aio_suspend of it with no time left is EAGAIN,
// aio_cancel is AIO_NOTCANCELED (a glibc thread is in read(2)). Once the
// pipe has data the read finishes with exactly that data, aio_return gives
// the same count twice, and all of the above works again.
func TestRawAppInFlightMisuse(t *testing.T) {
	r, w := pipe(t)
	fd, _ := tempFile(t, pattern(4096, 3))
	buf := make([]byte, 64)
	a := newCb(t, r, buf, 0)
	if err := a.Read(); err != nil {
		t.Fatal(err)
	}
	waitBlockedReaders(t, []int{r}, 1)
	other := newCb(t, fd, make([]byte, 100), 0)
	other.SetLioOpcode(LioRead)
	refusals := map[string]error{
		"SetFildes":    a.SetFildes(fd),
		"SetOffset":    a.SetOffset(10),
		"SetBuf":       a.SetBuf(make([]byte, 8)),
		"SetReqprio":   a.SetReqprio(1),
		"SetLioOpcode": a.SetLioOpcode(LioWrite),
		"SetSigevent":  a.SetSigevent(Sigevent{Notify: SigevNone}),
		"Prep":         a.Prep(fd, make([]byte, 8), 0),
		"Free":         a.Free(),
		"aio_read":     AioRead(a),
		"aio_write":    AioWrite(a),
		"aio_fsync":    AioFsync(OSync, a),
		"lio_listio":   LioListio(LioNowait, []*Aiocb{other, nil, a}, nil),
		"lio_wait":     LioListio(LioWait, []*Aiocb{a, other}, nil),
	}
	for what, err := range refusals {
		if err != ErrInProgress {
			t.Errorf("%s of an aiocb in flight: %v, want ErrInProgress", what, err)
		}
	}
	if a.Fildes() != r || a.Offset() != 0 || a.Nbytes() != len(buf) || &a.Buf()[0] != &buf[0] || a.Reqprio() != 0 || a.LioOpcode() != LioRead {
		t.Fatalf("a refused call changed the aiocb: fd %d off %d nbytes %d prio %d op %d", a.Fildes(), a.Offset(), a.Nbytes(), a.Reqprio(), a.LioOpcode())
	}
	if err := other.Error(); err != nil {
		t.Fatalf("the other member of a refused list was submitted: aio_error %v", err)
	}
	if n, _ := other.Return(); n != 0 {
		t.Fatalf("the other member of a refused list was run: aio_return %d", n)
	}
	// aio_return before completion reads glibc's result field: -1 (its pread
	// of the pipe failed with ESPIPE and it is in read(2) now), with the
	// EINPROGRESS of aio_error; never a count.
	if n, err := a.Return(); n != -1 || err != unix.EINPROGRESS {
		t.Fatalf("aio_return while the read blocks: %d, %v; want -1, EINPROGRESS", n, err)
	}
	if err := AioSuspend([]*Aiocb{a}, 0); err != unix.EAGAIN {
		t.Fatalf("aio_suspend with no time left: %v, want EAGAIN", err)
	}
	if n, err := a.Cancel(); n != NotCanceled || err != nil {
		t.Fatalf("aio_cancel of a read in read(2): %d, %v; want AIO_NOTCANCELED", n, err)
	}
	if _, err := unix.Write(w, []byte("seventeen bytes!!")); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, a); err != nil {
		t.Fatalf("the read: %v", err)
	}
	for k := 0; k < 2; k++ {
		if n, err := a.Return(); n != 17 || err != nil {
			t.Fatalf("aio_return #%d: %d, %v; want 17", k+1, n, err)
		}
	}
	if string(buf[:17]) != "seventeen bytes!!" || !bytes.Equal(buf[17:], make([]byte, len(buf)-17)) {
		t.Fatalf("buffer %q", buf)
	}
	if n, err := a.Cancel(); n != AllDone || err != nil {
		t.Fatalf("aio_cancel of a finished read: %d, %v; want AIO_ALLDONE", n, err)
	}
	// Everything works again: the same aiocb reads the file through a list.
	got := make([]byte, 100)
	if err := a.Prep(fd, got, 0); err != nil {
		t.Fatal(err)
	}
	if err := LioListio(LioWait, []*Aiocb{a, nil, other}, nil); err != nil {
		t.Fatalf("lio_listio LIO_WAIT after the read finished: %v", err)
	}
	for _, x := range []*Aiocb{a, other} {
		if n, err := x.Return(); n != 100 || err != nil || !bytes.Equal(x.Buf(), pattern(4096, 3)[:100]) {
			t.Fatalf("list member: %d, %v", n, err)
		}
	}
	if err := a.Free(); err != nil {
		t.Fatalf("Free after the read: %v", err)
	}
	if err := a.Free(); err != ErrFreed {
		t.Fatalf("second Free: %v, want ErrFreed", err)
	}
	if err := LioListio(LioNowait, []*Aiocb{other, a}, nil); err != ErrFreed {
		t.Fatalf("lio_listio with a freed member: %v, want ErrFreed", err)
	}
}

// TestRawAppCancelQueued: requests queued behind a blocked read of the same
// pipe (glibc runs one request per descriptor at a time) are still queued:
// aio_cancel of one gives AIO_CANCELED, its aio_error ECANCELED and
// aio_return -1 (twice), and it can be freed at once; aio_cancel(fd, NULL)
// cancels the rest (AIO_NOTCANCELED: the running read stays); the running
// read then finishes with its data, and every aiocb can be reused.
func TestRawAppCancelQueued(t *testing.T) {
	r, w := pipe(t)
	head := newCb(t, r, make([]byte, 5), 0)
	if err := head.Read(); err != nil {
		t.Fatal(err)
	}
	waitBlockedReaders(t, []int{r}, 1)
	queued := make([]*Aiocb, 4)
	for i := range queued {
		queued[i] = newCb(t, r, make([]byte, 5), 0)
		queued[i].SetLioOpcode(LioRead)
	}
	if err := LioListio(LioNowait, queued, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := queued[1].Cancel(); n != Canceled || err != nil {
		t.Fatalf("aio_cancel of a queued read: %d, %v; want AIO_CANCELED", n, err)
	}
	if err := queued[1].Error(); err != unix.ECANCELED {
		t.Fatalf("aio_error of the cancelled read: %v, want ECANCELED", err)
	}
	for k := 0; k < 2; k++ {
		if n, err := queued[1].Return(); n != -1 || err != unix.ECANCELED {
			t.Fatalf("aio_return #%d of the cancelled read: %d, %v; want -1, ECANCELED", k+1, n, err)
		}
	}
	if err := queued[1].Free(); err != nil {
		t.Fatalf("Free of the cancelled read: %v", err)
	}
	if n, err := AioCancel(r, nil); n != NotCanceled || err != nil {
		t.Fatalf("aio_cancel(fd, NULL): %d, %v; want AIO_NOTCANCELED", n, err)
	}
	for _, i := range []int{0, 2, 3} {
		if err := queued[i].Error(); err != unix.ECANCELED {
			t.Fatalf("queued read %d after aio_cancel(fd, NULL): %v, want ECANCELED", i, err)
		}
	}
	if err := head.Error(); err != unix.EINPROGRESS {
		t.Fatalf("the running read after the cancels: %v, want EINPROGRESS", err)
	}
	unix.Write(w, []byte("head!"))
	if err := waitDone(t, head); err != nil {
		t.Fatal(err)
	}
	if n, err := head.Return(); n != 5 || err != nil || string(head.Buf()) != "head!" {
		t.Fatalf("the running read: %d, %v, %q", n, err, head.Buf())
	}
	// The pipe is empty again; reuse every aiocb for one list of reads.
	list := []*Aiocb{head, queued[0], queued[2], queued[3]}
	for i, x := range list {
		if err := x.Prep(r, make([]byte, 1), 0); err != nil {
			t.Fatalf("Prep of aiocb %d after the cancels: %v", i, err)
		}
		x.SetLioOpcode(LioRead)
	}
	unix.Write(w, []byte("wxyz"))
	if err := LioListio(LioWait, list, nil); err != nil {
		t.Fatalf("lio_listio LIO_WAIT of the reused aiocbs: %v", err)
	}
	var all []byte
	for _, x := range list {
		if n, err := x.Return(); n != 1 || err != nil {
			t.Fatalf("reused aiocb: %d, %v", n, err)
		}
		all = append(all, x.Buf()...)
	}
	slices.Sort(all)
	if string(all) != "wxyz" {
		t.Fatalf("the four one-byte reads got %q", all)
	}
}

// ---------------------------------------------------------------------------
// Scenario 4: the collector runs while raw requests are in flight.

// TestRawAppGCPressure keeps reads of 24 pipes in flight, submitted one by
// one or with lio_listio, while the collector runs in a loop beside a
// goroutine making garbage. Each buffer is referenced only by its Aiocb
// (SetBuf pins it and keeps it); the test keeps half of the Aiocbs and
// drops the others while their reads are in flight. The pipes are then
// fed: every kept Aiocb's Buf holds exactly its pipe's bytes, and the
// dropped ones are freed by their finalizers once finished (the count of
// live aiocbs comes back to where it was).
func TestRawAppGCPressure(t *testing.T) {
	const pipes = 24
	seed := testutil.AppSeed(t)
	rnd := rand.New(rand.NewPCG(seed, 4))
	live0 := liveAiocbs.Load()
	stop := testutil.AppGC(true)
	defer stop()
	type rd struct {
		p    *testutil.AppPipe
		a    *Aiocb // nil for a dropped one
		want []byte
	}
	rds := make([]rd, pipes)
	var list []*Aiocb
	for i := range rds {
		n := 1 + rnd.IntN(4000)
		rds[i] = rd{p: testutil.NewAppPipe(t, false), want: testutil.AppContent((n+7)&^7, seed+uint64(i))[:n]}
		a := NewAiocb()
		if err := a.Prep(rds[i].p.R, make([]byte, n), 0); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			a.SetLioOpcode(LioRead)
			list = append(list, a)
		} else if err := a.Read(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			rds[i].a = a
		}
	}
	if err := LioListio(LioNowait, list, nil); err != nil {
		t.Fatal(err)
	}
	list = nil
	for k := 0; k < 3; k++ {
		runtime.GC()
	}
	for _, i := range rnd.Perm(pipes) {
		runtime.GC()
		if _, err := unix.Write(rds[i].p.W, rds[i].want); err != nil {
			t.Fatal(err)
		}
	}
	for i := range rds {
		a := rds[i].a
		if a == nil {
			continue
		}
		if err := waitDone(t, a); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if n, err := a.Return(); n != len(rds[i].want) || err != nil || !bytes.Equal(a.Buf(), rds[i].want) {
			t.Fatalf("read %d: %d, %v; buffer equal %v", i, n, err, bytes.Equal(a.Buf(), rds[i].want))
		}
		if err := a.Free(); err != nil {
			t.Fatal(err)
		}
	}
	// At most as many as before: an aiocb another test dropped may be
	// finalized meanwhile.
	if !testutil.Settle(testutil.AppHang, func() bool { return liveAiocbs.Load() <= live0 }) {
		t.Fatalf("%d aiocbs live, %d before: a dropped aiocb was not freed after its read", liveAiocbs.Load(), live0)
	}
}
