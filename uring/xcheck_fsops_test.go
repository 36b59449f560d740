package uring

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"github.com/aiokit/aio/internal/xcheck"
	"golang.org/x/sys/unix"
)

// TestXcheckFSOps cross-checks the file-system and data-movement operations
// against testdata/c/uring_xcheck_fsops.c, one subtest per section of the C
// program: each runs the section through the Queue in a directory of its
// own, then the C program on an identical, empty directory, and compares
// the traces.
func TestXcheckFSOps(t *testing.T) {
	for _, sec := range []struct {
		name string
		run  func(x *fsopsRun)
	}{
		{"dirs", fsopsDirs},
		{"space", fsopsSpace},
		{"openat2", fsopsOpenat2},
		{"xattr", fsopsXattr},
		{"splice", fsopsSplice},
		{"rw2", fsopsRW2},
		{"fixed", fsopsFixed},
	} {
		t.Run(sec.name, func(t *testing.T) {
			x := newFsopsRun(t)
			sec.run(x)
			xcheck.RunScenario(t, "uring_xcheck_fsops", &x.tr, sec.name, x.cDir)
		})
	}
}

// fsopsRun is one section's Go side: the queue, the trace and the
// directory the section works in (dfd is it, opened O_DIRECTORY).
type fsopsRun struct {
	t    *testing.T
	q    *Queue
	raw  func(h *completion.Handle, err error) int64
	tr   xcheck.Trace
	dir  string
	cDir string
	dfd  int
}

func newFsopsRun(t *testing.T) *fsopsRun {
	q := newTestQueue(t, QueueConfig{Entries: 16, RingOnly: true})
	base := testutil.TempDir(t)
	x := &fsopsRun{t: t, q: q, raw: rawFn(t), dir: base + "/go", cDir: base + "/c"}
	for _, d := range []string{x.dir, x.cDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil { // Mkdir honours the umask
			t.Fatal(err)
		}
	}
	old := unix.Umask(0o22) // the C program's
	t.Cleanup(func() { unix.Umask(old) })
	dfd, err := unix.Open(x.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(dfd) })
	x.dfd = dfd
	return x
}

// step traces a result (from x.raw) as op, the C program's STEP, and
// returns it.
func (x *fsopsRun) step(op string, res int64) int64 {
	x.tr.AddNeg(op, res)
	return res
}

// prep traces the result of an SQE that prep fills as op.
func (x *fsopsRun) prep(op string, prep func(s *SQE), pins ...any) int64 {
	x.t.Helper()
	return x.step(op, x.raw(x.q.Prep(prep, pins...)))
}

// fdStep traces a descriptor result (from x.raw) as 0 and returns it as
// it is.
func (x *fsopsRun) fdStep(op string, res int64) int {
	x.tr.AddNeg(op, fdRes(res))
	return int(res)
}

// errStep traces the error of a register call (0 or -errno).
func (x *fsopsRun) errStep(op string, err error) {
	x.t.Helper()
	var e unix.Errno
	switch {
	case err == nil:
		x.tr.AddNeg(op, 0)
	case errors.As(err, &e):
		x.tr.AddNeg(op, -int64(e))
	default:
		x.t.Fatalf("%s: not an errno: %v", op, err)
	}
}

// path returns the section directory's name.
func (x *fsopsRun) path(name string) string { return x.dir + "/" + name }

// cstr returns name as a C string for the Prep helpers.
func (x *fsopsRun) cstr(name string) *byte {
	x.t.Helper()
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		x.t.Fatal(err)
	}
	return p
}

// put creates (or truncates) name holding content, mode 0644.
func (x *fsopsRun) put(name, content string) {
	x.t.Helper()
	fd := x.open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
	if n, err := unix.Write(fd, []byte(content)); err != nil || n != len(content) {
		x.t.Fatalf("write %s: %d, %v", name, n, err)
	}
	unix.Close(fd)
}

// open opens name in the section directory; the descriptor is closed at
// the end of the test (and may be closed before).
func (x *fsopsRun) open(name string, flags int) int {
	x.t.Helper()
	fd, err := unix.Openat(x.dfd, name, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		x.t.Fatalf("open %s: %v", name, err)
	}
	x.t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// pipe returns a pipe closed at the end of the test.
func (x *fsopsRun) pipe() [2]int {
	r, w := testPipe(x.t)
	return [2]int{r, w}
}

// traceStatx traces what statx reported, as the C program's trace_statx.
func (x *fsopsRun) traceStatx(st *unix.Statx_t) {
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		typ = "reg"
	case unix.S_IFDIR:
		typ = "dir"
	case unix.S_IFLNK:
		typ = "lnk"
	default:
		typ = "other"
	}
	if typ == "dir" {
		x.tr.Linef("statx type=%s mode=%04o nlink=%d", typ, st.Mode&0o7777, st.Nlink)
	} else {
		x.tr.Linef("statx type=%s mode=%04o nlink=%d size=%d", typ, st.Mode&0o7777, st.Nlink, st.Size)
	}
}

