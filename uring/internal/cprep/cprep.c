// C side of package cprep: every io_uring_prep_* inline helper of liburing.h
// called with arguments taken from a uint64_t array, plus sizeof/offsetof
// of the structs package uring mirrors. Used only by uring's tests.
#include <liburing.h>
#include <stddef.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <linux/stat.h>
#include "cprep.h"

#define P(x) ((void *)(uintptr_t)(x))

int cprep_call(const char *name, struct io_uring_sqe *s, const uint64_t *a)
{
#define IS(n) (strcmp(name, n) == 0)
	if (IS("rw")) io_uring_prep_rw((int)a[0], s, (int)a[1], P(a[2]), (unsigned)a[3], a[4]);
	else if (IS("splice")) io_uring_prep_splice(s, (int)a[0], (int64_t)a[1], (int)a[2], (int64_t)a[3], (unsigned)a[4], (unsigned)a[5]);
	else if (IS("tee")) io_uring_prep_tee(s, (int)a[0], (int)a[1], (unsigned)a[2], (unsigned)a[3]);
	else if (IS("readv")) io_uring_prep_readv(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3]);
	else if (IS("readv2")) io_uring_prep_readv2(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3], (int)a[4]);
	else if (IS("read_fixed")) io_uring_prep_read_fixed(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3], (int)a[4]);
	else if (IS("writev")) io_uring_prep_writev(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3]);
	else if (IS("writev2")) io_uring_prep_writev2(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3], (int)a[4]);
	else if (IS("write_fixed")) io_uring_prep_write_fixed(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3], (int)a[4]);
	else if (IS("recvmsg")) io_uring_prep_recvmsg(s, (int)a[0], P(a[1]), (unsigned)a[2]);
	else if (IS("recvmsg_multishot")) io_uring_prep_recvmsg_multishot(s, (int)a[0], P(a[1]), (unsigned)a[2]);
	else if (IS("sendmsg")) io_uring_prep_sendmsg(s, (int)a[0], P(a[1]), (unsigned)a[2]);
	else if (IS("poll_add")) io_uring_prep_poll_add(s, (int)a[0], (unsigned)a[1]);
	else if (IS("poll_multishot")) io_uring_prep_poll_multishot(s, (int)a[0], (unsigned)a[1]);
	else if (IS("poll_remove")) io_uring_prep_poll_remove(s, a[0]);
	else if (IS("poll_update")) io_uring_prep_poll_update(s, a[0], a[1], (unsigned)a[2], (unsigned)a[3]);
	else if (IS("fsync")) io_uring_prep_fsync(s, (int)a[0], (unsigned)a[1]);
	else if (IS("nop")) io_uring_prep_nop(s);
	else if (IS("timeout")) io_uring_prep_timeout(s, P(a[0]), (unsigned)a[1], (unsigned)a[2]);
	else if (IS("timeout_remove")) io_uring_prep_timeout_remove(s, a[0], (unsigned)a[1]);
	else if (IS("timeout_update")) io_uring_prep_timeout_update(s, P(a[0]), a[1], (unsigned)a[2]);
	else if (IS("accept")) io_uring_prep_accept(s, (int)a[0], P(a[1]), P(a[2]), (int)a[3]);
	else if (IS("accept_direct")) io_uring_prep_accept_direct(s, (int)a[0], P(a[1]), P(a[2]), (int)a[3], (unsigned)a[4]);
	else if (IS("multishot_accept")) io_uring_prep_multishot_accept(s, (int)a[0], P(a[1]), P(a[2]), (int)a[3]);
	else if (IS("multishot_accept_direct")) io_uring_prep_multishot_accept_direct(s, (int)a[0], P(a[1]), P(a[2]), (int)a[3]);
	else if (IS("cancel64")) io_uring_prep_cancel64(s, a[0], (int)a[1]);
	else if (IS("cancel")) io_uring_prep_cancel(s, P(a[0]), (int)a[1]);
	else if (IS("cancel_fd")) io_uring_prep_cancel_fd(s, (int)a[0], (unsigned)a[1]);
	else if (IS("link_timeout")) io_uring_prep_link_timeout(s, P(a[0]), (unsigned)a[1]);
	else if (IS("connect")) io_uring_prep_connect(s, (int)a[0], P(a[1]), (socklen_t)a[2]);
	else if (IS("files_update")) io_uring_prep_files_update(s, P(a[0]), (unsigned)a[1], (int)a[2]);
	else if (IS("fallocate")) io_uring_prep_fallocate(s, (int)a[0], (int)a[1], (off_t)a[2], (off_t)a[3]);
	else if (IS("openat")) io_uring_prep_openat(s, (int)a[0], P(a[1]), (int)a[2], (mode_t)a[3]);
	else if (IS("openat_direct")) io_uring_prep_openat_direct(s, (int)a[0], P(a[1]), (int)a[2], (mode_t)a[3], (unsigned)a[4]);
	else if (IS("close")) io_uring_prep_close(s, (int)a[0]);
	else if (IS("close_direct")) io_uring_prep_close_direct(s, (unsigned)a[0]);
	else if (IS("read")) io_uring_prep_read(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3]);
	else if (IS("write")) io_uring_prep_write(s, (int)a[0], P(a[1]), (unsigned)a[2], a[3]);
	else if (IS("statx")) io_uring_prep_statx(s, (int)a[0], P(a[1]), (int)a[2], (unsigned)a[3], P(a[4]));
	else if (IS("fadvise")) io_uring_prep_fadvise(s, (int)a[0], a[1], (off_t)a[2], (int)a[3]);
	else if (IS("madvise")) io_uring_prep_madvise(s, P(a[0]), (off_t)a[1], (int)a[2]);
	else if (IS("send")) io_uring_prep_send(s, (int)a[0], P(a[1]), (size_t)a[2], (int)a[3]);
	else if (IS("send_zc")) io_uring_prep_send_zc(s, (int)a[0], P(a[1]), (size_t)a[2], (int)a[3], (unsigned)a[4]);
	else if (IS("send_zc_fixed")) io_uring_prep_send_zc_fixed(s, (int)a[0], P(a[1]), (size_t)a[2], (int)a[3], (unsigned)a[4], (unsigned)a[5]);
	else if (IS("sendmsg_zc")) io_uring_prep_sendmsg_zc(s, (int)a[0], P(a[1]), (unsigned)a[2]);
	else if (IS("send_set_addr")) io_uring_prep_send_set_addr(s, P(a[0]), (__u16)a[1]);
	else if (IS("recv")) io_uring_prep_recv(s, (int)a[0], P(a[1]), (size_t)a[2], (int)a[3]);
	else if (IS("recv_multishot")) io_uring_prep_recv_multishot(s, (int)a[0], P(a[1]), (size_t)a[2], (int)a[3]);
	else if (IS("openat2")) io_uring_prep_openat2(s, (int)a[0], P(a[1]), P(a[2]));
	else if (IS("openat2_direct")) io_uring_prep_openat2_direct(s, (int)a[0], P(a[1]), P(a[2]), (unsigned)a[3]);
	else if (IS("epoll_ctl")) io_uring_prep_epoll_ctl(s, (int)a[0], (int)a[1], (int)a[2], P(a[3]));
	else if (IS("provide_buffers")) io_uring_prep_provide_buffers(s, P(a[0]), (int)a[1], (int)a[2], (int)a[3], (int)a[4]);
	else if (IS("remove_buffers")) io_uring_prep_remove_buffers(s, (int)a[0], (int)a[1]);
	else if (IS("shutdown")) io_uring_prep_shutdown(s, (int)a[0], (int)a[1]);
	else if (IS("unlinkat")) io_uring_prep_unlinkat(s, (int)a[0], P(a[1]), (int)a[2]);
	else if (IS("unlink")) io_uring_prep_unlink(s, P(a[0]), (int)a[1]);
	else if (IS("renameat")) io_uring_prep_renameat(s, (int)a[0], P(a[1]), (int)a[2], P(a[3]), (unsigned)a[4]);
	else if (IS("rename")) io_uring_prep_rename(s, P(a[0]), P(a[1]));
	else if (IS("sync_file_range")) io_uring_prep_sync_file_range(s, (int)a[0], (unsigned)a[1], a[2], (int)a[3]);
	else if (IS("mkdirat")) io_uring_prep_mkdirat(s, (int)a[0], P(a[1]), (mode_t)a[2]);
	else if (IS("mkdir")) io_uring_prep_mkdir(s, P(a[0]), (mode_t)a[1]);
	else if (IS("symlinkat")) io_uring_prep_symlinkat(s, P(a[0]), (int)a[1], P(a[2]));
	else if (IS("symlink")) io_uring_prep_symlink(s, P(a[0]), P(a[1]));
	else if (IS("linkat")) io_uring_prep_linkat(s, (int)a[0], P(a[1]), (int)a[2], P(a[3]), (int)a[4]);
	else if (IS("link")) io_uring_prep_link(s, P(a[0]), P(a[1]), (int)a[2]);
	else if (IS("msg_ring")) io_uring_prep_msg_ring(s, (int)a[0], (unsigned)a[1], a[2], (unsigned)a[3]);
	else if (IS("getxattr")) io_uring_prep_getxattr(s, P(a[0]), P(a[1]), P(a[2]), (unsigned)a[3]);
	else if (IS("setxattr")) io_uring_prep_setxattr(s, P(a[0]), P(a[1]), P(a[2]), (int)a[3], (unsigned)a[4]);
	else if (IS("fgetxattr")) io_uring_prep_fgetxattr(s, (int)a[0], P(a[1]), P(a[2]), (unsigned)a[3]);
	else if (IS("fsetxattr")) io_uring_prep_fsetxattr(s, (int)a[0], P(a[1]), P(a[2]), (int)a[3], (unsigned)a[4]);
	else if (IS("socket")) io_uring_prep_socket(s, (int)a[0], (int)a[1], (int)a[2], (unsigned)a[3]);
	else if (IS("socket_direct")) io_uring_prep_socket_direct(s, (int)a[0], (int)a[1], (int)a[2], (unsigned)a[3], (unsigned)a[4]);
	else if (IS("socket_direct_alloc")) io_uring_prep_socket_direct_alloc(s, (int)a[0], (int)a[1], (int)a[2], (unsigned)a[3]);
	/* non-prep SQE helpers */
	else if (IS("set_data64")) io_uring_sqe_set_data64(s, a[0]);
	else if (IS("set_flags")) io_uring_sqe_set_flags(s, (unsigned)a[0]);
	else if (IS("set_target_fixed_file")) __io_uring_set_target_fixed_file(s, (unsigned)a[0]);
	else return -1;
	return 0;
