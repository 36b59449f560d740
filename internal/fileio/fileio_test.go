package fileio

import (
	"context"
	"errors"
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

// step is one scripted answer of do.
type step struct {
	n   int
	err error
}

// script returns a do that answers with steps in turn and records the
// (len, off) of each call.
func script(t *testing.T, steps []step) (func([]byte, int64) (int, error), *[][2]int64) {
	var calls [][2]int64
	i := 0
	return func(p []byte, off int64) (int, error) {
		if i == len(steps) {
			t.Fatalf("call %d (len %d, off %d) beyond the script", i, len(p), off)
		}
		calls = append(calls, [2]int64{int64(len(p)), off})
		s := steps[i]
		i++
		return s.n, s.err
	}, &calls
}

func TestFull(t *testing.T) {
	bad := errors.New("bad")
	for _, c := range []struct {
		name  string
		size  int
		write bool
		steps []step
		end   func(int) bool
		n     int
		err   error
		calls [][2]int64
	}{
		{"whole at once", 8, false, []step{{8, nil}}, nil, 8, nil, [][2]int64{{8, 100}}},
		{"short then rest", 8, false, []step{{3, nil}, {5, nil}}, nil, 8, nil, [][2]int64{{8, 100}, {5, 103}}},
		{"EOF", 8, false, []step{{3, nil}, {0, nil}}, nil, 3, io.EOF, [][2]int64{{8, 100}, {5, 103}}},
		{"short write", 8, true, []step{{3, nil}, {0, nil}}, nil, 3, io.ErrShortWrite, [][2]int64{{8, 100}, {5, 103}}},
		{"error after some", 8, false, []step{{3, nil}, {0, bad}}, nil, 3, bad, [][2]int64{{8, 100}, {5, 103}}},
		{"EINTR retried", 8, false, []step{{0, unix.EINTR}, {8, nil}}, nil, 8, nil, [][2]int64{{8, 100}, {8, 100}}},
		{"end by alignment", 8, false, []step{{3, nil}}, func(n int) bool { return n%4 != 0 }, 3, io.EOF, [][2]int64{{8, 100}}},
		{"empty calls once", 0, false, []step{{0, bad}}, nil, 0, bad, [][2]int64{{0, 100}}},
		{"empty ok", 0, true, []step{{0, nil}}, nil, 0, nil, [][2]int64{{0, 100}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			do, calls := script(t, c.steps)
			n, err := Full(make([]byte, c.size), 100, c.write, do, c.end)
			if n != c.n || err != c.err {
				t.Errorf("Full = %d, %v; want %d, %v", n, err, c.n, c.err)
			}
			if len(*calls) != len(c.calls) {
				t.Fatalf("calls %v, want %v", *calls, c.calls)
			}
			for i := range c.calls {
				if (*calls)[i] != c.calls[i] {
					t.Errorf("calls %v, want %v", *calls, c.calls)
				}
			}
		})
	}
}

func TestContext(t *testing.T) {
	//lint:ignore SA1012 a nil ctx is what this test is about
	if c := Context(nil); c == nil || c.Err() != nil || c.Done() != nil {
		t.Fatalf("Context(nil) = %v", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Context(ctx) != ctx {
		t.Fatal("Context(ctx) is not ctx")
	}
}

func TestFD32(t *testing.T) {
	for fd, want := range map[int]int32{0: 0, 7: 7, -1: -1, -100: -100, 1<<31 - 1: 1<<31 - 1, 1 << 31: -1, 7 + 1<<32: -1, -1 << 40: -1} {
		if got := FD32(fd); got != want {
			t.Errorf("FD32(%d) = %d, want %d", fd, got, want)
		}
	}
}
