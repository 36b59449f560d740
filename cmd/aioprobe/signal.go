package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
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

// watchSignals makes SIGINT and SIGTERM remove the scratch files and exit
// with status 128+signal (130, 143) until stop is called.
func watchSignals(stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			scratchFiles.Lock() // held until the exit: no new file
			for p := range scratchFiles.paths {
				os.Remove(p)
			}
			fmt.Fprintf(stderr, "aioprobe: interrupted (%v)\n", sig)
			code := 1
			if n, ok := sig.(syscall.Signal); ok {
				code = 128 + int(n)
			}
			os.Exit(code)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
