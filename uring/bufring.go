package uring

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is struct io_uring_buf_ring: a ring of [BufRingEntry] shared with
// the kernel, from which recv/read SQEs with [SQEBufferSelect] pick buffers
// of group bgid. The header overlays entry 0: Tail lives in bufs[0].resv.
// Create one with [Ring.SetupBufRing]; the memory must be page aligned.
type BufRing struct {
	Resv1 uint64
	Resv2 uint32
	Resv3 uint16
	Tail  uint16
}

// BufRingMask returns the index mask of a buffer ring with entries slots
// (io_uring_buf_ring_mask).
func BufRingMask(entries uint32) int { return int(int32(entries - 1)) } // C's int: -1 for 0

// Init resets the ring's tail (io_uring_buf_ring_init).
func (br *BufRing) Init() { br.Tail = 0 }

// entry returns slot i of the ring.
func (br *BufRing) entry(i int) *BufRingEntry {
	return (*BufRingEntry)(unsafe.Add(unsafe.Pointer(br), uintptr(i)*unsafe.Sizeof(BufRingEntry{})))
}

// Add fills the slot bufOffset places after the tail with buf and buffer ID
// bid; the kernel only sees it after Advance (io_uring_buf_ring_add). buf
// must stay valid (and pinned, for Go memory) while the kernel may use it.
func (br *BufRing) Add(buf []byte, bid uint16, mask int, bufOffset int) {
	a, n := bufAddr(buf)
	e := br.entry((int(br.Tail) + bufOffset) & mask)
	e.Addr = a
	e.Len = n
	e.Bid = bid
}

// storeTail stores the 16-bit tail atomically (io_uring_smp_store_release).
// sync/atomic has no 16-bit store, so it rewrites the aligned 32-bit word at
// offset 12, which holds resv3 (= bufs[0].bid) and tail. Only this goroutine
// writes either half; the kernel only reads them.
func (br *BufRing) storeTail(v uint16) {
	w := (*uint32)(unsafe.Add(unsafe.Pointer(br), 12))
	old := atomic.LoadUint32(w)
	var nw uint32
	if isBigEndian {
		nw = old&0xffff0000 | uint32(v)
	} else {
		nw = old&0x0000ffff | uint32(v)<<16
	}
	atomic.StoreUint32(w, nw)
}

// Advance publishes count added buffers to the kernel with a release store
// of the tail (io_uring_buf_ring_advance).
func (br *BufRing) Advance(count int) {
	br.storeTail(br.Tail + uint16(count))
}

// BufRingCQAdvance publishes count buffers of br and consumes count CQEs
// (io_uring_buf_ring_cq_advance). A nil br only consumes the CQEs.
func (r *Ring) BufRingCQAdvance(br *BufRing, count int) {
	if br != nil {
		br.Advance(count) // a release store, as in Advance: the entries first
	}
	r.CQAdvance(uint32(count))
}

// bufRingSize is the byte size of a ring of entries slots.
func bufRingSize(entries uint32) int {
	return int(entries) * int(unsafe.Sizeof(BufRingEntry{}))
}

// SetupBufRing mmaps a page-aligned ring of entries slots (a power of two),
// registers it as buffer group bgid (io_uring_register_buf_ring) and
// initialises it. This is liburing 2.4's io_uring_setup_buf_ring, which
// 2.3 lacks. A number of entries that is not a power of two from 1 to
// 32768 is the kernel's EINVAL, before anything is mapped. Release it with
// FreeBufRing.
func (r *Ring) SetupBufRing(entries uint32, bgid uint16) (*BufRing, error) {
	if !r.hold() {
		return nil, ErrClosed
	}
	defer r.release()
	if entries == 0 || entries&(entries-1) != 0 || entries > 1<<15 {
		return nil, unix.EINVAL
	}
	mem, err := unix.Mmap(-1, 0, bufRingSize(entries), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	br := (*BufRing)(unsafe.Pointer(&mem[0]))
	reg := BufReg{RingAddr: uint64(uintptr(unsafe.Pointer(br))), RingEntries: entries, Bgid: bgid}
	if err := r.registerBufRing(&reg, 0); err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	br.Init()
	r.brMu.Lock()
	if r.bufRings == nil {
		r.bufRings = make(map[*BufRing]bufRingReg)
	}
	r.bufRings[br] = bufRingReg{entries, bgid}
	r.brMu.Unlock()
	return br, nil
}

// bufRingReg is what SetupBufRing set a buffer ring up with.
type bufRingReg struct {
	entries uint32
	bgid    uint16
}

// FreeBufRing unregisters buffer group bgid and unmaps br, a ring from
// SetupBufRing with the same entries (liburing 2.4's io_uring_free_buf_ring).
//
// Unlike liburing, which unmaps entries slots' worth of memory at br
// whatever br is, it checks br against the rings this Ring set up: one it
// did not set up (or freed already), or entries or bgid other than
// SetupBufRing's, is EINVAL, with nothing unregistered or unmapped. A nil
// br is EFAULT. When the unregistration fails (ENOENT after
// UnregisterBufRing) br stays mapped, as in liburing. After Close the
// ring's registrations are gone with it: FreeBufRing then only unmaps br
// (Close leaves buffer rings mapped, so that a goroutine still adding
// buffers does not fault) and returns ErrClosed.
func (r *Ring) FreeBufRing(br *BufRing, entries uint32, bgid uint16) error {
	if r == nil {
		return ErrClosed
	}
	closed := !r.hold()
	if !closed {
		defer r.release()
	}
	if br == nil && !closed {
		return unix.EFAULT
	}
	r.brMu.Lock()
	reg, ok := r.bufRings[br]
	ok = ok && reg == bufRingReg{entries, bgid}
	if ok {
		delete(r.bufRings, br) // no second FreeBufRing of br can unmap it again
	}
	r.brMu.Unlock()
	if !ok {
		// br may be Go memory: no slice over it (checkptr under -race).
		if closed {
			return ErrClosed
		}
		return unix.EINVAL
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(br)), bufRingSize(entries))
	if closed {
		unix.Munmap(mem)
		return ErrClosed
	}
	if err := r.unregisterBufRing(int(bgid)); err != nil {
		r.brMu.Lock()
		r.bufRings[br] = reg
		r.brMu.Unlock()
		return err
	}
	return unix.Munmap(mem)
}
