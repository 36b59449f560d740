/* uring_common.h: the ring and the helpers shared by the uring_xcheck_*.c
   scenarios. Include it after trace.h (which defines _GNU_SOURCE). */
#ifndef AIOKIT_URING_COMMON_H
#define AIOKIT_URING_COMMON_H

#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>

static struct io_uring ring;

/* io_uring_submit, which must report want SQEs submitted. */
static inline void submit(int want)
{
	int ret = io_uring_submit(&ring);

	if (ret != want) {
		fprintf(stderr, "io_uring_submit: %d, want %d\n", ret, want);
		exit(1);
	}
}

/* Waits for n CQEs and stores their res by user_data (an index into res). */
static inline void reap(int n, int *res)
{
	struct io_uring_cqe *cqe;
	int i, ret;

	for (i = 0; i < n; i++) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret) {
			fprintf(stderr, "io_uring_wait_cqe: %d\n", ret);
			exit(1);
		}
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
}

/* Submits the one prepared SQE and returns its CQE's res. */
static inline int run1(void)
{
	struct io_uring_cqe *cqe;
	int ret, res;

	submit(1);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret) {
		fprintf(stderr, "io_uring_wait_cqe: %d\n", ret);
		exit(1);
	}
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

/* A free SQE with user_data ud (liburing's prep helpers leave user_data
   alone; the rings of these scenarios have room for every batch). */
static inline struct io_uring_sqe *get(__u64 ud)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);

	io_uring_sqe_set_data64(s, ud);
	return s;
}

#endif
