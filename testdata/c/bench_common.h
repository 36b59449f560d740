/*
 * bench_common.h - shared pieces of the C reference benchmarks
 * (testdata/c/bench_<backend>.c), matching internal/bench on the Go side.
 *
 * Include it first (it defines _GNU_SOURCE). Everything is static inline, so
 * unused helpers cost nothing and draw no -Wall warnings.
 *
 *   struct bench_args a;
 *   bench_parse_args(argc, argv, &a);      // exits 2 on bad arguments
 *   int *fds = bench_open_files(&a);       // read4k: a.fds descriptors on a.path
 *   struct bench_rand r; bench_rand_init(&r, a.seed);
 *   int64_t t0 = bench_now_ns(), end = t0 + a.ms * 1000000;
 *   ... off = bench_rand_offset(&r, a.size) ... until bench_now_ns() >= end
 *   bench_report(ops, bench_now_ns() - t0);  // prints "ops=<n> ns=<n>"
 *
 * Arguments (all "--name value"; internal/bench.CArgs passes them):
 *   --op nop|read4k   --direct 0|1   --qd N (>=1)   --path P (read4k)
 *   --size BYTES (multiple of 4096 for read4k)   --ms MS (>=1)
 *   --seed S (unsigned 64-bit)   --fds N (>=1, default 1; only passed when > 1)
 */
#ifndef AIOKIT_BENCH_COMMON_H
#define AIOKIT_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BLOCK 4096
#define BENCH_RAND_MULT UINT64_C(0x2545F4914F6CDD1D)
#define BENCH_RAND_ZERO_SEED UINT64_C(0xD1B54A32D192ED03) /* bench.RandZeroSeed */
#define BENCH_RAND_WORKER_STEP UINT64_C(0x9E3779B97F4A7C15) /* bench.RandWorkerStep */

/* xorshift64*, identical to internal/bench.Rand. */
struct bench_rand {
	uint64_t s;
};

static inline void bench_rand_init(struct bench_rand *r, uint64_t seed)
{
	r->s = seed ? seed : BENCH_RAND_ZERO_SEED;
}

static inline uint64_t bench_rand_next(struct bench_rand *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * BENCH_RAND_MULT;
}

/* (next % (size/4096)) * 4096; 0 if the file holds no whole block. */
static inline int64_t bench_rand_offset(struct bench_rand *r, int64_t size)
{
	uint64_t x = bench_rand_next(r);
	uint64_t blocks = size > 0 ? (uint64_t)size / BENCH_BLOCK : 0;
	if (blocks == 0)
		return 0;
	return (int64_t)((x % blocks) * BENCH_BLOCK);
}

/* Seed of worker i of a multi-submitter program, as bench.WorkerSeed. */
static inline uint64_t bench_worker_seed(uint64_t seed, int i)
{
	return seed + (uint64_t)i * BENCH_RAND_WORKER_STEP;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Prints "<what>: <strerror(err)>" to stderr and exits 1. */
static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s (%s)\n", what, strerror(err), strerrorname_np(err) ? strerrorname_np(err) : "?");
	exit(1);
}

/* The one line internal/bench.ParseCOutput reads. */
static inline void bench_report(int64_t ops, int64_t ns)
{
	printf("ops=%" PRId64 " ns=%" PRId64 "\n", ops, ns);
	fflush(stdout);
}

struct bench_args {
	const char *op;   /* "nop" or "read4k" */
	int read4k;       /* op is read4k */
	int direct;       /* 0 or 1 */
	int qd;           /* ops in flight */
	const char *path; /* data file */
	int64_t size;     /* bytes */
	int64_t ms;       /* run time */
	uint64_t seed;
	int fds;          /* descriptors to spread reads over */
};

static inline void bench_usage(const char *prog, const char *why)
{
	fprintf(stderr, "%s: %s\nusage: %s --op nop|read4k --direct 0|1 --qd N --path P --size BYTES --ms MS --seed S [--fds N]\n",
		prog, why, prog);
	exit(2);
}

