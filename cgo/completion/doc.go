// Package completion is the completion layer that aiokit's three backends
// (uring, libaio, posixaio) share.
//
// A [Table] maps the 64-bit user data that travels through the kernel or a C
// library (an io_uring SQE's user_data, an iocb's aio_data, an aiocb's
// sigev_value) to an in-flight operation. The user data is a slot index and a
// generation number, never a Go pointer, so no Go pointer is ever stored in C
// or kernel memory unpinned.
//
// Every Go object that the kernel or a C library reads or writes after the
// submitting call returns (buffers, iovec arrays, control blocks) is pinned
// in the operation's slot with [Op.Pin] or [Op.PinBytes]. Only the end of
// the operation unpins it: [Table.Complete] (or [Batch.Add], its batched
// form), called when the backend has reaped the operation's completion, or
// [Table.Abort] for a submission that never reached the kernel. A cancelled
// context never releases memory early:
// [Handle.Wait] returns ctx.Err() and asks the backend to cancel, and the
// memory stays pinned until the kernel's completion arrives.
//
// Completions reach Go through a [Notifier]: an eventfd registered with Go's
// own network poller. A backend's reaper goroutine parks on it; goroutines
// that wait on a [Handle] park on a WaitGroup or channel. No OS thread is blocked
// per waiting operation, with one exception a backend may choose
// ([Table.SetWaiter], [Lone]): a goroutine whose operation has been alone in
// flight for [LoneStreak] Waits in a row waits for it in the kernel
// (io_uring_enter, io_getevents) for up to about 3 ms before it parks.
//
// A slot completes once. A request that posts many completions (uring's
// multishot streams) keeps its slot, and what it pins, in flight until its
// final one: the backend buffers the earlier completions itself (the slot's
// [Op.SetAux] names where) and completes the handle only with the last.
//
// Go cannot recover from a failed allocation, so a backend calls
// [CheckGoAlloc] with what its queue's Go slices will take ([TableBytes]
// for the table) before it makes them: under a tight RLIMIT_AS or
// RLIMIT_DATA the queue then fails with ENOMEM instead of ending the
// process.
//
// [Stats] reports the live operations and pins of every table, so tests can
// prove that nothing leaks.
package completion
