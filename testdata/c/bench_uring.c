/* bench_uring: the C liburing reference for internal/bench.
 *
 * One thread, one ring of --qd entries, --qd operations kept in flight: fill
 * the SQ, then loop on io_uring_submit_and_wait(ring, 1), reap every ready
 * CQE with io_uring_peek_batch_cqe and queue one new operation per reaped
 * one, until --ms have passed. "nop" submits IORING_OP_NOP; "read4k" reads
 * random 4 KiB blocks (bench_rand_offset with --seed) of --path, opened
 * with O_DIRECT if --direct 1, into one aligned buffer per slot; read i of
 * the run goes to fds[i % --fds]. Any failed or short read aborts the run.
 * Prints "ops=<n> ns=<n>" (operations completed inside the measured time).
 */
#include "bench_common.h"
#include <liburing.h>

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rand r;
	struct io_uring ring;
	struct io_uring_cqe **cqes;
	char *bufs = NULL;
	int *fds = NULL;
	int64_t ops = 0, issued = 0, t0, end, now;
	int i, n, ret, slot;

	bench_parse_args(argc, argv, &a);
	ret = io_uring_queue_init((unsigned)a.qd, &ring, 0);
	if (ret < 0)
		bench_die("io_uring_queue_init", -ret);
	cqes = calloc((size_t)a.qd, sizeof(*cqes));
	if (!cqes)
		bench_die("calloc", ENOMEM);
	if (a.read4k) {
		fds = bench_open_files(&a);
		bufs = bench_alloc_aligned((size_t)a.qd * BENCH_BLOCK);
	}
	bench_rand_init(&r, a.seed);

#define QUEUE(slot_)                                                                        \
	do {                                                                                \
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);                         \
		if (!sqe)                                                                   \
			bench_die("io_uring_get_sqe", EBUSY);                               \
		if (a.read4k)                                                               \
			io_uring_prep_read(sqe, fds[issued % a.fds], bufs + (size_t)(slot_) * BENCH_BLOCK, \
					   BENCH_BLOCK, (__u64)bench_rand_offset(&r, a.size));     \
		else                                                                        \
			io_uring_prep_nop(sqe);                                             \
		io_uring_sqe_set_data64(sqe, (__u64)(slot_));                               \
		issued++;                                                                   \
	} while (0)

	t0 = bench_now_ns();
	end = t0 + a.ms * 1000000;
	for (i = 0; i < a.qd; i++)
		QUEUE(i);
	for (;;) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			bench_die("io_uring_submit_and_wait", -ret);
		n = (int)io_uring_peek_batch_cqe(&ring, cqes, (unsigned)a.qd);
		now = bench_now_ns();
		for (i = 0; i < n; i++) {
			if (cqes[i]->res < 0)
				bench_die("completion", -cqes[i]->res);
			if (a.read4k && cqes[i]->res != BENCH_BLOCK) {
				fprintf(stderr, "short read: %d\n", cqes[i]->res);
				return 1;
			}
			slot = (int)cqes[i]->user_data;
			ops++;
			if (now < end)
				QUEUE(slot);
		}
		io_uring_cq_advance(&ring, (unsigned)n);
		if (now >= end)
			break;
	}
	bench_report(ops, now - t0);
	io_uring_queue_exit(&ring);
	return 0;
}
