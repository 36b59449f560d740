/* libaio_xcheck_more: the libaio calls the other scenarios leave alone.
 *
 *  - io_queue_run with io_set_callback: one callback per reaped event, in ring order,
 *    with the event's res and res2; on an empty ring (0); on a NULL context and on
 *    memory that is no ring (EINVAL from the kernel: libaio reads the ring header in
 *    user space first, so a freed ring would fault instead, which is not traced).
 *  - io_poll (libaio.h's inline: io_prep_poll + io_set_callback + io_submit of one).
 *  - io_queue_wait: commented out in libaio.h but exported by libaio.so.1 (version
 *    LIBAIO_0.4); it is io_getevents(ctx, 0, 0, NULL, timeout), which returns 0 at
 *    once whatever the timeout and reaps nothing. io_queue_grow is not exported at all.
 *  - io_pgetevents: sigmask, a timeout that expires, min_nr > nr, bad contexts, a
 *    pending signal held off by the sigmask and let in by an empty one (EINTR).
 *  - io_prep_preadv2/io_prep_pwritev2 with RWF_* flags (results printed as numbers:
 *    C and Go name errno 95 differently), io_prep_poll on pipes with several masks,
 *    io_set_eventfd's counter after N completions.
 * argv[1]: a file path the program may create (on a disk filesystem). */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include <dlfcn.h>
#include <fcntl.h>
#include <libaio.h>
#include "libaio_common.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_HIPRI
#define RWF_HIPRI 0x1
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x4
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x8
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x20
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x40
#endif

/* Not declared by libaio.h (the line is commented out there); the library has it. */
extern int io_queue_wait(io_context_t ctx, struct timespec *timeout);

static struct iocb *cbs; /* 16 iocbs: callbacks find their index from the address */
static struct {
	long idx, res, res2;
} calls[16];
static int ncalls;
static volatile sig_atomic_t usr1;

