package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aiokit/aio/cgo/cmem"
	"github.com/aiokit/aio/internal/bench"
	"golang.org/x/sys/unix"
)

// System describes the kernel and the probed directory.
type System struct {
	Kernel         string `json:"kernel"`
	Machine        string `json:"machine"`
	CPUs           int    `json:"cpus"`
	Dir            string `json:"dir"`
	FSType         string `json:"fs_type"`
	DirectIO       bool   `json:"direct_io"`
	DirectIOError  string `json:"direct_io_error,omitempty"`
	DIOMemAlign    uint32 `json:"dio_mem_align,omitempty"`
	DIOOffsetAlign uint32 `json:"dio_offset_align,omitempty"`
	// DIOAlignGuess is set when the kernel did not say the O_DIRECT
	// alignments (no statx, or no STATX_DIOALIGN: Linux before 6.1, or
	// this file system) and DIOMemAlign and DIOOffsetAlign are
	// cmem.DefaultDirectAlign, a guess; it says why.
	DIOAlignGuess string `json:"dio_align_guess,omitempty"`
	// NowaitRead says whether preadv2(RWF_NOWAIT) reads cached data of
	// a buffered file in Dir: uring.File, libaio.File and the Queue
	// reads do that in the calling goroutine before they queue a read.
	// NowaitReadError is why not (no preadv2 before Linux 4.6, no
	// RWF_NOWAIT reads before 4.14 or on this file system, a seccomp
	// filter).
	NowaitRead      bool   `json:"nowait_read"`
	NowaitReadError string `json:"nowait_read_error,omitempty"`
	// MemoryFS is set when Dir is on tmpfs or ramfs: O_DIRECT may be
	// accepted (tmpfs, Linux 6.6+) but reads are served from memory and
	// never reach a device, so aiobench skips its O_DIRECT rows there.
	MemoryFS bool `json:"memory_fs,omitempty"`
}

const (
	fileSize  = 64 << 20
	blockSize = 4096
)

// dataFile is the scratch file: 64 MiB of random data, synced to disk.
type dataFile struct {
	path   string
	direct bool
	rng    *rand.Rand
}

func (d *dataFile) Close() { removeScratch(d.path) }

// offsets returns n distinct random block-aligned offsets.
func (d *dataFile) offsets(n int) []int64 {
	seen := map[int64]bool{}
	var offs []int64
	for len(offs) < n {
		o := d.rng.Int63n(fileSize/blockSize) * blockSize
		if !seen[o] {
			seen[o] = true
			offs = append(offs, o)
		}
	}
	return offs
}

// open opens the file for a mode, dropping or warming the page cache first.
func (d *dataFile) open(mode string) (int, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if mode == "direct" {
		if !d.direct {
			return -1, unix.EINVAL
		}
		flags |= unix.O_DIRECT
	}
	fd, err := unix.Open(d.path, flags, 0)
	if err != nil {
		return -1, err
	}
	switch mode {
	case "buffered-cold", "direct":
		// Clean pages are dropped, so the reads must go to the device.
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	case "buffered-warm":
		buf := make([]byte, 1<<20)
		for off := int64(0); off < fileSize; off += int64(len(buf)) {
			unix.Pread(fd, buf, off)
		}
	}
	return fd, nil
}

func probeSystem(dir string) (System, *dataFile, error) {
	var s System
	var u unix.Utsname
	unix.Uname(&u)
	s.Kernel = unix.ByteSliceToString(u.Release[:])
	s.Machine = unix.ByteSliceToString(u.Machine[:])
	s.CPUs = runtime.NumCPU()
	s.Dir = dir
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return s, nil, fmt.Errorf("statfs %s: %w", dir, err)
	}
	s.FSType = bench.FSTypeName(st.Type)
	s.MemoryFS = bench.MemoryFS(st.Type)

	f, err := createScratch(dir)
	if err != nil {
		return s, nil, err
	}
	d := &dataFile{path: f.Name(), rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
	buf := make([]byte, 1<<20)
	for off := 0; off < fileSize; off += len(buf) {
		d.rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			d.Close()
			return s, nil, err
		}
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		d.Close()
		return s, nil, err
	}
	s.NowaitRead, s.NowaitReadError = probeNowait(d.path)
	fd, err := unix.Open(d.path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		s.DirectIOError = err.Error()
		return s, d, nil
	}
	defer unix.Close(fd)
	mem, off, known, err := cmem.DirectIOAlignKnown(fd)
	if err != nil {
		s.DirectIOError = err.Error()
		return s, d, nil
	}
	s.DirectIO, d.direct = true, true
	s.DIOMemAlign, s.DIOOffsetAlign = mem, off
	if !known {
		s.DIOAlignGuess = dioAlignWhy(fd)
	}
	return s, d, nil
}

// dioAlignWhy says why the kernel did not tell fd's O_DIRECT alignments.
func dioAlignWhy(fd int) string {
	var st unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	switch {
	case err == unix.ENOSYS:
		return "no statx (ENOSYS: Linux before 4.11, or refused by a seccomp filter)"
	case err != nil:
		return "statx: " + err.Error()
	case st.Mask&unix.STATX_DIOALIGN == 0:
		return "statx does not report STATX_DIOALIGN here (Linux before 6.1, or this file system)"
	}
	return "statx reported no usable STATX_DIOALIGN"
}

