/* uring_xcheck_fsops: file-system and data-movement operations through
 * io_uring, one section per run:
 *
 *   dirs     mkdirat/mkdir, renameat/rename (RENAME_NOREPLACE, EXCHANGE),
 *            unlinkat/unlink (AT_REMOVEDIR), linkat/link, symlinkat/symlink,
 *            statx of links with and without AT_SYMLINK_NOFOLLOW
 *   space    fallocate (modes), fadvise, madvise (on an mmap of its own),
 *            sync_file_range
 *   openat2  openat2 with struct open_how: RESOLVE_* rules, bad how
 *   xattr    setxattr/getxattr/fsetxattr/fgetxattr on "user." names
 *   splice   splice (file<->pipe, offsets) and tee
 *   rw2      readv2/writev2 with RWF_* flags
 *   fixed    a sparse fixed-file table: openat_direct, openat2_direct,
 *            close_direct, files_update (IORING_FILE_INDEX_ALLOC), reads
 *            and a splice through fixed files
 *
 * usage: uring_xcheck_fsops <section> <dir>; dir is an empty directory the
 * section may use. Descriptors print as 0 (their numbers differ between
 * processes); only stable data is printed: sizes, modes, link counts and
 * bytes read back. */
#include "trace.h" /* first: it defines _GNU_SOURCE */
#include "uring_common.h"
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *dir; /* argv[2] */
static int dfd;         /* dir, opened O_DIRECTORY */

/* A free SQE (the ring has room: every step submits and waits). */
static struct io_uring_sqe *sqe(void)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);

	if (!s) {
		fprintf(stderr, "io_uring_get_sqe: ring full\n");
		exit(1);
	}
	return s;
}

/* Runs the SQE prepared by the statements in __VA_ARGS__ (on S) and traces
 * its result as op. */
#define STEP(op, ...)                     \
	do {                              \
		struct io_uring_sqe *S = sqe(); \
		__VA_ARGS__;              \
		trace_neg(op, run1());    \
	} while (0)

/* As STEP, for descriptor results: traced as 0, returned as they are. */
static int fd_step(const char *op, int res)
{
	trace_neg(op, res >= 0 ? 0 : res);
	return res;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* path returns dir/name in one of four rotating buffers. */
static const char *path(const char *name)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

/* put creates (or truncates) dir/name holding content, mode 0644. */
static void put(const char *name, const char *content)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		die(name);
	close(fd);
}

