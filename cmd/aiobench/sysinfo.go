package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aiokit/aio/internal/bench"
	"golang.org/x/sys/unix"
)

// systemFacts collects the kernel (uname), CPUs, memory, Go version and the
// filesystem of dir (from /proc/self/mountinfo).
func systemFacts(dir string) bench.System {
	s := bench.System{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		Dir:        dir,
		Time:       time.Now().UTC().Format(time.RFC3339),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				s.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				s.MemTotalKB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	s.DirFS, s.DirDevice = mountOf(dir)
	return s
}

// mountOf returns the filesystem type and mount source of the mount that
// holds dir: the longest mount point in /proc/self/mountinfo that prefixes
// dir's resolved absolute path.
func mountOf(dir string) (fstype, source string) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown", "unknown"
	}
	defer f.Close()
	best := -1
	fstype, source = "unknown", "unknown"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 2 {
			continue
		}
		mp := unescapeMount(pf[4])
		if abs == mp || mp == "/" || strings.HasPrefix(abs, mp+"/") {
			if len(mp) >= best {
				best = len(mp)
				fstype, source = qf[0], unescapeMount(qf[1])
			}
		}
	}
	return fstype, source
}

// unescapeMount undoes the octal escapes (\040 for space...) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