func (x *fsopsRun) statStep(op, name string, flags int) {
	x.t.Helper()
	var st unix.Statx_t
	if x.step(op, x.raw(x.q.Statx(x.dfd, name, flags, unix.STATX_BASIC_STATS, &st))) == 0 {
		x.traceStatx(&st)
	}
}

// traceFile traces up to n bytes of fd at off.
func (x *fsopsRun) traceFile(what string, fd int, off int64, n int) {
	x.t.Helper()
	buf := make([]byte, min(n, 256))
	got, err := unix.Pread(fd, buf, off)
	if err != nil {
		x.t.Fatalf("pread: %v", err)
	}
	x.tr.Linef("%s %s", what, buf[:got])
}

// tracePipe traces what one read of a pipe returns.
func (x *fsopsRun) tracePipe(what string, fd int) {
	x.t.Helper()
	buf := make([]byte, 256)
	got, err := unix.Read(fd, buf)
	if err != nil {
		x.t.Fatalf("read: %v", err)
	}
	x.tr.Linef("%s %s", what, buf[:got])
}

func fsopsDirs(x *fsopsRun) {
	t, q, dfd := x.t, x.q, x.dfd
	requireOp(t, q, 5, 15, OpMkdirat, OpSymlinkat, OpLinkat)
	requireOp(t, q, 5, 11, OpRenameat, OpUnlinkat)
	requireOp(t, q, 5, 6, OpStatx)
	mkdir := func(op, name string, mode uint32) {
		p := x.cstr(x.path(name))
		x.prep(op, func(s *SQE) { s.PrepMkdir(p, mode) }, p)
	}
	rename := func(op, from, to string) {
		a, b := x.cstr(x.path(from)), x.cstr(x.path(to))
		x.prep(op, func(s *SQE) { s.PrepRename(a, b) }, a, b)
	}
	link := func(op, from, to string, flags int) {
		a, b := x.cstr(x.path(from)), x.cstr(x.path(to))
		x.prep(op, func(s *SQE) { s.PrepLink(a, b, flags) }, a, b)
	}
	symlink := func(op, target, name string) {
		a, b := x.cstr(target), x.cstr(x.path(name))
		x.prep(op, func(s *SQE) { s.PrepSymlink(a, b) }, a, b)
	}
	unlink := func(op, name string, flags int) {
		p := x.cstr(x.path(name))
		x.prep(op, func(s *SQE) { s.PrepUnlink(p, flags) }, p)
	}

	x.step("mkdirat", x.raw(q.Mkdirat(dfd, "d", 0o750)))
	x.step("mkdirat_exists", x.raw(q.Mkdirat(dfd, "d", 0o750)))
	mkdir("mkdir", "d/sub", 0o777)
	mkdir("mkdir_noparent", "none/d", 0o755)
	x.statStep("statx_dir", "d", 0)
	x.put("f", "hello")
	x.step("mkdirat_notdir", x.raw(q.Mkdirat(dfd, "f/x", 0o755)))
	x.step("mkdirat_badfd", x.raw(q.Mkdirat(9999, "x", 0o755)))
	x.step("mkdirat_empty_path", x.raw(q.Mkdirat(dfd, "", 0o755)))

	x.step("renameat", x.raw(q.Renameat(dfd, "f", dfd, "g", 0)))
	x.step("renameat_missing", x.raw(q.Renameat(dfd, "f", dfd, "h", 0)))
	x.put("h", "hh")
	x.step("renameat_noreplace", x.raw(q.Renameat(dfd, "g", dfd, "h", unix.RENAME_NOREPLACE)))
	x.step("renameat_noreplace_free", x.raw(q.Renameat(dfd, "g", dfd, "g1", unix.RENAME_NOREPLACE)))
	x.step("renameat_bad_flags", x.raw(q.Renameat(dfd, "g1", dfd, "h", unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE)))
	x.step("renameat_exchange", x.raw(q.Renameat(dfd, "g1", dfd, "h", unix.RENAME_EXCHANGE)))
	x.statStep("statx_g1", "g1", 0)
	x.statStep("statx_h", "h", 0)
	x.step("renameat_file_on_dir", x.raw(q.Renameat(dfd, "g1", dfd, "d", 0)))
	x.step("renameat_dir_on_file", x.raw(q.Renameat(dfd, "d", dfd, "h", 0)))
	x.step("renameat_into_self", x.raw(q.Renameat(dfd, "d", dfd, "d/sub/x", 0)))
	rename("rename", "g1", "g2")
	rename("rename_missing", "g1", "g3")

	x.step("linkat", x.raw(q.Linkat(dfd, "h", dfd, "hl", 0)))
	x.statStep("statx_linked", "h", 0)
	x.step("linkat_exists", x.raw(q.Linkat(dfd, "h", dfd, "hl", 0)))
	x.step("linkat_missing", x.raw(q.Linkat(dfd, "none", dfd, "hl2", 0)))
	x.step("linkat_dir", x.raw(q.Linkat(dfd, "d", dfd, "dl", 0)))
	x.step("linkat_bad_flags", x.raw(q.Linkat(dfd, "h", dfd, "hl2", 0x1)))
	link("link", "h", "hl3", 0)

	x.step("symlinkat", x.raw(q.Symlinkat("h", dfd, "sl")))
	x.step("symlinkat_exists", x.raw(q.Symlinkat("h", dfd, "sl")))
	x.step("symlinkat_noparent", x.raw(q.Symlinkat("h", dfd, "none/sl")))
	x.step("symlinkat_empty_target", x.raw(q.Symlinkat("", dfd, "sl_empty")))
	symlink("symlink", "nowhere", "dangling")
	x.statStep("statx_symlink_nofollow", "sl", unix.AT_SYMLINK_NOFOLLOW)
	x.statStep("statx_symlink_follow", "sl", 0)
	x.statStep("statx_dangling_nofollow", "dangling", unix.AT_SYMLINK_NOFOLLOW)
	x.statStep("statx_dangling_follow", "dangling", 0)
	x.step("linkat_follow", x.raw(q.Linkat(dfd, "sl", dfd, "slhl", unix.AT_SYMLINK_FOLLOW)))
	x.statStep("statx_linkat_follow", "slhl", unix.AT_SYMLINK_NOFOLLOW)
	x.step("linkat_nofollow", x.raw(q.Linkat(dfd, "sl", dfd, "sl2", 0)))
	x.statStep("statx_linkat_nofollow", "sl2", unix.AT_SYMLINK_NOFOLLOW)
	x.step("linkat_follow_dangling", x.raw(q.Linkat(dfd, "dangling", dfd, "dl2", unix.AT_SYMLINK_FOLLOW)))

	x.step("unlinkat", x.raw(q.Unlinkat(dfd, "hl", 0)))
	x.step("unlinkat_missing", x.raw(q.Unlinkat(dfd, "hl", 0)))
	x.step("unlinkat_dir", x.raw(q.Unlinkat(dfd, "d", 0)))
	x.step("unlinkat_notempty", x.raw(q.Unlinkat(dfd, "d", unix.AT_REMOVEDIR)))
	x.step("unlinkat_rmdir_file", x.raw(q.Unlinkat(dfd, "h", unix.AT_REMOVEDIR)))
	x.step("unlinkat_bad_flags", x.raw(q.Unlinkat(dfd, "h", 0x1)))
	x.step("unlinkat_rmdir_sub", x.raw(q.Unlinkat(dfd, "d/sub", unix.AT_REMOVEDIR)))
	x.step("unlinkat_rmdir", x.raw(q.Unlinkat(dfd, "d", unix.AT_REMOVEDIR)))
	unlink("unlink", "hl3", 0)
	unlink("unlink_symlink", "sl", 0)
	unlink("unlink_rmdir_missing", "d", unix.AT_REMOVEDIR)
	x.statStep("statx_after_unlink", "h", 0)
	ffd := x.open("h", unix.O_RDONLY)
	x.step("unlinkat_dirfd_file", x.raw(q.Unlinkat(ffd, "x", 0)))
}

