/* posixaio_xcheck_order: glibc serves one descriptor's requests one at a
 * time in submission order, higher priority (smaller aio_reqprio) first.
 *
 * usage: posixaio_xcheck_order
 */
#include "posixaio_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	/* 20 writes to one pipe arrive in submission order. */
	static char msg[20][8];
	struct aiocb w[20];
	for (int i = 0; i < 20; i++) {
		snprintf(msg[i], sizeof msg[i], "<%02d>", i);
		pa_setup(&w[i], p[1], msg[i], 4, 0);
		if (aio_write(&w[i]) < 0)
			return 1;
	}
	for (int i = 0; i < 20; i++)
		pa_wait(&w[i]);
	char got[81] = { 0 };
	trace_errno("read pipe", read(p[0], got, 80));
	trace_line("data %s", got);

	/* One read runs (blocked on the empty pipe); of the two queued behind
	   it, aio_reqprio 0 runs before aio_reqprio 5. */
	static char b1[5], b2[5], b3[5];
	struct aiocb first, low, high;
	pa_setup(&first, p[0], b1, 4, 0);
	pa_setup(&low, p[0], b2, 4, 0);
	pa_setup(&high, p[0], b3, 4, 0);
	low.aio_reqprio = 5;
	trace_errno("aio_read first", aio_read(&first));
	pa_wait_blocked_reader(p[0]);
	trace_errno("aio_read reqprio 5", aio_read(&low));
	trace_errno("aio_read reqprio 0", aio_read(&high));
	trace_errno("write pipe", write(p[1], "111122223333", 12));
	pa_wait(&first);
	pa_wait(&low);
	pa_wait(&high);
	trace_line("first %s reqprio0 %s reqprio5 %s", b1, b3, b2);
	return 0;
}
