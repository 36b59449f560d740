/* bench_posixaio_thread: bench_posixaio with SIGEV_THREAD notification, the
 * mechanism of posixaio.Queue's default (NotifyThread) handle layer, in C.
 *
 * One thread keeps --qd aio_read requests in flight; each request notifies
 * with SIGEV_THREAD (detached threads with a 64 KiB stack, as the Go
 * trampoline uses), whose function adds 1 to an eventfd. The main thread
 * blocks reading the eventfd, then scans its aiocbs with aio_error, collects
 * the finished ones with aio_return and queues new reads, until --ms have
 * passed. Same arguments and output as bench_posixaio; read4k only.
 */
#include "bench_common.h"

#include <aio.h>
#include <pthread.h>
#include <sys/eventfd.h>

static int efd;

static void notify(union sigval v)
{
	uint64_t one = 1;
	(void)v;
	while (write(efd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rand r;
	pthread_attr_t attr;
	int64_t ops = 0, issued = 0, t0, end, now;

	bench_parse_args(argc, argv, &a);
	if (!a.read4k) {
		fprintf(stderr, "%s: only --op read4k is supported\n", argv[0]);
		return 2;
	}
	int *fds = bench_open_files(&a);
	char *bufs = bench_alloc_aligned((size_t)a.qd * BENCH_BLOCK);
	struct aiocb *cbs = calloc((size_t)a.qd, sizeof *cbs);
	char *live = calloc((size_t)a.qd, 1);
	if (!cbs || !live)
		bench_die("calloc", ENOMEM);
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		bench_die("eventfd", errno);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	bench_rand_init(&r, a.seed);

	t0 = bench_now_ns();
	end = t0 + a.ms * 1000000;
	for (int i = 0; i < a.qd; i++) {
		struct aiocb *cb = &cbs[i];
		cb->aio_buf = bufs + (size_t)i * BENCH_BLOCK;
		cb->aio_nbytes = BENCH_BLOCK;
		cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
		cb->aio_sigevent.sigev_notify_function = notify;
		cb->aio_sigevent.sigev_notify_attributes = &attr;
		cb->aio_fildes = fds[issued++ % a.fds];
		cb->aio_offset = bench_rand_offset(&r, a.size);
		if (aio_read(cb) < 0)
			bench_die("aio_read", errno);
		live[i] = 1;
	}
	for (;;) {
		uint64_t n;
		if (read(efd, &n, sizeof n) < 0 && errno != EINTR)
			bench_die("read eventfd", errno);
		now = bench_now_ns();
		for (int i = 0; i < a.qd; i++) {
			struct aiocb *cb = &cbs[i];
			if (!live[i])
				continue;
			int e = aio_error(cb);
			if (e == EINPROGRESS)
				continue;
			if (e != 0)
				bench_die("aio_error", e);
			if (aio_return(cb) != BENCH_BLOCK) {
				fprintf(stderr, "short read\n");
				return 1;
			}
			ops++;
			if (now < end) {
				cb->aio_fildes = fds[issued++ % a.fds];
				cb->aio_offset = bench_rand_offset(&r, a.size);
				if (aio_read(cb) < 0)
					bench_die("aio_read", errno);
			} else {
				live[i] = 0;
			}
		}
		if (now >= end)
			break;
	}
	bench_report(ops, now - t0);
	for (int i = 0; i < a.qd; i++) {
		const struct aiocb *l[1] = { &cbs[i] };
		while (live[i] && aio_error(&cbs[i]) == EINPROGRESS)
			aio_suspend(l, 1, NULL);
	}
	/* Notification threads may still be running notify(): leave without
	   closing efd under them. */
	_exit(0);
}
