// Package filetest checks that the File types of uring, libaio and posixaio
// do what *os.File does for ReadAt, WriteAt and Sync: the tests of those
// packages run it with a Backend that opens their File. It is imported only
// by tests.
//
// What "the same" means, operation by operation:
//
//   - The byte counts are equal, and so are the bytes read (for an O_DIRECT
//     read only the first n: the kernel may zero the rest of the last block
//     of a direct read into user memory, but not into a bounce buffer). A
//     buffered read leaves the bytes of p past n as they were, as os.File's.
//   - Except after a failed write: os.File.WriteAt drops the count of its
//     last pwrite loop when that ends in an error (it adds m only if e is
//     nil), so it says 0 where bytes reached the file, against
//     io.WriterAt's "the number of bytes written". A File says how many did
//     (fileio.Full): exactly so under RLIMIT_FSIZE (TestSizeLimit), else
//     anything from os.File's count to len(p) (the final contents tell).
//   - io.EOF is io.EOF itself (callers of io.ReaderAt compare with ==); nil
//     is nil.
//   - Where os.File returns a *fs.PathError: a Backend with PathErrors
//     returns one too, with the same Op, its own file's Path, and an Err that
//     is the same errno (errors.Is), or, for os.File's "negative offset"
//     (not an errno), the same text. A Backend without PathErrors (libaio,
//     posixaio: "errors are the requests' unix.Errno values") returns an
//     error that errors.Is the errno, and unix.EINVAL for a negative offset.
//   - An empty read or write at an offset >= 0 is (0, nil) for os.File,
//     which makes no system call. The Files submit an empty request (see
//     fileio.Full), so that the request's own errors show: on a descriptor
//     not open for that direction it is (0, EBADF), as a non-empty one is.
//     Anything else must be (0, nil).
//   - Documented refusals are checked as documented instead: a Backend's
//     Opened.Refuses (libaio's *AlignError on O_DIRECT) says which requests
//     the File refuses; os.File is not asked. Opened.MemAlign (libaio's
//     bounce buffers) says which buffers the File bounces: os.File, which
//     would fail with EINVAL, is given an aligned copy.
//   - After the sequence both files hold the same bytes.
package filetest

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// Kind is what an operation does.
type Kind byte

const (
	Read Kind = iota
	Write
	Sync
	Truncate    // os.Truncate of both paths
	ReadNilCtx  // ReadAtContext(nil, ...)
	WriteNilCtx // WriteAtContext(nil, ...)
)

func (k Kind) String() string {
	switch k {
	case Read:
		return "ReadAt"
	case Write:
		return "WriteAt"
	case Sync:
		return "Sync"
	case Truncate:
		return "Truncate"
	case ReadNilCtx:
		return "ReadAtContext(nil)"
	case WriteNilCtx:
		return "WriteAtContext(nil)"
	}
	return fmt.Sprintf("Kind(%d)", byte(k))
}

func (k Kind) isRead() bool  { return k == Read || k == ReadNilCtx }
func (k Kind) isWrite() bool { return k == Write || k == WriteNilCtx }

// Op is one decoded operation.
type Op struct {
	Kind Kind
	Off  int64 // Truncate: the new size
	Len  int
	Mem  int  // the buffer starts Mem bytes past a 4096-aligned address
	Fill byte // seeds the bytes written
}

func (o Op) String() string {
	switch o.Kind {
	case Sync:
		return "Sync()"
	case Truncate:
		return fmt.Sprintf("Truncate(%d)", o.Off)
	}
	s := fmt.Sprintf("%v(len %d, off %d)", o.Kind, o.Len, o.Off)
	if o.Mem != 0 {
		s += fmt.Sprintf(" [buffer at 4096k+%d]", o.Mem)
	}
	return s
}

// Setup is what the first byte of an input selects.
type Setup struct {
	Direct  bool // O_DIRECT
	Access  int  // os.O_RDWR, os.O_RDONLY, os.O_WRONLY or os.O_RDWR|os.O_APPEND
	Size    int  // initial size of the files
	Variant int  // 0..3, passed to Backend.Open (a queue option)
}

func (s Setup) String() string {
	acc := map[int]string{os.O_RDWR: "O_RDWR", os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY",
		os.O_RDWR | os.O_APPEND: "O_RDWR|O_APPEND"}[s.Access]
	if s.Direct {
		acc += "|O_DIRECT"
	}
	return fmt.Sprintf("%s, size %d, variant %d", acc, s.Size, s.Variant)
}

// Limits of the encoding.
const (
	OpSize  = 8  // bytes per operation
	MaxOps  = 48 // operations decoded from one input (the rest is ignored)
	MaxLen  = 1<<20 + 8192
	offSpan = 4 << 20 // absolute offsets are below
	align   = 4096    // O_DIRECT ops are rounded to it unless marked misaligned
)

