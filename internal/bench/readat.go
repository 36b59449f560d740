package bench

import (
	"fmt"
	"os"
	"unsafe"
)

// The goroutines+ReadAt baseline: what plain Go does without any async-I/O
// interface. QD goroutines each loop on (*os.File).ReadAt (pread(2)) of one
// random 4 KiB block; Go's scheduler hands each blocked pread its own OS
// thread. Rows with Direct open the file with O_DIRECT and read into a 4096-byte
// aligned buffer (4096 satisfies every logical block size up to 4 KiB).
// Goroutine i reads the sequence of NewRand(WorkerSeed(Seed, i)) through fd
// i%Fds. There is no "nop" equivalent: Supports is false for OpNop.
func init() {
	Register(Engine{
		Backend:  BaselineBackend,
		Name:     BaselineName,
		Supports: func(s Spec) bool { return s.Op == OpRead4k },
		Run:      runReadAt,
	})
}

// directAlign is the buffer and offset alignment of O_DIRECT baseline reads.
const directAlign = 4096

// alignedBlock returns a BlockSize slice of Go memory whose address is a
// multiple of align (Go's heap does not move objects).
func alignedBlock(align int) []byte {
	raw := make([]byte, BlockSize+align)
	off := 0
	if rem := int(uintptr(unsafe.Pointer(&raw[0])) % uintptr(align)); rem != 0 {
		off = align - rem
	}
	return raw[off : off+BlockSize : off+BlockSize]
}

func runReadAt(s Spec) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	if s.Op != OpRead4k {
		return Result{}, fmt.Errorf("%w: readat runs only %s", ErrBadSpec, OpRead4k)
	}
	files := make([]*os.File, s.NumFds())
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i := range files {
		f, err := os.OpenFile(s.Path, s.openFlags(), 0)
		if err != nil {
			return Result{}, fmt.Errorf("bench: readat: %w", err)
		}
		files[i] = f
	}

	return runWorkers(s, func(w int) workerOp {
		f := files[w%len(files)]
		return func(buf []byte, rng *Rand) error {
			off := rng.Offset(s.Size)
			n, err := f.ReadAt(buf, off)
			if err != nil || n != BlockSize {
				return fmt.Errorf("bench: readat: pread(%s, 4096, %d) = %d: %v", s.Path, off, n, err)
			}
			return nil
		}
	})
}
