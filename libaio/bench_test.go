package libaio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Benchmarks of random 4 KiB O_DIRECT reads of a 64 MiB file (the numbers that count
// are cmd/aiobench's; these show allocs/op and give a profile target).

const benchFileSize = 64 << 20

var benchFile struct {
	once sync.Once
	path string
	err  error
}

func benchFD(b *testing.B) int { return benchOpen(b, unix.O_DIRECT) }

func benchOpen(b *testing.B, flags int) int {
	benchFile.once.Do(func() {
		dir := os.Getenv("AIOKIT_TESTDIR")
		if dir == "" {
			dir = os.TempDir()
		}
		if err := testutil.SupportsDirectIO(dir); err != nil {
			benchFile.err = err
			return
		}
		benchFile.path = filepath.Join(dir, fmt.Sprintf("aiokit-libaio-bench-%d.dat", benchFileSize))
		if st, err := os.Stat(benchFile.path); err == nil && st.Size() == benchFileSize {
			return
		}
		benchFile.err = os.WriteFile(benchFile.path, pattern(benchFileSize, 99), 0o644)
	})
	if benchFile.err != nil {
		testutil.SkipNoFeature(b, "O_DIRECT data file", benchFile.err)
	}
	fd, err := unix.Open(benchFile.path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	return fd
}

type xorshift uint64

func (x *xorshift) offset() int64 {
	v := uint64(*x)
	v ^= v >> 12
	v ^= v << 25
	v ^= v >> 27
	*x = xorshift(v)
	return int64((v*0x2545F4914F6CDD1D)%(benchFileSize/4096)) * 4096
}

// BenchmarkRaw: one goroutine, QD iocbs in C memory, batched Submit + GetEvents(1, QD).
func BenchmarkRaw(b *testing.B) {
	for _, qd := range []int{1, 32, 128} {
		b.Run(fmt.Sprintf("qd%d", qd), func(b *testing.B) {
			fd := benchFD(b)
			c := testContext(b, qd)
			mem := cbuf(b, qd*4096+qd*SizeofIocb)
			iocbs := unsafeIocbs(mem[qd*4096:], qd)
			todo := make([]*Iocb, 0, qd)
			events := make([]Event, qd)
			rng := xorshift(1)
			inflight, issued := 0, 0
			queue := func(slot int) {
				iocbs[slot].PrepPread(fd, mem[slot*4096:(slot+1)*4096], rng.offset())
				iocbs[slot].Data = uint64(slot)
				todo = append(todo, &iocbs[slot])
				issued++
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < qd && issued < b.N; i++ {
				queue(i)
			}
			for done := 0; done < b.N; {
				for len(todo) > 0 {
					n, err := c.Submit(todo)
					if err != nil && err != unix.EAGAIN && err != unix.EINTR {
						b.Fatal(err)
					}
					inflight += n
					todo = todo[:copy(todo, todo[n:])]
				}
				n, err := c.GetEvents(1, events, nil)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				for _, ev := range events[:n] {
					if ev.Res != 4096 {
						b.Fatalf("res %d", ev.Res)
					}
					done++
					inflight--
					if issued < b.N {
						queue(int(ev.Data))
					}
				}
			}
		})
	}
}

// BenchmarkHandle: QD goroutines sharing a Queue, each Read + Wait in a loop; O_DIRECT
// and through the page cache (where reads of cached data complete in Read itself).
func BenchmarkHandle(b *testing.B) {
	for _, mode := range []struct {
		name  string
		flags int
	}{{"direct", unix.O_DIRECT}, {"cached", 0}} {
		for _, qd := range []int{1, 32, 128} {
			b.Run(fmt.Sprintf("%s/qd%d", mode.name, qd), func(b *testing.B) {
				benchHandle(b, benchOpen(b, mode.flags), qd)
			})
		}
	}
}

func benchHandle(b *testing.B, fd, qd int) {
	q := testQueue(b, qd)
	benchWorkers(b, qd, func(buf []byte, rng *xorshift) error {
		h, err := q.Read(fd, buf, rng.offset())
		if err != nil {
			return err
		}
		if n, err := h.Wait(context.Background()); n != 4096 || err != nil {
			return fmt.Errorf("read = %d, %v", n, err)
		}
		return nil
	})
}

// benchWorkers runs b.N operations over qd goroutines, each with its own
// aligned 4 KiB buffer and offset sequence; the first error fails b.
func benchWorkers(b *testing.B, qd int, op func(buf []byte, rng *xorshift) error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := 0; w < qd; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := alignedGo(4096)
			rng := xorshift(w + 1)
			for left.Add(-1) >= 0 {
				if err := op(buf, &rng); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

// BenchmarkReadAtBaseline: QD goroutines each doing pread(2) (what Go does without AIO).
func BenchmarkReadAtBaseline(b *testing.B) {
	for _, qd := range []int{1, 32, 128} {
		b.Run(fmt.Sprintf("qd%d", qd), func(b *testing.B) {
			fd := benchFD(b)
			benchWorkers(b, qd, func(buf []byte, rng *xorshift) error {
				if n, err := unix.Pread(fd, buf, rng.offset()); n != 4096 || err != nil {
					return fmt.Errorf("pread = %d, %v", n, err)
				}
				return nil
			})
		})
	}
}
