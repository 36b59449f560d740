package uring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/cgo/completion"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// requireOp skips (below the Linux release that brought op) or fails (from
// it on) when the queue's probe lacks op.
func requireOp(t *testing.T, q *Queue, major, minor int, ops ...uint8) {
	t.Helper()
	for _, op := range ops {
		if q.probe != nil && !q.probe.OpSupported(op) {
			testutil.FeatureMissing(t, major, minor, OpName(op), &UnsupportedOpError{Op: op})
		}
	}
}

// fileBytes returns the whole content of the file at fd.
func fileBytes(t *testing.T, fd int) []byte {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size)
	if n, err := unix.Pread(fd, b, 0); err != nil || n != len(b) {
		t.Fatalf("pread: %d, %v", n, err)
	}
	return b
}

// wantBytes fails the test unless got is want.
func wantBytes(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func TestQueuePrep(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, nil)

	data := []byte("prepared write")
	h, err := q.Prep(func(s *SQE) {
		s.PrepWrite(fd, data, 0)
		s.SetUserData(12345) // overwritten by the queue: the handle completes
	}, data)
	mustRes(t, h, err, len(data))
	wantBytes(t, "file", fileBytes(t, fd), "prepared write")

	// An iovec array pins itself and its buffers; a [][]byte its buffers.
	a, b := make([]byte, 8), make([]byte, 6)
	iov := []unix.Iovec{rawIovec(a), rawIovec(b)}
	h, err = q.Prep(func(s *SQE) { s.PrepReadv(fd, iov, 0) }, iov, [][]byte{a, b})
	mustRes(t, h, err, 14)
	wantBytes(t, "readv", append(a, b...), "prepared write")

	// Pointers: a path and a statx buffer.
	path, err := unix.BytePtrFromString("")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statx_t
	h, err = q.Prep(func(s *SQE) {
		s.PrepStatx(fd, path, unix.AT_EMPTY_PATH, unix.STATX_SIZE, &st)
	}, path, &st, nil)
	mustRes(t, h, err, 0)
	if st.Size != uint64(len(data)) {
		t.Fatalf("statx size %d, want %d", st.Size, len(data))
	}

	// The values stay pinned until the CQE: a poll on an empty pipe keeps
	// its three pins until it is cancelled.
	pr, _ := testPipe(t)
	_, pins0 := completion.Stats()
	x := new(int64)
	h, err = q.Prep(func(s *SQE) { s.PrepPollAdd(pr, unix.POLLIN) }, []byte("abc"), x, unsafe.Pointer(x))
	if err != nil {
		t.Fatal(err)
	}
	if _, pins := completion.Stats(); pins != pins0+3 {
		t.Fatalf("pins while the poll is armed: %d, want %d", pins, pins0+3)
	}
	hc, err := q.Cancel(h)
	mustRes(t, hc, err, 0)
	mustErrno(t, h, nil, unix.ECANCELED)
	if _, pins := completion.Stats(); pins != pins0 {
		t.Fatalf("pins after the completion: %d, want %d", pins, pins0)
	}

	// A multishot poll completes its handle with the first CQE (F_MORE);
	// Cancel still finds the request that goes on in the kernel.
	pr2, pw2 := testPipe(t)
	h, err = q.Prep(func(s *SQE) { s.PrepPollMultishot(pr2, unix.POLLIN) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(pw2, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := waitRes(t, h, nil); err != nil || n&unix.POLLIN == 0 || h.Flags()&CQEFMore == 0 {
		t.Fatalf("multishot poll: %#x, %v, flags %#x; want POLLIN with F_MORE", n, err, h.Flags())
	}
	hc, err = q.Cancel(h)
	mustRes(t, hc, err, 0)

	// The kernel's errno reaches the handle.
	h, err = q.Prep(func(s *SQE) { s.PrepRead(-1, a, 0) }, a)
	mustErrno(t, h, err, unix.EBADF)

	// Refused before submission, with nothing left in flight or pinned.
	nop := func(s *SQE) { s.PrepNop() }
	for name, c := range map[string]struct {
		prep func(s *SQE)
		pins []any
	}{
		"nil prep":                     {nil, nil},
		"int pin":                      {nop, []any{7}},
		"string pin":                   {nop, []any{"abc"}},
		"skip CQE":                     {func(s *SQE) { s.PrepNop(); s.Flags |= SQECQESkipSuccess }, nil},
		"SEND_ZC":                      {func(s *SQE) { s.PrepSendZC(pr, a, 0, 0) }, []any{a}},
		"SENDMSG_ZC":                   {func(s *SQE) { s.PrepSendmsgZC(pr, nil, 0) }, nil},
		"PROVIDE_BUFFERS of Go memory": {func(s *SQE) { s.PrepProvideBuffers(a, len(a), 1, 7, 0) }, []any{a}},
		"multishot accept":             {func(s *SQE) { s.PrepMultishotAccept(pr, nil, nil, 0) }, nil},
		"multishot recv":               {func(s *SQE) { s.PrepRecvMultishot(pr, nil, 0) }, nil},
		"multishot recvmsg":            {func(s *SQE) { s.PrepRecvmsgMultishot(pr, nil, 0) }, nil},
		"READ_MULTISHOT": {func(s *SQE) {
			s.PrepRW(opReadMultishot, pr, nil, 0, 0)
			s.Flags |= SQEBufferSelect
		}, nil},
		// Its CQE would carry 0x1234 as user data: the poll's handle would
		// never complete (nor Close return).
		"poll update of user data": {func(s *SQE) { s.PrepPollUpdate(h.UserData(), 0x1234, 0, PollUpdateUserData) }, nil},
	} {
		if h, err := q.Prep(c.prep, c.pins...); h != nil || !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s: Prep = %v, %v; want nil, EINVAL", name, h, err)
		}
	}
	if q.probe == nil {
		testutil.FeatureMissing(t, 5, 6, "io_uring_register_probe", errors.New("no probe"))
	}
	// An opcode the kernel lacks is refused as by the named methods
	// (commit checks the opcode prep wrote).
	const bogus = 250
	h, err = q.Prep(func(s *SQE) { s.PrepRW(bogus, -1, nil, 0, 0) })
	var uerr *UnsupportedOpError
	if h != nil || !errors.As(err, &uerr) || uerr.Op != bogus {
		t.Fatalf("Prep of opcode %d = %v, %v; want *UnsupportedOpError", bogus, h, err)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("in flight after refused Preps: %d", n)
	}
}

func TestLinkPrep(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, nil)
	data, back := []byte("linked prep"), make([]byte, 11)
	hs, err := q.Link(func(l *Link) {
		l.Prep(func(s *SQE) { s.PrepWrite(fd, data, 0) }, data)
		l.Prep(func(s *SQE) { s.PrepRead(fd, back, 0) }, back)
	})
	if got := results(t, hs, err); !equalInts(got, []int{11, 11}) {
		t.Fatalf("results %v", got)
	}
	wantBytes(t, "read back", back, "linked prep")

	// The chain sets the link flags: a hard link that prep asks for is
	// cleared, so the failed read cancels the NOP after it.
	hs, err = q.Link(func(l *Link) {
		l.Prep(func(s *SQE) { s.PrepRead(-1, back, 0); s.Flags |= SQEIOHardlink }, back)
		l.Nop()
	})
	if got := results(t, hs, err); !equalInts(got, []int{-int(unix.EBADF), -int(unix.ECANCELED)}) {
		t.Fatalf("results %v, want [-EBADF -ECANCELED]", got)
	}

	// A refused member refuses the chain, before anything is submitted.
	hs, err = q.Link(func(l *Link) {
		l.Nop()
		if l.Prep(func(s *SQE) { s.PrepNop() }, 1.5) != nil {
			t.Error("Link.Prep with a float pin returned a handle")
		}
		if l.Nop() != nil {
			t.Error("member after a refused one returned a handle")
		}
	})
	if hs != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Link with a refused Prep = %v, %v", hs, err)
	}
}

