package libaio

/*
#include <libaio.h>
// linux/aio_abi.h redefines struct iocb, so its two flags are spelled here; the test
// compares them with the kernel header's (aiokit_abi.c).
#define AIOKIT_IOCB_FLAG_RESFD  (1 << 0)
#define AIOKIT_IOCB_FLAG_IOPRIO (1 << 1)
*/
import "C"

import (
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// Opcodes of struct iocb's aio_lio_opcode (enum io_iocb_cmd in libaio.h).
const (
	CmdPread   = C.IO_CMD_PREAD   // IO_CMD_PREAD: pread(2) into u.c.buf
	CmdPwrite  = C.IO_CMD_PWRITE  // IO_CMD_PWRITE: pwrite(2) from u.c.buf
	CmdFsync   = C.IO_CMD_FSYNC   // IO_CMD_FSYNC: fsync(2)
	CmdFdsync  = C.IO_CMD_FDSYNC  // IO_CMD_FDSYNC: fdatasync(2)
	CmdPoll    = C.IO_CMD_POLL    // IO_CMD_POLL: one-shot poll(2) on u.poll.events
	CmdNoop    = C.IO_CMD_NOOP    // IO_CMD_NOOP: rejected by the kernel with EINVAL
	CmdPreadv  = C.IO_CMD_PREADV  // IO_CMD_PREADV: preadv(2) over u.v.vec
	CmdPwritev = C.IO_CMD_PWRITEV // IO_CMD_PWRITEV: pwritev(2) over u.v.vec
)

// Flags of struct iocb's u.c.flags (linux/aio_abi.h; libaio.h spells only RESFD, inline).
const (
	// FlagResFD is IOCB_FLAG_RESFD: the kernel adds 1 to the eventfd in ResFD at completion.
	FlagResFD = C.AIOKIT_IOCB_FLAG_RESFD
	// FlagIOPrio is IOCB_FLAG_IOPRIO: ReqPrio holds an ioprio value (ioprio_set(2) encoding).
	FlagIOPrio = C.AIOKIT_IOCB_FLAG_IOPRIO
)

// RWF_* flags for the aio_rw_flags field (PrepPreadv2/PrepPwritev2, io_prep_preadv2's flags).
// The kernel applies them to every opcode that reads or writes.
const (
	RWFHipri    = unix.RWF_HIPRI    // RWF_HIPRI: polled I/O (ignored by aio, which cannot poll)
	RWFDsync    = unix.RWF_DSYNC    // RWF_DSYNC: per-write O_DSYNC
	RWFSync     = unix.RWF_SYNC     // RWF_SYNC: per-write O_SYNC
	RWFNowait   = unix.RWF_NOWAIT   // RWF_NOWAIT: fail with EAGAIN instead of blocking
	RWFAppend   = unix.RWF_APPEND   // RWF_APPEND: per-write O_APPEND
	RWFNoappend = unix.RWF_NOAPPEND // RWF_NOAPPEND: ignore O_APPEND for this write (Linux 6.9)
	RWFAtomic   = unix.RWF_ATOMIC   // RWF_ATOMIC: untorn write (Linux 6.11, needs device support)
)

// Iocb is libaio's struct iocb, byte for byte (the kernel's struct iocb of
// linux/aio_abi.h) on 64-bit little-endian targets: TestIocbLayout checks every field
// against the C compiler's offsetof/sizeof. The union u is flattened into its u.c view; u.v (vectored ops)
// reuses Buf/Nbytes/Offset as vec/nr/offset and u.poll.events is the low 32 bits of Buf.
//
// Lifetime, as in C: an Iocb passed to Context.Submit must stay valid until its event is
// reaped (the kernel returns its address in Event.Obj and io_cancel reads its Key), and
// the memory Buf points at (buffer or iovec array, and the iovecs' buffers) must stay
// valid and must not move until then: use C memory (one cmem.Alloc block for all the iocbs,
// cmem.NewIovecs) or keep the Go memory pinned with runtime.Pinner.
type Iocb struct {
	Data    uint64 // data: returned untouched in Event.Data (io_set_callback stores a function here)
	Key     uint32 // key: written by the kernel at submission, checked by io_cancel
	RWFlags uint32 // aio_rw_flags: RWF_* flags
	Opcode  int16  // aio_lio_opcode: Cmd*
	ReqPrio int16  // aio_reqprio: ioprio value, used when Flags has FlagIOPrio
	Fildes  int32  // aio_fildes: the file descriptor
	Buf     uint64 // u.c.buf (u.v.vec for vectored ops; u.poll.events in the low 32 bits)
	Nbytes  uint64 // u.c.nbytes (u.v.nr: iovec count for vectored ops)
	Offset  int64  // u.c.offset (u.v.offset)
	Pad3    int64  // u.c.__pad3: must be 0 (the kernel rejects other values with EINVAL)
	Flags   uint32 // u.c.flags: IOCB_FLAG_* (FlagResFD, FlagIOPrio)
	ResFD   uint32 // u.c.resfd: eventfd signalled when FlagResFD is set
}

// SizeofIocb is sizeof(struct iocb).
const SizeofIocb = int(unsafe.Sizeof(Iocb{}))

func bufAddr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

func iovAddr(v []unix.Iovec) uint64 {
	if len(v) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&v[0])))
}

// prep clears cb and sets its opcode and descriptor. The Prep* methods take fd as an
// int like the C helpers; one C's int cannot hold is stored as -1 (fileio.FD32), so
// io_submit answers EBADF.
func (cb *Iocb) prep(fd int, op int16) {
	cb.dropCallback()
	*cb = Iocb{Fildes: fileio.FD32(fd), Opcode: op}
}

