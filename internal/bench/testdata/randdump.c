/* Test helper for rand_test.go: prints what bench_common.h's generator gives.
 * usage: randdump SEED COUNT SIZE WORKERS
 * Line per output: "<next> <offset>" from two generators seeded alike, then
 * one line per worker i < WORKERS: "w<i> <bench_worker_seed(SEED,i)>". */
#include "bench_common.h"

int main(int argc, char **argv)
{
	struct bench_rand a, b;
	uint64_t seed;
	long count, workers, i;
	int64_t size;

	if (argc != 5)
		return 2;
	seed = strtoull(argv[1], NULL, 10);
	count = strtol(argv[2], NULL, 10);
	size = strtoll(argv[3], NULL, 10);
	workers = strtol(argv[4], NULL, 10);
	bench_rand_init(&a, seed);
	bench_rand_init(&b, seed);
	for (i = 0; i < count; i++) {
		uint64_t x = bench_rand_next(&a);
		printf("%" PRIu64 " %" PRId64 "\n", x, bench_rand_offset(&b, size));
	}
	for (i = 0; i < workers; i++)
		printf("w%ld %" PRIu64 "\n", i, bench_worker_seed(seed, (int)i));
	return 0;
}
