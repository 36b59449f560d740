package uring

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestQueueCancelHandle(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	buf := make([]byte, 16)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	hc, err := q.Cancel(h)
	mustRes(t, hc, err, 0)
	mustErrno(t, h, nil, unix.ECANCELED)
	// Cancelling a completed operation: the kernel no longer knows it.
	hc, err = q.Cancel(h)
	mustErrno(t, hc, err, unix.ENOENT)
}

func TestQueueWaitContextCancel(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	_, pins0 := completion.Stats()
	buf := make([]byte, 16)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, pins := completion.Stats(); pins != pins0+1 {
		t.Fatalf("live pins = %d, want %d", pins, pins0+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	cancels := q.cancels.Load()
	// Keep the CQ from being drained: the -ECANCELED CQE will sit there,
	// and until it is reaped the buffer must stay pinned.
	q.rmu.Lock()
	n, err := h.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || n != 0 {
		q.rmu.Unlock()
		t.Fatalf("Wait = %d, %v; want DeadlineExceeded", n, err)
	}
	if q.cancels.Load() != cancels+1 {
		q.rmu.Unlock()
		t.Fatalf("Wait did not submit IORING_OP_ASYNC_CANCEL")
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.ring.CQReady() < 2 && time.Now().Before(deadline) { // the read's and the cancel's CQEs
		time.Sleep(time.Millisecond)
	}
	_, pins := completion.Stats()
	done := h.IsDone()
	q.rmu.Unlock()
	q.reapInline()
	if done || pins != pins0+1 {
		t.Fatalf("before the CQE was reaped: done %v, live pins %d (want %d)", done, pins, pins0+1)
	}
	select {
	case <-h.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no completion after cancel")
	}
	if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("Result after cancel = %v, want ECANCELED", err)
	}
	if _, pins := completion.Stats(); pins != pins0 {
		t.Fatalf("live pins after completion = %d, want %d", pins, pins0)
	}
}

func TestQueuePinHeldUntilCompletion(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, w := testPipe(t)
	_, pins0 := completion.Stats()
	buf := make([]byte, 4)
	h, err := q.Read(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the drain lock, so that the CQE of the cancelled read, however
	// fast the kernel posts it, stays unreaped while the pin is checked.
	q.rmu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Wait(ctx); !errors.Is(err, context.Canceled) {
		q.rmu.Unlock()
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
	time.Sleep(10 * time.Millisecond) // the cancel reaches the kernel, its CQEs are posted
	_, pins := completion.Stats()
	done := h.IsDone()
	q.rmu.Unlock()
	if done || pins < pins0+1 {
		t.Fatalf("before its CQE was reaped: done %v, pins %d (want %d): memory released early", done, pins, pins0+1)
	}
	q.reapInline() // the drains that found the lock taken left their work pending
	<-h.Done()
	// The read was cancelled (or, if data raced in, completed); either way
	// the result is the kernel's.
	if n, err := h.Result(); err != nil && !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("result %d, %v", n, err)
	}
	unix.Write(w, []byte("late"))
}

func TestQueueBusy(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 2})
	if q.MaxInFlight() != 2 {
		t.Fatalf("MaxInFlight = %d", q.MaxInFlight())
	}
	r, w := testPipe(t)
	b1, b2 := make([]byte, 1), make([]byte, 1)
	h1, err := q.Read(r, b1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := q.Read(r, b2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Nop(); !errors.Is(err, completion.ErrBusy) {
		t.Fatalf("third op: %v, want ErrBusy", err)
	}
	unix.Write(w, []byte("ab"))
	mustRes(t, h1, nil, 1)
	mustRes(t, h2, nil, 1)
	h, err := q.Nop()
	mustRes(t, h, err, 0)
}

func TestQueue1000Waiters(t *testing.T) {
	const n = 1000
	q := newTestQueue(t, QueueConfig{Entries: 128, MaxInFlight: n})
	type pipe struct{ r, w int }
	pipes := make([]pipe, n)
	for i := range pipes {
		pipes[i].r, pipes[i].w = testPipe(t)
	}
	var wg, started sync.WaitGroup
	errs := make(chan error, n)
	wg.Add(n)
	started.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, 8)
			h, err := q.Read(pipes[i].r, buf, 0)
			started.Done()
			if err != nil {
				errs <- err
				return
			}
			m, err := h.Wait(context.Background())
			if err != nil || m != 8 || !bytes.Equal(buf, []byte{byte(i), byte(i >> 8), 'p', 'i', 'p', 'e', '!', '!'}) {
				errs <- errors.New("bad result")
			}
		}(i)
	}
	started.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for q.InFlight() != n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := q.InFlight(); got != n {
		t.Fatalf("InFlight = %d, want %d", got, n)
	}
	for i := n - 1; i >= 0; i-- {
		unix.Write(pipes[i].w, []byte{byte(i), byte(i >> 8), 'p', 'i', 'p', 'e', '!', '!'})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestQueueCloseInFlight(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	r, _ := testPipe(t)
	var hs []*completion.Handle
	for i := 0; i < 10; i++ {
		h, err := q.Read(r, make([]byte, 8), 0)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	ht, err := q.Timeout(time.Hour, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	hs = append(hs, ht)
	closeWithin(t, q, 10*time.Second)
	for i, h := range hs {
		if !h.IsDone() {
			t.Fatalf("handle %d not done after Close", i)
		}
		if _, err := h.Result(); !errors.Is(err, unix.ECANCELED) {
			t.Fatalf("handle %d: %v, want ECANCELED", i, err)
		}
	}
	if q.InFlight() != 0 {
		t.Fatalf("InFlight after Close = %d", q.InFlight())
	}
	if _, err := q.Nop(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Nop after Close: %v", err)
	}
	if _, err := q.Read(r, make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := q.Link(func(l *Link) { l.Nop() }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Link after Close: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestQueueCloseRace(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				h, err := q.Nop()
				if errors.Is(err, ErrClosed) {
					return
				}
				if errors.Is(err, completion.ErrBusy) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := h.Wait(context.Background()); err != nil && !errors.Is(err, unix.ECANCELED) {
					t.Error(err)
					return
				}
				select {
				case <-stop:
				default:
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
}

// overflowPolls makes a queue with a 4-entry CQ and n polls of an empty
// pipe, takes the drain lock (q.rmu), makes every poll complete, and
// returns once the kernel has put CQEs on its overflow list
// (IORING_SQ_CQ_OVERFLOW), with q.rmu still held, or reports false after
// 5 s without it.
func overflowPolls(t *testing.T, n int) (*Queue, []*completion.Handle, bool) {
	q := newTestQueue(t, QueueConfig{
		Entries:     4,
		Params:      &Params{Flags: SetupCQSize, CQEntries: 4},
		MaxInFlight: n,
	})
	if q.Ring().Features()&FeatNodrop == 0 {
		t.Fatal("kernel without IORING_FEAT_NODROP")
	}
	r, w := testPipe(t)
	hs := make([]*completion.Handle, n)
	for i := range hs {
		var err error
		if hs[i], err = q.PollAdd(r, unix.POLLIN); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	q.rmu.Lock()
	unix.Write(w, []byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for !q.ring.CQHasOverflow() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return q, hs, q.ring.CQHasOverflow()
}

func TestQueueCQOverflow(t *testing.T) {
	// Hold the CQ so nobody drains while the 200 completions are posted:
	// they cannot fit, and the kernel must keep the rest on its overflow
	// list (IORING_SQ_CQ_OVERFLOW).
	q, hs, overflowed := overflowPolls(t, 200)
	q.rmu.Unlock()
	q.reapInline()
	if !overflowed {
		t.Fatal("the CQ never overflowed")
	}
	for i, h := range hs {
		n, err := waitRes(t, h, nil)
		if err != nil || n != unix.POLLIN {
			t.Fatalf("poll %d: %d, %v", i, n, err)
		}
	}
	if d := q.Ring().CQOverflow(); d != 0 {
		t.Fatalf("kernel dropped %d CQEs", d)
	}
}

// A CQE that goes to the kernel's overflow list moves no CQ tail, so the
// kernel signals no eventfd for it. A drain that freed a full CQ but made
// its last check of IORING_SQ_CQ_OVERFLOW before a kernel that still saw
// the CQ full had set it left that CQE, and every later one, on the list
// with nothing to wake the reaper (TestLinkStressSmallSQ hung so). That
// state is made here by hand (the CQ taken without the flush, the eventfd
// read): the overflow check must find the list and have it flushed.
func TestQueueOverflowNoWakeup(t *testing.T) {
	q, hs, overflowed := overflowPolls(t, 16)
	if !overflowed {
		q.rmu.Unlock()
		t.Fatal("the CQ never overflowed")
	}
	// The reaper, woken by the CQEs that fit, finds the drain lock taken
	// and parks again.
	time.Sleep(20 * time.Millisecond)
	// What the racing drain did: take the CQEs in the CQ, not the list.
	head, ready := *q.ring.cqHead, q.ring.CQReady()
	for i := uint32(0); i < ready; i++ {
		c := q.ring.cqeAt(head + i)
		q.fin.Add(q.table, c.UserData, int64(c.Res), c.Flags)
	}
	q.ring.CQAdvance(ready)
	q.fin.Flush()
	q.pending.Store(false)
	unix.Read(q.notif.FD(), make([]byte, 8)) // the wake-up the reaper took
	q.rmu.Unlock()
	for i, h := range hs {
		select {
		case <-h.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("poll %d not done 5 s after its CQE went to the overflow list (%d in flight, %d CQEs taken by hand)", i, q.InFlight(), ready)
		}
		if n, err := h.Result(); err != nil || n != unix.POLLIN {
			t.Fatalf("poll %d: %d, %v", i, n, err)
		}
	}
	t.Logf("%d CQEs taken by hand, %d wake-ups by the overflow check", ready, q.ovfWakes.Load())
	if d := q.Ring().CQOverflow(); d != 0 {
		t.Fatalf("kernel dropped %d CQEs", d)
	}
}

// With an operation in flight for good (a poll of an empty pipe, as a
// server's multishot accept), the overflow check backs off: about 8 checks
// in 2.5 s (10 ms doubling to 1 s), not the 250 of a fixed 10 ms.
func TestQueueOverflowCheckBacksOff(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	if q.ovfTimer == nil {
		t.Fatal("kernel without IORING_FEAT_NODROP: no overflow check")
	}
	r, w := testPipe(t)
	h, err := q.PollAdd(r, unix.POLLIN)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	checks := q.ovfChecks.Load()
	t.Logf("%d overflow checks in 2.5 s, interval now %v", checks, time.Duration(q.ovfEvery.Load()))
	if checks < 1 || checks > 15 {
		t.Errorf("%d overflow checks in 2.5 s with one operation in flight; want 1 to 15", checks)
	}
	unix.Write(w, []byte("x"))
	mustRes(t, h, nil, unix.POLLIN)
}

// TestQueueEINTR: with SIGURG sent to every thread of the process every
// 50 µs, reads through the ring (RingOnly: cached reads would not enter the
// kernel at all) and timeouts complete with their own results: no EINTR
// reaches a handle, no completion is lost.
func TestQueueEINTR(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 32, RingOnly: true})
	_, fd := tempFile(t, bytes.Repeat([]byte("abcdefgh"), 512))
	stop := make(chan struct{})
	var sigs sync.WaitGroup
	sigs.Add(1)
	go func() {
		defer sigs.Done()
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tids, _ := os.ReadDir("/proc/self/task")
			for _, d := range tids {
				var tid int
				for _, c := range d.Name() {
					tid = tid*10 + int(c-'0')
				}
				unix.Tgkill(pid, tid, unix.SIGURG)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; i < 300; i++ {
				off := uint64((g*300+i)%512) * 8
				h, err := q.Read(fd, buf, off)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := h.Wait(context.Background()); err != nil || n != 8 || string(buf) != "abcdefgh" {
					t.Errorf("read: %d, %v, %q", n, err, buf)
					return
				}
				if i%50 == 0 {
					h, err := q.Timeout(100*time.Microsecond, 0, 0)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := h.Wait(context.Background()); !errors.Is(err, unix.ETIME) {
						t.Errorf("timeout: %v", err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	sigs.Wait()
}

func TestQueueConfigErrors(t *testing.T) {
	testutil.CheckLeaks(t) // refused before the ring exists, or with it closed
	// SQE128: the queue stages 64-byte SQEs (a 128-byte command's second
	// half would be lost, and SQE.CmdSQE128 would write past a staged one).
	for _, f := range []uint32{SetupIOPoll, SetupSingleIssuer, SetupSingleIssuer | SetupDeferTaskrun, SetupCoopTaskrun, SetupSQE128} {
		q, err := NewQueueConfig(QueueConfig{Entries: 8, Params: &Params{Flags: f}})
		if !errors.Is(err, ErrQueueFlags) || !errors.Is(err, unix.EINVAL) || q != nil {
			t.Fatalf("flags %#x: %v", f, err)
		}
	}
	// A table beyond completion.MaxTableSize: EINVAL, not a make panic.
	for _, n := range []int{completion.MaxTableSize + 1, 1 << 50} {
		q, err := NewQueueConfig(QueueConfig{Entries: 8, MaxInFlight: n})
		if !errors.Is(err, unix.EINVAL) || q != nil {
			t.Fatalf("MaxInFlight %d: %v, want EINVAL", n, err)
		}
	}
	// The kernel's own errors come back unchanged.
	if _, err := NewQueue(0, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewQueue(0): %v, want EINVAL", err)
	}
	if _, err := NewQueue(1<<16, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewQueue(65536): %v, want EINVAL", err)
	}
}

func TestQueueSQPoll(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16, Params: &Params{Flags: SetupSQPoll, SQThreadIdle: 20}})
	_, fd := tempFile(t, bytes.Repeat([]byte("sqpoll!!"), 64))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for i := 0; i < 200; i++ {
				h, err := q.Read(fd, buf, uint64(i%64)*8)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := h.Wait(context.Background()); n != 8 || err != nil || string(buf) != "sqpoll!!" {
					t.Errorf("read %d, %v, %q", n, err, buf)
					return
				}
				if i%50 == 0 {
					time.Sleep(30 * time.Millisecond) // let the SQ thread go idle
				}
			}
		}()
	}
	wg.Wait()
}

// The ring under a Queue cannot be closed through Queue.Ring (the reaper
// and waiters still use its mappings): Ring.Close returns ErrQueueRing and
// the queue goes on (an asynchronous read still completes: its eventfd
// still wakes the reaper); Queue.Close closes it.
func TestQueueRingCloseRefused(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 16})
	r, w := testPipe(t)
	h, err := q.Read(r, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Ring().Close(); !errors.Is(err, ErrQueueRing) {
		t.Fatalf("Ring().Close() = %v, want ErrQueueRing", err)
	}
	// Nor can the reaper's eventfd be taken away, nor the ring fd
	// registered (liburing would then enter from the registering thread
	// only).
	if err := q.Ring().UnregisterEventFD(); !errors.Is(err, ErrQueueRing) {
		t.Errorf("Ring().UnregisterEventFD() = %v, want ErrQueueRing", err)
	}
	if err := q.Ring().CQEventFDToggle(false); !errors.Is(err, ErrQueueRing) {
		t.Errorf("Ring().CQEventFDToggle(false) = %v, want ErrQueueRing", err)
	}
	if _, err := q.Ring().RegisterRingFD(); !errors.Is(err, ErrQueueRing) {
		t.Errorf("Ring().RegisterRingFD() = %v, want ErrQueueRing", err)
	}
	if q.Ring().Closed() {
		t.Fatal("the queue's ring closed")
	}
	unix.Write(w, []byte("x"))
	if n, err := h.Wait(context.Background()); n != 1 || err != nil {
		t.Fatalf("read after the refused Close = %d, %v", n, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if !q.Ring().Closed() {
		t.Error("Queue.Close left its ring open")
	}
}

// The handle table never outgrows what the CQ can hold on a kernel without
// IORING_FEAT_NODROP, where a CQE that does not fit is dropped and its
// handle would wait forever; with NODROP the asked size stands.
func TestTableSize(t *testing.T) {
	for _, c := range []struct {
		max, entries, cq int
		feat             uint32
		want, reserve    int
	}{
		{0, 64, 128, FeatNodrop, 128, 4},
		{0, 64, 128, 0, 64, 0},
		{4096, 64, 128, FeatNodrop, 4096, 4},
		{4096, 64, 128, 0, 64, 0},
		{32, 64, 128, 0, 32, 4},
		{62, 64, 128, 0, 62, 2},
		{0, 8, 0, 0, 8, 0},
		{0, 1, 1, 0, 1, 0},
	} {
		if got, res := tableSize(c.max, c.entries, c.cq, c.feat); got != c.want || res != c.reserve {
			t.Errorf("tableSize(max %d, entries %d, cq %d, features %#x) = %d, reserve %d; want %d, %d", c.max, c.entries, c.cq, c.feat, got, res, c.want, c.reserve)
		}
	}
}

// Non-zero resource tags on a Queue's ring are refused: the kernel would
// post a CQE with the tag as user data when the resource goes, and the
// reaper would complete whichever operation has that user data. Zero tags
// (no CQE) and tags on a ring of one's own are fine.
func TestQueueRingTagsRefused(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	h, err := q.Read(r, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	ring := q.Ring()
	if err := ring.RegisterFilesTags([]int{r}, []uint64{h.UserData()}); !errors.Is(err, ErrQueueTags) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("RegisterFilesTags with the user data of a read in flight = %v, want ErrQueueTags", err)
	}
	if err := ring.RegisterFilesTags([]int{r}, []uint64{0}); err != nil {
		t.Fatalf("RegisterFilesTags with zero tags = %v", err)
	}
	if _, err := ring.RegisterFilesUpdateTag(0, []int{r}, []uint64{7}); !errors.Is(err, ErrQueueTags) {
		t.Fatalf("RegisterFilesUpdateTag with a tag = %v, want ErrQueueTags", err)
	}
	if err := ring.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	if h.IsDone() {
		t.Fatal("the read completed through a tag")
	}
	own := rawRing(t, 4, nil)
	if err := own.RegisterFilesTags([]int{r}, []uint64{7}); err != nil {
		t.Fatalf("tags on a ring of one's own = %v", err)
	}
}

// Prep's check of a MSG_RING target against the queue's own ring fd reads
// no ring state that Close tears down (under -race this was a data race
// with Close, and a read of freed C memory).
func TestQueuePrepMsgRingDuringClose(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	other := rawRing(t, 4, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			h, err := q.Prep(func(s *SQE) { s.PrepMsgRing(other.Fd(), 0, 1, 0) })
			if err != nil {
				return // ErrClosed once Close has begun
			}
			h.Wait(context.Background())
		}
	}()
	time.Sleep(5 * time.Millisecond)
	q.Close()
	<-done
}

// A queue on a ring set up with IORING_SETUP_R_DISABLED: until the ring is
// enabled, io_uring_enter says EBADFD; the SQEs it did not consume are
// taken back and their handles get the error (they stayed in the ring, so
// the handle never completed and Close waited forever). Once enabled
// (Ring().EnableRings, after registering restrictions, say) it works.
func TestQueueRDisabled(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8, Params: &Params{Flags: SetupRDisabled}})
	h, err := q.Nop()
	if err == nil {
		select {
		case <-h.Done():
			_, err = h.Result()
		case <-time.After(10 * time.Second):
			t.Fatal("a NOP on a disabled ring never completed")
		}
	}
	if !errors.Is(err, unix.EBADFD) {
		t.Fatalf("NOP on a disabled ring: %v, want EBADFD", err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("%d operations in flight after the refused submission", n)
	}
	if err := q.Ring().EnableRings(); err != nil {
		t.Fatal(err)
	}
	h, err = q.Nop()
	mustRes(t, h, err, 0)
	closeWithin(t, q, 10*time.Second)
}