// traceSpace traces fd's size and whether at least want bytes are
// allocated, and returns the allocated bytes.
func (x *fsopsRun) traceSpace(what string, fd int, want int64) int64 {
	x.t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		x.t.Fatal(err)
	}
	x.tr.Linef("%s size=%d allocated>=%d:%d", what, st.Size, want, fsopsB2I(st.Blocks*512 >= want))
	return st.Blocks * 512
}

// traceZeros traces how many of n bytes at off read as zero, and the byte
// after them.
func (x *fsopsRun) traceZeros(what string, fd int, off int64, n int) {
	x.t.Helper()
	buf := make([]byte, n+1)
	if got, err := unix.Pread(fd, buf, off); err != nil || got != n+1 {
		x.t.Fatalf("pread: %d, %v", got, err)
	}
	zeros := 0
	for _, b := range buf[:n] {
		if b == 0 {
			zeros++
		}
	}
	x.tr.Linef("%s zeros=%d next=%d", what, zeros, int8(buf[n]))
}

func fsopsB2I(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fsopsSpace(x *fsopsRun) {
	t, q := x.t, x.q
	requireOp(t, q, 5, 6, OpFallocate, OpFadvise, OpMadvise)
	requireOp(t, q, 5, 2, OpSyncFileRange)
	const pg = 4096
	fd := x.open("space", unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC)
	ro := x.open("space", unix.O_RDONLY)
	nul, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nul)
	p := x.pipe()

	x.step("fallocate", x.raw(q.Fallocate(fd, 0, 0, 65536)))
	x.traceSpace("fallocate", fd, 65536)
	x.step("fallocate_keep_size", x.raw(q.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 65536, 65536)))
	before := x.traceSpace("keep_size", fd, 131072)
	if n, err := unix.Pwrite(fd, []byte(strings.Repeat("a", 8192)), 0); err != nil || n != 8192 {
		t.Fatalf("pwrite: %d, %v", n, err)
	}
	x.step("fallocate_punch_hole", x.raw(q.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096)))
	x.traceZeros("punch_hole", fd, 0, 4096)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	x.tr.Linef("punch_hole size=%d freed=%d", st.Size, fsopsB2I(st.Blocks*512 < before))
	x.step("fallocate_zero_range", x.raw(q.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, 4096, 4095)))
	x.traceZeros("zero_range", fd, 4096, 4095)
	x.step("fallocate_grow", x.raw(q.Fallocate(fd, 0, 65536, 4096)))
	x.traceSpace("grow", fd, 131072-4096)
	x.step("fallocate_punch_nokeep", x.raw(q.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE, 0, 4096)))
	x.step("fallocate_bad_mode", x.raw(q.Fallocate(fd, 0x1000, 0, 4096)))
	x.step("fallocate_negoff", x.raw(q.Fallocate(fd, 0, -1, 10)))
	x.step("fallocate_zero_len", x.raw(q.Fallocate(fd, 0, 0, 0)))
	x.step("fallocate_rdonly", x.raw(q.Fallocate(ro, 0, 0, 4096)))
	x.step("fallocate_pipe", x.raw(q.Fallocate(p[1], 0, 0, 4096)))
	x.step("fallocate_chardev", x.raw(q.Fallocate(nul, 0, 0, 4096)))
	x.step("fallocate_badfd", x.raw(q.Fallocate(9999, 0, 0, 4096)))

	x.step("fadvise_dontneed", x.raw(q.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)))
	x.step("fadvise_willneed", x.raw(q.Fadvise(fd, 0, 4096, unix.FADV_WILLNEED)))
	x.step("fadvise_sequential", x.raw(q.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)))
	x.step("fadvise_random_rdonly", x.raw(q.Fadvise(ro, 4096, 4096, unix.FADV_RANDOM)))
	x.step("fadvise_bad_advice", x.raw(q.Fadvise(fd, 0, 0, 99)))
	x.step("fadvise_pipe", x.raw(q.Fadvise(p[0], 0, 0, unix.FADV_NORMAL)))
	x.step("fadvise_badfd", x.raw(q.Fadvise(9999, 0, 0, unix.FADV_NORMAL)))

	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	x.step("sync_file_range", x.raw(q.SyncFileRange(fd, 4096, 0, unix.SYNC_FILE_RANGE_WRITE)))
	x.step("sync_file_range_wait", x.raw(q.SyncFileRange(fd, 0, 0, wait)))
	x.step("sync_file_range_bad_flags", x.raw(q.SyncFileRange(fd, 0, 0, 0x8)))
	x.step("sync_file_range_negoff", x.raw(q.SyncFileRange(fd, 0, ^uint64(0), unix.SYNC_FILE_RANGE_WRITE)))
	x.step("sync_file_range_pipe", x.raw(q.SyncFileRange(p[1], 0, 0, unix.SYNC_FILE_RANGE_WRITE)))
	x.step("sync_file_range_badfd", x.raw(q.SyncFileRange(9999, 0, 0, unix.SYNC_FILE_RANGE_WRITE)))

	// Private anonymous memory, as in C; the unmapped range is in the
	// kernel's half of the address space (see the C program).
	mem, err := unix.Mmap(-1, 0, 4*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	for i := range mem {
		mem[i] = 'x'
	}
	x.step("madvise_willneed", x.raw(q.Madvise(mem, unix.MADV_WILLNEED)))
	x.step("madvise_dontneed", x.raw(q.Madvise(mem[:pg], unix.MADV_DONTNEED)))
	x.tr.Linef("dontneed page0=%d page1=%d", mem[0], mem[pg])
	x.step("madvise_zero_len", x.raw(q.Madvise(mem[:0], unix.MADV_DONTNEED)))
	x.step("madvise_bad_advice", x.raw(q.Madvise(mem[:pg], 12345)))
	x.step("madvise_unaligned", x.raw(q.Madvise(mem[1:1+pg], unix.MADV_DONTNEED)))
	x.prep("madvise_unmapped", func(s *SQE) {
		s.PrepMadvise(nil, unix.MADV_WILLNEED)
		s.Addr, s.Len = 0xffffffffffffe000, pg // an address, not Go memory
	})
}

