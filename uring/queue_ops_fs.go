package uring

import (
	"math"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// File and directory operations of Queue and Link. The rules of queue_ops.go
// hold: each Queue method returns ErrClosed, ErrBusy or an
// *UnsupportedOpError at submission and otherwise a handle that reports the
// CQE's result; each Link method adds one chain member. Path names are
// converted with unix.BytePtrFromString (a NUL inside is EINVAL, before
// anything is submitted) and pinned until the completion.

// ReadFixed submits IORING_OP_READ_FIXED (io_uring_prep_read_fixed): a read
// at off into buf, which must lie inside registered buffer bufIndex
// (Queue.Ring().RegisterBuffers; otherwise the kernel's -EFAULT). buf is
// pinned until the completion (a no-op for C or mmap memory, which
// registered buffers usually are).
func (q *Queue) ReadFixed(fd int, buf []byte, off uint64, bufIndex int) (*completion.Handle, error) {
	return q.submit(nil, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepReadFixed(fd, rwSpan(buf), off, bufIndex) })
}

// ReadFixed adds IORING_OP_READ_FIXED (io_uring_prep_read_fixed); buf is
// pinned.
func (l *Link) ReadFixed(fd int, buf []byte, off uint64, bufIndex int) *completion.Handle {
	return l.do(func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepReadFixed(fd, rwSpan(buf), off, bufIndex) })
}

// WriteFixed submits IORING_OP_WRITE_FIXED (io_uring_prep_write_fixed): a
// write at off from buf inside registered buffer bufIndex. buf is pinned
// until the completion.
func (q *Queue) WriteFixed(fd int, buf []byte, off uint64, bufIndex int) (*completion.Handle, error) {
	return q.submit(nil, func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepWriteFixed(fd, rwSpan(buf), off, bufIndex) })
}

// WriteFixed adds IORING_OP_WRITE_FIXED (io_uring_prep_write_fixed); buf is
// pinned.
func (l *Link) WriteFixed(fd int, buf []byte, off uint64, bufIndex int) *completion.Handle {
	return l.do(func(op *completion.Op) { op.PinBytes(buf) }, func(s *SQE) { s.PrepWriteFixed(fd, rwSpan(buf), off, bufIndex) })
}

// Readv2 submits IORING_OP_READV with preadv2(2) flags (unix.RWF_NOWAIT,
// RWF_HIPRI, ...; io_uring_prep_readv2) into bufs at off. The iovec array
// and every buffer are pinned until the completion.
func (q *Queue) Readv2(fd int, bufs [][]byte, off uint64, flags int) (*completion.Handle, error) {
	return q.submitVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepReadv2(fd, iov, off, flags) })
}

// Readv2 adds IORING_OP_READV with RWF_* flags (io_uring_prep_readv2).
func (l *Link) Readv2(fd int, bufs [][]byte, off uint64, flags int) *completion.Handle {
	return l.doVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepReadv2(fd, iov, off, flags) })
}

// Writev2 submits IORING_OP_WRITEV with pwritev2(2) flags (unix.RWF_APPEND,
// RWF_DSYNC, ...; io_uring_prep_writev2) from bufs at off. The iovec array
// and every buffer are pinned until the completion.
func (q *Queue) Writev2(fd int, bufs [][]byte, off uint64, flags int) (*completion.Handle, error) {
	return q.submitVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepWritev2(fd, iov, off, flags) })
}

// Writev2 adds IORING_OP_WRITEV with RWF_* flags (io_uring_prep_writev2).
func (l *Link) Writev2(fd int, bufs [][]byte, off uint64, flags int) *completion.Handle {
	return l.doVec(bufs, func(s *SQE, iov []unix.Iovec) { s.PrepWritev2(fd, iov, off, flags) })
}

// Fallocate submits IORING_OP_FALLOCATE (io_uring_prep_fallocate):
// fallocate(2) of length bytes at off with mode (0, or unix.FALLOC_FL_*).
// Nothing is pinned.
func (q *Queue) Fallocate(fd int, mode int, off, length int64) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepFallocate(fd, mode, off, length) })
}

// Fallocate adds IORING_OP_FALLOCATE (io_uring_prep_fallocate).
func (l *Link) Fallocate(fd int, mode int, off, length int64) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepFallocate(fd, mode, off, length) })
}

