/* posixaio_xcheck_fork: what happens to glibc POSIX AIO across fork(2).
 *
 * usage: posixaio_xcheck_fork FILE   (FILE holds at least 4096 bytes)
 *
 * The parent leaves one read in progress (a glibc thread blocks on an empty
 * pipe) and one glibc thread idle, then forks. The
 * child inherits glibc's request lists but none of its threads. The child
 * prints its steps first, then the parent its own.
 */
#include "trace.h"

#include <aio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void setup(struct aiocb *cb, int fd, void *buf, size_t n)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

static int wait_for(struct aiocb *cb, long ms)
{
	const struct aiocb *l[1] = { cb };
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	return aio_suspend(l, 1, &ts);
}

static void error_of(const char *op, struct aiocb *cb)
{
	int e = aio_error(cb);
	trace_ret(op, e ? -1 : 0, e);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	int p[2];
	if (pipe(p) < 0)
		return 1;
	int fd2 = open(argv[1], O_RDONLY);
	if (fd2 < 0)
		return 1;
	static char pbuf[4], cbuf[4096], qbuf[4];
	struct aiocb blocked, warm, fresh, behind;

	/* Two requests blocked at once need two glibc threads; once both have
	   finished, both threads idle (for aio_idle_time, 1 s). */
	int q1[2], q2[2];
	if (pipe(q1) < 0 || pipe(q2) < 0)
		return 1;
	static char w1[4], w2[4];
	struct aiocb warm2;
	setup(&warm, q1[0], w1, sizeof w1);
	setup(&warm2, q2[0], w2, sizeof w2);
	aio_read(&warm);
	aio_read(&warm2);
	usleep(50000);
	write(q1[1], "w1w1", 4);
	write(q2[1], "w2w2", 4);
	wait_for(&warm, 5000);
	wait_for(&warm2, 5000);
	usleep(20000);
	/* One of them takes this request and blocks in read(2); one stays idle. */
	setup(&blocked, p[0], pbuf, sizeof pbuf);
	aio_read(&blocked);
	usleep(50000);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		trace_line("child");
		error_of("child aio_error(inherited in-progress read)", &blocked);
		trace_errno("child aio_suspend(inherited, 200ms)", wait_for(&blocked, 200));
		trace_errno("child aio_cancel(inherited)", aio_cancel(p[0], &blocked));
		/* glibc thinks an idle thread exists: it hands the request to it. */
		setup(&fresh, fd2, cbuf, sizeof cbuf);
		trace_errno("child aio_read(new fd)", aio_read(&fresh));
		trace_errno("child aio_suspend(new fd, 300ms)", wait_for(&fresh, 300));
		error_of("child aio_error(new fd)", &fresh);
		/* A request for the inherited request's fd queues behind it. */
		setup(&behind, p[0], qbuf, sizeof qbuf);
		trace_errno("child aio_read(inherited fd)", aio_read(&behind));
		trace_errno("child aio_suspend(inherited fd, 200ms)", wait_for(&behind, 200));
		trace_errno("child aio_cancel(queued)", aio_cancel(p[0], &behind));
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	trace_line("parent");
	trace_ret("parent child exit", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	error_of("parent aio_error(blocked read)", &blocked);
	trace_errno("parent write(pipe)", write(p[1], "wake", 4));
	trace_errno("parent aio_suspend(blocked read)", wait_for(&blocked, 5000));
	trace_errno("parent aio_return(blocked read)", aio_return(&blocked));
	return 0;
}