// fsopsOpenHowExt is an open_how followed by 8 more bytes, for sizes past the
// kernel's.
type fsopsOpenHowExt struct {
	how   unix.OpenHow
	extra uint64
}

func fsopsOpenat2(x *fsopsRun) {
	t, q, dfd := x.t, x.q, x.dfd
	requireOp(t, q, 5, 6, OpOpenat2, OpStatx)
	const rd = unix.O_RDONLY | unix.O_CLOEXEC
	open2 := func(op string, dirfd int, name string, flags, mode, resolve uint64) int {
		t.Helper()
		p := x.cstr(name)
		how := &unix.OpenHow{Flags: flags, Mode: mode, Resolve: resolve}
		return x.fdStep(op, x.raw(q.Prep(func(s *SQE) { s.PrepOpenat2(dirfd, p, how) }, p, how)))
	}
	closeFD := func(fd int) {
		if fd >= 0 {
			unix.Close(fd)
		}
	}

	x.put("o", "open2")
	if err := unix.Mkdirat(dfd, "sub", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"o", "osl"}, {"..", "up"}} {
		if err := unix.Symlinkat(l[0], dfd, l[1]); err != nil {
			t.Fatal(err)
		}
	}

	fd := open2("openat2_beneath", dfd, "o", rd, 0, unix.RESOLVE_BENEATH)
	if fd >= 0 {
		x.traceFile("data", fd, 0, 64)
	}
	closeFD(fd)
	closeFD(open2("openat2_beneath_dotdot_inside", dfd, "sub/../o", rd, 0, unix.RESOLVE_BENEATH))
	closeFD(open2("openat2_beneath_escape", dfd, "../x", rd, 0, unix.RESOLVE_BENEATH))
	closeFD(open2("openat2_beneath_absolute", dfd, x.path("o"), rd, 0, unix.RESOLVE_BENEATH))
	closeFD(open2("openat2_beneath_symlink_escape", dfd, "up/x", rd, 0, unix.RESOLVE_BENEATH))
	closeFD(open2("openat2_in_root", dfd, "/o", rd, 0, unix.RESOLVE_IN_ROOT))
	closeFD(open2("openat2_no_symlinks", dfd, "osl", rd, 0, unix.RESOLVE_NO_SYMLINKS))
	closeFD(open2("openat2_symlink", dfd, "osl", rd, 0, 0))
	closeFD(open2("openat2_no_xdev", dfd, "o", rd, 0, unix.RESOLVE_NO_XDEV))
	closeFD(open2("openat2_nofollow", dfd, "osl", rd|unix.O_NOFOLLOW, 0, 0))
	closeFD(open2("openat2_mode_without_creat", dfd, "o", rd, 0o644, 0))
	closeFD(open2("openat2_bad_resolve", dfd, "o", rd, 0, 1<<30))
	closeFD(open2("openat2_bad_flags", dfd, "o", rd|1<<40, 0, 0))
	closeFD(open2("openat2_bad_mode", dfd, "new", rd|unix.O_CREAT|unix.O_RDWR, 0o10000, 0))
	closeFD(open2("openat2_create", dfd, "new", unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o640, unix.RESOLVE_BENEATH))
	x.statStep("statx_new", "new", 0)
	closeFD(open2("openat2_create_exists", dfd, "new", unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o640, 0))
	closeFD(open2("openat2_badfd", 9999, "o", rd, 0, 0))
	ffd := x.open("o", unix.O_RDONLY)
	closeFD(open2("openat2_dirfd_file", ffd, "x", rd, 0, 0))

	// The size in the SQE's len: below version 0 (24 bytes), larger with
	// zero and with non-zero trailing bytes; and no how at all.
	name := x.cstr("o")
	ext := &fsopsOpenHowExt{how: unix.OpenHow{Flags: rd}}
	sized := func(op string, size uint32) int {
		return x.fdStep(op, x.raw(q.Prep(func(s *SQE) {
			s.PrepOpenat2(dfd, name, &ext.how)
			s.Len = size
		}, name, ext)))
	}
	sized("openat2_size_small", 8)
	closeFD(sized("openat2_size_large_zero", 32))
	ext.extra = 1
	closeFD(sized("openat2_size_large_nonzero", 32))
	closeFD(x.fdStep("openat2_how_null", x.raw(q.Prep(func(s *SQE) { s.PrepOpenat2(dfd, name, nil) }, name))))
}

