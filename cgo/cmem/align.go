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
// A file whose filesystem reports no direct-I/O support at all (statx says
// both alignments are 0) gives unix.EINVAL. A negative fd, or one C's int
// cannot hold, is EBADF (statx would take -100 for AT_FDCWD, the working
// directory, and a wide fd by its low 32 bits).
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
	if fileio.FD32(fd) < 0 {
		return 0, 0, false, unix.EBADF
	}
	var st unix.Statx_t
	err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN|unix.STATX_TYPE, &st)
	if err != nil && err != unix.EINVAL && err != unix.ENOSYS {
		return 0, 0, false, err
	}
	if err == nil && st.Mask&unix.STATX_DIOALIGN != 0 {
		if st.Dio_mem_align == 0 && st.Dio_offset_align == 0 {
			return 0, 0, true, unix.EINVAL
		}
		return st.Dio_mem_align, st.Dio_offset_align, true, nil
	}
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		if sz, e := unix.IoctlGetInt(fd, unix.BLKSSZGET); e == nil && sz > 0 {
			return uint32(sz), uint32(sz), true, nil
		}
	}
	return DefaultDirectAlign, DefaultDirectAlign, false, nil
}
