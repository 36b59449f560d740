package uring

// #include "aiokit_uring.h"
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// probeOps is the number of op slots liburing's io_uring_get_probe_ring asks for.
const probeOps = 256

// Probe is the Go copy of a struct io_uring_probe: which opcodes the kernel
// supports. The C probe is freed as soon as it is copied.
type Probe struct {
	LastOp uint8     // last_op: highest opcode the kernel knows
	OpsLen uint8     // ops_len: number of valid entries in Ops
	Ops    []ProbeOp // ops[0:ops_len]
}

// OpSupported reports whether opcode op is supported
// (io_uring_opcode_supported).
func (p *Probe) OpSupported(op uint8) bool {
	if p == nil || op > p.LastOp || int(op) >= len(p.Ops) {
		return false
	}
	return p.Ops[op].Flags&ProbeOpSupportedFlag != 0
}

// registerProbe allocates a C probe of nr ops, fills it with
// io_uring_register_probe and copies it to Go.
func registerProbe(ring *C.struct_io_uring, nr uint32) (*Probe, error) {
	if nr > 256 {
		return nil, unix.EINVAL // the kernel's answer (ops_len is a u8), without a huge calloc first
	}
	size := unsafe.Sizeof(probeHdr{}) + uintptr(nr)*unsafe.Sizeof(ProbeOp{})
	cp := (*C.struct_io_uring_probe)(C.calloc(1, C.size_t(size)))
	if cp == nil {
		return nil, unix.ENOMEM
	}
	defer C.free(unsafe.Pointer(cp))
	if ret := int(C.io_uring_register_probe(ring, cp, C.uint(nr))); ret < 0 {
		return nil, unix.Errno(-ret)
	}
	hdr := (*probeHdr)(unsafe.Pointer(cp))
	n := uint32(hdr.OpsLen)
	if n > nr {
		n = nr
	}
	ops := unsafe.Slice((*ProbeOp)(unsafe.Add(unsafe.Pointer(cp), unsafe.Sizeof(probeHdr{}))), n)
	return &Probe{LastOp: hdr.LastOp, OpsLen: hdr.OpsLen, Ops: append([]ProbeOp(nil), ops...)}, nil
}

// Probe asks the kernel which opcodes this ring supports
// (io_uring_get_probe_ring; implemented with io_uring_register_probe for 256
// ops, as liburing does, so that the errno is not lost).
func (r *Ring) Probe() (*Probe, error) {
	if !r.hold() {
		return nil, ErrClosed
	}
	defer r.release()
	return registerProbe(&r.c.ring, probeOps)
}

// RegisterProbe fills a probe of nr op slots (io_uring_register_probe).
func (r *Ring) RegisterProbe(nr uint32) (*Probe, error) {
	if !r.hold() {
		return nil, ErrClosed
	}
	defer r.release()
	return registerProbe(&r.c.ring, nr)
}

// GetProbe probes with a temporary 2-entry ring (io_uring_get_probe). Setup
// refusals match [ErrUnavailable].
func GetProbe() (*Probe, error) {
	r, err := New(2, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Probe()
}
