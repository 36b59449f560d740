package libaio

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aiokit/aio/cgo/completion"
	"golang.org/x/sys/unix"
)

// An fd that C's int cannot hold (here a real descriptor plus 2^32) is not truncated
// to its low 32 bits, which name that other open file: the iocb gets -1 and the kernel
// answers EBADF; NewFile returns EBADF. The file is neither read nor written.
func TestWideFD(t *testing.T) {
	content := []byte("secret data, not to be read or overwritten")
	fd, path := testFile(t, content, unix.O_RDWR)
	wide := fd + 1<<32
	buf := cbuf(t, 4096)
	iov := cIovecs(t, cbuf(t, 4096), [][]byte{buf[:16]})

	// Raw layer: every Prep stores -1, and io_submit refuses it.
	c := testContext(t, 4)
	preps := map[string]func(cb *Iocb){
		"PrepPread":    func(cb *Iocb) { cb.PrepPread(wide, buf[:16], 0) },
		"PrepPwrite":   func(cb *Iocb) { cb.PrepPwrite(wide, []byte("XX"), 0) },
		"PrepPreadv":   func(cb *Iocb) { cb.PrepPreadv(wide, iov, 0) },
		"PrepPwritev2": func(cb *Iocb) { cb.PrepPwritev2(wide, iov, 0, 0) },
		"PrepPoll":     func(cb *Iocb) { cb.PrepPoll(wide, unix.POLLIN) },
		"PrepFsync":    func(cb *Iocb) { cb.PrepFsync(wide) },
		"PrepFdsync":   func(cb *Iocb) { cb.PrepFdsync(wide) },
	}
	for name, prep := range preps {
		var cb Iocb
		prep(&cb)
		if cb.Fildes != -1 {
			t.Errorf("%s(fd+2^32): Fildes %d; want -1", name, cb.Fildes)
		}
		if n, err := c.Submit([]*Iocb{&cb}); n != 0 || !errors.Is(err, unix.EBADF) {
			t.Errorf("Submit(%s(fd+2^32)) = %d, %v; want EBADF", name, n, err)
			getAll(t, c, n)
		}
	}
	// SetEventfd: the eventfd field gets -1 too.
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	var cb Iocb
	cb.PrepPread(fd, buf[:16], 0)
	cb.SetEventfd(efd + 1<<32)
	if int32(cb.ResFD) != -1 {
		t.Errorf("SetEventfd(efd+2^32): ResFD %d; want -1", int32(cb.ResFD))
	}
	if n, err := c.Submit([]*Iocb{&cb}); n != 0 || !errors.Is(err, unix.EBADF) {
		t.Errorf("Submit with SetEventfd(efd+2^32) = %d, %v; want EBADF", n, err)
		getAll(t, c, n)
	}
	// The callback variants of io_fsync, io_fdsync and io_poll.
	fn := func(*Context, *Iocb, int64, int64) { t.Error("callback of a refused request called") }
	for name, f := range map[string]func() (int, error){
		"Fsync":  func() (int, error) { return c.Fsync(&cb, fn, wide) },
		"Fdsync": func() (int, error) { return c.Fdsync(&cb, fn, wide) },
		"Poll":   func() (int, error) { return c.Poll(&cb, fn, wide, unix.POLLIN) },
	} {
		if n, err := f(); n != 0 || !errors.Is(err, unix.EBADF) {
			t.Errorf("Context.%s(fd+2^32) = %d, %v; want EBADF", name, n, err)
			getAll(t, c, n)
		}
	}

	// Handle layer: EBADF from the call or from Wait, inline reads on or off.
	q := testQueue(t, 4)
	check := func(name string, h *completion.Handle, err error) {
		t.Helper()
		if err == nil {
			var n int
			n, err = h.Wait(context.Background())
			if err == nil {
				t.Errorf("%s(fd+2^32) = %d, nil; want EBADF", name, n)
				return
			}
		}
		if !errors.Is(err, unix.EBADF) {
			t.Errorf("%s(fd+2^32): %v; want EBADF", name, err)
		}
	}
	for _, inl := range []bool{true, false} {
		q.SetInlineReads(inl)
		rd := make([]byte, 16)
		h, err := q.Read(wide, rd, 0)
		check("Read", h, err)
		if string(rd) != string(make([]byte, 16)) {
			t.Errorf("Read(fd+2^32), inline %v, read %q", inl, rd)
		}
	}
	h, err := q.Write(wide, []byte("XX"), 0)
	check("Write", h, err)
	h, err = q.Writev(wide, [][]byte{[]byte("YY")}, 0)
	check("Writev", h, err)
	h, err = q.Readv(wide, [][]byte{make([]byte, 16)}, 0)
	check("Readv", h, err)
	h, err = q.Fsync(wide)
	check("Fsync", h, err)
	h, err = q.Poll(wide, unix.POLLIN)
	check("Poll", h, err)
	if f, err := NewFile(q, wide); f != nil || !errors.Is(err, unix.EBADF) {
		t.Errorf("NewFile(fd+2^32) = %v, %v; want EBADF", f, err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(content) {
		t.Errorf("file after requests on fd+2^32: %q, %v; want it untouched", got, err)
	}
}
