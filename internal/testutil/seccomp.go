package testutil

import (
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SyscallRule makes the kernel fail one system call with Errno, as an older
// kernel (ENOSYS, EINVAL for an unknown opcode, EOPNOTSUPP for an unknown
// flag) or a container's seccomp profile (EPERM) would. The test is then
// about the real kernel refusing, not a mock.
type SyscallRule struct {
	Nr int // system call number (unix.SYS_*)
	// Arg is the argument the rule looks at (0-5), or -1 for every call
	// of Nr. With Arg >= 0 the call fails when the whole 64-bit argument
	// equals Value or, when AnyBit is not 0, when it has any bit of AnyBit
	// set (Value is then ignored).
	Arg    int
	Value  uint64
	AnyBit uint64
	Errno  unix.Errno
}

// DenySyscalls installs a seccomp filter that fails the calls the rules
// describe (the first matching rule wins) and lets every other call through.
// With allThreads it applies to every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC: for a child process whose whole run must see
// it); otherwise to the calling thread only, which must be locked
// (runtime.LockOSThread) and end with its goroutine. It sets no_new_privs
// first. unix.ENOTSUP: no filter for this architecture; unix.EINVAL: a rule
// with Arg outside -1..5.
func DenySyscalls(rules []SyscallRule, allThreads bool) error {
	var arch uint32
	switch runtime.GOARCH { // both little-endian: an argument's low word comes first
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return unix.ENOTSUP
	}
	const (
		offNr   = 0  // seccomp_data.nr
		offArch = 4  // seccomp_data.arch
		offArgs = 16 // seccomp_data.args[6], 64 bits each
	)
	ld := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: k}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	allow := ret(unix.SECCOMP_RET_ALLOW)
	filter := []unix.SockFilter{
		ld(offArch),
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: arch},
		allow, // another architecture's calls are not ours to judge
	}
	for _, r := range rules {
		if r.Arg < -1 || r.Arg > 5 {
			return unix.EINVAL
		}
		// One block per rule: each test jumps to the block's end (the next
		// rule) on a mismatch; the block ends in the rule's errno.
		type test struct {
			off  uint32
			jset bool
			k    uint32
		}
		tests := []test{{off: offNr, k: uint32(r.Nr)}}
		if r.Arg >= 0 {
			lo, hi := uint32(offArgs+8*r.Arg), uint32(offArgs+8*r.Arg+4)
			if r.AnyBit != 0 {
				// Any bit in either word: two alternatives, so the low
				// word's hit jumps straight to the errno.
				tests = append(tests, test{off: lo, jset: true, k: uint32(r.AnyBit)}, test{off: hi, jset: true, k: uint32(r.AnyBit >> 32)})
			} else {
				tests = append(tests, test{off: lo, k: uint32(r.Value)}, test{off: hi, k: uint32(r.Value >> 32)})
			}
		}
		n := 2*len(tests) + 1 // a load and a jump per test, then the return
		for i, t := range tests {
			filter = append(filter, ld(t.off))
			left := uint8(n - 2*i - 2) // instructions after this jump up to the next block
			j := unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: left, K: t.k}
			if t.jset {
				j.Code = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
				if i == 1 { // the low word has a bit: to the return; else on to the high word
					j.Jt, j.Jf = left-1, 0
				}
			}
			filter = append(filter, j)
		}
		filter = append(filter, ret(unix.SECCOMP_RET_ERRNO|uint32(r.Errno)))
	}
	filter = append(filter, allow)
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	var flags uintptr
	if allThreads {
		flags = unix.SECCOMP_FILTER_FLAG_TSYNC
	}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if e != 0 {
		return e
	}
	if r != 0 { // TSYNC: the id of a thread that could not be synchronized
		return unix.ESRCH
	}
	return nil
}

// DenyIOUringSetup fails io_uring_setup(2) with errno, as a container
// runtime's profile or kernel.io_uring_disabled does (EPERM), or a kernel
// without io_uring (ENOSYS). allThreads as in DenySyscalls.
func DenyIOUringSetup(errno unix.Errno, allThreads bool) error {
	return DenySyscalls([]SyscallRule{{Nr: unix.SYS_IO_URING_SETUP, Arg: -1, Errno: errno}}, allThreads)
}

// OnFilteredThread runs f on a new OS thread whose system calls the rules
// refuse (DenySyscalls on that thread only) and waits for it. The thread is
// locked and never unlocked, so it ends with f's goroutine and takes the
// filter with it; threads it creates meanwhile (glibc's AIO helpers)
// inherit the filter. f runs outside the test's goroutine: it reports with
// t.Errorf, not t.Fatal. A hang of a minute fails the test. Where no
// seccomp filter can be installed the test is skipped, naming what is
// missing (SkipNoSeccomp).
func OnFilteredThread(t testing.TB, rules []SyscallRule, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: see above
		if err := DenySyscalls(rules, false); err != nil {
			errc <- err
			return
		}
		errc <- nil
		f()
	}()
	SkipNoSeccomp(t, <-errc)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("hung for a minute on the thread filtered by seccomp")
	}
}

// SkipNoSeccomp skips the test when err, from DenySyscalls, says that
// seccomp filters cannot be installed here (no privilege, or no filter for
// this kernel or architecture); a nil err does nothing.
func SkipNoSeccomp(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		SkipNoPrivilege(t, "seccomp filter (CAP_SYS_ADMIN or no_new_privs): "+err.Error())
	default:
		SkipNoFeature(t, "seccomp filters", err)
	}
}