var (
	sizes    = [8]int{0, 1, 4095, 4096, 5000, 100000, 1<<20 + 3, 65536}
	accesses = [4]int{os.O_RDWR, os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_APPEND}
	memOffs  = [4]int{1, 8, 512, 2048}
)

// Input layout. Byte 0: bit 0 O_DIRECT, bits 1-2 access (accesses), bits
// 3-5 initial size (sizes), bits 6-7 variant. Then OpSize bytes per
// operation:
//
//	b[0]    bits 0-2 kind (0,6 read; 1,7 write; 2 sync; 3 truncate;
//	        4 read, nil ctx; 5 write, nil ctx), bits 3-4 memory offset
//	        (memOffs), all of it the fill byte
//	b[1]    bits 0-1 offset class, 2-4 length class, bit 5 "misaligned
//	        offset", 6 "misaligned length", 7 "misaligned memory"
//	b[2:5]  v, 24 bits, big-endian: the offset's value
//	b[5:8]  w, 24 bits: the length's value
//
// Offset classes: 0 v mod 4 MiB; 1 the current size + int16(v) (may be
// negative); 2 negative: -1-v (v = 0xffffff: math.MinInt64); 3 huge:
// 1<<62 + v (a write gives EFBIG), or, with v's top bit,
// math.MaxInt64 - (v&0x7fffff) (off+len overflows: EINVAL).
//
// Length classes: 0 zero; 1 w mod 64; 2 w mod 16384; 3 w mod (1 MiB + 1);
// 4 w (mod MaxLen+1); 5 to the current end of file (w mod 64 if that is
// not in (0, MaxLen]); 6 across the end of file by 1 + w mod 8192; 7 1 MiB.
//
// On O_DIRECT an offset is rounded down to a multiple of 4096 unless marked
// misaligned, and so is a length; memory is at an aligned address unless
// marked misaligned (in buffered mode too). Truncate's size is v mod 3 MiB.
const (
	offAbs = iota
	offEOF
	offNeg
	offHuge
)

const (
	lenZero = iota
	len64
	len16K
	len1M
	lenAbs
	lenToEOF
	lenSpanEOF
	lenExact1M
)

// DecodeSetup decodes the header byte of an input.
func DecodeSetup(data []byte) Setup {
	var h byte
	if len(data) > 0 {
		h = data[0]
	}
	return Setup{
		Direct:  h&1 != 0,
		Access:  accesses[h>>1&3],
		Size:    sizes[h>>3&7],
		Variant: int(h >> 6),
	}
}

// rawOps splits the operations of an input.
func rawOps(data []byte) [][]byte {
	var ops [][]byte
	for i := 1; i+OpSize <= len(data) && len(ops) < MaxOps; i += OpSize {
		ops = append(ops, data[i:i+OpSize])
	}
	return ops
}

func u24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

func floorAlign(x int64) int64 {
	r := x % align
	if r < 0 {
		if x < math.MinInt64+align {
			return math.MinInt64
		}
		r += align
	}
	return x - r
}

// resolve decodes one operation against the file's current size.
func resolve(b []byte, size int64, direct bool) Op {
	kinds := [8]Kind{Read, Write, Sync, Truncate, ReadNilCtx, WriteNilCtx, Read, Write}
	op := Op{Kind: kinds[b[0]&7], Fill: b[0]}
	v, w := u24(b[2:5]), u24(b[5:8])
	if op.Kind == Sync {
		return op
	}
	if op.Kind == Truncate {
		op.Off = int64(v) % (3 << 20)
		return op
	}
	switch b[1] & 3 {
	case offAbs:
		op.Off = int64(v) % offSpan
	case offEOF:
		op.Off = size + int64(int16(v))
	case offNeg:
		if v == 0xffffff {
			op.Off = math.MinInt64
		} else {
			op.Off = -1 - int64(v)
		}
	case offHuge:
		if v&0x800000 == 0 {
			op.Off = 1<<62 + int64(v)
		} else {
			op.Off = math.MaxInt64 - int64(v&0x7fffff)
		}
	}
	toEOF := size - op.Off
	if op.Off < 0 {
		toEOF = -1
	}
	switch b[1] >> 2 & 7 {
	case lenZero:
	case len64:
		op.Len = int(w % 64)
	case len16K:
		op.Len = int(w % 16384)
	case len1M:
		op.Len = int(w % (1<<20 + 1))
	case lenAbs:
		op.Len = int(w % (MaxLen + 1))
	case lenToEOF:
		if toEOF > 0 && toEOF <= MaxLen {
			op.Len = int(toEOF)
		} else {
			op.Len = int(w % 64)
		}
	case lenSpanEOF:
		if toEOF >= 0 && toEOF < 1<<20 {
			op.Len = int(toEOF) + 1 + int(w%8192)
		} else {
			op.Len = 1 + int(w%8192)
		}
	case lenExact1M:
		op.Len = 1 << 20
	}
	if direct {
		if b[1]&(1<<5) == 0 {
			op.Off = floorAlign(op.Off)
		}
		if b[1]&(1<<6) == 0 {
			op.Len &^= align - 1
		}
	}
	if b[1]&(1<<7) != 0 {
		op.Mem = memOffs[b[0]>>3&3]
	}
	return op
}

