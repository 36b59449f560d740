/* uring_xcheck_netops: the network, poll, timeout, buffer, message and
 * cancel prep helpers on loopback TCP/UDP sockets, socketpairs and pipes,
 * one section per run (argv[1]), each with a fresh ring:
 *
 *   socket    socket, socket_direct, socket_direct_alloc (sparse table of 3)
 *   shutdown  shutdown SHUT_WR (peer reads 0, half-close), bad how, pipe,
 *             bad fd, unconnected socket, SHUT_RDWR
 *   msg       sendmsg/recvmsg with iovecs over UDP (control data absent,
 *             MSG_TRUNC short and with the flag), errors, send_set_addr
 *   zc        send_zc (also from a registered buffer), sendmsg_zc: the
 *             result CQE, then the notification
 *   accept    multishot_accept (3 connects, cancel), accept_direct into a
 *             sparse table, multishot_accept_direct on a second ring
 *   recvms    recv_multishot on a buffer ring (ENOBUFS once dry, re-armed,
 *             peer shutdown); recvmsg_multishot on UDP on a second ring with
 *             the io_uring_recvmsg_* helpers
 *   pbuf      provide_buffers / remove_buffers, recv with IOSQE_BUFFER_SELECT
 *   poll      poll_add masks, poll_remove, poll_update, poll_multishot
 *   timeout   timeout_remove, timeout_update, IORING_TIMEOUT_ABS
 *   msgring   msg_ring to a second ring, to a pipe, to a bad fd
 *   cancel    io_uring_prep_cancel by pointer (one, ALL), cancel_fd
 *   epoll     epoll_ctl add/mod/del and their errors
 *
 * Descriptor results are printed as 0 (their numbers differ between
 * processes); fixed-file slots, byte counts, masks and the deterministic CQE
 * flags (more, notif, buffer and its id) are printed as they are. Where two
 * CQEs may arrive in either order (a zero-copy result and its
 * notification) they are printed in a fixed order. The Go side is
 * uring/xcheck_netops_test.go. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The second ring of the sections that need one (the Go side's raw Ring). */
static struct io_uring ring2;

static void fail(const char *what, long ret)
{
	fprintf(stderr, "%s: %ld (errno %d)\n", what, ret, errno);
	exit(1);
}

/* A descriptor result as printed: 0, or the error. */
static int fdres(int res)
{
	return res >= 0 ? 0 : res;
}

/* Submits what is prepared on r (want SQEs). */
static void submit_on(struct io_uring *r, int want)
{
	int ret = io_uring_submit(r);

	if (ret != want)
		fail("io_uring_submit", ret);
}

/* Waits for the next CQE of r and returns its fields. */
static void next_cqe(struct io_uring *r, __u64 *ud, int *res, unsigned *flags)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(r, &cqe);

	if (ret)
		fail("io_uring_wait_cqe", ret);
	*ud = cqe->user_data;
	*res = cqe->res;
	*flags = cqe->flags;
	io_uring_cqe_seen(r, cqe);
}

/* Submits the one SQE prepared on r, returns its res and, in *flags, its
   CQE flags. */
static int run1_flags(struct io_uring *r, unsigned *flags)
{
	__u64 ud;
	int res;

	submit_on(r, 1);
	next_cqe(r, &ud, &res, flags);
	return res;
}

/* The CQE flags every section prints: those that do not depend on timing
   (IORING_CQE_F_SOCK_NONEMPTY does, and is left out). */
static void trace_flags(const char *op, unsigned f)
{
	int buf = !!(f & IORING_CQE_F_BUFFER);

	trace_line("%s more=%d notif=%d buffer=%d bid=%u", op,
		   !!(f & IORING_CQE_F_MORE), !!(f & IORING_CQE_F_NOTIF), buf,
		   buf ? f >> IORING_CQE_BUFFER_SHIFT : 0);
}

static void trace_cqe(const char *op, int res, unsigned flags)
{
	trace_neg(op, res);
	trace_flags(op, flags);
}

static struct sockaddr_in loopback(void)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A socket of type bound to 127.0.0.1 on an ephemeral port, *sa its address. */
static int bound(int type, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	*sa = loopback();
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    getsockname(fd, (struct sockaddr *)sa, &len))
		fail("bind", fd);
	return fd;
}

static int listener(struct sockaddr_in *sa)
{
	int fd = bound(SOCK_STREAM, sa);

	if (listen(fd, 8))
		fail("listen", -1);
	return fd;
}

/* A blocking connect to sa: on loopback it returns once the connection sits
   in the listener's backlog. */
static int dial(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		fail("connect", fd);
	return fd;
}

/* A connected loopback TCP pair: *c the client, *a the accepted side. */
static void tcp_pair(int *c, int *a)
{
	struct sockaddr_in sa;
	int lfd = listener(&sa);

	*c = dial(&sa);
	*a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*a < 0)
		fail("accept4", *a);
	close(lfd);
}

static void pipe_or_die(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		fail("pipe2", -1);
}

/* Receives on fd through the ring into buf and prints the count and data. */
static void recv_data(const char *op, int fd, char *buf, int len)
{
	int res;

	io_uring_prep_recv(get(0), fd, buf, len, 0);
	res = run1();
	trace_neg(op, res);
	trace_line("data %.*s", res > 0 ? res : 0, buf);
}

static void init_ring(struct io_uring *r, unsigned entries)
{
	int ret = io_uring_queue_init(entries, r, 0);

	if (ret)
		fail("io_uring_queue_init", ret);
}