func fsopsXattr(x *fsopsRun) {
	t, q := x.t, x.q
	requireOp(t, q, 5, 19, OpSetxattr, OpGetxattr, OpFsetxattr, OpFgetxattr)
	// user.* attributes need file system support (ext4's user_xattr, on
	// by default): probe next to the scenario's directories.
	probe := x.dir + "/../xattr-probe"
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(probe, "user.probe", []byte("1"), 0); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			testutil.SkipNoFeature(t, "user.* extended attributes on "+x.dir, err)
		}
		t.Fatal(err)
	}
	os.Remove(probe)

	x.put("x", "")
	file, missing := x.cstr(x.path("x")), x.cstr(x.path("missing"))
	fd := x.open("x", unix.O_RDWR)
	p := x.pipe()
	set := func(op string, path *byte, name, value string, flags int) {
		t.Helper()
		n, v := x.cstr(name), []byte(value)
		x.prep(op, func(s *SQE) { s.PrepSetxattr(n, v, path, flags) }, n, v, path)
	}
	get := func(op string, path *byte, name string, size int) {
		t.Helper()
		n, buf := x.cstr(name), make([]byte, size)
		if size == 0 {
			buf = nil
		}
		if res := x.prep(op, func(s *SQE) { s.PrepGetxattr(n, buf, path) }, n, buf, path); res > 0 && size > 0 {
			x.tr.Linef("value %s", buf[:res])
		}
	}
	fset := func(op string, fd int, name, value string, flags int) {
		t.Helper()
		n, v := x.cstr(name), []byte(value)
		x.prep(op, func(s *SQE) { s.PrepFsetxattr(fd, n, v, flags) }, n, v)
	}
	fget := func(op string, fd int, name string, size int) {
		t.Helper()
		n, buf := x.cstr(name), make([]byte, size)
		if size == 0 {
			buf = nil
		}
		if res := x.prep(op, func(s *SQE) { s.PrepFgetxattr(fd, n, buf) }, n, buf); res > 0 && size > 0 {
			x.tr.Linef("value %s", buf[:res])
		}
	}

	set("setxattr", file, "user.a", "v1", 0)
	set("setxattr_create_exists", file, "user.a", "v2", unix.XATTR_CREATE)
	set("setxattr_replace_missing", file, "user.b", "v", unix.XATTR_REPLACE)
	set("setxattr_replace", file, "user.a", "v11", unix.XATTR_REPLACE)
	set("setxattr_create", file, "user.c", "ccc", unix.XATTR_CREATE)
	set("setxattr_bad_flags", file, "user.a", "v", 0x4)
	set("setxattr_bad_namespace", file, "bogus.a", "v", 0)
	set("setxattr_empty_name", file, "", "v", 0)
	set("setxattr_long_name", file, "user."+strings.Repeat("n", 256), "v", 0)
	set("setxattr_too_big", file, "user.big", string(make([]byte, 65537)), 0)
	set("setxattr_missing_file", missing, "user.a", "v", 0)
	get("getxattr", file, "user.a", 64)
	get("getxattr_small", file, "user.a", 1)
	get("getxattr_size", file, "user.a", 0)
	get("getxattr_missing_name", file, "user.none", 64)
	get("getxattr_missing_file", missing, "user.a", 64)

	fset("fsetxattr", fd, "user.f", "fval", 0)
	fset("fsetxattr_create_exists", fd, "user.f", "x", unix.XATTR_CREATE)
	fset("fsetxattr_replace_missing", fd, "user.g", "x", unix.XATTR_REPLACE)
	fset("fsetxattr_pipe", p[0], "user.f", "x", 0)
	fset("fsetxattr_badfd", 9999, "user.f", "x", 0)
	fget("fgetxattr", fd, "user.f", 64)
	fget("fgetxattr_small", fd, "user.f", 2)
	fget("fgetxattr_size", fd, "user.f", 0)
	fget("fgetxattr_by_path_set", fd, "user.a", 64)
	fget("fgetxattr_missing_name", fd, "user.g", 64)
	fget("fgetxattr_pipe", p[0], "user.f", 64)
	fget("fgetxattr_badfd", 9999, "user.f", 64)
	fset("fsetxattr_empty_value", fd, "user.f", "", 0)
	fget("fgetxattr_empty_value", fd, "user.f", 0)
	get("getxattr_by_fd_set", file, "user.f", 64)
}

