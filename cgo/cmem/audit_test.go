package cmem

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vmSize returns the process's mapped address space (VmSize), in bytes.
func vmSize(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) >= 2 && string(f[0]) == "VmSize:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// mapped reports whether every page of [p, p+n) is mapped (mincore(2)
// answers ENOMEM for a range with an unmapped page).
func mapped(p unsafe.Pointer, n int) bool {
	vec := make([]byte, (n+os.Getpagesize()-1)/os.Getpagesize())
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(p), uintptr(n), uintptr(unsafe.Pointer(&vec[0])))
	return e == 0
}

// TestAllocMappedAlignedFree: a large Alloc aligned above the page size
// maps align bytes more and trims them; Free unmaps the rest. Both munmaps
// used to be refused (unix.Munmap takes only a whole mapping unix.Mmap made),
// so each such Buf left its whole mapping behind, the trimmed ends included.
// The alignment is large (64 MiB) so that what leaked dwarfs what Go's
// runtime maps meanwhile (thread stacks, heap arenas).
func TestAllocMappedAlignedFree(t *testing.T) {
	const size, align = 256 << 10, 64 << 20
	b, err := Alloc(size, align)
	if err != nil {
		t.Fatal(err)
	}
	p := b.Ptr()
	if !mapped(p, size) {
		t.Fatal("Alloc's memory is not mapped")
	}
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
	if mapped(p, size) {
		t.Errorf("Alloc(%d, %d): still mapped after Free", size, align)
	}

	// Alloc and Free 16 times: 1 GiB of address space left behind before.
	before := vmSize(t)
	for i := 0; i < 16; i++ {
		b, err := Alloc(size, align)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Free(); err != nil {
			t.Fatal(err)
		}
	}
	if grew := vmSize(t) - before; grew > 256<<20 {
		t.Errorf("16 Alloc(256 KiB, 64 MiB) + Free grew the address space by %d MiB", grew>>20)
	}

	// Held at once, 16 of them take 4 MiB, not the 1 GiB mapped before the
	// trim.
	before = vmSize(t)
	var held []*Buf
	defer func() {
		for _, b := range held {
			b.Free()
		}
	}()
	for i := 0; i < 16; i++ {
		b, err := Alloc(size, align)
		if err != nil {
			t.Fatal(err)
		}
		if uintptr(b.Ptr())%align != 0 {
			t.Fatalf("Alloc(%d, %d) = %p", size, align, b.Ptr())
		}
		held = append(held, b)
	}
	if grew := vmSize(t) - before; grew > 256<<20 {
		t.Errorf("16 Alloc(256 KiB, 64 MiB) held take %d MiB of address space; want about 4", grew>>20)
	}
}
