/* bench_posixaio: the C glibc POSIX AIO reference for internal/bench.
 *
 * One thread keeps --qd aio_read requests in flight (SIGEV_NONE, one
 * aligned 4 KiB buffer per aiocb): it blocks in aio_suspend on the whole
 * list, then scans the list with aio_error, collects every finished request
 * with aio_return and queues a new read in its aiocb, until --ms have
 * passed. Reads go to random 4 KiB blocks (bench_rand_offset with --seed) of
 * --path, opened --fds times (with O_DIRECT if --direct 1); read i of the run
 * goes to fds[i % --fds]. glibc serves each descriptor's requests one at a
 * time on one of its threads (at most 20), so --fds decides how many run in
 * parallel. Any failed or short read aborts the run. "nop" is not supported
 * (POSIX AIO has no no-op request). Prints "ops=<n> ns=<n>".
 */
#include "bench_common.h"

#include <aio.h>

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rand r;
	int64_t ops = 0, issued = 0, t0, end, now;

	bench_parse_args(argc, argv, &a);
	if (!a.read4k) {
		fprintf(stderr, "%s: only --op read4k is supported\n", argv[0]);
		return 2;
	}
	int *fds = bench_open_files(&a);
	char *bufs = bench_alloc_aligned((size_t)a.qd * BENCH_BLOCK);
	struct aiocb *cbs = calloc((size_t)a.qd, sizeof *cbs);
	const struct aiocb **list = calloc((size_t)a.qd, sizeof *list);
	if (!cbs || !list)
		bench_die("calloc", ENOMEM);
	bench_rand_init(&r, a.seed);

	t0 = bench_now_ns();
	end = t0 + a.ms * 1000000;
	for (int i = 0; i < a.qd; i++) {
		struct aiocb *cb = &cbs[i];
		cb->aio_buf = bufs + (size_t)i * BENCH_BLOCK;
		cb->aio_nbytes = BENCH_BLOCK;
		cb->aio_sigevent.sigev_notify = SIGEV_NONE;
		cb->aio_fildes = fds[issued++ % a.fds];
		cb->aio_offset = bench_rand_offset(&r, a.size);
		if (aio_read(cb) < 0)
			bench_die("aio_read", errno);
		list[i] = cb;
	}
	int inflight = a.qd;
	for (;;) {
		if (aio_suspend(list, a.qd, NULL) < 0 && errno != EINTR)
			bench_die("aio_suspend", errno);
		now = bench_now_ns();
		for (int i = 0; i < a.qd; i++) {
			struct aiocb *cb = &cbs[i];
			if (list[i] == NULL)
				continue;
			int e = aio_error(cb);
			if (e == EINPROGRESS)
				continue;
			if (e != 0)
				bench_die("aio_error", e);
			ssize_t n = aio_return(cb);
			if (n != BENCH_BLOCK) {
				fprintf(stderr, "short read: %zd\n", n);
				return 1;
			}
			ops++;
			if (now < end) {
				cb->aio_fildes = fds[issued++ % a.fds];
				cb->aio_offset = bench_rand_offset(&r, a.size);
				if (aio_read(cb) < 0)
					bench_die("aio_read", errno);
			} else {
				list[i] = NULL;
				inflight--;
			}
		}
		if (now >= end)
			break;
	}
	bench_report(ops, now - t0);
	/* Let the requests still in flight finish before the buffers go away. */
	for (int i = 0; i < a.qd; i++)
		while (list[i] && aio_error(&cbs[i]) == EINPROGRESS)
			aio_suspend(&list[i], 1, NULL);
	(void)inflight;
	return 0;
}
