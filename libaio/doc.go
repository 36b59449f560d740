// Package libaio binds libaio 0.3.113, the C library of Linux native asynchronous I/O
// (io_setup, io_submit, io_getevents ...), through cgo.
//
// # Raw layer
//
// One Go function or method per libaio.h symbol, returning what the C call returns
// (libaio's io_* functions return -errno, which becomes a unix.Errno):
//
//	Setup / QueueInit              io_setup / io_queue_init          -> *Context
//	(*Context).Destroy, QueueRelease, Submit, Cancel, GetEvents, PGetEvents, QueueRun
//	(*Iocb).PrepPread ... PrepFdsync, SetEventfd, SetCallback, SetIOPrio
//
// Iocb and Event are struct iocb and struct io_event byte for byte. As in C, the caller
// owns memory here: an Iocb and the buffers (and iovec arrays) it names must stay valid
// and unmoved until its event is reaped. Use C memory (cgo/cmem, or the bench pattern
// of one C block for all iocbs) or runtime.Pinner. docs/symbols/libaio.md maps every
// symbol of libaio.h.
//
// # Handle layer
//
// Queue wraps a Context for use from any goroutine: Read, Write, Readv, Writev, Readv2,
// Writev2 (RWF_* flags), Fsync, Fdsync and Poll return a *completion.Handle. The Queue
// keeps each iocb in C memory, pins the Go buffers until the event is reaped, and reaps
// with one goroutine woken through an eventfd (IOCB_FLAG_RESFD) registered with Go's
// network poller. File puts io.ReaderAt/io.WriterAt, Sync (IO_CMD_FSYNC) and Datasync
// (IO_CMD_FDSYNC) on top, taking care of O_DIRECT memory alignment; its WriteAt refuses
// an O_APPEND descriptor with ErrWriteAtAppend.
//
// Errors to test for, with errors.Is: ErrUnavailable from NewQueue where the system
// refuses Linux AIO (io_setup: ENOSYS without CONFIG_AIO, EPERM from a seccomp profile;
// try posixaio); ErrClosed after Queue.Close; ErrBusy when Depth requests are in flight
// (File methods wait instead). With errors.As: *AlignError (it also matches unix.EINVAL)
// for an O_DIRECT File request at a misaligned offset or length. Everything else is the kernel's errno as a
// unix.Errno: EAGAIN from io_setup when fs.aio-max-nr is used up, EINVAL from io_submit
// for IOCB_CMD_POLL or an AIO fsync before Linux 4.18. docs/libaio.md covers older
// kernels and restricted systems.
//
// # What the kernel really does
//
// Only O_DIRECT file I/O is asynchronous: buffered reads and writes run to completion
// inside io_submit (their events are already in the ring when it returns), and a read of
// a pipe or socket without O_NONBLOCK blocks in io_submit until data arrives. Misaligned
// O_DIRECT requests fail with EINVAL in their event. io_cancel only cancels polls; a
// read, write or sync keeps running and its memory stays pinned until its event. See
// docs/libaio.md.
package libaio
