// Package cmem provides C memory for asynchronous I/O: aligned buffers for
// O_DIRECT (posix_memalign, or mmap for large ones), iovec arrays the kernel may read after the
// submitting call returns, and the direct-I/O alignment a file needs.
//
// C memory never moves and is never collected, so it can be handed to the
// kernel or a C library for as long as an operation is in flight; the
// price is an explicit Free. Freeing twice returns ErrDoubleFree instead of
// corrupting the C heap.
package cmem
