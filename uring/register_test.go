package uring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// rawMmap returns n bytes of anonymous memory (stable address, not Go heap).
func rawMmap(t testing.TB, n int) []byte {
	t.Helper()
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}

// rawFile creates a file on disk with content and returns its fd.
func rawFile(t testing.TB, content []byte) (string, int) {
	t.Helper()
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return path, fd
}

func rawIovec(b []byte) unix.Iovec {
	v := unix.Iovec{Base: &b[0]}
	v.SetLen(len(b))
	return v
}

func TestRegisterBuffersFixedIO(t *testing.T) {
	r := rawRing(t, 8, nil)
	_, fd := rawFile(t, bytes.Repeat([]byte("abcdefgh"), 1024))
	mem := rawMmap(t, 2*4096)
	if err := r.RegisterBuffers([]unix.Iovec{rawIovec(mem[:4096]), rawIovec(mem[4096:])}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterBuffers([]unix.Iovec{rawIovec(mem[:4096])}); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second RegisterBuffers = %v, want EBUSY", err)
	}
	if n := rawOK(t, r, "read_fixed", func(s *SQE) { s.PrepReadFixed(fd, mem[4096+8:4096+24], 8, 1) }); n != 16 {
		t.Fatalf("read_fixed %d", n)
	}
	if string(mem[4096+8:4096+24]) != "abcdefghabcdefgh" {
		t.Fatalf("read_fixed data %q", mem[4096+8:4096+24])
	}
	copy(mem[:5], "HELLO")
	if n := rawOK(t, r, "write_fixed", func(s *SQE) { s.PrepWriteFixed(fd, mem[:5], 3, 0) }); n != 5 {
		t.Fatalf("write_fixed %d", n)
	}
	got := make([]byte, 10)
	unix.Pread(fd, got, 0)
	if string(got) != "abcHELLOab" {
		t.Fatalf("file after write_fixed %q", got)
	}
	// A range outside the registered buffer is refused.
	if c := rawDo(t, r, func(s *SQE) { s.PrepReadFixed(fd, mem[:4097], 0, 0) }); c.Res != -int32(unix.EFAULT) {
		t.Fatalf("read_fixed beyond the buffer res %d, want -EFAULT", c.Res)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepReadFixed(fd, mem[:8], 0, 7) }); c.Res != -int32(unix.EFAULT) {
		t.Fatalf("read_fixed bad index res %d, want -EFAULT", c.Res)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterBuffers(); !errors.Is(err, unix.ENXIO) {
		t.Fatalf("second UnregisterBuffers = %v, want ENXIO", err)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepReadFixed(fd, mem[:8], 0, 0) }); c.Res != -int32(unix.EFAULT) {
		t.Fatalf("read_fixed without buffers res %d, want -EFAULT", c.Res)
	}
}

