package uring

import (
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"unsafe"

	"github.com/aiokit/aio/uring/internal/cprep"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// rawFuzz generates C-compatible random arguments. Addresses point into a
// 64 GiB PROT_NONE reservation: they are never dereferenced, only stored, so
// Go slices and typed pointers over them are legal and the fuzzer can use any
// address and any length up to 8 GiB.
type rawFuzz struct {
	rnd  *rand.Rand
	base unsafe.Pointer
}

const rawRegion = 1 << 36

// seedEnv, when set, gives the fuzzer's seed (the one a failed run logged).
const seedEnv = "AIOKIT_SEED"

func newRawFuzz(t *testing.T) *rawFuzz {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, rawRegion, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatalf("mmap reservation: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	seed := rand.Int63()
	if v := os.Getenv(seedEnv); v != "" {
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("$%s=%q: %v", seedEnv, v, err)
		}
	}
	t.Logf("seed %d (replay: %s=%d, running the whole test: its subtests share the generator)", seed, seedEnv, seed)
	return &rawFuzz{rnd: rand.New(rand.NewSource(seed)), base: unsafe.Pointer(&mem[0])}
}

// i32 returns a random C int, sign-extended (as the C shim casts it back).
func (g *rawFuzz) i32() uint64 {
	switch g.rnd.Intn(4) {
	case 0:
		return uint64(int64(int32(g.rnd.Intn(64))))
	case 1:
		return uint64(int64(-1 - g.rnd.Intn(4)))
	}
	return uint64(int64(int32(g.rnd.Uint32())))
}
func (g *rawFuzz) u32() uint64 { return uint64(g.rnd.Uint32()) }
func (g *rawFuzz) u16() uint64 { return uint64(uint16(g.rnd.Uint32())) }
func (g *rawFuzz) u64() uint64 {
	if g.rnd.Intn(4) == 0 {
		return ^uint64(0) - uint64(g.rnd.Intn(3))
	}
	return g.rnd.Uint64()
}

// ptr returns an address in the region (0 sometimes), aligned to 8 for
// typed pointers.
func (g *rawFuzz) ptr() uint64 {
	if g.rnd.Intn(10) == 0 {
		return 0
	}
	off := uintptr(g.rnd.Int63n(rawRegion/2)) &^ 7
	return uint64(uintptr(g.base) + off)
}

// aptr returns a non-nil 8-aligned address, for slices (Go cannot express
// a NULL pointer with a non-zero length).
func (g *rawFuzz) aptr() uint64 {
	off := uintptr(g.rnd.Int63n(rawRegion/2)) &^ 7
	return uint64(uintptr(g.base) + off)
}

// bptr returns an unaligned address in the region for byte buffers.
func (g *rawFuzz) bptr() uint64 {
	off := uintptr(g.rnd.Int63n(rawRegion / 2))
	return uint64(uintptr(g.base) + off)
}

// blen returns a buffer length up to 8 GiB (to exercise 32-bit truncation).
func (g *rawFuzz) blen() uint64 {
	switch g.rnd.Intn(3) {
	case 0:
		return uint64(g.rnd.Intn(4096))
	case 1:
		return uint64(g.rnd.Uint32())
	}
	return uint64(g.rnd.Int63n(1 << 33))
}

// at converts a generated address back to a pointer into the region.
func (g *rawFuzz) at(a uint64) unsafe.Pointer {
	if a == 0 {
		return nil
	}
	return unsafe.Add(g.base, uintptr(a)-uintptr(g.base))
}

// bytes returns the slice [a, a+n) of the region.
func (g *rawFuzz) bytes(a, n uint64) []byte {
	if a == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(g.at(a)), n)
}

func (g *rawFuzz) cstr(a uint64) *byte { return (*byte)(g.at(a)) }

// iovs returns n iovecs at address a (the C side gets the same address).
func (g *rawFuzz) iovs(a, n uint64) []unix.Iovec {
	if a == 0 {
		return nil
	}
	return unsafe.Slice((*unix.Iovec)(g.at(a)), n)
}

// rawPrepCase is one C helper and the Go method that must produce the same
// SQE bytes.
type rawPrepCase struct {
	name string                                // io_uring_prep_<name> (or other sqe helper)
	args func(g *rawFuzz) [8]uint64            // C arguments
	gop  func(g *rawFuzz, s *SQE, a [8]uint64) // Go counterpart
}

