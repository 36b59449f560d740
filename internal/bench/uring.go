package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/uring"
	"golang.org/x/sys/unix"
)

// io_uring engines:
//
//   - uring/C: testdata/c/bench_uring.c (liburing, one thread, QD in flight),
//     the reference of the uring rows.
//   - uring/raw: the same loop as the C program through the raw Go layer:
//     one goroutine, one ring of QD entries, SubmitAndWait(1) then
//     PeekBatchCQE and one new SQE per reaped CQE. Buffers are C memory.
//   - uring/handle: the handle layer as an application would use it: QD
//     goroutines, each with one operation in flight (Queue.Nop or
//     Queue.Read + Handle.Wait), sharing one Queue. Buffers are Go memory,
//     pinned per operation by the queue. Reads of cached data complete in
//     the calling goroutine (preadv2 RWF_NOWAIT, see uring.Queue.Read).
//   - uring/handle-ring: the same with QueueConfig.RingOnly: every read goes
//     through the ring (read4k rows only; NOPs are the same as handle).
//   - uring/file: the io.ReaderAt of the handle layer, what replaces
//     (*os.File).ReadAt: QD goroutines calling uring.File.ReadAt on one File
//     (read4k rows only). Cached reads need no handle there.
//
// Goroutine/worker i reads the sequence of NewRand(WorkerSeed(Seed, i)); the
// raw engine and the C program (one submitter) read NewRand(Seed).
func init() {
	Register(Engine{
		Backend:  "uring",
		Name:     "C",
		IsC:      true,
		Supports: func(s Spec) bool { return true },
		Run:      func(s Spec) (Result, error) { return RunC("bench_uring", s) },
	})
	Register(Engine{
		Backend:  "uring",
		Name:     "raw",
		Supports: func(s Spec) bool { return s.NumFds() == 1 },
		Run:      runUringRaw,
	})
	Register(Engine{
		Backend:  "uring",
		Name:     "handle",
		Supports: func(s Spec) bool { return s.NumFds() == 1 },
		Run:      func(s Spec) (Result, error) { return runUringHandle(s, false) },
	})
	Register(Engine{
		Backend:  "uring",
		Name:     "handle-ring",
		Supports: func(s Spec) bool { return s.NumFds() == 1 && s.Op == OpRead4k },
		Run:      func(s Spec) (Result, error) { return runUringHandle(s, true) },
	})
	Register(Engine{
		Backend:  "uring",
		Name:     "file",
		Supports: func(s Spec) bool { return s.NumFds() == 1 && s.Op == OpRead4k },
		Run:      runUringFile,
	})
}

// specFile is the start of a single-descriptor engine: it validates s and
// opens s.Path for read4k rows (O_DIRECT if s.Direct; fd -1 for nop rows);
// done closes it.
func specFile(s Spec) (fd int, done func(), err error) {
	if err := s.Validate(); err != nil {
		return -1, nil, err
	}
	if s.Op != OpRead4k {
		return -1, func() {}, nil
	}
	if fd, err = unix.Open(s.Path, s.openFlags(), 0); err != nil {
		return -1, nil, fmt.Errorf("bench: open %s: %w", s.Path, err)
	}
	return fd, func() { unix.Close(fd) }, nil
}

// ringEntries rounds qd up to a power of two (io_uring_setup does the same).
func ringEntries(qd int) uint32 {
	n := uint32(1)
	for n < uint32(qd) {
		n <<= 1
	}
	return n
}

var errSQFull = errors.New("bench: uring raw: SQ full")

