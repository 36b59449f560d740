/* C side of package uring: liburing plus wrappers whose wait and timeout
 * calls take their arguments and give their CQE by value, so that no Go
 * memory is passed and no state is shared between calls. */
#ifndef AIOKIT_URING_H
#define AIOKIT_URING_H

#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdint.h>

struct aiokit_ring {
	struct io_uring ring;          /* must stay first: Go casts between the two */
};

/* What the peek and wait calls give: the return value and the CQE out slot.
   Each call has its own, on the C stack (goroutines that wait on one ring at
   once share nothing; a scratch area in struct aiokit_ring was rewritten by
   a concurrent call between another's return and its read), and returning
   it by value keeps Go memory out of the call. */
struct aiokit_cqe_ret {
	struct io_uring_cqe *cqe;
	int ret;
};

/* The timeout and sigmask of a wait, by value: use_ts / use_mask 0 pass NULL. */
struct aiokit_wait_arg {
	struct __kernel_timespec ts;
	sigset_t mask;
	int use_ts, use_mask;
};

/* The per-batch calls of the raw path take the ring as an integer: cgo checks
   every pointer argument whose type holds pointers (struct io_uring does) for
   Go pointers, a cost paid on each batch for memory that is always C's. */
static inline int aiokit_submit(uintptr_t ring) { return io_uring_submit((struct io_uring *)ring); }
static inline int aiokit_submit_and_wait(uintptr_t ring, unsigned wait_nr)
{
	return io_uring_submit_and_wait((struct io_uring *)ring, wait_nr);
}

static inline struct aiokit_cqe_ret aiokit_peek_cqe(struct io_uring *ring)
{
	struct aiokit_cqe_ret r = { 0 };
	r.ret = io_uring_peek_cqe(ring, &r.cqe);
	return r;
}

static inline struct aiokit_cqe_ret aiokit_wait_cqe_nr(struct io_uring *ring, unsigned n)
{
	struct aiokit_cqe_ret r = { 0 };
	r.ret = io_uring_wait_cqe_nr(ring, &r.cqe, n);
	return r;
}

static inline struct aiokit_cqe_ret aiokit_wait_cqes(struct io_uring *ring, unsigned n,
		struct aiokit_wait_arg a)
{
	struct aiokit_cqe_ret r = { 0 };
	r.ret = io_uring_wait_cqes(ring, &r.cqe, n, a.use_ts ? &a.ts : NULL, a.use_mask ? &a.mask : NULL);
	return r;
}

static inline struct aiokit_cqe_ret aiokit_wait_cqe_timeout(struct io_uring *ring,
		struct aiokit_wait_arg a)
{
	struct aiokit_cqe_ret r = { 0 };
	r.ret = io_uring_wait_cqe_timeout(ring, &r.cqe, a.use_ts ? &a.ts : NULL);
	return r;
}

static inline struct aiokit_cqe_ret aiokit_submit_and_wait_timeout(struct io_uring *ring,
		unsigned n, struct aiokit_wait_arg a)
{
	struct aiokit_cqe_ret r = { 0 };
	r.ret = io_uring_submit_and_wait_timeout(ring, &r.cqe, n, a.use_ts ? &a.ts : NULL,
			a.use_mask ? &a.mask : NULL);
	return r;
}

/* Waits at most ns for one CQE to be ready, without consuming it and
   without touching the SQ (the caller checked IORING_FEAT_EXT_ARG, with
   which liburing waits through io_uring_enter's extended argument instead
   of submitting a timeout SQE). 0 when a CQE is ready, else -ETIME or
   -EINTR. */
static inline int aiokit_wait_one(struct io_uring *ring, long long ns)
{
	struct __kernel_timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	struct io_uring_cqe *cqe;
	return io_uring_wait_cqes(ring, &cqe, 1, &ts, NULL);
}

/* liburing 2.3's shared library does not export io_uring_register_restrictions
 * and io_uring_enable_rings (they are missing from its liburing.map; 2.4 adds
 * them), so linking against -luring fails. These are the same calls the
 * library makes: io_uring_register(2) on ring->ring_fd. */
static inline int aiokit_register_restrictions(struct io_uring *ring,
		struct io_uring_restriction *res, unsigned int nr)
{
	return io_uring_register(ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, nr);
}

static inline int aiokit_enable_rings(struct io_uring *ring)
{
	return io_uring_register(ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

#endif