// Fadvise submits IORING_OP_FADVISE (io_uring_prep_fadvise):
// posix_fadvise(2) of length bytes at off (0: to the end of the file) with
// advice (unix.FADV_DONTNEED, ...). The SQE holds a 32-bit length, hence
// its type. Nothing is pinned.
func (q *Queue) Fadvise(fd int, off uint64, length uint32, advice int) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepFadvise(fd, off, int64(length), advice) })
}

// Fadvise adds IORING_OP_FADVISE (io_uring_prep_fadvise).
func (l *Link) Fadvise(fd int, off uint64, length uint32, advice int) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepFadvise(fd, off, int64(length), advice) })
}

// Madvise submits IORING_OP_MADVISE (io_uring_prep_madvise): madvise(2) of
// mem with advice (unix.MADV_DONTNEED, ...). mem is normally mmap memory
// (advice such as MADV_DONTNEED on the Go heap would destroy live data);
// a Go mem is pinned until the completion. The SQE holds a 32-bit length:
// a longer mem is EINVAL, before anything is submitted.
func (q *Queue) Madvise(mem []byte, advice int) (*completion.Handle, error) {
	return q.run(madvise(mem, advice))
}

// Madvise adds IORING_OP_MADVISE (io_uring_prep_madvise); mem is pinned.
func (l *Link) Madvise(mem []byte, advice int) *completion.Handle {
	return l.run(madvise(mem, advice))
}

func madvise(mem []byte, advice int) (func(op *completion.Op), func(s *SQE), error) {
	if uint64(len(mem)) > math.MaxUint32 {
		return nil, nil, unix.EINVAL
	}
	return func(op *completion.Op) { op.PinBytes(mem) }, func(s *SQE) { s.PrepMadvise(mem, advice) }, nil
}

// SyncFileRange submits IORING_OP_SYNC_FILE_RANGE
// (io_uring_prep_sync_file_range): sync_file_range(2) of n bytes at off
// (n 0: to the end of the file) with flags (unix.SYNC_FILE_RANGE_*).
// Nothing is pinned.
func (q *Queue) SyncFileRange(fd int, n uint32, off uint64, flags int) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepSyncFileRange(fd, n, off, flags) })
}

// SyncFileRange adds IORING_OP_SYNC_FILE_RANGE (io_uring_prep_sync_file_range).
func (l *Link) SyncFileRange(fd int, n uint32, off uint64, flags int) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepSyncFileRange(fd, n, off, flags) })
}

// Splice submits IORING_OP_SPLICE (io_uring_prep_splice): splice(2) of up
// to n bytes from fdIn at offIn to fdOut at offOut, one of them a pipe; an
// offset of -1 means the pipe, or the file position. flags are
// unix.SPLICE_F_* (and SpliceFDInFixed). Nothing is pinned.
func (q *Queue) Splice(fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepSplice(fdIn, offIn, fdOut, offOut, n, flags) })
}

// Splice adds IORING_OP_SPLICE (io_uring_prep_splice).
func (l *Link) Splice(fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepSplice(fdIn, offIn, fdOut, offOut, n, flags) })
}

// Tee submits IORING_OP_TEE (io_uring_prep_tee): tee(2) of up to n bytes
// from pipe fdIn to pipe fdOut without consuming them. Nothing is pinned.
func (q *Queue) Tee(fdIn, fdOut int, n uint32, flags uint32) (*completion.Handle, error) {
	return q.submit(nil, nil, func(s *SQE) { s.PrepTee(fdIn, fdOut, n, flags) })
}

// Tee adds IORING_OP_TEE (io_uring_prep_tee).
func (l *Link) Tee(fdIn, fdOut int, n uint32, flags uint32) *completion.Handle {
	return l.do(nil, func(s *SQE) { s.PrepTee(fdIn, fdOut, n, flags) })
}

// Unlinkat submits IORING_OP_UNLINKAT (io_uring_prep_unlinkat):
// unlinkat(2) of path relative to dirfd (unix.AT_FDCWD, or a directory);
// flags may be unix.AT_REMOVEDIR. The path is pinned until the completion.
func (q *Queue) Unlinkat(dirfd int, path string, flags int) (*completion.Handle, error) {
	return q.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepUnlinkat(dirfd, p[0], flags) }, path))
}