static void sec_socket(void)
{
	struct io_uring_sqe *s;
	int res;

	io_uring_prep_socket(get(0), AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);
	res = run1();
	trace_neg("socket_tcp", fdres(res));
	if (res >= 0)
		close(res);
	io_uring_prep_socket(get(0), AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0);
	res = run1();
	trace_neg("socket_udp", fdres(res));
	if (res >= 0)
		close(res);
	io_uring_prep_socket(get(0), AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, 0);
	res = run1();
	trace_neg("socket_unix", fdres(res));
	if (res >= 0)
		close(res);
	io_uring_prep_socket(get(0), 12345, SOCK_STREAM, 0, 0);
	trace_neg("socket_bad_domain", fdres(run1()));
	io_uring_prep_socket(get(0), AF_INET, SOCK_STREAM, IPPROTO_UDP, 0);
	trace_neg("socket_bad_protocol", fdres(run1()));
	io_uring_prep_socket(get(0), AF_INET, SOCK_STREAM | 0x1000, 0, 0);
	trace_neg("socket_bad_type_flag", fdres(run1()));
	io_uring_prep_socket(get(0), AF_INET, SOCK_STREAM, 0, 1);
	trace_neg("socket_bad_sqe_flags", fdres(run1()));

	io_uring_prep_socket_direct(get(0), AF_INET, SOCK_STREAM, 0, 1, 0);
	trace_neg("socket_direct_no_table", run1());
	trace_neg("register_files_sparse", io_uring_register_files_sparse(&ring, 3));
	io_uring_prep_socket_direct(get(0), AF_INET, SOCK_STREAM, 0, 1, 0);
	trace_neg("socket_direct", run1());
	io_uring_prep_socket_direct(get(0), AF_INET, SOCK_STREAM, 0, 5, 0);
	trace_neg("socket_direct_range", run1());
	io_uring_prep_socket_direct(get(0), AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0);
	trace_neg("socket_direct_cloexec", run1());
	io_uring_prep_socket_direct_alloc(get(0), AF_INET, SOCK_DGRAM, 0, 0);
	trace_neg("socket_direct_alloc", run1());
	io_uring_prep_socket_direct_alloc(get(0), AF_INET, SOCK_STREAM, 0, 0);
	trace_neg("socket_direct_alloc", run1());
	io_uring_prep_socket_direct_alloc(get(0), AF_INET, SOCK_STREAM, 0, 0);
	trace_neg("socket_direct_alloc_full", run1());
	/* Slot 1 holds an unconnected TCP socket, slot 0 a UDP one. */
	s = get(0);
	io_uring_prep_shutdown(s, 1, SHUT_RDWR);
	s->flags |= IOSQE_FIXED_FILE;
	trace_neg("shutdown_fixed_tcp", run1());
	io_uring_prep_socket_direct(get(0), AF_INET, SOCK_DGRAM, 0, 1, 0);
	trace_neg("socket_direct_replace", run1());
	trace_neg("unregister_files", io_uring_unregister_files(&ring));
}

static void sec_shutdown(void)
{
	char buf[16];
	struct sockaddr_in sa;
	int cfd, afd, p[2], lone;

	tcp_pair(&cfd, &afd);
	pipe_or_die(p);
	io_uring_prep_shutdown(get(0), cfd, SHUT_WR);
	trace_neg("shutdown_wr", run1());
	recv_data("recv_eof", afd, buf, sizeof(buf));
	io_uring_prep_send(get(0), afd, "back", 4, MSG_NOSIGNAL);
	trace_neg("send_half_open", run1());
	recv_data("recv_half_open", cfd, buf, sizeof(buf));
	io_uring_prep_send(get(0), cfd, "x", 1, MSG_NOSIGNAL);
	trace_neg("send_after_shutdown", run1());
	io_uring_prep_shutdown(get(0), cfd, 7);
	trace_neg("shutdown_bad_how", run1());
	io_uring_prep_shutdown(get(0), p[0], SHUT_WR);
	trace_neg("shutdown_pipe", run1());
	io_uring_prep_shutdown(get(0), 9999, SHUT_WR);
	trace_neg("shutdown_badfd", run1());
	lone = bound(SOCK_STREAM, &sa);
	io_uring_prep_shutdown(get(0), lone, SHUT_RD);
	trace_neg("shutdown_unconnected", run1());
	io_uring_prep_shutdown(get(0), afd, SHUT_RDWR);
	trace_neg("shutdown_rdwr", run1());
	recv_data("recv_eof", cfd, buf, sizeof(buf));
	close(lone);
	close(p[0]);
	close(p[1]);
	close(cfd);
	close(afd);
}

/* Prints what recvmsg left in mh besides the count. */
static void trace_msg(const char *op, const struct msghdr *mh)
{
	const struct sockaddr_in *from = mh->msg_name;
	char addr[INET_ADDRSTRLEN] = "-";

	if (mh->msg_namelen >= sizeof(*from) && from->sin_family == AF_INET)
		inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	trace_line("%s controllen=%zu flags=%d from=%s", op, (size_t)mh->msg_controllen,
		   mh->msg_flags, addr);
}

/* Clears mh and points it at name (NULL: none) and n iovecs; no control
   data. */
static void msg_set(struct msghdr *mh, void *name, socklen_t namelen, struct iovec *iov, int n)
{
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = name;
	mh->msg_namelen = namelen;
	mh->msg_iov = iov;
	mh->msg_iovlen = n;
}

static void iov_set(struct iovec *v, void *base, size_t len)
{
	v->iov_base = base;
	v->iov_len = len;
}

