/* libaio_xcheck_err: errors from io_setup, io_submit and inside events: EINVAL for 0
 * events, EAGAIN above aio-max-nr, EBADF for a closed fd and for a write on a read-only
 * fd, EINVAL for IO_CMD_NOOP, a reserved field and a bad priority, EOPNOTSUPP for an
 * unknown RWF flag, a partial submission, misaligned O_DIRECT (EINVAL in the event),
 * io_getevents' argument checks and timeout.
 * argv[1]: a file path the program may create (on a disk filesystem). */
#include "trace.h"
#include <fcntl.h>
#include <libaio.h>
#include "libaio_common.h"
#include <stdlib.h>
#include <unistd.h>


static void submit1(const char *op, struct iocb *cb)
{
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	int ret = io_submit(ctx, 1, &cb);
	trace_neg(op, ret);
	if (ret == 1) {
		do
			ret = io_getevents(ctx, 1, 1, &ev, &ts);
		while (ret == -EINTR);
		trace_neg("event", ret == 1 ? (long)ev.res : -ETIME);
	}
}

int main(int argc, char **argv)
{
	io_context_t tmp = 0;
	struct iocb cb, cb2, *two[2], *p;
	struct io_event evs[4];
	struct timespec ts = { 0, 60 * 1000 * 1000 }, zero = { 0, 0 };
	unsigned char *buf;
	long maxnr;
	FILE *f;
	int fd, ro, dfd, closed, ret;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, 8192))
		return 1;
	memset(buf, 'x', 8192);
	if (pwrite(fd, buf, 8192, 0) != 8192)
		return 1;
	ro = open(argv[1], O_RDONLY | O_CLOEXEC);
	dfd = open(argv[1], O_RDONLY | O_DIRECT | O_CLOEXEC);
	closed = dup(fd);
	close(closed);
	f = fopen("/proc/sys/fs/aio-max-nr", "r");
	if (!f || fscanf(f, "%ld", &maxnr) != 1)
		return 1;
	fclose(f);

	trace_neg("io_setup_0", io_setup(0, &tmp));
	trace_neg("io_setup_over_max", io_setup((int)maxnr + 1, &tmp));
	trace_neg("io_queue_init_0", io_queue_init(0, &tmp));
	trace_neg("io_setup", io_setup(4, &ctx));

	io_prep_pread(&cb, closed, buf, 4096, 0);
	submit1("closed_fd", &cb);
	io_prep_pwrite(&cb, ro, buf, 4096, 0);
	submit1("write_rdonly", &cb);
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.aio_lio_opcode = IO_CMD_NOOP;
	submit1("noop", &cb);
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.u.c.__pad3 = 1;
	submit1("reserved", &cb);
	/* EOPNOTSUPP and ENOTSUP are the same number on Linux and the two sides name it
	 * differently: this step prints the number. */
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.aio_rw_flags = 1 << 30;
	p = &cb;
	trace_line("bad_rwf res=%d", io_submit(ctx, 1, &p));
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.u.c.flags |= 1 << 1; /* IOCB_FLAG_IOPRIO */
	cb.aio_reqprio = 7 << 13;
	submit1("bad_ioprio", &cb);
	io_prep_pread(&cb, fd, buf, 4096, -4096);
	submit1("negative_offset", &cb);

	io_prep_pread(&cb, dfd, buf, 4096, 1);
	submit1("direct_misaligned_offset", &cb);
	io_prep_pread(&cb, dfd, buf + 1, 4096, 0);
	submit1("direct_misaligned_memory", &cb);
	io_prep_pread(&cb, dfd, buf, 100, 0);
	submit1("direct_misaligned_length", &cb);

	io_prep_pread(&cb, fd, buf, 4096, 0);
	io_prep_pread(&cb2, closed, buf + 4096, 4096, 0);
	two[0] = &cb;
	two[1] = &cb2;
	trace_neg("partial_submit", io_submit(ctx, 2, two));
	trace_neg("resubmit_rest", io_submit(ctx, 1, two + 1));
	trace_neg("getevents_zero_timeout", io_getevents(ctx, 1, 4, evs, &zero));
	trace_neg("getevents_min_gt_nr", io_getevents(ctx, 5, 4, evs, &ts));
	trace_neg("getevents_min_negative", io_getevents(ctx, -1, 4, evs, &ts));
	do
		ret = io_getevents(ctx, 1, 4, evs, &ts);
	while (ret == -EINTR);
	trace_neg("getevents_timeout", ret);
	trace_neg("io_destroy", io_destroy(ctx));
	return 0;
}
