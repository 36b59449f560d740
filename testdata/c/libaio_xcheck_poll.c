/* libaio_xcheck_poll: IO_CMD_POLL on a pipe and io_cancel: a poll completes with the
 * ready mask; a pending poll is cancelled (EINPROGRESS) and completes with 0; cancelling
 * it again, an iocb never submitted, and an O_DIRECT read all give EINVAL; a read of an
 * empty O_NONBLOCK pipe completes with EAGAIN; a poll of a regular file is ready at once;
 * io_queue_run runs the callbacks set by io_fsync.
 * argv[1]: a file path the program may create (on a disk filesystem). */
#include "trace.h"
#include <fcntl.h>
#include <libaio.h>
#include "libaio_common.h"
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

static long callbacks;

static void on_done(io_context_t c, struct iocb *cb, long res, long res2)
{
	(void)c;
	(void)cb;
	callbacks += 1000 + res * 10 + res2;
}

int main(int argc, char **argv)
{
	struct iocb cb, never, *p = &cb;
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	unsigned char *buf;
	int pfd[2], fd, dfd, i;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pipe2(pfd, O_CLOEXEC) || posix_memalign((void **)&buf, 4096, 1 << 20))
		return 1;
	memset(buf, 'y', 1 << 20);
	if (pwrite(fd, buf, 1 << 20, 0) != 1 << 20 || fsync(fd))
		return 1;
	dfd = open(argv[1], O_RDONLY | O_DIRECT | O_CLOEXEC);
	trace_neg("io_queue_init", io_queue_init(4, &ctx));

	io_prep_poll(&cb, pfd[0], POLLIN);
	trace_neg("submit_poll", io_submit(ctx, 1, &p));
	trace_neg("getevents_not_ready", io_getevents(ctx, 0, 1, &ev, &zero));
	trace_errno("write_pipe", write(pfd[1], "z", 1));
	trace_neg("poll_event", get1());
	trace_errno("read_pipe", read(pfd[0], buf, 1));

	io_prep_poll(&cb, pfd[0], POLLIN);
	trace_neg("submit_poll", io_submit(ctx, 1, &p));
	trace_neg("cancel_poll", io_cancel(ctx, &cb, &ev));
	trace_neg("cancelled_event", get1());
	trace_neg("cancel_again", io_cancel(ctx, &cb, &ev));
	io_prep_poll(&never, pfd[0], POLLIN);
	trace_neg("cancel_never_submitted", io_cancel(ctx, &never, &ev));

	io_prep_pread(&cb, dfd, buf, 1 << 20, 0);
	trace_neg("submit_read", io_submit(ctx, 1, &p));
	trace_neg("cancel_read", io_cancel(ctx, &cb, &ev));
	trace_neg("read_event", get1());

	/* A pipe read runs inside io_submit: on an empty O_NONBLOCK pipe its event is
	 * EAGAIN. A poll of a regular file (no poll method) is ready at once. */
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	io_prep_pread(&cb, pfd[0], buf, 16, 0);
	trace_neg("submit_pipe_read_nonblock", io_submit(ctx, 1, &p));
	trace_neg("pipe_read_event", get1());
	io_prep_poll(&cb, fd, POLLIN);
	trace_neg("submit_poll_regular", io_submit(ctx, 1, &p));
	trace_neg("poll_regular_event", get1());

	for (i = 0; i < 2; i++) {
		trace_neg(i ? "io_fdsync" : "io_fsync", i ? io_fdsync(ctx, &cb, on_done, fd) : io_fsync(ctx, &cb, on_done, fd));
		/* The sync runs in a kernel worker: io_queue_run until its callback ran. */
		while (callbacks == (long)i * 1000) {
			int r = io_queue_run(ctx);
			if (r < 0 && r != -EINTR) {
				trace_neg("io_queue_run", r);
				return 1;
			}
		}
	}
	trace_ret("callbacks", callbacks, 0);
	trace_neg("io_queue_release", io_queue_release(ctx));
	return 0;
}