static void sec_msg(void)
{
	struct sockaddr_in a1, a2;
	struct sockaddr_storage from;
	struct iovec iov[2];
	struct msghdr mh;
	struct io_uring_sqe *s;
	char a[4], b[16], ctl[64], buf[16];
	int u1, u2, p[2], res;

	u1 = bound(SOCK_DGRAM, &a1);
	u2 = bound(SOCK_DGRAM, &a2);
	pipe_or_die(p);

	iov_set(&iov[0], "hello ", 6);
	iov_set(&iov[1], "world", 5);
	msg_set(&mh, &a2, sizeof(a2), iov, 2);
	io_uring_prep_sendmsg(get(0), u1, &mh, 0);
	trace_neg("sendmsg_iov", run1());

	memset(&from, 0, sizeof(from));
	iov_set(&iov[0], a, sizeof(a));
	iov_set(&iov[1], b, sizeof(b));
	msg_set(&mh, &from, sizeof(from), iov, 2);
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof(ctl);
	io_uring_prep_recvmsg(get(0), u2, &mh, 0);
	res = run1();
	trace_neg("recvmsg_iov", res);
	trace_line("data %.4s|%.*s", a, res > 4 ? res - 4 : 0, b);
	trace_msg("recvmsg_iov", &mh);

	/* A datagram longer than the buffer: cut, MSG_TRUNC in msg_flags; with
	   MSG_TRUNC in the call, the result is the datagram's length. */
	for (int trunc = 0; trunc < 2; trunc++) {
		iov_set(&iov[0], "0123456789", 10);
		msg_set(&mh, &a2, sizeof(a2), iov, 1);
		io_uring_prep_sendmsg(get(0), u1, &mh, 0);
		trace_neg("sendmsg", run1());
		iov_set(&iov[0], a, sizeof(a));
		msg_set(&mh, &from, sizeof(from), iov, 1);
		io_uring_prep_recvmsg(get(0), u2, &mh, trunc ? MSG_TRUNC : 0);
		res = run1();
		trace_neg(trunc ? "recvmsg_trunc_flag" : "recvmsg_short", res);
		trace_line("data %.*s", res > 0 ? (res < 4 ? res : 4) : 0, a);
		trace_msg(trunc ? "recvmsg_trunc_flag" : "recvmsg_short", &mh);
	}

	iov_set(&iov[0], "x", 1);
	msg_set(&mh, NULL, 0, iov, 1);
	io_uring_prep_sendmsg(get(0), u1, &mh, 0);
	trace_neg("sendmsg_noaddr", run1());
	io_uring_prep_sendmsg(get(0), p[1], &mh, 0);
	trace_neg("sendmsg_pipe", run1());
	iov_set(&iov[0], buf, sizeof(buf));
	msg_set(&mh, NULL, 0, iov, 1);
	io_uring_prep_recvmsg(get(0), 9999, &mh, 0);
	trace_neg("recvmsg_badfd", run1());
	io_uring_prep_recvmsg(get(0), u2, &mh, MSG_DONTWAIT);
	trace_neg("recvmsg_dontwait", run1());

	s = get(0);
	io_uring_prep_send(s, u1, "sendto", 6, 0);
	io_uring_prep_send_set_addr(s, (struct sockaddr *)&a2, sizeof(a2));
	trace_neg("send_set_addr", run1());
	recv_data("recv", u2, buf, sizeof(buf));
	io_uring_prep_send(get(0), u1, "x", 1, 0);
	trace_neg("send_noaddr", run1());
	s = get(0);
	io_uring_prep_send(s, u1, "x", 1, 0);
	io_uring_prep_send_set_addr(s, (struct sockaddr *)&a2, 3);
	trace_neg("send_set_addr_short", run1());

	close(p[0]);
	close(p[1]);
	close(u1);
	close(u2);
}

/* Submits the zero-copy send prepared with user_data 7 and prints its CQEs:
   the result, then, when the result carries IORING_CQE_F_MORE, the
   notification (IORING_CQE_F_NOTIF), whichever the kernel posted first.
   Returns the result. */
static int run_zc(const char *op)
{
	char name[64];
	unsigned flags, rflags = 0, nflags = 0;
	int res, rres = 0, nres = 0, got = 0, notif = 0, same = 1;
	__u64 ud;

	submit(1);
	while (!got || ((rflags & IORING_CQE_F_MORE) && !notif)) {
		next_cqe(&ring, &ud, &res, &flags);
		same &= ud == 7;
		if (flags & IORING_CQE_F_NOTIF) {
			notif = 1;
			nres = res;
			nflags = flags;
		} else {
			got = 1;
			rres = res;
			rflags = flags;
		}
	}
	trace_cqe(op, rres, rflags);
	if (notif) {
		snprintf(name, sizeof(name), "%s_notif", op);
		trace_cqe(name, nres, nflags);
	}
	trace_line("%s user_data_kept=%d", op, same);
	return rres;
}

static void sec_zc(void)
{
	static char fixedbuf[16];
	struct sockaddr_in a1, a2;
	struct iovec iov[2], fixed;
	struct msghdr mh;
	struct io_uring_sqe *s;
	char buf[16];
	int cfd, afd, u1, u2, p[2], sv[2];

	tcp_pair(&cfd, &afd);
	u1 = bound(SOCK_DGRAM, &a1);
	u2 = bound(SOCK_DGRAM, &a2);
	pipe_or_die(p);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fail("socketpair", -1);

	io_uring_prep_send_zc(get(7), cfd, "hello", 5, 0, 0);
	run_zc("send_zc");
	recv_data("recv", afd, buf, sizeof(buf));
	s = get(7);
	io_uring_prep_send_zc(s, u1, "dgram", 5, 0, 0);
	io_uring_prep_send_set_addr(s, (struct sockaddr *)&a2, sizeof(a2));
	run_zc("send_zc_set_addr");
	recv_data("recv", u2, buf, sizeof(buf));
	io_uring_prep_send_zc(get(7), u1, "x", 1, 0, 0);
	run_zc("send_zc_noaddr");
	io_uring_prep_send_zc(get(7), sv[0], "x", 1, 0, 0);
	run_zc("send_zc_unix");
	io_uring_prep_send_zc(get(7), p[1], "x", 1, 0, 0);
	run_zc("send_zc_pipe");
	io_uring_prep_send_zc(get(7), 9999, "x", 1, 0, 0);
	run_zc("send_zc_badfd");
	io_uring_prep_send_zc(get(7), cfd, "x", 1, 0, 0x80);
	run_zc("send_zc_bad_zc_flags");
	/* From a registered buffer: index 0, then an index not registered. */
	fixed.iov_base = fixedbuf;
	fixed.iov_len = sizeof(fixedbuf);
	memcpy(fixedbuf, "fixed", 5);
	trace_neg("register_buffers", io_uring_register_buffers(&ring, &fixed, 1));
	io_uring_prep_send_zc_fixed(get(7), cfd, fixedbuf, 5, 0, 0, 0);
	run_zc("send_zc_fixed");
	recv_data("recv", afd, buf, sizeof(buf));
	io_uring_prep_send_zc_fixed(get(7), cfd, fixedbuf, 5, 0, 0, 3);
	run_zc("send_zc_fixed_badindex");
	trace_neg("unregister_buffers", io_uring_unregister_buffers(&ring));

	iov_set(&iov[0], "ab", 2);
	iov_set(&iov[1], "cd", 2);
	msg_set(&mh, NULL, 0, iov, 2);
	io_uring_prep_sendmsg_zc(get(7), cfd, &mh, 0);
	run_zc("sendmsg_zc");
	recv_data("recv", afd, buf, sizeof(buf));
	mh.msg_name = &a2;
	mh.msg_namelen = sizeof(a2);
	io_uring_prep_sendmsg_zc(get(7), u1, &mh, 0);
	run_zc("sendmsg_zc_name");
	recv_data("recv", u2, buf, sizeof(buf));
	mh.msg_name = NULL;
	mh.msg_namelen = 0;
	io_uring_prep_sendmsg_zc(get(7), u1, &mh, 0);
	run_zc("sendmsg_zc_noaddr");
	io_uring_prep_sendmsg_zc(get(7), 9999, &mh, 0);
	run_zc("sendmsg_zc_badfd");

	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	close(u1);
	close(u2);
	close(cfd);
	close(afd);
}

