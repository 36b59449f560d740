package uring

import (
	"slices"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMain fails the package's tests if they leak file descriptors.
func TestMain(m *testing.M) { testutil.Main(m) }

// TestNoFDsIntoChildren: the descriptors a Ring, a Queue (ring and eventfd)
// and an OpenFile hold are close-on-exec, so a program the user starts
// meanwhile inherits none of them.
func TestNoFDsIntoChildren(t *testing.T) {
	before := testutil.InheritedFDs(t)
	r := rawRing(t, 4, nil)
	q := newTestQueue(t, QueueConfig{Entries: 8})
	path, _ := tempFile(t, []byte("data"))
	f, err := OpenFile(q, path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := testutil.InheritedFDs(t); !slices.Equal(got, before) {
		t.Errorf("a child inherits %q (with ring fd %d, queue ring fd %d, file fd %d open); before: %q", got, r.Fd(), q.Ring().Fd(), f.Fd(), before)
	}
}
