package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNotDiskFS is returned (wrapped) by PrepareFile and CheckDirectDir for a
// directory where O_DIRECT reads would not measure a device: one that rejects
// O_DIRECT, or a memory filesystem (tmpfs, ramfs) that accepts it (tmpfs does
// since Linux 6.6) but serves every read from memory.
var ErrNotDiskFS = errors.New("bench: not a disk filesystem with O_DIRECT")

// TempPrefix starts the name of every temporary file this process makes in
// a data directory (CheckDirectDir's probe, PrepareFile's file in the
// making): ".aiobench-<pid>-". An interrupted aiobench removes what matches
// its own prefix, and so leaves alone the files of another aiobench writing
// into the same directory.
var TempPrefix = fmt.Sprintf(".aiobench-%d-", os.Getpid())

// fileSeed seeds the content of data files (block b uses fileSeed ^ b).
const fileSeed uint64 = 0xA10C17A10C17

// CheckDirectDir verifies that O_DIRECT reads in dir reach a device: a new
// file can be opened with O_DIRECT and read with an aligned 4 KiB pread(2)
// (what the engines do, and what aioprobe tests), and dir is not on a
// memory filesystem (statfs type tmpfs or ramfs), where such reads succeed
// but never leave memory. The error wraps ErrNotDiskFS and says which of the
// two failed.
func CheckDirectDir(dir string) error { return checkDirect(dir, "") }

// CheckDirect is CheckDirectDir for the O_DIRECT rows of size-byte data
// files: when dir already holds an intact one (kept with -keep), that file
// is read with O_DIRECT instead of a new probe file, so a read-only dir
// with a kept file works.
func CheckDirect(dir string, size int64) error {
	name := filepath.Join(dir, DataFileName(size))
	if verifyDataFile(name, size) != nil {
		name = ""
	}
	return checkDirect(dir, name)
}

// checkDirect reads existing with O_DIRECT, or a probe file it writes when
// existing is "".
func checkDirect(dir, existing string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("bench: statfs %s: %w", dir, err)
	}
	name := existing
	if name == "" {
		f, err := os.CreateTemp(dir, TempPrefix+"probe-*")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		name = f.Name()
		defer os.Remove(name)
		_, err = f.Write(BlockContent(0))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	if err := directRead(name); err != nil {
		return fmt.Errorf("%w: %s (%s): %w", ErrNotDiskFS, dir, FSTypeName(int64(st.Type)), err)
	}
	if MemoryFS(int64(st.Type)) {
		return fmt.Errorf("%w: %s is on %s, which accepts O_DIRECT but keeps files in memory: direct reads would not reach a device",
			ErrNotDiskFS, dir, FSTypeName(int64(st.Type)))
	}
	return nil
}

// MemoryFS reports whether a statfs f_type magic number is a filesystem
// that keeps files only in memory (tmpfs, ramfs).
func MemoryFS(magic int64) bool {
	switch uint32(magic) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return true
	}
	return false
}

// directRead opens path with O_DIRECT and reads its first 4 KiB into an
// aligned buffer (alignedBlock, as the baseline engine reads).
func directRead(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open(O_DIRECT): %w", err)
	}
	defer unix.Close(fd)
	n, err := unix.Pread(fd, alignedBlock(directAlign), 0)
	if err != nil {
		return fmt.Errorf("aligned O_DIRECT pread: %w", err)
	}
	if n != BlockSize {
		return fmt.Errorf("aligned O_DIRECT pread: %d bytes, want %d", n, BlockSize)
	}
	return nil
}

// DataFileName is the name PrepareFile gives the data file of a size.
func DataFileName(size int64) string { return fmt.Sprintf("aiobench-%d.dat", size) }

// PrepareFile creates (or reuses) dir/aiobench-<size>.dat, a size-byte file on
// a disk filesystem that supports O_DIRECT (CheckDirectDir), filled with
// deterministic data in which no byte is zero (so no block is a hole or
// compresses away), written with write(2) and fsynced along with dir. An
// existing file of that name is reused when its size and sampled blocks
// (first, middle, last) match. size must be a positive multiple of 4096.
func PrepareFile(dir string, size int64) (path string, err error) {
	return prepareFile(dir, size, true)
}

// PrepareCacheFile is PrepareFile for the page-cache rows: the file is only
// read through the page cache (kept resident by MakeResident), so dir may be
// on any filesystem, tmpfs included; O_DIRECT is not checked.
func PrepareCacheFile(dir string, size int64) (path string, err error) {
	return prepareFile(dir, size, false)
}

// DataFileIntact reports whether dir holds an intact data file of size
// bytes, one PrepareFile and PrepareCacheFile reuse instead of writing it.
func DataFileIntact(dir string, size int64) bool {
	return verifyDataFile(filepath.Join(dir, DataFileName(size)), size) == nil
}

