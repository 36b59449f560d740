/* libaio_common.h: the context and the wait shared by the libaio_xcheck_*.c
   scenarios. Include it after trace.h (which defines _GNU_SOURCE). */
#ifndef AIOKIT_LIBAIO_COMMON_H
#define AIOKIT_LIBAIO_COMMON_H

#include <errno.h>
#include <libaio.h>
#include <time.h>

static io_context_t ctx;

/* Waits (at most 5 s, through EINTR) for one event of ctx and returns its
   res, or -ETIME when none came. */
static inline long get1(void)
{
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	int ret;

	do
		ret = io_getevents(ctx, 1, 1, &ev, &ts);
	while (ret == -EINTR);
	return ret == 1 ? (long)ev.res : -ETIME;
}

#endif
