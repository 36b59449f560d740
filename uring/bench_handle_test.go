package uring

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Handle-path benchmarks: qd goroutines share one Queue, each with one
// operation in flight (submit, then Wait). They report ops/s and, through
// b.ReportAllocs, the heap allocations per operation (the Handle).

func benchQueue(b *testing.B, qd int, op func(q *Queue, buf []byte, i int) (int, error)) {
	q := newTestQueue(b, QueueConfig{Entries: uint32(max(qd, 8))})
	b.ReportAllocs()
	var wg sync.WaitGroup
	per := b.N/qd + 1
	b.ResetTimer()
	for g := 0; g < qd; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := alignedBuf(4096)
			for i := 0; i < per; i++ {
				if _, err := op(q, buf, g*per+i); err != nil {
					b.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(per*qd)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(per*qd)/float64(q.subSeq.Load()), "ops/submit")
}

// alignedBuf returns n bytes of Go memory aligned to 4096 (for O_DIRECT).
func alignedBuf(n int) []byte {
	raw := make([]byte, n+4096)
	off := (4096 - int(uintptr(unsafe.Pointer(&raw[0]))%4096)) % 4096
	return raw[off : off+n : off+n]
}

func BenchmarkQueueNop(b *testing.B) {
	ctx := context.Background()
	for _, qd := range []int{1, 32, 128} {
		b.Run(fmt.Sprintf("qd%d", qd), func(b *testing.B) {
			benchQueue(b, qd, func(q *Queue, _ []byte, _ int) (int, error) {
				h, err := q.Nop()
				if err != nil {
					return 0, err
				}
				return h.Wait(ctx)
			})
		})
	}
}

func benchRead(b *testing.B, direct bool) {
	const size = 64 << 20
	dir := testutil.TempDir(b)
	path := dir + "/data"
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	blk := make([]byte, 1<<20)
	for i := range blk {
		blk[i] = byte(i)
	}
	for off := 0; off < size; off += len(blk) {
		f.Write(blk)
	}
	f.Sync()
	f.Close()
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if direct {
		flags |= unix.O_DIRECT
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		b.Fatal(err) // testutil.TempDir is on a filesystem with O_DIRECT
	}
	defer unix.Close(fd)
	ctx := context.Background()
	for _, qd := range []int{1, 32, 128} {
		b.Run(fmt.Sprintf("qd%d", qd), func(b *testing.B) {
			benchQueue(b, qd, func(q *Queue, buf []byte, i int) (int, error) {
				off := uint64(i*7919%(size/4096)) * 4096
				h, err := q.Read(fd, buf, off)
				if err != nil {
					return 0, err
				}
				n, err := h.Wait(ctx)
				if err == nil && n != len(buf) {
					err = fmt.Errorf("short read %d", n)
				}
				return n, err
			})
		})
	}
}

func BenchmarkQueueRead4kCache(b *testing.B)  { benchRead(b, false) }
func BenchmarkQueueRead4kDirect(b *testing.B) { benchRead(b, true) }
