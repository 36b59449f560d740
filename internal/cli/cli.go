// Package cli holds what the two commands (cmd/aiobench, cmd/aioprobe)
// share: output whose write errors are checked once, and the SIGINT/SIGTERM
// handler that removes their scratch files before they exit.
package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ErrWriter keeps the first error of its writes (and fails every later
// one), so that output made of many Fprintf calls is checked once, at the
// end, through Err.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	if err != nil {
		e.Err = err
	}
	return n, err
}

// WatchSignals makes SIGINT and SIGTERM call cleanup, print
// "<prog>: interrupted (<signal>)" and cleanup's result to stderr, and exit
// with status 128+signal (130, 143), until stop is called. cleanup runs in
// the handler's goroutine just before the exit; it may take a lock and keep
// it, so that no new scratch file appears and a normal end racing with the
// signal cannot report another status.
func WatchSignals(prog string, stderr io.Writer, cleanup func() string) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "%s: interrupted (%v)%s\n", prog, sig, cleanup())
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