// openDir opens dir as a directory descriptor closed at the end of the test.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// cachestat returns the page-cache state of the whole file at fd.
func cachestat(t *testing.T, fd int) unix.Cachestat_t {
	t.Helper()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &unix.CachestatRange{}, &cs, 0); err != nil {
		testutil.FeatureMissing(t, 6, 5, "cachestat(2)", err)
	}
	return cs
}

func TestQueueFixedBuffers(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	requireOp(t, q, 5, 1, OpReadFixed, OpWriteFixed)
	_, fd := tempFile(t, nil)
	mem := rawMmap(t, 8192)
	if err := q.Ring().RegisterBuffers([]unix.Iovec{rawIovec(mem)}); err != nil {
		t.Fatalf("RegisterBuffers: %v", err)
	}
	copy(mem, "fixed buffer data")
	h, err := q.WriteFixed(fd, mem[:17], 0, 0)
	mustRes(t, h, err, 17)
	wantBytes(t, "file", fileBytes(t, fd), "fixed buffer data")

	h, err = q.ReadFixed(fd, mem[4096:4102], 6, 0)
	mustRes(t, h, err, 6)
	wantBytes(t, "read", mem[4096:4102], "buffer")

	// Chained: write from the registered buffer, read it back elsewhere.
	copy(mem[100:], "LINKED")
	hs, err := q.Link(func(l *Link) {
		l.WriteFixed(fd, mem[100:106], 0, 0)
		l.ReadFixed(fd, mem[5000:5017], 0, 0)
	})
	if got := results(t, hs, err); !equalInts(got, []int{6, 17}) {
		t.Fatalf("results %v", got)
	}
	wantBytes(t, "linked read", mem[5000:5017], "LINKEDbuffer data")

	// Index 1 was never registered; Go memory is no registered buffer.
	h, err = q.ReadFixed(fd, mem[:4], 0, 1)
	mustErrno(t, h, err, unix.EFAULT)
	h, err = q.WriteFixed(fd, make([]byte, 4), 0, 0)
	mustErrno(t, h, err, unix.EFAULT)
}

func TestQueueReadv2Writev2(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, []byte("head:"))

	// RWF_APPEND writes at the end whatever the offset says.
	h, err := q.Writev2(fd, [][]byte{[]byte("app"), []byte("ended")}, 0, unix.RWF_APPEND)
	mustRes(t, h, err, 8)
	wantBytes(t, "file", fileBytes(t, fd), "head:appended")

	a, b := make([]byte, 5), make([]byte, 8)
	h, err = q.Readv2(fd, [][]byte{a, b}, 0, unix.RWF_NOWAIT) // just written: cached
	mustRes(t, h, err, 13)
	wantBytes(t, "readv2", append(a, b...), "head:appended")

	hs, err := q.Link(func(l *Link) {
		l.Writev2(fd, [][]byte{[]byte("!")}, 0, unix.RWF_APPEND)
		l.Readv2(fd, [][]byte{b[:4]}, 10, 0)
	})
	if got := results(t, hs, err); !equalInts(got, []int{1, 4}) {
		t.Fatalf("results %v", got)
	}
	wantBytes(t, "linked readv2", b[:4], "ded!")

	// RWF_* bits the kernel does not know.
	h, err = q.Readv2(fd, [][]byte{a}, 0, 1<<30)
	mustErrno(t, h, err, unix.EOPNOTSUPP)
	h, err = q.Writev2(fd, [][]byte{a}, 0, 1<<30)
	mustErrno(t, h, err, unix.EOPNOTSUPP)
}