static inline int bench_parse_int(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Parses argv into a; exits 2 with a usage message on any bad argument. */
static inline void bench_parse_args(int argc, char **argv, struct bench_args *a)
{
	static const struct option opts[] = {
		{ "op", required_argument, 0, 'o' },
		{ "direct", required_argument, 0, 'd' },
		{ "qd", required_argument, 0, 'q' },
		{ "path", required_argument, 0, 'p' },
		{ "size", required_argument, 0, 's' },
		{ "ms", required_argument, 0, 'm' },
		{ "seed", required_argument, 0, 'e' },
		{ "fds", required_argument, 0, 'f' },
		{ 0, 0, 0, 0 },
	};
	const char *prog = argc > 0 ? argv[0] : "bench";
	int64_t v;
	int c, have_op = 0, have_qd = 0, have_ms = 0;

	memset(a, 0, sizeof(*a));
	a->path = "";
	a->fds = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->op = optarg;
			have_op = 1;
			break;
		case 'd':
			if (strcmp(optarg, "0") && strcmp(optarg, "1"))
				bench_usage(prog, "--direct must be 0 or 1");
			a->direct = optarg[0] == '1';
			break;
		case 'q':
			if (bench_parse_int(optarg, 1, &v) || v > 1 << 20)
				bench_usage(prog, "--qd must be an integer >= 1");
			a->qd = (int)v;
			have_qd = 1;
			break;
		case 'p':
			a->path = optarg;
			break;
		case 's':
			if (bench_parse_int(optarg, 0, &v))
				bench_usage(prog, "--size must be an integer >= 0");
			a->size = v;
			break;
		case 'm':
			if (bench_parse_int(optarg, 1, &v))
				bench_usage(prog, "--ms must be an integer >= 1");
			a->ms = v;
			have_ms = 1;
			break;
		case 'e': {
			char *end;
			errno = 0;
			a->seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				bench_usage(prog, "--seed must be an unsigned 64-bit integer");
			break;
		}
		case 'f':
			if (bench_parse_int(optarg, 1, &v) || v > 1 << 16)
				bench_usage(prog, "--fds must be an integer >= 1");
			a->fds = (int)v;
			break;
		default:
			bench_usage(prog, "unknown option or missing value");
		}
	}
	if (optind != argc)
		bench_usage(prog, "unexpected positional argument");
	if (!have_op || !have_qd || !have_ms)
		bench_usage(prog, "--op, --qd and --ms are required");
	if (!strcmp(a->op, "read4k")) {
		a->read4k = 1;
		if (!a->path[0])
			bench_usage(prog, "read4k needs --path");
		if (a->size < BENCH_BLOCK || a->size % BENCH_BLOCK)
			bench_usage(prog, "read4k needs --size, a positive multiple of 4096");
	} else if (strcmp(a->op, "nop")) {
		bench_usage(prog, "--op must be nop or read4k");
	}
}

/*
 * Opens a->fds descriptors on a->path (O_RDONLY, plus O_DIRECT if a->direct)
 * and returns them in a malloc'd array; exits 1 on failure. Read i of a
 * submitter goes to fds[i % a->fds].
 */
static inline int *bench_open_files(const struct bench_args *a)
{
	int *fds = calloc((size_t)a->fds, sizeof(int));
	int i, flags = O_RDONLY | O_CLOEXEC | (a->direct ? O_DIRECT : 0);

	if (!fds)
		bench_die("calloc", ENOMEM);
	for (i = 0; i < a->fds; i++) {
		fds[i] = open(a->path, flags);
		if (fds[i] < 0)
			bench_die(a->path, errno);
	}
	return fds;
}

/* n bytes of BENCH_BLOCK-aligned memory (valid for O_DIRECT); exits 1 on failure. */
static inline void *bench_alloc_aligned(size_t n)
{
	void *p = NULL;
	int err = posix_memalign(&p, BENCH_BLOCK, n ? n : BENCH_BLOCK);

	if (err)
		bench_die("posix_memalign", err);
	memset(p, 0, n);
	return p;
}

#endif /* AIOKIT_BENCH_COMMON_H */
