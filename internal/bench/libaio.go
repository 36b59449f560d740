package bench

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/libaio"
	"golang.org/x/sys/unix"
)

// libaio engines (read4k only: Linux AIO has no no-op request):
//
//   - libaio/C: testdata/c/bench_libaio.c (one thread, one context, QD reads in
//     flight, batched io_submit + io_getevents(min 1)), the reference of the
//     libaio rows.
//   - libaio/raw: the same loop through the raw Go layer (Context.Submit of every
//     iocb waiting to go, Context.GetEvents(1, QD)), iocbs and buffers in C
//     memory, one goroutine, no allocation per op. (GetEvents yields to the Go
//     scheduler every 5 ms so that sysmon does not take this goroutine's P at
//     every wait; see docs/libaio.md.)
//   - libaio/handle: the handle layer as an application would use it: QD
//     goroutines sharing one Queue, each with one Queue.Read + Handle.Wait in
//     flight, buffers in Go memory pinned per request by the queue. Reads of
//     cached data complete in the calling goroutine (preadv2 RWF_NOWAIT, see
//     libaio.Queue.Read).
//   - libaio/handle-submit: the same with SetInlineReads(false): every read
//     goes through io_submit.
//   - libaio/file: QD goroutines calling libaio.File.ReadAt on one File, the
//     io.ReaderAt that replaces (*os.File).ReadAt (cached reads need no
//     handle there).
//
// Goroutine i of the handle engine reads the sequence of
// NewRand(WorkerSeed(Seed, i)); the raw engine and the C program read NewRand(Seed).
func init() {
	read4k := func(s Spec) bool { return s.Op == OpRead4k }
	Register(Engine{
		Backend:  "libaio",
		Name:     "C",
		IsC:      true,
		Supports: read4k,
		Run:      func(s Spec) (Result, error) { return RunC("bench_libaio", s) },
	})
	Register(Engine{
		Backend:  "libaio",
		Name:     "raw",
		Supports: func(s Spec) bool { return read4k(s) && s.NumFds() == 1 },
		Run:      runLibaioRaw,
	})
	Register(Engine{
		Backend:  "libaio",
		Name:     "handle",
		Supports: func(s Spec) bool { return read4k(s) && s.NumFds() == 1 },
		Run:      func(s Spec) (Result, error) { return runLibaioHandle(s, libaioHandle) },
	})
	Register(Engine{
		Backend:  "libaio",
		Name:     "handle-submit",
		Supports: func(s Spec) bool { return read4k(s) && s.NumFds() == 1 },
		Run:      func(s Spec) (Result, error) { return runLibaioHandle(s, libaioHandleSubmit) },
	})
	Register(Engine{
		Backend:  "libaio",
		Name:     "file",
		Supports: func(s Spec) bool { return read4k(s) && s.NumFds() == 1 },
		Run:      func(s Spec) (Result, error) { return runLibaioHandle(s, libaioFile) },
	})
}

func runLibaioRaw(s Spec) (Result, error) {
	fd, done, err := specFile(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	mem, err := cmem.Alloc(s.QD*(BlockSize+libaio.SizeofIocb), BlockSize)
	if err != nil {
		return Result{}, err
	}
	defer mem.Free()
	ctx, err := libaio.Setup(s.QD)
	if err != nil {
		return Result{}, fmt.Errorf("bench: libaio raw: io_setup: %w", err)
	}
	defer ctx.Destroy() // first: it waits for the reads still in flight, then mem is freed
	bufs := mem.Bytes()[:s.QD*BlockSize]
	iocbs := unsafe.Slice((*libaio.Iocb)(unsafe.Pointer(&mem.Bytes()[s.QD*BlockSize])), s.QD)
	todo := make([]*libaio.Iocb, 0, s.QD)
	events := make([]libaio.Event, s.QD)
	rng := NewRand(s.Seed)
	queue := func(slot int) {
		cb := &iocbs[slot]
		cb.PrepPread(fd, bufs[slot*BlockSize:(slot+1)*BlockSize], rng.Offset(s.Size))
		cb.Data = uint64(slot)
		todo = append(todo, cb)
	}
	meter := StartAllocMeter()
	t0 := time.Now()
	for i := 0; i < s.QD; i++ {
		queue(i)
	}
	var ops int64
	var elapsed time.Duration
	for {
		for done := 0; done < len(todo); {
			n, err := ctx.Submit(todo[done:])
			if err != nil && err != unix.EINTR && err != unix.EAGAIN {
				return Result{}, fmt.Errorf("bench: libaio raw: io_submit: %w", err)
			}
			done += n
		}
		todo = todo[:0]
		n, err := ctx.GetEvents(1, events, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("bench: libaio raw: io_getevents: %w", err)
		}
		elapsed = time.Since(t0) // one monotonic clock read per batch, as in C
		more := elapsed < s.Dur
		for i := range events[:n] {
			ev := &events[i]
			if ev.Res != BlockSize {
				if _, err := ev.Result(); err != nil {
					return Result{}, fmt.Errorf("bench: libaio raw: completion: %w", err)
				}
				return Result{}, fmt.Errorf("bench: libaio raw: short read %d", ev.Res)
			}
			ops++
			if more {
				queue(int(ev.Data))
			}
		}
		if !more {
			break
		}
	}
	return meter.Result(ops, elapsed), nil
}

// libaioMode selects what the goroutines of runLibaioHandle call.
type libaioMode int

const (
	libaioHandle       libaioMode = iota // Queue.Read + Handle.Wait
	libaioHandleSubmit                   // the same with SetInlineReads(false)
	libaioFile                           // File.ReadAt
)

func runLibaioHandle(s Spec, mode libaioMode) (Result, error) {
	fd, done, err := specFile(s)
	if err != nil {
		return Result{}, err
	}
	defer done()
	q, err := libaio.NewQueue(s.QD)
	if err != nil {
		return Result{}, fmt.Errorf("bench: libaio handle: %w", err)
	}
	defer q.Close()
	q.SetInlineReads(mode != libaioHandleSubmit)
	f, err := libaio.NewFile(q, fd)
	if err != nil {
		return Result{}, fmt.Errorf("bench: libaio file: %w", err)
	}
	return runWorkers(s, func(int) workerOp {
		bg := context.Background()
		return func(buf []byte, rng *Rand) error {
			off := rng.Offset(s.Size)
			var n int
			var err error
			if mode == libaioFile {
				n, err = f.ReadAt(buf, off)
			} else {
				var h *completion.Handle
				if h, err = q.Read(fd, buf, off); err == nil {
					n, err = h.Wait(bg)
				}
			}
			if err != nil || n != BlockSize {
				return fmt.Errorf("bench: libaio handle: read = %d, %v", n, err)
			}
			return nil
		}
	})
}
