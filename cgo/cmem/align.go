package cmem

import (
	"github.com/aiokit/aio/internal/fileio"
	"golang.org/x/sys/unix"
)

// DefaultDirectAlign is the alignment DirectIOAlign falls back to when
// neither statx nor the block device tells: 4096 bytes, the page size, which
// satisfies every Linux filesystem and device with logical blocks up to 4 KiB.
const DefaultDirectAlign = 4096

// DirectIOAlign returns the alignment O_DIRECT needs on fd: mem for buffer
// addresses and lengths, offset for file offsets.
//
// It asks statx(2) for STATX_DIOALIGN (Linux 6.1+). When the kernel or the
// filesystem does not report it, it falls back to the logical block size of
// a block device (BLKSSZGET) for both, and otherwise to DefaultDirectAlign.
// Where statx itself is refused (ENOSYS before Linux 4.11, EPERM from a
// seccomp profile that does not list it, EINVAL) fstat(2) tells a block
// device instead. A file whose filesystem reports no direct-I/O support at
// all (statx says both alignments are 0) gives unix.EINVAL. A negative fd,
// or one C's int cannot hold, is EBADF (statx would take -100 for
// AT_FDCWD, the working directory, and a wide fd by its low 32 bits).
func DirectIOAlign(fd int) (mem, offset uint32, err error) {
	mem, offset, _, err = DirectIOAlignKnown(fd)
	return mem, offset, err
}

// DirectIOAlignKnown is DirectIOAlign that also says whether the kernel told
// the alignments (statx STATX_DIOALIGN, or a block device's logical block
// size): known is false for the DefaultDirectAlign fallback, a guess that
// every Linux filesystem accepts but that may be stricter than fd's own
// rule (tmpfs needs no alignment; a filesystem on a 512-byte device needs
// 512 on kernels before 6.1, which do not report STATX_DIOALIGN).
func DirectIOAlignKnown(fd int) (mem, offset uint32, known bool, err error) {
	return directIOAlign(fd, unix.STATX_DIOALIGN)
}

// directIOAlign is DirectIOAlignKnown asking statx for dioMask|STATX_TYPE:
// tests pass 0 for a dioMask to get the answer of a kernel before 6.1, which
// leaves STATX_DIOALIGN out of the result mask (filesystems fill it in only
// when asked).
func directIOAlign(fd int, dioMask int) (mem, offset uint32, known bool, err error) {
	if fileio.FD32(fd) < 0 {
		return 0, 0, false, unix.EBADF
	}
	var st unix.Statx_t
	err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, dioMask|unix.STATX_TYPE, &st)
	switch err {
	case nil:
	case unix.ENOSYS, unix.EPERM, unix.EINVAL:
		// No statx (before 4.11), or a seccomp profile without it: fstat
		// still tells a block device.
		var fst unix.Stat_t
		if err = unix.Fstat(fd, &fst); err != nil {
			return 0, 0, false, err
		}
		st.Mode = uint16(fst.Mode & unix.S_IFMT)
	default:
		return 0, 0, false, err
	}
	if st.Mask&unix.STATX_DIOALIGN != 0 {
		if st.Dio_mem_align == 0 && st.Dio_offset_align == 0 {
			return 0, 0, true, unix.EINVAL
		}
		return st.Dio_mem_align, st.Dio_offset_align, true, nil
	}
	if uint32(st.Mode)&unix.S_IFMT == unix.S_IFBLK {
		if sz, e := unix.IoctlGetInt(fd, unix.BLKSSZGET); e == nil && sz > 0 {
			return uint32(sz), uint32(sz), true, nil
		}
	}
	return DefaultDirectAlign, DefaultDirectAlign, false, nil
}
