package schedyield

import (
	"testing"
	"time"
)

// TestGate: the first wait yields, the next ones within Every do not, and
// one of the ClockEvery after Every does again.
func TestGate(t *testing.T) {
	var g Gate
	if g.Last() != 0 {
		t.Fatal("new gate has yielded")
	}
	g.BeforeBlock()
	first := g.Last()
	if first == 0 {
		t.Fatal("first BeforeBlock did not yield")
	}
	g.BeforeBlock()
	if g.Last() != first && time.Duration(g.Last()-first) < Every {
		t.Fatalf("yielded again after %v", time.Duration(g.Last()-first))
	}
	time.Sleep(Every + time.Millisecond)
	for i := 0; i < ClockEvery; i++ {
		g.BeforeBlock()
	}
	if g.Last() == first {
		t.Fatalf("no yield in %d calls after Every", ClockEvery)
	}
}
