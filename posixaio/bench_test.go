package posixaio

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"
)

// Benchmarks of 4 KiB page-cache reads of one file. Compare with
// internal/bench (make bench), which runs the C reference side by side.

func benchFile(b *testing.B) int {
	b.Helper()
	fd, _ := tempFile(b, pattern(1<<20, 1))
	return fd
}

// BenchmarkQueueRead: one request in flight through the handle layer, in
// both notification modes (thread: one glibc thread start per request).
func BenchmarkQueueRead(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) { benchQueueRead(b, m.mode) })
	}
}

func benchQueueRead(b *testing.B, mode NotifyMode) {
	fd := benchFile(b)
	q := newQueue(b, 4, mode)
	buf := make([]byte, 4096)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := q.Read(fd, buf, int64(i%256)*4096)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := h.Wait(ctx); n != 4096 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkQueueReadParallel: many goroutines, each with one request in
// flight, sharing one Queue.
func BenchmarkQueueReadParallel(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) { benchQueueReadParallel(b, m.mode) })
	}
}

func benchQueueReadParallel(b *testing.B, mode NotifyMode) {
	fd := benchFile(b)
	q := newQueue(b, 256, mode)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		i := 0
		for pb.Next() {
			h, err := q.Read(fd, buf, int64(i%256)*4096)
			if err != nil {
				b.Error(err)
				return
			}
			if n, err := h.Wait(ctx); n != 4096 || err != nil {
				b.Error(n, err)
				return
			}
			i++
		}
	})
}

// BenchmarkRawSuspend: one request in flight through the raw layer, waited
// for with aio_suspend (SIGEV_NONE).
func BenchmarkRawSuspend(b *testing.B) {
	fd := benchFile(b)
	a := newCb(b, fd, make([]byte, 4096), 0)
	list := []*Aiocb{a}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.SetOffset(int64(i%256) * 4096)
		if err := a.Read(); err != nil {
			b.Fatal(err)
		}
		for a.Error() == unix.EINPROGRESS {
			if err := AioSuspend(list, -1); err != nil && err != unix.EINTR {
				b.Fatal(err)
			}
		}
		if n, _ := a.Return(); n != 4096 {
			b.Fatal(n)
		}
	}
}
