/* uring_xcheck_bad: setup and submission errors.
 *   io_uring_queue_init_params with 0 entries, more than the kernel's
 *   maximum (with and without IORING_SETUP_CLAMP), an unknown setup flag and
 *   IORING_SETUP_CQSIZE with a CQ of 0; an unknown opcode, an unknown SQE
 *   flag, IOSQE_FIXED_FILE on a NOP (no files registered); registering
 *   eventfd -1; a plain NOP. No arguments. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <liburing.h>
#include <stdlib.h>

static int init(unsigned entries, unsigned flags, unsigned cq)
{
	struct io_uring_params p;
	struct io_uring r;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	p.cq_entries = cq;
	ret = io_uring_queue_init_params(entries, &r, &p);
	if (ret == 0)
		io_uring_queue_exit(&r);
	return ret;
}

int main(void)
{
	struct io_uring_sqe *s;
	int ret;

	trace_neg("init_zero", init(0, 0, 0));
	trace_neg("init_too_big", init(65536, 0, 0));
	trace_neg("init_clamp", init(65536, IORING_SETUP_CLAMP, 0));
	trace_neg("init_bad_flag", init(8, 1U << 31, 0));
	trace_neg("init_cqsize_small", init(8, IORING_SETUP_CQSIZE, 0));

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}
	s = io_uring_get_sqe(&ring);
	io_uring_prep_nop(s);
	s->opcode = 200;
	trace_neg("opcode_unknown", run1());
	s = io_uring_get_sqe(&ring);
	io_uring_prep_nop(s);
	s->flags = 1 << 7;
	trace_neg("sqe_flag_unknown", run1());
	s = io_uring_get_sqe(&ring);
	io_uring_prep_nop(s);
	s->flags = IOSQE_FIXED_FILE;
	trace_neg("nop_fixed_file", run1());
	trace_neg("register_eventfd_bad", io_uring_register_eventfd(&ring, -1));
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	trace_neg("nop_queue", run1());

	io_uring_queue_exit(&ring);
	return 0;
}
