/* posixaio_xcheck_listio: lio_listio in both modes, LIO_NOP and NULL
 * entries, failing and refused members (some or all of the list), and the
 * list's own notification (SIGEV_THREAD through an eventfd, SIGEV_SIGNAL
 * with SIGRTMIN+3).
 *
 * usage: posixaio_xcheck_listio FILE   (FILE is created)
 */
#include "posixaio_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int efd;

static void notify(union sigval v)
{
	pa_block_sigrt3(); /* before main can go on: see posixaio_common.h */
	uint64_t x = (uint64_t)(uintptr_t)v.sival_ptr;
	write(efd, &x, sizeof x);
}

static int slow_pipe[2];

static void *slow_writer(void *arg)
{
	(void)arg;
	usleep(50000);
	write(slow_pipe[1], "slow", 4);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	sigset_t set = pa_block_sigrt3(); /* from the start; taken with sigtimedwait */
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	static char wbuf[8][512], rbuf[8][512], nbuf[512];
	struct aiocb w[8], r[8], nop;
	struct aiocb *list[10];
	for (int i = 0; i < 8; i++) {
		memset(wbuf[i], 'a' + i, 512);
		pa_setup(&w[i], fd, wbuf[i], 512, i * 512);
		w[i].aio_lio_opcode = LIO_WRITE;
		list[i] = &w[i];
	}
	pa_setup(&nop, fd, nbuf, 512, 0);
	nop.aio_lio_opcode = LIO_NOP;
	list[8] = &nop;
	list[9] = NULL;
	trace_errno("lio_listio LIO_WAIT writes", lio_listio(LIO_WAIT, list, 10, NULL));
	for (int i = 0; i < 8; i++)
		pa_trace_return("write", &w[i]);
	pa_trace_error("nop untouched", &nop);

	/* LIO_NOWAIT, one SIGEV_THREAD notification for the whole list. */
	efd = eventfd(0, EFD_CLOEXEC);
	for (int i = 0; i < 8; i++) {
		pa_setup(&r[i], fd, rbuf[i], 512, i * 512);
		r[i].aio_lio_opcode = LIO_READ;
		list[i] = &r[i];
	}
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = notify;
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)777;
	trace_errno("lio_listio LIO_NOWAIT thread", lio_listio(LIO_NOWAIT, list, 8, &sev));
	uint64_t v;
	read(efd, &v, sizeof v);
	trace_line("list notification value=%llu", (unsigned long long)v);
	int all = 1;
	for (int i = 0; i < 8; i++)
		all &= aio_error(&r[i]) == 0 && rbuf[i][0] == 'a' + i && aio_return(&r[i]) == 512;
	trace_line("all read at notification %d", all);

	/* LIO_NOWAIT, SIGEV_SIGNAL for the list (blocked since the start). */
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 3;
	for (int i = 0; i < 8; i++)
		pa_setup(&r[i], fd, rbuf[i], 512, i * 512), r[i].aio_lio_opcode = LIO_READ;
	trace_errno("lio_listio LIO_NOWAIT signal", lio_listio(LIO_NOWAIT, list, 8, &sev));
	struct timespec ts = { 10, 0 };
	int sig = sigtimedwait(&set, NULL, &ts);
	trace_line("list signal SIGRTMIN+%d", sig - SIGRTMIN);
	all = 1;
	for (int i = 0; i < 8; i++)
		all &= aio_error(&r[i]) == 0;
	trace_line("all read at signal %d", all);

	/* Failing members: the list gives EIO, each member its own error. */
	static char g[100], bd[100], ng[100];
	struct aiocb good, bad, neg;
	pa_setup(&good, fd, g, 100, 0);
	pa_setup(&bad, 98765, bd, 100, 0);
	pa_setup(&neg, fd, ng, 100, -1);
	good.aio_lio_opcode = bad.aio_lio_opcode = neg.aio_lio_opcode = LIO_READ;
	struct aiocb *fl[3] = { &good, &bad, &neg };
	trace_errno("lio_listio LIO_WAIT failing", lio_listio(LIO_WAIT, fl, 3, NULL));
	pa_trace_return("good member", &good);
	pa_trace_return("bad fd member", &bad);
	pa_trace_return("negative offset member", &neg);

	/* A member glibc refuses to queue. */
	struct aiocb good2, refused, slow;
	static char g2[100], rf[100], sl[4];
	pa_setup(&good2, fd, g2, 100, 0);
	pa_setup(&refused, fd, rf, 100, 0);
	good2.aio_lio_opcode = refused.aio_lio_opcode = LIO_READ;
	refused.aio_reqprio = 21;
	struct aiocb *rl[2] = { &good2, &refused };
	trace_errno("lio_listio LIO_NOWAIT refused", lio_listio(LIO_NOWAIT, rl, 2, NULL));
	pa_trace_error("refused member", &refused);
	pa_wait(&good2);
	pa_trace_return("queued member", &good2);
	pipe(slow_pipe);
	pa_setup(&slow, slow_pipe[0], sl, 4, 0);
	slow.aio_lio_opcode = LIO_READ;
	rl[0] = &slow;
	pthread_t th;
	pthread_create(&th, NULL, slow_writer, NULL);
	trace_errno("lio_listio LIO_WAIT refused", lio_listio(LIO_WAIT, rl, 2, NULL));
	pa_trace_return("slow member", &slow);
	pthread_join(th, NULL);
	/* Every member refused: LIO_WAIT queues nothing and returns at once
	   with the member's errno, not EIO. */
	struct aiocb *al[2] = { &refused, NULL };
	trace_errno("lio_listio LIO_WAIT all refused", lio_listio(LIO_WAIT, al, 2, NULL));
	pa_trace_error("all-refused member", &refused);
	trace_errno("lio_listio bad mode", lio_listio(7, rl, 2, NULL));
	return 0;
}
