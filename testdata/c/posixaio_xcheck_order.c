/* posixaio_xcheck_order: glibc serves one descriptor's requests one at a
 * time in submission order, higher priority (smaller aio_reqprio) first.
 *
 * usage: posixaio_xcheck_order
 */
/* Helpers shared by the posixaio_xcheck_ programs (each carries a copy:
   the Makefile builds every C file in testdata/c as a program). */
#include "trace.h"

#include <aio.h>
#include <string.h>
#include <time.h>

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

#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	/* 20 writes to one pipe arrive in submission order. */
	static char msg[20][8];
	struct aiocb w[20];
	for (int i = 0; i < 20; i++) {
		snprintf(msg[i], sizeof msg[i], "<%02d>", i);
		pa_setup(&w[i], p[1], msg[i], 4, 0);
		if (aio_write(&w[i]) < 0)
			return 1;
	}
	for (int i = 0; i < 20; i++)
		pa_wait(&w[i]);
	char got[81] = { 0 };
	trace_errno("read pipe", read(p[0], got, 80));
	trace_line("data %s", got);

	/* One read runs (blocked on the empty pipe); of the two queued behind
	   it, aio_reqprio 0 runs before aio_reqprio 5. */
	static char b1[5], b2[5], b3[5];
	struct aiocb first, low, high;
	pa_setup(&first, p[0], b1, 4, 0);
	pa_setup(&low, p[0], b2, 4, 0);
	pa_setup(&high, p[0], b3, 4, 0);
	low.aio_reqprio = 5;
	trace_errno("aio_read first", aio_read(&first));
	usleep(50000);
	trace_errno("aio_read reqprio 5", aio_read(&low));
	trace_errno("aio_read reqprio 0", aio_read(&high));
	trace_errno("write pipe", write(p[1], "111122223333", 12));
	pa_wait(&first);
	pa_wait(&low);
	pa_wait(&high);
	trace_line("first %s reqprio0 %s reqprio5 %s", b1, b3, b2);
	return 0;
}
