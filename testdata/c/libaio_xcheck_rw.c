/* libaio_xcheck_rw: reads and writes through libaio on a regular file: O_DIRECT write,
 * fsync, fdsync, O_DIRECT read back, short read at EOF, read past EOF, pwritev/preadv,
 * pwritev2 with RWF_DSYNC, IOCB_FLAG_RESFD eventfd count, a 4-request batch.
 * argv[1]: a file path the program may create (on a disk filesystem). */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <libaio.h>
#include "libaio_common.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x2
#endif


/* Submits cb alone (traced as op) and returns its event's res (or the io_submit error). */
static long run1(const char *op, struct iocb *cb)
{
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	int ret = io_submit(ctx, 1, &cb);
	trace_neg(op, ret);
	if (ret != 1)
		return ret;
	do
		ret = io_getevents(ctx, 1, 1, &ev, &ts);
	while (ret == -EINTR);
	if (ret != 1) {
		fprintf(stderr, "io_getevents: %d\n", ret);
		exit(1);
	}
	return (long)ev.res;
}

int main(int argc, char **argv)
{
	struct iocb cb, cbs[4], *ptrs[4];
	struct io_event evs[4];
	struct iovec v[2];
	struct timespec ts = { 5, 0 };
	unsigned char *buf, *rd;
	uint64_t cnt = 0;
	int fd, dfd, efd, i, ret, got;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dfd = open(argv[1], O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || dfd < 0)
		return 1;
	if (posix_memalign((void **)&buf, 4096, 16384) || posix_memalign((void **)&rd, 4096, 16384))
		return 1;
	for (i = 0; i < 16384; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	trace_neg("io_setup", io_setup(8, &ctx));

	io_prep_pwrite(&cb, dfd, buf, 8192, 0);
	trace_neg("direct_write", run1("submit", &cb));
	io_prep_fsync(&cb, dfd);
	trace_neg("fsync", run1("submit", &cb));
	io_prep_fdsync(&cb, dfd);
	trace_neg("fdsync", run1("submit", &cb));
	io_prep_pread(&cb, dfd, rd, 8192, 0);
	trace_neg("direct_read", run1("submit", &cb));
	trace_ret("compare", memcmp(buf, rd, 8192) != 0, 0);

	/* A tail that is not block-sized, written through the page cache. */
	io_prep_pwrite(&cb, fd, buf, 100, 8192);
	trace_neg("buffered_write", run1("submit", &cb));
	io_prep_pread(&cb, dfd, rd, 8192, 4096);
	trace_neg("direct_read_eof", run1("submit", &cb));
	io_prep_pread(&cb, fd, rd, 4096, 8192);
	trace_neg("buffered_read_eof", run1("submit", &cb));
	io_prep_pread(&cb, dfd, rd, 4096, 1 << 20);
	trace_neg("read_past_eof", run1("submit", &cb));

	v[0].iov_base = buf + 4096; v[0].iov_len = 3;
	v[1].iov_base = buf + 8192; v[1].iov_len = 5;
	io_prep_pwritev(&cb, fd, v, 2, 20000);
	trace_neg("pwritev", run1("submit", &cb));
	v[0].iov_base = rd; v[0].iov_len = 5;
	v[1].iov_base = rd + 100; v[1].iov_len = 10;
	io_prep_preadv(&cb, fd, v, 2, 20000);
	trace_neg("preadv", run1("submit", &cb));
	trace_ret("compare", memcmp(rd, buf + 4096, 3) || memcmp(rd + 3, buf + 8192, 2) || memcmp(rd + 100, buf + 8194, 3), 0);
	v[0].iov_base = buf; v[0].iov_len = 4096;
	io_prep_pwritev2(&cb, dfd, v, 1, 12288, RWF_DSYNC);
	trace_neg("pwritev2_dsync", run1("submit", &cb));
	io_prep_preadv2(&cb, dfd, v, 1, 12288, 0);
	trace_neg("preadv2", run1("submit", &cb));

	/* A batch of four O_DIRECT reads signalling an eventfd. */
	efd = eventfd(0, EFD_CLOEXEC);
	for (i = 0; i < 4; i++) {
		io_prep_pread(&cbs[i], dfd, rd + i * 4096, 4096, (long long)i * 4096);
		io_set_eventfd(&cbs[i], efd);
		cbs[i].data = (void *)(uintptr_t)(i + 1);
		ptrs[i] = &cbs[i];
	}
	trace_neg("submit_batch", io_submit(ctx, 4, ptrs));
	got = 0;
	while (got < 4) {
		ret = io_getevents(ctx, 4 - got, 4 - got, evs + got, &ts);
		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			return 1;
		got += ret;
	}
	for (i = 0; i < 4; i++)
		cnt += (uint64_t)(uintptr_t)evs[i].data * 1000 + (uint64_t)evs[i].res;
	trace_ret("batch_events", (long)cnt, 0);
	ret = read(efd, &cnt, sizeof(cnt));
	trace_ret("eventfd", ret == 8 ? (long)cnt : -1, 0);
	trace_neg("io_destroy", io_destroy(ctx));
	return 0;
}