func runUringRaw(s Spec) (Result, error) {
	fd, done, err := specFile(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	r, err := uring.New(ringEntries(s.QD), nil)
	if err != nil {
		return Result{}, fmt.Errorf("bench: uring raw: %w", err)
	}
	defer r.Close()
	mem, err := cmem.Alloc(s.QD*BlockSize, BlockSize)
	if err != nil {
		return Result{}, err
	}
	defer mem.Free()
	bufs := mem.Bytes()
	rng := NewRand(s.Seed)
	cqes := make([]*uring.CQE, s.QD)
	// requeue holds the slots to prepare before the next submit: all of
	// them at first, then those whose CQEs the last batch reaped. (The C
	// program prepares each one inside its reaping loop; one loop that
	// prepares, here, lets the compiler inline GetSQE and Prep*.)
	requeue := make([]uint64, s.QD)
	for i := range requeue {
		requeue[i] = uint64(i)
	}
	meter := StartAllocMeter()
	t0 := time.Now()
	var ops int64
	var elapsed time.Duration
	for {
		for _, slot := range requeue {
			sqe := r.GetSQE()
			if sqe == nil {
				return Result{}, errSQFull
			}
			if fd >= 0 {
				sqe.PrepRead(fd, bufs[slot*BlockSize:(slot+1)*BlockSize], uint64(rng.Offset(s.Size)))
			} else {
				sqe.PrepNop()
			}
			sqe.SetUserData(slot)
		}
		requeue = requeue[:0]
		if _, err := r.SubmitAndWait(1); err != nil && err != unix.EAGAIN && err != unix.EBUSY {
			return Result{}, fmt.Errorf("bench: uring raw: submit: %w", err)
		}
		n := r.PeekBatchCQE(cqes)
		elapsed = time.Since(t0) // one monotonic clock read per batch, as in C
		more := elapsed < s.Dur
		for _, c := range cqes[:n] {
			if c.Res < 0 {
				return Result{}, fmt.Errorf("bench: uring raw: completion: %w", unix.Errno(-c.Res))
			}
			if fd >= 0 && c.Res != BlockSize {
				return Result{}, fmt.Errorf("bench: uring raw: short read %d", c.Res)
			}
			ops++
			if more {
				requeue = append(requeue, c.UserData)
			}
		}
		r.CQAdvance(uint32(n))
		if !more {
			break
		}
	}
	return meter.Result(ops, elapsed), nil
}

func runUringHandle(s Spec, ringOnly bool) (Result, error) {
	fd, done, err := specFile(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	q, err := uring.NewQueueConfig(uring.QueueConfig{Entries: ringEntries(s.QD), RingOnly: ringOnly})
	if err != nil {
		return Result{}, fmt.Errorf("bench: uring handle: %w", err)
	}
	defer q.Close()

	return runWorkers(s, func(int) workerOp {
		ctx := context.Background()
		return func(buf []byte, rng *Rand) error {
			if fd < 0 {
				h, err := q.Nop()
				if err != nil {
					return fmt.Errorf("bench: uring handle: Nop: %w", err)
				}
				if _, err := h.Wait(ctx); err != nil {
					return fmt.Errorf("bench: uring handle: %w", err)
				}
				return nil
			}
			h, err := q.Read(fd, buf, uint64(rng.Offset(s.Size)))
			if err != nil {
				return fmt.Errorf("bench: uring handle: Read: %w", err)
			}
			n, err := h.Wait(ctx)
			if err == nil && n != BlockSize {
				err = fmt.Errorf("short read %d", n)
			}
			if err != nil {
				return fmt.Errorf("bench: uring handle: %w", err)
			}
			return nil
		}
	})
}

func runUringFile(s Spec) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	q, err := uring.NewQueueConfig(uring.QueueConfig{Entries: ringEntries(s.QD)})
	if err != nil {
		return Result{}, fmt.Errorf("bench: uring file: %w", err)
	}
	defer q.Close()
	f, err := uring.OpenFile(q, s.Path, s.openFlags(), 0)
	if err != nil {
		return Result{}, fmt.Errorf("bench: uring file: %w", err)
	}
	defer f.Close()
	return runWorkers(s, func(int) workerOp {
		return func(buf []byte, rng *Rand) error {
			if n, err := f.ReadAt(buf, rng.Offset(s.Size)); err != nil || n != BlockSize {
				return fmt.Errorf("bench: uring file: ReadAt = %d, %v", n, err)
			}
			return nil
		}
	})
}
