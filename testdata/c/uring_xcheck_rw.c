/* uring_xcheck_rw: reads and writes through io_uring on a regular file:
 * write, fsync, read, short read at EOF, read past EOF, writev/readv,
 * O_DIRECT short read and misaligned O_DIRECT read, bad descriptors.
 * argv[1]: a file path the program may create (on a disk filesystem). */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

/* Submits the prepared SQE, waits for its CQE and returns cqe->res. */
static int do_read(int fd, void *buf, unsigned n, __u64 off)
{
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, n, off);
	return run1();
}

static int do_write(int fd, const void *buf, unsigned n, __u64 off)
{
	io_uring_prep_write(io_uring_get_sqe(&ring), fd, buf, n, off);
	return run1();
}

int main(int argc, char **argv)
{
	char buf[64], a[3], b[8];
	struct iovec wv[2] = { { "abc", 3 }, { "defg", 4 } };
	struct iovec rv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	int fd, ro, dfd, ret;
	void *al;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}

	trace_neg("write", do_write(fd, "0123456789", 10, 0));
	io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, 0);
	trace_neg("fsync", run1());
	io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, IORING_FSYNC_DATASYNC);
	trace_neg("fdatasync", run1());

	memset(buf, 0, sizeof(buf));
	ret = do_read(fd, buf, 4, 2);
	trace_neg("read", ret);
	trace_line("data %.*s", ret > 0 ? ret : 0, buf);
	ret = do_read(fd, buf, sizeof(buf), 6);
	trace_neg("read_short_eof", ret);
	trace_line("data %.*s", ret > 0 ? ret : 0, buf);
	trace_neg("read_past_eof", do_read(fd, buf, sizeof(buf), 100));

	io_uring_prep_writev(io_uring_get_sqe(&ring), fd, wv, 2, 10);
	trace_neg("writev", run1());
	io_uring_prep_readv(io_uring_get_sqe(&ring), fd, rv, 2, 8);
	ret = run1();
	trace_neg("readv", ret);
	trace_line("data %.3s|%.*s", a, ret > 3 ? ret - 3 : 0, b);

	/* O_DIRECT: a short read at EOF of a 17-byte file, then a misaligned one. */
	ro = open(argv[1], O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (ro < 0)
		return 1;
	if (posix_memalign(&al, 4096, 8192))
		return 1;
	trace_neg("read_direct", do_read(ro, al, 4096, 0));
	trace_neg("read_direct_misaligned", do_read(ro, (char *)al + 1, 4096, 0));
	trace_neg("write_rdonly", do_write(ro, "x", 1, 0));
	close(ro);

	trace_neg("read_badfd", do_read(-1, buf, 1, 0));
	trace_neg("read_closedfd", do_read(9999, buf, 1, 0));
	dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	trace_neg("read_dir", do_read(dfd, buf, 1, 0));
	close(dfd);
	io_uring_prep_fsync(io_uring_get_sqe(&ring), 9999, 0);
	trace_neg("fsync_badfd", run1());

	free(al);
	close(fd);
	io_uring_queue_exit(&ring);
	return 0;
}