static void sec_accept(void)
{
	struct sockaddr_in sa, other;
	struct io_uring_sqe *s;
	unsigned flags;
	char buf[16];
	int lfd, c[3], i, res, fl = 0, lone, p[2];
	__u64 ud;

	lfd = listener(&sa);
	pipe_or_die(p);

	io_uring_prep_multishot_accept(get(0), lfd, NULL, NULL, SOCK_CLOEXEC);
	submit(1);
	for (i = 0; i < 3; i++) {
		c[i] = dial(&sa);
		next_cqe(&ring, &ud, &res, &flags);
		trace_cqe("multishot_accept", fdres(res), flags);
		if (res >= 0)
			close(res);
	}
	io_uring_prep_cancel64(get(1), 0, 0);
	submit(1);
	/* The cancel's CQE and the accept's last one, by user_data. */
	for (i = 0; i < 2; i++) {
		next_cqe(&ring, &ud, &res, &flags);
		if (ud == 1)
			fl = res;
		else
			trace_cqe("multishot_accept_final", res, flags);
	}
	trace_neg("cancel_multishot_accept", fl);
	for (i = 0; i < 3; i++)
		close(c[i]);

	lone = bound(SOCK_STREAM, &other);
	io_uring_prep_multishot_accept(get(0), lone, NULL, NULL, SOCK_CLOEXEC);
	res = run1_flags(&ring, &flags);
	trace_cqe("multishot_accept_unlistened", res, flags);
	io_uring_prep_accept(get(0), p[0], NULL, NULL, SOCK_CLOEXEC);
	trace_neg("accept_pipe", fdres(run1()));

	trace_neg("register_files_sparse", io_uring_register_files_sparse(&ring, 2));
	c[0] = dial(&sa);
	io_uring_prep_accept_direct(get(0), lfd, NULL, NULL, 0, 1);
	trace_neg("accept_direct", run1());
	c[1] = dial(&sa);
	io_uring_prep_accept_direct(get(0), lfd, NULL, NULL, 0, IORING_FILE_INDEX_ALLOC - 1);
	trace_neg("accept_direct_alloc", run1());
	c[2] = dial(&sa);
	io_uring_prep_accept_direct(get(0), lfd, NULL, NULL, 0, IORING_FILE_INDEX_ALLOC - 1);
	trace_neg("accept_direct_alloc_full", run1());
	io_uring_prep_accept_direct(get(0), lfd, NULL, NULL, SOCK_CLOEXEC, 0);
	trace_neg("accept_direct_cloexec", run1());
	s = get(0);
	io_uring_prep_send(s, 1, "via1", 4, MSG_NOSIGNAL);
	s->flags |= IOSQE_FIXED_FILE;
	trace_neg("send_fixed", run1());
	res = read(c[0], buf, sizeof(buf));
	trace_errno("read_client", res);
	trace_line("data %.*s", res > 0 ? res : 0, buf);
	trace_neg("unregister_files", io_uring_unregister_files(&ring));
	for (i = 0; i < 3; i++)
		close(c[i]);

	/* Multishot into a table of 2 on the second ring: slots 0 and 1, then
	   the table is full and the request ends. */
	init_ring(&ring2, 8);
	trace_neg("register_files_sparse", io_uring_register_files_sparse(&ring2, 2));
	io_uring_prep_multishot_accept_direct(io_uring_get_sqe(&ring2), lfd, NULL, NULL, 0);
	submit_on(&ring2, 1);
	for (i = 0; i < 3; i++) {
		c[i] = dial(&sa);
		next_cqe(&ring2, &ud, &res, &flags);
		trace_cqe("multishot_accept_direct", res, flags);
	}
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_send(s, 0, "via0", 4, MSG_NOSIGNAL);
	s->flags |= IOSQE_FIXED_FILE;
	trace_neg("send_fixed", run1_flags(&ring2, &flags));
	res = read(c[0], buf, sizeof(buf));
	trace_errno("read_client", res);
	trace_line("data %.*s", res > 0 ? res : 0, buf);
	trace_neg("unregister_files", io_uring_unregister_files(&ring2));
	for (i = 0; i < 3; i++)
		close(c[i]);
	io_uring_queue_exit(&ring2);

	close(lone);
	close(p[0]);
	close(p[1]);
	close(lfd);
}

/* A registered buffer ring of n entries for group bgid over n buffers of
   size bytes at mem, all added. */
static struct io_uring_buf_ring *buf_ring(struct io_uring *r, int n, int bgid, char *mem, int size)
{
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	int i, ret;

