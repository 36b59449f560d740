package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aiokit/aio/internal/testutil"
)

// On tmpfs the text said "O_DIRECT accepted (memory alignment 4096, offset
// alignment 4096)" as if the kernel had reported them, while the JSON said
// (dio_align_guess) that they were the 4096 guess.
func TestUserMemoryFSAlignGuessShown(t *testing.T) {
	const why = "statx does not report STATX_DIOALIGN here (Linux before 6.1, or this file system)"
	rep := &Report{System: System{Dir: "/dev/shm", FSType: "tmpfs", DirectIO: true, MemoryFS: true,
		DIOMemAlign: 4096, DIOOffsetAlign: 4096, DIOAlignGuess: why}}
	var out bytes.Buffer
	if err := Print(&out, rep); err != nil {
		t.Fatal(err)
	}
	line := strings.SplitN(out.String(), "\n", 3)[1]
	for _, want := range []string{"alignment not reported: " + why, "4096 assumed", "direct reads do not reach a device"} {
		if !strings.Contains(line, want) {
			t.Errorf("directory line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "offset alignment 4096") {
		t.Errorf("directory line presents the guessed alignment as reported:\n%s", line)
	}
	rep.System.DIOAlignGuess = ""
	out.Reset()
	Print(&out, rep)
	if !strings.Contains(out.String(), "O_DIRECT accepted (memory alignment 4096, offset alignment 4096)") {
		t.Errorf("reported alignments not shown:\n%s", out.String())
	}
}

// Where O_DIRECT does not open (ramfs, some FUSE and network file systems)
// each backend's direct row said "open: invalid argument", an EINVAL no call
// had returned, under a note saying the direct rows were skipped.
func TestUserDirectRowWithoutODirect(t *testing.T) {
	d := &dataFile{path: "/nonexistent/aioprobe-test", direct: false}
	fd, _, done, msg := d.readSetup("direct", 4)
	if done != nil {
		done()
	}
	if fd != -1 || !strings.Contains(msg, "O_DIRECT not supported") || strings.Contains(msg, "invalid argument") {
		t.Errorf("readSetup(direct) without O_DIRECT: fd %d, msg %q", fd, msg)
	}
}

// On tmpfs io_uring hands every buffered read to its io-wq workers (the
// files refuse RWF_NOWAIT), and on 2 CPUs they often finish a batch before
// io_uring_submit returns: that was reported "inline", "the call did them
// all", which it did not. It is "workers" (or async).
func TestUserUringWorkersOnTmpfs(t *testing.T) {
	dir := testutil.TmpfsDir(t)
	rep, err := Run(dir, 32)
	if err != nil {
		t.Fatal(err)
	}
	workers := false
	for _, a := range rep.Uring.Async {
		if a.Error != "" || rep.System.NowaitRead {
			continue // (a tmpfs that takes RWF_NOWAIT reads inline, truly)
		}
		switch a.Verdict {
		case "inline":
			// Possible only if a worker still awake from the previous batch took
			// the reads without being scheduled anew (not seen in /proc): logged.
			t.Logf("uring %s on tmpfs: verdict inline (%d of %d done at return)", a.Mode, a.DoneAtReturn, a.Batch)
		case "workers":
			workers = true
		}
	}
	t.Logf("a workers verdict seen: %v", workers) // (the workers may have exited since, with the ring)
	for _, c := range []struct {
		done, batch int
		ran         bool
		want        string
	}{
		{32, 32, true, "workers"}, {31, 32, true, "async"}, {32, 32, false, "inline"}, {0, 32, false, "async"},
	} {
		if got := uringVerdict(c.done, c.batch, c.ran); got != c.want {
			t.Errorf("uringVerdict(%d/%d, workers ran %v) = %q, want %q", c.done, c.batch, c.ran, got, c.want)
		}
	}
	if !workersRan(nil, map[string]uint64{"7": 1}) || !workersRan(map[string]uint64{"7": 1}, map[string]uint64{"7": 2}) ||
		workersRan(map[string]uint64{"7": 2}, map[string]uint64{"7": 2}) || workersRan(nil, nil) {
		t.Error("workersRan: a new or busier worker must count, an unchanged one not")
	}
}