func TestQueueFallocate(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 6, OpFallocate)
	_, fd := tempFile(t, nil)
	h, err := q.Fallocate(fd, 0, 0, 8192)
	mustRes(t, h, err, 0)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != 8192 || st.Blocks*512 < 8192 {
		t.Fatalf("after fallocate: size %d, blocks %d, %v", st.Size, st.Blocks, err)
	}
	// KEEP_SIZE allocates past the end without growing the file.
	hs, err := q.Link(func(l *Link) { l.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 8192, 65536) })
	if got := results(t, hs, err); !equalInts(got, []int{0}) {
		t.Fatalf("results %v", got)
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Size != 8192 || st.Blocks*512 < 8192+65536 {
		t.Fatalf("after KEEP_SIZE: size %d, blocks %d, %v", st.Size, st.Blocks, err)
	}
	h, err = q.Fallocate(fd, 0, 0, 0) // a zero length
	mustErrno(t, h, err, unix.EINVAL)
}

// TestQueueSyncFileRangeFadvise watches the page cache with cachestat(2):
// sync_file_range writes the dirty pages back, FADV_DONTNEED then drops them
// and FADV_WILLNEED reads them in again.
func TestQueueSyncFileRangeFadvise(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 6, OpSyncFileRange, OpFadvise)
	_, fd := tempFile(t, bytes.Repeat([]byte("x"), 16384))
	if cs := cachestat(t, fd); cs.Dirty == 0 || cs.Cache != 4 {
		t.Fatalf("after the write: %+v, want 4 dirty pages", cs)
	}
	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	h, err := q.SyncFileRange(fd, 0, 0, wait)
	mustRes(t, h, err, 0)
	if cs := cachestat(t, fd); cs.Dirty != 0 || cs.Writeback != 0 || cs.Cache != 4 {
		t.Fatalf("after sync_file_range: %+v, want 4 clean pages", cs)
	}
	h, err = q.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	mustRes(t, h, err, 0)
	if cs := cachestat(t, fd); cs.Cache != 0 {
		t.Fatalf("after FADV_DONTNEED: %+v, want nothing cached", cs)
	}
	h, err = q.Fadvise(fd, 0, 16384, unix.FADV_WILLNEED)
	mustRes(t, h, err, 0)
	if cs := cachestat(t, fd); cs.Cache == 0 {
		t.Fatalf("after FADV_WILLNEED: %+v, want pages cached", cs)
	}
	fileBytes(t, fd) // wait for the readahead: DONTNEED skips pages under I/O

	// Chained: dirty one page again, write it back, then drop the cache.
	if _, err := unix.Pwrite(fd, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	hs, err := q.Link(func(l *Link) {
		l.SyncFileRange(fd, 4096, 0, wait)
		l.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	})
	if got := results(t, hs, err); !equalInts(got, []int{0, 0}) {
		t.Fatalf("results %v", got)
	}
	if cs := cachestat(t, fd); cs.Cache != 0 || cs.Dirty != 0 {
		t.Fatalf("after the chain: %+v, want nothing cached", cs)
	}

	h, err = q.SyncFileRange(fd, 0, 0, 1<<8) // no such flag
	mustErrno(t, h, err, unix.EINVAL)
	h, err = q.Fadvise(fd, 0, 0, 99) // no such advice
	mustErrno(t, h, err, unix.EINVAL)
}

func TestQueueMadvise(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 6, OpMadvise)
	pg := os.Getpagesize()
	mem := rawMmap(t, 3*pg)
	for i := range mem {
		mem[i] = 0xAA
	}
	// MADV_DONTNEED on private anonymous memory: the page reads as zeros.
	h, err := q.Madvise(mem[:pg], unix.MADV_DONTNEED)
	mustRes(t, h, err, 0)
	if mem[0] != 0 || mem[pg-1] != 0 || mem[pg] != 0xAA {
		t.Fatalf("after MADV_DONTNEED: %#x %#x %#x, want 0 0 0xaa", mem[0], mem[pg-1], mem[pg])
	}
	hs, err := q.Link(func(l *Link) {
		l.Nop()
		l.Madvise(mem[2*pg:], unix.MADV_DONTNEED)
	})
	if got := results(t, hs, err); !equalInts(got, []int{0, 0}) {
		t.Fatalf("results %v", got)
	}
	if mem[2*pg] != 0 || mem[2*pg-1] != 0xAA {
		t.Fatalf("after the chain: %#x %#x, want 0 0xaa", mem[2*pg], mem[2*pg-1])
	}
	h, err = q.Madvise(mem[1:pg], unix.MADV_DONTNEED) // not page aligned
	mustErrno(t, h, err, unix.EINVAL)
}

func TestQueueSpliceTee(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 8, OpSplice, OpTee)
	_, fd := tempFile(t, []byte("0123splice me"))
	r1, w1 := testPipe(t)
	r2, w2 := testPipe(t)

	h, err := q.Splice(fd, 4, w1, -1, 9, 0)
	mustRes(t, h, err, 9)
	h, err = q.Tee(r1, w2, 9, 0)
	mustRes(t, h, err, 9)
	buf := make([]byte, 32)
	for _, r := range []int{r1, r2} { // tee left pipe 1 full
		n, err := unix.Read(r, buf)
		if err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "pipe", buf[:n], "splice me")
	}

	hs, err := q.Link(func(l *Link) {
		l.Splice(fd, 0, w1, -1, 4, 0)
		l.Tee(r1, w2, 4, 0)
	})
	if got := results(t, hs, err); !equalInts(got, []int{4, 4}) {
		t.Fatalf("results %v", got)
	}
	for _, r := range []int{r1, r2} {
		n, err := unix.Read(r, buf)
		if err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "linked pipe", buf[:n], "0123")
	}

	_, fd2 := tempFile(t, nil)
	h, err = q.Splice(fd, 0, fd2, 0, 4, 0) // neither end a pipe
	mustErrno(t, h, err, unix.EINVAL)
	h, err = q.Tee(fd, w2, 4, 0) // tee needs two pipes
	mustErrno(t, h, err, unix.EINVAL)
}

