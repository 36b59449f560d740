package uring

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
)

// The Ring methods a caller may use on a Queue's ring (registration,
// probes, buffer rings, flag words) may race Queue.Close: each either runs
// on the live ring or returns ErrClosed, and none runs on the ring Close
// freed (a register loop racing Close crashed the process before the ring
// took guard).
func TestQueueRingMethodsRaceClose(t *testing.T) {
	testutil.CheckLeaks(t)
	for round := 0; round < 40; round++ {
		q := newTestQueue(t, QueueConfig{Entries: 8})
		r := q.Ring()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var sawClosed [4]bool
		calls := []func() error{
			func() error {
				if err := r.RegisterFilesSparse(4); err != nil {
					return err
				}
				return r.UnregisterFiles()
			},
			func() error { _, err := r.Probe(); return err },
			func() error {
				br, err := r.SetupBufRing(4, uint16(round%8))
				if err != nil {
					return err
				}
				return r.FreeBufRing(br, 4, uint16(round%8))
			},
			func() error {
				if r.Fd() < 0 {
					return ErrClosed
				}
				r.SQFlags()
				r.CQOverflow()
				return nil
			},
		}
		for i, call := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := call()
					if errors.Is(err, ErrClosed) {
						sawClosed[i] = true
						return
					}
					if err != nil {
						t.Errorf("round %d, call %d: %v", round, i, err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		closeWithin(t, q, 10*time.Second)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			close(stop)
			t.Fatalf("round %d: Ring calls still running 10 s after Close", round)
		}
		for i, ok := range sawClosed {
			if !ok {
				t.Errorf("round %d: call %d never saw ErrClosed", round, i)
			}
		}
	}
}