func fsopsSplice(x *fsopsRun) {
	t, q := x.t, x.q
	requireOp(t, q, 5, 7, OpSplice)
	requireOp(t, q, 5, 8, OpTee)
	x.put("sp", "0123456789abcdef")
	x.put("sp2", "")
	fd := x.open("sp", unix.O_RDWR)
	fd2 := x.open("sp2", unix.O_RDWR)
	p1, p2 := x.pipe(), x.pipe()

	x.step("splice_file_to_pipe", x.raw(q.Splice(fd, 4, p1[1], -1, 6, 0)))
	x.step("tee", x.raw(q.Tee(p1[0], p2[1], 6, 0)))
	x.tracePipe("tee data", p2[0])
	x.step("splice_pipe_to_file", x.raw(q.Splice(p1[0], -1, fd, 20, 6, 0)))
	x.traceFile("file data", fd, 20, 64)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	x.tr.Linef("file size=%d", st.Size)
	x.step("splice_file_pos", x.raw(q.Splice(fd, -1, p1[1], -1, 3, 0)))
	x.step("splice_file_pos_again", x.raw(q.Splice(fd, -1, p1[1], -1, 3, unix.SPLICE_F_MOVE)))
	x.tracePipe("pipe data", p1[0])
	x.step("splice_pipe_to_file_pos", x.raw(q.Splice(fd, 10, p1[1], -1, 4, 0)))
	x.step("splice_pipe_to_file_pos2", x.raw(q.Splice(p1[0], -1, fd2, -1, 4, 0)))
	x.traceFile("file2 data", fd2, 0, 64)
	x.step("splice_off_on_pipe_in", x.raw(q.Splice(p1[0], 0, fd, 0, 4, 0)))
	x.step("splice_off_on_pipe_out", x.raw(q.Splice(fd, 0, p1[1], 0, 4, 0)))
	x.step("splice_no_pipe", x.raw(q.Splice(fd, 0, fd2, 0, 4, 0)))
	x.step("splice_eof", x.raw(q.Splice(fd, 100, p1[1], -1, 4, 0)))
	x.step("splice_zero_len", x.raw(q.Splice(fd, 0, p1[1], -1, 0, 0)))
	x.step("splice_empty_nonblock", x.raw(q.Splice(p1[0], -1, fd2, -1, 4, unix.SPLICE_F_NONBLOCK)))
	x.step("splice_bad_flags", x.raw(q.Splice(fd, 0, p1[1], -1, 4, 0x100)))
	x.step("splice_to_read_end", x.raw(q.Splice(fd, 0, p1[0], -1, 4, 0)))
	x.step("splice_badfd", x.raw(q.Splice(9999, 0, p1[1], -1, 4, 0)))
	x.step("tee_empty_nonblock", x.raw(q.Tee(p1[0], p2[1], 4, unix.SPLICE_F_NONBLOCK)))
	x.step("tee_not_pipe", x.raw(q.Tee(fd, p2[1], 4, 0)))
	x.step("tee_same_pipe", x.raw(q.Tee(p2[0], p2[1], 4, 0)))
	x.step("tee_badfd", x.raw(q.Tee(9999, p2[1], 4, 0)))
}

