package posixaio

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestCancelAnswers: glibc serves one descriptor's requests in order on one
// thread, so on an empty pipe the first read runs (blocked in read(2)) and
// the later ones wait in glibc's queue.
func TestCancelAnswers(t *testing.T) {
	r, w := pipe(t)
	running := newCb(t, r, make([]byte, 4), 0)
	queued1 := newCb(t, r, make([]byte, 4), 0)
	queued2 := newCb(t, r, make([]byte, 4), 0)
	for _, a := range []*Aiocb{running, queued1, queued2} {
		if err := a.Read(); err != nil {
			t.Fatal(err)
		}
	}
	waitBlockedReaders(t, []int{r}, 1)

	if n, err := running.Cancel(); n != NotCanceled || err != nil {
		t.Errorf("cancel of the running request: %d, %v; want AIO_NOTCANCELED", n, err)
	}
	if n, err := queued1.Cancel(); n != Canceled || err != nil {
		t.Errorf("cancel of a queued request: %d, %v; want AIO_CANCELED", n, err)
	}
	if err := queued1.Error(); err != unix.ECANCELED {
		t.Errorf("canceled request: aio_error %v, want ECANCELED", err)
	}
	if n, err := queued1.Return(); n != -1 || err != unix.ECANCELED {
		t.Errorf("canceled request: aio_return %d, %v", n, err)
	}
	if n, err := queued1.Cancel(); n != AllDone || err != nil {
		t.Errorf("second cancel: %d, %v; want AIO_ALLDONE", n, err)
	}
	// Every request of the fd: one runs, so the answer is NOTCANCELED and the
	// queued one is canceled all the same.
	if n, err := AioCancel(r, nil); n != NotCanceled || err != nil {
		t.Errorf("cancel all with one running: %d, %v", n, err)
	}
	if err := queued2.Error(); err != unix.ECANCELED {
		t.Errorf("queued request after cancel-all: %v", err)
	}
	// A request in progress on another fd: EINVAL.
	if n, err := AioCancel(w, running); n != -1 || err != unix.EINVAL {
		t.Errorf("cancel with the wrong fd: %d, %v; want EINVAL", n, err)
	}
	if n, err := AioCancel(98765, nil); n != -1 || err != unix.EBADF {
		t.Errorf("cancel on a closed fd: %d, %v; want EBADF", n, err)
	}
	// Unknown request (never submitted): AIO_ALLDONE.
	unknown := newCb(t, r, nil, 0)
	if n, err := unknown.Cancel(); n != AllDone || err != nil {
		t.Errorf("cancel of a never-submitted aiocb: %d, %v; want AIO_ALLDONE", n, err)
	}
	// No request at all for an open fd: AIO_ALLDONE.
	fd, _ := tempFile(t, nil)
	if n, err := AioCancel(fd, nil); n != AllDone || err != nil {
		t.Errorf("cancel all on an idle fd: %d, %v; want AIO_ALLDONE", n, err)
	}
	unix.Write(w, []byte("abcd"))
	if err := waitDone(t, running); err != nil {
		t.Fatal(err)
	}
	if n, _ := running.Return(); n != 4 {
		t.Fatalf("running read got %d bytes", n)
	}
	if n, err := running.Cancel(); n != AllDone || err != nil {
		t.Errorf("cancel after completion: %d, %v", n, err)
	}
}

// TestQueueCancelKeepsNextRunning: Cancel of the first of two requests on a
// descriptor leaves the second running. glibc 2.36's aio_cancel of a
// descriptor's first request while it is still queued (no thread took it)
// marks the next one runnable without putting it on its run list: no thread
// ever ran it (nor later requests of the descriptor) until Close cancelled
// them. A stress test found it; pa_cancel (notify.c) now submits the
// other requests on the descriptor, of every queue, again after a
// successful cancel (cancelKeepsNextRunning, cancel_cross_test.go).
func TestQueueCancelKeepsNextRunning(t *testing.T) {
	bothModes(t, func(t *testing.T, m NotifyMode) {
		q := newQueue(t, 8, m)
		cancelKeepsNextRunning(t, q, q)
	})
}
