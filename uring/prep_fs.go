package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Paths are NUL-terminated C strings given as *byte (unix.BytePtrFromString).
// The kernel copies them while the SQE is submitted, so they must stay valid
// (and pinned, for Go memory) until the kernel consumed the SQE: when Submit
// returns on a ring without SQPOLL; on a [SetupSQPoll] ring the SQ thread
// reads them after Submit returned, until SQReady no longer counts the SQE.

func bp(p *byte) uint64 { return ptrAddr(unsafe.Pointer(p)) }

// PrepOpenat prepares an IORING_OP_OPENAT (io_uring_prep_openat).
func (s *SQE) PrepOpenat(dfd int, path *byte, flags int, mode uint32) {
	s.prepRW(OpOpenat, dfd, bp(path), mode, 0)
	s.OpFlags = uint32(flags)
}

// PrepOpenatDirect prepares an IORING_OP_OPENAT into fixed-file slot
// fileIndex (io_uring_prep_openat_direct); FileIndexAlloc-1, not FileIndexAlloc, lets the
// kernel pick a free slot (see SetTargetFixedFile).
func (s *SQE) PrepOpenatDirect(dfd int, path *byte, flags int, mode uint32, fileIndex uint32) {
	s.PrepOpenat(dfd, path, flags, mode)
	s.SetTargetFixedFile(fileIndex)
}

// PrepOpenat2 prepares an IORING_OP_OPENAT2 (io_uring_prep_openat2).
func (s *SQE) PrepOpenat2(dfd int, path *byte, how *unix.OpenHow) {
	s.prepRW(OpOpenat2, dfd, bp(path), uint32(unsafe.Sizeof(unix.OpenHow{})), ptrAddr(unsafe.Pointer(how)))
}

// PrepOpenat2Direct prepares an IORING_OP_OPENAT2 into fixed-file slot
// fileIndex (io_uring_prep_openat2_direct); FileIndexAlloc-1, not FileIndexAlloc, lets the
// kernel pick a free slot (see SetTargetFixedFile).
func (s *SQE) PrepOpenat2Direct(dfd int, path *byte, how *unix.OpenHow, fileIndex uint32) {
	s.PrepOpenat2(dfd, path, how)
	s.SetTargetFixedFile(fileIndex)
}

// PrepClose prepares an IORING_OP_CLOSE (io_uring_prep_close).
func (s *SQE) PrepClose(fd int) { s.prepRW(OpClose, fd, 0, 0, 0) }

// PrepCloseDirect prepares closing fixed-file slot fileIndex
// (io_uring_prep_close_direct).
func (s *SQE) PrepCloseDirect(fileIndex uint32) {
	s.PrepClose(0)
	s.SetTargetFixedFile(fileIndex)
}

// PrepStatx prepares an IORING_OP_STATX into statxbuf (io_uring_prep_statx).
func (s *SQE) PrepStatx(dfd int, path *byte, flags int, mask uint32, statxbuf *unix.Statx_t) {
	s.prepRW(OpStatx, dfd, bp(path), mask, ptrAddr(unsafe.Pointer(statxbuf)))
	s.OpFlags = uint32(flags)
}

// PrepUnlinkat prepares an IORING_OP_UNLINKAT; flags may be AT_REMOVEDIR
// (io_uring_prep_unlinkat).
func (s *SQE) PrepUnlinkat(dfd int, path *byte, flags int) {
	s.prepRW(OpUnlinkat, dfd, bp(path), 0, 0)
	s.OpFlags = uint32(flags)
}

// PrepUnlink is PrepUnlinkat relative to AT_FDCWD (io_uring_prep_unlink).
func (s *SQE) PrepUnlink(path *byte, flags int) { s.PrepUnlinkat(unix.AT_FDCWD, path, flags) }

// PrepRenameat prepares an IORING_OP_RENAMEAT (io_uring_prep_renameat).
func (s *SQE) PrepRenameat(oldDfd int, oldPath *byte, newDfd int, newPath *byte, flags uint32) {
	s.prepRW(OpRenameat, oldDfd, bp(oldPath), uint32(newDfd), bp(newPath))
	s.OpFlags = flags
}

