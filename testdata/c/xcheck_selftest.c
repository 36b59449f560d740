/* xcheck_selftest: the harness's own scenario, plain syscalls, no AIO
 * library: write, fsync, read, short read at EOF, bad fd. argv[1] is a
 * path the program may create. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "trace.h"

int main(int argc, char **argv)
{
	char buf[64];
	int fd;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	trace_errno("write", pwrite(fd, "0123456789", 10, 0));
	trace_errno("fsync", fsync(fd));
	trace_errno("read", pread(fd, buf, 4, 2));
	trace_line("data %.4s", buf);
	trace_errno("read_eof", pread(fd, buf, sizeof(buf), 6));
	trace_errno("read_past_eof", pread(fd, buf, sizeof(buf), 100));
	trace_errno("read_badfd", pread(-1, buf, 1, 0));
	close(fd);
	return 0;
}