func TestQueuePathOps(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 15, OpMkdirat, OpSymlinkat, OpLinkat, OpRenameat, OpUnlinkat)
	dir := testutil.TempDir(t)
	dfd := openDir(t, dir)
	at := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(at("f"), []byte("file"), 0o600); err != nil {
		t.Fatal(err)
	}

	h, err := q.Mkdirat(dfd, "d", 0o755)
	mustRes(t, h, err, 0)
	if fi, err := os.Stat(at("d")); err != nil || !fi.IsDir() {
		t.Fatalf("after mkdirat: %v, %v", fi, err)
	}
	h, err = q.Linkat(dfd, "f", dfd, "d/hard", 0)
	mustRes(t, h, err, 0)
	fi1, err1 := os.Stat(at("f"))
	fi2, err2 := os.Stat(at("d/hard"))
	if err1 != nil || err2 != nil || !os.SameFile(fi1, fi2) {
		t.Fatalf("after linkat: %v %v, same file %v", err1, err2, err1 == nil && err2 == nil && os.SameFile(fi1, fi2))
	}
	h, err = q.Symlinkat("../f", unix.AT_FDCWD, at("sym"))
	mustRes(t, h, err, 0)
	if target, err := os.Readlink(at("sym")); err != nil || target != "../f" {
		t.Fatalf("after symlinkat: %q, %v", target, err)
	}
	h, err = q.Renameat(dfd, "sym", dfd, "d/sym2", 0)
	mustRes(t, h, err, 0)
	if _, err := os.Lstat(at("sym")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old name after renameat: %v", err)
	}
	if b, err := os.ReadFile(at("d/sym2")); err != nil || string(b) != "file" {
		t.Fatalf("through the renamed link: %q, %v", b, err)
	}
	h, err = q.Unlinkat(dfd, "d/sym2", 0)
	mustRes(t, h, err, 0)
	if _, err := os.Lstat(at("d/sym2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after unlinkat: %v", err)
	}

	// Each fails with the kernel's errno.
	h, err = q.Mkdirat(dfd, "d", 0o755)
	mustErrno(t, h, err, unix.EEXIST)
	h, err = q.Linkat(dfd, "missing", dfd, "l", 0)
	mustErrno(t, h, err, unix.ENOENT)
	h, err = q.Symlinkat("f", dfd, "f")
	mustErrno(t, h, err, unix.EEXIST)
	h, err = q.Renameat(dfd, "f", dfd, "d", unix.RENAME_NOREPLACE)
	mustErrno(t, h, err, unix.EEXIST)
	h, err = q.Unlinkat(dfd, "d", unix.AT_REMOVEDIR) // holds "hard"
	mustErrno(t, h, err, unix.ENOTEMPTY)
	h, err = q.Unlinkat(-1, "x", 0) // relative to no directory
	mustErrno(t, h, err, unix.EBADF)
	// A NUL in a name is refused before anything is submitted.
	if h, err := q.Mkdirat(dfd, "a\x00b", 0o755); h != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Mkdirat with a NUL = %v, %v", h, err)
	}

	// The same steps as one chain, each after the previous one.
	hs, err := q.Link(func(l *Link) {
		l.Mkdirat(dfd, "e", 0o700)
		l.Linkat(dfd, "f", dfd, "e/hard", 0)
		l.Symlinkat("hard", dfd, "e/sym")
		l.Renameat(dfd, "e/sym", dfd, "e/sym2", 0)
		l.Unlinkat(dfd, "d/hard", 0)
		l.Unlinkat(dfd, "d", unix.AT_REMOVEDIR)
	})
	if got := results(t, hs, err); !equalInts(got, []int{0, 0, 0, 0, 0, 0}) {
		t.Fatalf("results %v", got)
	}
	if b, err := os.ReadFile(at("e/sym2")); err != nil || string(b) != "file" {
		t.Fatalf("through the chain's link: %q, %v", b, err)
	}
	if _, err := os.Stat(at("d")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("d after the chain: %v", err)
	}
	hs, err = q.Link(func(l *Link) {
		l.Nop()
		if l.Symlinkat("x\x00", dfd, "y") != nil {
			t.Error("Link.Symlinkat with a NUL returned a handle")
		}
	})
	if hs != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("chain with a NUL in a name = %v, %v", hs, err)
	}
}

// socketPair returns a connected AF_UNIX pair of type typ, closed at the end
// of the test.
func socketPair(t *testing.T, typ int) (int, int) {
	t.Helper()
	sv, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sv[0]); unix.Close(sv[1]) })
	return sv[0], sv[1]
}

