package main

import (
	"io"
	"os"
	"sync"

	"github.com/aiokit/aio/internal/cli"
)

// scratchFiles are the scratch files that exist now (made by probeSystem,
// removed by dataFile.Close), so that a signal can remove them too.
var scratchFiles = struct {
	sync.Mutex
	paths map[string]bool
}{paths: map[string]bool{}}

// createScratch creates a scratch file in dir and records it, both under the
// lock, so a signal cannot fall between the two.
func createScratch(dir string) (*os.File, error) {
	scratchFiles.Lock()
	defer scratchFiles.Unlock()
	f, err := os.CreateTemp(dir, "aioprobe-")
	if err == nil {
		scratchFiles.paths[f.Name()] = true
	}
	return f, err
}

func removeScratch(path string) {
	scratchFiles.Lock()
	defer scratchFiles.Unlock()
	os.Remove(path)
	delete(scratchFiles.paths, path)
}

// watchSignals makes SIGHUP, SIGINT and SIGTERM, and a write to a closed
// stdout or stderr, remove the scratch files and exit with status
// 128+signal (129, 130, 143; 141, silently, for the pipe: cli.WatchSignals)
// until stop is called.
func watchSignals(stderr io.Writer) (stop func()) {
	return cli.WatchSignals("aioprobe", stderr, func() string {
		scratchFiles.Lock() // held until the exit: no new file
		for p := range scratchFiles.paths {
			os.Remove(p)
		}
		return ""
	})
}