static void on_done(io_context_t c, struct iocb *cb, long res, long res2)
{
	(void)c;
	if (ncalls < 16) {
		calls[ncalls].idx = (long)(cb - cbs);
		calls[ncalls].res = res;
		calls[ncalls].res2 = res2;
	}
	ncalls++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

/* Prints the callbacks called since the last flush, in call order. */
static void flush_calls(void)
{
	trace_line("callbacks n=%d", ncalls);
	for (int i = 0; i < ncalls && i < 16; i++)
		trace_line("callback idx=%ld res=%ld res2=%ld", calls[i].idx, calls[i].res, calls[i].res2);
	ncalls = 0;
}

/* io_queue_run until at least want callbacks ran (events completed by the kernel's
 * workers or wake-ups reach the ring a little later), for up to 10 s. */
static void run_until(const char *op, int want)
{
	struct timespec start, now;
	int r;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = io_queue_run(ctx);
		if ((r < 0 && r != -EINTR) || ncalls >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			break;
		usleep(100);
	}
	trace_neg(op, r);
	flush_calls();
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Submits cb alone and prints io_submit's result and the event's res as numbers. */
static void rwf(const char *op, struct iocb *cb)
{
	int r = io_submit(ctx, 1, &cb);
	trace_line("%s submit=%d res=%ld", op, r, r == 1 ? get1() : 0L);
}

/* Submits cb alone (traced as "submit_<op>") and traces its event's res as op. */
static void poll1(const char *op, struct iocb *cb)
{
	char sub[64];
	snprintf(sub, sizeof(sub), "submit_%s", op);
	int r = io_submit(ctx, 1, &cb);
	trace_neg(sub, r);
	if (r == 1)
		trace_neg(op, get1());
}

static int exported(const char *name)
{
	return dlsym(RTLD_DEFAULT, name) != NULL;
}

static void trace_eventfd(const char *op, int efd)
{
	uint64_t cnt = 0;
	ssize_t r = read(efd, &cnt, sizeof(cnt));
	if (r == (ssize_t)sizeof(cnt))
		trace_ret(op, (long)cnt, 0);
	else
		trace_errno(op, -1);
}

int main(int argc, char **argv)
{
	struct iocb *cb;
	struct io_event ev, evs[4];
	struct timespec ts200 = { 0, 200 * 1000 * 1000 }, ts60 = { 0, 60 * 1000 * 1000 };
	struct timespec ts20 = { 0, 20 * 1000 * 1000 }, ts5 = { 5, 0 }, zero = { 0, 0 }, start;
	struct iovec v[2];
	struct sigaction sa;
	sigset_t mask, empty, old, pend;
	unsigned char *buf, *rd, *fake;
	struct stat st;
	int fd, dfd, afd, efd, p[2], q[2], w[2], r, i;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC) || pipe2(w, O_CLOEXEC))
		return 1;
	if (posix_memalign((void **)&buf, 4096, 8192) || posix_memalign((void **)&rd, 4096, 8192) ||
	    posix_memalign((void **)&cbs, 4096, 16 * sizeof(struct iocb)) ||
	    posix_memalign((void **)&fake, 4096, 4096))
		return 1;
	memset(fake, 0, 4096);
	memset(cbs, 0, 16 * sizeof(struct iocb));
	memset(buf, 'x', 8192);
	if (pwrite(fd, buf, 8192, 0) != 8192 || fsync(fd))
		return 1;
	for (i = 0; i < 8192; i++)
		buf[i] = (unsigned char)('a' + i % 26);
	dfd = open(argv[1], O_RDONLY | O_DIRECT | O_CLOEXEC);
	afd = open(argv[1], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (dfd < 0 || afd < 0)
		return 1;

	/* io_queue_run and callbacks. */
	trace_neg("io_queue_init", io_queue_init(8, &ctx));
	trace_neg("io_queue_run_empty", io_queue_run(ctx));
	flush_calls();
	trace_neg("io_queue_run_null_ctx", io_queue_run(NULL));
	trace_neg("io_queue_run_not_a_ring", io_queue_run((io_context_t)fake));

	/* Buffered requests complete inside io_submit, in order: a full read, a short one at
	 * the end of the file, a write, and a read into address 0 (EFAULT in its event). */
	io_prep_pread(&cbs[0], fd, rd, 4096, 0);
	io_prep_pread(&cbs[1], fd, rd + 4096, 4096, 6144);
	io_prep_pwrite(&cbs[2], fd, buf, 100, 8192);
	io_prep_pread(&cbs[3], fd, NULL, 16, 0);
	struct iocb *four[4] = { &cbs[0], &cbs[1], &cbs[2], &cbs[3] };
	for (i = 0; i < 4; i++)
		io_set_callback(four[i], on_done);
	trace_neg("submit_callbacks", io_submit(ctx, 4, four));
	trace_neg("io_queue_run", io_queue_run(ctx));
	flush_calls();
	trace_neg("io_queue_run_again", io_queue_run(ctx));
	flush_calls();

	/* io_poll: a poll not ready yet, then ready by a write; one ready at once. */
	trace_neg("io_poll_pipe_in", io_poll(ctx, &cbs[4], on_done, p[0], POLLIN));
	trace_neg("io_queue_run_not_ready", io_queue_run(ctx));
	flush_calls();
	trace_errno("write_pipe", write(p[1], "ab", 2));
	run_until("io_queue_run_ready", 1);
	trace_errno("read_pipe", read(p[0], rd, 2));
	trace_neg("io_poll_pipe_out", io_poll(ctx, &cbs[5], on_done, p[1], POLLOUT));
	run_until("io_queue_run_out", 1);

	/* io_queue_wait is io_getevents(ctx, 0, 0, NULL, timeout): never waits, reaps nothing. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	trace_neg("io_queue_wait_empty", io_queue_wait(ctx, &ts200));
	trace_ret("io_queue_wait_empty_waited", elapsed_ms(&start) >= 100, 0);
	trace_neg("io_poll_pending", io_poll(ctx, &cbs[6], on_done, p[0], POLLIN));
	clock_gettime(CLOCK_MONOTONIC, &start);
	trace_neg("io_queue_wait_pending", io_queue_wait(ctx, &ts200));
	trace_ret("io_queue_wait_pending_waited", elapsed_ms(&start) >= 100, 0);
	trace_neg("io_cancel_pending", io_cancel(ctx, &cbs[6], &ev));
	run_until("io_queue_run_cancelled", 1);
	io_prep_pread(&cbs[7], fd, rd, 10, 0);
	io_set_callback(&cbs[7], on_done);
	cb = &cbs[7];
	trace_neg("submit_read", io_submit(ctx, 1, &cb));
	trace_neg("io_queue_wait_event_null_timeout", io_queue_wait(ctx, NULL));
	trace_neg("io_queue_wait_event_zero_timeout", io_queue_wait(ctx, &zero));
	trace_neg("io_queue_run_after_wait", io_queue_run(ctx));
	flush_calls();
	trace_neg("io_queue_wait_null_ctx", io_queue_wait(NULL, &ts200));
	trace_neg("io_queue_wait_not_a_ring", io_queue_wait((io_context_t)fake, &ts200));
	trace_ret("io_queue_wait_exported", exported("io_queue_wait"), 0);
	trace_ret("io_queue_grow_exported", exported("io_queue_grow"), 0);
	trace_neg("io_queue_release", io_queue_release(ctx));

	/* io_pgetevents. io_setup wants *ctxp zeroed (io_queue_init zeroes it itself). */
	ctx = NULL;
	trace_neg("io_setup", io_setup(8, &ctx));
	sigemptyset(&empty);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGURG);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		r = io_pgetevents(ctx, 1, 1, &ev, &ts60, &mask);
	while (r == -EINTR);
	trace_neg("pgetevents_timeout", r);
	trace_ret("pgetevents_timeout_waited", elapsed_ms(&start) >= 50, 0);
	cb = &cbs[8];
	io_prep_pread(cb, fd, rd, 4096, 0);
	trace_neg("submit_read", io_submit(ctx, 1, &cb));
	trace_neg("pgetevents_event", io_pgetevents(ctx, 1, 1, &ev, &ts5, &mask));
	trace_neg("event_res", (long)ev.res);
	io_prep_pread(cb, fd, rd, 1000, 0);
	trace_neg("submit_read", io_submit(ctx, 1, &cb));
	trace_neg("pgetevents_no_sigmask", io_pgetevents(ctx, 1, 4, evs, &ts5, NULL));
	trace_neg("event_res", (long)evs[0].res);
	trace_neg("pgetevents_min_gt_nr", io_pgetevents(ctx, 2, 1, &ev, &ts60, &mask));
	trace_neg("pgetevents_min_gt_nr_zero_timeout", io_pgetevents(ctx, 2, 1, &ev, &zero, &mask));
	trace_neg("pgetevents_min_negative", io_pgetevents(ctx, -1, 1, &ev, &ts60, &mask));
	trace_neg("pgetevents_null_ctx", io_pgetevents(NULL, 1, 1, &ev, &ts20, &mask));
	trace_neg("pgetevents_not_a_ring", io_pgetevents((io_context_t)fake, 1, 1, &ev, &ts5, &mask));

	/* A SIGUSR1 pending on the thread, blocked by its mask: a sigmask that blocks it too
	 * keeps it pending through the wait; an empty one lets it in (handler, EINTR). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigprocmask(SIG_BLOCK, &mask, &old);
	raise(SIGUSR1);
	sigpending(&pend);
	trace_ret("sigusr1_pending", sigismember(&pend, SIGUSR1), 0);
	do
		r = io_pgetevents(ctx, 1, 1, &ev, &ts60, &mask);
	while (r == -EINTR && !usr1);
	trace_neg("pgetevents_signal_masked", r);
	trace_ret("sigusr1_handled", usr1, 0);
	trace_neg("pgetevents_signal_let_in", io_pgetevents(ctx, 1, 1, &ev, &ts5, &empty));
	trace_ret("sigusr1_handled", usr1, 0);
	sigpending(&pend);
	trace_ret("sigusr1_pending", sigismember(&pend, SIGUSR1), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* RWF_* flags through io_prep_preadv2/io_prep_pwritev2. */
	cb = &cbs[9];
	v[0].iov_base = buf;
	v[0].iov_len = 50;
	io_prep_pwritev2(cb, fd, v, 1, 0, RWF_APPEND);
	rwf("pwritev2_append", cb);
	fstat(fd, &st);
	trace_ret("size_after_append", (long)st.st_size, 0);
	trace_errno("pread_first", pread(fd, rd, 1, 0));
	trace_ret("first_byte", rd[0], 0);
	trace_errno("pread_appended", pread(fd, rd, 1, 8292));
	trace_ret("appended_byte", rd[0], 0);
	v[0].iov_base = buf + 1;
	v[0].iov_len = 10;
	io_prep_pwritev2(cb, afd, v, 1, 0, RWF_NOAPPEND);
	rwf("pwritev2_noappend", cb);
	fstat(fd, &st);
	trace_ret("size_after_noappend", (long)st.st_size, 0);
	trace_errno("pread_first", pread(fd, rd, 1, 0));
	trace_ret("first_byte", rd[0], 0);
	v[0].iov_base = buf;
	v[0].iov_len = 20;
	io_prep_pwritev2(cb, fd, v, 1, 100, RWF_SYNC);
	rwf("pwritev2_sync", cb);
	io_prep_pwritev2(cb, fd, v, 1, 100, RWF_NOWAIT);
	rwf("pwritev2_nowait", cb);
	io_prep_pwritev2(cb, fd, v, 1, 100, RWF_ATOMIC);
	rwf("pwritev2_atomic", cb);
	io_prep_pwritev2(cb, fd, v, 1, 100, 1 << 30);
	rwf("pwritev2_unknown", cb);
	v[0].iov_base = rd;
	v[0].iov_len = 4096;
	io_prep_preadv2(cb, fd, v, 1, 0, RWF_NOWAIT);
	rwf("preadv2_nowait_cached", cb);
	io_prep_preadv2(cb, fd, v, 1, 0, RWF_HIPRI);
	rwf("preadv2_hipri", cb);
	io_prep_preadv2(cb, dfd, v, 1, 4096, RWF_HIPRI);
	rwf("preadv2_hipri_direct", cb);
	v[1].iov_base = rd + 4096;
	v[1].iov_len = 7;
	io_prep_preadv2(cb, fd, v, 2, 4000, RWF_NOWAIT | RWF_HIPRI);
	rwf("preadv2_nowait_hipri_two", cb);
	io_prep_preadv2(cb, fd, v, 1, 0, RWF_APPEND);
	rwf("preadv2_append", cb);
	io_prep_preadv2(cb, fd, v, 1, 0, RWF_ATOMIC);
	rwf("preadv2_atomic", cb);
	io_prep_preadv2(cb, fd, v, 1, 0, 1 << 30);
	rwf("preadv2_unknown", cb);
	io_prep_preadv2(cb, p[0], v, 1, 0, RWF_NOWAIT);
	rwf("preadv2_nowait_empty_pipe", cb);
	trace_errno("write_pipe", write(p[1], "hello", 5));
	io_prep_preadv2(cb, p[0], v, 1, 0, RWF_NOWAIT);
	rwf("preadv2_nowait_pipe", cb);
	v[0].iov_base = buf;
	v[0].iov_len = 3;
	io_prep_pwritev2(cb, p[1], v, 1, 0, RWF_NOWAIT);
	rwf("pwritev2_nowait_pipe", cb);
	trace_errno("read_pipe", read(p[0], rd, 3));

	/* io_prep_poll on pipes: the mask is what is ready of what was asked, plus POLLERR and
	 * POLLHUP, which are always reported; a poll that is never ready is cancelled. */
	cb = &cbs[10];
	trace_errno("write_pipe", write(q[1], "z", 1));
	io_prep_poll(cb, q[0], POLLIN);
	poll1("poll_in", cb);
	io_prep_poll(cb, q[0], POLLIN | POLLRDNORM);
	poll1("poll_in_rdnorm", cb);
	io_prep_poll(cb, q[0], POLLIN | POLLPRI | POLLOUT);
	poll1("poll_in_pri_out", cb);
	io_prep_poll(cb, q[1], POLLOUT);
	poll1("poll_out", cb);
	io_prep_poll(cb, q[1], POLLOUT | POLLWRNORM);
	poll1("poll_out_wrnorm", cb);
	io_prep_poll(cb, q[1], POLLIN | POLLOUT);
	poll1("poll_in_out_write_end", cb);
	io_prep_poll(cb, q[0], POLLOUT | POLLPRI);
	trace_neg("submit_poll_never", io_submit(ctx, 1, &cb));
	trace_neg("getevents_not_ready", io_getevents(ctx, 0, 1, &ev, &zero));
	trace_neg("cancel_poll_never", io_cancel(ctx, cb, &ev));
	trace_neg("poll_never", get1());
	close(q[1]);
	io_prep_poll(cb, q[0], POLLIN);
	poll1("poll_in_data_hup", cb);
	trace_errno("read_pipe", read(q[0], rd, 1));
	io_prep_poll(cb, q[0], POLLIN);
	poll1("poll_in_hup", cb);
	io_prep_poll(cb, q[0], 0);
	poll1("poll_nothing_hup", cb);
	close(w[0]);
	io_prep_poll(cb, w[1], POLLOUT);
	poll1("poll_out_no_reader", cb);
	io_prep_poll(cb, w[1], POLLIN);
	poll1("poll_in_no_reader", cb);

	/* io_set_eventfd: one count per completion, failed events and cancelled polls
	 * included; a request io_submit rejects counts nothing. */
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct iocb *three[3] = { &cbs[11], &cbs[12], &cbs[13] };
	for (i = 0; i < 3; i++) {
		io_prep_pread(three[i], fd, rd + i * 100, 100, i * 100);
		io_set_eventfd(three[i], efd);
	}
	trace_neg("submit_eventfd_3", io_submit(ctx, 3, three));
	for (i = 0; i < 3; i++)
		trace_neg("event", get1());
	cb = &cbs[14];
	io_prep_pread(cb, fd, NULL, 16, 0);
	io_set_eventfd(cb, efd);
	trace_neg("submit_eventfd_efault", io_submit(ctx, 1, &cb));
	trace_neg("event", get1());
	io_prep_pread(cb, fd, rd, 16, 1 << 20);
	io_set_eventfd(cb, efd);
	trace_neg("submit_eventfd_eof", io_submit(ctx, 1, &cb));
	trace_neg("event", get1());
	trace_eventfd("eventfd_count", efd);
	trace_eventfd("eventfd_again", efd);
	io_prep_pread(cb, fd, rd, 16, -1);
	io_set_eventfd(cb, efd);
	trace_neg("submit_eventfd_rejected", io_submit(ctx, 1, &cb));
	trace_eventfd("eventfd_after_rejected", efd);
	io_prep_poll(cb, p[0], POLLIN);
	io_set_eventfd(cb, efd);
	trace_neg("submit_eventfd_poll", io_submit(ctx, 1, &cb));
	trace_eventfd("eventfd_poll_pending", efd);
	trace_neg("cancel_eventfd_poll", io_cancel(ctx, cb, &ev));
	trace_neg("event", get1());
	trace_eventfd("eventfd_poll_cancelled", efd);
	trace_neg("io_destroy", io_destroy(ctx));
	return 0;
}
