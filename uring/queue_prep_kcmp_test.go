package uring

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestQueuePrepMsgRingNoKcmp: where kcmp(2) is refused (a container's
// seccomp profile: EPERM; a kernel without CONFIG_KCMP: ENOSYS), Queue.Prep
// tells a MSG_RING to its own ring through /proc/self/fd instead. A number
// that is no open descriptor is no ring at all: the kernel's EBADF reaches
// the handle, as with kcmp and as liburing reports it
// (uring_xcheck_netops msg_ring_badfd), instead of a refusal with EINVAL.
// A dup of the queue's own ring is still refused, and so (there is no
// telling them apart then) is another ring; a pipe gets the kernel's
// EBADFD.
func TestQueuePrepMsgRingNoKcmp(t *testing.T) {
	q := newTestQueue(t, QueueConfig{Entries: 8})
	requireOp(t, q, 5, 18, OpMsgRing)
	r, _ := testPipe(t)
	dup, err := unix.Dup(q.Ring().Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	other := rawRing(t, 4, nil)
	result := func(fd int) (int, error) {
		h, err := q.Prep(func(s *SQE) { s.PrepMsgRing(fd, 0, 1, 0) })
		if err != nil {
			return 0, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return h.Wait(ctx)
	}
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS} {
		rules := []testutil.SyscallRule{{Nr: unix.SYS_KCMP, Arg: -1, Errno: errno}}
		testutil.OnFilteredThread(t, rules, func() {
			pid := uintptr(unix.Getpid())
			if _, _, e := unix.Syscall6(unix.SYS_KCMP, pid, pid, 0, uintptr(dup), uintptr(dup), 0); e != errno {
				t.Errorf("kcmp on the filtered thread: %v, want %v", e, errno)
				return
			}
			for _, c := range []struct {
				what string
				fd   int
				want unix.Errno
			}{
				{"a number no descriptor has", 9999, unix.EBADF},
				{"-1", -1, unix.EBADF},
				{"a pipe", r, unix.EBADFD},
			} {
				if n, err := result(c.fd); !errors.Is(err, c.want) {
					t.Errorf("kcmp %v: MSG_RING to %s = %d, %v; want the kernel's %v", errno, c.what, n, err, c.want)
				}
			}
			for _, fd := range []int{q.Ring().Fd(), dup, other.Fd()} {
				if n, err := result(fd); !errors.Is(err, unix.EINVAL) {
					t.Errorf("kcmp %v: MSG_RING to io_uring descriptor %d = %d, %v; want the refusal (EINVAL)", errno, fd, n, err)
				}
			}
		})
	}
}
