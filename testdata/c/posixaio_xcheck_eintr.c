/* posixaio_xcheck_eintr: waits of glibc POSIX AIO under signals.
 *
 * usage: posixaio_xcheck_eintr
 *
 * Part 1, the Go runtime's situation: a handler installed with SA_RESTART
 * (Go installs all of its handlers so) runs on the waiting thread every 2 ms.
 * A timed aio_suspend fails with EINTR; an untimed one and lio_listio
 * (LIO_WAIT) are restarted by the kernel and return when the requests are
 * done.
 *
 * Part 2 (after the line "no SA_RESTART"), C only: with a handler installed
 * without SA_RESTART, lio_listio(LIO_WAIT) returns EINTR while its requests
 * are still queued. glibc keeps pointers into lio_listio's stack frame for
 * them and writes through those pointers when they finish (the process then
 * crashes), so the program exits before that can happen.
 */
#include "posixaio_common.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_t waiter;
static atomic_int stop;
static int p[2];

static void handler(int sig) { (void)sig; }

static void *interrupter(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_kill(waiter, SIGUSR1);
		usleep(2000);
	}
	return NULL;
}

static void *late_writer(void *arg)
{
	usleep((useconds_t)(uintptr_t)arg);
	write(p[1], "abcdefgh", 8);
	return NULL;
}

static void install(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigaction(SIGUSR1, &sa, NULL);
}

int main(void)
{
	if (pipe(p) < 0)
		return 1;
	waiter = pthread_self();
	install(SA_RESTART);
	pthread_t irq, wr;
	pthread_create(&irq, NULL, interrupter, NULL);

	static char b1[4], b2[4];
	struct aiocb a, b;
	pa_setup(&a, p[0], b1, 4, 0);
	aio_read(&a);
	trace_errno("aio_suspend timed", pa_suspend_ms(&a, 5000));
	pthread_create(&wr, NULL, late_writer, (void *)(uintptr_t)100000);
	const struct aiocb *l[1] = { &a };
	trace_errno("aio_suspend untimed", aio_suspend(l, 1, NULL));
	pa_trace_error("aio_error after untimed", &a);
	pthread_join(wr, NULL);
	char drain[8];
	read(p[0], drain, 4);

	pa_setup(&a, p[0], b1, 4, 0);
	pa_setup(&b, p[0], b2, 4, 0);
	a.aio_lio_opcode = b.aio_lio_opcode = LIO_READ;
	struct aiocb *list[2] = { &a, &b };
	pthread_create(&wr, NULL, late_writer, (void *)(uintptr_t)100000);
	trace_errno("lio_listio LIO_WAIT", lio_listio(LIO_WAIT, list, 2, NULL));
	pa_trace_return("member 1", &a);
	pa_trace_return("member 2", &b);
	pthread_join(wr, NULL);

	trace_line("no SA_RESTART");
	install(0);
	pa_setup(&a, p[0], b1, 4, 0);
	pa_setup(&b, p[0], b2, 4, 0);
	a.aio_lio_opcode = b.aio_lio_opcode = LIO_READ;
	trace_errno("lio_listio LIO_WAIT", lio_listio(LIO_WAIT, list, 2, NULL));
	pa_trace_error("member 1", &a);
	pa_trace_error("member 2", &b);
	fflush(stdout);
	_exit(0);
}
