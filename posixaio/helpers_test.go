package posixaio

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tempFile creates a file with content in a test directory and returns an
// O_RDWR descriptor closed at the end of the test.
func tempFile(t testing.TB, content []byte) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, path
}

// pipe returns a pipe whose ends are closed at the end of the test (unless
// the test closed them already).
func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// waitDone polls aio_error until the request left EINPROGRESS.
func waitDone(t testing.TB, a *Aiocb) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := a.Error()
		if err != unix.EINPROGRESS {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatal("request still in progress after 10s")
		}
		if err := Suspend([]*Aiocb{a}, 100*time.Millisecond); err != nil && err != unix.EAGAIN {
			t.Fatalf("Suspend: %v", err)
		}
	}
}

func newCb(t testing.TB, fd int, buf []byte, off int64) *Aiocb {
	t.Helper()
	a := NewAiocb()
	if err := a.Prep(fd, buf, off); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a.Ptr() != nil {
			if a.inProgress() {
				a.Cancel()
				waitDone(t, a)
			}
			a.Free()
		}
	})
	return a
}

func runtimeGC() { runtime.GC() }

// noPanic runs f and fails the test (instead of crashing the binary) if it
// panics.
func noPanic(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}