func TestRegisterBuffersSparseUpdateTags(t *testing.T) {
	r := rawRing(t, 8, nil)
	mem := rawMmap(t, 3*4096)
	if err := r.RegisterBuffersSparse(4); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RegisterBuffersUpdateTag(1, []unix.Iovec{rawIovec(mem[:4096])}, []uint64{99}); n != 1 || err != nil {
		t.Fatalf("RegisterBuffersUpdateTag = %d, %v", n, err)
	}
	if _, err := r.RegisterBuffersUpdateTag(1, []unix.Iovec{rawIovec(mem[:4096])}, []uint64{1, 2}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mismatched tags = %v", err)
	}
	// Replacing the tagged buffer posts a CQE carrying its tag.
	if n, err := r.RegisterBuffersUpdateTag(1, []unix.Iovec{rawIovec(mem[4096 : 2*4096])}, nil); n != 1 || err != nil {
		t.Fatalf("replace = %d, %v", n, err)
	}
	cqe, err := r.WaitCQETimeout(5 * time.Second)
	if err != nil || cqe.UserData != 99 {
		t.Fatalf("tag CQE = %+v, %v", cqe, err)
	}
	r.CQESeen(cqe)
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	// Tagged registration in one go; unregistering posts the tags.
	if err := r.RegisterBuffersTags([]unix.Iovec{rawIovec(mem[:4096]), rawIovec(mem[8192:])}, []uint64{7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	got := rawReap(t, r, 2)
	if _, ok := got[7]; !ok {
		t.Fatalf("tag CQEs %v", got)
	}
	if err := r.RegisterBuffersTags([]unix.Iovec{rawIovec(mem[:4096])}, []uint64{1, 2}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("RegisterBuffersTags mismatched = %v", err)
	}
}

func TestRegisterFiles(t *testing.T) {
	r := rawRing(t, 8, nil)
	_, fd := rawFile(t, []byte("0123456789"))
	if err := r.RegisterFiles([]int{-1, fd}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	if n := rawOK(t, r, "fixed read", func(s *SQE) { s.PrepRead(1, buf, 2); s.SetFlags(SQEFixedFile) }); n != 4 || string(buf) != "2345" {
		t.Fatalf("fixed read %d %q", n, buf)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepRead(0, buf, 0); s.SetFlags(SQEFixedFile) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("read from empty slot res %d", c.Res)
	}
	if n, err := r.RegisterFilesUpdate(0, []int{fd, -1}); n != 2 || err != nil {
		t.Fatalf("RegisterFilesUpdate = %d, %v", n, err)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepRead(1, buf, 0); s.SetFlags(SQEFixedFile) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("read from cleared slot res %d", c.Res)
	}
	if n := rawOK(t, r, "fixed read", func(s *SQE) { s.PrepRead(0, buf, 6); s.SetFlags(SQEFixedFile) }); n != 4 || string(buf) != "6789" {
		t.Fatalf("fixed read %d %q", n, buf)
	}
	// IORING_OP_FILES_UPDATE does the same from an SQE.
	fds := []int32{int32(fd)}
	pin.Pin(&fds[0])
	if n := rawOK(t, r, "files_update", func(s *SQE) { s.PrepFilesUpdate(fds, 1) }); n != 1 {
		t.Fatalf("files_update %d", n)
	}
	if n, err := r.RegisterFilesUpdate(0, []int{RegisterFilesSkip, -1}); n != 2 || err != nil {
		t.Fatalf("skip update = %d, %v", n, err)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterFiles(); !errors.Is(err, unix.ENXIO) {
		t.Fatalf("second UnregisterFiles = %v", err)
	}
	if _, err := r.RegisterFilesUpdate(0, []int{fd}); !errors.Is(err, unix.ENXIO) {
		t.Fatalf("update without table = %v", err)
	}
	if err := r.RegisterFiles([]int{1 << 20}); !errors.Is(err, unix.EBADF) {
		t.Fatalf("RegisterFiles(bad fd) = %v", err)
	}
	// Tags: unregistering posts them.
	if err := r.RegisterFilesTags([]int{fd, fd}, []uint64{55, 56}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RegisterFilesUpdateTag(0, []int{-1}, []uint64{0}); n != 1 || err != nil {
		t.Fatalf("RegisterFilesUpdateTag = %d, %v", n, err)
	}
	if got := rawReap(t, r, 1); got[55].Res != 0 {
		t.Fatalf("tag 55 CQE missing: %v", got)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
	if got := rawReap(t, r, 1); len(got) != 1 {
		t.Fatalf("tag 56 CQE missing: %v", got)
	}
	if err := r.RegisterFilesTags([]int{fd}, []uint64{1, 2}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mismatched tags = %v", err)
	}
}

func TestRegisterFilesSparseAllocRange(t *testing.T) {
	r := rawRing(t, 8, nil)
	if err := r.RegisterFilesSparse(8); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFileAllocRange(3, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFileAllocRange(7, 4); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("range beyond table = %v", err)
	}
	var slots []int32
	for i := 0; i < 2; i++ {
		slots = append(slots, rawOK(t, r, "socket_direct_alloc", func(s *SQE) {
			s.PrepSocketDirectAlloc(unix.AF_INET, unix.SOCK_STREAM, 0, 0)
		}))
	}
	if slots[0] != 3 || slots[1] != 4 {
		t.Fatalf("allocated slots %v, want [3 4]", slots)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepSocketDirectAlloc(unix.AF_INET, unix.SOCK_STREAM, 0, 0) }); c.Res != -int32(unix.ENFILE) {
		t.Fatalf("allocation from a full range res %d, want -ENFILE", c.Res)
	}
	rawOK(t, r, "socket_direct", func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, unix.SOCK_DGRAM, 0, 6, 0) })
	for _, slot := range []uint32{3, 4, 6} {
		rawOK(t, r, "close_direct", func(s *SQE) { s.PrepCloseDirect(slot) })
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepCloseDirect(6) }); c.Res != -int32(unix.EBADF) {
		t.Fatalf("closing an empty slot res %d", c.Res)
	}
}

func TestRegisterPersonality(t *testing.T) {
	r := rawRing(t, 4, nil)
	id, err := r.RegisterPersonality()
	if err != nil || id <= 0 {
		t.Fatalf("RegisterPersonality = %d, %v", id, err)
	}
	rawOK(t, r, "nop with personality", func(s *SQE) { s.PrepNop(); s.Personality = uint16(id) })
	// An id C's int cannot hold is not taken for its low 32 bits (id).
	if err := r.UnregisterPersonality(id + 1<<32); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("UnregisterPersonality(id+2^32) = %v, want EINVAL", err)
	}
	if err := r.UnregisterBufRing(1 << 32); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("UnregisterBufRing(2^32) = %v, want EINVAL", err)
	}
	if err := r.UnregisterPersonality(id); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterPersonality(id); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("second UnregisterPersonality = %v", err)
	}
	if c := rawDo(t, r, func(s *SQE) { s.PrepNop(); s.Personality = uint16(id) }); c.Res != -int32(unix.EINVAL) {
		t.Fatalf("nop with stale personality res %d", c.Res)
	}
}

