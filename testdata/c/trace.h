/* trace.h: one line per step, the format internal/xcheck compares.
 *
 *   <op> res=<n> err=<NAME>
 *
 * n is the result (bytes, count) or -1 on failure; NAME is the errno's
 * symbolic name (strerrorname_np) or OK. Free-form steps use trace_line.
 */
#ifndef AIOKIT_TRACE_H
#define AIOKIT_TRACE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline void trace_ret(const char *op, long res, int err)
{
	if (err) {
		const char *name = strerrorname_np(err);
		if (name)
			printf("%s res=-1 err=%s\n", op, name);
		else
			printf("%s res=-1 err=errno%d\n", op, err);
	} else {
		printf("%s res=%ld err=OK\n", op, res);
	}
	fflush(stdout);
}

/* For calls that return -1 and set errno. */
static inline void trace_errno(const char *op, long ret)
{
	trace_ret(op, ret, ret < 0 ? errno : 0);
}

/* For calls and results that carry -errno (io_uring CQEs, libaio). */
static inline void trace_neg(const char *op, long ret)
{
	trace_ret(op, ret, ret < 0 ? (int)-ret : 0);
}

__attribute__((format(printf, 1, 2)))
static inline void trace_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#endif
