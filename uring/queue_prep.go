package uring

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// Prep submits the SQE that prep fills, for the operations the named
// methods do not cover: prep calls any (*SQE).PrepXxx helper (prep_*.go)
// and may then set IOSQE_* flags, ioprio, buf_index or personality. prep
// runs once, in the calling goroutine and before a slot is taken, on an
// SQE of its own that is then copied into the submission queue.
//
// The queue owns two things: user data (the handle's, set after prep: what
// prep sets there is overwritten) and the link flags (IOSQE_IO_LINK and
// IOSQE_IO_HARDLINK are cleared; chains are built with Queue.Link and
// Link.Prep). IOSQE_CQE_SKIP_SUCCESS is refused with an error matching
// unix.EINVAL, since the handle would never complete, and so are
// IORING_OP_SEND_ZC and IORING_OP_SENDMSG_ZC, whose buffer the kernel reads
// until a second CQE. IORING_OP_PROVIDE_BUFFERS is refused (EINVAL) when
// pins are given: the kernel fills provided buffers on later receives, after
// this CQE would unpin them, so they must be C or mmap memory (cmem.Alloc),
// passed without pins. A handle completes with the first CQE of its
// request: a multishot poll reports that one (IORING_CQE_F_MORE in Flags)
// and its later CQEs are dropped; Cancel(handle) still finds it and stops
// it (Queue.AcceptMultishot, Queue.PollMultishot and Queue.RecvMultishot
// deliver every CQE, as a Multishot). Multishot accept and recv/recvmsg
// are refused (EINVAL): their later CQEs carry new descriptors or received
// data that would be lost, and the kernel goes on writing memory the first
// CQE unpinned; so is
// IORING_OP_READ_MULTISHOT (Linux 6.7, after liburing 2.3), and a poll
// update with IORING_POLL_UPDATE_USER_DATA (the poll's CQE would then carry
// user data of the caller's choosing).
//
// Every value in pins stays pinned until the CQE: pointers and
// unsafe.Pointer values as runtime.Pinner.Pin takes them (pointers to C or
// mmap memory are left alone), a []byte by its backing array, a [][]byte by
// each buffer's, and a []unix.Iovec by its array and every Base. Everything
// the SQE points to in Go memory must be among them. Any other kind of
// value is refused with an error matching unix.EINVAL; nil is ignored. An
// opcode the kernel's probe lacks is refused with an *UnsupportedOpError,
// as for the named methods. IORING_OP_MSG_RING to the queue's own ring (or
// through a registered file, which may be it) is refused with EINVAL: the
// CQE it posts would complete whichever handle has the user data it
// carries (a dup of that descriptor too: compared with kcmp). Do not aim it
// at another Queue's ring either, for the same reason.
func (q *Queue) Prep(prep func(s *SQE), pins ...any) (*completion.Handle, error) {
	return q.run(userOp(q, prep, pins))
}

// Prep adds the SQE that prep fills as a chain member, pinning pins until
// its completion. The rules are those of Queue.Prep; the link flag is set
// by the chain (every member but the last gets IOSQE_IO_LINK, or
// IOSQE_IO_HARDLINK in Queue.HardLink), whatever prep sets.
func (l *Link) Prep(prep func(s *SQE), pins ...any) *completion.Handle {
	return l.run(userOp(l.q, prep, pins))
}

// prepFlagsCleared are the IOSQE_* flags the queue manages itself.
const prepFlagsCleared = SQEIOLink | SQEIOHardlink

