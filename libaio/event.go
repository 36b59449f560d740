package libaio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event is libaio's struct io_event (the kernel's struct io_event), byte for byte on
// 64-bit targets (checked by TestEventLayout).
type Event struct {
	Data uint64 // data: the Iocb's Data
	Obj  uint64 // obj: the address of the submitted Iocb (compare with ObjIs)
	Res  int64  // res: bytes transferred, poll mask, 0, or -errno (unsigned long in libaio.h)
	Res2 int64  // res2: secondary result, 0 for every opcode on current kernels
}

// SizeofEvent is sizeof(struct io_event).
const SizeofEvent = int(unsafe.Sizeof(Event{}))

// Result converts Res the way the rest of aiokit does: (int(Res), nil) when Res >= 0,
// (0, unix.Errno(-Res)) otherwise.
func (e *Event) Result() (int, error) {
	if e.Res < 0 {
		return 0, unix.Errno(-e.Res)
	}
	return int(e.Res), nil
}

// ObjIs reports whether the event completes cb (event.obj == cb in C).
func (e *Event) ObjIs(cb *Iocb) bool {
	return e.Obj == uint64(uintptr(unsafe.Pointer(cb)))
}