// PrepRename is PrepRenameat relative to AT_FDCWD (io_uring_prep_rename).
func (s *SQE) PrepRename(oldPath, newPath *byte) {
	s.PrepRenameat(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, 0)
}

// PrepMkdirat prepares an IORING_OP_MKDIRAT (io_uring_prep_mkdirat).
func (s *SQE) PrepMkdirat(dfd int, path *byte, mode uint32) {
	s.prepRW(OpMkdirat, dfd, bp(path), mode, 0)
}

// PrepMkdir is PrepMkdirat relative to AT_FDCWD (io_uring_prep_mkdir).
func (s *SQE) PrepMkdir(path *byte, mode uint32) { s.PrepMkdirat(unix.AT_FDCWD, path, mode) }

// PrepSymlinkat prepares an IORING_OP_SYMLINKAT (io_uring_prep_symlinkat).
func (s *SQE) PrepSymlinkat(target *byte, newDirfd int, linkPath *byte) {
	s.prepRW(OpSymlinkat, newDirfd, bp(target), 0, bp(linkPath))
}

// PrepSymlink is PrepSymlinkat relative to AT_FDCWD (io_uring_prep_symlink).
func (s *SQE) PrepSymlink(target, linkPath *byte) { s.PrepSymlinkat(target, unix.AT_FDCWD, linkPath) }

// PrepLinkat prepares an IORING_OP_LINKAT (io_uring_prep_linkat).
func (s *SQE) PrepLinkat(oldDfd int, oldPath *byte, newDfd int, newPath *byte, flags int) {
	s.prepRW(OpLinkat, oldDfd, bp(oldPath), uint32(newDfd), bp(newPath))
	s.OpFlags = uint32(flags)
}

// PrepLink is PrepLinkat relative to AT_FDCWD (io_uring_prep_link).
func (s *SQE) PrepLink(oldPath, newPath *byte, flags int) {
	s.PrepLinkat(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, flags)
}

// PrepFilesUpdate prepares an IORING_OP_FILES_UPDATE of the fixed-file slots
// starting at offset (io_uring_prep_files_update). fds must stay valid until
// completion.
func (s *SQE) PrepFilesUpdate(fds []int32, offset int) {
	s.prepRW(OpFilesUpdate, -1, ptrAddr(unsafe.Pointer(unsafe.SliceData(fds))), uint32(len(fds)), uint64(offset))
}

// PrepGetxattr prepares an IORING_OP_GETXATTR of attribute name of path into
// value (io_uring_prep_getxattr).
func (s *SQE) PrepGetxattr(name *byte, value []byte, path *byte) {
	a, n := bufAddr(value)
	s.prepRW(OpGetxattr, 0, bp(name), n, a)
	s.Addr3 = bp(path)
	s.OpFlags = 0
}

// PrepSetxattr prepares an IORING_OP_SETXATTR (io_uring_prep_setxattr).
func (s *SQE) PrepSetxattr(name *byte, value []byte, path *byte, flags int) {
	a, n := bufAddr(value)
	s.prepRW(OpSetxattr, 0, bp(name), n, a)
	s.Addr3 = bp(path)
	s.OpFlags = uint32(flags)
}

// PrepFgetxattr prepares an IORING_OP_FGETXATTR (io_uring_prep_fgetxattr).
func (s *SQE) PrepFgetxattr(fd int, name *byte, value []byte) {
	a, n := bufAddr(value)
	s.prepRW(OpFgetxattr, fd, bp(name), n, a)
	s.OpFlags = 0
}

// PrepFsetxattr prepares an IORING_OP_FSETXATTR (io_uring_prep_fsetxattr).
func (s *SQE) PrepFsetxattr(fd int, name *byte, value []byte, flags int) {
	a, n := bufAddr(value)
	s.prepRW(OpFsetxattr, fd, bp(name), n, a)
	s.OpFlags = uint32(flags)
}
