// Copyright aiokit authors. C side of the posixaio notification path.
//
// A "sink" is a small queue in C memory that SIGEV_THREAD notifications feed:
// glibc starts a thread per notification and runs pa_sink_notify, a plain C
// function that appends the notification value to the sink's ring and, if the
// Go reaper said it is about to sleep, writes 1 to the sink's eventfd (which Go
// watches through its network poller). No Go code ever runs on glibc's threads.
#ifndef AIOKIT_POSIXAIO_NOTIFY_H
#define AIOKIT_POSIXAIO_NOTIFY_H

#include <aio.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#define PA_SINK_MAX 4096          /* sink slots are 1..PA_SINK_MAX-1 */
#define PA_SINK_GEN_BITS 12       /* sink id = generation<<12 | slot */
#define PA_VALUE_BITS 40          /* sigev_value = id<<40 | value */
#define PA_VALUE_MASK ((UINT64_C(1) << PA_VALUE_BITS) - 1)

/* One handle-path request slot: the aiocb glibc keeps a pointer to, plus
   whether its aio_return is still owed. */
struct pa_slot {
	struct aiocb cb; /* first: a listed &cb is the slot's address */
	int armed;
	int pad;      /* pa_requeue's scratch (under the write lock) */
	uint64_t seq; /* submission order (pa_submit), to find each fd's oldest request */
};

/* pa_collect's scratch table: descriptor -> list index, one entry per
   descriptor listed in the current pass (entries of older passes have an
   older gen). mask + 1 is a power of two of at least twice the slots. */
struct pa_fdent {
	int fd;
	int idx;
	uint32_t gen;
};
struct pa_fdtab {
	uint32_t gen;
	uint32_t mask;
	struct pa_fdent ent[];
};

int pa_sink_new(int efd, uint32_t cap);
void *pa_sink_unregister(int id);
int pa_sink_release(void *sink);
#define PA_OVERFLOW (1 << 30)
int pa_sink_drain(int id, uint64_t *out, int max, int arm);
void pa_sink_notify(union sigval v);
uint64_t pa_sink_notified(int id);
extern int pa_drop_notifications;
void pa_sigev_set_thread(struct sigevent *ev, void *fn, void *attr);
void pa_sigev_thread(struct sigevent *ev, int id, uint64_t value);

int pa_reap(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int n, int64_t *res);
int pa_scan(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int max, int64_t *res);
#define PA_SUBMIT_CLOSING 1
struct pa_queue;
int pa_submit(struct pa_queue *q, struct pa_slot *s, int op, int early);
/* A queue's slots in the process-wide list that cancels look at (see
   pa_cancel): glibc's bug strands the next request of a descriptor, which
   may be another queue's. rescan is set (under pa_cancel_lock) when a
   cancel took one of the queue's requests back; pa_take_rescan clears it. */
struct pa_queue {
	struct pa_slot *slots;
	uint32_t n;
	int rescan;
	int closing; /* set by pa_cancel_all (under pa_cancel_lock): pa_submit submits no more */
	struct pa_queue *prev, *next;
};
struct pa_queue *pa_register(struct pa_slot *slots, uint32_t n);
void pa_unregister(struct pa_queue *q);
int pa_take_rescan(struct pa_queue *q);
#define PA_NOT_ARMED (-100000)
int pa_cancel(struct pa_slot *s, int *rescan);
int pa_cancel_all(struct pa_queue *q);
int pa_raw_cancel(int fd, struct aiocb *cb, int *rescan);
#define PA_COLLECT_CAPPED ((int64_t)1 << 62)
int64_t pa_collect(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int64_t *res, int maxk,
		   const struct aiocb **list, int *fds, struct pa_fdtab *tab, int maxlist);

/* The aio_suspend reaper's shared word set, in C memory: state (PA_REAPER_*),
   the thread id of the reaper's current aio_suspend, and the doorbell that
   submitters ring. */
struct pa_reaper {
	int32_t state;
	int32_t tid;
	uint64_t bell;
};
#define PA_REAPER_AWAKE 0
#define PA_REAPER_IDLE 1
#define PA_REAPER_SUSPEND 2
int pa_reaper_wait(struct pa_reaper *r, uint64_t bell, struct aiocb **list, int n, int64_t ns);

/* The reaper's suspender: a thread of its own (made in C, not by Go) that
   runs pa_reaper_wait for the reaper and then writes 1 to efd, so that the
   reaper goroutine waits on Go's poller instead of in a cgo call that holds
   its P (which, with GOMAXPROCS 1, stalls every other goroutine until
   sysmon takes the P back). pa_suspender_arm hands it one wait and returns
   at once; the reaper must not touch list again until efd was written.
   ret is that wait's pa_reaper_wait result. */
struct pa_suspender {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	struct pa_reaper *r;
	int efd;
	int armed, stop;
	uint64_t bell;
	struct aiocb **list;
	int n;
	int64_t ns;
	int ret;
};
int pa_suspender_start(struct pa_suspender *s, struct pa_reaper *r, int efd);
void pa_suspender_arm(struct pa_suspender *s, uint64_t bell, struct aiocb **list, int n, int64_t ns);
int pa_suspender_ret(struct pa_suspender *s);
void pa_suspender_stop(struct pa_suspender *s);

int pa_sigrtmin(void);
int pa_sigrtmax(void);
void *pa_notify_fn(void);
void *pa_thread_attr(void);
int pa_suspend(struct aiocb **list, int n, int64_t ns);
int pa_lio(int mode, struct aiocb **list, int n, struct sigevent *sig);

#endif
