package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestPrepareFile(t *testing.T) {
	dir := testutil.TempDir(t)
	const size = 300 * BlockSize
	path, err := PrepareFile(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir || filepath.Base(path) != DataFileName(size) {
		t.Errorf("PrepareFile path = %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size {
		t.Fatalf("file has %d bytes, want %d", len(data), size)
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		t.Errorf("zero byte at offset %d", i)
	}
	for blk := int64(0); blk < size/BlockSize; blk++ {
		if !bytes.Equal(data[blk*BlockSize:(blk+1)*BlockSize], BlockContent(blk)) {
			t.Fatalf("block %d differs from BlockContent", blk)
		}
	}
	if bytes.Equal(BlockContent(0), BlockContent(1)) {
		t.Error("blocks 0 and 1 have the same content")
	}
	// Not sparse: every block is allocated.
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 < size {
		t.Errorf("file uses %d bytes on disk, want >= %d (sparse?)", st.Blocks*512, size)
	}

	// Reused when intact...
	info1, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	if p2, err := PrepareFile(dir, size); err != nil || p2 != path {
		t.Fatalf("second PrepareFile = %s, %v", p2, err)
	}
	info2, _ := os.Stat(path)
	if !info2.ModTime().Equal(info1.ModTime()) {
		t.Error("an intact data file was rewritten")
	}
	// ...rewritten when a sampled block is damaged.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("damage"), (size/BlockSize-1)*BlockSize+7)
	f.Close()
	if _, err := PrepareFile(dir, size); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if !bytes.Equal(data[size-BlockSize:], BlockContent(size/BlockSize-1)) {
		t.Error("damaged data file was not rewritten")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".aiobench-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	for _, bad := range []int64{0, -4096, 4095, 4097} {
		if _, err := PrepareFile(dir, bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("PrepareFile(size %d) = %v, want ErrBadSpec", bad, err)
		}
	}
	if _, err := PrepareFile(filepath.Join(dir, "no", "such"), 4096); err == nil {
		t.Error("PrepareFile in a missing directory succeeded")
	}
}

func TestCheckDirectDirRejectsTmpfs(t *testing.T) {
	dir := testutil.TmpfsDir(t) // skips unless /dev/shm is tmpfs
	if err := CheckDirectDir("/dev/shm"); !errors.Is(err, ErrNotDiskFS) {
		t.Errorf("CheckDirectDir(/dev/shm) = %v, want ErrNotDiskFS", err)
	}
	// Which of the two reasons it is depends on the kernel (tmpfs accepts
	// O_DIRECT since 6.6); the error must say it.
	if err := CheckDirectDir("/dev/shm"); err == nil || !strings.Contains(err.Error(), "O_DIRECT") ||
		!strings.Contains(err.Error(), "tmpfs") {
		t.Errorf("CheckDirectDir(/dev/shm) = %v: names neither the O_DIRECT failure nor tmpfs", err)
	}
	if _, err := PrepareFile("/dev/shm", 4096); !errors.Is(err, ErrNotDiskFS) {
		t.Errorf("PrepareFile(/dev/shm) = %v, want ErrNotDiskFS", err)
	}
	// The page-cache file needs no O_DIRECT: tmpfs will do.
	path, err := PrepareCacheFile(dir, 4*BlockSize)
	if err != nil {
		t.Fatalf("PrepareCacheFile(tmpfs) = %v", err)
	}
	if err := verifyDataFile(path, 4*BlockSize); err != nil {
		t.Error(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("PrepareCacheFile left %d entries in %s, want only the data file", len(ents), dir)
	}
}

// CheckDirectDir accepts a disk directory (it reads with O_DIRECT) and leaves
// nothing behind.
func TestCheckDirectDirDisk(t *testing.T) {
	dir := testutil.TempDir(t)
	if err := CheckDirectDir(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("probe files left: %v", ents)
	}
	if _, err := PrepareCacheFile(filepath.Join(dir, "no", "such"), 4096); err == nil {
		t.Error("PrepareCacheFile in a missing directory succeeded")
	}
}

func TestResident(t *testing.T) {
	dir := testutil.TempDir(t)
	const size = 8 << 20
	path, err := PrepareFile(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	// Start from a cold cache so residency is MakeResident's doing.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}

	r, err := MakeResident(path)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
		testutil.SkipNoPrivilege(t, "mlock of 8 MiB (RLIMIT_MEMLOCK "+FormatBytes(int64(lim.Cur))+", no CAP_IPC_LOCK): "+err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Path() != path {
		t.Errorf("Path() = %s", r.Path())
	}
	check := func(when string) {
		t.Helper()
		in, total, err := r.Check()
		if err != nil {
			t.Fatal(err)
		}
		if want := (size + os.Getpagesize() - 1) / os.Getpagesize(); total != want || in != total {
			t.Errorf("%s: %d of %d pages resident, want all %d", when, in, total, want)
		}
	}
	check("after MakeResident")
	// Locked pages survive a request to drop them.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	check("after FADV_DONTNEED")
	// The mapping sees the file's data.
	if r.sum == 0 {
		t.Error("read-through saw only zero bytes")
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, _, err := r.Check(); err == nil {
		t.Error("Check after Close succeeded")
	}
	if _, err := MakeResident(filepath.Join(dir, "missing")); err == nil {
		t.Error("MakeResident of a missing file succeeded")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := MakeResident(empty); !errors.Is(err, ErrBadSpec) {
		t.Errorf("MakeResident of an empty file = %v, want ErrBadSpec", err)
	}
}

func TestFSTypeName(t *testing.T) {
	if got := FSTypeName(unix.TMPFS_MAGIC); got != "tmpfs" {
		t.Errorf("FSTypeName(tmpfs) = %q", got)
	}
	if got := FSTypeName(0x1234); got != "fs magic 0x1234" {
		t.Errorf("FSTypeName(0x1234) = %q", got)
	}
}

// A read-only directory with a kept data file still runs the O_DIRECT rows:
// CheckDirect reads the kept file instead of writing a probe. The read-only
// filesystem is the kernel's answer for real: a seccomp filter on this
// thread fails every open with O_CREAT with EROFS (root ignores a mode of
// 0555).
func TestCheckDirectReadOnlyDir(t *testing.T) {
	dir := testutil.TempDir(t)
	const size = 4 * BlockSize
	if _, err := PrepareFile(dir, size); err != nil {
		t.Fatal(err)
	}
	var r struct{ kept, probe, prep, other error }
	testutil.OnFilteredThread(t, []testutil.SyscallRule{
		{Nr: unix.SYS_OPENAT, Arg: 2, AnyBit: unix.O_CREAT, Errno: unix.EROFS},
	}, func() {
		r.kept = CheckDirect(dir, size)
		r.probe = CheckDirectDir(dir)
		_, r.prep = PrepareFile(dir, size)
		r.other = CheckDirect(dir, 2*size) // no kept file of that size: a probe is needed
	})
	if r.kept != nil || r.prep != nil {
		t.Errorf("read-only dir with a kept file: CheckDirect %v, PrepareFile %v; want both nil", r.kept, r.prep)
	}
	if !errors.Is(r.probe, unix.EROFS) || !errors.Is(r.other, unix.EROFS) {
		t.Errorf("read-only dir: CheckDirectDir %v, CheckDirect without a kept file %v; want EROFS", r.probe, r.other)
	}
}

// A data file larger than the free space is refused with ENOSPC before a
// byte is written (a mistyped -size of 1TiB filled the disk), for both
// kinds of data file; one that fits is still made.
func TestPrepareFileNoSpace(t *testing.T) {
	dir := testutil.TempDir(t)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	huge := (int64(st.Bavail)*st.Bsize/BlockSize + 1) * BlockSize
	for _, prep := range []func(string, int64) (string, error){PrepareFile, PrepareCacheFile} {
		start := time.Now()
		path, err := prep(dir, huge)
		if !errors.Is(err, unix.ENOSPC) || path != "" {
			t.Fatalf("data file of %d bytes with %d available: %q, %v; want ENOSPC", huge, int64(st.Bavail)*st.Bsize, path, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("refusal took %v: it wrote first", d)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range left {
			if strings.HasPrefix(filepath.Base(f), TempPrefix) || strings.HasPrefix(filepath.Base(f), "aiobench-") {
				t.Errorf("left behind: %s", f)
			}
		}
	}
	if _, err := PrepareCacheFile(dir, 4*BlockSize); err != nil {
		t.Fatalf("a small data file: %v", err)
	}
}
