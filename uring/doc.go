// Package uring binds liburing 2.3, the C library of Linux io_uring.
//
// # Raw layer
//
// The raw layer maps liburing one to one (docs/symbols/liburing.md lists
// every C symbol and its Go name):
//
//   - [New] / [QueueInit] / [QueueMmap] / [Ring.Close]: io_uring_queue_init_params,
//     io_uring_queue_init, io_uring_queue_mmap, io_uring_queue_exit.
//   - [Ring.GetSQE] and the [SQE] Prep* methods (io_uring_get_sqe and every
//     io_uring_prep_* helper) fill submission entries in pure Go, directly in the
//     SQ ring that liburing mapped; tests prove the bytes equal the C helpers'.
//   - [Ring.Submit] and its variants make one cgo call per batch.
//   - [Ring.PeekCQE], [Ring.PeekBatchCQE], [Ring.CQESeen], [Ring.CQAdvance] read
//     and consume completions in pure Go with the acquire/release ordering of
//     liburing's barrier.h; the Wait* methods call liburing when they must block.
//   - The register family ([Ring.RegisterBuffers], [Ring.RegisterFiles], ...),
//     probes ([Ring.Probe]), provided-buffer rings ([BufRing]) and the
//     recvmsg helpers ([RecvmsgValidate]).
//
// Results are exactly the C results: a negative return becomes a unix.Errno
// error (errors.Is(err, unix.EAGAIN) works), a CQE's Res is the kernel's
// result. Methods of a closed Ring return [ErrClosed]; a kernel that refuses
// io_uring makes [New] return an error matching [ErrUnavailable]. A few
// arguments C would act on wrongly are refused with EINVAL instead (each
// method's doc says which): [New], [QueueInit] and [QueueMmap] refuse setup
// flags liburing 2.3 does not know (IORING_SETUP_NO_SQARRAY, NO_MMAP,
// REGISTERED_FD_ONLY, ..., Linux 6.5+), where C would map the ring wrongly,
// and [Ring.UnregisterPersonality] and [Ring.UnregisterBufRing] an id outside
// C's int, whose low 32 bits would name another one.
//
// As in C, the raw layer leaves memory lifetime to the caller: a buffer, iovec
// array, path or timespec recorded in an SQE must stay valid until the kernel
// is done with it (until Submit returns for paths and timespecs, until the
// completion for data buffers). Go memory must then be pinned with
// runtime.Pinner (or be C/mmap memory), because the SQE holds its address as
// a plain integer that the garbage collector does not see.
//
// A Ring is not safe for concurrent use, exactly like struct io_uring: one
// goroutine may submit while another reaps, but each side is single-threaded.
//
// Blocking waits (WaitCQE, WaitCQENr, SubmitAndWait and the timeout variants)
// retry EINTR, which Go's runtime signals cause; see [Ring.WaitCQE].
//
// # Handle layer
//
// [Queue] builds on the raw layer: submissions from any goroutine return a
// *completion.Handle, buffers stay pinned until the completion is reaped, and
// one goroutine per ring reaps completions through an eventfd on Go's poller.
// Multishot requests ([Queue.AcceptMultishot], [Queue.PollMultishot]) return
// a [Multishot] stream of their CQEs instead of a handle.
package uring