func rawI(a uint64) int    { return int(int32(a)) }
func rawU(a uint64) uint32 { return uint32(a) }
func rawA8(v ...uint64) [8]uint64 {
	var a [8]uint64
	copy(a[:], v)
	return a
}

func rawPrepCases() []rawPrepCase {
	return []rawPrepCase{
		{"rw", func(g *rawFuzz) [8]uint64 { return rawA8(uint64(uint8(g.u32())), g.i32(), g.bptr(), g.u32(), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepRW(uint8(a[0]), rawI(a[1]), g.at(a[2]), rawU(a[3]), a[4]) }},
		{"splice", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u64(), g.i32(), g.u64(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSplice(rawI(a[0]), int64(a[1]), rawI(a[2]), int64(a[3]), rawU(a[4]), rawU(a[5]))
			}},
		{"tee", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepTee(rawI(a[0]), rawI(a[1]), rawU(a[2]), rawU(a[3])) }},
		{"readv", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.aptr(), uint64(g.rnd.Intn(1024)), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepReadv(rawI(a[0]), g.iovs(a[1], a[2]), a[3]) }},
		{"readv2", func(g *rawFuzz) [8]uint64 {
			return rawA8(g.i32(), g.aptr(), uint64(g.rnd.Intn(1024)), g.u64(), g.i32())
		},
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepReadv2(rawI(a[0]), g.iovs(a[1], a[2]), a[3], rawI(a[4])) }},
		{"read_fixed", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.u64(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepReadFixed(rawI(a[0]), g.bytes(a[1], uint64(rawU(a[2]))), a[3], rawI(a[4]))
			}},
		{"writev", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.aptr(), uint64(g.rnd.Intn(1024)), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepWritev(rawI(a[0]), g.iovs(a[1], a[2]), a[3]) }},
		{"writev2", func(g *rawFuzz) [8]uint64 {
			return rawA8(g.i32(), g.aptr(), uint64(g.rnd.Intn(1024)), g.u64(), g.i32())
		},
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepWritev2(rawI(a[0]), g.iovs(a[1], a[2]), a[3], rawI(a[4])) }},
		{"write_fixed", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.u64(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepWriteFixed(rawI(a[0]), g.bytes(a[1], uint64(rawU(a[2]))), a[3], rawI(a[4]))
			}},
		{"recvmsg", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepRecvmsg(rawI(a[0]), (*unix.Msghdr)(g.at(a[1])), rawU(a[2]))
			}},
		{"recvmsg_multishot", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepRecvmsgMultishot(rawI(a[0]), (*unix.Msghdr)(g.at(a[1])), rawU(a[2]))
			}},
		{"sendmsg", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSendmsg(rawI(a[0]), (*unix.Msghdr)(g.at(a[1])), rawU(a[2]))
			}},
		{"poll_add", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepPollAdd(rawI(a[0]), rawU(a[1])) }},
		{"poll_multishot", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepPollMultishot(rawI(a[0]), rawU(a[1])) }},
		{"poll_remove", func(g *rawFuzz) [8]uint64 { return rawA8(g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepPollRemove(a[0]) }},
		{"poll_update", func(g *rawFuzz) [8]uint64 { return rawA8(g.u64(), g.u64(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepPollUpdate(a[0], a[1], rawU(a[2]), rawU(a[3])) }},
		{"fsync", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepFsync(rawI(a[0]), rawU(a[1])) }},
		{"nop", func(g *rawFuzz) [8]uint64 { return rawA8() },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepNop() }},
		{"timeout", func(g *rawFuzz) [8]uint64 { return rawA8(g.ptr(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepTimeout((*KernelTimespec)(g.at(a[0])), rawU(a[1]), rawU(a[2]))
			}},
		{"timeout_remove", func(g *rawFuzz) [8]uint64 { return rawA8(g.u64(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepTimeoutRemove(a[0], rawU(a[1])) }},
		{"timeout_update", func(g *rawFuzz) [8]uint64 { return rawA8(g.ptr(), g.u64(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepTimeoutUpdate((*KernelTimespec)(g.at(a[0])), a[1], rawU(a[2]))
			}},
		{"accept", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.ptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepAccept(rawI(a[0]), (*unix.RawSockaddrAny)(g.at(a[1])), (*uint32)(g.at(a[2])), rawI(a[3]))
			}},
		{"accept_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.ptr(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepAcceptDirect(rawI(a[0]), (*unix.RawSockaddrAny)(g.at(a[1])), (*uint32)(g.at(a[2])), rawI(a[3]), rawU(a[4]))
			}},
		{"multishot_accept", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.ptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepMultishotAccept(rawI(a[0]), (*unix.RawSockaddrAny)(g.at(a[1])), (*uint32)(g.at(a[2])), rawI(a[3]))
			}},
		{"multishot_accept_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.ptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepMultishotAcceptDirect(rawI(a[0]), (*unix.RawSockaddrAny)(g.at(a[1])), (*uint32)(g.at(a[2])), rawI(a[3]))
			}},
		{"cancel64", func(g *rawFuzz) [8]uint64 { return rawA8(g.u64(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepCancel64(a[0], rawI(a[1])) }},
		{"cancel", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepCancel(g.at(a[0]), rawI(a[1])) }},
		{"cancel_fd", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepCancelFD(rawI(a[0]), rawU(a[1])) }},
		{"link_timeout", func(g *rawFuzz) [8]uint64 { return rawA8(g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepLinkTimeout((*KernelTimespec)(g.at(a[0])), rawU(a[1])) }},
		{"connect", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepConnect(rawI(a[0]), (*unix.RawSockaddrAny)(g.at(a[1])), rawU(a[2]))
			}},
		{"files_update", func(g *rawFuzz) [8]uint64 { return rawA8(g.aptr(), uint64(g.rnd.Intn(1<<20)), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				var fds []int32
				if a[0] != 0 {
					fds = unsafe.Slice((*int32)(g.at(a[0])), a[1])
				}
				s.PrepFilesUpdate(fds, rawI(a[2]))
			}},
		{"fallocate", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.u64(), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepFallocate(rawI(a[0]), rawI(a[1]), int64(a[2]), int64(a[3]))
			}},
		{"openat", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepOpenat(rawI(a[0]), g.cstr(a[1]), rawI(a[2]), rawU(a[3])) }},
		{"openat_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepOpenatDirect(rawI(a[0]), g.cstr(a[1]), rawI(a[2]), rawU(a[3]), rawU(a[4]))
			}},
		{"close", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepClose(rawI(a[0])) }},
		{"close_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepCloseDirect(rawU(a[0])) }},
		{"read", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepRead(rawI(a[0]), g.bytes(a[1], uint64(rawU(a[2]))), a[3]) }},
		{"write", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepWrite(rawI(a[0]), g.bytes(a[1], uint64(rawU(a[2]))), a[3])
			}},
		{"statx", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32(), g.u32(), g.ptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepStatx(rawI(a[0]), g.cstr(a[1]), rawI(a[2]), rawU(a[3]), (*unix.Statx_t)(g.at(a[4])))
			}},
		{"fadvise", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u64(), g.u64(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepFadvise(rawI(a[0]), a[1], int64(a[2]), rawI(a[3])) }},
		{"madvise", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.blen(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepMadvise(g.bytes(a[0], a[1]), rawI(a[2])) }},
		{"send", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepSend(rawI(a[0]), g.bytes(a[1], a[2]), rawI(a[3])) }},
		{"send_zc", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSendZC(rawI(a[0]), g.bytes(a[1], a[2]), rawI(a[3]), rawU(a[4]))
			}},
		{"send_zc_fixed", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.i32(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSendZCFixed(rawI(a[0]), g.bytes(a[1], a[2]), rawI(a[3]), rawU(a[4]), rawU(a[5]))
			}},
		{"sendmsg_zc", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSendmsgZC(rawI(a[0]), (*unix.Msghdr)(g.at(a[1])), rawU(a[2]))
			}},
		{"send_set_addr", func(g *rawFuzz) [8]uint64 { return rawA8(g.ptr(), g.u16()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSendSetAddr(g.at(a[0]), uint16(a[1]))
			}},
		{"recv", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepRecv(rawI(a[0]), g.bytes(a[1], a[2]), rawI(a[3])) }},
		{"recv_multishot", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.blen(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepRecvMultishot(rawI(a[0]), g.bytes(a[1], a[2]), rawI(a[3]))
			}},
		{"openat2", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.ptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepOpenat2(rawI(a[0]), g.cstr(a[1]), (*unix.OpenHow)(g.at(a[2])))
			}},
		{"openat2_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.ptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepOpenat2Direct(rawI(a[0]), g.cstr(a[1]), (*unix.OpenHow)(g.at(a[2])), rawU(a[3]))
			}},
		{"epoll_ctl", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.i32(), g.ptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepEpollCtl(rawI(a[0]), rawI(a[1]), rawI(a[2]), (*unix.EpollEvent)(g.at(a[3])))
			}},
		{"provide_buffers", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.i32(), g.i32(), g.i32(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepProvideBuffers(g.bytes(a[0], 1), rawI(a[1]), rawI(a[2]), rawI(a[3]), rawI(a[4]))
			}},
		{"remove_buffers", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepRemoveBuffers(rawI(a[0]), rawI(a[1])) }},
		{"shutdown", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepShutdown(rawI(a[0]), rawI(a[1])) }},
		{"unlinkat", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepUnlinkat(rawI(a[0]), g.cstr(a[1]), rawI(a[2])) }},
		{"unlink", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepUnlink(g.cstr(a[0]), rawI(a[1])) }},
		{"renameat", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32(), g.bptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepRenameat(rawI(a[0]), g.cstr(a[1]), rawI(a[2]), g.cstr(a[3]), rawU(a[4]))
			}},
		{"rename", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.bptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepRename(g.cstr(a[0]), g.cstr(a[1])) }},
		{"sync_file_range", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32(), g.u64(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepSyncFileRange(rawI(a[0]), rawU(a[1]), a[2], rawI(a[3])) }},
		{"mkdirat", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepMkdirat(rawI(a[0]), g.cstr(a[1]), rawU(a[2])) }},
		{"mkdir", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepMkdir(g.cstr(a[0]), rawU(a[1])) }},
		{"symlinkat", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.i32(), g.bptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepSymlinkat(g.cstr(a[0]), rawI(a[1]), g.cstr(a[2])) }},
		{"symlink", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.bptr()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepSymlink(g.cstr(a[0]), g.cstr(a[1])) }},
		{"linkat", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.i32(), g.bptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepLinkat(rawI(a[0]), g.cstr(a[1]), rawI(a[2]), g.cstr(a[3]), rawI(a[4]))
			}},
		{"link", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.bptr(), g.i32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepLink(g.cstr(a[0]), g.cstr(a[1]), rawI(a[2])) }},
		{"msg_ring", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.u32(), g.u64(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepMsgRing(rawI(a[0]), rawU(a[1]), a[2], rawU(a[3])) }},
		{"getxattr", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.bptr(), g.bptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepGetxattr(g.cstr(a[0]), g.bytes(a[1], a[3]), g.cstr(a[2]))
			}},
		{"setxattr", func(g *rawFuzz) [8]uint64 { return rawA8(g.bptr(), g.bptr(), g.bptr(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSetxattr(g.cstr(a[0]), g.bytes(a[1], a[4]), g.cstr(a[2]), rawI(a[3]))
			}},
		{"fgetxattr", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.bptr(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepFgetxattr(rawI(a[0]), g.cstr(a[1]), g.bytes(a[2], a[3])) }},
		{"fsetxattr", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.bptr(), g.bptr(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepFsetxattr(rawI(a[0]), g.cstr(a[1]), g.bytes(a[2], a[4]), rawI(a[3]))
			}},
		{"socket", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.PrepSocket(rawI(a[0]), rawI(a[1]), rawI(a[2]), rawU(a[3])) }},
		{"socket_direct", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.i32(), g.u32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSocketDirect(rawI(a[0]), rawI(a[1]), rawI(a[2]), rawU(a[3]), rawU(a[4]))
			}},
		{"socket_direct_alloc", func(g *rawFuzz) [8]uint64 { return rawA8(g.i32(), g.i32(), g.i32(), g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) {
				s.PrepSocketDirectAlloc(rawI(a[0]), rawI(a[1]), rawI(a[2]), rawU(a[3]))
			}},
		// SQE field helpers that are not io_uring_prep_*.
		{"set_data64", func(g *rawFuzz) [8]uint64 { return rawA8(g.u64()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.SetUserData(a[0]) }},
		{"set_flags", func(g *rawFuzz) [8]uint64 { return rawA8(g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.SetFlags(uint8(a[0])) }},
		{"set_target_fixed_file", func(g *rawFuzz) [8]uint64 { return rawA8(g.u32()) },
			func(g *rawFuzz, s *SQE, a [8]uint64) { s.SetTargetFixedFile(rawU(a[0])) }},
	}
}

// TestPrepBytesMatchC prepares every io_uring_prep_* helper through
// liburing's C inline function and through Go, over random arguments and
// random previous SQE contents, and requires identical 64-byte SQEs.
func TestPrepBytesMatchC(t *testing.T) {
	g := newRawFuzz(t)
	const rounds = 300
	for _, pc := range rawPrepCases() {
		pc := pc
		t.Run(pc.name, func(t *testing.T) {
			for n := 0; n < rounds; n++ {
				var init [64]byte
				g.rnd.Read(init[:])
				args := pc.args(g)
				cBytes := init
				if !cprep.Call(pc.name, &cBytes, args) {
					t.Fatalf("cprep does not know helper %q", pc.name)
				}
				goBytes := init
				pc.gop(g, (*SQE)(unsafe.Pointer(&goBytes)), args)
				if cBytes != goBytes {
					cs := *(*SQE)(unsafe.Pointer(&cBytes))
					gs := *(*SQE)(unsafe.Pointer(&goBytes))
					t.Fatalf("args %#x: SQE differs (-C +Go):\n%s", args, cmp.Diff(cs, gs))
				}
			}
		})
	}
}

// TestPrepCasesCoverHeader fails if liburing.h has an io_uring_prep_* helper
// that TestPrepBytesMatchC does not compare.
func TestPrepCasesCoverHeader(t *testing.T) {
	src, err := os.ReadFile(rawHeaderPath(t))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^static inline [^(]*\bio_uring_prep_(\w+)\(`)
	have := map[string]bool{}
	for _, pc := range rawPrepCases() {
		have[pc.name] = true
	}
	var missing []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		if !have[m[1]] {
			missing = append(missing, "io_uring_prep_"+m[1])
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("prep helpers without a byte comparison: %v", missing)
	}
	if n := len(re.FindAllString(string(src), -1)); n < 70 {
		t.Fatalf("found only %d io_uring_prep_* helpers in the header: parser broken?", n)
	}
}

// TestBufRingHelpersMatchC compares io_uring_buf_ring_{init,add,advance,mask}
// with the Go methods on two rings in page-aligned memory.
func TestBufRingHelpersMatchC(t *testing.T) {
	g := newRawFuzz(t)
	const entries = 64
	size := entries * int(unsafe.Sizeof(BufRingEntry{}))
	alloc := func() []byte {
		m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(m) })
		return m
	}
	cm, gm := alloc(), alloc()
	g.rnd.Read(cm)
	copy(gm, cm)
	cbr := unsafe.Pointer(&cm[0])
	gbr := (*BufRing)(unsafe.Pointer(&gm[0]))
	cprep.BufRingInit(cbr)
	gbr.Init()
	for _, n := range []uint32{1, 2, 64, 1024, 32768} {
		if c, goV := cprep.BufRingMask(n), BufRingMask(n); c != goV {
			t.Fatalf("BufRingMask(%d) = %d, C %d", n, goV, c)
		}
	}
	mask := BufRingMask(entries)
	for round := 0; round < 500; round++ {
		addr, n, bid := g.bptr(), uint32(g.rnd.Intn(1<<20)), uint16(g.rnd.Uint32())
		off := g.rnd.Intn(entries)
		cprep.BufRingAdd(cbr, addr, n, bid, mask, off)
		gbr.Add(g.bytes(addr, uint64(n)), bid, mask, off)
		if g.rnd.Intn(3) == 0 {
			cnt := g.rnd.Intn(entries)
			cprep.BufRingAdvance(cbr, cnt)
			gbr.Advance(cnt)
		}
		if string(cm) != string(gm) {
			t.Fatalf("round %d: buffer ring memory differs from C", round)
		}
	}
}
