package cli

import (
	"errors"
	"testing"
)

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

// The first write error is kept, and every later write fails with it.
func TestErrWriter(t *testing.T) {
	w := &ErrWriter{W: &failAfter{n: 1}}
	if _, err := w.Write([]byte("a")); err != nil || w.Err != nil {
		t.Fatalf("first write: %v, %v", err, w.Err)
	}
	if _, err := w.Write([]byte("b")); err == nil || w.Err == nil {
		t.Fatal("second write did not fail")
	}
	first := w.Err
	if _, err := w.Write([]byte("c")); err != first || w.Err != first {
		t.Fatalf("third write: %v (kept %v), want the first error", err, w.Err)
	}
}
