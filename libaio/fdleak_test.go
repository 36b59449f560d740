package libaio

import (
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// TestMain fails the package's tests if they leak file descriptors. In a child
// started with testutil.SelfCommand it runs runChild instead (oldkernel_test.go).
func TestMain(m *testing.M) { testutil.MainOrRun(m, runChild) }