// PrepPread is io_prep_pread: clear cb and describe a pread of len(buf) bytes of fd at
// offset into buf. buf must stay valid and unmoved until the event is reaped (see Iocb).
func (cb *Iocb) PrepPread(fd int, buf []byte, offset int64) {
	cb.prep(fd, CmdPread)
	cb.Buf, cb.Nbytes, cb.Offset = bufAddr(buf), uint64(len(buf)), offset
}

// PrepPwrite is io_prep_pwrite: clear cb and describe a pwrite of buf to fd at offset.
func (cb *Iocb) PrepPwrite(fd int, buf []byte, offset int64) {
	cb.prep(fd, CmdPwrite)
	cb.Buf, cb.Nbytes, cb.Offset = bufAddr(buf), uint64(len(buf)), offset
}

// PrepPreadv is io_prep_preadv: clear cb and describe a preadv of fd at offset into the
// buffers of iov. The iovec array itself must stay valid and unmoved until the event is
// reaped, like the buffers it names (C memory from cmem.NewIovecs, or pinned).
func (cb *Iocb) PrepPreadv(fd int, iov []unix.Iovec, offset int64) {
	cb.prep(fd, CmdPreadv)
	cb.Buf, cb.Nbytes, cb.Offset = iovAddr(iov), uint64(len(iov)), offset
}

// PrepPwritev is io_prep_pwritev: clear cb and describe a pwritev of iov to fd at offset.
func (cb *Iocb) PrepPwritev(fd int, iov []unix.Iovec, offset int64) {
	cb.prep(fd, CmdPwritev)
	cb.Buf, cb.Nbytes, cb.Offset = iovAddr(iov), uint64(len(iov)), offset
}

// PrepPreadv2 is io_prep_preadv2: PrepPreadv plus RWF_* flags in aio_rw_flags. Flags
// the kernel does not know make io_submit fail with EOPNOTSUPP; flags beyond C's int
// are stored as -1 (every bit set), which it refuses the same way, not as their low
// 32 bits (1<<32 would be no flag at all).
func (cb *Iocb) PrepPreadv2(fd int, iov []unix.Iovec, offset int64, flags int) {
	cb.PrepPreadv(fd, iov, offset)
	cb.RWFlags = rwFlags(flags)
}

// PrepPwritev2 is io_prep_pwritev2: PrepPwritev plus RWF_* flags in aio_rw_flags (see
// PrepPreadv2).
func (cb *Iocb) PrepPwritev2(fd int, iov []unix.Iovec, offset int64, flags int) {
	cb.PrepPwritev(fd, iov, offset)
	cb.RWFlags = rwFlags(flags)
}

// rwFlags is flags as C's int in aio_rw_flags, or -1 (all bits: EOPNOTSUPP) when C's
// int cannot hold it.
func rwFlags(flags int) uint32 {
	if flags != int(int32(flags)) {
		return ^uint32(0)
	}
	return uint32(flags)
}

// PrepPoll is io_prep_poll: clear cb and describe a one-shot poll of fd for events
// (POLLIN, POLLOUT ...). The event's Res is the ready mask, or -errno.
func (cb *Iocb) PrepPoll(fd int, events int16) {
	cb.prep(fd, CmdPoll)
	cb.Buf = uint64(uint16(events)) // as C's int promotion of the 16-bit mask: bit 15 is not a sign
}

// PollEvents returns u.poll.events.
func (cb *Iocb) PollEvents() int16 { return int16(int32(uint32(cb.Buf))) }

// PrepFsync is io_prep_fsync: clear cb and describe an fsync of fd.
func (cb *Iocb) PrepFsync(fd int) { cb.prep(fd, CmdFsync) }

// PrepFdsync is io_prep_fdsync: clear cb and describe an fdatasync of fd.
func (cb *Iocb) PrepFdsync(fd int) { cb.prep(fd, CmdFdsync) }

// SetEventfd is io_set_eventfd: set IOCB_FLAG_RESFD so the kernel adds 1 to the eventfd
// efd when this request completes. An efd C's int cannot hold is stored as -1 (EBADF
// from io_submit), like the descriptor of the Prep* methods.
func (cb *Iocb) SetEventfd(efd int) {
	cb.Flags |= FlagResFD
	cb.ResFD = uint32(fileio.FD32(efd))
}

// SetIOPrio sets the request priority: aio_reqprio = prio with IOCB_FLAG_IOPRIO (there is
// no libaio.h helper; the kernel honours it since Linux 5.0). prio uses the ioprio_set(2)
// encoding, e.g. IOPrioValue(IOPrioClassBE, 4); an invalid value fails io_submit with EINVAL.
func (cb *Iocb) SetIOPrio(prio int16) {
	cb.Flags |= FlagIOPrio
	cb.ReqPrio = prio
}

// I/O priority classes for IOPrioValue (linux/ioprio.h).
const (
	IOPrioClassNone = 0 // IOPRIO_CLASS_NONE
	IOPrioClassRT   = 1 // IOPRIO_CLASS_RT: needs CAP_SYS_ADMIN or CAP_SYS_NICE
	IOPrioClassBE   = 2 // IOPRIO_CLASS_BE
	IOPrioClassIdle = 3 // IOPRIO_CLASS_IDLE
)

// IOPrioValue is IOPRIO_PRIO_VALUE(class, data) of linux/ioprio.h.
func IOPrioValue(class, data int) int16 { return int16(class<<13 | data&0x1fff) }
