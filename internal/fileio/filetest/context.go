package filetest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestContexts checks the *Context methods, buffered and O_DIRECT: an ended
// context (cancelled, or past its deadline) makes them return (0,
// ctx.Err()) itself and do nothing: the buffer of a read is not written
// (not even from the page cache, where uring and libaio read cached data
// in the caller), a write does not reach the file, nothing is left in
// flight. A nil ctx is context.Background().
func TestContexts(t *testing.T, b *Backend) {
	for _, direct := range []bool{false, true} {
		name := "buffered"
		flag := os.O_RDWR
		if direct {
			name, flag = "direct", os.O_RDWR|unix.O_DIRECT
		}
		t.Run(name, func(t *testing.T) {
			const size = 8192
			init := content(size, 9)
			path := filepath.Join(testutil.TempDir(t), "data")
			if err := os.WriteFile(path, init, 0o600); err != nil {
				t.Fatal(err)
			}
			o := b.Open(t, path, flag, 0)
			f := o.File
			s := slab()
			buf := buffer(s, 0, 4096)
			if n, err := f.ReadAt(buf, 0); n != 4096 || err != nil { // now cached, if buffered
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel2()
			wbuf := buffer(slab(), 0, 4096)
			fill(wbuf, 77)
			for _, ctx := range []context.Context{cancelled, expired} {
				for _, c := range []struct {
					off int64
					n   int
				}{{0, 4096}, {4096, 4096}, {0, 0}, {size, 4096}, {1 << 20, 4096}} {
					p := buffer(s, 0, c.n)
					for i := range p {
						p[i] = 0x5a
					}
					n, err := f.ReadAtContext(ctx, p, c.off)
					if n != 0 || err != ctx.Err() {
						t.Errorf("ReadAtContext(%v, %d bytes at %d) = %d, %v; want 0, %v", ctx.Err(), c.n, c.off, n, err, ctx.Err())
					}
					if bytes.Count(p, []byte{0x5a}) != len(p) {
						t.Errorf("ReadAtContext(%v, %d bytes at %d) wrote into the buffer", ctx.Err(), c.n, c.off)
					}
					n, err = f.WriteAtContext(ctx, wbuf[:c.n], c.off)
					if n != 0 || err != ctx.Err() {
						t.Errorf("WriteAtContext(%v, %d bytes at %d) = %d, %v; want 0, %v", ctx.Err(), c.n, c.off, n, err, ctx.Err())
					}
				}
				for name, sync := range map[string]func(context.Context) error{
					"SyncContext": o.SyncContext, "DatasyncContext": o.DatasyncContext} {
					if sync == nil {
						continue
					}
					if err := sync(ctx); err != ctx.Err() {
						t.Errorf("%s(%v) = %v", name, ctx.Err(), err)
					}
				}
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, init) {
					t.Fatalf("the file changed under WriteAtContext(%v) (%d bytes, %v)", ctx.Err(), len(got), err)
				}
				if n := o.InFlight(); n != 0 {
					t.Errorf("%d requests in flight after the calls with an ended ctx", n)
				}
			}

			// A nil ctx is context.Background().
			//lint:ignore SA1012 a nil ctx is what this test is about
			if n, err := f.WriteAtContext(nil, wbuf, 4096); n != 4096 || err != nil {
				t.Fatalf("WriteAtContext(nil) = %d, %v", n, err)
			}
			for name, sync := range map[string]func(context.Context) error{
				"SyncContext": o.SyncContext, "DatasyncContext": o.DatasyncContext} {
				if sync == nil {
					continue
				}
				//lint:ignore SA1012 as above
				if err := sync(nil); err != nil {
					t.Fatalf("%s(nil) = %v", name, err)
				}
			}
			p := buffer(s, 0, 8192)
			//lint:ignore SA1012 as above
			if n, err := f.ReadAtContext(nil, p, 0); n != 8192 || err != nil ||
				!bytes.Equal(p[:4096], init[:4096]) || !bytes.Equal(p[4096:], wbuf) {
				t.Fatalf("ReadAtContext(nil) = %d, %v (or the wrong bytes)", n, err)
			}
			//lint:ignore SA1012 as above
			if n, err := f.ReadAtContext(nil, p, 4096); n != 4096 || err != io.EOF {
				t.Fatalf("ReadAtContext(nil) across the end = %d, %v; want 4096, EOF", n, err)
			}
			//lint:ignore SA1012 as above
			if n, err := f.ReadAtContext(nil, p[:4096], -4096); n != 0 || err == nil {
				t.Fatalf("ReadAtContext(nil) at -4096 = %d, %v", n, err)
			}
			//lint:ignore SA1012 as above
			if n, err := f.WriteAtContext(nil, p[:4096], -4096); n != 0 || err == nil {
				t.Fatalf("WriteAtContext(nil) at -4096 = %d, %v", n, err)
			}
		})
	}
}
