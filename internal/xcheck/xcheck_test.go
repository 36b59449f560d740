package xcheck

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSelfCheck runs the harness's own scenario in C and in Go.
func TestSelfCheck(t *testing.T) {
	dir := t.TempDir()
	var tr Trace
	path := filepath.Join(dir, "go")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, err := unix.Pwrite(fd, []byte("0123456789"), 0)
	tr.Add("write", n, err)
	tr.Add("fsync", 0, unix.Fsync(fd))
	n, err = unix.Pread(fd, buf[:4], 2)
	tr.Add("read", n, err)
	tr.Linef("data %s", buf[:4])
	n, err = unix.Pread(fd, buf, 6)
	tr.Add("read_eof", n, err)
	n, err = unix.Pread(fd, buf, 100)
	tr.Add("read_past_eof", n, err)
	n, err = unix.Pread(-1, buf[:1], 0)
	tr.Add("read_badfd", n, err)
	RunScenario(t, "xcheck_selftest", &tr, filepath.Join(dir, "c"))
}

// TestCompareCatchesDifferences: the harness must be able to fail.
func TestCompareCatchesDifferences(t *testing.T) {
	ft := &fakeT{TB: t}
	Compare(ft, []string{"read res=4 err=OK"}, []string{"read res=-1 err=EBADF"})
	if !ft.failed {
		t.Fatal("Compare accepted different traces")
	}
	ft3 := &fakeT{TB: t}
	Compare(ft3, nil, nil)
	if !ft3.failed {
		t.Fatal("Compare accepted two empty traces")
	}
	var tr Trace
	tr.AddNeg("cqe", -int64(unix.ETIME))
	tr.AddNeg("cqe", 7)
	want := []string{"cqe res=-1 err=ETIME", "cqe res=7 err=OK"}
	ft2 := &fakeT{TB: t}
	Compare(ft2, want, tr.Lines)
	if ft2.failed {
		t.Fatalf("AddNeg lines %q", tr.Lines)
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}
