//go:build !iceber

// Not with the iceber tag: github.com/iceber/iouring-go's Close leaves its
// own epoll instance open, which is the peer's leak, not ours.

package bench_test

import (
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// TestMain fails the package's tests if they leak file descriptors.
func TestMain(m *testing.M) { testutil.Main(m) }