// Header returns an input's first byte. sizeIdx indexes 0, 1, 4095, 4096,
// 5000, 100000, 1 MiB+3, 65536.
func Header(direct bool, access, sizeIdx, variant int) byte {
	var h byte
	if direct {
		h = 1
	}
	switch access {
	case os.O_RDONLY:
		h |= 1 << 1
	case os.O_WRONLY:
		h |= 2 << 1
	case os.O_RDWR | os.O_APPEND:
		h |= 3 << 1
	}
	return h | byte(sizeIdx&7)<<3 | byte(variant&3)<<6
}

// Seed concatenates a header and operations into an input.
func Seed(h byte, ops ...[]byte) []byte {
	b := []byte{h}
	for _, op := range ops {
		b = append(b, op...)
	}
	return b
}

func enc(kind Kind, fill byte, flags byte, v, w uint32) []byte {
	kb := map[Kind]byte{Read: 0, Write: 1, Sync: 2, Truncate: 3, ReadNilCtx: 4, WriteNilCtx: 5}[kind]
	b := make([]byte, OpSize)
	b[0] = fill&^7 | kb
	b[1] = flags
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], v&0xffffff)
	copy(b[2:5], t[1:])
	binary.BigEndian.PutUint32(t[:], w&0xffffff)
	copy(b[5:8], t[1:])
	return b
}

// RW encodes a read or write (kind) of exactly n bytes (n <= MaxLen) at
// off: off is 0 <= off < 4 MiB, negative (above -(1<<24), or
// math.MinInt64), at least 1<<62 and below 1<<62 + 1<<23, or above
// math.MaxInt64 - 1<<23. mem > 0 puts the buffer at an address that is not
// aligned (mem: 1, 8, 512 or 2048).
func RW(kind Kind, off int64, n int, mem int) []byte {
	var class byte
	var v uint32
	switch {
	case off >= 0 && off < offSpan:
		class, v = offAbs, uint32(off)
	case off == math.MinInt64:
		class, v = offNeg, 0xffffff
	case off < 0 && off > -(1<<24):
		class, v = offNeg, uint32(-1-off)
	case off >= 1<<62 && off < 1<<62+1<<23:
		class, v = offHuge, uint32(off-1<<62)
	case off > math.MaxInt64-1<<23:
		class, v = offHuge, 0x800000|uint32(math.MaxInt64-off)
	default:
		panic(fmt.Sprintf("filetest.RW: offset %d cannot be encoded", off))
	}
	if n < 0 || n > MaxLen {
		panic("filetest.RW: length out of range")
	}
	flags := class | lenAbs<<2
	if off%align != 0 {
		flags |= 1 << 5
	}
	if n%align != 0 {
		flags |= 1 << 6
	}
	fill := byte(off>>5) ^ byte(n)
	if mem > 0 {
		flags |= 1 << 7
		i := map[int]byte{1: 0, 8: 1, 512: 2, 2048: 3}[mem]
		fill = fill&^(3<<3) | i<<3
	}
	return enc(kind, fill, flags, v, uint32(n))
}

// AtEOF encodes a read or write at the current size + delta, of length
// class lc: "to" (up to the end of file), "across" (past it by 1 + w mod
// 8192, w = n) or "zero". aligned leaves O_DIRECT rounding on.
func AtEOF(kind Kind, delta int16, lc string, n int, aligned bool) []byte {
	classes := map[string]byte{"to": lenToEOF, "across": lenSpanEOF, "zero": lenZero}
	flags := offEOF | classes[lc]<<2
	if !aligned {
		flags |= 3 << 5
	}
	return enc(kind, byte(delta)^0x55, flags, uint32(uint16(delta)), uint32(n))
}

// SyncOp encodes a Sync.
func SyncOp() []byte { return enc(Sync, 0, 0, 0, 0) }

// TruncOp encodes a Truncate to size (< 3 MiB).
func TruncOp(size int) []byte { return enc(Truncate, 0, 0, uint32(size), 0) }
