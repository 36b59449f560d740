package uring

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// results waits for every handle and returns the raw results (count or
// -errno), in chain order.
func results(t *testing.T, hs []*completion.Handle, err error) []int {
	t.Helper()
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	out := make([]int, len(hs))
	for i, h := range hs {
		n, err := waitRes(t, h, nil)
		var e unix.Errno
		switch {
		case err == nil:
			out[i] = n
		case errors.As(err, &e):
			out[i] = -int(e)
		default:
			t.Fatalf("member %d: %v", i, err)
		}
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLinkWriteFsyncRead(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	_, fd := tempFile(t, nil)
	buf := make([]byte, 5)
	hs, err := q.Link(func(l *Link) {
		l.Write(fd, []byte("hello, link"), 0)
		l.Fsync(fd, 0)
		l.Read(fd, buf, 7)
	})
	got := results(t, hs, err)
	if want := []int{11, 0, 4}; !equalInts(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	if string(buf[:4]) != "link" {
		t.Fatalf("read %q", buf[:4])
	}
}

func TestLinkFailureCancelsRest(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	_, fd := tempFile(t, []byte("0123456789a"))
	buf := make([]byte, 64)
	hs, err := q.Link(func(l *Link) {
		l.Read(-1, buf, 0)
		l.Write(fd, []byte("x"), 0)
		l.Nop()
	})
	got := results(t, hs, err)
	if want := []int{-int(unix.EBADF), -int(unix.ECANCELED), -int(unix.ECANCELED)}; !equalInts(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	// A short read breaks a plain link...
	hs, err = q.Link(func(l *Link) {
		l.Read(fd, buf, 0)
		l.Nop()
	})
	if got, want := results(t, hs, err), []int{11, -int(unix.ECANCELED)}; !equalInts(got, want) {
		t.Fatalf("short read chain %v, want %v", got, want)
	}
	// ...but not a hard link.
	hs, err = q.HardLink(func(l *Link) {
		l.Read(fd, buf, 0)
		l.Nop()
	})
	if got, want := results(t, hs, err), []int{11, 0}; !equalInts(got, want) {
		t.Fatalf("hard link chain %v, want %v", got, want)
	}
}

func TestLinkTimeout(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	r, _ := testPipe(t)
	buf := make([]byte, 8)
	start := time.Now()
	hs, err := q.Link(func(l *Link) {
		l.Read(r, buf, 0)
		l.LinkTimeout(20*time.Millisecond, 0)
	})
	if got, want := results(t, hs, err), []int{-int(unix.ECANCELED), -int(unix.ETIME)}; !equalInts(got, want) {
		t.Fatalf("blocked read + link timeout: %v, want %v", got, want)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("link timeout fired after %v", d)
	}
	hs, err = q.Link(func(l *Link) {
		l.Nop()
		l.LinkTimeout(5*time.Second, 0)
	})
	if got, want := results(t, hs, err), []int{0, -int(unix.ECANCELED)}; !equalInts(got, want) {
		t.Fatalf("nop + link timeout: %v, want %v", got, want)
	}
}

func TestLinkErrors(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 16})
	if _, err := q.Link(func(l *Link) {}); !errors.Is(err, ErrEmptyLink) {
		t.Fatalf("empty chain: %v", err)
	}
	if _, err := q.Link(nil); !errors.Is(err, ErrEmptyLink) {
		t.Fatalf("nil build function: %v", err)
	}
	if _, err := q.Cancel(nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Cancel(nil): %v", err)
	}
	hs, err := q.Link(func(l *Link) {
		for i := 0; i < 5; i++ {
			l.Nop()
		}
	})
	if !errors.Is(err, ErrLinkTooLong) || hs != nil {
		t.Fatalf("chain of 5 on a 4-entry SQ: %v", err)
	}
	// A failed member (no free slot) aborts the whole chain: nothing is
	// submitted and every begun member's slot is released.
	small := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 2})
	pr, _ := testPipe(t)
	busy, err := small.Read(pr, make([]byte, 1), 0) // holds one of the 2 slots
	if err != nil {
		t.Fatal(err)
	}
	var h2, h3 *completion.Handle
	_, err = small.Link(func(l *Link) {
		l.Nop()
		h2 = l.Nop()
	})
	if !errors.Is(err, completion.ErrBusy) || h2 != nil {
		t.Fatalf("chain of 2 with 1 slot free: %v", err)
	}
	if small.InFlight() != 1 {
		t.Fatalf("InFlight after aborted chain = %d", small.InFlight())
	}
	// A chain longer than MaxInFlight can never be in flight whole:
	// ErrLinkTooLong, not an ErrBusy that would never clear.
	_, err = small.Link(func(l *Link) {
		l.Nop()
		l.Nop()
		h3 = l.Nop()
	})
	if !errors.Is(err, ErrLinkTooLong) || h3 != nil {
		t.Fatalf("chain longer than MaxInFlight: %v", err)
	}
	h, err := small.Cancel(busy)
	mustRes(t, h, err, 0)
	mustErrno(t, busy, nil, unix.ECANCELED)
	if small.InFlight() != 0 {
		t.Fatalf("InFlight after the cancelled read = %d", small.InFlight())
	}
	// The chain's members are submitted even when the SQ is nearly full.
	for i := 0; i < 20; i++ {
		hs, err := q.Link(func(l *Link) {
			l.Nop()
			l.Nop()
			l.Nop()
			l.Nop()
		})
		if got := results(t, hs, err); !equalInts(got, []int{0, 0, 0, 0}) {
			t.Fatalf("chain %d: %v", i, got)
		}
	}
}

