package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/posixaio"
	"golang.org/x/sys/unix"
)

// glibc POSIX AIO engines (read4k only: POSIX AIO has no no-op request):
//
//   - posixaio/C: testdata/c/bench_posixaio.c, one thread keeping QD
//     requests in flight, blocking in aio_suspend on the whole list and
//     scanning it with aio_error. The reference of the posixaio rows.
//   - posixaio/raw: the same loop through the raw Go layer (AioSuspend,
//     Error, Return, Read on C-memory aiocbs; buffers in C memory).
//   - posixaio/handle: the handle layer as an application would use it: QD
//     goroutines, each with one Queue.Read + Handle.Wait in flight, sharing
//     one Queue with the default notification (NotifySuspend: SIGEV_NONE,
//     one reaper goroutine waiting in aio_suspend). Buffers are Go memory,
//     pinned per request.
//   - posixaio/handle-thread: the same with NewQueueOptions(NotifyThread):
//     SIGEV_THREAD notification through the C trampoline and an eventfd, so
//     glibc starts a thread per request.
//   - posixaio/C-sigev-thread: testdata/c/bench_posixaio_thread.c, the C
//     program with SIGEV_THREAD + eventfd notification, i.e. the mechanism
//     of posixaio/handle-thread in C (not the reference: it shows what that
//     mechanism costs in C).
//
// glibc serves each descriptor's requests one at a time on one of its (at
// most 20) threads, so Fds decides how many reads run in parallel. The C
// program and the raw engine send read i to fd i%Fds; handle goroutine w uses
// fd w%Fds and reads NewRand(WorkerSeed(Seed, w)).
func init() {
	read4k := func(s Spec) bool { return s.Op == OpRead4k }
	Register(Engine{
		Backend:  "posixaio",
		Name:     "C",
		IsC:      true,
		Supports: read4k,
		Run:      func(s Spec) (Result, error) { return RunC("bench_posixaio", s) },
	})
	Register(Engine{Backend: "posixaio", Name: "C-sigev-thread", Supports: read4k,
		Run: func(s Spec) (Result, error) { return RunC("bench_posixaio_thread", s) }})
	Register(Engine{Backend: "posixaio", Name: "raw", Supports: read4k, Run: runPosixaioRaw})
	Register(Engine{Backend: "posixaio", Name: "handle", Supports: read4k,
		Run: func(s Spec) (Result, error) { return runPosixaioHandle(s, posixaio.NotifySuspend) }})
	Register(Engine{Backend: "posixaio", Name: "handle-thread", Supports: read4k,
		Run: func(s Spec) (Result, error) { return runPosixaioHandle(s, posixaio.NotifyThread) }})
}

// openSpecFiles validates s (a read4k spec: POSIX AIO has no no-op) and
// opens s.Path s.NumFds() times.
func openSpecFiles(s Spec) ([]int, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Op != OpRead4k {
		return nil, fmt.Errorf("%w: posixaio runs only %s", ErrBadSpec, OpRead4k)
	}
	fds := make([]int, 0, s.NumFds())
	for i := 0; i < s.NumFds(); i++ {
		fd, err := unix.Open(s.Path, s.openFlags(), 0)
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("bench: open %s: %w", s.Path, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func runPosixaioRaw(s Spec) (Result, error) {
	fds, err := openSpecFiles(s)
	if err != nil {
		return Result{}, err
	}
	defer closeAll(fds)
	mem, err := cmem.Alloc(s.QD*BlockSize, BlockSize)
	if err != nil {
		return Result{}, err
	}
	defer mem.Free()
	bufs := mem.Bytes()
	cbs := make([]*posixaio.Aiocb, s.QD)
	list := make([]*posixaio.Aiocb, s.QD) // nil once an aiocb retired
	defer func() {
		for _, a := range cbs {
			if a == nil {
				continue
			}
			for a.Error() == unix.EINPROGRESS {
				posixaio.Suspend([]*posixaio.Aiocb{a}, -1)
			}
			a.Free()
		}
	}()
	rng := NewRand(s.Seed)
	var issued int64
	queue := func(a *posixaio.Aiocb) error {
		a.SetFildes(fds[issued%int64(len(fds))])
		a.SetOffset(rng.Offset(s.Size))
		issued++
		if err := a.Read(); err != nil {
			return fmt.Errorf("bench: posixaio raw: aio_read: %w", err)
		}
		return nil
	}
	for i := range cbs {
		cbs[i] = posixaio.NewAiocb()
		if err := cbs[i].SetBuf(bufs[i*BlockSize : (i+1)*BlockSize]); err != nil {
			return Result{}, err
		}
	}
	meter := StartAllocMeter()
	t0 := time.Now()
	for i, a := range cbs {
		if err := queue(a); err != nil {
			return Result{}, err
		}
		list[i] = a
	}
	var ops int64
	var elapsed time.Duration
	for {
		if err := posixaio.AioSuspend(list, -1); err != nil && err != unix.EINTR {
			return Result{}, fmt.Errorf("bench: posixaio raw: aio_suspend: %w", err)
		}
		elapsed = time.Since(t0) // one monotonic clock read per batch, as in C
		more := elapsed < s.Dur
		for i, a := range list {
			if a == nil {
				continue
			}
			switch err := a.Error(); err {
			case unix.EINPROGRESS:
				continue
			case nil:
			default:
				return Result{}, fmt.Errorf("bench: posixaio raw: read: %w", err)
			}
			if n, err := a.Return(); n != BlockSize {
				return Result{}, fmt.Errorf("bench: posixaio raw: short read %d: %v", n, err)
			}
			ops++
			if more {
				if err := queue(a); err != nil {
					return Result{}, err
				}
			} else {
				list[i] = nil
			}
		}
		if !more {
			break
		}
	}
	return meter.Result(ops, elapsed), nil
}

func runPosixaioHandle(s Spec, mode posixaio.NotifyMode) (Result, error) {
	fds, err := openSpecFiles(s)
	if err != nil {
		return Result{}, err
	}
	defer closeAll(fds)
	q, err := posixaio.NewQueueOptions(s.QD, posixaio.QueueOptions{Notify: mode})
	if err != nil {
		return Result{}, fmt.Errorf("bench: posixaio handle: %w", err)
	}
	defer q.Close()

	return runWorkers(s, func(w int) workerOp {
		fd := fds[w%len(fds)]
		ctx := context.Background()
		return func(buf []byte, rng *Rand) error {
			h, err := q.Read(fd, buf, rng.Offset(s.Size))
			if err != nil {
				return fmt.Errorf("bench: posixaio handle: Read: %w", err)
			}
			n, err := h.Wait(ctx)
			if err != nil || n != BlockSize {
				return fmt.Errorf("bench: posixaio handle: read = %d, %v", n, err)
			}
			return nil
		}
	})
}