func TestRegisterIOWQ(t *testing.T) {
	// Without SQPOLL these calls act on the calling thread's io-wq (see
	// RegisterIOWQAff): a goroutine the scheduler moved to a thread that
	// never used io_uring got EINVAL from UnregisterIOWQAff (3 runs in
	// 2000). Stay on the thread that creates the ring and submits.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rawRing(t, 4, nil)
	vals := [2]uint32{0, 0}
	if err := r.RegisterIOWQMaxWorkers(&vals); err != nil {
		t.Fatal(err)
	}
	if vals[IOWQBound] == 0 || vals[IOWQUnbound] == 0 {
		t.Fatalf("current limits %v", vals)
	}
	set := [2]uint32{2, 3}
	if err := r.RegisterIOWQMaxWorkers(&set); err != nil {
		t.Fatal(err)
	}
	check := [2]uint32{0, 0}
	if err := r.RegisterIOWQMaxWorkers(&check); err != nil || check != [2]uint32{2, 3} {
		t.Fatalf("limits after set %v, %v", check, err)
	}
	if err := r.RegisterIOWQMaxWorkers(nil); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("nil values = %v", err)
	}
	var cpus unix.CPUSet
	cpus.Set(0)
	if err := r.RegisterIOWQAff(&cpus); err != nil {
		t.Fatal(err)
	}
	rawOK(t, r, "async nop", func(s *SQE) { s.PrepNop(); s.SetFlags(SQEAsync) })
	if err := r.UnregisterIOWQAff(); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterIOWQAff(nil); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("nil affinity = %v", err)
	}
}

// rawTCPPair returns a connected loopback TCP pair (client, server).
func rawTCPPair(t testing.TB) (int, int) {
	t.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(ln, 1)
	sa, _ := unix.Getsockname(ln)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(c, sa); err != nil {
		t.Fatal(err)
	}
	s, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(c); unix.Close(s) })
	return c, s
}

