//go:build iceber

package bench

// Engines for github.com/iceber/iouring-go, the comparison point for the
// uring handle layer. The module uses go:linkname into package syscall, so
// it links only with -ldflags=-checklinkname=0 and only builds with the
// "iceber" tag: go run -tags iceber -ldflags=-checklinkname=0 ./cmd/aiobench
//
//   - uring/iceber-batch: one goroutine submits QD requests with one
//     SubmitRequests call, receives the QD results from one channel, and
//     repeats.
//   - uring/iceber-request: QD goroutines, each with one request in flight
//     (SubmitRequest with its own channel, then a receive): the
//     per-request style that the handle engine is compared with.

import (
	"fmt"
	"time"

	iouring "github.com/iceber/iouring-go"
)

func init() {
	Register(Engine{
		Backend:  "uring",
		Name:     "iceber-batch",
		Supports: func(s Spec) bool { return s.NumFds() == 1 },
		Run:      runIceberBatch,
	})
	Register(Engine{
		Backend:  "uring",
		Name:     "iceber-request",
		Supports: func(s Spec) bool { return s.NumFds() == 1 },
		Run:      runIceberRequest,
	})
}

func iceberRequest(fd int, buf []byte, rng *Rand, s Spec) iouring.PrepRequest {
	if fd < 0 {
		return iouring.Nop()
	}
	return iouring.Pread(fd, buf, uint64(rng.Offset(s.Size)))
}

func iceberCheck(fd int, res iouring.Result) error {
	if err := res.Err(); err != nil {
		return fmt.Errorf("bench: iceber: %w", err)
	}
	if fd < 0 {
		return nil
	}
	n, err := res.ReturnInt()
	if err != nil {
		return fmt.Errorf("bench: iceber: %w", err)
	}
	if n != BlockSize {
		return fmt.Errorf("bench: iceber: short read %d", n)
	}
	return nil
}

// iceberOpen is specFile and an iceber ring of QD entries (rounded up to a
// power of two); done closes both. (The module's one epoll descriptor and
// poller goroutine are process-wide: they stay after the ring is closed.)
func iceberOpen(s Spec) (fd int, iour *iouring.IOURing, done func(), err error) {
	fd, closeFile, err := specFile(s)
	if err != nil {
		return -1, nil, nil, err
	}
	if iour, err = iouring.New(uint(ringEntries(s.QD))); err != nil {
		closeFile()
		return -1, nil, nil, fmt.Errorf("bench: iceber: %w", err)
	}
	return fd, iour, func() { iour.Close(); closeFile() }, nil
}

func runIceberBatch(s Spec) (Result, error) {
	fd, iour, done, err := iceberOpen(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	bufs := make([][]byte, s.QD)
	for i := range bufs {
		bufs[i] = alignedBlock(directAlign)
	}
	rng := NewRand(s.Seed)
	ch := make(chan iouring.Result, s.QD)
	reqs := make([]iouring.PrepRequest, s.QD)
	meter := StartAllocMeter()
	t0 := time.Now()
	end := t0.Add(s.Dur)
	var ops int64
	for time.Now().Before(end) {
		for i := range reqs {
			reqs[i] = iceberRequest(fd, bufs[i], rng, s)
		}
		if _, err := iour.SubmitRequests(reqs, ch); err != nil {
			return Result{}, fmt.Errorf("bench: iceber: SubmitRequests: %w", err)
		}
		for i := 0; i < s.QD; i++ {
			if err := iceberCheck(fd, <-ch); err != nil {
				return Result{}, err
			}
			ops++
		}
	}
	elapsed := time.Since(t0)
	return meter.Result(ops, elapsed), nil
}

func runIceberRequest(s Spec) (Result, error) {
	fd, iour, done, err := iceberOpen(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	return runWorkers(s, func(int) workerOp {
		ch := make(chan iouring.Result, 1)
		return func(buf []byte, rng *Rand) error {
			if _, err := iour.SubmitRequest(iceberRequest(fd, buf, rng, s), ch); err != nil {
				return fmt.Errorf("bench: iceber: SubmitRequest: %w", err)
			}
			return iceberCheck(fd, <-ch)
		}
	})
}
