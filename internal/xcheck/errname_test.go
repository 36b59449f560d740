package xcheck

import (
	"testing"

	"golang.org/x/sys/unix"
)

// ErrName must spell every errno as trace.h does (glibc's
// strerrorname_np): errno 95 is EOPNOTSUPP there, ENOTSUP in package unix.
func TestErrNameGlibcSpelling(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{unix.EOPNOTSUPP, "EOPNOTSUPP"},
		{unix.ENOTSUP, "EOPNOTSUPP"},
		{unix.EAGAIN, "EAGAIN"},
		{unix.EDEADLK, "EDEADLK"},
		{nil, "OK"},
	} {
		if got := ErrName(c.err); got != c.want {
			t.Errorf("ErrName(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	var tr Trace
	tr.AddNeg("send_zc", -int64(unix.EOPNOTSUPP))
	if want := "send_zc res=-1 err=EOPNOTSUPP"; tr.Lines[0] != want {
		t.Errorf("AddNeg: %q, want %q", tr.Lines[0], want)
	}
}
