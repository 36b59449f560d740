/* uring_xcheck_net: TCP on loopback through io_uring: accept and connect
 * in flight together, send, recv, poll for input, recv of the peer's
 * shutdown (0), connect to a closed port (-ECONNREFUSED), send on a bad fd
 * and on a file, recv on a listening socket.
 * Each side makes its own listener on 127.0.0.1 (port 0) and closed port, so
 * only port-independent results are printed; the accepted descriptor is
 * printed as "fd" (its number differs between processes).
 * argv[1]: a file path the program may create (for the ENOTSOCK case). */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP socket bound to 127.0.0.1 on an ephemeral port; *sa gets the address. */
static int bound(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    getsockname(fd, (struct sockaddr *)sa, &len))
		exit(1);
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, ca;
	char buf[16];
	int res[4], lfd, cfd, afd, closed, file, ret;

	if (argc != 2)
		return 2;
	ret = io_uring_queue_init(16, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}
	lfd = bound(&la);
	if (listen(lfd, 8))
		return 1;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	io_uring_prep_accept(get(0), lfd, NULL, NULL, SOCK_CLOEXEC);
	submit(1);
	io_uring_prep_connect(get(1), cfd, (struct sockaddr *)&la, sizeof(la));
	submit(1);
	reap(2, res);
	afd = res[0];
	trace_neg("accept", afd >= 0 ? 0 : afd);
	trace_neg("connect", res[1]);

	io_uring_prep_send(get(0), cfd, "hello", 5, 0);
	trace_neg("send", run1());
	memset(buf, 0, sizeof(buf));
	io_uring_prep_recv(get(0), afd, buf, sizeof(buf), 0);
	ret = run1();
	trace_neg("recv", ret);
	trace_line("data %.*s", ret > 0 ? ret : 0, buf);

	io_uring_prep_poll_add(get(0), afd, POLLIN);
	submit(1);
	io_uring_prep_send(get(1), cfd, "!", 1, 0);
	submit(1);
	reap(2, res);
	trace_neg("poll_in", res[0]);
	trace_neg("send", res[1]);
	io_uring_prep_recv(get(0), afd, buf, sizeof(buf), 0);
	trace_neg("recv", run1());

	trace_errno("shutdown", shutdown(cfd, SHUT_WR));
	io_uring_prep_recv(get(0), afd, buf, sizeof(buf), 0);
	trace_neg("recv_eof", run1());

	closed = bound(&ca);
	close(closed);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	io_uring_prep_connect(get(0), cfd, (struct sockaddr *)&ca, sizeof(ca));
	trace_neg("connect_refused", run1());

	io_uring_prep_send(get(0), 9999, "x", 1, 0);
	trace_neg("send_badfd", run1());
	file = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	io_uring_prep_send(get(0), file, "x", 1, 0);
	trace_neg("send_file", run1());
	io_uring_prep_recv(get(0), lfd, buf, sizeof(buf), 0);
	trace_neg("recv_listener", run1());

	close(file);
	close(afd);
	close(cfd);
	close(lfd);
	io_uring_queue_exit(&ring);
	return 0;
}