func fsopsRW2(x *fsopsRun) {
	t, q := x.t, x.q
	requireOp(t, q, 5, 1, OpReadv, OpWritev)
	const pos = ^uint64(0) // the file position (pipes have no other)
	x.put("rw", "abcdef")
	fd := x.open("rw", unix.O_RDWR)
	ro := x.open("rw", unix.O_RDONLY)
	p := x.pipe()
	bs := func(s string) [][]byte { return [][]byte{[]byte(s)} }

	x.step("writev2", x.raw(q.Writev2(fd, [][]byte{[]byte("AB"), []byte("C")}, 0, 0)))
	x.step("writev2_append", x.raw(q.Writev2(fd, bs("xyz"), 0, unix.RWF_APPEND)))
	x.traceFile("data", fd, 0, 64)
	x.step("writev2_dsync", x.raw(q.Writev2(fd, bs("!"), 1, unix.RWF_DSYNC)))
	x.step("writev2_sync", x.raw(q.Writev2(fd, bs("?"), 2, unix.RWF_SYNC)))
	x.traceFile("data", fd, 0, 64)

	a, b := make([]byte, 3), make([]byte, 8)
	res := x.step("readv2_nowait", x.raw(q.Readv2(fd, [][]byte{a, b}, 0, unix.RWF_NOWAIT)))
	x.tr.Linef("data %s|%s", a, b[:max(res-3, 0)])
	c := make([]byte, 16)
	res = x.step("readv2", x.raw(q.Readv2(fd, [][]byte{c}, 4, 0)))
	x.tr.Linef("data %s", c[:max(res, 0)])
	x.step("readv2_hipri", x.raw(q.Readv2(fd, [][]byte{c}, 0, unix.RWF_HIPRI)))
	x.step("readv2_eof", x.raw(q.Readv2(fd, [][]byte{c}, 100, 0)))
	x.step("readv2_bad_flag", x.raw(q.Readv2(fd, [][]byte{c}, 0, 1<<30)))
	x.step("readv2_nowait_pipe", x.raw(q.Readv2(p[0], [][]byte{c}, pos, unix.RWF_NOWAIT)))
	x.step("readv2_badfd", x.raw(q.Readv2(9999, [][]byte{c}, 0, 0)))
	x.step("readv2_wronly_pipe", x.raw(q.Readv2(p[1], [][]byte{c}, pos, 0)))
	x.step("writev2_bad_flag", x.raw(q.Writev2(fd, bs("q"), 0, 1<<30)))
	x.step("writev2_append_rdonly", x.raw(q.Writev2(ro, bs("q"), 0, unix.RWF_APPEND)))
	x.step("writev2_pipe_offset_ignored", x.raw(q.Writev2(p[1], bs("q"), 0, 0)))
	x.step("writev2_pipe", x.raw(q.Writev2(p[1], bs("pq"), pos, 0)))
	x.step("readv2_no_iovecs", x.raw(q.Readv2(fd, nil, 0, 0)))
	x.step("writev2_empty_buffer_first", x.raw(q.Writev2(fd, [][]byte{nil, []byte("Z")}, 0, 0)))
	many := make([][]byte, 1025)
	for i := range many {
		many[i] = c[:1]
	}
	x.step("readv2_too_many_iovecs", x.raw(q.Readv2(fd, many, 0, 0)))
	x.step("readv2_max_iovecs", x.raw(q.Readv2(fd, many[:1024], 0, 0)))
	x.tracePipe("pipe data", p[0])
	x.traceFile("data", fd, 0, 64)
}

// fsopsRequireFileIndexAlloc skips below Linux 5.19, which brought
// IORING_FILE_INDEX_ALLOC (direct opens and files_update into slots the
// kernel picks) and sparse fixed-file registration.
func fsopsRequireFileIndexAlloc(t *testing.T) {
	t.Helper()
	testutil.RequireKernel(t, 5, 19, "IORING_FILE_INDEX_ALLOC and sparse fixed-file tables")
}

