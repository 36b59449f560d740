package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/testutil"
	"golang.org/x/sys/unix"
)

// When the page-cache file cannot be mlocked its rows are skipped, but the
// header (and the JSON's cache_size) still named a page-cache data file
// "(mmap+mlock while measured)" for rows that never ran.
func TestUserMlockRefusedNamesNoCacheFile(t *testing.T) {
	if !testutil.InChild(t) {
		return
	}
	testutil.SkipNoSeccomp(t, testutil.DenySyscalls([]testutil.SyscallRule{{Nr: unix.SYS_MLOCK, Arg: -1, Errno: unix.EPERM}}, true))
	dir := testutil.TempDir(t)
	var out, errb bytes.Buffer
	code := run([]string{"-quick", "-reps", "1", "-json", "-dir", dir, "-filter", `^(read4k/cache/qd1 goroutines/readat|nop/qd1 uring/raw)$`}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r, err := bench.ReadJSON(&out)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(r.Notes, "\n")
	if !strings.Contains(notes, "page-cache row skipped") {
		t.Fatalf("mlock refused, yet no page-cache rows skipped: notes %q", r.Notes)
	}
	// The note names the data file, not the run's hard link of it.
	if !strings.Contains(notes, filepath.Join(dir, bench.DataFileName(4<<20))) || strings.Contains(notes, bench.TempPrefix) { // -quick: 4 MiB
		t.Errorf("the note does not name the data file: %q", notes)
	}
	for _, row := range r.Rows {
		if row.Op == bench.OpRead4k {
			t.Errorf("row %s ran", row.Name)
		}
	}
	if r.Config.CacheSize != 0 {
		t.Errorf("cache_size %d in a report with no page-cache row", r.Config.CacheSize)
	}
	var text bytes.Buffer
	bench.WriteText(&text, r)
	if !strings.Contains(text.String(), "page cache none") {
		t.Errorf("header names a page-cache file:\n%s", text.String())
	}
}

// The header gave a -dir that does not exist (a run of NOP rows needs none)
// the filesystem of "/", the longest mount point prefixing any path.
func TestUserMissingDirHasNoFilesystem(t *testing.T) {
	if fs, src := mountOf("/nonexistent-aiobench/dir"); fs != "unknown" || src != "unknown" {
		t.Errorf("mountOf(missing dir) = %s on %s, want unknown", fs, src)
	}
	if fs, _ := mountOf("/"); fs == "unknown" {
		t.Errorf("mountOf(/) unknown")
	}
}