// userOp checks pins, runs the caller's prep on an SQE of its own and
// returns the pin and prep functions of Queue.Prep and Link.Prep.
func userOp(q *Queue, prep func(s *SQE), pins []any) (func(op *completion.Op), func(s *SQE), error) {
	if prep == nil {
		return nil, nil, fmt.Errorf("uring: Prep with a nil prep function: %w", unix.EINVAL)
	}
	for _, v := range pins {
		if !pinnable(v) {
			return nil, nil, fmt.Errorf("uring: Prep cannot pin a %T: %w", v, unix.EINVAL)
		}
	}
	sqe := new(SQE)
	prep(sqe)
	sqe.Flags &^= prepFlagsCleared
	switch {
	case sqe.Flags&SQECQESkipSuccess != 0:
		return nil, nil, fmt.Errorf("uring: Prep with IOSQE_CQE_SKIP_SUCCESS: the handle would never complete: %w", unix.EINVAL)
	case sqe.Opcode == OpSendZC || sqe.Opcode == OpSendmsgZC:
		return nil, nil, fmt.Errorf("uring: Prep of %s: its buffer is in use until a second CQE: %w", OpName(sqe.Opcode), unix.EINVAL)
	case sqe.Opcode == OpAccept && sqe.Ioprio&AcceptMultishot != 0,
		(sqe.Opcode == OpRecv || sqe.Opcode == OpRecvmsg) && sqe.Ioprio&RecvMultishot != 0:
		// The handle completes with the first CQE; the later ones, each
		// with a new descriptor or a provided buffer full of data, would
		// be dropped (and the kernel keeps writing the address and msghdr
		// the first CQE unpinned).
		return nil, nil, fmt.Errorf("uring: Prep of multishot %s: its later CQEs (descriptors, received data) would be lost: %w", OpName(sqe.Opcode), unix.EINVAL)
	case sqe.Opcode == opReadMultishot:
		return nil, nil, fmt.Errorf("uring: Prep of IORING_OP_READ_MULTISHOT: its later CQEs (data read into provided buffers) would be lost: %w", unix.EINVAL)
	case sqe.Opcode == OpPollRemove && sqe.Len&PollUpdateUserData != 0:
		// The updated poll's CQE carries the caller's user data, as a
		// MSG_RING's does: the poll's own handle would never complete.
		return nil, nil, fmt.Errorf("uring: Prep of a poll update with IORING_POLL_UPDATE_USER_DATA: the poll's handle would never complete: %w", unix.EINVAL)
	case sqe.Opcode == OpProvideBuffers && hasPins(pins):
		// The kernel keeps the buffers and fills them on later receives,
		// long after this CQE unpins them.
		return nil, nil, fmt.Errorf("uring: Prep of IORING_OP_PROVIDE_BUFFERS with Go memory: the kernel uses the buffers after the CQE; provide C or mmap memory (cmem), unpinned: %w", unix.EINVAL)
	case sqe.Opcode == OpMsgRing && (sqe.Flags&SQEFixedFile != 0 || q.isOwnRing(int(sqe.Fd))):
		// The CQE it posts carries user data of the caller's choosing: in
		// this queue's own ring it would complete (and unpin) whichever
		// handle has that user data.
		return nil, nil, fmt.Errorf("uring: Prep of IORING_OP_MSG_RING to this queue's own ring (or a registered file that may be it): %w", unix.EINVAL)
	}
	pin := func(op *completion.Op) {
		for _, v := range pins {
			pinValue(op, v)
		}
	}
	return pin, func(s *SQE) { *s = *sqe }, nil
}

// hasPins reports whether pins holds anything but nils.
func hasPins(pins []any) bool {
	for _, v := range pins {
		if v != nil {
			return true
		}
	}
	return false
}

// pinnable reports whether pinValue accepts v.
func pinnable(v any) bool {
	switch v.(type) {
	case nil, []byte, [][]byte, []unix.Iovec, unsafe.Pointer:
		return true
	}
	return reflect.TypeOf(v).Kind() == reflect.Pointer
}

// pinValue pins v, one of the kinds pinnable accepts, until op's completion.
func pinValue(op *completion.Op, v any) {
	switch v := v.(type) {
	case nil:
	case []byte:
		op.PinBytes(v)
	case [][]byte:
		for _, b := range v {
			op.PinBytes(b)
		}
	case []unix.Iovec:
		if len(v) > 0 {
			op.Pin(&v[0])
		}
		for i := range v {
			if v[i].Base != nil {
				op.Pin(v[i].Base)
			}
		}
	default:
		op.Pin(v)
	}
}

// isOwnRing reports whether fd refers to the queue's own ring: its number,
// or another descriptor of the same open file (a dup, one received over
// SCM_RIGHTS), compared with kcmp(2) KCMP_FILE. Where kcmp is unavailable
// (ENOSYS without CONFIG_KCMP, EPERM), any io_uring descriptor may be it and
// counts as such (a number that is not open does not: the kernel's EBADF
// reaches the handle, as with kcmp).
func (q *Queue) isOwnRing(fd int) bool {
	if fd == q.ringFd {
		return true
	}
	const kcmpFile = 0 // KCMP_FILE
	pid := uintptr(unix.Getpid())
	r, _, e := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(fd), uintptr(q.ringFd), 0)
	switch e {
	case 0:
		return r == 0
	case unix.EBADF:
		return false // not a descriptor: the kernel answers EBADF
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
		return false // not open: no ring either (the kernel answers EBADF)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err != nil || link == "anon_inode:[io_uring]"
}
