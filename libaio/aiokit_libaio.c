#include "aiokit_libaio.h"
#include "_cgo_export.h"

static void aiokit_callback(io_context_t ctx, struct iocb *iocb, long res, long res2) {
	(void)aiokitGoCallback(ctx, iocb, res, res2);
}

io_callback_t aiokit_callback_ptr(void) { return aiokit_callback; }

/* io_queue_run's loop (libaio 0.3.113: io_getevents(ctx, 0, 1, &ev, {0, 0})
   until it returns anything but 1, calling each event's data as an
   io_callback_t), except for an event that loop would crash on or lose:
   one whose data is not aiokit_callback (a NULL or foreign function
   pointer) or whose iocb has no Go callback (a copy of an iocb given one).
   Such an event is not called back: it is stored in *stray and the loop
   ends with 1, for QueueRun to return it in an error. */
int aiokit_queue_run(io_context_t ctx, struct io_event *stray)
{
	struct timespec timeout = {0, 0};
	struct io_event ev;
	int ret;
	while ((ret = io_getevents(ctx, 0, 1, &ev, &timeout)) == 1) {
		if ((io_callback_t)(uintptr_t)ev.data != aiokit_callback ||
		    !aiokitGoCallback(ctx, ev.obj, ev.res, ev.res2)) {
			*stray = ev;
			return 1;
		}
	}
	return ret;
}

#define FIELD(T, f) { #f, offsetof(T, f), sizeof(((T *)0)->f) }

int aiokit_iocb_layout(struct aiokit_field *out, int max) {
	struct aiokit_field f[] = {
		FIELD(struct iocb, data),
		FIELD(struct iocb, key),
		FIELD(struct iocb, aio_rw_flags),
		FIELD(struct iocb, aio_lio_opcode),
		FIELD(struct iocb, aio_reqprio),
		FIELD(struct iocb, aio_fildes),
		FIELD(struct iocb, u.c.buf),
		FIELD(struct iocb, u.c.nbytes),
		FIELD(struct iocb, u.c.offset),
		FIELD(struct iocb, u.c.__pad3),
		FIELD(struct iocb, u.c.flags),
		FIELD(struct iocb, u.c.resfd),
		FIELD(struct iocb, u.v.vec),
		FIELD(struct iocb, u.v.nr),
		FIELD(struct iocb, u.v.offset),
		FIELD(struct iocb, u.poll.events),
	};
	int n = sizeof(f) / sizeof(f[0]);
	for (int i = 0; i < n && i < max; i++) out[i] = f[i];
	return n;
}

int aiokit_event_layout(struct aiokit_field *out, int max) {
	struct aiokit_field f[] = {
		FIELD(struct io_event, data),
		FIELD(struct io_event, obj),
		FIELD(struct io_event, res),
		FIELD(struct io_event, res2),
	};
	int n = sizeof(f) / sizeof(f[0]);
	for (int i = 0; i < n && i < max; i++) out[i] = f[i];
	return n;
}

size_t aiokit_sizeof_iocb(void) { return sizeof(struct iocb); }
size_t aiokit_sizeof_event(void) { return sizeof(struct io_event); }
