/* uring_xcheck_fs: openat, statx and close through io_uring.
 * Descriptors are printed as "fd" since their numbers differ between
 * processes. argv[1]: an empty directory the program may use. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int open1(const char *name, const char *path, int flags, mode_t mode)
{
	int fd;

	io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, path, flags, mode);
	fd = run1();
	trace_neg(name, fd >= 0 ? 0 : fd);
	return fd;
}

static void stat1(const char *name, const char *path)
{
	struct statx st;
	int ret;

	memset(&st, 0, sizeof(st));
	io_uring_prep_statx(io_uring_get_sqe(&ring), AT_FDCWD, path, 0, STATX_BASIC_STATS, &st);
	ret = run1();
	trace_neg(name, ret);
	if (ret == 0)
		trace_line("statx size=%llu mode=%04o reg=%d dir=%d nlink=%u", (unsigned long long)st.stx_size,
			   st.stx_mode & 07777, S_ISREG(st.stx_mode), S_ISDIR(st.stx_mode), st.stx_nlink);
}

static void close1(const char *name, int fd)
{
	io_uring_prep_close(io_uring_get_sqe(&ring), fd);
	trace_neg(name, run1());
}

int main(int argc, char **argv)
{
	char f[4096], missing[4096], sub[4096], data[100];
	int fd, ret;

	if (argc != 2)
		return 2;
	snprintf(f, sizeof(f), "%s/f", argv[1]);
	snprintf(missing, sizeof(missing), "%s/missing", argv[1]);
	snprintf(sub, sizeof(sub), "%s/f/x", argv[1]);
	memset(data, 'z', sizeof(data));
	umask(022);
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}

	fd = open1("openat_create", f, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640);
	io_uring_prep_write(io_uring_get_sqe(&ring), fd, data, sizeof(data), 0);
	trace_neg("write", run1());
	stat1("statx", f);
	close1("close", fd);
	close1("close_unused", 9999);
	open1("openat_missing", missing, O_RDONLY | O_CLOEXEC, 0);
	open1("openat_exists", f, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640);
	open1("openat_notdir", sub, O_RDONLY | O_CLOEXEC, 0);
	open1("openat_dir_file", f, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	stat1("statx_missing", missing);
	stat1("statx_dir", argv[1]);
	fd = open1("openat_dir", argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	close1("close_dir", fd);
	close1("close_badfd", -1);

	io_uring_queue_exit(&ring);
	return 0;
}
