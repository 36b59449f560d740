//go:build iceber

package bench

import (
	"testing"
	"time"

	"github.com/aiokit/aio/internal/testutil"
)

// go test -tags iceber -ldflags=-checklinkname=0 ./internal/bench
func TestIceberEngines(t *testing.T) {
	path, err := PrepareFile(testutil.TempDir(t), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iceber-batch", "iceber-request"} {
		e, ok := Lookup("uring/" + name)
		if !ok {
			t.Fatalf("engine uring/%s not registered", name)
		}
		for _, s := range []Spec{
			{Op: OpNop, QD: 8},
			{Op: OpRead4k, QD: 8, Path: path, Size: 1 << 20},
			{Op: OpRead4k, QD: 8, Path: path, Size: 1 << 20, Direct: true},
		} {
			s.Dur, s.Seed = 20*time.Millisecond, 3
			res, err := Measure(e, s)
			if err != nil {
				t.Fatalf("uring/%s %+v: %v", name, s, err)
			}
			if res.Ops < int64(s.QD) {
				t.Fatalf("uring/%s %+v: %d ops", name, s, res.Ops)
			}
		}
	}
}
