// Package cli holds what the two commands (cmd/aiobench, cmd/aioprobe)
// share: output whose write errors are checked once, and the signal handler
// (SIGHUP, SIGINT, SIGTERM, and SIGPIPE from a closed stdout or stderr) that
// removes their scratch files before they exit.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
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

// BrokenPipe is the exit status after a write to a closed pipe on stdout
// or stderr (`| head -1`): 128+SIGPIPE, what the shell reports when such a
// write kills a process, as it would without WatchSignals.
const BrokenPipe = 128 + int(syscall.SIGPIPE)

// IsBrokenPipe reports whether err is a write's EPIPE: the reader of the pipe
// (or the peer of the socket) went away. The command then exits with status
// BrokenPipe and no message.
func IsBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }

// WatchSignals makes SIGHUP, SIGINT and SIGTERM call cleanup, print
// "<prog>: interrupted (<signal>)" and cleanup's result to stderr, and exit
// with status 128+signal (129, 130, 143), until stop is called; SIGHUP
// only when the process did not start with it ignored (nohup). A write to a closed pipe on stdout or stderr, which kills a Go
// program with SIGPIPE before any deferred cleanup, calls cleanup too and
// exits with status BrokenPipe (141), silently: that write now fails with
// EPIPE (IsBrokenPipe) instead, and a SIGPIPE of a write to another
// descriptor changes nothing. Programs the command starts get the default
// SIGPIPE action all the same. cleanup runs in the handler's goroutine just
// before the exit; it may take a lock and keep it, so that no new scratch
// file appears and a normal end racing with the signal cannot report
// another status.
func WatchSignals(prog string, stderr io.Writer, cleanup func() string) (stop func()) {
	ch := make(chan os.Signal, 1)
	sigs := []os.Signal{syscall.SIGPIPE, syscall.SIGINT, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if sig == syscall.SIGPIPE {
					if !outputClosed() {
						continue // another descriptor's: its write got EPIPE
					}
					cleanup()
					os.Exit(BrokenPipe)
				}
				fmt.Fprintf(stderr, "%s: interrupted (%v)%s\n", prog, sig, cleanup())
				code := 1
				if n, ok := sig.(syscall.Signal); ok {
					code = 128 + int(n)
				}
				os.Exit(code)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// outputClosed reports whether stdout or stderr is a pipe or socket whose
// other end is gone (poll says POLLERR or POLLHUP).
func outputClosed() bool {
	fds := []unix.PollFd{{Fd: 1}, {Fd: 2}}
	if n, err := unix.Poll(fds, 0); err != nil || n == 0 {
		return false
	}
	for _, f := range fds {
		if f.Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return true
		}
	}
	return false
}

// ParseFlags parses args with fs (made with flag.ContinueOnError) as the
// flag package would, but names the program in a parse error ("aiobench:
// flag provided but not defined: -x"), then prints fs.Usage to stderr. It
// returns ok false and the exit status when the command must stop: 0 after
// -h or -help (the usage was asked for), 2 after a bad flag.
func ParseFlags(fs *flag.FlagSet, prog string, args []string, stderr io.Writer) (code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	fs.Usage = usage
	if err == nil {
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return 0, false
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	fs.Usage()
	return 2, false
}