	br = mmap(NULL, n * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		fail("mmap", -1);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = n;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(r, &reg, 0);
	trace_neg("register_buf_ring", ret);
	io_uring_buf_ring_init(br);
	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(br, mem + i * size, size, i, io_uring_buf_ring_mask(n), i);
	io_uring_buf_ring_advance(br, n);
	return br;
}

/* Prints a recvmsg_multishot CQE's buffer through the io_uring_recvmsg_*
   helpers. */
static void trace_recvmsg_out(char *buf, int res, struct msghdr *mh)
{
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, mh);
	struct sockaddr_in *name;
	char addr[INET_ADDRSTRLEN] = "-";
	unsigned plen;

	trace_line("validate_short %d", io_uring_recvmsg_validate(buf, 8, mh) != NULL);
	if (!o) {
		trace_line("validate 0");
		return;
	}
	name = io_uring_recvmsg_name(o);
	if (o->namelen >= sizeof(*name) && name->sin_family == AF_INET)
		inet_ntop(AF_INET, &name->sin_addr, addr, sizeof(addr));
	plen = io_uring_recvmsg_payload_length(o, res, mh);
	trace_line("validate 1 namelen=%u controllen=%u payloadlen=%u flags=%u name=%s cmsg=%d payload_length=%u",
		   o->namelen, o->controllen, o->payloadlen, o->flags, addr,
		   io_uring_recvmsg_cmsg_firsthdr(o, mh) != NULL, plen);
	trace_line("payload %.*s", plen > 16 ? 16 : (int)plen, (char *)io_uring_recvmsg_payload(o, mh));
}

