package errs

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRefused(t *testing.T) {
	sentinel := errors.New("x unavailable")
	err := error(NewRefused("x: x unavailable", sentinel, unix.EPERM))
	if !errors.Is(err, sentinel) || !errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
		t.Errorf("errors.Is on %v: wrong answers", err)
	}
	if got, want := err.Error(), "x: x unavailable: "+unix.EPERM.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
