package testutil

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDenySyscalls installs a filter on one locked thread and checks that
// exactly the calls its rules describe fail with their errno: a whole
// call, an argument's value (low and high word), and an argument's bits
// (in the low and in the high word).
func TestDenySyscalls(t *testing.T) {
	f, err := os.CreateTemp(TempDir(t), "seccomp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 8192)); err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	rules := []SyscallRule{
		{Nr: unix.SYS_GETPPID, Arg: -1, Errno: unix.ENOSYS},
		{Nr: unix.SYS_LSEEK, Arg: 1, Value: 1<<33 | 7, Errno: unix.EDOM},
		{Nr: unix.SYS_LSEEK, Arg: 1, AnyBit: 1 << 40, Errno: unix.ERANGE},
		{Nr: unix.SYS_PREADV2, Arg: 5, AnyBit: unix.RWF_NOWAIT, Errno: unix.EOPNOTSUPP},
	}
	lseek := func(off uint64) error {
		_, _, e := unix.Syscall(unix.SYS_LSEEK, uintptr(fd), uintptr(off), 0)
		if e != 0 {
			return e
		}
		return nil
	}
	preadv2 := func(flags int) error {
		_, err := unix.Preadv2(fd, [][]byte{make([]byte, 16)}, 0, flags)
		return err
	}
	getppid := func() error {
		_, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"getppid", getppid, unix.ENOSYS},
		{"lseek 1<<33|7", func() error { return lseek(1<<33 | 7) }, unix.EDOM},
		{"lseek 7", func() error { return lseek(7) }, nil},
		{"lseek 1<<33", func() error { return lseek(1 << 33) }, nil},
		{"lseek 1<<40|5", func() error { return lseek(1<<40 | 5) }, unix.ERANGE},
		{"preadv2 RWF_NOWAIT|RWF_HIPRI", func() error { return preadv2(unix.RWF_NOWAIT | unix.RWF_HIPRI) }, unix.EOPNOTSUPP},
		{"preadv2 RWF_HIPRI", func() error { return preadv2(unix.RWF_HIPRI) }, nil},
		{"preadv2 0", func() error { return preadv2(0) }, nil},
	}
	var got []error
	OnFilteredThread(t, rules, func() {
		for _, c := range cases {
			got = append(got, c.call())
		}
	})
	for i, c := range cases {
		if !errors.Is(got[i], c.want) || (c.want == nil) != (got[i] == nil) {
			t.Errorf("%s under the filter: %v, want %v", c.name, got[i], c.want)
		}
	}
	// The filter stayed on the dead thread.
	if err := getppid(); err != nil {
		t.Errorf("getppid on an unfiltered thread: %v", err)
	}
	if err := DenySyscalls([]SyscallRule{{Nr: unix.SYS_GETPPID, Arg: 6}}, false); err != unix.EINVAL {
		t.Errorf("Arg 6: %v, want EINVAL", err)
	}
}