// Unlinkat adds IORING_OP_UNLINKAT (io_uring_prep_unlinkat); path is pinned.
func (l *Link) Unlinkat(dirfd int, path string, flags int) *completion.Handle {
	return l.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepUnlinkat(dirfd, p[0], flags) }, path))
}

// Renameat submits IORING_OP_RENAMEAT (io_uring_prep_renameat):
// renameat2(2) of oldPath (relative to oldDirfd) to newPath (relative to
// newDirfd) with flags (unix.RENAME_NOREPLACE, ...). Both paths are pinned
// until the completion.
func (q *Queue) Renameat(oldDirfd int, oldPath string, newDirfd int, newPath string, flags uint32) (*completion.Handle, error) {
	return q.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepRenameat(oldDirfd, p[0], newDirfd, p[1], flags) }, oldPath, newPath))
}

// Renameat adds IORING_OP_RENAMEAT (io_uring_prep_renameat); both paths are
// pinned.
func (l *Link) Renameat(oldDirfd int, oldPath string, newDirfd int, newPath string, flags uint32) *completion.Handle {
	return l.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepRenameat(oldDirfd, p[0], newDirfd, p[1], flags) }, oldPath, newPath))
}

// Mkdirat submits IORING_OP_MKDIRAT (io_uring_prep_mkdirat): mkdirat(2) of
// path relative to dirfd with mode (less the umask). The path is pinned
// until the completion.
func (q *Queue) Mkdirat(dirfd int, path string, mode uint32) (*completion.Handle, error) {
	return q.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepMkdirat(dirfd, p[0], mode) }, path))
}

// Mkdirat adds IORING_OP_MKDIRAT (io_uring_prep_mkdirat); path is pinned.
func (l *Link) Mkdirat(dirfd int, path string, mode uint32) *completion.Handle {
	return l.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepMkdirat(dirfd, p[0], mode) }, path))
}

// Symlinkat submits IORING_OP_SYMLINKAT (io_uring_prep_symlinkat):
// symlinkat(2) creating linkPath (relative to newDirfd) pointing to target.
// Both strings are pinned until the completion.
func (q *Queue) Symlinkat(target string, newDirfd int, linkPath string) (*completion.Handle, error) {
	return q.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepSymlinkat(p[0], newDirfd, p[1]) }, target, linkPath))
}

// Symlinkat adds IORING_OP_SYMLINKAT (io_uring_prep_symlinkat); both
// strings are pinned.
func (l *Link) Symlinkat(target string, newDirfd int, linkPath string) *completion.Handle {
	return l.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepSymlinkat(p[0], newDirfd, p[1]) }, target, linkPath))
}

// Linkat submits IORING_OP_LINKAT (io_uring_prep_linkat): linkat(2)
// creating newPath (relative to newDirfd) as a hard link to oldPath
// (relative to oldDirfd); flags may be unix.AT_SYMLINK_FOLLOW. Both paths
// are pinned until the completion.
func (q *Queue) Linkat(oldDirfd int, oldPath string, newDirfd int, newPath string, flags int) (*completion.Handle, error) {
	return q.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepLinkat(oldDirfd, p[0], newDirfd, p[1], flags) }, oldPath, newPath))
}

// Linkat adds IORING_OP_LINKAT (io_uring_prep_linkat); both paths are
// pinned.
func (l *Link) Linkat(oldDirfd int, oldPath string, newDirfd int, newPath string, flags int) *completion.Handle {
	return l.run(withPaths(func(s *SQE, p [2]*byte) { s.PrepLinkat(oldDirfd, p[0], newDirfd, p[1], flags) }, oldPath, newPath))
}

// withPaths converts one or two path names to NUL-terminated strings and
// returns the pin and prep of an operation on them: pin pins the strings,
// prep calls fill with them (p[1] is nil for a single name).
func withPaths(fill func(s *SQE, p [2]*byte), names ...string) (func(op *completion.Op), func(s *SQE), error) {
	var p [2]*byte
	for i, name := range names {
		b, err := unix.BytePtrFromString(name)
		if err != nil {
			return nil, nil, err
		}
		p[i] = b
	}
	pin := func(op *completion.Op) {
		for _, b := range p {
			if b != nil {
				op.Pin(b)
			}
		}
	}
	return pin, func(s *SQE) { fill(s, p) }, nil
}
