/* uring_xcheck_reg: registered buffers and files.
 *   register two 4 KiB buffers (again: -EBUSY); write_fixed from buffer 0,
 *   read_fixed into buffer 1; buffer index 5 and an address outside the
 *   indexed buffer fail (-EFAULT); unregister (again: -ENXIO).
 *   register files {fd, -1}: a read through slot 0 works, the sparse slot 1
 *   and the out-of-range slot 7 give -EBADF; unregister.
 * argv[1]: a file path the program may create. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct io_uring_sqe *s;
	struct iovec iov[2];
	char *mem;
	int fd, i, ret, fds[2];

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || posix_memalign((void **)&mem, 4096, 8192))
		return 1;
	memset(mem, 0, 8192);
	for (i = 0; i < 4096; i++)
		mem[i] = (char)('A' + i % 26);
	iov[0].iov_base = mem;
	iov[0].iov_len = 4096;
	iov[1].iov_base = mem + 4096;
	iov[1].iov_len = 4096;
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}

	trace_neg("register_buffers", io_uring_register_buffers(&ring, iov, 2));
	trace_neg("register_buffers_again", io_uring_register_buffers(&ring, iov, 2));
	io_uring_prep_write_fixed(io_uring_get_sqe(&ring), fd, mem, 4096, 0, 0);
	trace_neg("write_fixed", run1());
	io_uring_prep_read_fixed(io_uring_get_sqe(&ring), fd, mem + 4096, 4096, 0, 1);
	trace_neg("read_fixed", run1());
	trace_line("same %d", memcmp(mem, mem + 4096, 4096) == 0);
	io_uring_prep_read_fixed(io_uring_get_sqe(&ring), fd, mem + 4096, 4096, 0, 5);
	trace_neg("read_fixed_badindex", run1());
	io_uring_prep_read_fixed(io_uring_get_sqe(&ring), fd, mem, 4096, 0, 1);
	trace_neg("read_fixed_outside", run1());
	trace_neg("unregister_buffers", io_uring_unregister_buffers(&ring));
	trace_neg("unregister_buffers_again", io_uring_unregister_buffers(&ring));

	fds[0] = fd;
	fds[1] = -1;
	trace_neg("register_files", io_uring_register_files(&ring, fds, 2));
	s = io_uring_get_sqe(&ring);
	io_uring_prep_read(s, 0, mem + 4096, 4096, 0);
	s->flags = IOSQE_FIXED_FILE;
	trace_neg("read_fixed_file", run1());
	s = io_uring_get_sqe(&ring);
	io_uring_prep_read(s, 1, mem + 4096, 4096, 0);
	s->flags = IOSQE_FIXED_FILE;
	trace_neg("read_fixed_file_sparse", run1());
	s = io_uring_get_sqe(&ring);
	io_uring_prep_read(s, 7, mem + 4096, 4096, 0);
	s->flags = IOSQE_FIXED_FILE;
	trace_neg("read_fixed_file_range", run1());
	trace_neg("unregister_files", io_uring_unregister_files(&ring));

	free(mem);
	close(fd);
	io_uring_queue_exit(&ring);
	return 0;
}
