package uring

import (
	"time"
	"unsafe"
)

// SQE is struct io_uring_sqe, a submission queue entry, with its exact 64-byte
// layout. The C unions are represented by their first member; the comment on
// each field names the other members that share its bytes. SQEs returned by
// [Ring.GetSQE] live in the kernel-shared SQ array: fill them with the Prep*
// methods (the io_uring_prep_* helpers) and submit them with [Ring.Submit].
type SQE struct {
	Opcode uint8  // opcode (IORING_OP_*)
	Flags  uint8  // flags (IOSQE_*)
	Ioprio uint16 // ioprio; also send/recv/accept flags (IORING_RECVSEND_*, ...)
	Fd     int32  // fd
	Off    uint64 // off / addr2 / cmd_op+__pad1
	Addr   uint64 // addr / splice_off_in
	Len    uint32 // len
	// OpFlags is the per-opcode flag union: rw_flags, fsync_flags,
	// poll32_events, sync_range_flags, msg_flags, timeout_flags, accept_flags,
	// cancel_flags, open_flags, statx_flags, fadvise_advice, splice_flags,
	// rename_flags, unlink_flags, hardlink_flags, xattr_flags, msg_ring_flags,
	// uring_cmd_flags.
	OpFlags     uint32
	Data        uint64 // user_data (see SetUserData / UserData)
	BufIndex    uint16 // buf_index / buf_group
	Personality uint16 // personality
	SpliceFdIn  int32  // splice_fd_in / file_index / addr_len+__pad3
	Addr3       uint64 // addr3 (cmd[0..8] on SQE128 rings)
	Pad2        uint64 // __pad2[0]
}

// CQE is struct io_uring_cqe, a completion queue entry (16 bytes; on rings set
// up with [SetupCQE32] each entry is followed by 16 more bytes, see [CQE.Big]).
type CQE struct {
	UserData uint64 // user_data of the SQE
	Res      int32  // result: >= 0 on success, -errno on failure
	Flags    uint32 // IORING_CQE_F_*
}

// Data64 returns the CQE's user data (io_uring_cqe_get_data64).
func (c *CQE) Data64() uint64 { return c.UserData }

// Err returns nil when Res >= 0 and unix.Errno(-Res) otherwise.
func (c *CQE) Err() error { return resErr(c.Res) }

// BufferID returns the provided-buffer ID of a CQE with [CQEFBuffer] set
// (cqe->flags >> IORING_CQE_BUFFER_SHIFT) and whether the flag was set.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> CQEBufferShift), c.Flags&CQEFBuffer != 0
}

// Big returns the 16 extra bytes (big_cqe[]) that follow each CQE on a ring
// set up with [SetupCQE32]. Calling it on a CQE of any other ring reads past
// the entry: only use it with CQE32 rings.
func (c *CQE) Big() *[2]uint64 {
	return (*[2]uint64)(unsafe.Add(unsafe.Pointer(c), unsafe.Sizeof(CQE{})))
}

// SQRingOffsets is struct io_sqring_offsets (filled by io_uring_setup(2)).
type SQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	Resv2                                                           uint64
}

// CQRingOffsets is struct io_cqring_offsets (filled by io_uring_setup(2)).
type CQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	Resv2                                                           uint64
}

// Params is struct io_uring_params with its exact layout: the inputs of
// io_uring_setup(2) (SQEntries/CQEntries with SetupCQSize, Flags,
// SQThreadCPU, SQThreadIdle, WQFd) and its outputs (entries, Features, the
// ring offsets).
type Params struct {
	SQEntries    uint32
	CQEntries    uint32
	Flags        uint32 // IORING_SETUP_*
	SQThreadCPU  uint32
	SQThreadIdle uint32 // milliseconds
	Features     uint32 // IORING_FEAT_* (output)
	WQFd         uint32 // with SetupAttachWQ
	Resv         [3]uint32
	SQOff        SQRingOffsets
	CQOff        CQRingOffsets
}

// KernelTimespec is struct __kernel_timespec, the time format of io_uring
// timeouts (64-bit seconds and nanoseconds on every architecture).
type KernelTimespec struct {
	Sec  int64
	Nsec int64
}

// DurationToTimespec converts d to a KernelTimespec (negative d gives 0).
func DurationToTimespec(d time.Duration) KernelTimespec {
	if d < 0 {
		d = 0
	}
	return KernelTimespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
}

// Duration converts ts to a time.Duration (saturating at the maximum).
func (ts KernelTimespec) Duration() time.Duration {
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if ts.Sec >= maxSec {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
}

// ProbeOp is struct io_uring_probe_op.
type ProbeOp struct {
	Op    uint8
	Resv  uint8
	Flags uint16 // IO_URING_OP_SUPPORTED
	Resv2 uint32
}

// probeHdr is the fixed head of struct io_uring_probe (ops[] follows).
type probeHdr struct {
	LastOp uint8
	OpsLen uint8
	Resv   uint16
	Resv2  [3]uint32
}

// Restriction is struct io_uring_restriction, for [Ring.RegisterRestrictions].
// Arg is the union of register_op, sqe_op and sqe_flags.
type Restriction struct {
	Opcode uint16 // IORING_RESTRICTION_*
	Arg    uint8  // register_op / sqe_op / sqe_flags
	Resv   uint8
	Resv2  [3]uint32
}

// BufRingEntry is struct io_uring_buf, one slot of a provided-buffer ring.
type BufRingEntry struct {
	Addr uint64
	Len  uint32
	Bid  uint16
	Resv uint16
}

// BufReg is struct io_uring_buf_reg, the argument of [Ring.RegisterBufRing].
type BufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Pad         uint16
	Resv        [3]uint64
}

// SyncCancelReg is struct io_uring_sync_cancel_reg, the argument of
// [Ring.RegisterSyncCancel].
type SyncCancelReg struct {
	Addr    uint64 // user_data to match (unless AsyncCancelFD/Any)
	Fd      int32
	Flags   uint32 // IORING_ASYNC_CANCEL_*
	Timeout KernelTimespec
	Pad     [4]uint64
}

// FileIndexRange is struct io_uring_file_index_range.
type FileIndexRange struct {
	Off  uint32
	Len  uint32
	Resv uint64
}

// RecvmsgOut is struct io_uring_recvmsg_out, the header a multishot recvmsg
// writes at the start of each provided buffer.
type RecvmsgOut struct {
	Namelen    uint32
	Controllen uint32
	Payloadlen uint32
	Flags      uint32
}

// RsrcRegister is struct io_uring_rsrc_register.
type RsrcRegister struct {
	Nr    uint32
	Flags uint32
	Resv2 uint64
	Data  uint64
	Tags  uint64
}

// RsrcUpdate is struct io_uring_rsrc_update.
type RsrcUpdate struct {
	Offset uint32
	Resv   uint32
	Data   uint64
}

// RsrcUpdate2 is struct io_uring_rsrc_update2.
type RsrcUpdate2 struct {
	Offset uint32
	Resv   uint32
	Data   uint64
	Tags   uint64
	Nr     uint32
	Resv2  uint32
}

// GeteventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type GeteventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	Pad       uint32
	Ts        uint64
}
