/* bench_libaio: the C libaio reference for internal/bench.
 *
 * One thread, one context of --qd events, --qd reads kept in flight: prepare
 * --qd iocbs, then loop on io_submit of every iocb waiting to go, then
 * io_getevents(ctx, 1, qd, events, NULL), preparing one new read per reaped
 * event into the same iocb and buffer, until --ms have passed. Reads are random
 * 4 KiB blocks (bench_rand_offset with --seed) of --path, opened with O_DIRECT
 * if --direct 1, into one aligned buffer per slot; read i of the run goes to
 * fds[i % --fds]. libaio has no no-op request: "nop" exits 2. Any failed or
 * short read aborts the run. Prints "ops=<n> ns=<n>" (reads completed inside
 * the measured time).
 */
#include "bench_common.h"
#include <libaio.h>

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rand r;
	io_context_t ctx = 0;
	struct iocb *iocbs, **todo;
	struct io_event *evs;
	char *bufs;
	int *fds;
	int64_t ops = 0, issued = 0, t0, end, now;
	int i, n, ret, ntodo = 0, done;

	bench_parse_args(argc, argv, &a);
	if (!a.read4k)
		bench_usage(argv[0], "libaio has no nop request: --op must be read4k");
	ret = io_setup(a.qd, &ctx);
	if (ret < 0)
		bench_die("io_setup", -ret);
	iocbs = calloc((size_t)a.qd, sizeof(*iocbs));
	todo = calloc((size_t)a.qd, sizeof(*todo));
	evs = calloc((size_t)a.qd, sizeof(*evs));
	if (!iocbs || !todo || !evs)
		bench_die("calloc", ENOMEM);
	fds = bench_open_files(&a);
	bufs = bench_alloc_aligned((size_t)a.qd * BENCH_BLOCK);
	bench_rand_init(&r, a.seed);

#define QUEUE(cb_)                                                                      \
	do {                                                                            \
		size_t slot_ = (size_t)((cb_) - iocbs);                                 \
		io_prep_pread((cb_), fds[issued % a.fds], bufs + slot_ * BENCH_BLOCK,   \
			      BENCH_BLOCK, bench_rand_offset(&r, a.size));              \
		todo[ntodo++] = (cb_);                                                  \
		issued++;                                                               \
	} while (0)

	t0 = bench_now_ns();
	end = t0 + a.ms * 1000000;
	for (i = 0; i < a.qd; i++)
		QUEUE(&iocbs[i]);
	for (;;) {
		for (done = 0; done < ntodo; done += ret) {
			ret = io_submit(ctx, ntodo - done, todo + done);
			if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
				bench_die("io_submit", -ret);
			if (ret < 0)
				ret = 0;
		}
		ntodo = 0;
		do
			n = io_getevents(ctx, 1, a.qd, evs, NULL);
		while (n == -EINTR);
		if (n < 0)
			bench_die("io_getevents", -n);
		now = bench_now_ns();
		for (i = 0; i < n; i++) {
			if ((long)evs[i].res != BENCH_BLOCK) {
				if ((long)evs[i].res < 0)
					bench_die("completion", (int)-(long)evs[i].res);
				fprintf(stderr, "short read: %ld\n", (long)evs[i].res);
				return 1;
			}
			ops++;
			if (now < end)
				QUEUE(evs[i].obj);
		}
		if (now >= end)
			break;
	}
	bench_report(ops, now - t0);
	io_destroy(ctx); /* waits for the reads still in flight */
	return 0;
}
