package filetest

import (
	"math"
	"os"
	"testing"
)

// Size indexes of Header.
const (
	size0 = iota
	size1
	size4095
	size4096
	size5000
	size100000
	size1M3
	size64K
)

// Seeds returns the seed corpus of every backend's FuzzFileVsOS: the
// interesting cases of the input layout (ops.go). Each runs in a few
// milliseconds.
func Seeds() [][]byte {
	rw, ro, wo := os.O_RDWR, os.O_RDONLY, os.O_WRONLY
	return [][]byte{
		// Empty requests, anywhere: os.File makes no system call.
		Seed(Header(false, rw, size0, 0),
			RW(Read, 0, 0, 0), RW(Read, 100, 0, 0), RW(Write, 0, 0, 0), RW(Write, 1000, 0, 0),
			RW(Read, 0, 10, 0), RW(Read, -1, 0, 0), RW(Write, -1, 0, 0), RW(Read, math.MinInt64, 0, 0),
			RW(Read, 1<<62, 0, 0), RW(Write, math.MaxInt64, 0, 0)),
		// Around the end of file.
		Seed(Header(false, rw, size4095, 0),
			RW(Read, 0, 4096, 0), RW(Read, 4094, 1, 0), RW(Read, 4095, 1, 0), RW(Read, 4096, 1, 0),
			AtEOF(Read, 0, "zero", 0, true), AtEOF(Read, -10, "to", 0, true), AtEOF(Read, -10, "across", 99, true),
			AtEOF(Write, 5, "across", 10, true), AtEOF(Read, -20, "across", 40, true)),
		// Negative offsets.
		Seed(Header(false, rw, size1, 0),
			RW(Read, -1, 10, 0), RW(Write, -1, 10, 0), RW(Read, math.MinInt64, 4096, 0),
			RW(Write, math.MinInt64, 4096, 0), RW(ReadNilCtx, -100, 1, 0), RW(WriteNilCtx, -4096, 4096, 0),
			AtEOF(Read, -5, "across", 3, true)),
		// Offsets the file cannot reach: EFBIG, EINVAL (off+len overflows), EOF.
		Seed(Header(false, rw, size4096, 0),
			RW(Write, 1<<62, 10, 0), RW(Read, 1<<62, 10, 0), RW(Read, math.MaxInt64-100, 8192, 0),
			RW(Write, math.MaxInt64-100, 8192, 0), RW(Read, math.MaxInt64, 1, 0), RW(Read, math.MaxInt64-100, 0, 0)),
		// Large buffers, holes, Truncate and Sync.
		Seed(Header(false, rw, size100000, 0),
			RW(Read, 0, 1<<20, 0), RW(Write, 3<<20, 1<<20, 0), RW(Read, 100000-10, 1<<20, 0),
			RW(Read, 3<<20-5, MaxLen, 0), TruncOp(50000), RW(Read, 40000, 20000, 0), SyncOp(),
			RW(Write, 49999, 1<<20+3, 0), TruncOp(1<<20), SyncOp(), RW(Read, 0, MaxLen, 0)),
		// Odd buffer addresses; the nil-context variants.
		Seed(Header(false, rw, size64K, 0),
			RW(Read, 1, 4095, 1), RW(Write, 7, 1000, 8), RW(ReadNilCtx, 3, 70000, 512),
			RW(WriteNilCtx, 65530, 100, 2048), RW(Read, 0, 66000, 1), SyncOp()),
		// Read-only descriptor: writes fail with EBADF, empty ones too.
		Seed(Header(false, ro, size5000, 0),
			RW(Write, 0, 10, 0), RW(Write, 0, 0, 0), RW(Read, 0, 5000, 0), SyncOp(), RW(Read, 4000, 2000, 0),
			RW(WriteNilCtx, 6000, 0, 0), TruncOp(100), RW(Read, 0, 200, 0)),
		// Write-only descriptor: reads fail with EBADF, empty ones too.
		Seed(Header(false, wo, size5000, 0),
			RW(Read, 0, 10, 0), RW(Read, 0, 0, 0), RW(Write, 4990, 20, 0), SyncOp(),
			RW(ReadNilCtx, 10000, 0, 0), RW(Read, 10000, 1, 0)),
		// O_APPEND: os.File refuses WriteAt (its errWriteAtInAppendMode),
		// empty or not, before it looks at the offset; pwrite(2) would
		// append, whatever the offset.
		Seed(Header(false, os.O_RDWR|os.O_APPEND, size5000, 0),
			RW(Write, 0, 10, 0), RW(Write, 0, 0, 0), RW(Write, -1, 10, 0), RW(WriteNilCtx, 100, 100, 0),
			RW(Read, 0, 5000, 0), RW(Write, 1<<62, 1, 0), SyncOp()),
		Seed(Header(true, os.O_RDWR|os.O_APPEND, size1M3, 1),
			RW(Write, 4096, 4096, 0), RW(Read, 0, 8192, 0), RW(Write, 8192, 0, 0),
			RW(Write, 100, 4096, 0)), // O_APPEND first, before libaio's alignment rule
		// The queue variants (posixaio's NotifyThread, uring's RingOnly,
		// libaio's inline reads off) over the same ground.
		Seed(Header(false, rw, size4095, 1),
			RW(Read, 0, 4096, 0), RW(Write, 4095, 1, 0), RW(Read, 0, 8192, 0), RW(Read, -1, 1, 0),
			RW(Read, 0, 0, 0), RW(Write, 1<<62, 1, 0), SyncOp()),
		Seed(Header(false, wo, size0, 2),
			RW(Read, 0, 0, 0), RW(Read, 0, 1, 0), RW(Write, 0, 100, 0), SyncOp()),
		Seed(Header(false, rw, size1M3, 3),
			RW(Read, 1<<20, 4096, 0), RW(Read, 0, 1<<20+3, 0), RW(Write, 1<<20+3, 0, 0), TruncOp(0),
			RW(Read, 0, 1, 0)),

		// O_DIRECT, aligned: across and past the end of file.
		Seed(Header(true, rw, size5000, 0),
			RW(Read, 0, 8192, 0), RW(Read, 4096, 4096, 0), RW(Read, 8192, 4096, 0), RW(Read, 1<<20, 4096, 0),
			RW(Write, 8192, 4096, 0), RW(Read, 0, 16384, 0), RW(Write, 0, 1<<20, 0), SyncOp(),
			RW(Read, 0, 1<<20+8192, 0)),
		// O_DIRECT, misaligned offsets and lengths (the kernel's EINVAL;
		// libaio's *AlignError), 512-byte granularity (the sector size).
		Seed(Header(true, rw, size1M3, 0),
			RW(Read, 100, 4096, 0), RW(Read, 0, 100, 0), RW(Write, 100, 4096, 0), RW(Write, 0, 100, 0),
			RW(Read, 512, 512, 0), RW(Write, 1536, 512, 0), RW(Read, 0, 4096, 0), RW(Read, 1<<20, 4096, 0),
			RW(Read, 1<<20+1, 4096, 0), RW(Read, 3, 0, 0), RW(Write, 3, 0, 0)),
		// O_DIRECT, misaligned memory (EINVAL; libaio bounces).
		Seed(Header(true, rw, size64K, 0),
			RW(Read, 0, 4096, 1), RW(Read, 4096, 8192, 8), RW(Read, 0, 4096, 512), RW(Write, 8192, 4096, 1),
			RW(Write, 0, 4096, 2048), RW(Read, 61440, 8192, 1), RW(Read, 0, 65536, 0)),
		// O_DIRECT, negative and unreachable offsets.
		Seed(Header(true, rw, size4096, 0),
			RW(Read, -4096, 4096, 0), RW(Write, -4096, 4096, 0), RW(Read, math.MinInt64, 4096, 0),
			RW(Write, 1<<62, 4096, 0), RW(Read, 1<<62, 4096, 0), RW(Read, math.MaxInt64-4095, 8192, 0),
			RW(Read, -4096, 0, 0)),
		// O_DIRECT on a read-only and a write-only descriptor.
		Seed(Header(true, ro, size100000, 0),
			RW(Write, 0, 4096, 0), RW(Write, 0, 0, 0), RW(Read, 98304, 4096, 0), SyncOp()),
		Seed(Header(true, wo, size100000, 1),
			RW(Read, 0, 4096, 0), RW(Read, 0, 0, 0), RW(Write, 98304, 8192, 0), SyncOp()),
		// O_DIRECT after a Truncate to a size that is not a multiple of the block.
		Seed(Header(true, rw, size0, 2),
			RW(Write, 0, 12288, 0), TruncOp(5000), RW(Read, 0, 12288, 0), AtEOF(Read, 0, "zero", 0, false),
			RW(Read, 4096, 4096, 0), RW(Write, 1<<20, 4096, 0), RW(Read, 0, MaxLen&^4095, 0)),
		Seed(Header(true, rw, size1M3, 3),
			RW(ReadNilCtx, 0, 1<<20, 0), RW(WriteNilCtx, 1<<20, 8192, 0), RW(Read, 1<<20, 8192, 0), SyncOp()),
	}
}

// AddSeeds adds Seeds and extra to f's corpus.
func AddSeeds(f *testing.F, extra ...[]byte) {
	for _, s := range Seeds() {
		f.Add(s)
	}
	for _, s := range extra {
		f.Add(s)
	}
}
