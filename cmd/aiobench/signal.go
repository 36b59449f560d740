package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/cli"
)

// scratch tracks what a run may leave in -dir: the data files it creates
// (aiobench-<size>.dat) and the temporary files bench.PrepareFile and
// bench.CheckDirectDir make while it runs (bench.TempPrefix: .aiobench-<pid>-*,
// so another aiobench's files in the same dir are not touched). The normal end of the
// run removes the data files unless -keep (remove(false)); SIGINT or SIGTERM
// removes the temporary files and, unless -keep, the data files too
// (remove(true), from the handler of watchSignals), then exits.
type scratch struct {
	mu      sync.Mutex
	dir     string
	keep    bool
	before  map[string]bool // names matching scratchGlob in dir when the run started
	created []string        // data files this run is making or made
}

// scratchGlob matches this process's temporary files (a stale one left by
// an earlier process with the same pid is in before, and stays).
var scratchGlob = bench.TempPrefix + "*"

func newScratch(dir string, keep bool) *scratch {
	s := &scratch{dir: dir, keep: keep, before: map[string]bool{}}
	old, _ := filepath.Glob(filepath.Join(dir, scratchGlob))
	for _, p := range old {
		s.before[p] = true
	}
	return s
}

// creating records that path is about to be made by this run (call it
// before bench.PrepareFile, so an interrupted write is covered too).
func (s *scratch) creating(path string) {
	s.mu.Lock()
	s.created = append(s.created, path)
	s.mu.Unlock()
}

// remove deletes the data files this run created, unless keep; interrupted
// also deletes the temporary files that appeared in dir since the run
// started (those of an unfinished PrepareFile: a data file under its final
// name is complete, so -keep keeps it). It returns what it removed.
func (s *scratch) remove(interrupted bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeLocked(interrupted)
}

func (s *scratch) removeLocked(interrupted bool) []string {
	var gone []string
	if interrupted {
		tmps, _ := filepath.Glob(filepath.Join(s.dir, scratchGlob))
		for _, p := range tmps {
			if !s.before[p] && os.Remove(p) == nil {
				gone = append(gone, p)
			}
		}
	}
	if !s.keep {
		for _, p := range s.created {
			if os.Remove(p) == nil {
				gone = append(gone, p)
			}
		}
		s.created = nil
	}
	return gone
}

// watchSignals makes SIGINT and SIGTERM kill the C program running (if any),
// remove the scratch files and exit
// with status 128+signal (130, 143) until stop is called. The handler keeps
// s locked while it exits, so a normal end racing with it cannot return a
// different status.
func (s *scratch) watchSignals(stderr io.Writer) (stop func()) {
	return cli.WatchSignals("aiobench", stderr, func() string {
		bench.KillC() // no C program outlives the run
		s.mu.Lock()   // kept until the exit
		if gone := s.removeLocked(true); len(gone) > 0 {
			return "; removed " + strings.Join(gone, " ")
		}
		return ""
	})
}
