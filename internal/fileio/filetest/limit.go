package filetest

import (
	"fmt"
	"os"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// sizeLimit is the RLIMIT_FSIZE of TestSizeLimit.
const sizeLimit = 1 << 20

// SizeLimitSeeds are the inputs TestSizeLimit runs: writes that cross
// RLIMIT_FSIZE (1 MiB), which the kernel cuts short at the limit, and
// writes at or past it (EFBIG).
func SizeLimitSeeds() [][]byte {
	rw := os.O_RDWR
	return [][]byte{
		Seed(Header(false, rw, size100000, 0),
			RW(Write, sizeLimit-100, 8192, 0), RW(Write, sizeLimit, 1, 0), RW(Write, sizeLimit+5, 0, 0),
			RW(Write, sizeLimit-5000, 5000, 0), RW(Read, 0, MaxLen, 0), RW(WriteNilCtx, sizeLimit-1, 3, 0),
			TruncOp(100), RW(Write, 50, sizeLimit, 0), RW(Read, 0, MaxLen, 0)),
		Seed(Header(false, rw, size0, 1),
			RW(Write, sizeLimit-1<<19, MaxLen, 1), RW(Write, sizeLimit-1, 2, 0)),
		Seed(Header(true, rw, size64K, 0),
			RW(Write, sizeLimit-4096, 8192, 0), RW(Write, sizeLimit, 4096, 0), RW(Read, 0, MaxLen&^4095, 0),
			TruncOp(0), RW(Write, sizeLimit-512, 4096, 0), RW(Write, 0, 1<<20+4096, 0)),
	}
}

// TestSizeLimit runs SizeLimitSeeds with RLIMIT_FSIZE lowered to 1 MiB: the
// way to give a regular file a short write (short counts are otherwise
// only at the end of file or beyond MAX_RW_COUNT). The Files must go on
// after the short count and return it with the EFBIG of the next request,
// as os.File does. (Go ignores the SIGXFSZ that comes with it.)
func TestSizeLimit(t *testing.T, b *Backend) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur != unix.RLIM_INFINITY && old.Cur < 64<<20 {
		testutil.SkipNoPrivilege(t, fmt.Sprintf("RLIMIT_FSIZE is already %d", old.Cur))
	}
	for i, s := range SizeLimitSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: sizeLimit, Max: old.Max}); err != nil {
				t.Fatal(err)
			}
			err := run(t, b, s, sizeLimit)
			if rerr := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); rerr != nil {
				t.Fatal(rerr)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
