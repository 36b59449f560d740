package posixaio

/*
#include <stdlib.h>
#include "notify.h"
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// ThreadSink turns SIGEV_THREAD notifications into values a goroutine reads
// without holding an OS thread. glibc starts a thread per notification and
// runs a C trampoline on it (no Go code runs there); the trampoline appends
// the notification's value to the sink's ring in C memory and, when the
// reader is parked, writes to the sink's eventfd (a completion.Notifier on
// Go's poller). The zero ThreadSink, and a nil *ThreadSink, behave as a
// closed one: Drain, Wait, Wake and Close give ErrClosed, and the
// notifications of their Sigevent are dropped.
type ThreadSink struct {
	id     C.int
	n      *completion.Notifier
	mu     sync.Mutex
	closed bool
}

// MaxSinkValue is the largest value a ThreadSink notification carries (the
// rest of sigev_value names the sink).
const MaxSinkValue = 1<<40 - 1

// NewThreadSink creates a sink whose ring holds capacity values (rounded up
// to a power of two, at least 16; capacity is clamped to 1..1<<30). When
// more notifications arrive than the ring holds before Drain, the extra
// values are dropped and Drain reports overflow. Errors: the eventfd's (an
// *os.SyscallError: EMFILE, ENFILE), ENOMEM for the ring (calloc), and
// EMFILE when 4095 sinks are open in the process.
func NewThreadSink(capacity int) (*ThreadSink, error) {
	n, err := completion.NewNotifier()
	if err != nil {
		return nil, err
	}
	if capacity < 1 {
		capacity = 1
	}
	if capacity > 1<<30 {
		capacity = 1 << 30
	}
	id := C.pa_sink_new(C.int(n.FD()), C.uint32_t(capacity))
	if id < 0 {
		n.Close()
		return nil, unix.Errno(-id)
	}
	return &ThreadSink{id: id, n: n}, nil
}

// Sigevent returns a SIGEV_THREAD sigevent whose notification delivers value
// (0..MaxSinkValue; higher bits are dropped) to this sink. Its thread
// attributes are detached with a 64 KiB stack.
func (s *ThreadSink) Sigevent(value uint64) Sigevent {
	var c C.struct_sigevent
	id := C.int(0) // no sink (or a closed one): the trampoline drops the notification
	if s != nil {
		s.mu.Lock()
		if !s.closed {
			id = s.id
		}
		s.mu.Unlock()
	}
	C.pa_sigev_thread(&c, id, C.uint64_t(value))
	return Sigevent{
		Notify:     SigevThread,
		Value:      *(*uintptr)(unsafe.Pointer(&c.sigev_value)),
		Function:   C.pa_notify_fn(),
		Attributes: C.pa_thread_attr(),
	}
}

// Drain moves queued values into out and returns how many. overflow reports
// that values were dropped since the last Drain (the reader must then find
// the finished requests another way, e.g. by polling Error). With park set and
// nothing queued, the next notification will signal the eventfd (use Wait).
// An empty out moves nothing and never parks; it still reports (and clears)
// overflow, and ErrClosed after Close.
func (s *ThreadSink) Drain(out []uint64, park bool) (n int, overflow bool, err error) {
	if s == nil || s.n == nil {
		return 0, false, ErrClosed
	}
	if len(out) > C.PA_OVERFLOW-1 {
		out = out[:C.PA_OVERFLOW-1]
	}
	a := C.int(0)
	if park && len(out) > 0 {
		a = 1
	}
	// An empty out still asks the sink (which moves nothing into it, nor
	// parks the reader, as values may be queued): a closed sink then gives
	// ErrClosed, as the zero one does.
	var none C.uint64_t
	p := &none
	if len(out) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&out[0]))
	}
	r := C.pa_sink_drain(s.id, p, C.int(len(out)), a)
	if r < 0 {
		return 0, false, ErrClosed
	}
	return int(r &^ C.PA_OVERFLOW), r&C.PA_OVERFLOW != 0, nil
}

// Wait parks the goroutine until a notification arrives after a Drain with
// park set (or Wake is called). It returns ErrClosed after Close. Only one
// goroutine may call Wait at a time (completion.Notifier.Wait), as a sink
// has one reader.
func (s *ThreadSink) Wait() error {
	if s == nil || s.n == nil {
		return ErrClosed
	}
	_, err := s.n.Wait()
	return err
}

// Wake makes a parked Wait return. After Close it returns ErrClosed and
// writes nothing (completion.Notifier.Signal).
func (s *ThreadSink) Wake() error {
	if s == nil || s.n == nil {
		return ErrClosed
	}
	return s.n.Signal()
}

// Close unregisters the sink (later notifications for it are dropped), waits
// until no trampoline is writing to its eventfd, and then closes the eventfd
// and frees the ring. A parked Wait returns ErrClosed.
func (s *ThreadSink) Close() error {
	if s == nil || s.n == nil {
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	p := C.pa_sink_unregister(s.id)
	for C.pa_sink_release(p) != 0 {
		time.Sleep(100 * time.Microsecond)
	}
	return s.n.Close()
}
