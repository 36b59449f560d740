package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The first outputs of the generator are pinned: bench_common.h (C) must
// produce exactly these, and so must any other implementation.
func TestRandPinned(t *testing.T) {
	cases := []struct {
		seed uint64
		want []uint64
	}{
		{1, []uint64{0x47e4ce4b896cdd1d, 0xabcfa6a8e079651d, 0xb9d10d8feb731f57, 0x4db418a0bb1b019d, 0x0e6199b04d5aa600}},
		{0, []uint64{0x015f6958028f9348, 0xca16c6bbfa7fa781, 0x5a65feae5ef1f5e3, 0x54c489ba613d6dff, 0x6e59414a9dcca91d}}, // from RandZeroSeed (computed in Python)
		{42, []uint64{0x56ce4ab7719ba3a0, 0xc841eb53ebbb2dda, 0xca466be0c9980276, 0xf1acc7334a7b70df, 0xc3af4dd7fb900a06}},
	}
	for _, c := range cases {
		r := NewRand(c.seed)
		for i, w := range c.want {
			if got := r.Next(); got != w {
				t.Errorf("seed %d output %d = %#x, want %#x", c.seed, i, got, w)
			}
		}
	}
	// Offsets in a 1 GiB file with seed 42.
	r := NewRand(42)
	for i, w := range []int64{976879616, 853385216, 2580480, 923660288, 10510336} {
		if got := r.Offset(1 << 30); got != w {
			t.Errorf("seed 42 offset %d = %d, want %d", i, got, w)
		}
	}
}

func TestRandOffsetRange(t *testing.T) {
	const size = 10 * BlockSize
	r := NewRand(7)
	seen := map[int64]bool{}
	for i := 0; i < 10000; i++ {
		off := r.Offset(size)
		if off < 0 || off+BlockSize > size || off%BlockSize != 0 {
			t.Fatalf("offset %d outside a %d-byte file or unaligned", off, size)
		}
		seen[off] = true
	}
	if len(seen) != 10 {
		t.Errorf("10000 draws hit %d of 10 blocks", len(seen))
	}
	// Less than one block: offset 0, generator still advances.
	a, b := NewRand(9), NewRand(9)
	if off := a.Offset(100); off != 0 {
		t.Errorf("Offset(100) = %d, want 0", off)
	}
	b.Next()
	if a.Next() != b.Next() {
		t.Error("Offset on a tiny file did not advance the generator")
	}
}

func TestWorkerSeed(t *testing.T) {
	if WorkerSeed(42, 0) != 42 {
		t.Errorf("WorkerSeed(42, 0) = %d, want 42", WorkerSeed(42, 0))
	}
	if got, want := WorkerSeed(42, 1), uint64(11400714819323198527); got != want {
		t.Errorf("WorkerSeed(42, 1) = %d, want %d", got, want)
	}
	if NewRand(WorkerSeed(5, 1)).Next() == NewRand(WorkerSeed(5, 2)).Next() {
		t.Error("workers 1 and 2 start alike")
	}
	// Seed 0: worker 0's zero seed is replaced, and no worker of the 128 an
	// engine may have gets the replacement (with the step as replacement,
	// workers 0 and 1 read the same offsets).
	first := map[uint64]int{}
	for i := 0; i < 128; i++ {
		x := NewRand(WorkerSeed(0, i)).Next()
		if j, ok := first[x]; ok {
			t.Fatalf("seed 0: workers %d and %d start alike", j, i)
		}
		first[x] = i
	}
}

// buildTestC compiles internal/bench/testdata/<name>.c against
// testdata/c/bench_common.h into a temporary directory.
func buildTestC(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Fatalf("no C compiler (cgo needs one too): %v", err)
	}
	inc, err := filepath.Abs(filepath.Join("..", "..", "testdata", "c"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name)
	msg, err := exec.Command("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I", inc, "-o", out, filepath.Join("testdata", name+".c")).CombinedOutput()
	if err != nil {
		t.Fatalf("cc %s: %v\n%s", name, err, msg)
	}
	return out
}

// The C generator in bench_common.h gives the same outputs, offsets and
// worker seeds as the Go one.
func TestRandMatchesC(t *testing.T) {
	bin := buildTestC(t, "randdump")
	for _, c := range []struct {
		seed uint64
		size int64
	}{{0, 1 << 30}, {1, 256 << 20}, {42, 1 << 30}, {^uint64(0), 12345 * BlockSize}, {7, 100}} {
		const n, workers = 200, 5
		out, err := exec.Command(bin, strconv.FormatUint(c.seed, 10), strconv.Itoa(n), strconv.FormatInt(c.size, 10), strconv.Itoa(workers)).Output()
		if err != nil {
			t.Fatalf("randdump: %v", err)
		}
		var want []string
		a, b := NewRand(c.seed), NewRand(c.seed)
		for i := 0; i < n; i++ {
			want = append(want, fmt.Sprintf("%d %d", a.Next(), b.Offset(c.size)))
		}
		for i := 0; i < workers; i++ {
			want = append(want, fmt.Sprintf("w%d %d", i, WorkerSeed(c.seed, i)))
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					t.Fatalf("seed %d size %d: line %d: C %q, Go %q", c.seed, c.size, i, safeIndex(got, i), want[i])
				}
			}
			t.Fatalf("seed %d: C printed %d lines, Go %d", c.seed, len(got), len(want))
		}
	}
}

func safeIndex(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<missing>"
}
