/* The kernel's view of the AIO ABI (linux/aio_abi.h), kept apart from libaio.h, which
 * defines the same structs: the layout test compares both with the Go types. */
#include <stddef.h>
#include <linux/aio_abi.h>

struct aiokit_field { const char *name; size_t off, size; };

#define KFIELD(T, f) { #f, offsetof(T, f), sizeof(((T *)0)->f) }

int aiokit_kernel_iocb_layout(struct aiokit_field *out, int max) {
	struct aiokit_field f[] = {
		KFIELD(struct iocb, aio_data),
		KFIELD(struct iocb, aio_key),
		KFIELD(struct iocb, aio_rw_flags),
		KFIELD(struct iocb, aio_lio_opcode),
		KFIELD(struct iocb, aio_reqprio),
		KFIELD(struct iocb, aio_fildes),
		KFIELD(struct iocb, aio_buf),
		KFIELD(struct iocb, aio_nbytes),
		KFIELD(struct iocb, aio_offset),
		KFIELD(struct iocb, aio_reserved2),
		KFIELD(struct iocb, aio_flags),
		KFIELD(struct iocb, aio_resfd),
	};
	int n = sizeof(f) / sizeof(f[0]);
	for (int i = 0; i < n && i < max; i++) out[i] = f[i];
	return n;
}

size_t aiokit_kernel_sizeof_iocb(void) { return sizeof(struct iocb); }
size_t aiokit_kernel_sizeof_event(void) { return sizeof(struct io_event); }
int aiokit_kernel_flag_resfd(void) { return IOCB_FLAG_RESFD; }
int aiokit_kernel_flag_ioprio(void) { return IOCB_FLAG_IOPRIO; }
