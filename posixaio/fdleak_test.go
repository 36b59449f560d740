package posixaio

import (
	"slices"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// TestMain fails the package's tests if they leak file descriptors.
func TestMain(m *testing.M) { testutil.Main(m) }

// TestNoFDsIntoChildren: the eventfds of a NotifyThread Queue and of a
// ThreadSink are close-on-exec (a NotifySuspend Queue has none), so a
// program the user starts meanwhile inherits none of them.
func TestNoFDsIntoChildren(t *testing.T) {
	before := testutil.InheritedFDs(t)
	newQueue(t, 4, NotifySuspend)
	newQueue(t, 4, NotifyThread)
	s, err := NewThreadSink(4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := testutil.InheritedFDs(t); !slices.Equal(got, before) {
		t.Errorf("a child inherits %q (with Queues of both modes and a ThreadSink open); before: %q", got, before)
	}
}
