// Package cprep calls liburing's C inline helpers (io_uring_prep_*, the
// io_uring_buf_ring_* helpers) and reports C struct layouts, so that package
// uring's tests can compare its pure-Go versions byte for byte. It exists
// because _test.go files cannot import "C". Tests only.
package cprep

// #cgo pkg-config: liburing
// #include <stdlib.h>
// #include "cprep.h"
import "C"

import "unsafe"

// Call runs the C helper io_uring_prep_<name> (or io_uring_sqe_set_data64
// "set_data64", io_uring_sqe_set_flags "set_flags", __io_uring_set_target_fixed_file
// "set_target_fixed_file") on sqe with the arguments in a, each cast to the
// C parameter type in order. It reports false for an unknown name.
func Call(name string, sqe *[64]byte, a [8]uint64) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	ca := (*C.uint64_t)(C.malloc(C.size_t(len(a) * 8)))
	defer C.free(unsafe.Pointer(ca))
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(ca)), len(a)), a[:])
	cs2 := (*C.struct_io_uring_sqe)(C.malloc(64))
	defer C.free(unsafe.Pointer(cs2))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(cs2)), 64), sqe[:])
	ok := C.cprep_call(cs, cs2, ca) == 0
	copy(sqe[:], unsafe.Slice((*byte)(unsafe.Pointer(cs2)), 64))
	return ok
}

// BufRingAdd runs io_uring_buf_ring_add on the ring at br.
func BufRingAdd(br unsafe.Pointer, addr uint64, n uint32, bid uint16, mask, off int) {
	C.cprep_buf_ring_add(br, C.uint64_t(addr), C.unsigned(n), C.ushort(bid), C.int(mask), C.int(off))
}

// BufRingAdvance runs io_uring_buf_ring_advance.
func BufRingAdvance(br unsafe.Pointer, count int) { C.cprep_buf_ring_advance(br, C.int(count)) }

// BufRingInit runs io_uring_buf_ring_init.
func BufRingInit(br unsafe.Pointer) { C.cprep_buf_ring_init(br) }

// BufRingMask runs io_uring_buf_ring_mask.
func BufRingMask(n uint32) int { return int(C.cprep_buf_ring_mask(C.uint32_t(n))) }

// Layouts returns sizeof(struct T) as "T" and offsetof(struct T, f) as "T.f"
// for the structs package uring mirrors.
func Layouts() map[string]uintptr {
	m := map[string]uintptr{}
	for p := C.cprep_layouts(); p.name != nil; p = (*C.struct_cprep_layout)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		m[C.GoString(p.name)] = uintptr(p.value)
	}
	return m
}
