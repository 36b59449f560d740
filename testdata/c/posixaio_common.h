/* posixaio_common.h: helpers shared by the posixaio_xcheck_*.c scenarios. */
#ifndef AIOKIT_POSIXAIO_COMMON_H
#define AIOKIT_POSIXAIO_COMMON_H

#include "trace.h"

#include <aio.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Blocks SIGRTMIN+3, the SIGEV_SIGNAL scenarios' signal, in the calling
   thread and returns the set for sigtimedwait. main calls it before glibc
   starts any thread; SIGEV_THREAD functions call it first, since glibc runs
   them with every signal unblocked and the process-directed signal could
   otherwise land on such a thread while it exits and kill the program. */
static inline sigset_t pa_block_sigrt3(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 3);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return set;
}

static inline void pa_setup(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_offset = off;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Waits (aio_suspend, retried on EINTR) until cb left EINPROGRESS. */
static inline void pa_wait(struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };
	while (aio_error(cb) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
}

/* aio_suspend on one request with a timeout in ms. */
static inline int pa_suspend_ms(struct aiocb *cb, long ms)
{
	const struct aiocb *l[1] = { cb };
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	return aio_suspend(l, 1, &ts);
}

/* "op res=0 err=OK" for aio_error 0, "op res=-1 err=NAME" otherwise. */
static inline void pa_trace_error(const char *op, struct aiocb *cb)
{
	int e = aio_error(cb);
	trace_ret(op, e ? -1 : 0, e);
}

/* aio_return, with the request's aio_error as the errno of a -1. */
static inline void pa_trace_return(const char *op, struct aiocb *cb)
{
	ssize_t r = aio_return(cb);
	trace_ret(op, r, r < 0 ? aio_error(cb) : 0);
}

/* Waits until a thread of this process is blocked in read(2) on fd, like
   waitBlockedReaders in the Go test: /proc/self/task/TID/syscall then starts
   with the read syscall's number and fd ("0 0x<fd> ..." on x86_64). Gives up
   after 10 s, and the program then fails. */
static inline void pa_wait_blocked_reader(int fd)
{
	char want[40];
	snprintf(want, sizeof want, "%d 0x%x ", SYS_read, fd);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		DIR *d = opendir("/proc/self/task");
		if (!d) {
			perror("/proc/self/task");
			exit(1);
		}
		struct dirent *e;
		int found = 0;
		while (!found && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char path[300], buf[256];
			snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
			FILE *f = fopen(path, "r");
			if (!f)
				continue; /* the thread exited */
			if (fgets(buf, sizeof buf, f) && strncmp(buf, want, strlen(want)) == 0)
				found = 1;
			fclose(f);
		}
		closedir(d);
		if (found)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10) {
			fprintf(stderr, "no thread blocked in read on fd %d after 10s\n", fd);
			exit(1);
		}
		usleep(1000);
	}
}

#endif
