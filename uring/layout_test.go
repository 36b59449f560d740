package uring

import (
	"testing"
	"unsafe"

	"github.com/aiokit/aio/uring/internal/cprep"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestLayoutsMatchC compares sizeof/offsetof of every kernel/liburing struct
// that package uring mirrors with the C compiler's values.
func TestLayoutsMatchC(t *testing.T) {
	var (
		sqe SQE
		cqe CQE
		p   Params
		so  SQRingOffsets
		co  CQRingOffsets
		ph  probeHdr
		po  ProbeOp
		rs  Restriction
		be  BufRingEntry
		br  BufRing
		reg BufReg
		sc  SyncCancelReg
		fr  FileIndexRange
		ro  RecvmsgOut
		rr  RsrcRegister
		ru  RsrcUpdate
		ru2 RsrcUpdate2
		ga  GeteventsArg
		ts  KernelTimespec
	)
	goVals := map[string]uintptr{
		"io_uring_sqe": unsafe.Sizeof(sqe), "io_uring_sqe.opcode": unsafe.Offsetof(sqe.Opcode),
		"io_uring_sqe.flags": unsafe.Offsetof(sqe.Flags), "io_uring_sqe.ioprio": unsafe.Offsetof(sqe.Ioprio),
		"io_uring_sqe.fd": unsafe.Offsetof(sqe.Fd), "io_uring_sqe.off": unsafe.Offsetof(sqe.Off),
		"io_uring_sqe.addr2": unsafe.Offsetof(sqe.Off), "io_uring_sqe.addr": unsafe.Offsetof(sqe.Addr),
		"io_uring_sqe.splice_off_in": unsafe.Offsetof(sqe.Addr), "io_uring_sqe.len": unsafe.Offsetof(sqe.Len),
		"io_uring_sqe.rw_flags": unsafe.Offsetof(sqe.OpFlags), "io_uring_sqe.poll32_events": unsafe.Offsetof(sqe.OpFlags),
		"io_uring_sqe.msg_flags": unsafe.Offsetof(sqe.OpFlags), "io_uring_sqe.user_data": unsafe.Offsetof(sqe.Data),
		"io_uring_sqe.buf_index": unsafe.Offsetof(sqe.BufIndex), "io_uring_sqe.buf_group": unsafe.Offsetof(sqe.BufIndex),
		"io_uring_sqe.personality": unsafe.Offsetof(sqe.Personality), "io_uring_sqe.splice_fd_in": unsafe.Offsetof(sqe.SpliceFdIn),
		"io_uring_sqe.file_index": unsafe.Offsetof(sqe.SpliceFdIn), "io_uring_sqe.addr_len": unsafe.Offsetof(sqe.SpliceFdIn),
		"io_uring_sqe.addr3": unsafe.Offsetof(sqe.Addr3), "io_uring_sqe.__pad2": unsafe.Offsetof(sqe.Pad2),
		"io_uring_sqe.cmd": unsafe.Offsetof(sqe.Addr3),

		"io_uring_cqe": unsafe.Sizeof(cqe), "io_uring_cqe.user_data": unsafe.Offsetof(cqe.UserData),
		"io_uring_cqe.res": unsafe.Offsetof(cqe.Res), "io_uring_cqe.flags": unsafe.Offsetof(cqe.Flags),
		"io_uring_cqe.big_cqe": unsafe.Sizeof(cqe),

		"io_uring_params": unsafe.Sizeof(p), "io_uring_params.sq_entries": unsafe.Offsetof(p.SQEntries),
		"io_uring_params.cq_entries": unsafe.Offsetof(p.CQEntries), "io_uring_params.flags": unsafe.Offsetof(p.Flags),
		"io_uring_params.sq_thread_cpu": unsafe.Offsetof(p.SQThreadCPU), "io_uring_params.sq_thread_idle": unsafe.Offsetof(p.SQThreadIdle),
		"io_uring_params.features": unsafe.Offsetof(p.Features), "io_uring_params.wq_fd": unsafe.Offsetof(p.WQFd),
		"io_uring_params.resv": unsafe.Offsetof(p.Resv), "io_uring_params.sq_off": unsafe.Offsetof(p.SQOff),
		"io_uring_params.cq_off": unsafe.Offsetof(p.CQOff),

		"io_sqring_offsets": unsafe.Sizeof(so), "io_sqring_offsets.head": unsafe.Offsetof(so.Head),
		"io_sqring_offsets.tail": unsafe.Offsetof(so.Tail), "io_sqring_offsets.ring_mask": unsafe.Offsetof(so.RingMask),
		"io_sqring_offsets.ring_entries": unsafe.Offsetof(so.RingEntries), "io_sqring_offsets.flags": unsafe.Offsetof(so.Flags),
		"io_sqring_offsets.dropped": unsafe.Offsetof(so.Dropped), "io_sqring_offsets.array": unsafe.Offsetof(so.Array),
		"io_sqring_offsets.resv1": unsafe.Offsetof(so.Resv1), "io_sqring_offsets.resv2": unsafe.Offsetof(so.Resv2),
		"io_cqring_offsets": unsafe.Sizeof(co), "io_cqring_offsets.head": unsafe.Offsetof(co.Head),
		"io_cqring_offsets.tail": unsafe.Offsetof(co.Tail), "io_cqring_offsets.ring_mask": unsafe.Offsetof(co.RingMask),
		"io_cqring_offsets.ring_entries": unsafe.Offsetof(co.RingEntries), "io_cqring_offsets.overflow": unsafe.Offsetof(co.Overflow),
		"io_cqring_offsets.cqes": unsafe.Offsetof(co.Cqes), "io_cqring_offsets.flags": unsafe.Offsetof(co.Flags),
		"io_cqring_offsets.resv1": unsafe.Offsetof(co.Resv1), "io_cqring_offsets.resv2": unsafe.Offsetof(co.Resv2),

		"io_uring_probe": unsafe.Sizeof(ph), "io_uring_probe.last_op": unsafe.Offsetof(ph.LastOp),
		"io_uring_probe.ops_len": unsafe.Offsetof(ph.OpsLen), "io_uring_probe.ops": unsafe.Sizeof(ph),
		"io_uring_probe_op": unsafe.Sizeof(po), "io_uring_probe_op.op": unsafe.Offsetof(po.Op),
		"io_uring_probe_op.flags": unsafe.Offsetof(po.Flags),

		"io_uring_restriction": unsafe.Sizeof(rs), "io_uring_restriction.opcode": unsafe.Offsetof(rs.Opcode),
		"io_uring_restriction.register_op": unsafe.Offsetof(rs.Arg), "io_uring_restriction.sqe_op": unsafe.Offsetof(rs.Arg),
		"io_uring_restriction.sqe_flags": unsafe.Offsetof(rs.Arg), "io_uring_restriction.resv": unsafe.Offsetof(rs.Resv),

		"io_uring_buf": unsafe.Sizeof(be), "io_uring_buf.addr": unsafe.Offsetof(be.Addr),
		"io_uring_buf.len": unsafe.Offsetof(be.Len), "io_uring_buf.bid": unsafe.Offsetof(be.Bid),
		"io_uring_buf.resv": unsafe.Offsetof(be.Resv),
		"io_uring_buf_ring": unsafe.Sizeof(br), "io_uring_buf_ring.tail": unsafe.Offsetof(br.Tail),
		"io_uring_buf_ring.bufs": 0,
		"io_uring_buf_reg":       unsafe.Sizeof(reg), "io_uring_buf_reg.ring_addr": unsafe.Offsetof(reg.RingAddr),
		"io_uring_buf_reg.ring_entries": unsafe.Offsetof(reg.RingEntries), "io_uring_buf_reg.bgid": unsafe.Offsetof(reg.Bgid),
		"io_uring_buf_reg.resv": unsafe.Offsetof(reg.Resv),

		"io_uring_sync_cancel_reg": unsafe.Sizeof(sc), "io_uring_sync_cancel_reg.addr": unsafe.Offsetof(sc.Addr),
		"io_uring_sync_cancel_reg.fd": unsafe.Offsetof(sc.Fd), "io_uring_sync_cancel_reg.flags": unsafe.Offsetof(sc.Flags),
		"io_uring_sync_cancel_reg.timeout": unsafe.Offsetof(sc.Timeout), "io_uring_sync_cancel_reg.pad": unsafe.Offsetof(sc.Pad),
		"io_uring_file_index_range": unsafe.Sizeof(fr), "io_uring_file_index_range.off": unsafe.Offsetof(fr.Off),
		"io_uring_file_index_range.len": unsafe.Offsetof(fr.Len), "io_uring_file_index_range.resv": unsafe.Offsetof(fr.Resv),
		"io_uring_recvmsg_out": unsafe.Sizeof(ro), "io_uring_recvmsg_out.namelen": unsafe.Offsetof(ro.Namelen),
		"io_uring_recvmsg_out.controllen": unsafe.Offsetof(ro.Controllen), "io_uring_recvmsg_out.payloadlen": unsafe.Offsetof(ro.Payloadlen),
		"io_uring_recvmsg_out.flags": unsafe.Offsetof(ro.Flags),
		"io_uring_rsrc_register":     unsafe.Sizeof(rr), "io_uring_rsrc_register.nr": unsafe.Offsetof(rr.Nr),
		"io_uring_rsrc_register.flags": unsafe.Offsetof(rr.Flags), "io_uring_rsrc_register.resv2": unsafe.Offsetof(rr.Resv2),
		"io_uring_rsrc_register.data": unsafe.Offsetof(rr.Data), "io_uring_rsrc_register.tags": unsafe.Offsetof(rr.Tags),
		"io_uring_rsrc_update": unsafe.Sizeof(ru), "io_uring_rsrc_update.offset": unsafe.Offsetof(ru.Offset),
		"io_uring_rsrc_update.data": unsafe.Offsetof(ru.Data),
		"io_uring_rsrc_update2":     unsafe.Sizeof(ru2), "io_uring_rsrc_update2.offset": unsafe.Offsetof(ru2.Offset),
		"io_uring_rsrc_update2.data": unsafe.Offsetof(ru2.Data), "io_uring_rsrc_update2.tags": unsafe.Offsetof(ru2.Tags),
		"io_uring_rsrc_update2.nr": unsafe.Offsetof(ru2.Nr), "io_uring_rsrc_update2.resv2": unsafe.Offsetof(ru2.Resv2),
		"io_uring_getevents_arg": unsafe.Sizeof(ga), "io_uring_getevents_arg.sigmask": unsafe.Offsetof(ga.Sigmask),
		"io_uring_getevents_arg.sigmask_sz": unsafe.Offsetof(ga.SigmaskSz), "io_uring_getevents_arg.pad": unsafe.Offsetof(ga.Pad),
		"io_uring_getevents_arg.ts": unsafe.Offsetof(ga.Ts),
		"__kernel_timespec":         unsafe.Sizeof(ts), "__kernel_timespec.tv_sec": unsafe.Offsetof(ts.Sec),
		"__kernel_timespec.tv_nsec": unsafe.Offsetof(ts.Nsec),

		// x/sys/unix types the Prep* methods hand to the kernel.
		"open_how": unsafe.Sizeof(unix.OpenHow{}), "epoll_event": unsafe.Sizeof(unix.EpollEvent{}),
		"statx": unsafe.Sizeof(unix.Statx_t{}), "msghdr": unsafe.Sizeof(unix.Msghdr{}),
		"cmsghdr": unsafe.Sizeof(unix.Cmsghdr{}), "iovec": unsafe.Sizeof(unix.Iovec{}),
		"cpu_set_t": unsafe.Sizeof(unix.CPUSet{}),
	}
	cVals := cprep.Layouts()
	if len(cVals) < 50 {
		t.Fatalf("only %d C layout values", len(cVals))
	}
	if diff := cmp.Diff(cVals, goVals); diff != "" {
		t.Errorf("layouts differ (-C +Go):\n%s", diff)
	}
}
