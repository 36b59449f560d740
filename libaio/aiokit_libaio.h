/* C helpers of package libaio: each one exists to cut a cgo crossing, to avoid handing
 * C a Go pointer to a Go pointer, or to give Go a pointer to a libaio static inline. */
#ifndef AIOKIT_LIBAIO_H
#define AIOKIT_LIBAIO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <errno.h>
#include <libaio.h>

/* io_submit with the iocb pointer array typed as integers: the kernel keeps iocb
 * addresses only as cookies (event.obj), never as Go pointers. */
static inline int aiokit_io_submit(io_context_t ctx, long nr, uintptr_t *ios) {
	return io_submit(ctx, nr, (struct iocb **)ios);
}

static inline int aiokit_io_cancel(io_context_t ctx, uintptr_t iocb, struct io_event *evt) {
	return io_cancel(ctx, (struct iocb *)iocb, evt);
}

/* io_getevents with a zero timeout: the reaper's one crossing per batch. EINTR is
 * retried here (a zero-timeout io_getevents still reports a pending signal). */
/* Waits at most ns for at least one event and reaps up to nr (a syscall:
   libaio answers from the user-space ring only for a zero timeout).
   Returns the count, 0 on timeout, or -errno (-EINTR included). */
static inline int aiokit_wait_events(io_context_t ctx, long nr, struct io_event *events, long long ns) {
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	return io_getevents(ctx, 1, nr, events, &ts);
}

/* One slice of a blocking Context.GetEvents/PGetEvents: io_getevents or io_pgetevents
 * waiting at most ns (the timespec is built here, so Go passes no pointer to it). */
static inline int aiokit_getevents_ns(io_context_t ctx, long min_nr, long nr, struct io_event *events, long long ns) {
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	return io_getevents(ctx, min_nr, nr, events, &ts);
}

static inline int aiokit_pgetevents_ns(io_context_t ctx, long min_nr, long nr, struct io_event *events, long long ns, sigset_t *sigmask) {
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	return io_pgetevents(ctx, min_nr, nr, events, &ts, sigmask);
}

static inline int aiokit_reap(io_context_t ctx, long nr, struct io_event *events) {
	struct timespec zero = {0, 0};
	int r;
	do {
		r = io_getevents(ctx, 0, nr, events, &zero);
	} while (r == -EINTR);
	return r;
}

/* Address of the io_callback_t that forwards io_queue_run callbacks to Go. */
io_callback_t aiokit_callback_ptr(void);
/* QueueRun's io_queue_run (see aiokit_libaio.c). */
int aiokit_queue_run(io_context_t ctx, struct io_event *stray);

/* Layout of struct iocb and struct io_event as the C compiler sees it (tests). */
struct aiokit_field { const char *name; size_t off, size; };
int aiokit_iocb_layout(struct aiokit_field *out, int max);
int aiokit_event_layout(struct aiokit_field *out, int max);
size_t aiokit_sizeof_iocb(void);
size_t aiokit_sizeof_event(void);

/* The same, from linux/aio_abi.h (aiokit_abi.c). */
int aiokit_kernel_iocb_layout(struct aiokit_field *out, int max);
size_t aiokit_kernel_sizeof_iocb(void);
size_t aiokit_kernel_sizeof_event(void);
int aiokit_kernel_flag_resfd(void);
int aiokit_kernel_flag_ioprio(void);

#endif