func TestBufRingProvidedRecv(t *testing.T) {
	r := rawRing(t, 8, nil)
	const entries, size, bgid = 8, 64, 5
	br, err := r.SetupBufRing(entries, bgid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetupBufRing(entries, bgid); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second SetupBufRing = %v", err)
	}
	if _, err := r.SetupBufRing(3, 9); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("non-power-of-two ring = %v", err)
	}
	mem := rawMmap(t, entries*size)
	mask := BufRingMask(entries)
	for i := 0; i < entries; i++ {
		br.Add(mem[i*size:(i+1)*size], uint16(i), mask, i)
	}
	br.Advance(entries)
	c, s := rawTCPPair(t)
	for i, msg := range []string{"first", "second message"} {
		if _, err := unix.Write(c, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		cqe := rawDo(t, r, func(q *SQE) {
			q.PrepRecv(s, nil, 0)
			q.SetFlags(SQEBufferSelect)
			q.BufIndex = bgid
		})
		bid, ok := cqe.BufferID()
		if cqe.Res != int32(len(msg)) || !ok || int(bid) != i {
			t.Fatalf("recv %d: %+v (bid %d, flag %v)", i, cqe, bid, ok)
		}
		if got := string(mem[int(bid)*size : int(bid)*size+int(cqe.Res)]); got != msg {
			t.Fatalf("recv %d data %q", i, got)
		}
	}
	// Multishot recv consumes one buffer per message.
	sqe := r.GetSQE()
	sqe.PrepRecvMultishot(s, nil, 0)
	sqe.SetFlags(SQEBufferSelect)
	sqe.BufIndex = bgid
	sqe.SetUserData(3)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		unix.Write(c, []byte{byte('a' + i)})
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		bid, _ := cqe.BufferID()
		if cqe.Res != 1 || cqe.Flags&CQEFMore == 0 || mem[int(bid)*size] != byte('a'+i) {
			t.Fatalf("multishot %d: %+v", i, *cqe)
		}
		// Give the buffer back while consuming the CQE.
		br.Add(mem[int(bid)*size:int(bid+1)*size], bid, mask, 0)
		r.BufRingCQAdvance(br, 1)
	}
	// The peer's shutdown ends the multishot recv (0, no IORING_CQE_F_MORE);
	// the two CQEs may come in either order.
	sqe = r.GetSQE()
	sqe.PrepShutdown(c, unix.SHUT_WR)
	sqe.SetUserData(4)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for seen := map[uint64]bool{}; len(seen) < 2; {
		cqe, err := r.WaitCQETimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("after shutdown: %v (seen %v)", err, seen)
		}
		switch got := *cqe; {
		case got.UserData == 4 && got.Res == 0 && !seen[4]:
		case got.UserData == 3 && got.Res == 0 && got.Flags&CQEFMore == 0 && !seen[3]:
		default:
			t.Fatalf("after shutdown: %+v (seen %v)", got, seen)
		}
		seen[cqe.UserData] = true
		r.CQESeen(cqe)
	}
	if err := r.FreeBufRing(br, entries, bgid); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterBufRing(bgid); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second unregister = %v", err)
	}
	if err := r.RegisterBufRing(&BufReg{RingAddr: 12345, RingEntries: 8, Bgid: 1}, 0); !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EFAULT) {
		t.Fatalf("unaligned ring = %v", err)
	}
}

func TestProvideBuffersOp(t *testing.T) {
	r := rawRing(t, 8, nil)
	mem := rawMmap(t, 4*32)
	if n := rawOK(t, r, "provide_buffers", func(s *SQE) { s.PrepProvideBuffers(mem, 32, 4, 7, 10) }); n != 4 && n != 0 {
		t.Fatalf("provide_buffers %d", n)
	}
	c, s := rawTCPPair(t)
	unix.Write(c, []byte("xyz"))
	cqe := rawDo(t, r, func(q *SQE) { q.PrepRecv(s, nil, 0); q.SetFlags(SQEBufferSelect); q.BufIndex = 7 })
	bid, ok := cqe.BufferID()
	if cqe.Res != 3 || !ok || bid < 10 || bid > 13 || string(mem[(int(bid)-10)*32:][:3]) != "xyz" {
		t.Fatalf("recv with provided buffer: %+v bid %d", cqe, bid)
	}
	if n := rawOK(t, r, "remove_buffers", func(s *SQE) { s.PrepRemoveBuffers(10, 7) }); n != 3 {
		t.Fatalf("removed %d buffers, want the 3 left", n)
	}
	unix.Write(c, []byte("more"))
	if c := rawDo(t, r, func(q *SQE) { q.PrepRecv(s, nil, 0); q.SetFlags(SQEBufferSelect); q.BufIndex = 7 }); c.Res != -int32(unix.ENOBUFS) {
		t.Fatalf("recv from an emptied group res %d, want -ENOBUFS", c.Res)
	}
}

func TestRegisterSyncCancel(t *testing.T) {
	r := rawRing(t, 8, nil)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	mem := rawMmap(t, 16)
	sqe := r.GetSQE()
	sqe.PrepRead(p[0], mem, ^uint64(0))
	sqe.SetUserData(31)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	reg := SyncCancelReg{Addr: 31, Fd: -1, Timeout: KernelTimespec{Sec: -1, Nsec: -1}}
	if err := r.RegisterSyncCancel(&reg); err != nil {
		t.Fatal(err)
	}
	got := rawReap(t, r, 1)
	if got[31].Res != -int32(unix.ECANCELED) && got[31].Res != -int32(unix.EINTR) {
		t.Fatalf("cancelled read %+v", got[31])
	}
	if err := r.RegisterSyncCancel(&reg); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second sync cancel = %v", err)
	}
	if err := r.RegisterSyncCancel(nil); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("nil reg = %v", err)
	}
}

