package testutil

import (
	"bytes"
	"testing"
)

// TestAppCopySpanStep walks spans of a 10000-byte file in 4096-byte blocks
// through AppCopySpan.Step: a read in two parts then its write, the short
// read at the end of the file (written as a whole block, zero-padded), and
// the counts Step must refuse.
func TestAppCopySpanStep(t *testing.T) {
	const size, block = 10000, 4096
	var tally AppCopyTally
	buf := bytes.Repeat([]byte{0xee}, 2*block)
	s := AppCopySpan{Busy: true, Off: 0, Want: 2 * block}
	steps := []struct {
		n           int
		busy, write bool
		done        int
	}{
		{block, true, false, block},         // half the read: the rest next
		{block, true, true, 0},              // read whole: now the write
		{2 * block, false, true, 2 * block}, // written: idle
	}
	for i, st := range steps {
		if err := s.Step(st.n, size, block, buf, &tally); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.Busy != st.busy || s.Write != st.write || s.Done != st.done {
			t.Fatalf("step %d: %+v, want busy %v write %v done %d", i, s, st.busy, st.write, st.done)
		}
	}
	if tally.Written != 2*block || tally.ShortEOF != 0 {
		t.Fatalf("tally %+v after the first span", tally)
	}
	if err := s.Step(1, size, block, buf, &tally); err == nil {
		t.Fatal("Step of an idle slot: no error")
	}
	// The last span: 10000-8192 = 1808 bytes of data in a block.
	s = AppCopySpan{Busy: true, Off: 2 * block, Want: block}
	if err := s.Step(size-2*block, size, block, buf, &tally); err != nil {
		t.Fatal(err)
	}
	if !s.Busy || !s.Write || s.Done != 0 || tally.ShortEOF != 1 {
		t.Fatalf("after the short read at the end: %+v, tally %+v", s, tally)
	}
	if !bytes.Equal(buf[size-2*block:block], make([]byte, block-(size-2*block))) || buf[0] != 0xee {
		t.Fatal("the block after the data at the end of the file was not zeroed (or more was)")
	}
	if err := s.Step(block, size, block, buf, &tally); err != nil || s.Busy || tally.Written != size {
		t.Fatalf("the last write: %v, %+v, tally %+v", err, s, tally)
	}
	// Short counts before the end of the file: 0, or not whole blocks.
	for _, n := range []int{0, 100} {
		for _, write := range []bool{false, true} {
			s = AppCopySpan{Busy: true, Write: write, Want: 2 * block}
			if err := s.Step(n, size, block, buf, &tally); err == nil {
				t.Errorf("Step(%d) of a %d-byte span (write %v) before the end: no error", n, 2*block, write)
			}
		}
	}
}