// probeNowait reads the first byte of the (just written, so cached) file at
// path with preadv2(RWF_NOWAIT), as the handle layers' inline reads do.
// EAGAIN (the page was not cached after all) still shows that the kernel
// takes the flag.
func probeNowait(path string) (bool, string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, "open: " + err.Error()
	}
	defer unix.Close(fd)
	_, err = unix.Preadv2(fd, [][]byte{make([]byte, 1)}, 0, unix.RWF_NOWAIT)
	switch err {
	case nil, unix.EAGAIN:
		return true, ""
	case unix.ENOSYS:
		return false, "preadv2: " + err.Error() + " (no preadv2: Linux before 4.6, or refused by a seccomp filter)"
	case unix.EOPNOTSUPP, unix.EINVAL:
		return false, "preadv2(RWF_NOWAIT): " + err.Error() + " (no RWF_NOWAIT reads: Linux before 4.14, or this file system)"
	case unix.EPERM:
		return false, "preadv2: " + err.Error() + " (refused by a seccomp filter)"
	}
	return false, "preadv2(RWF_NOWAIT): " + err.Error()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readSetup opens the data file for mode and makes depth aligned 4 KiB
// buffers for a batch of reads; done frees them and closes the descriptor.
// On failure msg is the AsyncResult error to report.
func (d *dataFile) readSetup(mode string, depth int) (fd int, bufs [][]byte, done func(), msg string) {
	if mode == "direct" && !d.direct {
		// Not an open that failed now (open would say a bare EINVAL):
		// the directory line says why O_DIRECT does not work here.
		return -1, nil, nil, "skipped: O_DIRECT not supported in this directory"
	}
	fd, err := d.open(mode)
	if err != nil {
		return -1, nil, nil, "open: " + err.Error()
	}
	mem, bufs, err := alignedBuffers(depth)
	if err != nil {
		unix.Close(fd)
		return -1, nil, nil, err.Error()
	}
	return fd, bufs, func() { mem.Free(); unix.Close(fd) }, ""
}

// alignedBuffers returns n 4 KiB buffers in one aligned C block.
func alignedBuffers(n int) (*cmem.Buf, [][]byte, error) {
	b, err := cmem.Alloc(n*blockSize, blockSize)
	if err != nil {
		return nil, nil, err
	}
	all := b.Bytes()
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = all[i*blockSize : (i+1)*blockSize]
	}
	return b, bufs, nil
}

// verdict is a kernel interface's answer for a batch: "async" if some read
// was still in flight when the submitting call returned, "inline" if the
// call did every read before it returned (it blocked as a pread would).
func verdict(done, batch int) string {
	if done < batch {
		return "async"
	}
	return "inline"
}

// uringVerdict is verdict for an io_uring batch. io_uring first tries each
// read without blocking; one that would block, or a file that refuses
// non-blocking reads (no FMODE_NOWAIT: tmpfs, ramfs), goes to an io-wq
// worker thread (iou-wrk-*) instead. A batch that workers finished while
// io_uring_submit was still queueing the rest (workersRan: a worker thread
// appeared or ran during the call) was not read inline: that is "workers",
// as POSIX AIO's "threads".
func uringVerdict(done, batch int, workersRan bool) string {
	v := verdict(done, batch)
	if v == "inline" && workersRan {
		return "workers"
	}
	return v
}

// ioWorkers maps the thread id of each io_uring worker thread of this
// process (comm iou-wrk-*) to a count that moves whenever it runs: the
// times it was scheduled in (schedstat's third field, CONFIG_SCHED_INFO)
// plus its context switches (voluntary and not, from status, which count
// only once it slept again). nil when /proc does not tell.
func ioWorkers() map[string]uint64 {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	w := map[string]uint64{}
	for _, e := range tasks {
		dir := "/proc/self/task/" + e.Name()
		comm, err := os.ReadFile(dir + "/comm")
		if err != nil || !strings.HasPrefix(string(comm), "iou-wrk-") {
			continue
		}
		st, err := os.ReadFile(dir + "/status")
		if err != nil {
			continue
		}
		var n uint64
		for _, line := range strings.Split(string(st), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
		if ss, err := os.ReadFile(dir + "/schedstat"); err == nil {
			if f := strings.Fields(string(ss)); len(f) >= 3 {
				c, _ := strconv.ParseUint(f[2], 10, 64)
				n += c
			}
		}
		w[e.Name()] = n
	}
	return w
}

// workersRan reports whether a worker thread of after is new since before
// or has run since (see ioWorkers).
func workersRan(before, after map[string]uint64) bool {
	for tid, n := range after {
		if m, ok := before[tid]; !ok || m != n {
			return true
		}
	}
	return false
}

// posixVerdict is verdict for POSIX AIO. glibc's lio_listio never reads in
// the calling thread: it queues each request for a helper thread, and those
// threads run while it is still queueing the rest, so a batch of cached
// reads can be done before it returns without the caller having waited for
// any of them. That is "threads", not "inline".
func posixVerdict(done, batch int) string {
	if done < batch {
		return "async"
	}
	return "threads"
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

var modes = []string{"buffered-cold", "buffered-warm", "direct"}
