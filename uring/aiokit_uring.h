/* C side of package uring: liburing plus the per-ring scratch area that lets
 * wait and timeout calls pass pointers to C memory instead of Go memory. */
#ifndef AIOKIT_URING_H
#define AIOKIT_URING_H

#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdint.h>

struct aiokit_ring {
	struct io_uring ring;          /* must stay first: Go casts between the two */
	struct io_uring_cqe *cqe;      /* out slot of peek/wait calls */
	struct __kernel_timespec ts;   /* timeout of wait calls */
	sigset_t sigmask;              /* sigmask of wait calls */
};

/* The per-batch calls of the raw path take the ring as an integer: cgo checks
   every pointer argument whose type holds pointers (struct io_uring does) for
   Go pointers, a cost paid on each batch for memory that is always C's. */
static inline int aiokit_submit(uintptr_t ring) { return io_uring_submit((struct io_uring *)ring); }
static inline int aiokit_submit_and_wait(uintptr_t ring, unsigned wait_nr)
{
	return io_uring_submit_and_wait((struct io_uring *)ring, wait_nr);
}

static inline struct io_uring_cqe **aiokit_cqe_slot(struct aiokit_ring *r) { return &r->cqe; }

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
static inline struct __kernel_timespec *aiokit_ts(struct aiokit_ring *r, int use) { return use ? &r->ts : NULL; }
static inline sigset_t *aiokit_mask(struct aiokit_ring *r, int use) { return use ? &r->sigmask : NULL; }

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