static void sec_recvms(void)
{
	struct sockaddr_in a1, a2;
	struct io_uring_buf_ring *br;
	struct io_uring_sqe *s;
	struct msghdr mh;
	unsigned flags;
	char *mem, big[200], buf[16];
	int cfd, afd, u1, u2, res, i;
	const char *msgs[] = { "one", "two", "three" };
	__u64 ud;

	/* recv_multishot, group 1: two 64-byte buffers. */
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap", -1);
	br = buf_ring(&ring, 2, 1, mem, 64);
	tcp_pair(&cfd, &afd);
	s = get(0);
	io_uring_prep_recv_multishot(s, afd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 1;
	submit(1);
	for (i = 0; i < 3; i++) {
		if (write(cfd, msgs[i], strlen(msgs[i])) < 0)
			fail("write", -1);
		next_cqe(&ring, &ud, &res, &flags);
		trace_cqe("recv_multishot", res, flags);
		if (res > 0 && (flags & IORING_CQE_F_BUFFER))
			trace_line("data %.*s", res, mem + (flags >> IORING_CQE_BUFFER_SHIFT) * 64);
	}
	/* The data that found no buffer is still there. */
	recv_data("recv_left", afd, buf, sizeof(buf));
	/* Both buffers back, a new request; the peer's shutdown ends it. */
	for (i = 0; i < 2; i++)
		io_uring_buf_ring_add(br, mem + i * 64, 64, i, io_uring_buf_ring_mask(2), i);
	io_uring_buf_ring_advance(br, 2);
	s = get(0);
	io_uring_prep_recv_multishot(s, afd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 1;
	submit(1);
	if (write(cfd, "four", 4) < 0)
		fail("write", -1);
	next_cqe(&ring, &ud, &res, &flags);
	trace_cqe("recv_multishot", res, flags);
	if (res > 0 && (flags & IORING_CQE_F_BUFFER))
		trace_line("data %.*s", res, mem + (flags >> IORING_CQE_BUFFER_SHIFT) * 64);
	shutdown(cfd, SHUT_WR);
	next_cqe(&ring, &ud, &res, &flags);
	trace_cqe("recv_multishot_eof", res, flags);
	trace_neg("unregister_buf_ring", io_uring_unregister_buf_ring(&ring, 1));
	munmap(br, 2 * sizeof(struct io_uring_buf));

	/* The second ring: a multishot recv without IOSQE_BUFFER_SELECT, then
	   recvmsg_multishot on UDP with group 2, two 128-byte buffers; the name
	   area holds a sockaddr_in, no control area. */
	init_ring(&ring2, 8);
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_recv_multishot(s, afd, NULL, 0, 0);
	trace_cqe("recv_multishot_no_select", run1_flags(&ring2, &flags), flags);
	close(cfd);
	close(afd);
	br = buf_ring(&ring2, 2, 2, mem, 128);
	u1 = bound(SOCK_DGRAM, &a1);
	u2 = bound(SOCK_DGRAM, &a2);
	memset(&mh, 0, sizeof(mh));
	mh.msg_namelen = sizeof(struct sockaddr_in);
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_recvmsg_multishot(s, u2, &mh, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 2;
	submit_on(&ring2, 1);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 3; i++) {
		const char *m = i == 0 ? "datagram-1" : i == 1 ? big : "late";
		size_t len = i == 1 ? sizeof(big) : strlen(m);

		if (sendto(u1, m, len, 0, (struct sockaddr *)&a2, sizeof(a2)) < 0)
			fail("sendto", -1);
		next_cqe(&ring2, &ud, &res, &flags);
		trace_cqe("recvmsg_multishot", res, flags);
		if (res > 0 && (flags & IORING_CQE_F_BUFFER))
			trace_recvmsg_out(mem + (flags >> IORING_CQE_BUFFER_SHIFT) * 128, res, &mh);
		if (!(flags & IORING_CQE_F_MORE))
			break;
	}
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_recvmsg_multishot(s, 9999, &mh, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 2;
	trace_cqe("recvmsg_multishot_badfd", run1_flags(&ring2, &flags), flags);
	trace_neg("unregister_buf_ring", io_uring_unregister_buf_ring(&ring2, 2));
	munmap(br, 2 * sizeof(struct io_uring_buf));
	io_uring_queue_exit(&ring2);
	munmap(mem, 4096);
	close(u1);
	close(u2);
}

/* A recv of up to len bytes (0: the buffer's size) from group bgid. */
static void recv_select(const char *op, int fd, int len, int bgid, char *mem, int bid0)
{
	struct io_uring_sqe *s = get(0);
	unsigned flags;
	int res;

	io_uring_prep_recv(s, fd, NULL, len, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = bgid;
	res = run1_flags(&ring, &flags);
	trace_cqe(op, res, flags);
	if (res > 0 && (flags & IORING_CQE_F_BUFFER))
		trace_line("data %.*s", res, mem + ((flags >> IORING_CQE_BUFFER_SHIFT) - bid0) * 16);
}

static void sec_pbuf(void)
{
	char *mem;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fail("socketpair", -1);
	mem = malloc(4 * 16);
	if (!mem)
		fail("malloc", -1);
	memset(mem, 0, 4 * 16);

	/* Three 16-byte buffers, ids 10..12, group 5. */
	io_uring_prep_provide_buffers(get(0), mem, 16, 3, 5, 10);
	trace_neg("provide_buffers", run1());
	if (write(sv[1], "abc", 3) < 0)
		fail("write", -1);
	recv_select("recv_select", sv[0], 0, 5, mem, 10);
	if (write(sv[1], "defgh", 5) < 0)
		fail("write", -1);
	recv_select("recv_select", sv[0], 0, 5, mem, 10);
	if (write(sv[1], "ijklmnop", 8) < 0)
		fail("write", -1);
	recv_select("recv_select_len4", sv[0], 4, 5, mem, 10);
	recv_select("recv_select_empty", sv[0], 0, 5, mem, 10);
	recv_select("recv_select_unknown_group", sv[0], 0, 77, mem, 10);

	/* Two more (ids 20, 21, the first two buffers' memory); removing five
	   removes what is there. */
	io_uring_prep_provide_buffers(get(0), mem, 16, 2, 5, 20);
	trace_neg("provide_buffers", run1());
	io_uring_prep_remove_buffers(get(0), 5, 5);
	trace_neg("remove_buffers_more", run1());
	io_uring_prep_remove_buffers(get(0), 1, 5);
	trace_neg("remove_buffers_empty", run1());
	io_uring_prep_remove_buffers(get(0), 1, 99);
	trace_neg("remove_buffers_unknown", run1());
	io_uring_prep_remove_buffers(get(0), 0, 5);
	trace_neg("remove_buffers_zero", run1());
	io_uring_prep_provide_buffers(get(0), mem, 16, 0, 5, 0);
	trace_neg("provide_buffers_zero", run1());
	io_uring_prep_provide_buffers(get(0), mem, 16, 2, 5, 65535);
	trace_neg("provide_buffers_bid_overflow", run1());
	io_uring_prep_provide_buffers(get(0), mem, 16, 70000, 5, 0);
	trace_neg("provide_buffers_too_many", run1());
	/* One last provide and remove: the group is empty at exit. */
	io_uring_prep_provide_buffers(get(0), mem, 16, 1, 6, 0);
	trace_neg("provide_buffers", run1());
	recv_select("recv_select", sv[0], 0, 6, mem, 0);
	io_uring_prep_remove_buffers(get(0), 1, 6);
	trace_neg("remove_buffers_consumed", run1());

	free(mem);
	close(sv[0]);
	close(sv[1]);
}

static void sec_poll(void)
{
	int p[2], q[2], r[2], sv[2], hup[2], res[2], i, ret;
	unsigned flags;
	char c;
	__u64 ud;

	pipe_or_die(p);
	pipe_or_die(q);
	pipe_or_die(r);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hup))
		fail("socketpair", -1);

	if (write(p[1], "x", 1) < 0)
		fail("write", -1);
	io_uring_prep_poll_add(get(0), p[0], POLLIN);
	trace_neg("poll_in_ready", run1());
	io_uring_prep_poll_add(get(0), p[1], POLLOUT);
	trace_neg("poll_out", run1());
	io_uring_prep_poll_add(get(0), sv[0], POLLIN | POLLOUT);
	trace_neg("poll_in_out", run1());
	shutdown(hup[1], SHUT_WR);
	io_uring_prep_poll_add(get(0), hup[0], POLLIN | POLLRDHUP);
	trace_neg("poll_rdhup", run1());
	close(q[1]);
	io_uring_prep_poll_add(get(0), q[0], POLLIN);
	trace_neg("poll_hup", run1());
	close(r[0]);
	io_uring_prep_poll_add(get(0), r[1], POLLOUT);
	trace_neg("poll_err", run1());
	if (read(p[0], &c, 1) != 1)
		fail("read", -1);

	/* poll_remove of a pending poll (p is empty again), then of nothing. */
	io_uring_prep_poll_add(get(0), p[0], POLLIN);
	submit(1);
	io_uring_prep_poll_remove(get(1), 0);
	submit(1);
	reap(2, res);
	trace_neg("poll_remove", res[1]);
	trace_neg("poll_removed", res[0]);
	io_uring_prep_poll_remove(get(0), 12345);
	trace_neg("poll_remove_unknown", run1());

	/* poll_update: a pending POLLIN on the empty, writable sv[0] becomes
	   POLLOUT and fires. */
	io_uring_prep_poll_add(get(0), sv[0], POLLIN);
	submit(1);
	io_uring_prep_poll_update(get(1), 0, 0, POLLOUT, IORING_POLL_UPDATE_EVENTS);
	submit(1);
	reap(2, res);
	trace_neg("poll_update", res[1]);
	trace_neg("poll_updated", res[0]);
	io_uring_prep_poll_update(get(0), 12345, 0, POLLOUT, IORING_POLL_UPDATE_EVENTS);
	trace_neg("poll_update_unknown", run1());

	/* poll_multishot: two wake-ups, then poll_remove ends it. */
	io_uring_prep_poll_multishot(get(0), p[0], POLLIN);
	submit(1);
	for (i = 0; i < 2; i++) {
		if (write(p[1], "y", 1) < 0)
			fail("write", -1);
		next_cqe(&ring, &ud, &ret, &flags);
		trace_cqe("poll_multishot", ret, flags);
		if (read(p[0], &c, 1) != 1)
			fail("read", -1);
	}
	io_uring_prep_poll_remove(get(1), 0);
	submit(1);
	for (i = 0; i < 2; i++) {
		next_cqe(&ring, &ud, &ret, &flags);
		if (ud == 1)
			res[1] = ret;
		else
			trace_cqe("poll_multishot_final", ret, flags);
	}
	trace_neg("poll_remove_multishot", res[1]);

	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(r[1]);
	close(sv[0]);
	close(sv[1]);
	close(hup[0]);
	close(hup[1]);
}

static struct __kernel_timespec ts_of(long long ns)
{
	struct __kernel_timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	return ts;
}

static long long clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sec_timeout(void)
{
	struct __kernel_timespec t5s = ts_of(5000000000LL), t10s = ts_of(10000000000LL);
	struct __kernel_timespec t10ms = ts_of(10000000), ts, bad;
	int res[2];

	/* timeout_remove of a pending timeout, then of nothing. */
	io_uring_prep_timeout(get(0), &t5s, 0, 0);
	submit(1);
	io_uring_prep_timeout_remove(get(1), 0, 0);
	submit(1);
	reap(2, res);
	trace_neg("timeout_remove", res[1]);
	trace_neg("timeout_removed", res[0]);
	io_uring_prep_timeout_remove(get(0), 0, 0);
	trace_neg("timeout_remove_unknown", run1());
	io_uring_prep_timeout_remove(get(0), 0, 0x40);
	trace_neg("timeout_remove_bad_flags", run1());

	/* timeout_update: extended from 5 s to 10 s (still pending: removed),
	   then one shortened to 10 ms (expires). */
	io_uring_prep_timeout(get(0), &t5s, 0, 0);
	submit(1);
	io_uring_prep_timeout_update(get(1), &t10s, 0, 0);
	trace_neg("timeout_update_extend", run1());
	io_uring_prep_timeout_remove(get(1), 0, 0);
	submit(1);
	reap(2, res);
	trace_neg("timeout_remove", res[1]);
	trace_neg("timeout_extended", res[0]);
	io_uring_prep_timeout(get(0), &t5s, 0, 0);
	submit(1);
	io_uring_prep_timeout_update(get(1), &t10ms, 0, 0);
	submit(1);
	reap(2, res);
	trace_neg("timeout_update_shorten", res[1]);
	trace_neg("timeout_shortened", res[0]);
	io_uring_prep_timeout_update(get(0), &t10ms, 12345, 0);
	trace_neg("timeout_update_unknown", run1());

	/* IORING_TIMEOUT_ABS: CLOCK_MONOTONIC 10 ms ahead, then 1 s after
	   boot (the past), then CLOCK_REALTIME 10 ms ahead; an update to an
	   absolute time. */
	ts = ts_of(clock_ns(CLOCK_MONOTONIC) + 10000000);
	io_uring_prep_timeout(get(0), &ts, 0, IORING_TIMEOUT_ABS);
	trace_neg("timeout_abs", run1());
	ts = ts_of(1000000000);
	io_uring_prep_timeout(get(0), &ts, 0, IORING_TIMEOUT_ABS);
	trace_neg("timeout_abs_past", run1());
	ts = ts_of(clock_ns(CLOCK_REALTIME) + 10000000);
	io_uring_prep_timeout(get(0), &ts, 0, IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME);
	trace_neg("timeout_abs_realtime", run1());
	io_uring_prep_timeout(get(0), &t5s, 0, 0);
	submit(1);
	ts = ts_of(clock_ns(CLOCK_MONOTONIC) + 10000000);
	io_uring_prep_timeout_update(get(1), &ts, 0, IORING_TIMEOUT_ABS);
	submit(1);
	reap(2, res);
	trace_neg("timeout_update_abs", res[1]);
	trace_neg("timeout_updated_abs", res[0]);

	io_uring_prep_timeout(get(0), &t10ms, 0, IORING_TIMEOUT_BOOTTIME | IORING_TIMEOUT_REALTIME);
	trace_neg("timeout_two_clocks", run1());
	bad.tv_sec = 0;
	bad.tv_nsec = -1;
	io_uring_prep_timeout(get(0), &bad, 0, 0);
	trace_neg("timeout_negative", run1());
}

static void sec_msgring(void)
{
	int p[2], res;
	unsigned flags;
	__u64 ud;

	pipe_or_die(p);
	init_ring(&ring2, 8);
	io_uring_prep_msg_ring(get(0), ring2.ring_fd, 42, 0xfeed, 0);
	trace_neg("msg_ring", run1());
	next_cqe(&ring2, &ud, &res, &flags);
	trace_neg("target_cqe", res);
	trace_line("target user_data=%#llx flags=%u", (unsigned long long)ud, flags);
	io_uring_prep_msg_ring(get(0), ring2.ring_fd, 7, 0xbeef, IORING_MSG_RING_CQE_SKIP);
	trace_neg("msg_ring_data_cqe_skip", run1());
	trace_line("target cq_ready=%u", io_uring_cq_ready(&ring2));
	io_uring_prep_msg_ring(get(0), p[0], 1, 1, 0);
	trace_neg("msg_ring_pipe", run1());
	io_uring_prep_msg_ring(get(0), 9999, 1, 1, 0);
	trace_neg("msg_ring_badfd", run1());
	io_uring_prep_msg_ring(get(0), ring2.ring_fd, 1, 1, 0x80);
	trace_neg("msg_ring_bad_flags", run1());
	trace_line("target cq_ready=%u", io_uring_cq_ready(&ring2));
	io_uring_queue_exit(&ring2);
	close(p[0]);
	close(p[1]);
}

/* On ring2: io_uring_prep_cancel of the requests whose user_data is the
   pointer marker (with cancel flags), then the reads' CQEs (traced, nreads
   of them) and the cancel's, in any order; returns the cancel's result. */
static int cancel_ptr(void *marker, int flags, int nreads)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring2);
	unsigned cflags;
	int res, n = 0;
	__u64 ud;

	io_uring_prep_cancel(s, marker, flags);
	io_uring_sqe_set_data(s, NULL);
	submit_on(&ring2, 1);
	for (int i = 0; i <= nreads; i++) {
		next_cqe(&ring2, &ud, &res, &cflags);
		if (ud == (__u64)(uintptr_t)marker)
			trace_neg("read_canceled", res);
		else
			n = res;
	}
	return n;
}

