package bench

// Rand is the xorshift64* generator that picks benchmark offsets. The C
// reference programs use the identical generator from testdata/c/bench_common.h
// (bench_rand_*), so a Go engine and its C reference given the same Seed read
// the same blocks in the same order.
//
// Step (Vigna's xorshift64*): x ^= x>>12; x ^= x<<25; x ^= x>>27; the state
// becomes x and the output is x * 0x2545F4914F6CDD1D. A zero seed would stay
// zero forever, so NewRand replaces it with RandZeroSeed.
//
// A Rand is not safe for concurrent use: give each goroutine its own, seeded
// with WorkerSeed.
type Rand struct {
	s uint64
	// The goroutine engines' generators are allocated one after another:
	// unpadded, eight shared a cache line and every Next by a goroutine on
	// one CPU invalidated the line of goroutines on the other (a 64-byte
	// object is 64-byte aligned in its size class).
	_ [56]byte
}

// RandMultiplier is the xorshift64* output multiplier.
const RandMultiplier uint64 = 0x2545F4914F6CDD1D

// RandZeroSeed replaces a zero seed (xorshift has an all-zero fixed point).
// It is not a small multiple of RandWorkerStep: when it was the step itself,
// with seed 0 worker 0 (seed 0, replaced) and worker 1 (seed 0 + step) read
// the same offsets.
const RandZeroSeed uint64 = 0xD1B54A32D192ED03

// RandWorkerStep separates the seeds of an engine's workers (WorkerSeed): the
// golden-ratio increment of Weyl sequences.
const RandWorkerStep uint64 = 0x9E3779B97F4A7C15

// BlockSize is the size and alignment of every read4k access.
const BlockSize = 4096

// NewRand returns a generator seeded with seed (RandZeroSeed if seed is 0).
func NewRand(seed uint64) *Rand {
	if seed == 0 {
		seed = RandZeroSeed
	}
	return &Rand{s: seed}
}

// Next advances the generator and returns its next output.
func (r *Rand) Next() uint64 {
	x := r.s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	r.s = x
	return x * RandMultiplier
}

// Offset returns the next 4 KiB-aligned offset inside a file of size bytes:
// (Next() % (size/4096)) * 4096. It returns 0 when the file holds less than one
// block (the generator still advances, as in C).
func (r *Rand) Offset(size int64) int64 {
	x := r.Next()
	blocks := uint64(size) / BlockSize
	if size <= 0 || blocks == 0 {
		return 0
	}
	return int64(x%blocks) * BlockSize
}

// WorkerSeed derives the seed of worker i (0-based) of an engine that spreads
// a run over several independent submitters (e.g. one goroutine per op in
// flight): seed + i*RandWorkerStep (mod 2^64). Worker 0 uses seed itself,
// so a single-submitter engine and worker 0 read the same sequence.
// bench_worker_seed in bench_common.h computes the same value.
func WorkerSeed(seed uint64, i int) uint64 {
	return seed + uint64(i)*RandWorkerStep
}
