/* posixaio_xcheck_basic: aio_write, aio_fsync, aio_read, aio_error,
 * aio_return (twice), bad input, 64-bit offsets, aio_suspend timeout and the
 * three aio_cancel answers.
 *
 * usage: posixaio_xcheck_basic FILE   (FILE is created)
 */
#include "posixaio_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	static char data[8192], got[8192];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7 + 3);
	struct aiocb a, b;

	pa_setup(&a, fd, data, sizeof data, 4096);
	trace_errno("aio_write", aio_write(&a));
	pa_wait(&a);
	pa_trace_error("aio_error", &a);
	pa_trace_return("aio_return", &a);
	pa_trace_return("aio_return again", &a);

	pa_setup(&b, fd, NULL, 0, 0);
	trace_errno("aio_fsync O_SYNC", aio_fsync(O_SYNC, &b));
	pa_wait(&b);
	pa_trace_return("aio_return fsync", &b);
	trace_errno("aio_fsync O_DSYNC", aio_fsync(O_DSYNC, &b));
	pa_wait(&b);
	pa_trace_return("aio_return fdatasync", &b);
	trace_errno("aio_fsync bad op", aio_fsync(12345, &b));

	pa_setup(&a, fd, got, sizeof got, 4096);
	trace_errno("aio_read", aio_read(&a));
	pa_wait(&a);
	pa_trace_return("aio_return read", &a);
	trace_line("equal %d", memcmp(got, data, sizeof got) == 0);

	pa_setup(&a, fd, got, 100, 1 << 20);
	aio_read(&a);
	pa_wait(&a);
	pa_trace_return("read at EOF", &a);

	pa_setup(&a, 98765, got, 100, 0);
	trace_errno("aio_read bad fd", aio_read(&a));
	pa_wait(&a);
	pa_trace_return("aio_return bad fd", &a);
	trace_errno("aio_fsync bad fd", aio_fsync(O_SYNC, &a));

	pa_setup(&a, fd, got, 100, -1);
	trace_errno("aio_read negative offset", aio_read(&a));
	pa_wait(&a);
	pa_trace_return("aio_return negative offset", &a);

	pa_setup(&a, fd, NULL, 0, 0);
	trace_errno("aio_read NULL buffer", aio_read(&a));
	pa_wait(&a);
	pa_trace_return("aio_return NULL buffer", &a);

	a.aio_reqprio = 21;
	trace_errno("aio_read reqprio 21", aio_read(&a));
	pa_trace_error("aio_error reqprio 21", &a);
	a.aio_reqprio = -1;
	trace_errno("aio_read reqprio -1", aio_read(&a));

	/* 64-bit offset: 5 GiB into a sparse file. */
	pa_setup(&a, fd, "far", 3, (off_t)5 << 30);
	aio_write(&a);
	pa_wait(&a);
	pa_trace_return("aio_write at 5GiB", &a);
	pa_setup(&a, fd, got, 16, (off_t)5 << 30);
	aio_read(&a);
	pa_wait(&a);
	pa_trace_return("aio_read at 5GiB", &a);
	trace_line("data %.3s", got);

	/* One descriptor: the first read runs (blocked on the empty pipe), the
	   others wait in glibc's queue. */
	int p[2];
	if (pipe(p) < 0)
		return 1;
	static char b1[4], b2[4], b3[4];
	struct aiocb r1, r2, r3, never;
	pa_setup(&r1, p[0], b1, 4, 0);
	pa_setup(&r2, p[0], b2, 4, 0);
	pa_setup(&r3, p[0], b3, 4, 0);
	aio_read(&r1);
	pa_wait_blocked_reader(p[0]);
	aio_read(&r2);
	aio_read(&r3);
	trace_errno("aio_suspend timeout", pa_suspend_ms(&r1, 20));
	trace_errno("aio_cancel running", aio_cancel(p[0], &r1));
	trace_errno("aio_cancel queued", aio_cancel(p[0], &r2));
	pa_trace_error("aio_error canceled", &r2);
	pa_trace_return("aio_return canceled", &r2);
	trace_errno("aio_cancel again", aio_cancel(p[0], &r2));
	trace_errno("aio_cancel all", aio_cancel(p[0], NULL));
	pa_trace_error("aio_error after cancel all", &r3);
	trace_errno("aio_cancel wrong fd", aio_cancel(p[1], &r1));
	trace_errno("aio_cancel bad fd", aio_cancel(98765, NULL));
	pa_setup(&never, p[0], NULL, 0, 0);
	trace_errno("aio_cancel never submitted", aio_cancel(p[0], &never));
	trace_errno("write pipe", write(p[1], "wake", 4));
	pa_wait(&r1);
	pa_trace_return("aio_return running", &r1);
	trace_errno("aio_cancel finished", aio_cancel(p[0], &r1));
	return 0;
}
