/* posixaio_xcheck_notify: per-request notification. SIGEV_THREAD runs a C
 * function on a new glibc thread (here it passes sigev_value through a pipe);
 * SIGEV_SIGNAL queues SIGRTMIN+3; SIGEV_NONE is polled with aio_error. Each
 * notification comes after the request's result is set.
 *
 * usage: posixaio_xcheck_notify FILE   (FILE holds at least 16 KiB)
 */
#include "posixaio_common.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int vp[2];
static struct aiocb cbs[8];

static void notify(union sigval v)
{
	pa_block_sigrt3(); /* before main can go on: see posixaio_common.h */
	uint64_t x = (uint64_t)(uintptr_t)v.sival_ptr;
	/* Report whether the request was finished when its notification ran. */
	x |= (uint64_t)(aio_error(&cbs[x - 1000]) == 0) << 32;
	write(vp[1], &x, sizeof x);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	sigset_t set = pa_block_sigrt3(); /* from the start; taken with sigtimedwait */
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || pipe(vp) < 0)
		return 1;
	static char bufs[8][512];
	for (int i = 0; i < 8; i++) {
		pa_setup(&cbs[i], fd, bufs[i], 512, i * 512);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cbs[i].aio_sigevent.sigev_notify_function = notify;
		cbs[i].aio_sigevent.sigev_value.sival_ptr = (void *)(uintptr_t)(1000 + i);
		trace_errno("aio_read SIGEV_THREAD", aio_read(&cbs[i]));
	}
	uint64_t got[8];
	for (int i = 0; i < 8; i++) {
		struct pollfd pfd = { .fd = vp[0], .events = POLLIN };
		if (poll(&pfd, 1, 10000) != 1 || read(vp[0], &got[i], sizeof got[i]) != sizeof got[i]) {
			fprintf(stderr, "got %d of 8 thread notifications in 10s\n", i);
			return 1;
		}
	}
	qsort(got, 8, sizeof got[0], cmp);
	for (int i = 0; i < 8; i++)
		trace_line("thread notification value=%u finished=%u", (unsigned)(got[i] & 0xffffffff),
			   (unsigned)(got[i] >> 32));

	struct aiocb s;
	static char sb[512];
	pa_setup(&s, fd, sb, 512, 0);
	s.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	s.aio_sigevent.sigev_signo = SIGRTMIN + 3;
	trace_errno("aio_read SIGEV_SIGNAL", aio_read(&s));
	struct timespec ts = { 10, 0 };
	int sig = sigtimedwait(&set, NULL, &ts);
	trace_line("signal SIGRTMIN+%d", sig - SIGRTMIN);
	pa_trace_return("aio_return at signal", &s);

	pa_setup(&s, fd, sb, 512, 512);
	trace_errno("aio_read SIGEV_NONE", aio_read(&s));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (aio_error(&s) == EINPROGRESS) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 10) {
			fprintf(stderr, "SIGEV_NONE request still in progress after 10s of polling aio_error\n");
			return 1;
		}
		usleep(100);
	}
	pa_trace_return("aio_return polled", &s);
	return 0;
}
