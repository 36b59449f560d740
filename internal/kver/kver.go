// Package kver reads the running kernel's release (uname -r) and its
// major.minor version, for the few places that word a message or a test
// skip by kernel version. Paths are chosen by what the kernel reports
// (feature bits, probes, errnos), never by this.
package kver

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Release returns the kernel's release string (uname -r), or "unknown".
func Release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

var cached struct {
	once         sync.Once
	major, minor int
	ok           bool
}

// Version returns the kernel's major and minor version; ok is false when
// the release string does not start with two numbers ("6.18.44-x" gives 6,
// 18; "6.18rc1" gives 6, 18).
func Version() (major, minor int, ok bool) {
	cached.once.Do(func() {
		cached.major, cached.minor, cached.ok = Parse(Release())
	})
	return cached.major, cached.minor, cached.ok
}

// Parse is Version for a release string.
func Parse(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	mi := parts[1]
	if i := strings.IndexFunc(mi, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mi = mi[:i]
	}
	ma, err1 := strconv.Atoi(parts[0])
	mn, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return ma, mn, true
}

// AtLeast reports whether the kernel is major.minor or newer; unknown
// gives ifUnknown.
func AtLeast(major, minor int, ifUnknown bool) bool {
	ma, mi, ok := Version()
	if !ok {
		return ifUnknown
	}
	return ma > major || ma == major && mi >= minor
}