// Many goroutines mix chains as long as the SQ and single operations on a
// 4-entry SQ: staging overflows the SQ all the time, and chains must still
// reach the kernel whole. A chain whose head fails shows it: every later
// member must be -ECANCELED, which a chain cut in two would not give.
func TestLinkStressSmallSQ(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 4, MaxInFlight: 256})
	_, fd := tempFile(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			data := []byte{byte('a' + g), byte('A' + g), '-', '-'}
			back := make([]byte, 4)
			for i := 0; i < 100; i++ {
				off := uint64(g * 4)
				if g%3 == 1 {
					// A cut chain would run its tail on its own (res 0).
					hs, err := q.Link(func(l *Link) {
						l.Read(-1, back, 0)
						l.Nop()
						l.Nop()
						l.Nop()
					})
					if err != nil {
						t.Error(err)
						return
					}
					for k, want := range []unix.Errno{unix.EBADF, unix.ECANCELED, unix.ECANCELED, unix.ECANCELED} {
						if _, err := hs[k].Wait(context.Background()); err != want {
							t.Errorf("goroutine %d failing chain %d member %d: %v, want %v", g, i, k, err, want)
							return
						}
					}
				} else if g%3 == 0 {
					hs, err := q.Link(func(l *Link) {
						l.Write(fd, data, off)
						l.Nop()
						l.Read(fd, back, off)
						l.Nop()
					})
					if err != nil {
						t.Error(err)
						return
					}
					for k, want := range []int{4, 0, 4, 0} {
						if n, err := hs[k].Wait(context.Background()); n != want || err != nil {
							t.Errorf("goroutine %d chain %d member %d: %d, %v", g, i, k, n, err)
							return
						}
					}
					if !bytes.Equal(back, data) {
						t.Errorf("goroutine %d: read %q after linked write of %q", g, back, data)
						return
					}
				} else {
					h, err := q.Nop()
					if errors.Is(err, completion.ErrBusy) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := h.Wait(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

// A Link kept beyond its build function adds nothing, and a build function
// that panics leaves no member begun: either would otherwise hold a slot
// forever and make Close wait for it.
func TestLinkEscapeAndPanic(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	var kept *Link
	hs, err := q.Link(func(l *Link) { kept = l; l.Nop() })
	if err != nil {
		t.Fatal(err)
	}
	if n, err := hs[0].Wait(context.Background()); n != 0 || err != nil {
		t.Fatalf("nop = %d, %v", n, err)
	}
	if h := kept.Nop(); h != nil {
		t.Error("a Link used after its build function returned gave a handle")
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the build function's panic", r)
			}
		}()
		q.Link(func(l *Link) {
			l.Nop()
			l.Nop()
			panic("boom")
		})
	}()
	if n := q.InFlight(); n != 0 {
		t.Fatalf("%d operations in flight after an escaped Link and a panicking build", n)
	}
	closeWithin(t, q, 10*time.Second)
}

// Every Link member the other tests leave out, in two chains whose members
// depend on the one before: vectored write, fsync, vectored read, statx
// and close of a file; send, poll, recv and a timeout on a socket pair.
func TestLinkEveryMember(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	path, fd := tempFile(t, nil)
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 3), make([]byte, 8)
	var st unix.Statx_t
	hs, err := q.Link(func(l *Link) {
		l.Writev(fd, [][]byte{[]byte("abc"), []byte("defghijk")}, 0)
		l.Fsync(fd, 0)
		l.Readv(fd, [][]byte{x, y}, 0)
		l.Statx(unix.AT_FDCWD, path, 0, unix.STATX_SIZE, &st)
		l.CloseFD(dup)
	})
	if got, want := results(t, hs, err), []int{11, 0, 11, 0, 0}; !equalInts(got, want) {
		t.Fatalf("file chain: %v, want %v", got, want)
	}
	if string(x)+string(y) != "abcdefghijk" || st.Size != 11 || st.Mask&unix.STATX_SIZE == 0 {
		t.Fatalf("read %q %q, statx size %d (mask %#x)", x, y, st.Size, st.Mask)
	}
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("F_GETFD of the descriptor the chain closed: %v, want EBADF", err)
	}

	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	buf := make([]byte, 16)
	hs, err = q.Link(func(l *Link) {
		l.Send(sp[0], []byte("ping"), 0)
		l.PollAdd(sp[1], unix.POLLIN)
		l.Recv(sp[1], buf, 0)
		l.Timeout(time.Millisecond, 0, 0)
	})
	if got, want := results(t, hs, err), []int{4, unix.POLLIN, 4, -int(unix.ETIME)}; !equalInts(got, want) {
		t.Fatalf("socket chain: %v, want %v", got, want)
	}
	if string(buf[:4]) != "ping" {
		t.Fatalf("received %q", buf[:4])
	}
}
