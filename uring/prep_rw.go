package uring

import (
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// Buffers handed to the Prep* methods are recorded as addresses in the SQE;
// the kernel reads or writes them after Submit returns. In this raw layer the
// caller owns their lifetime, as in C: Go memory must stay alive and pinned
// (runtime.Pinner) until the completion is reaped, or be C/mmap memory.

// PrepNop prepares an IORING_OP_NOP (io_uring_prep_nop).
func (s *SQE) PrepNop() { s.prepRW(OpNop, -1, 0, 0, 0) }

// PrepRead prepares an IORING_OP_READ of len(buf) bytes at offset off
// (io_uring_prep_read). off = ^uint64(0) reads at the file position.
func (s *SQE) PrepRead(fd int, buf []byte, off uint64) {
	a, n := bufAddr(buf)
	s.prepRW(OpRead, fd, a, n, off)
}

// PrepWrite prepares an IORING_OP_WRITE (io_uring_prep_write).
func (s *SQE) PrepWrite(fd int, buf []byte, off uint64) {
	a, n := bufAddr(buf)
	s.prepRW(OpWrite, fd, a, n, off)
}

// iovAddr returns the address and count of an iovec slice.
func iovAddr(iov []unix.Iovec) (uint64, uint32) {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(iov)))), uint32(len(iov))
}

// PrepReadv prepares an IORING_OP_READV (io_uring_prep_readv). The iovec
// array and the buffers it points to must stay valid (and pinned, for Go
// memory) until completion.
func (s *SQE) PrepReadv(fd int, iov []unix.Iovec, off uint64) {
	a, n := iovAddr(iov)
	s.prepRW(OpReadv, fd, a, n, off)
}

// PrepReadv2 prepares an IORING_OP_READV with RWF_* flags (io_uring_prep_readv2).
func (s *SQE) PrepReadv2(fd int, iov []unix.Iovec, off uint64, flags int) {
	s.PrepReadv(fd, iov, off)
	s.OpFlags = uint32(flags)
}

// PrepWritev prepares an IORING_OP_WRITEV (io_uring_prep_writev).
func (s *SQE) PrepWritev(fd int, iov []unix.Iovec, off uint64) {
	a, n := iovAddr(iov)
	s.prepRW(OpWritev, fd, a, n, off)
}

// PrepWritev2 prepares an IORING_OP_WRITEV with RWF_* flags (io_uring_prep_writev2).
func (s *SQE) PrepWritev2(fd int, iov []unix.Iovec, off uint64, flags int) {
	s.PrepWritev(fd, iov, off)
	s.OpFlags = uint32(flags)
}

// PrepReadFixed prepares an IORING_OP_READ_FIXED into registered buffer
// bufIndex; buf must lie inside that buffer (io_uring_prep_read_fixed).
func (s *SQE) PrepReadFixed(fd int, buf []byte, off uint64, bufIndex int) {
	a, n := bufAddr(buf)
	s.prepRW(OpReadFixed, fd, a, n, off)
	s.BufIndex = uint16(bufIndex)
}

// PrepWriteFixed prepares an IORING_OP_WRITE_FIXED (io_uring_prep_write_fixed).
func (s *SQE) PrepWriteFixed(fd int, buf []byte, off uint64, bufIndex int) {
	a, n := bufAddr(buf)
	s.prepRW(OpWriteFixed, fd, a, n, off)
	s.BufIndex = uint16(bufIndex)
}

// PrepFsync prepares an IORING_OP_FSYNC; flags may be [FsyncDatasync]
// (io_uring_prep_fsync).
func (s *SQE) PrepFsync(fd int, flags uint32) {
	s.prepRW(OpFsync, fd, 0, 0, 0)
	s.OpFlags = flags
}

// PrepSyncFileRange prepares an IORING_OP_SYNC_FILE_RANGE
// (io_uring_prep_sync_file_range).
func (s *SQE) PrepSyncFileRange(fd int, n uint32, off uint64, flags int) {
	s.prepRW(OpSyncFileRange, fd, 0, n, off)
	s.OpFlags = uint32(flags)
}

// PrepFallocate prepares an IORING_OP_FALLOCATE (io_uring_prep_fallocate).
func (s *SQE) PrepFallocate(fd int, mode int, off, length int64) {
	s.prepRW(OpFallocate, fd, 0, uint32(mode), uint64(off))
	s.Addr = uint64(length)
}

// PrepFadvise prepares an IORING_OP_FADVISE; length is truncated to 32 bits
// as in C (io_uring_prep_fadvise).
func (s *SQE) PrepFadvise(fd int, off uint64, length int64, advice int) {
	s.prepRW(OpFadvise, fd, 0, uint32(length), off)
	s.OpFlags = uint32(advice)
}

// PrepMadvise prepares an IORING_OP_MADVISE over mem (io_uring_prep_madvise).
func (s *SQE) PrepMadvise(mem []byte, advice int) {
	a, n := bufAddr(mem)
	s.prepRW(OpMadvise, -1, a, n, 0)
	s.OpFlags = uint32(advice)
}

// PrepSplice prepares an IORING_OP_SPLICE of n bytes from fdIn at offIn to
// fdOut at offOut; -1 means "pipe / current position" (io_uring_prep_splice).
// With [SpliceFDInFixed] in flags fdIn is a fixed-file index.
func (s *SQE) PrepSplice(fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) {
	s.prepRW(OpSplice, fdOut, 0, n, uint64(offOut))
	s.Addr = uint64(offIn)
	s.SpliceFdIn = fileio.FD32(fdIn)
	s.OpFlags = flags
}

// PrepTee prepares an IORING_OP_TEE between two pipes (io_uring_prep_tee).
func (s *SQE) PrepTee(fdIn, fdOut int, n uint32, flags uint32) {
	s.prepRW(OpTee, fdOut, 0, n, 0)
	s.Addr = 0
	s.SpliceFdIn = fileio.FD32(fdIn)
	s.OpFlags = flags
}
