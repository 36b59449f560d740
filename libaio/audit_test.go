package libaio

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestAuditSetupBounds: Setup and QueueInit give EINVAL for a size C's int
// cannot hold, where its low 32 bits used to reach io_setup (-(1<<32)+5
// made a context of 5 events), and the kernel's EINVAL above 4 Mi events,
// which it checks before fs.aio-max-nr (EAGAIN up to there).
func TestAuditSetupBounds(t *testing.T) {
	for _, n := range []int{-(1 << 32) + 5, 1<<32 + 5, -1 << 40} {
		for name, setup := range map[string]func(int) (*Context, error){"Setup": Setup, "QueueInit": QueueInit} {
			c, err := setup(n)
			if c != nil {
				c.Destroy()
			}
			if c != nil || err != unix.EINVAL {
				t.Errorf("%s(%d) = %v, %v; want EINVAL", name, n, c != nil, err)
			}
		}
	}
	c, err := Setup(1<<22 + 1)
	if c != nil {
		c.Destroy()
	}
	if err != unix.EINVAL {
		t.Errorf("Setup(1<<22 + 1) = %v; want EINVAL", err)
	}
}

// TestAuditRWFlagsWide: RWF flags beyond C's int are an unknown flag
// (EOPNOTSUPP from io_submit), not their low 32 bits: Writev2 with 1<<32 used
// to write the file with no flags at all.
func TestAuditRWFlagsWide(t *testing.T) {
	testutil.CheckLeaks(t)
	content := []byte("untouched")
	fd, path := testFile(t, content, unix.O_RDWR)
	for _, flags := range []int{1 << 32, 1<<32 | RWFDsync, -1 << 40} {
		var cb Iocb
		cb.PrepPwritev2(fd, nil, 0, flags)
		if cb.RWFlags != ^uint32(0) {
			t.Errorf("PrepPwritev2(flags %#x): RWFlags %#x; want all bits", flags, cb.RWFlags)
		}
		cb.PrepPreadv2(fd, nil, 0, flags)
		if cb.RWFlags != ^uint32(0) {
			t.Errorf("PrepPreadv2(flags %#x): RWFlags %#x; want all bits", flags, cb.RWFlags)
		}
	}
	q, err := NewQueue(4)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	h, err := q.Writev2(fd, [][]byte{[]byte("XX")}, 0, 1<<32)
	if err == nil {
		_, err = h.Wait(context.Background())
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("Writev2(flags 1<<32) = %v; want EOPNOTSUPP", err)
	}
	h, err = q.Readv2(fd, [][]byte{make([]byte, 4)}, 0, 1<<32|RWFNowait)
	if err == nil {
		_, err = h.Wait(context.Background())
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("Readv2(flags 1<<32|RWF_NOWAIT) = %v; want EOPNOTSUPP", err)
	}
	// A flag C's int holds is passed as it is.
	h, err = q.Writev2(fd, [][]byte{[]byte("XX")}, 0, RWFDsync)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.Wait(context.Background()); n != 2 || err != nil {
		t.Fatalf("Writev2(RWF_DSYNC) = %d, %v", n, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("XX"), content[2:]...); !bytes.Equal(got, want) {
		t.Errorf("file %q; want %q", got, want)
	}
}

// TestAuditInlineReadNotBusy: with every slot in flight, Read of cached data
// is still served inline (a done handle, no slot), while a read that must
// go through io_submit gets ErrBusy, as Read's doc says.
func TestAuditInlineReadNotBusy(t *testing.T) {
	testutil.CheckLeaks(t)
	content := pattern(4096, 3)
	fd, _ := testFile(t, content, unix.O_RDONLY)
	buf := make([]byte, 4096)
	if _, err := unix.Pread(fd, buf, 0); err != nil { // cache it
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	q, err := NewQueue(2)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close() // cancels the polls
	for i := 0; i < q.Depth(); i++ {
		if _, err := q.Poll(p[0], unix.POLLIN); err != nil {
			t.Fatal(err)
		}
	}
	h, err := q.Read(fd, buf, 0)
	if err != nil || !h.IsDone() {
		t.Fatalf("cached Read with every slot busy = %v, %v; want a done handle", h, err)
	}
	if n, err := h.Result(); n != len(buf) || err != nil || !bytes.Equal(buf, content) {
		t.Fatalf("cached Read: %d, %v", n, err)
	}
	q.SetInlineReads(false)
	if _, err := q.Read(fd, buf, 0); err != ErrBusy {
		t.Fatalf("Read through io_submit with every slot busy: %v; want ErrBusy", err)
	}
}

// TestAuditSyncFallback: where io_submit refuses the AIO fsync with EINVAL (a kernel
// before 4.18), File.Sync calls fsync(2) and File.Datasync fdatasync(2) in the caller,
// as their docs say. The filtered thread refuses those with distinct errnos, which
// shows that each fallback ran its own call.
func TestAuditSyncFallback(t *testing.T) {
	testutil.CheckLeaks(t)
	fd, _ := testFile(t, pattern(4096, 9), unix.O_RDWR)
	q := testQueue(t, 4)
	f, err := NewFile(q, fd)
	if err != nil {
		t.Fatal(err)
	}
	rules := []testutil.SyscallRule{
		{Nr: unix.SYS_IO_SUBMIT, Arg: -1, Errno: unix.EINVAL},
		{Nr: unix.SYS_FSYNC, Arg: -1, Errno: unix.EROFS},
		{Nr: unix.SYS_FDATASYNC, Arg: -1, Errno: unix.EDQUOT},
	}
	testutil.OnFilteredThread(t, rules, func() {
		if err := f.Sync(); err != unix.EROFS {
			t.Errorf("Sync with AIO fsync refused: %v; want fsync(2)'s EROFS", err)
		}
		if err := f.Datasync(); err != unix.EDQUOT {
			t.Errorf("Datasync with AIO fdsync refused: %v; want fdatasync(2)'s EDQUOT", err)
		}
		if err := f.SyncContext(context.Background()); err != unix.EROFS {
			t.Errorf("SyncContext with AIO fsync refused: %v; want EROFS", err)
		}
	})
	if err := f.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := f.Datasync(); err != nil {
		t.Errorf("Datasync: %v", err)
	}
}