// boundDgram returns a datagram socket of domain bound to sa, closed at the
// end of the test, and its bound address.
func boundDgram(t *testing.T, domain int, sa unix.Sockaddr) (int, unix.Sockaddr) {
	t.Helper()
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		testutil.SkipNoFeature(t, "datagram socket", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		if domain == unix.AF_INET6 {
			testutil.SkipNoFeature(t, "IPv6 loopback", err)
		}
		t.Fatal(err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, got
}

func TestQueueShutdown(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 11, OpShutdown)
	c, s := rawTCPPair(t)
	buf := make([]byte, 16)

	h, err := q.Shutdown(c, unix.SHUT_WR)
	mustRes(t, h, err, 0)
	if n, err := unix.Read(s, buf); n != 0 || err != nil { // EOF
		t.Fatalf("read after the peer's SHUT_WR: %d, %v; want EOF", n, err)
	}

	a, b := socketPair(t, unix.SOCK_STREAM)
	hs, err := q.Link(func(l *Link) {
		l.Send(a, []byte("bye"), 0)
		l.Shutdown(a, unix.SHUT_RDWR)
	})
	if got := results(t, hs, err); !equalInts(got, []int{3, 0}) {
		t.Fatalf("results %v", got)
	}
	n, err := unix.Read(b, buf)
	wantBytes(t, "received", buf[:n], "bye")
	if n, err = unix.Read(b, buf); n != 0 || err != nil {
		t.Fatalf("read after the peer's shutdown: %d, %v; want EOF", n, err)
	}

	_, fd := tempFile(t, nil)
	h, err = q.Shutdown(fd, unix.SHUT_RDWR)
	mustErrno(t, h, err, unix.ENOTSOCK)
}

func TestQueueSocket(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 19, OpSocket)
	h, err := q.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, 0)
	fd, werr := waitRes(t, h, err)
	if werr != nil {
		t.Fatalf("socket: %v", werr)
	}
	defer unix.Close(fd)
	dom, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	fl, err3 := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err := errors.Join(err1, err2, err3); err != nil || dom != unix.AF_UNIX || typ != unix.SOCK_DGRAM || fl&unix.FD_CLOEXEC == 0 {
		t.Fatalf("new socket: domain %d, type %d, fd flags %#x, %v", dom, typ, fl, err)
	}
	h, err = q.Socket(unix.AF_MAX+1, unix.SOCK_STREAM, 0, 0)
	mustErrno(t, h, err, unix.EAFNOSUPPORT)
}

// recvmsgResult waits for a RecvmsgBuffers operation and returns its Result.
func recvmsgResult(t *testing.T, h *completion.Handle, m *Msg, err error) (n, oobn, flags int, from unix.Sockaddr) {
	t.Helper()
	if _, werr := waitRes(t, h, err); werr != nil {
		t.Fatalf("recvmsg: %v", werr)
	}
	n, oobn, flags, from, err = m.Result()
	if err != nil {
		t.Fatalf("Msg.Result: %v", err)
	}
	return n, oobn, flags, from
}

// TestQueueSendmsgRecvmsg sends datagrams between sockets of each address
// family and checks the data, the sender address and the message flags.
func TestQueueSendmsgRecvmsg(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 3, OpSendmsg, OpRecvmsg)
	abstract := "@aiokit-uring-test-" + time.Now().Format("150405.000000000")
	for _, c := range []struct {
		name   string
		domain int
		a, b   unix.Sockaddr
	}{
		{"udp4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
		{"udp6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}},
		{"unix", unix.AF_UNIX, &unix.SockaddrUnix{Name: abstract + "a"}, &unix.SockaddrUnix{Name: abstract + "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, aAddr := boundDgram(t, c.domain, c.a)
			b, bAddr := boundDgram(t, c.domain, c.b)
			h, err := q.SendmsgBuffers(a, [][]byte{[]byte("hel"), nil, []byte("lo!")}, nil, bAddr, 0)
			mustRes(t, h, err, 6)
			p1, p2 := make([]byte, 2), make([]byte, 10)
			h, m, err := q.RecvmsgBuffers(b, [][]byte{p1, p2}, nil, 0)
			n, oobn, flags, from := recvmsgResult(t, h, m, err)
			if n != 6 || oobn != 0 || flags != 0 {
				t.Fatalf("recvmsg: n %d, oobn %d, flags %#x", n, oobn, flags)
			}
			wantBytes(t, "data", append(p1, p2[:4]...), "hello!")
			if !sameSockaddr(from, aAddr) {
				t.Fatalf("sender %#v, want %#v", from, aAddr)
			}

			// A datagram longer than the buffers: MSG_TRUNC.
			hs, err := q.Link(func(l *Link) {
				l.SendmsgBuffers(a, [][]byte{[]byte("0123456789")}, nil, bAddr, 0)
				h, m = l.RecvmsgBuffers(b, [][]byte{p1}, nil, 0)
			})
			if got := results(t, hs, err); !equalInts(got, []int{10, 2}) {
				t.Fatalf("results %v", got)
			}
			if _, _, flags, from, err := m.Result(); err != nil || flags&unix.MSG_TRUNC == 0 || !sameSockaddr(from, aAddr) {
				t.Fatalf("truncated recvmsg: flags %#x, from %#v, %v; want MSG_TRUNC from %#v", flags, from, err, aAddr)
			}
			wantBytes(t, "truncated data", p1, "01")
		})
	}
}

// sameSockaddr compares two decoded socket addresses.
func sameSockaddr(a, b unix.Sockaddr) bool {
	switch a := a.(type) {
	case *unix.SockaddrInet4:
		b, ok := b.(*unix.SockaddrInet4)
		return ok && a.Port == b.Port && a.Addr == b.Addr
	case *unix.SockaddrInet6:
		b, ok := b.(*unix.SockaddrInet6)
		return ok && a.Port == b.Port && a.Addr == b.Addr && a.ZoneId == b.ZoneId
	case *unix.SockaddrUnix:
		b, ok := b.(*unix.SockaddrUnix)
		return ok && a.Name == b.Name
	}
	return false
}

// TestQueueSendmsgRights passes a descriptor with SCM_RIGHTS over a
// socketpair and checks the control length, MSG_CTRUNC and the fd.
func TestQueueSendmsgRights(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 3, OpSendmsg, OpRecvmsg)
	a, b := socketPair(t, unix.SOCK_STREAM)
	_, fd := tempFile(t, []byte("passed"))
	buf := make([]byte, 8)

	// A receive that waits reports ErrPending until the message arrives.
	oob := make([]byte, unix.CmsgSpace(4))
	h, m, err := q.RecvmsgBuffers(b, [][]byte{buf}, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := m.Result(); !errors.Is(err, ErrPending) {
		t.Fatalf("Result before the message: %v, want ErrPending", err)
	}
	hs, err := q.SendmsgBuffers(a, [][]byte{[]byte("fd")}, unix.UnixRights(fd), nil, 0)
	mustRes(t, hs, err, 2)
	n, oobn, flags, from := recvmsgResult(t, h, m, nil)
	if n != 2 || oobn != len(oob) || flags != 0 || from != nil {
		t.Fatalf("recvmsg: n %d, oobn %d (want %d), flags %#x, from %#v (want nil)", n, oobn, len(oob), flags, from)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights %v, %v", fds, err)
	}
	got := make([]byte, 6)
	_, perr := unix.Pread(fds[0], got, 0)
	unix.Close(fds[0])
	if perr != nil || string(got) != "passed" {
		t.Fatalf("read through the passed fd: %q, %v", got, perr)
	}

	// No room for the control message: MSG_CTRUNC (the kernel closes the fd).
	hs, err = q.SendmsgBuffers(a, [][]byte{[]byte("x")}, unix.UnixRights(fd), nil, 0)
	mustRes(t, hs, err, 1)
	h, m, err = q.RecvmsgBuffers(b, [][]byte{buf}, nil, 0)
	if _, oobn, flags, _ := recvmsgResult(t, h, m, err); oobn != 0 || flags&unix.MSG_CTRUNC == 0 {
		t.Fatalf("recvmsg without room: oobn %d, flags %#x; want MSG_CTRUNC", oobn, flags)
	}

	// The kernel's errno through the handle, and through Result.
	hs, err = q.SendmsgBuffers(-1, [][]byte{buf}, nil, nil, 0)
	mustErrno(t, hs, err, unix.EBADF)
	h, m, err = q.RecvmsgBuffers(fd, [][]byte{buf}, nil, 0)
	mustErrno(t, h, err, unix.ENOTSOCK)
	if _, _, _, _, err := m.Result(); !errors.Is(err, unix.ENOTSOCK) {
		t.Fatalf("Result of a failed recvmsg: %v", err)
	}
	// An address type with no kernel form is refused before submission.
	if h, err := q.SendmsgBuffers(a, nil, nil, &unix.SockaddrCAN{}, 0); h != nil || !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("SendmsgBuffers to a CAN address = %v, %v", h, err)
	}
}

