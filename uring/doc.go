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
// C's int, whose low 32 bits would name another one. A descriptor outside
// C's int is -1 in an SQE (the kernel's EBADF) and EBADF in
// [Ring.RegisterFiles], never its low 32 bits.
//
// As in C, the raw layer leaves memory lifetime to the caller: a buffer, iovec
// array, path or timespec recorded in an SQE must stay valid until the kernel
// is done with it (paths and timespecs until the kernel consumed the SQE:
// when Submit returns, for the SQEs it counts, but on a [SetupSQPoll] ring
// the SQ thread reads them after Submit returned, until SQReady no longer
// counts them; data buffers until the completion). Go memory must then be
// pinned with runtime.Pinner (or be C/mmap memory), because the SQE holds
// its address as a plain integer that the garbage collector does not see.
//
// A Ring is not safe for concurrent use, exactly like struct io_uring: one
// goroutine may submit while another reaps, but each side is single-threaded.
//
// Blocking waits (WaitCQE, WaitCQENr, SubmitAndWait and the timeout variants
// without a sigmask) retry EINTR, which Go's runtime signals cause; see
// [Ring.WaitCQE]. WaitCQEs and WaitCQETimeout give ETIME on a timeout on
// every kernel, where liburing 2.3 returns 1 and no CQE before Linux 5.11
// (see [Ring.WaitCQEs]).
//
// # Handle layer
//
// [Queue] builds on the raw layer: submissions from any goroutine return a
// *completion.Handle, buffers stay pinned until the completion is reaped, and
// one goroutine per ring reaps completions through an eventfd on Go's poller
// (io_uring_register_eventfd, Linux 5.2). Its methods are named after their
// IORING_OP_*:
//
//   - reads and writes: Read, Write, Readv, Writev, Readv2, Writev2 (RWF_*
//     flags), ReadFixed, WriteFixed (registered buffers);
//   - files and directories: Fsync, SyncFileRange, Fallocate, Fadvise,
//     Madvise, Splice, Tee, Openat, Statx, CloseFD, Mkdirat, Unlinkat,
//     Renameat, Symlinkat, Linkat;
//   - sockets: Send, Recv, SendmsgBuffers, RecvmsgBuffers, Accept, Connect,
//     Shutdown, Socket;
//   - polls, timeouts and cancels: PollAdd, Timeout, Cancel, PollRemove,
//     TimeoutRemove;
//   - [Queue.Link] and [Queue.HardLink] for IOSQE_IO_LINK chains, and
//     [Queue.Prep] for any other SQE the raw layer can prepare.
//
// Multishot requests ([Queue.AcceptMultishot], Linux 5.19;
// [Queue.PollMultishot], 5.13; [Queue.RecvMultishot] on provided buffers,
// 6.0) return a [Multishot] stream of their CQEs instead of a handle: one
// request, one slot, many CQEs, read in order with [Multishot.Next] until
// [ErrMultishotDone]. [File] is an io.ReaderAt and io.WriterAt over a Queue.
//
// # Errors to test for
//
// With errors.Is:
//
//   - [ErrUnavailable]: io_uring_setup refused (EPERM: kernel.io_uring_disabled,
//     seccomp; ENOSYS: no io_uring), from [New], [Setup] and [NewQueue]; try
//     libaio or posixaio.
//   - [ErrSQPollPerm]: IORING_SETUP_SQPOLL refused with EPERM while plain
//     rings work (it needs CAP_SYS_ADMIN before Linux 5.11).
//   - [ErrNotSupported]: a kernel feature is missing. [*UnsupportedOpError]
//     (an opcode the kernel's probe lacks, at the call) and
//     [*UnsupportedFeatureError] (a multishot flag the running kernel is too
//     old for, from Multishot.Next) match it and unix.EINVAL; so does
//     NewQueue's error on Linux 5.1, which lacks io_uring_register_eventfd.
//   - [ErrClosed] after Close; [ErrBusy] when MaxInFlight operations are in
//     flight (File methods wait instead); [ErrQueueFlags] for setup flags
//     the handle layer cannot use.
//   - [ErrLinkTooLong] and [ErrEmptyLink] from Queue.Link; [ErrMultishotDone]
//     from Multishot.Next after the final CQE; [ErrPending] from
//     Handle.Result before the CQE; [ErrQueueRing] and [ErrQueueTags] (which
//     matches unix.EINVAL) for calls on Queue.Ring that would take the ring
//     from the queue; [ErrWriteAtAppend] from File.WriteAt on an O_APPEND
//     file. File errors are otherwise *fs.PathError values wrapping the
//     errno (fs.ErrClosed after File.Close).
//
// Everything else is the kernel's errno as a unix.Errno (ENOMEM under a
// resource limit, NewQueueConfig's naming RLIMIT_MEMLOCK), wrapped where a
// message adds context (errors.Is still matches it). docs/uring.md
// describes the handle layer and older kernels, docs/design.md resource
// limits.
package uring
