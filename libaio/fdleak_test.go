package libaio

import (
	"slices"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// TestMain fails the package's tests if they leak file descriptors. In a child
// started with testutil.SelfCommand it runs runChild instead (oldkernel_test.go).
func TestMain(m *testing.M) { testutil.MainOrRun(m, runChild) }

// TestNoFDsIntoChildren: a Queue's eventfd is close-on-exec, so a program
// the user starts meanwhile does not inherit it.
func TestNoFDsIntoChildren(t *testing.T) {
	before := testutil.InheritedFDs(t)
	q := testQueue(t, 4)
	if got := testutil.InheritedFDs(t); !slices.Equal(got, before) {
		t.Errorf("a child inherits %q (with a Queue, eventfd %d, open); before: %q", got, q.notifier.FD(), before)
	}
}