func TestQueuePollRemove(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	pr, _ := testPipe(t)
	hp, err := q.PollAdd(pr, unix.POLLIN) // an empty pipe: never ready
	if err != nil {
		t.Fatal(err)
	}
	h, err := q.PollRemove(hp)
	mustRes(t, h, err, 0)
	mustErrno(t, hp, nil, unix.ECANCELED)
	h, err = q.PollRemove(hp) // completed: nothing to remove
	mustErrno(t, h, err, unix.ENOENT)
	h, err = q.PollRemove(completion.Completed(0)) // never had an SQE
	mustErrno(t, h, err, unix.ENOENT)
	if h, err := q.PollRemove(nil); h != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("PollRemove(nil) = %v, %v", h, err)
	}
}

func TestQueueTimeoutRemove(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	ht, err := q.Timeout(time.Minute, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := q.TimeoutRemove(ht, 0)
	mustRes(t, h, err, 0)
	mustErrno(t, ht, nil, unix.ECANCELED)
	h, err = q.TimeoutRemove(ht, 0)
	mustErrno(t, h, err, unix.ENOENT)
	h, err = q.TimeoutRemove(completion.Completed(0), 0)
	mustErrno(t, h, err, unix.ENOENT)
	if h, err := q.TimeoutRemove(nil, 0); h != nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("TimeoutRemove(nil) = %v, %v", h, err)
	}
}