#undef IS
}

void cprep_buf_ring_add(void *br, uint64_t addr, unsigned len, unsigned short bid, int mask, int off)
{
	io_uring_buf_ring_add(br, P(addr), len, bid, mask, off);
}

void cprep_buf_ring_advance(void *br, int count) { io_uring_buf_ring_advance(br, count); }
void cprep_buf_ring_init(void *br) { io_uring_buf_ring_init(br); }
int cprep_buf_ring_mask(uint32_t n) { return io_uring_buf_ring_mask(n); }

#define SZ(T) { #T, sizeof(struct T) }
#define OF(T, f) { #T "." #f, offsetof(struct T, f) }

static const struct cprep_layout layouts[] = {
	SZ(io_uring_sqe), OF(io_uring_sqe, opcode), OF(io_uring_sqe, flags), OF(io_uring_sqe, ioprio),
	OF(io_uring_sqe, fd), OF(io_uring_sqe, off), OF(io_uring_sqe, addr2), OF(io_uring_sqe, addr),
	OF(io_uring_sqe, splice_off_in), OF(io_uring_sqe, len), OF(io_uring_sqe, rw_flags),
	OF(io_uring_sqe, poll32_events), OF(io_uring_sqe, msg_flags), OF(io_uring_sqe, user_data),
	OF(io_uring_sqe, buf_index), OF(io_uring_sqe, buf_group), OF(io_uring_sqe, personality),
	OF(io_uring_sqe, splice_fd_in), OF(io_uring_sqe, file_index), OF(io_uring_sqe, addr_len),
	OF(io_uring_sqe, addr3), OF(io_uring_sqe, __pad2), OF(io_uring_sqe, cmd),
	SZ(io_uring_cqe), OF(io_uring_cqe, user_data), OF(io_uring_cqe, res), OF(io_uring_cqe, flags),
	OF(io_uring_cqe, big_cqe),
	SZ(io_uring_params), OF(io_uring_params, sq_entries), OF(io_uring_params, cq_entries),
	OF(io_uring_params, flags), OF(io_uring_params, sq_thread_cpu), OF(io_uring_params, sq_thread_idle),
	OF(io_uring_params, features), OF(io_uring_params, wq_fd), OF(io_uring_params, resv),
	OF(io_uring_params, sq_off), OF(io_uring_params, cq_off),
	SZ(io_sqring_offsets), OF(io_sqring_offsets, head), OF(io_sqring_offsets, tail),
	OF(io_sqring_offsets, ring_mask), OF(io_sqring_offsets, ring_entries), OF(io_sqring_offsets, flags),
	OF(io_sqring_offsets, dropped), OF(io_sqring_offsets, array), OF(io_sqring_offsets, resv1),
	OF(io_sqring_offsets, resv2),
	SZ(io_cqring_offsets), OF(io_cqring_offsets, head), OF(io_cqring_offsets, tail),
	OF(io_cqring_offsets, ring_mask), OF(io_cqring_offsets, ring_entries), OF(io_cqring_offsets, overflow),
	OF(io_cqring_offsets, cqes), OF(io_cqring_offsets, flags), OF(io_cqring_offsets, resv1),
	OF(io_cqring_offsets, resv2),
	SZ(io_uring_probe), OF(io_uring_probe, last_op), OF(io_uring_probe, ops_len), OF(io_uring_probe, ops),
	SZ(io_uring_probe_op), OF(io_uring_probe_op, op), OF(io_uring_probe_op, flags),
	SZ(io_uring_restriction), OF(io_uring_restriction, opcode), OF(io_uring_restriction, register_op),
	OF(io_uring_restriction, sqe_op), OF(io_uring_restriction, sqe_flags), OF(io_uring_restriction, resv),
	SZ(io_uring_buf), OF(io_uring_buf, addr), OF(io_uring_buf, len), OF(io_uring_buf, bid), OF(io_uring_buf, resv),
	SZ(io_uring_buf_ring), OF(io_uring_buf_ring, tail), OF(io_uring_buf_ring, bufs),
	SZ(io_uring_buf_reg), OF(io_uring_buf_reg, ring_addr), OF(io_uring_buf_reg, ring_entries),
	OF(io_uring_buf_reg, bgid), OF(io_uring_buf_reg, resv),
	SZ(io_uring_sync_cancel_reg), OF(io_uring_sync_cancel_reg, addr), OF(io_uring_sync_cancel_reg, fd),
	OF(io_uring_sync_cancel_reg, flags), OF(io_uring_sync_cancel_reg, timeout), OF(io_uring_sync_cancel_reg, pad),
	SZ(io_uring_file_index_range), OF(io_uring_file_index_range, off), OF(io_uring_file_index_range, len),
	OF(io_uring_file_index_range, resv),
	SZ(io_uring_recvmsg_out), OF(io_uring_recvmsg_out, namelen), OF(io_uring_recvmsg_out, controllen),
	OF(io_uring_recvmsg_out, payloadlen), OF(io_uring_recvmsg_out, flags),
	SZ(io_uring_rsrc_register), OF(io_uring_rsrc_register, nr), OF(io_uring_rsrc_register, flags),
	OF(io_uring_rsrc_register, resv2), OF(io_uring_rsrc_register, data), OF(io_uring_rsrc_register, tags),
	SZ(io_uring_rsrc_update), OF(io_uring_rsrc_update, offset), OF(io_uring_rsrc_update, data),
	SZ(io_uring_rsrc_update2), OF(io_uring_rsrc_update2, offset), OF(io_uring_rsrc_update2, data),
	OF(io_uring_rsrc_update2, tags), OF(io_uring_rsrc_update2, nr), OF(io_uring_rsrc_update2, resv2),
	SZ(io_uring_getevents_arg), OF(io_uring_getevents_arg, sigmask), OF(io_uring_getevents_arg, sigmask_sz),
	OF(io_uring_getevents_arg, pad), OF(io_uring_getevents_arg, ts),
	SZ(__kernel_timespec), OF(__kernel_timespec, tv_sec), OF(__kernel_timespec, tv_nsec),
	SZ(open_how), SZ(epoll_event), SZ(statx), SZ(msghdr), SZ(cmsghdr), SZ(iovec),
	{ "cpu_set_t", sizeof(cpu_set_t) },
	{ 0, 0 },
};

const struct cprep_layout *cprep_layouts(void) { return layouts; }
