// Package posixaio binds glibc's POSIX asynchronous I/O (aio.h: aio_read,
// aio_write, aio_fsync, aio_error, aio_return, aio_suspend, aio_cancel,
// lio_listio, aio_init) through cgo.
//
// glibc implements POSIX AIO in user space: every request runs as a plain
// pread, pwrite, fsync or fdatasync on one of glibc's own threads (at most 20
// by default, one at a time per file descriptor, in submission order). It
// therefore works on any descriptor (regular files, O_DIRECT files, pipes,
// sockets) but adds a thread hand-off to every request. docs/posixaio.md
// describes the behaviour the tests establish.
//
// # Raw layer
//
// Aiocb is a struct aiocb in C memory (glibc keeps its address while the
// request runs). Its methods and the package functions named after the C
// symbols (AioRead, AioSuspend, LioListio, ...) return exactly what glibc
// returns; -1 with errno becomes a unix.Errno error. An int argument beyond
// C's int is never taken for its low 32 bits: it fails as a bad value does
// (EINVAL, ErrBadSigevent), and AioInit clamps its fields. The buffer given to
// SetBuf stays pinned while the aiocb refers to it, and everything that would
// let glibc touch freed or moved memory (Free, SetBuf, re-submission while
// aio_error says EINPROGRESS) fails with ErrInProgress instead.
//
// Notification (Sigevent): SigevNone (poll with Error, wait with AioSuspend
// or Suspend); SigevSignal with a real-time signal from RTSignal and
// os/signal.Notify; SigevThread with a C function, for instance the
// trampoline of a ThreadSink, which feeds an eventfd on Go's poller.
//
// Waits survive signals: Suspend retries aio_suspend after EINTR (Go's
// runtime sends SIGURG to its threads), and LioListio(LioWait, ...) waits in
// Go instead of in glibc, whose interrupted LIO_WAIT leaves dangling
// pointers behind.
//
// # Handle layer
//
// Queue.Read, Queue.Write and Queue.Fsync (and the package-level Read, Write
// and Fsync on a lazily created default queue) may be called from any
// goroutine and return a *completion.Handle. By default (NotifySuspend)
// requests carry SIGEV_NONE and one reaper goroutine waits in aio_suspend on
// the oldest request of each descriptor in flight (at most 2*aio_threads of
// them, and at least 16, the oldest); a submission its current wait does
// not cover wakes it with a SIGURG to the waiting thread. The reaper calls aio_return
// exactly once per request and only then unpins the buffer. Handle.Wait with
// a context that ends asks glibc to cancel the request (aio_cancel). The
// reaper holds one OS thread while requests are in flight and none while
// the queue is idle; waiting goroutines hold none. With GOMAXPROCS 1, where
// that blocking cgo call would hold the only P, the waits move to a thread
// the queue makes in C (the suspender), and the reaper parks on Go's poller.
//
// NewQueueOptions with NotifyThread selects SIGEV_THREAD notification
// instead: a C trampoline records the request's slot and wakes the reaper
// through an eventfd on Go's poller, so no OS thread waits at all, but glibc
// starts one thread per notification, which limits that route to a few tens
// of thousands of requests per second. File puts io.ReaderAt/io.WriterAt,
// Sync (aio_fsync O_SYNC) and Datasync (O_DSYNC) on top of a Queue; its
// WriteAt refuses an O_APPEND descriptor with ErrWriteAtAppend.
//
// # Errors to test for
//
// With errors.Is: ErrClosed after Queue.Close; ErrBusy when a Queue has as
// many requests in flight as its size (File methods wait instead);
// ErrInProgress, ErrFreed, ErrReservedSignal and ErrBadSigevent from the
// raw layer, where C would touch freed memory or misuse a signal.
// Otherwise glibc's errno as a unix.Errno; on restricted systems: EAGAIN at
// submission when glibc can start no AIO thread (RLIMIT_NPROC, a full pids
// cgroup, a seccomp profile refusing clone) and none runs yet, with nothing
// left in flight; EMFILE from NotifyThread queues and NewThreadSink, which
// need an eventfd (the default NotifySuspend needs none). POSIX AIO needs
// no kernel interface of its own, so it works where io_uring and Linux AIO
// are refused. docs/posixaio.md, "Restricted systems", has the details.
package posixaio
