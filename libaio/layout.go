package libaio

/*
#include "aiokit_libaio.h"
*/
import "C"

// fieldLayout is one field of a C struct as the C compiler lays it out.
type fieldLayout struct {
	Name      string
	Off, Size uintptr
}

func readLayout(fn func(*C.struct_aiokit_field, C.int) C.int) []fieldLayout {
	var buf [32]C.struct_aiokit_field
	n := int(fn(&buf[0], C.int(len(buf))))
	out := make([]fieldLayout, 0, n)
	for _, f := range buf[:n] {
		out = append(out, fieldLayout{C.GoString(f.name), uintptr(f.off), uintptr(f.size)})
	}
	return out
}

// cLayouts reports, for the layout tests, struct iocb and struct io_event as libaio.h
// and as linux/aio_abi.h define them, and the kernel's IOCB_FLAG_* values.
func cLayouts() (iocb, event, kiocb []fieldLayout, sizes [4]uintptr, flagResFD, flagIOPrio int) {
	iocb = readLayout(func(p *C.struct_aiokit_field, n C.int) C.int { return C.aiokit_iocb_layout(p, n) })
	event = readLayout(func(p *C.struct_aiokit_field, n C.int) C.int { return C.aiokit_event_layout(p, n) })
	kiocb = readLayout(func(p *C.struct_aiokit_field, n C.int) C.int { return C.aiokit_kernel_iocb_layout(p, n) })
	sizes = [4]uintptr{
		uintptr(C.aiokit_sizeof_iocb()), uintptr(C.aiokit_sizeof_event()),
		uintptr(C.aiokit_kernel_sizeof_iocb()), uintptr(C.aiokit_kernel_sizeof_event()),
	}
	return iocb, event, kiocb, sizes, int(C.aiokit_kernel_flag_resfd()), int(C.aiokit_kernel_flag_ioprio())
}