// mapped reports whether the page at p (page aligned) is mapped (msync:
// ENOMEM if not).
func mapped(t *testing.T, p unsafe.Pointer) bool {
	t.Helper()
	err := unix.Msync(unsafe.Slice((*byte)(p), 1), unix.MS_ASYNC)
	if err != nil && err != unix.ENOMEM {
		t.Fatalf("msync: %v", err)
	}
	return err == nil
}

// FreeBufRing frees only what SetupBufRing set up, with its entries and
// group (liburing would unmap entries slots at any address), never twice,
// and after Close still unmaps what Close left mapped.
func TestFreeBufRingChecks(t *testing.T) {
	r := rawRing(t, 8, nil)
	const entries, bgid = 8, 3
	br, err := r.SetupBufRing(entries, bgid)
	if err != nil {
		t.Fatal(err)
	}
	var notOurs BufRing
	for _, c := range []struct {
		name    string
		br      *BufRing
		entries uint32
		bgid    uint16
		want    error
	}{
		{"nil", nil, entries, bgid, unix.EFAULT},
		{"more entries", br, 2 * entries, bgid, unix.EINVAL},
		{"fewer entries", br, entries / 2, bgid, unix.EINVAL},
		{"other group", br, entries, bgid + 1, unix.EINVAL},
		{"Go memory", &notOurs, entries, bgid, unix.EINVAL},
	} {
		if err := r.FreeBufRing(c.br, c.entries, c.bgid); err != c.want {
			t.Errorf("%s: FreeBufRing = %v, want %v", c.name, err, c.want)
		}
	}
	if !mapped(t, unsafe.Pointer(br)) {
		t.Fatal("a refused FreeBufRing unmapped the ring")
	}
	if _, err := r.SetupBufRing(entries, bgid); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("group %d after the refused frees: SetupBufRing = %v, want EEXIST (still registered)", bgid, err)
	}
	// Unregistered behind its back: ENOENT, and the ring stays mapped.
	if err := r.UnregisterBufRing(bgid); err != nil {
		t.Fatal(err)
	}
	if err := r.FreeBufRing(br, entries, bgid); err != unix.ENOENT {
		t.Fatalf("FreeBufRing of an unregistered group = %v, want ENOENT", err)
	}
	if !mapped(t, unsafe.Pointer(br)) {
		t.Fatal("FreeBufRing unmapped a ring whose unregistration failed")
	}
	br2, err := r.SetupBufRing(entries, bgid+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.FreeBufRing(br2, entries, bgid+1); err != nil {
		t.Fatal(err)
	}
	if mapped(t, unsafe.Pointer(br2)) {
		t.Fatal("FreeBufRing left the ring mapped")
	}
	if err := r.FreeBufRing(br2, entries, bgid+1); err != unix.EINVAL {
		t.Fatalf("second FreeBufRing = %v, want EINVAL", err)
	}
	// Close leaves br mapped (its group went with the ring); FreeBufRing
	// unmaps it then, once.
	br3, err := r.SetupBufRing(entries, bgid+2)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	br3.Add(make([]byte, 1), 0, BufRingMask(entries), 0) // no fault
	br3.Advance(1)
	if err := r.FreeBufRing(br3, entries, bgid+2); !errors.Is(err, ErrClosed) {
		t.Fatalf("FreeBufRing after Close = %v, want ErrClosed", err)
	}
	if mapped(t, unsafe.Pointer(br3)) {
		t.Fatal("FreeBufRing after Close left the ring mapped")
	}
	if err := r.FreeBufRing(br3, entries, bgid+2); !errors.Is(err, ErrClosed) {
		t.Fatalf("second FreeBufRing after Close = %v, want ErrClosed", err)
	}
	if err := r.FreeBufRing(br, entries, bgid); !errors.Is(err, ErrClosed) || mapped(t, unsafe.Pointer(br)) {
		t.Fatalf("FreeBufRing after Close of the ring whose group was unregistered = %v (mapped %v), want ErrClosed and unmapped", err, mapped(t, unsafe.Pointer(br)))
	}
}
