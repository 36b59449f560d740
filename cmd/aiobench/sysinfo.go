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
	s.LoadStart = loadAvg()
	return s
}

// loadAvg returns the 1-minute load average from /proc/loadavg (0 if unreadable).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
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
	if _, err := os.Stat(abs); err != nil {
		// Not the filesystem of "/" (the longest prefix of any missing path).
		return "unknown", "unknown"
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

// cpuSample is a snapshot of the machine's and this process's CPU time, in
// clock ticks.
type cpuSample struct {
	busy, total, self uint64
	ok                bool
}

// sampleCPU reads /proc/stat (busy = user+nice+system+irq+softirq+steal,
// total adds idle and iowait) and /proc/self/stat (utime+stime of the process
// and cutime+cstime of its waited-for children, such as the C programs).
func sampleCPU() cpuSample {
	var c cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c
	}
	v := make([]uint64, 8)
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	c.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	c.total = c.busy + v[3] + v[4]
	b, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return c
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return c
	}
	// After "pid (comm)": state is field 3; utime..cstime are fields 14..17.
	g := strings.Fields(string(b[i+1:]))
	if len(g) < 15 {
		return c
	}
	for _, x := range g[11:15] {
		n, _ := strconv.ParseUint(x, 10, 64)
		c.self += n
	}
	c.ok = true
	return c
}

// otherCPU returns the share of all CPU time between a and b that neither
// this process nor its children used (0 if unknown).
func otherCPU(a, b cpuSample) float64 {
	if !a.ok || !b.ok || b.total <= a.total {
		return 0
	}
	other := float64(b.busy-a.busy) - float64(b.self-a.self)
	if other < 0 {
		other = 0
	}
	return other / float64(b.total-a.total)
}
