#include "aiokit_libaio.h"
#include "_cgo_export.h"

static void aiokit_callback(io_context_t ctx, struct iocb *iocb, long res, long res2) {
	aiokitGoCallback(ctx, iocb, res, res2);
}

io_callback_t aiokit_callback_ptr(void) { return aiokit_callback; }

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