/* Reaps the CQE of the cancel_fd staged with user_data 2 (traced as op) and
   those of the nreads reads it was after, and traces how many of them it
   canceled. */
static void collect_cancel_fd(const char *op, int nreads)
{
	unsigned flags;
	int res, n = 0;
	__u64 ud;

	for (int i = 0; i <= nreads; i++) {
		next_cqe(&ring, &ud, &res, &flags);
		if (ud == 2)
			trace_neg(op, res);
		else
			n += res == -ECANCELED;
	}
	trace_line("reads canceled %d", n);
}

static void sec_cancel(void)
{
	static int marker, other;
	struct io_uring_sqe *s;
	char b1[8], b2[8];
	int p[2], i;
	unsigned flags;

	pipe_or_die(p);

	/* io_uring_prep_cancel by pointer, on the second ring. */
	init_ring(&ring2, 8);
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_read(s, p[0], b1, sizeof(b1), -1);
	io_uring_sqe_set_data(s, &marker);
	submit_on(&ring2, 1);
	trace_neg("cancel_ptr", cancel_ptr(&marker, 0, 1));
	s = io_uring_get_sqe(&ring2);
	io_uring_prep_cancel(s, &other, 0);
	trace_neg("cancel_ptr_unknown", run1_flags(&ring2, &flags));
	/* Two reads with the same user_data: ALL cancels both. */
	for (i = 0; i < 2; i++) {
		s = io_uring_get_sqe(&ring2);
		io_uring_prep_read(s, p[0], i ? b2 : b1, sizeof(b1), -1);
		io_uring_sqe_set_data(s, &marker);
	}
	submit_on(&ring2, 2);
	trace_neg("cancel_ptr_all", cancel_ptr(&marker, IORING_ASYNC_CANCEL_ALL, 2));
	io_uring_queue_exit(&ring2);

	/* cancel_fd: two reads on p[0]; the first cancel_fd stops one of them,
	   cancel_fd with ALL the other; then ALL of two; then of none. */
	io_uring_prep_read(get(0), p[0], b1, sizeof(b1), -1);
	io_uring_prep_read(get(0), p[0], b2, sizeof(b2), -1);
	submit(2);
	io_uring_prep_cancel_fd(get(2), p[0], 0);
	submit(1);
	collect_cancel_fd("cancel_fd", 1);
	io_uring_prep_cancel_fd(get(2), p[0], IORING_ASYNC_CANCEL_ALL);
	submit(1);
	collect_cancel_fd("cancel_fd_all", 1);
	io_uring_prep_read(get(0), p[0], b1, sizeof(b1), -1);
	io_uring_prep_read(get(0), p[0], b2, sizeof(b2), -1);
	submit(2);
	io_uring_prep_cancel_fd(get(2), p[0], IORING_ASYNC_CANCEL_ALL);
	submit(1);
	collect_cancel_fd("cancel_fd_all", 2);
	io_uring_prep_cancel_fd(get(0), p[0], 0);
	trace_neg("cancel_fd_none", run1());
	io_uring_prep_cancel_fd(get(0), p[0], IORING_ASYNC_CANCEL_ALL);
	trace_neg("cancel_fd_all_none", run1());
	close(p[0]);
	close(p[1]);
}

