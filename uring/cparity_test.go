package uring

// Raw-API cases where the Go binding gave something other than the C
// liburing 2.3 calls, found by comparing with C programs. Each test keeps the
// C program it is compared with (gcc x.c -luring) and its output on Linux
// 6.18.

import (
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// overflowRing fills the CQ of a 4-entry ring (CQ 8) with 12 NOPs, then
// consumes the 8 in the ring: CQ empty, 4 completions in the kernel's
// overflow list, IORING_SQ_CQ_OVERFLOW set.
func overflowRing(t *testing.T) *Ring {
	t.Helper()
	r := rawRing(t, 4, nil)
	for i := 0; i < 12; i++ {
		s := r.GetSQE()
		if s == nil {
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
			s = r.GetSQE()
		}
		s.PrepNop()
		s.SetUserData(uint64(100 + i))
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	r.CQAdvance(8)
	if r.CQReady() != 0 || !r.CQHasOverflow() {
		t.Fatalf("setup: ready %d overflow %v", r.CQReady(), r.CQHasOverflow())
	}
	return r
}

// C:
//
//	io_uring_queue_init(4, &r, 0);
//	/* 12 NOPs submitted (4 at a time), io_uring_cq_advance(&r, 8) */
//	ret = io_uring_peek_batch_cqe(&r, b, 0);
//	printf("%d ready=%u ovf=%d\n", ret, io_uring_cq_ready(&r), io_uring_cq_has_overflow(&r));
//
// prints "0 ready=4 ovf=0": with an empty CQ and the overflow flag set,
// liburing enters the kernel (io_uring_get_events) before looking at count,
// so the overflowed completions are flushed into the CQ even for count 0.
// PeekBatchCQE returned before that for an empty slice: ready=0 ovf=1.
func TestPeekBatchEmptySliceFlushes(t *testing.T) {
	r := overflowRing(t)
	if n := r.PeekBatchCQE(nil); n != 0 {
		t.Fatalf("PeekBatchCQE(nil) = %d", n)
	}
	if got, ovf := r.CQReady(), r.CQHasOverflow(); got != 4 || ovf {
		t.Errorf("after PeekBatchCQE(nil): CQReady %d, CQHasOverflow %v; C gives 4, false", got, ovf)
	}
	r2 := overflowRing(t)
	r2.PeekBatchCQE([]*CQE{})
	if got := r2.CQReady(); got != 4 {
		t.Errorf("after PeekBatchCQE([]*CQE{}): CQReady %d; C gives 4", got)
	}
}

// C:
//
//	struct io_uring_params p = {0};
//	int fd = io_uring_setup(4, &p);
//	io_uring_queue_mmap(fd, &p, &r);
//	printf("features=%x\n", r.features);                  // features=0
//	for (i = 0; i < r.sq.ring_entries; i++) r.sq.array[i] = i;
//	sqe = io_uring_get_sqe(&r); io_uring_prep_nop(sqe); sqe->user_data = 42;
//	struct __kernel_timespec ts = { 0, 10000000 };
//	ret = io_uring_wait_cqe_timeout(&r, &cqe, &ts);
//	printf("%d ud=%llu sqready=%u\n", ret, cqe->user_data, io_uring_sq_ready(&r));
//
// prints "features=0" and "2 ud=42 sqready=0": io_uring_queue_mmap leaves
// ring->features 0, so liburing takes its pre-EXT_ARG path, which submits a
// timeout SQE and with it the pending NOP, whose completion is returned.
// QueueMmap copied p.Features into ring->features, so the EXT_ARG path ran:
// nothing submitted, ETIME, and the NOP still in the SQ.
func TestQueueMmapFeaturesAsC(t *testing.T) {
	r, _ := mmapRing(t, 4)
	if f := r.Features(); f != 0 {
		t.Errorf("Features() after QueueMmap = %#x; C's ring->features is 0", f)
	}
	s := r.GetSQE()
	s.PrepNop()
	s.SetUserData(42)
	ts := KernelTimespec{Nsec: 10 * int64(time.Millisecond)}
	cqe, err := r.WaitCQETimeoutTS(&ts)
	if err != nil || cqe == nil || cqe.UserData != 42 || r.SQReady() != 0 {
		t.Errorf("WaitCQETimeoutTS = %v, %v, SQReady %d; C returns the NOP's CQE (ud 42), SQ empty", cqe, err, r.SQReady())
	}
}

// C:
//
//	printf("%d %d\n", io_uring_buf_ring_mask(0), io_uring_buf_ring_mask((1u << 31) + 1));
//
// prints "-1 -2147483648" (int(ring_entries - 1)). BufRingMask converted the
// uint32 difference to a 64-bit int: 4294967295 and 2147483648.
func TestBufRingMaskAsC(t *testing.T) {
	if m := BufRingMask(0); m != -1 {
		t.Errorf("BufRingMask(0) = %d; C gives -1", m)
	}
	if m := BufRingMask(1<<31 + 1); m != -2147483648 {
		t.Errorf("BufRingMask(1<<31+1) = %d; C gives -2147483648", m)
	}
}

// C has no fd wider than int. The package maps such an fd to -1 (EBADF)
// everywhere (fileio.FD32: SQE fds, RegisterEventFD, QueueMmap, RegisterFiles),
// and so do Enter, Enter2 and Register, which took its low 32 bits and acted
// on another descriptor (Enter(ringfd+1<<32, ...) entered the ring). C with
// the -1: io_uring_enter(-1, 0, 0, 0, NULL) = -EBADF.
func TestRawWideFd(t *testing.T) {
	r := rawRing(t, 4, nil)
	wide := r.Fd() + 1<<32
	if _, err := Enter(wide, 0, 0, 0, nil); err != unix.EBADF {
		t.Errorf("Enter(fd+1<<32) = %v; want EBADF", err)
	}
	if _, err := Enter2(wide, 0, 0, 0, unsafe.Pointer(nil), 8); err != unix.EBADF {
		t.Errorf("Enter2(fd+1<<32) = %v; want EBADF", err)
	}
	// io_uring_register(-1, ...) is the kernel's "blind" register on 6.x
	// (EINVAL for ENABLE_RINGS): the wide fd gets C's answer for -1.
	_, want := Register(-1, RegisterEnableRings, nil, 0)
	if _, err := Register(wide, RegisterEnableRings, nil, 0); err != want {
		t.Errorf("Register(fd+1<<32) = %v; want %v, as for fd -1", err, want)
	}
}

// C:
//
//	struct io_uring_probe *pr = calloc(1, sizeof(*pr) + 300 * sizeof(pr->ops[0]));
//	io_uring_register_probe(&r, pr, 257);          // -EINVAL
//	io_uring_register_probe(&r, pr, 0xffffffff);   // -EINVAL
//
// The kernel refuses more than 256 op slots before it reads the probe.
// RegisterProbe callocked 16 + nr*8 bytes first: for 0xffffffff (32 GiB)
// that failed with ENOMEM (for 1<<31 it reserved 16 GiB, then got EINVAL).
func TestRegisterProbeHugeNr(t *testing.T) {
	r := rawRing(t, 4, nil)
	for _, nr := range []uint32{257, 1 << 31, 0xffffffff} {
		if _, err := r.RegisterProbe(nr); err != unix.EINVAL {
			t.Errorf("RegisterProbe(%d) = %v; C gives -EINVAL", nr, err)
		}
	}
}
