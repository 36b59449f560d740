package inline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkCachedRead4k measures what a cached 4 KiB read costs in one
// goroutine through each way the handle layers could make it: plain
// pread64 (what (*os.File).ReadAt does, below the runtime's fd lock),
// os.File.ReadAt itself, ReadBuffered (preadv2 with RWF_NOWAIT, the
// inline read of File.ReadAt) and Reader.Try (the same plus the O_DIRECT
// memory and the completed handle Queue.Read returns). The gap between the
// first and the third is the kernel's price of RWF_NOWAIT's vectored
// entry point; the gap between the third and the fourth is the handle's
// allocation (docs/uring.md, "Reads of cached data").
func BenchmarkCachedRead4k(b *testing.B) {
	const size = 1 << 20
	path := filepath.Join(testutil.TempDir(b), "cached")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	buf := make([]byte, 4096)
	if r := ReadBuffered(fd, buf, 0); r != Done {
		testutil.SkipNoFeature(b, "preadv2(RWF_NOWAIT) of cached data in "+path, fmt.Errorf("ReadBuffered = %v", r))
	}
	off := func(i int) int64 { return int64(i) * 4096 % size }
	check := func(b *testing.B, n int, err error) {
		if n != len(buf) || err != nil {
			b.Fatalf("read = %d, %v", n, err)
		}
	}
	b.Run("pread", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n, err := unix.Pread(fd, buf, off(i))
			check(b, n, err)
		}
	})
	b.Run("os-readat", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n, err := f.ReadAt(buf, off(i))
			check(b, n, err)
		}
	})
	b.Run("preadv2-nowait", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if r := ReadBuffered(fd, buf, off(i)); r != Done {
				b.Fatalf("ReadBuffered = %v", r)
			}
		}
	})
	b.Run("try-buffered", func(b *testing.B) {
		var r Reader
		for i := 0; i < b.N; i++ {
			if !r.TryBuffered(fd, buf, off(i)) {
				b.Fatal("TryBuffered fell back")
			}
		}
	})
	b.Run("try-handle", func(b *testing.B) {
		var r Reader
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var h *completion.Handle = r.Try(fd, buf, off(i))
			if h == nil {
				b.Fatal("Try fell back")
			}
			n, err := h.Result()
			check(b, n, err)
		}
	})
}
