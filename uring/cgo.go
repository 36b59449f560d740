package uring

// #cgo pkg-config: liburing
// #include "aiokit_uring.h"
import "C"

import "unsafe"

// cRing returns the liburing struct io_uring of r (C memory, never moves).
func (r *Ring) cRing() *C.struct_io_uring { return &r.c.ring }

// cqeFromC converts a C struct io_uring_cqe pointer into the kernel CQ array.
func cqeFromC(p *C.struct_io_uring_cqe) *CQE { return (*CQE)(unsafe.Pointer(p)) }

// u32p converts a C unsigned pointer into kernel-shared memory to *uint32.
func u32p(p *C.uint) *uint32 { return (*uint32)(unsafe.Pointer(p)) }
