package testutil

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DenyIOUringSetup installs a seccomp filter that fails io_uring_setup(2)
// with errno, as a container runtime's profile or kernel.io_uring_disabled
// does (EPERM), or a kernel without io_uring (ENOSYS). With allThreads it
// applies to every thread of the process (SECCOMP_FILTER_FLAG_TSYNC: for a
// child process whose whole run must see it); otherwise to the calling
// thread only, which must be locked (runtime.LockOSThread) and end with its
// goroutine. It sets no_new_privs first. unix.ENOTSUP: no filter for this
// architecture.
func DenyIOUringSetup(errno unix.Errno, allThreads bool) error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return unix.ENOTSUP
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: arch},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
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
