package main

import (
	"bytes"
	"strings"
	"testing"
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