static int open_or_die(const char *name, int flags)
{
	int fd = openat(dfd, name, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		die(name);
	return fd;
}

static void pipe_or_die(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		die("pipe2");
}

/* Traces what statx reported: the file type, permission bits and link
 * count, and the size of everything but directories (whose size is the
 * file system's business). */
static void trace_statx(const struct statx *st)
{
	const char *type = S_ISREG(st->stx_mode) ? "reg" : S_ISDIR(st->stx_mode) ? "dir" : S_ISLNK(st->stx_mode) ? "lnk" : "other";

	if (S_ISDIR(st->stx_mode))
		trace_line("statx type=%s mode=%04o nlink=%u", type, st->stx_mode & 07777, st->stx_nlink);
	else
		trace_line("statx type=%s mode=%04o nlink=%u size=%llu", type, st->stx_mode & 07777, st->stx_nlink,
			   (unsigned long long)st->stx_size);
}

static void stat_step(const char *op, const char *name, int flags)
{
	struct statx st;
	int res;

	memset(&st, 0, sizeof(st));
	io_uring_prep_statx(sqe(), dfd, name, flags, STATX_BASIC_STATS, &st);
	res = run1();
	trace_neg(op, res);
	if (res == 0)
		trace_statx(&st);
}

/* Traces the content of fd read with pread at off (n bytes at most). */
static void trace_file(const char *what, int fd, off_t off, size_t n)
{
	char buf[256];
	ssize_t got;

	if (n > sizeof(buf))
		n = sizeof(buf);
	got = pread(fd, buf, n, off);
	if (got < 0)
		die("pread");
	trace_line("%s %.*s", what, (int)got, buf);
}

/* Traces what one read of a pipe returns. */
static void trace_pipe(const char *what, int fd)
{
	char buf[256];
	ssize_t got = read(fd, buf, sizeof(buf));

	if (got < 0)
		die("read");
	trace_line("%s %.*s", what, (int)got, buf);
}

static void sec_dirs(void)
{
	int ffd;

	STEP("mkdirat", io_uring_prep_mkdirat(S, dfd, "d", 0750));
	STEP("mkdirat_exists", io_uring_prep_mkdirat(S, dfd, "d", 0750));
	STEP("mkdir", io_uring_prep_mkdir(S, path("d/sub"), 0777));
	STEP("mkdir_noparent", io_uring_prep_mkdir(S, path("none/d"), 0755));
	stat_step("statx_dir", "d", 0);
	put("f", "hello");
	STEP("mkdirat_notdir", io_uring_prep_mkdirat(S, dfd, "f/x", 0755));
	STEP("mkdirat_badfd", io_uring_prep_mkdirat(S, 9999, "x", 0755));
	STEP("mkdirat_empty_path", io_uring_prep_mkdirat(S, dfd, "", 0755));

	STEP("renameat", io_uring_prep_renameat(S, dfd, "f", dfd, "g", 0));
	STEP("renameat_missing", io_uring_prep_renameat(S, dfd, "f", dfd, "h", 0));
	put("h", "hh");
	STEP("renameat_noreplace", io_uring_prep_renameat(S, dfd, "g", dfd, "h", RENAME_NOREPLACE));
	STEP("renameat_noreplace_free", io_uring_prep_renameat(S, dfd, "g", dfd, "g1", RENAME_NOREPLACE));
	STEP("renameat_bad_flags", io_uring_prep_renameat(S, dfd, "g1", dfd, "h", RENAME_NOREPLACE | RENAME_EXCHANGE));
	STEP("renameat_exchange", io_uring_prep_renameat(S, dfd, "g1", dfd, "h", RENAME_EXCHANGE));
	stat_step("statx_g1", "g1", 0);
	stat_step("statx_h", "h", 0);
	STEP("renameat_file_on_dir", io_uring_prep_renameat(S, dfd, "g1", dfd, "d", 0));
	STEP("renameat_dir_on_file", io_uring_prep_renameat(S, dfd, "d", dfd, "h", 0));
	STEP("renameat_into_self", io_uring_prep_renameat(S, dfd, "d", dfd, "d/sub/x", 0));
	STEP("rename", io_uring_prep_rename(S, path("g1"), path("g2")));
	STEP("rename_missing", io_uring_prep_rename(S, path("g1"), path("g3")));

	STEP("linkat", io_uring_prep_linkat(S, dfd, "h", dfd, "hl", 0));
	stat_step("statx_linked", "h", 0);
	STEP("linkat_exists", io_uring_prep_linkat(S, dfd, "h", dfd, "hl", 0));
	STEP("linkat_missing", io_uring_prep_linkat(S, dfd, "none", dfd, "hl2", 0));
	STEP("linkat_dir", io_uring_prep_linkat(S, dfd, "d", dfd, "dl", 0));
	STEP("linkat_bad_flags", io_uring_prep_linkat(S, dfd, "h", dfd, "hl2", 0x1));
	STEP("link", io_uring_prep_link(S, path("h"), path("hl3"), 0));

	STEP("symlinkat", io_uring_prep_symlinkat(S, "h", dfd, "sl"));
	STEP("symlinkat_exists", io_uring_prep_symlinkat(S, "h", dfd, "sl"));
	STEP("symlinkat_noparent", io_uring_prep_symlinkat(S, "h", dfd, "none/sl"));
	STEP("symlinkat_empty_target", io_uring_prep_symlinkat(S, "", dfd, "sl_empty"));
	STEP("symlink", io_uring_prep_symlink(S, "nowhere", path("dangling")));
	stat_step("statx_symlink_nofollow", "sl", AT_SYMLINK_NOFOLLOW);
	stat_step("statx_symlink_follow", "sl", 0);
	stat_step("statx_dangling_nofollow", "dangling", AT_SYMLINK_NOFOLLOW);
	stat_step("statx_dangling_follow", "dangling", 0);
	STEP("linkat_follow", io_uring_prep_linkat(S, dfd, "sl", dfd, "slhl", AT_SYMLINK_FOLLOW));
	stat_step("statx_linkat_follow", "slhl", AT_SYMLINK_NOFOLLOW);
	STEP("linkat_nofollow", io_uring_prep_linkat(S, dfd, "sl", dfd, "sl2", 0));
	stat_step("statx_linkat_nofollow", "sl2", AT_SYMLINK_NOFOLLOW);
	STEP("linkat_follow_dangling", io_uring_prep_linkat(S, dfd, "dangling", dfd, "dl2", AT_SYMLINK_FOLLOW));

	STEP("unlinkat", io_uring_prep_unlinkat(S, dfd, "hl", 0));
	STEP("unlinkat_missing", io_uring_prep_unlinkat(S, dfd, "hl", 0));
	STEP("unlinkat_dir", io_uring_prep_unlinkat(S, dfd, "d", 0));
	STEP("unlinkat_notempty", io_uring_prep_unlinkat(S, dfd, "d", AT_REMOVEDIR));
	STEP("unlinkat_rmdir_file", io_uring_prep_unlinkat(S, dfd, "h", AT_REMOVEDIR));
	STEP("unlinkat_bad_flags", io_uring_prep_unlinkat(S, dfd, "h", 0x1));
	STEP("unlinkat_rmdir_sub", io_uring_prep_unlinkat(S, dfd, "d/sub", AT_REMOVEDIR));
	STEP("unlinkat_rmdir", io_uring_prep_unlinkat(S, dfd, "d", AT_REMOVEDIR));
	STEP("unlink", io_uring_prep_unlink(S, path("hl3"), 0));
	STEP("unlink_symlink", io_uring_prep_unlink(S, path("sl"), 0));
	STEP("unlink_rmdir_missing", io_uring_prep_unlink(S, path("d"), AT_REMOVEDIR));
	stat_step("statx_after_unlink", "h", 0);
	ffd = open_or_die("h", O_RDONLY);
	STEP("unlinkat_dirfd_file", io_uring_prep_unlinkat(S, ffd, "x", 0));
	close(ffd);
}

/* Traces the size of fd and whether at least want bytes are allocated. */
static long long trace_space(const char *what, int fd, long long want)
{
	struct stat st;

	if (fstat(fd, &st))
		die("fstat");
	trace_line("%s size=%lld allocated>=%lld:%d", what, (long long)st.st_size, want,
		   (long long)st.st_blocks * 512 >= want);
	return (long long)st.st_blocks * 512;
}

/* Traces how many of n bytes at off read as zero, and the byte after. */
static void trace_zeros(const char *what, int fd, off_t off, size_t n)
{
	char buf[8192 + 1];
	size_t i, zeros = 0;

	if (n + 1 > sizeof(buf) || pread(fd, buf, n + 1, off) != (ssize_t)(n + 1))
		die("pread");
	for (i = 0; i < n; i++)
		zeros += buf[i] == 0;
	trace_line("%s zeros=%zu next=%d", what, zeros, buf[n]);
}

static void sec_space(void)
{
	const size_t pg = 4096;
	char data[8192];
	long long before;
	int fd, ro, nul, p[2];
	char *mem;

	fd = open_or_die("space", O_RDWR | O_CREAT | O_TRUNC);
	ro = open_or_die("space", O_RDONLY);
	nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (nul < 0)
		die("/dev/null");
	pipe_or_die(p);

	STEP("fallocate", io_uring_prep_fallocate(S, fd, 0, 0, 65536));
	trace_space("fallocate", fd, 65536);
	STEP("fallocate_keep_size", io_uring_prep_fallocate(S, fd, FALLOC_FL_KEEP_SIZE, 65536, 65536));
	before = trace_space("keep_size", fd, 131072);
	memset(data, 'a', sizeof(data));
	if (pwrite(fd, data, sizeof(data), 0) != (ssize_t)sizeof(data))
		die("pwrite");
	STEP("fallocate_punch_hole", io_uring_prep_fallocate(S, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	trace_zeros("punch_hole", fd, 0, 4096);
	{
		struct stat st;

		if (fstat(fd, &st))
			die("fstat");
		trace_line("punch_hole size=%lld freed=%d", (long long)st.st_size, (long long)st.st_blocks * 512 < before);
	}
	STEP("fallocate_zero_range", io_uring_prep_fallocate(S, fd, FALLOC_FL_ZERO_RANGE, 4096, 4095));
	trace_zeros("zero_range", fd, 4096, 4095);
	STEP("fallocate_grow", io_uring_prep_fallocate(S, fd, 0, 65536, 4096));
	trace_space("grow", fd, 131072 - 4096);
	STEP("fallocate_punch_nokeep", io_uring_prep_fallocate(S, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	STEP("fallocate_bad_mode", io_uring_prep_fallocate(S, fd, 0x1000, 0, 4096));
	STEP("fallocate_negoff", io_uring_prep_fallocate(S, fd, 0, -1, 10));
	STEP("fallocate_zero_len", io_uring_prep_fallocate(S, fd, 0, 0, 0));
	STEP("fallocate_rdonly", io_uring_prep_fallocate(S, ro, 0, 0, 4096));
	STEP("fallocate_pipe", io_uring_prep_fallocate(S, p[1], 0, 0, 4096));
	STEP("fallocate_chardev", io_uring_prep_fallocate(S, nul, 0, 0, 4096));
	STEP("fallocate_badfd", io_uring_prep_fallocate(S, 9999, 0, 0, 4096));

	STEP("fadvise_dontneed", io_uring_prep_fadvise(S, fd, 0, 0, POSIX_FADV_DONTNEED));
	STEP("fadvise_willneed", io_uring_prep_fadvise(S, fd, 0, 4096, POSIX_FADV_WILLNEED));
	STEP("fadvise_sequential", io_uring_prep_fadvise(S, fd, 0, 0, POSIX_FADV_SEQUENTIAL));
	STEP("fadvise_random_rdonly", io_uring_prep_fadvise(S, ro, 4096, 4096, POSIX_FADV_RANDOM));
	STEP("fadvise_bad_advice", io_uring_prep_fadvise(S, fd, 0, 0, 99));
	STEP("fadvise_pipe", io_uring_prep_fadvise(S, p[0], 0, 0, POSIX_FADV_NORMAL));
	STEP("fadvise_badfd", io_uring_prep_fadvise(S, 9999, 0, 0, POSIX_FADV_NORMAL));

	STEP("sync_file_range", io_uring_prep_sync_file_range(S, fd, 4096, 0, SYNC_FILE_RANGE_WRITE));
	STEP("sync_file_range_wait", io_uring_prep_sync_file_range(S, fd, 0, 0,
								   SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
									   SYNC_FILE_RANGE_WAIT_AFTER));
	STEP("sync_file_range_bad_flags", io_uring_prep_sync_file_range(S, fd, 0, 0, 0x8));
	STEP("sync_file_range_negoff", io_uring_prep_sync_file_range(S, fd, 0, (__u64)-1, SYNC_FILE_RANGE_WRITE));
	STEP("sync_file_range_pipe", io_uring_prep_sync_file_range(S, p[1], 0, 0, SYNC_FILE_RANGE_WRITE));
	STEP("sync_file_range_badfd", io_uring_prep_sync_file_range(S, 9999, 0, 0, SYNC_FILE_RANGE_WRITE));

	/* Private anonymous memory: MADV_DONTNEED makes its pages read as
	   zeros. The unmapped range is in the kernel's half of the address
	   space, which no process maps (a low address would not do: Go
	   binaries for arm64 start at 64 KiB). */
	mem = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	memset(mem, 'x', 4 * pg);
	STEP("madvise_willneed", io_uring_prep_madvise(S, mem, 4 * pg, MADV_WILLNEED));
	STEP("madvise_dontneed", io_uring_prep_madvise(S, mem, pg, MADV_DONTNEED));
	trace_line("dontneed page0=%d page1=%d", mem[0], mem[pg]);
	STEP("madvise_zero_len", io_uring_prep_madvise(S, mem, 0, MADV_DONTNEED));
	STEP("madvise_bad_advice", io_uring_prep_madvise(S, mem, pg, 12345));
	STEP("madvise_unaligned", io_uring_prep_madvise(S, mem + 1, pg, MADV_DONTNEED));
	STEP("madvise_unmapped", io_uring_prep_madvise(S, (void *)(uintptr_t)0xffffffffffffe000ULL, pg, MADV_WILLNEED));
	munmap(mem, 4 * pg);

	close(p[0]);
	close(p[1]);
	close(nul);
	close(ro);
	close(fd);
}

/* An open_how followed by 8 more bytes, for sizes past the kernel's. */
struct how_ext {
	struct open_how how;
	__u64 extra;
};

static int open2_step(const char *op, int dirfd, const char *name, __u64 flags, __u64 mode, __u64 resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.mode = mode;
	how.resolve = resolve;
	io_uring_prep_openat2(sqe(), dirfd, name, &how);
	return fd_step(op, run1());
}

/* close_fd closes a descriptor an openat2 step returned, if it did. */
static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void sec_openat2(void)
{
	const __u64 rd = O_RDONLY | O_CLOEXEC;
	struct io_uring_sqe *s;
	struct how_ext ext;
	struct statx st;
	int fd, ffd, res;

	put("o", "open2");
	if (mkdirat(dfd, "sub", 0755) || symlinkat("o", dfd, "osl") || symlinkat("..", dfd, "up"))
		die("setup");

	fd = open2_step("openat2_beneath", dfd, "o", rd, 0, RESOLVE_BENEATH);
	if (fd >= 0)
		trace_file("data", fd, 0, 64);
	close_fd(fd);
	close_fd(open2_step("openat2_beneath_dotdot_inside", dfd, "sub/../o", rd, 0, RESOLVE_BENEATH));
	close_fd(open2_step("openat2_beneath_escape", dfd, "../x", rd, 0, RESOLVE_BENEATH));
	close_fd(open2_step("openat2_beneath_absolute", dfd, path("o"), rd, 0, RESOLVE_BENEATH));
	close_fd(open2_step("openat2_beneath_symlink_escape", dfd, "up/x", rd, 0, RESOLVE_BENEATH));
	close_fd(open2_step("openat2_in_root", dfd, "/o", rd, 0, RESOLVE_IN_ROOT));
	close_fd(open2_step("openat2_no_symlinks", dfd, "osl", rd, 0, RESOLVE_NO_SYMLINKS));
	close_fd(open2_step("openat2_symlink", dfd, "osl", rd, 0, 0));
	close_fd(open2_step("openat2_no_xdev", dfd, "o", rd, 0, RESOLVE_NO_XDEV));
	close_fd(open2_step("openat2_nofollow", dfd, "osl", rd | O_NOFOLLOW, 0, 0));
	close_fd(open2_step("openat2_mode_without_creat", dfd, "o", rd, 0644, 0));
	close_fd(open2_step("openat2_bad_resolve", dfd, "o", rd, 0, 1ULL << 30));
	close_fd(open2_step("openat2_bad_flags", dfd, "o", rd | (1ULL << 40), 0, 0));
	close_fd(open2_step("openat2_bad_mode", dfd, "new", rd | O_CREAT | O_RDWR, 010000, 0));
	fd = open2_step("openat2_create", dfd, "new", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640, RESOLVE_BENEATH);
	close_fd(fd);
	memset(&st, 0, sizeof(st));
	io_uring_prep_statx(sqe(), dfd, "new", 0, STATX_BASIC_STATS, &st);
	res = run1();
	trace_neg("statx_new", res);
	if (res == 0)
		trace_statx(&st);
	close_fd(open2_step("openat2_create_exists", dfd, "new", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640, 0));
	close_fd(open2_step("openat2_badfd", 9999, "o", rd, 0, 0));
	ffd = open_or_die("o", O_RDONLY);
	close_fd(open2_step("openat2_dirfd_file", ffd, "x", rd, 0, 0));
	close(ffd);

	/* The size the SQE's len gives: smaller than version 0 (24 bytes),
	   larger with zero and with non-zero trailing bytes; and no how. */
	memset(&ext, 0, sizeof(ext));
	ext.how.flags = rd;
	s = sqe();
	io_uring_prep_openat2(s, dfd, "o", &ext.how);
	s->len = 8;
	fd_step("openat2_size_small", run1());
	s = sqe();
	io_uring_prep_openat2(s, dfd, "o", &ext.how);
	s->len = sizeof(ext);
	close_fd(fd_step("openat2_size_large_zero", run1()));
	ext.extra = 1;
	s = sqe();
	io_uring_prep_openat2(s, dfd, "o", &ext.how);
	s->len = sizeof(ext);
	close_fd(fd_step("openat2_size_large_nonzero", run1()));
	io_uring_prep_openat2(sqe(), dfd, "o", NULL);
	fd_step("openat2_how_null", run1());
}

static void get_step(const char *op, const char *file, const char *name, size_t n)
{
	char buf[64];
	int res;

	io_uring_prep_getxattr(sqe(), name, n ? buf : NULL, file, n);
	res = run1();
	trace_neg(op, res);
	if (res > 0 && n)
		trace_line("value %.*s", res, buf);
}

static void fget_step(const char *op, int fd, const char *name, size_t n)
{
	char buf[64];
	int res;

	io_uring_prep_fgetxattr(sqe(), fd, name, n ? buf : NULL, n);
	res = run1();
	trace_neg(op, res);
	if (res > 0 && n)
		trace_line("value %.*s", res, buf);
}

static void sec_xattr(void)
{
	const char *x, *missing;
	char longname[300], *big;
	int fd, p[2];

	put("x", "");
	x = strdup(path("x"));
	missing = strdup(path("missing"));
	fd = open_or_die("x", O_RDWR);
	pipe_or_die(p);
	memset(longname, 0, sizeof(longname));
	memcpy(longname, "user.", 5);
	memset(longname + 5, 'n', 256);
	big = calloc(1, 65537);
	if (!x || !missing || !big)
		die("malloc");

	STEP("setxattr", io_uring_prep_setxattr(S, "user.a", "v1", x, 0, 2));
	STEP("setxattr_create_exists", io_uring_prep_setxattr(S, "user.a", "v2", x, XATTR_CREATE, 2));
	STEP("setxattr_replace_missing", io_uring_prep_setxattr(S, "user.b", "v", x, XATTR_REPLACE, 1));
	STEP("setxattr_replace", io_uring_prep_setxattr(S, "user.a", "v11", x, XATTR_REPLACE, 3));
	STEP("setxattr_create", io_uring_prep_setxattr(S, "user.c", "ccc", x, XATTR_CREATE, 3));
	STEP("setxattr_bad_flags", io_uring_prep_setxattr(S, "user.a", "v", x, 0x4, 1));
	STEP("setxattr_bad_namespace", io_uring_prep_setxattr(S, "bogus.a", "v", x, 0, 1));
	STEP("setxattr_empty_name", io_uring_prep_setxattr(S, "", "v", x, 0, 1));
	STEP("setxattr_long_name", io_uring_prep_setxattr(S, longname, "v", x, 0, 1));
	STEP("setxattr_too_big", io_uring_prep_setxattr(S, "user.big", big, x, 0, 65537));
	STEP("setxattr_missing_file", io_uring_prep_setxattr(S, "user.a", "v", missing, 0, 1));
	get_step("getxattr", x, "user.a", 64);
	get_step("getxattr_small", x, "user.a", 1);
	get_step("getxattr_size", x, "user.a", 0);
	get_step("getxattr_missing_name", x, "user.none", 64);
	get_step("getxattr_missing_file", missing, "user.a", 64);

	STEP("fsetxattr", io_uring_prep_fsetxattr(S, fd, "user.f", "fval", 0, 4));
	STEP("fsetxattr_create_exists", io_uring_prep_fsetxattr(S, fd, "user.f", "x", XATTR_CREATE, 1));
	STEP("fsetxattr_replace_missing", io_uring_prep_fsetxattr(S, fd, "user.g", "x", XATTR_REPLACE, 1));
	STEP("fsetxattr_pipe", io_uring_prep_fsetxattr(S, p[0], "user.f", "x", 0, 1));
	STEP("fsetxattr_badfd", io_uring_prep_fsetxattr(S, 9999, "user.f", "x", 0, 1));
	fget_step("fgetxattr", fd, "user.f", 64);
	fget_step("fgetxattr_small", fd, "user.f", 2);
	fget_step("fgetxattr_size", fd, "user.f", 0);
	fget_step("fgetxattr_by_path_set", fd, "user.a", 64);
	fget_step("fgetxattr_missing_name", fd, "user.g", 64);
	fget_step("fgetxattr_pipe", p[0], "user.f", 64);
	fget_step("fgetxattr_badfd", 9999, "user.f", 64);
	STEP("fsetxattr_empty_value", io_uring_prep_fsetxattr(S, fd, "user.f", "", 0, 0));
	fget_step("fgetxattr_empty_value", fd, "user.f", 0);
	get_step("getxattr_by_fd_set", x, "user.f", 64);

	free(big);
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void sec_splice(void)
{
	int fd, fd2, p1[2], p2[2];
	struct stat st;

	put("sp", "0123456789abcdef");
	put("sp2", "");
	fd = open_or_die("sp", O_RDWR);
	fd2 = open_or_die("sp2", O_RDWR);
	pipe_or_die(p1);
	pipe_or_die(p2);

	STEP("splice_file_to_pipe", io_uring_prep_splice(S, fd, 4, p1[1], -1, 6, 0));
	STEP("tee", io_uring_prep_tee(S, p1[0], p2[1], 6, 0));
	trace_pipe("tee data", p2[0]);
	STEP("splice_pipe_to_file", io_uring_prep_splice(S, p1[0], -1, fd, 20, 6, 0));
	trace_file("file data", fd, 20, 64);
	if (fstat(fd, &st))
		die("fstat");
	trace_line("file size=%lld", (long long)st.st_size);
	STEP("splice_file_pos", io_uring_prep_splice(S, fd, -1, p1[1], -1, 3, 0));
	STEP("splice_file_pos_again", io_uring_prep_splice(S, fd, -1, p1[1], -1, 3, SPLICE_F_MOVE));
	trace_pipe("pipe data", p1[0]);
	STEP("splice_pipe_to_file_pos", io_uring_prep_splice(S, fd, 10, p1[1], -1, 4, 0));
	STEP("splice_pipe_to_file_pos2", io_uring_prep_splice(S, p1[0], -1, fd2, -1, 4, 0));
	trace_file("file2 data", fd2, 0, 64);
	STEP("splice_off_on_pipe_in", io_uring_prep_splice(S, p1[0], 0, fd, 0, 4, 0));
	STEP("splice_off_on_pipe_out", io_uring_prep_splice(S, fd, 0, p1[1], 0, 4, 0));
	STEP("splice_no_pipe", io_uring_prep_splice(S, fd, 0, fd2, 0, 4, 0));
	STEP("splice_eof", io_uring_prep_splice(S, fd, 100, p1[1], -1, 4, 0));
	STEP("splice_zero_len", io_uring_prep_splice(S, fd, 0, p1[1], -1, 0, 0));
	STEP("splice_empty_nonblock", io_uring_prep_splice(S, p1[0], -1, fd2, -1, 4, SPLICE_F_NONBLOCK));
	STEP("splice_bad_flags", io_uring_prep_splice(S, fd, 0, p1[1], -1, 4, 0x100));
	STEP("splice_to_read_end", io_uring_prep_splice(S, fd, 0, p1[0], -1, 4, 0));
	STEP("splice_badfd", io_uring_prep_splice(S, 9999, 0, p1[1], -1, 4, 0));
	STEP("tee_empty_nonblock", io_uring_prep_tee(S, p1[0], p2[1], 4, SPLICE_F_NONBLOCK));
	STEP("tee_not_pipe", io_uring_prep_tee(S, fd, p2[1], 4, 0));
	STEP("tee_same_pipe", io_uring_prep_tee(S, p2[0], p2[1], 4, 0));
	STEP("tee_badfd", io_uring_prep_tee(S, 9999, p2[1], 4, 0));

	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	close(fd2);
	close(fd);
}

static void sec_rw2(void)
{
	static struct iovec many[1025];
	char a[3], b[8], c[16];
	struct iovec iov[2];
	size_t i;
	int fd, ro, p[2], res;

	put("rw", "abcdef");
	fd = open_or_die("rw", O_RDWR);
	ro = open_or_die("rw", O_RDONLY);
	pipe_or_die(p);

#define IOV1(s) (iov[0].iov_base = (void *)(s), iov[0].iov_len = strlen(s), iov)
	iov[0].iov_base = "AB";
	iov[0].iov_len = 2;
	iov[1].iov_base = "C";
	iov[1].iov_len = 1;
	STEP("writev2", io_uring_prep_writev2(S, fd, iov, 2, 0, 0));
	STEP("writev2_append", io_uring_prep_writev2(S, fd, IOV1("xyz"), 1, 0, RWF_APPEND));
	trace_file("data", fd, 0, 64);
	STEP("writev2_dsync", io_uring_prep_writev2(S, fd, IOV1("!"), 1, 1, RWF_DSYNC));
	STEP("writev2_sync", io_uring_prep_writev2(S, fd, IOV1("?"), 1, 2, RWF_SYNC));
	trace_file("data", fd, 0, 64);

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	iov[0].iov_base = a;
	iov[0].iov_len = sizeof(a);
	iov[1].iov_base = b;
	iov[1].iov_len = sizeof(b);
	io_uring_prep_readv2(sqe(), fd, iov, 2, 0, RWF_NOWAIT);
	res = run1();
	trace_neg("readv2_nowait", res);
	trace_line("data %.3s|%.*s", a, res > 3 ? res - 3 : 0, b);
	iov[0].iov_base = c;
	iov[0].iov_len = sizeof(c);
	io_uring_prep_readv2(sqe(), fd, iov, 1, 4, 0);
	res = run1();
	trace_neg("readv2", res);
	trace_line("data %.*s", res > 0 ? res : 0, c);
	STEP("readv2_hipri", io_uring_prep_readv2(S, fd, iov, 1, 0, RWF_HIPRI));
	STEP("readv2_eof", io_uring_prep_readv2(S, fd, iov, 1, 100, 0));
	STEP("readv2_bad_flag", io_uring_prep_readv2(S, fd, iov, 1, 0, 1 << 30));
	STEP("readv2_nowait_pipe", io_uring_prep_readv2(S, p[0], iov, 1, (__u64)-1, RWF_NOWAIT));
	STEP("readv2_badfd", io_uring_prep_readv2(S, 9999, iov, 1, 0, 0));
	STEP("readv2_wronly_pipe", io_uring_prep_readv2(S, p[1], iov, 1, (__u64)-1, 0));
	STEP("writev2_bad_flag", io_uring_prep_writev2(S, fd, IOV1("q"), 1, 0, 1 << 30));
	STEP("writev2_append_rdonly", io_uring_prep_writev2(S, ro, IOV1("q"), 1, 0, RWF_APPEND));
	STEP("writev2_pipe_offset_ignored", io_uring_prep_writev2(S, p[1], IOV1("q"), 1, 0, 0));
	STEP("writev2_pipe", io_uring_prep_writev2(S, p[1], IOV1("pq"), 1, (__u64)-1, 0));
	STEP("readv2_no_iovecs", io_uring_prep_readv2(S, fd, NULL, 0, 0, 0));
	iov[0].iov_base = NULL;
	iov[0].iov_len = 0;
	iov[1].iov_base = "Z";
	iov[1].iov_len = 1;
	STEP("writev2_empty_buffer_first", io_uring_prep_writev2(S, fd, iov, 2, 0, 0));
	for (i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
		many[i].iov_base = c;
		many[i].iov_len = 1;
	}
	STEP("readv2_too_many_iovecs", io_uring_prep_readv2(S, fd, many, 1025, 0, 0));
	STEP("readv2_max_iovecs", io_uring_prep_readv2(S, fd, many, 1024, 0, 0));
	trace_pipe("pipe data", p[0]);
	trace_file("data", fd, 0, 64);
#undef IOV1

	close(p[0]);
	close(p[1]);
	close(ro);
	close(fd);
}

/* Reads through fixed-file slot and traces the result and the data. */
static void fixed_read(const char *op, unsigned slot)
{
	char buf[64];
	struct io_uring_sqe *s = sqe();
	int res;

	io_uring_prep_read(s, (int)slot, buf, sizeof(buf), 0);
	s->flags |= IOSQE_FIXED_FILE;
	res = run1();
	trace_neg(op, res);
	if (res > 0)
		trace_line("data %.*s", res, buf);
}

static void files_update_step(const char *op, int *fds, unsigned n, int off)
{
	STEP(op, io_uring_prep_files_update(S, fds, n, off));
}

static void sec_fixed(void)
{
	struct open_how how, how_cloexec;
	int fd, fds[2], p[2];

	put("fx", "fixed data");
	fd = open_or_die("fx", O_RDONLY);
	pipe_or_die(p);
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY;
	how_cloexec = how;
	how_cloexec.flags |= O_CLOEXEC;

	STEP("openat_direct_no_table", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, 0));
	STEP("close_direct_no_table", io_uring_prep_close_direct(S, 0));
	fds[0] = fd;
	files_update_step("files_update_no_table", fds, 1, 0);
	trace_neg("register_files_sparse", io_uring_register_files_sparse(&ring, 4));

	STEP("openat_direct", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, 1));
	fixed_read("read_fixed_file", 1);
	STEP("openat_direct_replace", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, 1));
	fixed_read("read_fixed_file_replaced", 1);
	STEP("openat_direct_out_of_range", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, 9));
	STEP("openat_direct_cloexec", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY | O_CLOEXEC, 0, 0));
	STEP("openat_direct_missing", io_uring_prep_openat_direct(S, dfd, "missing", O_RDONLY, 0, 0));
	/* IORING_FILE_INDEX_ALLOC through the raw file_index: the helper adds
	   one, and the kernel's "allocate" value is IORING_FILE_INDEX_ALLOC. */
	STEP("openat_direct_alloc", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, IORING_FILE_INDEX_ALLOC - 1));
	STEP("openat2_direct", io_uring_prep_openat2_direct(S, dfd, "fx", &how, 2));
	fixed_read("read_fixed_file_openat2", 2);
	STEP("openat2_direct_cloexec", io_uring_prep_openat2_direct(S, dfd, "fx", &how_cloexec, 2));
	STEP("openat2_direct_alloc", io_uring_prep_openat2_direct(S, dfd, "fx", &how, IORING_FILE_INDEX_ALLOC - 1));
	/* The allocator searches from the slot after the last one it gave
	   out: it wraps around to the free slot 0, then finds none. */
	STEP("openat_direct_alloc_wrap", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, IORING_FILE_INDEX_ALLOC - 1));
	STEP("openat_direct_alloc_full", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, IORING_FILE_INDEX_ALLOC - 1));

	STEP("close_direct", io_uring_prep_close_direct(S, 2));
	STEP("close_direct_empty", io_uring_prep_close_direct(S, 2));
	STEP("close_direct_out_of_range", io_uring_prep_close_direct(S, 9));
	fixed_read("read_fixed_file_closed", 2);
	fixed_read("read_fixed_file_out_of_range", 9);

	fds[0] = fd;
	files_update_step("files_update", fds, 1, 2);
	fixed_read("read_fixed_file_updated", 2);
	fds[0] = -1;
	files_update_step("files_update_clear", fds, 1, 0);
	fixed_read("read_fixed_file_cleared", 0);
	fds[0] = IORING_REGISTER_FILES_SKIP;
	files_update_step("files_update_skip", fds, 1, 1);
	fixed_read("read_fixed_file_skipped", 1);
	STEP("close_direct_3", io_uring_prep_close_direct(S, 3));
	fds[0] = fd;
	fds[1] = fd;
	files_update_step("files_update_alloc", fds, 2, IORING_FILE_INDEX_ALLOC);
	trace_line("allocated slots %d %d", fds[0], fds[1]);
	fds[0] = fd;
	files_update_step("files_update_alloc_full", fds, 1, IORING_FILE_INDEX_ALLOC);
	fds[0] = 9999;
	files_update_step("files_update_badfd", fds, 1, 0);
	fds[0] = fd;
	files_update_step("files_update_out_of_range", fds, 1, 9);
	files_update_step("files_update_zero", fds, 0, 0);

	STEP("splice_fixed_in", io_uring_prep_splice(S, 1, 0, p[1], -1, 5, SPLICE_F_FD_IN_FIXED));
	trace_pipe("pipe data", p[0]);
	STEP("splice_fixed_in_empty_slot", io_uring_prep_splice(S, 9, 0, p[1], -1, 5, SPLICE_F_FD_IN_FIXED));

	trace_neg("unregister_files", io_uring_unregister_files(&ring));
	STEP("openat_direct_unregistered", io_uring_prep_openat_direct(S, dfd, "fx", O_RDONLY, 0, 0));
	fixed_read("read_fixed_file_unregistered", 1);

	close(p[0]);
	close(p[1]);
	close(fd);
}

static const struct {
	const char *name;
	void (*run)(void);
} sections[] = {
	{"dirs", sec_dirs}, {"space", sec_space}, {"openat2", sec_openat2}, {"xattr", sec_xattr},
	{"splice", sec_splice}, {"rw2", sec_rw2}, {"fixed", sec_fixed},
};

int main(int argc, char **argv)
{
	size_t i;
	int ret;

	if (argc != 3)
		return 2;
	dir = argv[2];
	umask(022);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die(dir);
	ret = io_uring_queue_init(16, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %d\n", ret);
		return 1;
	}
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (strcmp(argv[1], sections[i].name) == 0) {
			sections[i].run();
			io_uring_queue_exit(&ring);
			close(dfd);
			return 0;
		}
	}
	fprintf(stderr, "unknown section %s\n", argv[1]);
	return 2;
}
