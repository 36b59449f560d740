// Package errs holds error types the backends share.
package errs

import "golang.org/x/sys/unix"

// Refused is the error of a setup call that the system refused as a whole
// (io_uring_setup, io_setup): its text is msg and the errno, it matches
// sentinel (the backend's ErrUnavailable) and, through Unwrap, the errno.
type Refused struct {
	msg      string
	sentinel error
	errno    unix.Errno
}

// NewRefused returns a *Refused.
func NewRefused(msg string, sentinel error, errno unix.Errno) *Refused {
	return &Refused{msg: msg, sentinel: sentinel, errno: errno}
}

// Error names the refusal and its errno.
func (e *Refused) Error() string { return e.msg + ": " + e.errno.Error() }

// Is makes errors.Is(err, sentinel) true.
func (e *Refused) Is(target error) bool { return target == e.sentinel }

// Unwrap exposes the errno (errors.Is(err, unix.EPERM)).
func (e *Refused) Unwrap() error { return e.errno }