func prepareFile(dir string, size int64, direct bool) (path string, err error) {
	if size < BlockSize || size%BlockSize != 0 {
		return "", fmt.Errorf("%w: size %d is not a positive multiple of %d", ErrBadSpec, size, BlockSize)
	}
	path = filepath.Join(dir, DataFileName(size))
	intact := verifyDataFile(path, size) == nil
	if direct {
		kept := "" // as CheckDirect: the intact file is read, else a probe is written
		if intact {
			kept = path
		}
		if err := checkDirect(dir, kept); err != nil {
			return "", err
		}
	} else if st, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("bench: %s is not a directory", dir)
	}
	if intact {
		return path, nil
	}
	if err := checkSpace(dir, size); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, TempPrefix+"*.tmp")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	for off := int64(0); off < size; off += chunk {
		n := int64(chunk)
		if size-off < n {
			n = size - off
		}
		for b := int64(0); b < n; b += BlockSize {
			fillBlock(buf[b:b+BlockSize], (off+b)/BlockSize)
		}
		if _, err = tmp.Write(buf[:n]); err != nil {
			return "", fmt.Errorf("bench: %w", err) // *PathError: names the file
		}
	}
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("bench: fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return "", fmt.Errorf("bench: fsync %s: %w", dir, err)
		}
	}
	return path, nil
}

// checkSpace fails with ENOSPC, before anything is written, when dir's file
// system has less than size bytes available to this user: writing the file
// would only fill the disk (a mistyped -size of 1TiB did) and then fail.
// A statfs error is not one: the write then tells.
func checkSpace(dir string, size int64) error {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil || st.Bsize <= 0 {
		return nil
	}
	avail := st.Bavail
	if b := uint64(st.Bsize); avail > math.MaxInt64/b {
		return nil
	} else if int64(avail*b) < size {
		return fmt.Errorf("bench: data file of %d bytes does not fit in %s (%d bytes available): %w", size, dir, avail*b, unix.ENOSPC)
	}
	return nil
}

// fillBlock writes the content of block number blk into b (len 4096).
func fillBlock(b []byte, blk int64) {
	r := NewRand(fileSeed ^ uint64(blk))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Next()|0x0101010101010101)
	}
}

// BlockContent returns the expected content of block blk (offset blk*4096) of
// a file made by PrepareFile, so engines and tests can check what they read.
func BlockContent(blk int64) []byte {
	b := make([]byte, BlockSize)
	fillBlock(b, blk)
	return b
}

func verifyDataFile(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Size() != size {
		return fmt.Errorf("bench: %s: not a regular file of %d bytes", path, size)
	}
	got := make([]byte, BlockSize)
	blocks := size / BlockSize
	for _, blk := range []int64{0, blocks / 2, blocks - 1} {
		if _, err := f.ReadAt(got, blk*BlockSize); err != nil && err != io.EOF {
			return err
		}
		if string(got) != string(BlockContent(blk)) {
			return fmt.Errorf("bench: %s: block %d has unexpected content", path, blk)
		}
	}
	return nil
}

// Resident keeps a file in the page cache: the whole file is mmapped
// (PROT_READ, MAP_SHARED), mlock(2)ed and read through once, so reclaim cannot
// evict its pages while page-cache rows are measured.
type Resident struct {
	path string
	mem  []byte
	sum  uint64
}

// MakeResident maps, locks and reads path. An mlock failure (EPERM, or
// ENOMEM under RLIMIT_MEMLOCK) is returned with its unix.Errno wrapped.
func MakeResident(path string) (*Resident, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if st.Size() <= 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadSpec, path)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("bench: mmap %s: %w", path, err)
	}
	if err := unix.Mlock(mem); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("bench: mlock %s (%d bytes): %w", path, len(mem), err)
	}
	r := &Resident{path: path, mem: mem}
	page := os.Getpagesize()
	for i := 0; i < len(mem); i += page {
		r.sum += uint64(mem[i])
	}
	return r, nil
}

// Path returns the resident file's path.
func (r *Resident) Path() string { return r.path }

// Check returns how many of the mapping's pages mincore(2) reports resident,
// and the total number of pages.
func (r *Resident) Check() (resident, total int, err error) {
	if r.mem == nil {
		return 0, 0, fmt.Errorf("bench: %s: residency released", r.path)
	}
	page := os.Getpagesize()
	vec := make([]byte, (len(r.mem)+page-1)/page)
	// x/sys v0.30.0 has no Mincore wrapper: mincore(addr, len, vec).
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&r.mem[0])), uintptr(len(r.mem)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, 0, fmt.Errorf("bench: mincore %s: %w", r.path, errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec), nil
}

// Close unlocks and unmaps the file (munlock, munmap). A second Close is a no-op.
func (r *Resident) Close() error {
	if r.mem == nil {
		return nil
	}
	mem := r.mem
	r.mem = nil
	err := unix.Munlock(mem)
	if uerr := unix.Munmap(mem); err == nil {
		err = uerr
	}
	return err
}

// zfsSuperMagic is OpenZFS's statfs f_type (not in the kernel's magic.h).
const zfsSuperMagic = 0x2fc12fc1

// FSTypeName names a statfs f_type magic number (e.g. "ext2/3/4", "tmpfs"),
// or says it in hex ("fs magic 0x1234"). aiobench and aioprobe both use it.
func FSTypeName(magic int64) string {
	switch uint32(magic) {
	case unix.EXT4_SUPER_MAGIC:
		return "ext2/3/4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.RAMFS_MAGIC:
		return "ramfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case unix.F2FS_SUPER_MAGIC:
		return "f2fs"
	case unix.FUSE_SUPER_MAGIC:
		return "fuse"
	case zfsSuperMagic:
		return "zfs"
	}
	return fmt.Sprintf("fs magic %#x", uint32(magic))
}
