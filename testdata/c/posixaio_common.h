/* posixaio_common.h: helpers shared by the posixaio_xcheck_*.c scenarios. */
#ifndef AIOKIT_POSIXAIO_COMMON_H
#define AIOKIT_POSIXAIO_COMMON_H

#include "trace.h"

#include <aio.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* Blocks SIGRTMIN+3, the SIGEV_SIGNAL scenarios' signal, in the calling
   thread and returns the set for sigtimedwait. main calls it before glibc
   starts any thread; SIGEV_THREAD functions call it first, since glibc runs
   them with every signal unblocked and the process-directed signal could
   otherwise land on such a thread while it exits and kill the program. */
static inline sigset_t pa_block_sigrt3(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 3);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return set;
}

static inline void pa_setup(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_offset = off;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Waits (aio_suspend, retried on EINTR) until cb left EINPROGRESS. */
static inline void pa_wait(struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };
	while (aio_error(cb) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
}

/* aio_suspend on one request with a timeout in ms. */
static inline int pa_suspend_ms(struct aiocb *cb, long ms)
{
	const struct aiocb *l[1] = { cb };
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	return aio_suspend(l, 1, &ts);
}

/* "op res=0 err=OK" for aio_error 0, "op res=-1 err=NAME" otherwise. */
static inline void pa_trace_error(const char *op, struct aiocb *cb)
{
	int e = aio_error(cb);
	trace_ret(op, e ? -1 : 0, e);
}

/* aio_return, with the request's aio_error as the errno of a -1. */
static inline void pa_trace_return(const char *op, struct aiocb *cb)
{
	ssize_t r = aio_return(cb);
	trace_ret(op, r, r < 0 ? aio_error(cb) : 0);
}

#endif
