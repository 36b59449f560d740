package completion

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TableBytes returns how much Go memory NewTable(size) allocates for its
// slots (128 bytes each; size clamped as NewTable clamps it).
func TableBytes(size int) int {
	return max(1, min(size, MaxTableSize)) * int(unsafe.Sizeof(Op{}))
}

// goArena is the unit in which Go's runtime reserves address space for its
// heap (heapArenaBytes on 64-bit Linux).
const goArena = 64 << 20

// checkMin is the smallest allocation CheckGoAlloc looks at: below it a
// failure would hit the runtime anywhere soon anyway.
const checkMin = 4 << 20

// CheckGoAlloc reports, before a backend makes a queue's Go slices (its
// handle table, TableBytes, and its own per-slot slices), whether bytes of
// Go heap can still be had: Go cannot recover from a failed allocation
// ("fatal error: out of memory" ends the process), so under a tight
// RLIMIT_AS, RLIMIT_DATA or a strict overcommit limit a queue of
// MaxTableSize slots would crash the program instead of failing. It maps,
// and unmaps at once without touching it, what the runtime would map:
// bytes of private read-write memory and, from 64 MiB on, the address
// space of the whole heap arenas (64 MiB each) that holds them. It is a
// check, not a reservation: memory taken meanwhile by other threads can
// still make the runtime fail. A refusal is an error wrapping the mmap errno
// (unix.ENOMEM). Allocations below 4 MiB are not checked.
func CheckGoAlloc(bytes int) error {
	if bytes < checkMin {
		return nil
	}
	err := mapUnmap(bytes, unix.PROT_READ|unix.PROT_WRITE)
	if err == nil && bytes >= goArena {
		// More than the free part of one arena: the runtime reserves new
		// ones (an allocation below that may still come from the arenas it
		// has, and is not refused for want of a new one).
		err = mapUnmap((bytes+goArena-1)/goArena*goArena, unix.PROT_NONE)
	}
	if err != nil {
		return fmt.Errorf("completion: no room for %d bytes of Go memory (RLIMIT_AS, RLIMIT_DATA or the commit limit): mmap: %w", bytes, err)
	}
	return nil
}

// mapUnmap maps n bytes of private anonymous memory with prot, untouched,
// and unmaps them at once.
func mapUnmap(n, prot int) error {
	b, err := unix.Mmap(-1, 0, n, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	unix.Munmap(b)
	return nil
}
