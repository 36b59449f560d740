package cmem_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// Older kernels and restricted systems for DirectIOAlignKnown: statx is
// refused for real by a seccomp filter on the calling thread (ENOSYS: a
// kernel before 4.11; EPERM: a container profile that does not list statx,
// as container runtimes' default profiles did
// before statx was added to them), and a kernel before 6.1, whose statx does not
// report STATX_DIOALIGN (no filter can emulate that), is statx not asked for
// it (DirectIOAlignWithout, export_test.go).

type alignResult struct {
	mem, off uint32
	known    bool
	err      error
}

// alignUnder runs DirectIOAlignKnown(fd) on a thread whose statx fails with
// errno; the test is skipped, naming what is missing, without a filter.
func alignUnder(t *testing.T, fd int, errno unix.Errno) alignResult {
	t.Helper()
	var r alignResult
	testutil.OnFilteredThread(t, []testutil.SyscallRule{{Nr: unix.SYS_STATX, Arg: -1, Errno: errno}}, func() {
		var st unix.Statx_t
		if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE, &st); err != errno {
			t.Errorf("statx under the filter: %v, want %v", err, errno)
		}
		r.mem, r.off, r.known, r.err = cmem.DirectIOAlignKnown(fd)
	})
	return r
}

func directFile(t *testing.T) int {
	t.Helper()
	path := filepath.Join(testutil.TempDir(t), "f")
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// blockDevice opens, read-only and O_DIRECT, a block device (the one under
// the test directory's filesystem, else the first of /sys/class/block that
// opens: a loop device does) and returns it with its logical block size;
// the test is skipped when none can be opened.
func blockDevice(t *testing.T) (fd, lbs int) {
	t.Helper()
	devname := func(sysdir string) string {
		ev, _ := os.ReadFile(sysdir + "/uevent")
		for _, l := range strings.Split(string(ev), "\n") {
			if name, ok := strings.CutPrefix(l, "DEVNAME="); ok {
				return "/dev/" + name
			}
		}
		return ""
	}
	var cands []string
	var st unix.Stat_t
	if err := unix.Stat(testutil.TempDir(t), &st); err == nil {
		cands = append(cands, devname(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))))
	}
	if ents, err := os.ReadDir("/sys/class/block"); err == nil {
		for _, e := range ents {
			cands = append(cands, devname("/sys/class/block/"+e.Name()))
		}
	}
	var errs []string
	for _, path := range cands {
		if path == "" {
			continue
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			errs = append(errs, path+": "+err.Error())
			continue
		}
		t.Cleanup(func() { unix.Close(fd) })
		lbs, err = unix.IoctlGetInt(fd, unix.BLKSSZGET)
		if err != nil {
			t.Fatalf("BLKSSZGET on %s: %v", path, err)
		}
		return fd, lbs
	}
	testutil.SkipNoPrivilege(t, "opening a block device ("+strings.Join(errs, "; ")+")")
	return -1, 0
}

// TestDirectIOAlignStatxRefused: with statx refused, an O_DIRECT file gets
// the DefaultDirectAlign guess (known false) and no error. EPERM was
// returned as the error before, so that libaio.NewFile failed on every
// O_DIRECT descriptor under such a profile.
func TestDirectIOAlignStatxRefused(t *testing.T) {
	fd := directFile(t)
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		r := alignUnder(t, fd, errno)
		if r.err != nil || r.known || r.mem != cmem.DefaultDirectAlign || r.off != cmem.DefaultDirectAlign {
			t.Errorf("statx refused with %v: DirectIOAlignKnown = %d, %d, known %v, %v; want the guess %d, %d, false, nil",
				errno, r.mem, r.off, r.known, r.err, cmem.DefaultDirectAlign, cmem.DefaultDirectAlign)
		}
	}
	// A bad descriptor is still EBADF (from fstat, not the refused statx).
	r := alignUnder(t, 1<<20, unix.ENOSYS)
	if r.err != unix.EBADF {
		t.Errorf("statx refused, bad fd: %v, want EBADF", r.err)
	}
}

// TestDirectIOAlignStatxRefusedBlockDevice: with statx refused, a block
// device's logical block size is still known (fstat tells the device,
// BLKSSZGET its size). Before, the refusal hid the device and the answer
// was the 4096 guess.
func TestDirectIOAlignStatxRefusedBlockDevice(t *testing.T) {
	fd, lbs := blockDevice(t)
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		r := alignUnder(t, fd, errno)
		if r.err != nil || !r.known || int(r.mem) != lbs || int(r.off) != lbs {
			t.Errorf("statx refused with %v, block device: %d, %d, known %v, %v; want %d, %d, true, nil",
				errno, r.mem, r.off, r.known, r.err, lbs, lbs)
		}
	}
}

// TestDirectIOAlignNoStatxDIOAlign: a kernel before 6.1 (statx without
// STATX_DIOALIGN in its mask): a file gets the guess, a block device its
// logical block size.
func TestDirectIOAlignNoStatxDIOAlign(t *testing.T) {
	mem, off, known, err := cmem.DirectIOAlignWithout(directFile(t))
	if err != nil || known || mem != cmem.DefaultDirectAlign || off != cmem.DefaultDirectAlign {
		t.Errorf("file: %d, %d, known %v, %v; want the guess", mem, off, known, err)
	}
	fd, lbs := blockDevice(t)
	mem, off, known, err = cmem.DirectIOAlignWithout(fd)
	if err != nil || !known || int(mem) != lbs || int(off) != lbs {
		t.Errorf("block device: %d, %d, known %v, %v; want %d, %d, true, nil", mem, off, known, err, lbs, lbs)
	}
}
