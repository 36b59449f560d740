/* uring_xcheck_link: linked chains (IOSQE_IO_LINK, IOSQE_IO_HARDLINK) and
 * link timeouts. A chain's CQEs are printed in chain order.
 *   1. write -> fsync -> read: all succeed.
 *   2. read(bad fd) -> write -> nop: the head fails, the rest get -ECANCELED.
 *   3. short read linked to a nop: a short read breaks a plain link.
 *   4. the same with IOSQE_IO_HARDLINK: the nop runs.
 *   5. read of an empty pipe + link timeout 20ms: -ECANCELED and -ETIME.
 *   6. nop + link timeout 5s: the nop completes, the timeout -ECANCELED.
 * argv[1]: a file path the program may create. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <unistd.h>

/* Submits the n SQEs of a chain (user_data 0..n-1), waits for their n CQEs
 * and traces their results in user_data order, naming them names[i]. */
static void run_chain(int n, const char **names)
{
	int res[16], i;

	submit(n);
	reap(n, res);
	for (i = 0; i < n; i++)
		trace_neg(names[i], res[i]);
}

int main(int argc, char **argv)
{
	static const char *n1[] = { "write", "fsync", "read" };
	static const char *n2[] = { "read_badfd", "write", "nop" };
	static const char *n3[] = { "read_short", "nop" };
	static const char *n4[] = { "read_short_hard", "nop" };
	static const char *n5[] = { "read_pipe", "link_timeout" };
	static const char *n6[] = { "nop", "link_timeout" };
	struct __kernel_timespec ts20 = { .tv_sec = 0, .tv_nsec = 20000000 };
	struct __kernel_timespec ts5s = { .tv_sec = 5, .tv_nsec = 0 };
	char buf[64];
	struct io_uring_sqe *s;
	int fd, p[2], ret;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pipe2(p, O_CLOEXEC))
		return 1;
	ret = io_uring_queue_init(16, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}

	/* 1 */
	s = get(0);
	io_uring_prep_write(s, fd, "hello, link", 11, 0);
	s->flags |= IOSQE_IO_LINK;
	s = get(1);
	io_uring_prep_fsync(s, fd, 0);
	s->flags |= IOSQE_IO_LINK;
	memset(buf, 0, sizeof(buf));
	s = get(2);
	io_uring_prep_read(s, fd, buf, 5, 7);
	run_chain(3, n1);
	trace_line("data %s", buf);

	/* 2 */
	s = get(0);
	io_uring_prep_read(s, -1, buf, 1, 0);
	s->flags |= IOSQE_IO_LINK;
	s = get(1);
	io_uring_prep_write(s, fd, "x", 1, 0);
	s->flags |= IOSQE_IO_LINK;
	s = get(2);
	io_uring_prep_nop(s);
	run_chain(3, n2);

	/* 3: asks for 64 bytes of an 11-byte file */
	s = get(0);
	io_uring_prep_read(s, fd, buf, sizeof(buf), 0);
	s->flags |= IOSQE_IO_LINK;
	s = get(1);
	io_uring_prep_nop(s);
	run_chain(2, n3);

	/* 4 */
	s = get(0);
	io_uring_prep_read(s, fd, buf, sizeof(buf), 0);
	s->flags |= IOSQE_IO_HARDLINK;
	s = get(1);
	io_uring_prep_nop(s);
	run_chain(2, n4);

	/* 5 */
	s = get(0);
	io_uring_prep_read(s, p[0], buf, sizeof(buf), 0);
	s->flags |= IOSQE_IO_LINK;
	s = get(1);
	io_uring_prep_link_timeout(s, &ts20, 0);
	run_chain(2, n5);

	/* 6 */
	s = get(0);
	io_uring_prep_nop(s);
	s->flags |= IOSQE_IO_LINK;
	s = get(1);
	io_uring_prep_link_timeout(s, &ts5s, 0);
	run_chain(2, n6);

	close(fd);
	close(p[0]);
	close(p[1]);
	io_uring_queue_exit(&ring);
	return 0;
}