func fsopsFixed(x *fsopsRun) {
	t, q, dfd := x.t, x.q, x.dfd
	requireOp(t, q, 5, 15, OpOpenat, OpOpenat2, OpClose, OpFilesUpdate, OpRead, OpSplice)
	fsopsRequireFileIndexAlloc(t)
	x.put("fx", "fixed data")
	fd := x.open("fx", unix.O_RDONLY)
	p := x.pipe()
	fx, missing := x.cstr("fx"), x.cstr("missing")
	how := &unix.OpenHow{Flags: unix.O_RDONLY}
	howCloexec := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC}
	openDirect := func(op string, name *byte, flags int, slot uint32) {
		t.Helper()
		x.prep(op, func(s *SQE) { s.PrepOpenatDirect(dfd, name, flags, 0, slot) }, name)
	}
	open2Direct := func(op string, how *unix.OpenHow, slot uint32) {
		t.Helper()
		x.prep(op, func(s *SQE) { s.PrepOpenat2Direct(dfd, fx, how, slot) }, fx, how)
	}
	closeDirect := func(op string, slot uint32) {
		t.Helper()
		x.prep(op, func(s *SQE) { s.PrepCloseDirect(slot) })
	}
	read := func(op string, slot int) {
		t.Helper()
		buf := make([]byte, 64)
		res := x.prep(op, func(s *SQE) {
			s.PrepRead(slot, buf, 0)
			s.SetFlags(SQEFixedFile)
		}, buf)
		if res > 0 {
			x.tr.Linef("data %s", buf[:res])
		}
	}
	update := func(op string, fds []int32, off int) {
		t.Helper()
		x.prep(op, func(s *SQE) { s.PrepFilesUpdate(fds, off) }, &fds[:1][0]) // the kernel writes allocated slots back
	}
	const alloc = FileIndexAlloc - 1 // the helpers add one: file_index is slot+1

	openDirect("openat_direct_no_table", fx, unix.O_RDONLY, 0)
	closeDirect("close_direct_no_table", 0)
	update("files_update_no_table", []int32{int32(fd)}, 0)
	err := q.Ring().RegisterFilesSparse(4)
	if errors.Is(err, unix.EINVAL) {
		testutil.FeatureMissing(t, 5, 19, "sparse fixed-file registration (IORING_RSRC_REGISTER_SPARSE)", err)
	}
	x.errStep("register_files_sparse", err)

	openDirect("openat_direct", fx, unix.O_RDONLY, 1)
	read("read_fixed_file", 1)
	openDirect("openat_direct_replace", fx, unix.O_RDONLY, 1)
	read("read_fixed_file_replaced", 1)
	openDirect("openat_direct_out_of_range", fx, unix.O_RDONLY, 9)
	openDirect("openat_direct_cloexec", fx, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	openDirect("openat_direct_missing", missing, unix.O_RDONLY, 0)
	openDirect("openat_direct_alloc", fx, unix.O_RDONLY, alloc)
	open2Direct("openat2_direct", how, 2)
	read("read_fixed_file_openat2", 2)
	open2Direct("openat2_direct_cloexec", howCloexec, 2)
	open2Direct("openat2_direct_alloc", how, alloc)
	openDirect("openat_direct_alloc_wrap", fx, unix.O_RDONLY, alloc)
	openDirect("openat_direct_alloc_full", fx, unix.O_RDONLY, alloc)

	closeDirect("close_direct", 2)
	closeDirect("close_direct_empty", 2)
	closeDirect("close_direct_out_of_range", 9)
	read("read_fixed_file_closed", 2)
	read("read_fixed_file_out_of_range", 9)

	update("files_update", []int32{int32(fd)}, 2)
	read("read_fixed_file_updated", 2)
	update("files_update_clear", []int32{-1}, 0)
	read("read_fixed_file_cleared", 0)
	update("files_update_skip", []int32{RegisterFilesSkip}, 1)
	read("read_fixed_file_skipped", 1)
	closeDirect("close_direct_3", 3)
	fds := []int32{int32(fd), int32(fd)}
	update("files_update_alloc", fds, FileIndexAlloc)
	x.tr.Linef("allocated slots %d %d", fds[0], fds[1])
	update("files_update_alloc_full", []int32{int32(fd)}, FileIndexAlloc)
	update("files_update_badfd", []int32{9999}, 0)
	update("files_update_out_of_range", []int32{int32(fd)}, 9)
	update("files_update_zero", []int32{int32(fd)}[:0:1], 0)

	x.step("splice_fixed_in", x.raw(q.Splice(1, 0, p[1], -1, 5, SpliceFDInFixed)))
	x.tracePipe("pipe data", p[0])
	x.step("splice_fixed_in_empty_slot", x.raw(q.Splice(9, 0, p[1], -1, 5, SpliceFDInFixed)))

	x.errStep("unregister_files", q.Ring().UnregisterFiles())
	openDirect("openat_direct_unregistered", fx, unix.O_RDONLY, 0)
	read("read_fixed_file_unregistered", 1)
}
