package filetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/aiokit/aio/internal/fileio"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// File is what the three File types have in common.
type File interface {
	io.ReaderAt
	io.WriterAt
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// Opened is a File a Backend opened, and what the test needs to know of it.
type Opened struct {
	File File
	// Name is the Path of the File's *fs.PathError values (Backend.PathErrors).
	Name string
	// Sync, SyncContext, Datasync and DatasyncContext are the File's (nil:
	// it has none).
	Sync            func() error
	SyncContext     func(context.Context) error
	Datasync        func() error
	DatasyncContext func(context.Context) error
	// InFlight is the queue's count of requests in flight.
	InFlight func() int
	// MemAlign, when not 0, is the memory alignment below which the File
	// bounces the buffers of an O_DIRECT descriptor (libaio).
	MemAlign int
	// Refuses, when not nil, reports whether the File refuses, as
	// documented, a request of n bytes at off (write or not) without
	// submitting it; CheckRefusal checks the error it gave.
	Refuses      func(off int64, n int) bool
	CheckRefusal func(err error, write bool, off int64, n int) error
}

// Backend opens the Files of one package.
type Backend struct {
	Name string
	// Open opens path with flag (os.O_RDWR, O_RDONLY or O_WRONLY, with
	// O_DIRECT or not) as a File on a new queue chosen by variant (0..3);
	// everything is closed at the end of t.
	Open func(t testing.TB, path string, flag, variant int) *Opened
	// PathErrors: the File's errors are *fs.PathError values as os.File's
	// (uring). Otherwise they are bare errnos, and a negative offset gives
	// unix.EINVAL (libaio, posixaio).
	PathErrors bool
}

// content returns n deterministic bytes.
func content(n int, seed byte) []byte {
	b := make([]byte, n)
	fill(b, uint32(seed)*2654435761+1)
	return b
}

// fill writes a xorshift sequence into b.
func fill(b []byte, x uint32) {
	if x == 0 {
		x = 0x9e3779b9
	}
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}

// slab returns memory for buffers of up to MaxLen bytes at any of the
// offsets Op.Mem names from a 4096-aligned address.
func slab() []byte {
	b := make([]byte, MaxLen+2*align+align)
	i := 0
	for uintptr(unsafe.Pointer(&b[i]))%align != 0 {
		i++
	}
	return b[i:]
}

func buffer(s []byte, mem, n int) []byte { return s[mem : mem+n : mem+n] }

// runner applies operations to a File and to its twin *os.File.
type runner struct {
	t      testing.TB
	b      *Backend
	o      *Opened
	osf    *os.File
	s      Setup
	bs, os []byte // slabs
	bpath  string
	opath  string
	limit  int64 // RLIMIT_FSIZE in force, or 0
}

func setupFiles(t testing.TB, b *Backend, s Setup, init []byte) (o *Opened, osf *os.File, bpath, opath string) {
	t.Helper()
	dir := testutil.TempDir(t)
	bpath, opath = filepath.Join(dir, "file"), filepath.Join(dir, "os")
	for _, p := range []string{bpath, opath} {
		if err := os.WriteFile(p, init, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flag := s.Access
	if s.Direct {
		flag |= unix.O_DIRECT
	}
	osf, err := os.OpenFile(opath, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { osf.Close() })
	return b.Open(t, bpath, flag, s.Variant), osf, bpath, opath
}

// Run decodes data (see the input layout in ops.go) and applies each
// operation to a File of b and to an *os.File over a twin file, failing t
// at the first difference; then it compares the two files.
func Run(t *testing.T, b *Backend, data []byte) {
	if err := run(t, b, data, 0); err != nil {
		t.Fatal(err)
	}
}

// run is Run, returning the first difference; limit is the RLIMIT_FSIZE
// in force (0: none).
func run(t testing.TB, b *Backend, data []byte, limit int64) error {
	s := DecodeSetup(data)
	var seed byte
	if len(data) > 0 {
		seed = data[0]
	}
	o, osf, bpath, opath := setupFiles(t, b, s, content(s.Size, seed))
	r := &runner{t: t, b: b, o: o, osf: osf, s: s, bs: slab(), os: slab(), bpath: bpath, opath: opath, limit: limit}
	for i, raw := range rawOps(data) {
		st, err := os.Stat(opath)
		if err != nil {
			return err
		}
		op := resolve(raw, st.Size(), s.Direct)
		if testing.Verbose() && os.Getenv("FILETEST_TRACE") != "" {
			t.Logf("op %d: %v", i, op)
		}
		if msg := r.do(i, op); msg != "" {
			return fmt.Errorf("%s (%v): op %d, %v: %s", b.Name, s, i, op, msg)
		}
	}
	if err := r.compareFiles(); err != nil {
		return fmt.Errorf("%s (%v): %v", b.Name, s, err)
	}
	return nil
}

// RunConcurrent decodes data as Run does, but deals the operations out to g
// goroutines, each in its own 2 MiB range of a file of g*2 MiB (offsets
// taken modulo the range, lengths cut at its end; no Truncate). The
// goroutines run at once, each comparing its results with os.File's.
func RunConcurrent(t *testing.T, b *Backend, data []byte, g int) {
	const span = 2 << 20
	s := DecodeSetup(data)
	s.Size = g * span
	o, osf, bpath, opath := setupFiles(t, b, s, content(s.Size, 7))
	per := make([][]Op, g)
	for i, raw := range rawOps(data) {
		op := resolve(raw, int64(s.Size), s.Direct)
		if op.Kind == Truncate {
			continue
		}
		gi := i % g
		if op.Kind != Sync && op.Off >= 0 && op.Off < 1<<40 {
			local := op.Off % span
			op.Off = int64(gi)*span + local
			op.Len = min(op.Len, int(span-local))
		}
		per[gi] = append(per[gi], op)
	}
	var wg sync.WaitGroup
	for gi := range per {
		wg.Add(1)
		go func(ops []Op) {
			defer wg.Done()
			r := &runner{t: t, b: b, o: o, osf: osf, s: s, bs: slab(), os: slab(), bpath: bpath, opath: opath}
			for i, op := range ops {
				if msg := r.do(i, op); msg != "" {
					t.Errorf("%s (%v), concurrent: op %d, %v: %s", b.Name, s, i, op, msg)
					return
				}
			}
		}(per[gi])
	}
	wg.Wait()
	if !t.Failed() {
		if err := (&runner{bpath: bpath, opath: opath}).compareFiles(); err != nil {
			t.Fatalf("%s (%v), concurrent: %v", b.Name, s, err)
		}
	}
}

func (r *runner) compareFiles() error {
	got, err := os.ReadFile(r.bpath)
	if err != nil {
		return err
	}
	want, err := os.ReadFile(r.opath)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("final size %d, os.File's %d", len(got), len(want))
	}
	if i := firstDiff(got, want); i >= 0 {
		return fmt.Errorf("final contents differ from os.File's at byte %d of %d", i, len(got))
	}
	return nil
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// do applies op to both files and returns what differs ("" if nothing).
func (r *runner) do(i int, op Op) string {
	switch op.Kind {
	case Sync:
		if r.o.Sync == nil {
			return ""
		}
		if d := r.sameErr("sync", 0, r.o.Sync(), r.osf.Sync()); d != "" || r.o.Datasync == nil {
			return d
		}
		// os.File has no Datasync: fdatasync(2) of its descriptor.
		var oerr error
		if err := unix.Fdatasync(int(r.osf.Fd())); err != nil {
			oerr = &fs.PathError{Op: "datasync", Path: r.osf.Name(), Err: err}
		}
		return r.sameErr("datasync", 0, r.o.Datasync(), oerr)
	case Truncate:
		for _, p := range []string{r.bpath, r.opath} {
			if err := os.Truncate(p, op.Off); err != nil {
				return err.Error()
			}
		}
		return ""
	}
	osMem := op.Mem
	if r.s.Direct && r.o.MemAlign > 0 && op.Mem%r.o.MemAlign != 0 {
		osMem = 0 // the File bounces it (documented); os.File needs it aligned
	}
	bb, ob := buffer(r.bs, op.Mem, op.Len), buffer(r.os, osMem, op.Len)
	var n, on int
	var err, oerr error
	if op.Kind.isRead() {
		junk := uint32(i)*7919 + 3
		fill(bb, junk)
		fill(ob, junk)
		if op.Kind == ReadNilCtx {
			//lint:ignore SA1012 a nil ctx is part of the contract
			n, err = r.o.File.ReadAtContext(nil, bb, op.Off)
		} else {
			n, err = r.o.File.ReadAt(bb, op.Off)
		}
	} else {
		fill(bb, uint32(op.Fill)<<8|uint32(i)+1)
		copy(ob, bb)
		if op.Kind == WriteNilCtx {
			//lint:ignore SA1012 as above
			n, err = r.o.File.WriteAtContext(nil, bb, op.Off)
		} else {
			n, err = r.o.File.WriteAt(bb, op.Off)
		}
	}
	write := op.Kind.isWrite()
	appendWrite := write && r.s.Access&os.O_APPEND != 0 // refused before anything else, as by os.File
	if r.s.Direct && r.o.Refuses != nil && !appendWrite && op.Off >= 0 && op.Len > 0 && r.o.Refuses(op.Off, op.Len) {
		// A documented refusal: checked as documented, os.File not asked.
		if n != 0 {
			return fmt.Sprintf("refused request gave n = %d", n)
		}
		if e := r.o.CheckRefusal(err, write, op.Off, op.Len); e != nil {
			return e.Error()
		}
		return ""
	}
	if write {
		on, oerr = r.osf.WriteAt(ob, op.Off)
	} else {
		on, oerr = r.osf.ReadAt(ob, op.Off)
	}
	if write && oerr != nil {
		// os.File.WriteAt drops the count of a pwrite loop that ended in an
		// error (it adds m only when e is nil): it says 0 where bytes
		// reached the file. The File must say how many did: with
		// RLIMIT_FSIZE (TestSizeLimit) up to the limit; otherwise anything
		// from os.File's count to len(p), the final contents tell.
		want := -1
		if r.limit > 0 && errors.Is(oerr, unix.EFBIG) {
			want = int(max(0, min(int64(op.Len), r.limit-op.Off)))
		}
		if want >= 0 && n != want || want < 0 && (n < on || n > op.Len) {
			return fmt.Sprintf("n = %d, %v; os.File: %d, %v (bytes written: %d)", n, err, on, oerr, want)
		}
	} else if n != on {
		return fmt.Sprintf("n = %d, %v; os.File: %d, %v", n, err, on, oerr)
	}
	opName := "read"
	if write {
		opName = "write"
	}
	if op.Len == 0 && oerr == nil && err != nil && !r.mayRead(write) && errors.Is(err, unix.EBADF) {
		// An empty request on a descriptor not open for it: EBADF (the
		// request's own error, see fileio.Full), where os.File makes no call.
	} else if msg := r.sameErr(opName, n, err, oerr); msg != "" {
		return msg
	}
	if !write {
		if i := firstDiff(bb[:n], ob[:n]); i >= 0 {
			return fmt.Sprintf("byte %d read differs from os.File's", i)
		}
		if !r.s.Direct && !bytes.Equal(bb[n:], ob[n:]) {
			return fmt.Sprintf("the bytes past n = %d changed", n)
		}
	}
	return ""
}

// mayRead reports whether the descriptor is open for the direction.
func (r *runner) mayRead(write bool) bool {
	if write {
		return r.s.Access != os.O_RDONLY
	}
	return r.s.Access != os.O_WRONLY
}

// sameErr compares err (the File's) with oerr (os.File's) as the package
// comment says; op is the Op of os.File's *fs.PathError.
func (r *runner) sameErr(op string, n int, err, oerr error) string {
	bad := func() string { return fmt.Sprintf("error %#v (%v); os.File: %v", err, err, oerr) }
	switch {
	case oerr == nil || oerr == io.EOF:
		if err != oerr {
			return bad()
		}
		return ""
	case err == nil:
		return bad()
	}
	var ope *fs.PathError
	if !errors.As(oerr, &ope) {
		// os.File's own error: errWriteAtInAppendMode is the only one here
		// (unexported; the Files return fileio.ErrWriteAtAppend).
		if strings.Contains(oerr.Error(), "O_APPEND") && !errors.Is(err, fileio.ErrWriteAtAppend) &&
			err.Error() != oerr.Error() {
			return bad() + " (want fileio.ErrWriteAtAppend)"
		}
		return ""
	}
	errno, isErrno := ope.Err.(syscall.Errno)
	if r.b.PathErrors {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			return bad() + " (want a *fs.PathError)"
		}
		if pe.Op != ope.Op || pe.Path != r.o.Name {
			return bad() + fmt.Sprintf(" (want Op %q, Path %q)", ope.Op, r.o.Name)
		}
		if !isErrno {
			if pe.Err == nil || pe.Err.Error() != ope.Err.Error() {
				return bad()
			}
			return ""
		}
	} else if !isErrno {
		errno = unix.EINVAL // "negative offset": the kernel's EINVAL
	}
	if !errors.Is(err, errno) {
		return bad() + fmt.Sprintf(" (want errno %v)", errno)
	}
	return ""
}

// TestReader runs testing/iotest.TestReader over io.NewSectionReader of a
// buffered File of each of a few sizes, and of the small ones for variant 1
// too (posixaio's NotifyThread starts a glibc thread per request: the
// 300,000 reads of 100000 bytes take 20 s).
func TestReader(t *testing.T, b *Backend) {
	for _, variant := range []int{0, 1} {
		for _, size := range []int{0, 1, 4095, 4096, 100000} {
			if variant != 0 && size > 1 {
				continue
			}
			t.Run(fmt.Sprintf("variant%d/size%d", variant, size), func(t *testing.T) {
				data := content(size, byte(size))
				path := filepath.Join(testutil.TempDir(t), "data")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				o := b.Open(t, path, os.O_RDWR, variant)
				if err := iotest.TestReader(io.NewSectionReader(o.File, 0, int64(size)), data); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
