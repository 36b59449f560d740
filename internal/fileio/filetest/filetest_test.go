package filetest

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RW and AtEOF encode what they say.
func TestEncoding(t *testing.T) {
	for _, c := range []struct {
		off    int64
		n, mem int
	}{{0, 0, 0}, {5, 7, 1}, {4<<20 - 1, MaxLen, 8}, {-1, 1, 512}, {-(1 << 24) + 1, 4096, 2048},
		{math.MinInt64, 3, 0}, {1 << 62, 9, 0}, {1<<62 + 1<<23 - 1, 0, 0}, {math.MaxInt64, 1, 0},
		{math.MaxInt64 - 1<<23 + 1, 2, 0}} {
		for _, direct := range []bool{false, true} {
			for _, k := range []Kind{Read, Write, ReadNilCtx, WriteNilCtx} {
				got := resolve(RW(k, c.off, c.n, c.mem), 12345, direct)
				want := Op{Kind: k, Off: c.off, Len: c.n, Mem: c.mem, Fill: got.Fill}
				if got != want {
					t.Errorf("resolve(RW(%v, %d, %d, %d), direct %v) = %v", k, c.off, c.n, c.mem, direct, got)
				}
			}
		}
	}
	if got := resolve(AtEOF(Read, -10, "across", 99, true), 4095, false); got.Off != 4085 || got.Len != 10+1+99 {
		t.Errorf("AtEOF across = %v", got)
	}
	if got := resolve(AtEOF(Write, 0, "to", 0, true), 4095, false); got.Off != 4095 || got.Len != 0 {
		t.Errorf("AtEOF to = %v", got)
	}
	if got := resolve(AtEOF(Read, 0, "zero", 0, true), 5000, true); got.Off != 4096 || got.Len != 0 {
		t.Errorf("AtEOF direct = %v", got)
	}
	if got := resolve(TruncOp(5000), 0, true); got.Kind != Truncate || got.Off != 5000 {
		t.Errorf("TruncOp = %v", got)
	}
	s := DecodeSetup([]byte{Header(true, os.O_WRONLY, size5000, 3)})
	if !s.Direct || s.Access != os.O_WRONLY || s.Size != 5000 || s.Variant != 3 {
		t.Errorf("DecodeSetup(Header(...)) = %v", s)
	}
	for _, b := range [][]byte{nil, {0}, {0xff, 1, 2}, make([]byte, 1+MaxOps*OpSize+5)} {
		DecodeSetup(b)
		for _, r := range rawOps(b) {
			resolve(r, 0, true)
		}
	}
}

// osFile is an *os.File with the *Context methods, and mutations of its
// behaviour that the comparison must notice.
type osFile struct {
	*os.File
	mutate string
}

func (f *osFile) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if ctx != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return f.ReadAt(p, off)
}

func (f *osFile) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if ctx != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return f.WriteAt(p, off)
}

func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	switch f.mutate {
	case "EOF is nil":
		if err == io.EOF {
			err = nil
		}
	case "bare errno":
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
	case "one byte short":
		if err == nil && n > 1 {
			n--
			err = io.EOF
		}
	case "scribble past n":
		if n < len(p) {
			p[len(p)-1]++
		}
	case "empty read fails":
		if len(p) == 0 {
			return 0, &os.PathError{Op: "read", Path: f.Name(), Err: unix.EINVAL}
		}
	}
	return n, err
}

func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	switch f.mutate {
	case "write one byte less":
		if len(p) > 1 {
			n, err := f.File.WriteAt(p[:len(p)-1], off)
			return n + 1, err
		}
	case "negative offset is EINVAL":
		if off < 0 {
			return 0, &os.PathError{Op: "writeat", Path: f.Name(), Err: unix.EINVAL}
		}
	}
	return f.File.WriteAt(p, off)
}

func osBackend(mutate string) *Backend {
	return &Backend{
		Name:       "os.File/" + mutate,
		PathErrors: true,
		Open: func(t testing.TB, path string, flag, variant int) *Opened {
			of, err := os.OpenFile(path, flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { of.Close() })
			f := &osFile{File: of, mutate: mutate}
			return &Opened{File: f, Name: path, Sync: of.Sync, InFlight: func() int { return 0 }}
		},
	}
}

// os.File against itself passes every seed; each mutation fails one.
func TestOSFileAgainstItself(t *testing.T) {
	for _, s := range Seeds() {
		Run(t, osBackend(""), s)
	}
	RunConcurrent(t, osBackend(""), Seeds()[4], 4)
	TestReader(t, osBackend(""))
	TestContexts(t, osBackend(""))
	for _, m := range []string{"EOF is nil", "bare errno", "one byte short", "scribble past n",
		"empty read fails", "write one byte less", "negative offset is EINVAL"} {
		failed := false
		for _, s := range Seeds() {
			if err := run(t, osBackend(m), s, 0); err != nil {
				failed = true
				if testing.Verbose() {
					t.Logf("%s: %v", m, err)
				}
				break
			}
		}
		if !failed {
			t.Errorf("mutation %q passes every seed", m)
		}
	}
}