// Prep of IORING_OP_MSG_RING: to another ring it posts that ring's CQE with
// the chosen user data; to the queue's own ring (or through a registered
// file, which may be it) it is refused, since its CQE would complete
// whichever of the queue's handles has that user data.
func TestQueuePrepMsgRing(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	other, err := New(4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h, err := q.Prep(func(s *SQE) { s.PrepMsgRing(other.Fd(), 77, 0xfeed, 0) })
	var unsup *UnsupportedOpError
	if errors.As(err, &unsup) {
		testutil.FeatureMissing(t, 5, 18, "IORING_OP_MSG_RING", err)
	}
	mustRes(t, h, err, 0)
	cqe, err := other.WaitCQE()
	if err != nil || cqe.UserData != 0xfeed || cqe.Res != 77 {
		t.Fatalf("other ring's CQE = %+v, %v; want user data 0xfeed, res 77", cqe, err)
	}
	other.CQESeen(cqe)

	for _, c := range []struct {
		name string
		prep func(s *SQE)
	}{
		{"own ring", func(s *SQE) { s.PrepMsgRing(q.Ring().Fd(), 1, 1<<32|1, 0) }},
		{"registered file", func(s *SQE) {
			s.PrepMsgRing(0, 1, 1<<32|1, 0)
			s.SetFlags(SQEFixedFile)
		}},
	} {
		if h, err := q.Prep(c.prep); !errors.Is(err, unix.EINVAL) || h != nil {
			t.Errorf("MSG_RING to the %s: %v, %v; want EINVAL", c.name, h, err)
		}
	}
}

// Bad sizes and descriptors that the SQE's 32-bit fields cannot hold give a
// short read or EBADF, never a request on a truncated value: a 4 GiB + 4
// byte buffer reads the whole 10-byte file (not 4 bytes), and fd + 2^32
// does not write to fd.
func TestQueueWideArguments(t *testing.T) {
	q := newTestQueue(t, QueueConfig{RingOnly: true})
	_, fd := tempFile(t, []byte("0123456789"))
	mem, err := unix.Mmap(-1, 0, 1<<32+4, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		testutil.SkipNoFeature(t, "a 4 GiB MAP_NORESERVE mapping", err)
	}
	defer unix.Munmap(mem)
	h, err := q.Read(fd, mem, 0)
	mustRes(t, h, err, 10)
	if string(mem[:10]) != "0123456789" {
		t.Fatalf("read %q", mem[:10])
	}
	h, err = q.Write(fd+1<<32, []byte("XX"), 0)
	mustErrno(t, h, err, unix.EBADF)
	back := make([]byte, 10)
	if n, err := unix.Pread(fd, back, 0); n != 10 || err != nil || string(back) != "0123456789" {
		t.Fatalf("file after a write to fd+2^32: %q, %v", back[:n], err)
	}
	var s SQE
	s.PrepNop()
	s.PrepRead(-1<<40, nil, 0)
	if s.Fd != -1 {
		t.Errorf("PrepRead(-2^40): fd field %d, want -1", s.Fd)
	}
}

// A typed nil socket address is EINVAL, not a nil dereference.
func TestQueueNilSockaddr(t *testing.T) {
	q := newTestQueue(t, QueueConfig{})
	for _, sa := range []unix.Sockaddr{(*unix.SockaddrInet4)(nil), (*unix.SockaddrInet6)(nil), (*unix.SockaddrUnix)(nil)} {
		if h, err := q.Connect(0, sa); h != nil || !errors.Is(err, unix.EINVAL) {
			t.Errorf("Connect(%T nil) = %v, %v; want EINVAL", sa, h, err)
		}
		if h, err := q.SendmsgBuffers(0, [][]byte{[]byte("x")}, nil, sa, 0); h != nil || !errors.Is(err, unix.EINVAL) {
			t.Errorf("SendmsgBuffers(to %T nil) = %v, %v; want EINVAL", sa, h, err)
		}
	}
	if h, err := q.Connect(0, nil); h != nil || err == nil {
		t.Errorf("Connect(nil) = %v, %v; want an error", h, err)
	}
}

// TestPutSockaddrUnix: a unix address is laid out as x/sys/unix's
// SockaddrUnix lays it out for unix.Connect: length 2 for an unnamed one,
// family + name + NUL, no NUL for an abstract one ('@' or a leading NUL), a
// full 108-byte name only when abstract; and Connect reaches an abstract
// listener bound with unix.Bind.
func TestPutSockaddrUnix(t *testing.T) {
	long := strings.Repeat("x", 107)
	for _, c := range []struct {
		name string
		n    uint32
		err  error
	}{
		{"", 2, nil}, {"a", 4, nil}, {"@abs", 6, nil}, {"\x00abs", 6, nil},
		{long, 110, nil}, {"@" + long, 110, nil}, {"x" + long, 0, unix.EINVAL}, {"@x" + long, 0, unix.EINVAL},
	} {
		var rsa unix.RawSockaddrAny
		for i := range rsa.Pad {
			rsa.Pad[i] = -1 // left over from an earlier address
		}
		n, err := putSockaddr(&rsa, &unix.SockaddrUnix{Name: c.name})
		if n != c.n || err != c.err {
			t.Errorf("%q: length %d, %v; want %d, %v", c.name, n, err, c.n, c.err)
		}
		if err != nil {
			continue
		}
		r := (*unix.RawSockaddrUnix)(unsafe.Pointer(&rsa))
		if l := len(c.name); l < len(r.Path) && r.Path[l] != 0 {
			t.Errorf("%q: byte %d after the name is %d, want NUL", c.name, l, r.Path[l])
		}
	}
	q := newTestQueue(t, QueueConfig{})
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	sa := &unix.SockaddrUnix{Name: fmt.Sprintf("@aiokit-uring-test-%d", os.Getpid())}
	if err := unix.Bind(lfd, sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	cfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	h, err := q.Connect(cfd, &unix.SockaddrUnix{Name: sa.Name})
	mustRes(t, h, err, 0)
}

// Cancel with another queue's handle (whose user data is that of an
// operation of this queue: both tables start at slot 0, generation 1) finds
// nothing (-ENOENT) and leaves this queue's operation alone.
func TestQueueCancelForeignHandle(t *testing.T) {
	q1 := newTestQueue(t, QueueConfig{})
	q2 := newTestQueue(t, QueueConfig{})
	r1, w1 := testPipe(t)
	r2, w2 := testPipe(t)
	h1, err := q1.Read(r1, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := q2.Read(r2, make([]byte, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if h1.UserData() != h2.UserData() {
		t.Fatalf("user data %#x and %#x differ: the first operations of two new queues should share slot 0, generation 1", h1.UserData(), h2.UserData())
	}
	hc, err := q1.Cancel(h2)
	mustErrno(t, hc, err, unix.ENOENT)
	time.Sleep(10 * time.Millisecond)
	if h1.IsDone() || h2.IsDone() {
		t.Fatalf("a cancel of a foreign handle completed a read (h1 %v, h2 %v)", h1.IsDone(), h2.IsDone())
	}
	unix.Write(w1, []byte("a"))
	unix.Write(w2, []byte("b"))
	mustRes(t, h1, nil, 1)
	mustRes(t, h2, nil, 1)
}

// The other descriptor fields and arguments take a wide fd as -1 too: the
// splice source, the epoll_ctl target, and registered files.
func TestWideFdFields(t *testing.T) {
	const wide = 5 + 1<<32
	var s SQE
	s.PrepSplice(wide, -1, 3, -1, 10, 0)
	if s.SpliceFdIn != -1 {
		t.Errorf("PrepSplice: splice_fd_in %d, want -1", s.SpliceFdIn)
	}
	s.PrepEpollCtl(3, wide, unix.EPOLL_CTL_ADD, nil)
	if s.Off != uint64(^uint32(0)) {
		t.Errorf("PrepEpollCtl: off %#x, want the (__u32)-1 of C", s.Off)
	}
	r := rawRing(t, 4, nil)
	_, w := testPipe(t)
	if err := r.RegisterFiles([]int{w + 1<<32}); !errors.Is(err, unix.EBADF) {
		t.Errorf("RegisterFiles(fd+2^32) = %v, want EBADF", err)
	}
	if err := r.RegisterEventFD(w + 1<<32); !errors.Is(err, unix.EBADF) {
		t.Errorf("RegisterEventFD(fd+2^32) = %v, want EBADF", err)
	}
}

// TestQueueRemoveOnFullTable: operations that never end by themselves (a
// poll and a read on an empty pipe, a timeout of an hour) hold every one of
// MaxInFlight slots. Further operations get ErrBusy, but Cancel,
// PollRemove and TimeoutRemove must still go through (on a reserve slot):
// an application that could not remove what fills its queue would be stuck
// with it until Close.
func TestQueueRemoveOnFullTable(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{Entries: 16, MaxInFlight: 4})
	if q.Ring().Features()&FeatNodrop == 0 {
		testutil.SkipNoFeature(t, "IORING_FEAT_NODROP (reserve slots for removals)", unix.ENOTSUP)
	}
	pr, _ := testPipe(t)
	fill := func() (poll, read, timeout, read2 *completion.Handle) {
		t.Helper()
		var err error
		if poll, err = q.PollAdd(pr, unix.POLLIN); err != nil {
			t.Fatal(err)
		}
		if read, err = q.Read(pr, make([]byte, 1), 0); err != nil {
			t.Fatal(err)
		}
		if timeout, err = q.Timeout(time.Hour, 0, 0); err != nil {
			t.Fatal(err)
		}
		if read2, err = q.Read(pr, make([]byte, 1), 0); err != nil {
			t.Fatal(err)
		}
		if h, err := q.Nop(); !errors.Is(err, ErrBusy) {
			t.Fatalf("Nop with MaxInFlight operations in flight = %v, %v; want ErrBusy", h, err)
		}
		return
	}
	poll, read, timeout, read2 := fill()
	h, err := q.Cancel(read)
	mustRes(t, h, err, 0)
	mustErrno(t, read, nil, unix.ECANCELED)
	// read's slot is free again: fill it, then remove the others on the
	// reserve, one after the other.
	if read, err = q.Read(pr, make([]byte, 1), 0); err != nil {
		t.Fatal(err)
	}
	h, err = q.PollRemove(poll)
	mustRes(t, h, err, 0)
	mustErrno(t, poll, nil, unix.ECANCELED)
	h, err = q.TimeoutRemove(timeout, 0)
	mustRes(t, h, err, 0)
	mustErrno(t, timeout, nil, unix.ECANCELED)
	for _, r := range []*completion.Handle{read, read2} {
		h, err = q.Cancel(r)
		mustRes(t, h, err, 0)
		mustErrno(t, r, nil, unix.ECANCELED)
	}
	// Removals of operations that ended (-ENOENT) on a full table, from
	// goroutines at once: more than the reserve may be refused with ErrBusy
	// for a moment, never for good.
	poll, read, timeout, read2 = fill()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(10 * time.Second)
			for {
				h, err := q.Cancel(completion.Completed(0))
				if errors.Is(err, ErrBusy) && time.Now().Before(deadline) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("Cancel on a full table: %v", err)
					return
				}
				if n, err := h.Wait(context.Background()); !errors.Is(err, unix.ENOENT) {
					t.Errorf("Cancel of a completed operation = %d, %v; want ENOENT", n, err)
				}
				return
			}
		}()
	}
	wg.Wait()
	for _, r := range []*completion.Handle{poll, read, timeout, read2} {
		h, err = q.Cancel(r)
		mustRes(t, h, err, 0)
		mustErrno(t, r, nil, unix.ECANCELED)
	}
	if n := q.InFlight(); n != 0 {
		t.Fatalf("InFlight at the end = %d", n)
	}
}

// TestQueueSpliceCancelRunning: a splice from an empty pipe runs on an
// io-wq worker, blocked. Cancel cannot stop it the way it stops a poll
// (the kernel answers -EALREADY) but interrupts the worker: the splice
// completes, with the value the kernel gives, which on Linux 6.x is its
// internal -ERESTARTSYS (512), passed through as liburing passes it
// (docs/uring.md, "Results"); nothing leaks and nothing hangs.
func TestQueueSpliceCancelRunning(t *testing.T) {
	testutil.CheckLeaks(t)
	q := newTestQueue(t, QueueConfig{})
	requireOp(t, q, 5, 7, OpSplice)
	pr, _ := testPipe(t)
	_, pw := testPipe(t)
	h, err := q.Splice(pr, -1, pw, -1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Give the worker time to start it (then Cancel answers EALREADY; a
	// request still queued would be cancelled with 0 and ECANCELED).
	time.Sleep(50 * time.Millisecond)
	deadline := time.Now().Add(testutil.AppHang)
	for !h.IsDone() {
		c, err := q.Cancel(h)
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.Wait(context.Background())
		if err != nil && !errors.Is(err, unix.EALREADY) && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("Cancel of a running splice = %d, %v", n, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("splice not done %v after cancels began", testutil.AppHang)
		}
		time.Sleep(time.Millisecond)
	}
	const erestartsys = unix.Errno(512)
	n, err := h.Wait(context.Background())
	if !errors.Is(err, erestartsys) && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.ECANCELED) {
		t.Fatalf("cancelled splice = %d, %v (res %d); want ERESTARTSYS (512), EINTR or ECANCELED", n, err, h.Res())
	}
	t.Logf("cancelled splice: res %d", h.Res())
}
