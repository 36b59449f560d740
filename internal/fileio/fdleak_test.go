package fileio_test

import (
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// TestMain fails the package's tests if they leak file descriptors.
func TestMain(m *testing.M) { testutil.Main(m) }
