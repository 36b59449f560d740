/* uring_xcheck_timeout: timeouts, cancellation and poll.
 *   timeout 10ms expires with -ETIME; a timeout with count 1 is satisfied by
 *   a NOP (res 0); a read blocked on an empty pipe is cancelled with
 *   IORING_OP_ASYNC_CANCEL (cancel 0, read -ECANCELED); cancelling an unknown
 *   user_data gives -ENOENT; poll on a socket: POLLIN once data arrives,
 *   POLLOUT at once; poll on a bad fd gives -EBADF.
 * No arguments. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct __kernel_timespec ts10 = { .tv_sec = 0, .tv_nsec = 10000000 };
	struct __kernel_timespec ts5s = { .tv_sec = 5, .tv_nsec = 0 };
	char buf[16];
	int res[16], p[2], sv[2], ret;

	if (pipe2(p, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	ret = io_uring_queue_init(16, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}

	io_uring_prep_timeout(get(0), &ts10, 0, 0);
	submit(1);
	reap(1, res);
	trace_neg("timeout", res[0]);

	io_uring_prep_timeout(get(0), &ts5s, 1, 0);
	submit(1);
	io_uring_prep_nop(get(1));
	submit(1);
	reap(2, res);
	trace_neg("timeout_count", res[0]);
	trace_neg("nop", res[1]);

	io_uring_prep_read(get(0), p[0], buf, sizeof(buf), 0);
	submit(1);
	usleep(10000);
	io_uring_prep_cancel64(get(1), 0, 0);
	submit(1);
	reap(2, res);
	trace_neg("read_pipe", res[0]);
	trace_neg("cancel", res[1]);

	io_uring_prep_cancel64(get(0), 12345, 0);
	submit(1);
	reap(1, res);
	trace_neg("cancel_unknown", res[0]);

	io_uring_prep_poll_add(get(0), sv[0], POLLIN);
	submit(1);
	usleep(10000);
	trace_errno("send", write(sv[1], "x", 1));
	reap(1, res);
	trace_neg("poll_in", res[0]);

	io_uring_prep_poll_add(get(0), sv[0], POLLOUT);
	submit(1);
	reap(1, res);
	trace_neg("poll_out", res[0]);

	io_uring_prep_poll_add(get(0), 9999, POLLIN);
	submit(1);
	reap(1, res);
	trace_neg("poll_badfd", res[0]);

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	io_uring_queue_exit(&ring);
	return 0;
}
