/* Test helper for runc_test.go: parses its arguments with bench_common.h,
 * writes what it understood to the file named by $BENCH_ARGS_OUT, and reports
 * ops=qd*1000+fds ns=ms*1000000 so the Go side can check RunC end to end. */
#include "bench_common.h"

int main(int argc, char **argv)
{
	struct bench_args a;
	const char *out = getenv("BENCH_ARGS_OUT");
	FILE *f;

	bench_parse_args(argc, argv, &a);
	if (out) {
		f = fopen(out, "w");
		if (!f)
			bench_die(out, errno);
		fprintf(f, "op=%s read4k=%d direct=%d qd=%d path=%s size=%" PRId64 " ms=%" PRId64 " seed=%" PRIu64 " fds=%d\n",
			a.op, a.read4k, a.direct, a.qd, a.path, a.size, a.ms, a.seed, a.fds);
		fclose(f);
	}
	if (a.read4k) {
		int *fds = bench_open_files(&a);
		void *buf = bench_alloc_aligned(BENCH_BLOCK);
		struct bench_rand r;
		int i;

		bench_rand_init(&r, a.seed);
		for (i = 0; i < a.fds; i++) {
			int64_t off = bench_rand_offset(&r, a.size);
			if (pread(fds[i], buf, BENCH_BLOCK, off) != BENCH_BLOCK)
				bench_die("pread", errno ? errno : EIO);
			close(fds[i]);
		}
		free(buf);
		free(fds);
	}
	bench_report((int64_t)a.qd * 1000 + a.fds, a.ms * 1000000);
	return 0;
}
