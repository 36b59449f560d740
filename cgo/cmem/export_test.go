package cmem

// DirectIOAlignWithout is DirectIOAlignKnown on a kernel before 6.1: statx
// is not asked for STATX_DIOALIGN, and so leaves it out of its mask.
func DirectIOAlignWithout(fd int) (mem, offset uint32, known bool, err error) {
	return directIOAlign(fd, 0)
}