static void sec_epoll(void)
{
	struct epoll_event ev, out[2];
	int ep, p[2], file, n;

	ep = epoll_create1(EPOLL_CLOEXEC);
	file = memfd_create("netops", MFD_CLOEXEC);
	if (ep < 0 || file < 0)
		fail("epoll_create1/memfd_create", -1);
	pipe_or_die(p);

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = 7;
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_add", run1());
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_add_again", run1());
	if (write(p[1], "x", 1) < 0)
		fail("write", -1);
	n = epoll_wait(ep, out, 2, 0);
	trace_errno("epoll_wait", n);
	if (n > 0)
		trace_line("event events=%#x data=%llu", out[0].events, (unsigned long long)out[0].data.u64);
	ev.events = EPOLLOUT;
	ev.data.u64 = 9;
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_MOD, &ev);
	trace_neg("epoll_mod", run1());
	trace_errno("epoll_wait", epoll_wait(ep, out, 2, 0));
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_DEL, NULL);
	trace_neg("epoll_del", run1());
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_DEL, NULL);
	trace_neg("epoll_del_again", run1());
	io_uring_prep_epoll_ctl(get(0), ep, p[0], EPOLL_CTL_MOD, &ev);
	trace_neg("epoll_mod_unregistered", run1());
	io_uring_prep_epoll_ctl(get(0), ep, 9999, EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_add_badfd", run1());
	io_uring_prep_epoll_ctl(get(0), p[1], p[0], EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_not_epoll", run1());
	io_uring_prep_epoll_ctl(get(0), ep, ep, EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_add_self", run1());
	io_uring_prep_epoll_ctl(get(0), ep, file, EPOLL_CTL_ADD, &ev);
	trace_neg("epoll_add_file", run1());
	io_uring_prep_epoll_ctl(get(0), ep, p[0], 99, &ev);
	trace_neg("epoll_bad_op", run1());
	close(file);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static const struct {
	const char *name;
	void (*run)(void);
} sections[] = {
	{ "socket", sec_socket },   { "shutdown", sec_shutdown }, { "msg", sec_msg },
	{ "zc", sec_zc },	    { "accept", sec_accept },	  { "recvms", sec_recvms },
	{ "pbuf", sec_pbuf },	    { "poll", sec_poll },	  { "timeout", sec_timeout },
	{ "msgring", sec_msgring }, { "cancel", sec_cancel },	  { "epoll", sec_epoll },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2)
		return 2;
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (strcmp(argv[1], sections[i].name) == 0) {
			init_ring(&ring, 32);
			sections[i].run();
			io_uring_queue_exit(&ring);
			return 0;
		}
	}
	fprintf(stderr, "unknown section %s\n", argv[1]);
	return 2;
}
