package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aiokit/aio/internal/bench"
	"github.com/aiokit/aio/internal/cli"
)

// scratch tracks what a run may leave in -dir: the data files it creates
// (aiobench-<size>.dat) and the temporary files bench.PrepareFile and
// bench.CheckDirectDir make while it runs (bench.TempPrefix: .aiobench-<pid>-*,
// so another aiobench's files in the same dir are not touched). The normal end of the
// run removes the data files unless -keep (remove(false)); a signal
// removes the temporary files and, unless -keep, the data files too
// (remove(true), from the handler of watchSignals), then exits.
type scratch struct {
	mu      sync.Mutex
	dir     string
	keep    bool
	before  map[string]bool // names matching scratchGlob in dir when the run started
	created []string        // data files this run is making or made
	links   []string        // this run's own names of the data files (see link)
	id      int64           // tells apart the runs of one process (tests) in link names
}

var scratchIDs atomic.Int64

// scratchGlob matches this process's temporary files (a stale one left by
// an earlier process with the same pid is in before, and stays).
var scratchGlob = bench.TempPrefix + "*"

func newScratch(dir string, keep bool) *scratch {
	s := &scratch{dir: dir, keep: keep, before: map[string]bool{}, id: scratchIDs.Add(1)}
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

// link gives the data file path a second name of this run's own
// (bench.TempPrefix, the run's id, and its name: a hard link) and returns it, for the engines
// to open: a run that reuses a data file another run made then still reads
// it after that run ended and removed it (runs without -keep remove the
// files they made). The link always goes at the end of the run. Where no
// link can be made (a read-only dir, a filesystem without hard links) it
// returns path.
func (s *scratch) link(path string) string {
	l := filepath.Join(filepath.Dir(path), fmt.Sprintf("%s%d-%s", bench.TempPrefix, s.id, filepath.Base(path)))
	s.mu.Lock()
	defer s.mu.Unlock()
	os.Remove(l) // a stale one of an earlier process with this pid
	if os.Link(path, l) != nil {
		return path
	}
	s.links = append(s.links, l)
	return l
}

// remove deletes the data files this run created, unless keep, and its links; interrupted
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
	for _, p := range s.links {
		if os.Remove(p) == nil && !interrupted { // interrupted: the glob above took it
			gone = append(gone, p)
		}
	}
	s.links = nil
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

// watchSignals makes SIGHUP, SIGINT and SIGTERM, and a write to a closed
// stdout or stderr, kill the C program running (if any), remove the scratch
// files and exit with status 128+signal (129, 130, 143; 141, silently, for
// the pipe: cli.WatchSignals) until stop is called. The handler keeps
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
