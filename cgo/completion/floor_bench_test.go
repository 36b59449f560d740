package completion

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkParkWakeFloor measures what any goroutine-per-operation design
// pays before it does any I/O: 128 goroutines each hand a request to one
// server goroutine and park until it answers (the shape of Queue.Nop +
// Handle.Wait with the reaper, without io_uring). The server answers every
// request it finds in one pass, as the reaper completes a CQ batch. Its
// ops/s bound the handle path's NOP rate on this machine.
func BenchmarkParkWakeFloor(b *testing.B) {
	const g = 128
	type req struct{ wg sync.WaitGroup }
	var (
		mu    sync.Mutex
		queue []*req
		stop  atomic.Bool
		bell  = make(chan struct{}, 1)
	)
	done := make(chan struct{})
	go func() { // the server (the reaper)
		defer close(done)
		var batch []*req
		for !stop.Load() {
			mu.Lock()
			batch, queue = queue, batch[:0]
			mu.Unlock()
			if len(batch) == 0 {
				<-bell // parked like the reaper on its eventfd
				continue
			}
			for _, r := range batch {
				r.wg.Done()
			}
			runtime.Gosched()
		}
	}()
	per := b.N/g + 1
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				r := new(req) // the Handle allocation
				r.wg.Add(1)
				mu.Lock()
				queue = append(queue, r)
				mu.Unlock()
				select {
				case bell <- struct{}{}:
				default:
				}
				r.wg.Wait()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	stop.Store(true)
	select {
	case bell <- struct{}{}:
	default:
	}
	<-done
	b.ReportMetric(float64(per*g)/b.Elapsed().Seconds(), "ops/s")
}
