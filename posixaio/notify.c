// Copyright aiokit authors. See notify.h.
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

struct pa_sink {
	int efd;
	uint32_t cap;     /* power of two */
	uint32_t head;
	uint32_t len;
	int sleeping;     /* the reaper is (about to be) parked on efd */
	int overflow;     /* a value was dropped: the reaper must scan */
	uint64_t notified; /* notifications that reached the sink, kept or dropped (tests) */
	int active;       /* trampolines still writing to efd */
	int id;           /* generation<<12 | slot: a closed sink's id never names its successor */
	uint64_t *buf;
};

/* One lock for the registry and every sink. It is held for a few
   instructions only; each notification already costs a thread creation. */
static pthread_mutex_t pa_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pa_sink *pa_sinks[PA_SINK_MAX];
static int pa_next = 1;
static unsigned pa_gen; /* bumped per sink made, under pa_mu */

/* The sink id names, or NULL (a closed sink's id, even when its slot was
   reused: the generation differs). Under pa_mu. */
static struct pa_sink *pa_lookup(int id)
{
	int slot = id & (PA_SINK_MAX - 1);
	if (id <= 0 || slot == 0 || id >= PA_SINK_MAX << PA_SINK_GEN_BITS)
		return NULL;
	struct pa_sink *s = pa_sinks[slot];
	return s != NULL && s->id == id ? s : NULL;
}

static pthread_attr_t pa_attr;
static pthread_once_t pa_attr_once = PTHREAD_ONCE_INIT;

static void pa_attr_init(void)
{
	pthread_attr_init(&pa_attr);
	pthread_attr_setdetachstate(&pa_attr, PTHREAD_CREATE_DETACHED);
	/* The trampoline needs almost no stack; small stacks keep glibc's
	   stack cache effective for the thread-per-notification model. */
	pthread_attr_setstacksize(&pa_attr, 64 * 1024);
}

int pa_sink_new(int efd, uint32_t cap)
{
	uint32_t c = 16;
	while (c < cap && c < (1u << 30))
		c <<= 1;
	struct pa_sink *s = calloc(1, sizeof *s);
	if (s == NULL)
		return -ENOMEM;
	s->buf = calloc(c, sizeof(uint64_t));
	if (s->buf == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->efd = efd;
	s->cap = c;
	pthread_once(&pa_attr_once, pa_attr_init);
	pthread_mutex_lock(&pa_mu);
	int id = -EMFILE;
	for (int i = 0; i < PA_SINK_MAX - 1; i++) {
		int cand = pa_next;
		pa_next = pa_next + 1 >= PA_SINK_MAX ? 1 : pa_next + 1;
		if (pa_sinks[cand] == NULL) {
			pa_gen = (pa_gen + 1) & ((1u << PA_SINK_GEN_BITS) - 1);
			s->id = (int)(pa_gen << PA_SINK_GEN_BITS) | cand;
			pa_sinks[cand] = s;
			id = s->id;
			break;
		}
	}
	pthread_mutex_unlock(&pa_mu);
	if (id < 0) {
		free(s->buf);
		free(s);
	}
	return id;
}

/* Removes the sink from the registry: later notifications carrying its id
   are dropped. Returns the sink for pa_sink_release. */
void *pa_sink_unregister(int id)
{
	pthread_mutex_lock(&pa_mu);
	struct pa_sink *s = pa_lookup(id);
	if (s != NULL)
		pa_sinks[id & (PA_SINK_MAX - 1)] = NULL;
	pthread_mutex_unlock(&pa_mu);
	return s;
}

/* Frees an unregistered sink once no trampoline is writing to its eventfd.
   Returns 1 (try again later) while one still is, 0 when freed. */
int pa_sink_release(void *p)
{
	struct pa_sink *s = p;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&pa_mu);
	int busy = s->active;
	pthread_mutex_unlock(&pa_mu);
	if (busy)
		return 1;
	free(s->buf);
	free(s);
	return 0;
}

/* Moves up to max queued values to out. With arm set and nothing queued, it
   marks the reaper as sleeping so that the next notification writes the
   eventfd. Returns the count, plus PA_OVERFLOW if values were dropped since
   the last drain, or -EBADF for an unknown id. */
int pa_sink_drain(int id, uint64_t *out, int max, int arm)
{
	pthread_mutex_lock(&pa_mu);
	struct pa_sink *s = pa_lookup(id);
	if (s == NULL) {
		pthread_mutex_unlock(&pa_mu);
		return -EBADF;
	}
	int n = 0;
	while (n < max && s->len > 0) {
		out[n++] = s->buf[s->head];
		s->head = (s->head + 1) & (s->cap - 1);
		s->len--;
	}
	int overflow = s->overflow;
	s->overflow = 0;
	if (n == 0 && !overflow && arm)
		s->sleeping = 1;
	pthread_mutex_unlock(&pa_mu);
	return overflow ? n | PA_OVERFLOW : n;
}

/* The number of notifications that reached sink id (0 for no sink). */
uint64_t pa_sink_notified(int id)
{
	pthread_mutex_lock(&pa_mu);
	struct pa_sink *s = pa_lookup(id);
	uint64_t n = s != NULL ? s->notified : 0;
	pthread_mutex_unlock(&pa_mu);
	return n;
}

/* The SIGEV_THREAD function. glibc runs it on a fresh thread with all
   signals blocked; it never calls into Go. */
int pa_drop_notifications; /* tests: simulate notifications glibc failed to deliver */

void pa_sink_notify(union sigval v)
{
	if (__atomic_load_n(&pa_drop_notifications, __ATOMIC_RELAXED))
		return;
	uint64_t x = (uint64_t)(uintptr_t)v.sival_ptr;
	int id = (int)(x >> PA_VALUE_BITS);
	uint64_t val = x & PA_VALUE_MASK;
	pthread_mutex_lock(&pa_mu);
	struct pa_sink *s = pa_lookup(id);
	if (s == NULL) {
		pthread_mutex_unlock(&pa_mu);
		return;
	}
	s->notified++;
	if (s->len < s->cap) {
		s->buf[(s->head + s->len) & (s->cap - 1)] = val;
		s->len++;
	} else {
		s->overflow = 1;
	}
	int wake = s->sleeping;
	s->sleeping = 0;
	int efd = s->efd;
	if (wake)
		s->active++;
	pthread_mutex_unlock(&pa_mu);
	if (!wake)
		return;
	uint64_t one = 1;
	while (write(efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&pa_mu);
	s->active--;
	pthread_mutex_unlock(&pa_mu);
}

void *pa_notify_fn(void) { return (void *)pa_sink_notify; }

void *pa_thread_attr(void)
{
	pthread_once(&pa_attr_once, pa_attr_init);
	return &pa_attr;
}

void pa_sigev_set_thread(struct sigevent *ev, void *fn, void *attr)
{
	ev->sigev_notify_function = (void (*)(union sigval))fn;
	ev->sigev_notify_attributes = attr;
}

void pa_sigev_thread(struct sigevent *ev, int id, uint64_t value)
{
	pthread_once(&pa_attr_once, pa_attr_init);
	memset(ev, 0, sizeof *ev);
	ev->sigev_notify = SIGEV_THREAD;
	ev->sigev_value.sival_ptr =
	    (void *)(uintptr_t)(((uint64_t)id << PA_VALUE_BITS) | (value & PA_VALUE_MASK));
	ev->sigev_notify_function = pa_sink_notify;
	ev->sigev_notify_attributes = &pa_attr;
}

/* Claims a finished slot: only the caller whose compare-and-swap clears
   armed calls aio_return, so it happens exactly once per submission. */
static int pa_finish(struct pa_slot *s, int64_t *res)
{
	if (__atomic_load_n(&s->armed, __ATOMIC_ACQUIRE) == 0)
		return 0;
	/* Still running: no need for aio_error's lock. Any other value is
	   confirmed under it, which also orders us after glibc's last access. */
	if (__atomic_load_n(&s->cb.__error_code, __ATOMIC_RELAXED) == EINPROGRESS)
		return 0;
	int e = aio_error(&s->cb);
	if (e == EINPROGRESS)
		return 0;
	int one = 1;
	if (!__atomic_compare_exchange_n(&s->armed, &one, 0, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return 0;
	ssize_t r = aio_return(&s->cb);
	*res = e != 0 ? -(int64_t)e : (int64_t)r;
	return 1;
}

/* For each slot index in idx[0..n): if the slot still owes its aio_return
   and glibc has finished it, calls aio_return once and keeps the index.
   Compacts idx/res to the finished ones and returns their count. */
int pa_reap(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int n, int64_t *res)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		uint64_t j = idx[i];
		if (j >= nslots)
			continue;
		if (pa_finish(&slots[j], &res[k]))
			idx[k++] = j;
	}
	return k;
}

/* Like pa_reap over every armed slot (the fallback when a notification may
   have been lost). */
int pa_scan(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int max, int64_t *res)
{
	int k = 0;
	for (uint32_t j = 0; j < nslots && k < max; j++) {
		if (pa_finish(&slots[j], &res[k]))
			idx[k++] = j;
	}
	return k;
}

/* Held for reading around each submission (pa_submit), for writing around
   each cancel (pa_cancel, pa_cancel_all): no request reaches glibc, or
   becomes visible in its slot, while a cancel looks at the slots and takes
   requests back (see pa_cancel). Writers first, so that a cancel does not
   wait behind a stream of submissions. */
static pthread_rwlock_t pa_cancel_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static int pa_submit_locked(struct pa_slot *s, int op, int early);

/* Submits a prepared slot: op is LIO_READ, LIO_WRITE, O_SYNC or O_DSYNC.
   Returns 0 when the slot will be reaped (glibc accepted it, or a reaper
   already claimed the failed attempt and will deliver its error), or -errno
   when the submission failed and nobody else saw it.

   early (SIGEV_THREAD queues) arms the slot before aio_read: the
   notification may run before aio_read returns, and the reaper must then
   already be able to claim the slot. Otherwise (aio_suspend queues) the slot
   is armed only once glibc has the request: a slot that pa_collect listed
   before glibc queued it would make aio_suspend return at once (glibc finds
   no request for it), and the reaper would spin until aio_read returns. The
   submitter rings the reaper after this returns, so it sees the slot. */
int pa_submit(struct pa_queue *q, struct pa_slot *s, int op, int early)
{
	pthread_rwlock_rdlock(&pa_cancel_lock);
	int r;
	if (q->closing) {
		/* Close has cancelled the queue's queued requests (pa_cancel_all):
		   one that reaches glibc now would not be cancelled, and could
		   keep Close waiting for ever (a read queued behind a running one
		   on a pipe). It completes as cancelled instead, never submitted;
		   PA_SUBMIT_CLOSING tells the caller to have its slot reaped. */
		s->cb.__error_code = ECANCELED;
		s->cb.__return_value = -1;
		__atomic_store_n(&s->armed, 1, __ATOMIC_SEQ_CST);
		r = PA_SUBMIT_CLOSING;
	} else
		r = pa_submit_locked(s, op, early);
	pthread_rwlock_unlock(&pa_cancel_lock);
	return r;
}

static int pa_submit_locked(struct pa_slot *s, int op, int early)
{
	static uint64_t seq;
	int r;
	s->cb.__error_code = EINPROGRESS;
	s->seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	if (early)
		__atomic_store_n(&s->armed, 1, __ATOMIC_RELEASE);
	switch (op) {
	case LIO_READ:
		r = aio_read(&s->cb);
		break;
	case LIO_WRITE:
		r = aio_write(&s->cb);
		break;
	default:
		r = aio_fsync(op, &s->cb);
		break;
	}
	if (!early) {
		if (r == 0) {
			__atomic_store_n(&s->armed, 1, __ATOMIC_SEQ_CST);
			return 0;
		}
		return -errno;
	}
	if (r == 0)
		return 0;
	int err = errno;
	int one = 1;
	if (__atomic_compare_exchange_n(&s->armed, &one, 0, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return -err;
	return 0;
}

/* Orders list[lo..hi] so that its k - lo + 1 oldest requests (by seq) come
   first (quickselect; k in lo..hi). */
static void pa_select_oldest(const struct aiocb **list, int lo, int hi, int k)
{
	while (lo < hi) {
		uint64_t pivot = ((const struct pa_slot *)list[lo + (hi - lo) / 2])->seq;
		int i = lo, j = hi;
		while (i <= j) {
			while (((const struct pa_slot *)list[i])->seq < pivot)
				i++;
			while (((const struct pa_slot *)list[j])->seq > pivot)
				j--;
			if (i <= j) {
				const struct aiocb *t = list[i];
				list[i++] = list[j];
				list[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* The aio_suspend reaper's pass: reaps (as pa_scan) up to maxk finished
   slots into idx/res and lists, for each descriptor with requests still in
   progress, the aiocb of its oldest one (in list, and the descriptor in
   fds). glibc runs one descriptor's requests in submission order, so that
   one finishes first and its completion wakes aio_suspend; listing the
   others too would only make aio_suspend slower: glibc looks each listed
   aiocb up in its descriptor's queue under its global mutex, which its
   threads need to post completions (a list of 128 requests on one
   descriptor costs thousands of steps per call).

   With more descriptors than maxlist (> 0), only the maxlist oldest of
   those requests are listed: glibc runs at most aio_threads requests at a
   time and starts queued ones in submission order, so the younger ones
   cannot finish first, and each listed aiocb costs aio_suspend a walk over
   glibc's list of descriptors (12 % of the CPU time with 128 descriptors).
   A request with aio_reqprio set may jump glibc's queue: then every
   descriptor is listed. Returns the reaped count, plus the listed count <<
   32, plus PA_COLLECT_CAPPED if the list was cut to maxlist. */
int64_t pa_collect(struct pa_slot *slots, uint32_t nslots, uint64_t *idx, int64_t *res, int maxk,
		   const struct aiocb **list, int *fds, struct pa_fdtab *tab, int maxlist)
{
	int k = 0;
	int64_t n = 0;
	int prio = 0;
	if (++tab->gen == 0) {
		for (uint32_t i = 0; i <= tab->mask; i++)
			tab->ent[i].gen = 0;
		tab->gen = 1;
	}
	for (uint32_t j = 0; j < nslots; j++) {
		struct pa_slot *s = &slots[j];
		if (__atomic_load_n(&s->armed, __ATOMIC_ACQUIRE) == 0)
			continue;
		if (k < maxk && pa_finish(s, &res[k])) {
			idx[k++] = j;
			continue;
		}
		if (!__atomic_load_n(&s->armed, __ATOMIC_ACQUIRE))
			continue;
		int fd = s->cb.aio_fildes;
		prio |= s->cb.aio_reqprio;
		for (uint32_t h = ((uint32_t)fd * 2654435761u) & tab->mask;; h = (h + 1) & tab->mask) {
			struct pa_fdent *e = &tab->ent[h];
			if (e->gen != tab->gen) {
				e->gen = tab->gen;
				e->fd = fd;
				e->idx = (int)n;
				fds[n] = fd;
				list[n++] = &s->cb;
				break;
			}
			if (e->fd == fd) {
				const struct pa_slot *o = (const struct pa_slot *)list[e->idx];
				if (s->seq < o->seq)
					list[e->idx] = &s->cb;
				break;
			}
		}
	}
	if (maxlist > 0 && n > maxlist && !prio) {
		pa_select_oldest(list, 0, (int)n - 1, maxlist - 1);
		n = maxlist;
		for (int i = 0; i < n; i++)
			fds[i] = list[i]->aio_fildes;
		return (int64_t)k | n << 32 | PA_COLLECT_CAPPED;
	}
	return (int64_t)k | n << 32;
}

/* Whether slot t holds a request on fd that glibc still has. */
static int pa_pending_on(struct pa_slot *t, int fd)
{
	return __atomic_load_n(&t->armed, __ATOMIC_ACQUIRE) && t->cb.aio_fildes == fd &&
	       __atomic_load_n(&t->cb.__error_code, __ATOMIC_RELAXED) == EINPROGRESS;
}

static int pa_by_seq(const void *a, const void *b)
{
	uint64_t x = (*(struct pa_slot *const *)a)->seq, y = (*(struct pa_slot *const *)b)->seq;
	return x < y ? -1 : x > y;
}

/* Every queue's slots (pa_register), under pa_cancel_lock. */
static struct pa_queue *pa_queues;

/* Adds slots[0..n) to the list cancels look at; NULL when out of memory. */
struct pa_queue *pa_register(struct pa_slot *slots, uint32_t n)
{
	struct pa_queue *q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->slots = slots;
	q->n = n;
	pthread_rwlock_wrlock(&pa_cancel_lock);
	q->next = pa_queues;
	if (pa_queues != NULL)
		pa_queues->prev = q;
	pa_queues = q;
	pthread_rwlock_unlock(&pa_cancel_lock);
	return q;
}

/* Removes q from the list (once it has no request in flight) and frees it:
   no cancel looks at its slots afterwards. */
void pa_unregister(struct pa_queue *q)
{
	pthread_rwlock_wrlock(&pa_cancel_lock);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		pa_queues = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	pthread_rwlock_unlock(&pa_cancel_lock);
	free(q);
}

/* 1 if a cancel took one of q's requests back since the last call. */
int pa_take_rescan(struct pa_queue *q)
{
	return __atomic_exchange_n(&q->rescan, 0, __ATOMIC_ACQ_REL);
}

/* Takes back and submits again every queue's requests on fd but s after a
   cancel that may have stranded them (see pa_cancel), under the write lock,
   in one list ordered by submission, whichever queue each belongs to: each
   is claimed (armed 1 -> 0, so that no reaper collects the ECANCELED of its
   first submission) and cancelled, newest first; those glibc cancelled are
   submitted again, oldest first; a running or finished one keeps its result
   and is re-armed. Each queue that had a request taken back gets rescan set:
   its reaper must scan every slot (a request submitted again was armed after
   aio_* returned, so a notification that came before that found it unarmed;
   one whose new submission failed completes with that errno). Returns 1 when
   it set a rescan flag (every queue's when out of memory). */
static int pa_requeue(struct pa_slot *s, int fd)
{
	uint32_t total = 0;
	for (struct pa_queue *q = pa_queues; q != NULL; q = q->next)
		total += q->n;
	struct pa_slot **l = malloc((size_t)total * sizeof *l);
	if (l == NULL) {
		for (struct pa_queue *q = pa_queues; q != NULL; q = q->next)
			__atomic_store_n(&q->rescan, 1, __ATOMIC_RELEASE);
		return 1;
	}
	int k = 0;
	for (struct pa_queue *q = pa_queues; q != NULL; q = q->next) {
		for (uint32_t i = 0; i < q->n; i++) {
			struct pa_slot *t = &q->slots[i];
			int one = 1;
			if (t != s && pa_pending_on(t, fd) &&
			    __atomic_compare_exchange_n(&t->armed, &one, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				l[k++] = t;
				__atomic_store_n(&q->rescan, 1, __ATOMIC_RELEASE);
			}
		}
	}
	qsort(l, (size_t)k, sizeof *l, pa_by_seq);
	for (int i = k - 1; i >= 0; i--) {
		l[i]->pad = aio_cancel(fd, &l[i]->cb) == AIO_CANCELED; /* 1: to submit again */
		if (!l[i]->pad)
			__atomic_store_n(&l[i]->armed, 1, __ATOMIC_SEQ_CST);
	}
	for (int i = 0; i < k; i++) {
		struct pa_slot *t = l[i];
		if (!t->pad)
			continue;
		t->pad = 0;
		/* The opcode glibc stored at submission: LIO_READ, LIO_WRITE, or its
		   internal LIO_DSYNC (3) and LIO_SYNC (4) for aio_fsync; bit 7 marks
		   the 64-bit variants on 32-bit systems. */
		int op = t->cb.aio_lio_opcode & 127;
		op = op == LIO_READ || op == LIO_WRITE ? op : op == 3 ? O_DSYNC : O_SYNC;
		int r = pa_submit_locked(t, op, 0);
		if (r < 0) {
			t->cb.__error_code = -r;
			t->cb.__return_value = -1;
			__atomic_store_n(&t->armed, 1, __ATOMIC_SEQ_CST);
		}
	}
	free(l);
	return k > 0;
}

/* aio_cancel of slot s of queue self, working around a glibc 2.36 bug:
   cancelling a descriptor's first request while it is still queued (no
   thread took it yet) marks the next one runnable without putting it on
   glibc's run list, so no thread ever runs it, nor any behind it (a plain C
   program shows it: aio_read A, aio_read B on the same fd, aio_cancel A ->
   AIO_CANCELED, B EINPROGRESS for ever). Which request glibc has first is not
   known here, so after any successful cancel the other requests on the
   descriptor of every registered queue are taken back and submitted again
   (pa_requeue). Each queue that had one taken back has its rescan flag set,
   and *rescan is then 1: the caller wakes the reaper of each queue whose
   pa_take_rescan says so. Requests on the descriptor from outside the queues
   (the raw API) are not seen. */
static int cancel_requeue(int fd, struct aiocb *cb, struct pa_slot *skip, int *rescan);
static int cancel_requeue_locked(int fd, struct aiocb *cb, struct pa_slot *skip, int *rescan);

int pa_cancel(struct pa_slot *s, int *rescan)
{
	*rescan = 0;
	/* armed is looked at under the write lock: a pa_requeue of another
	   cancel (another queue's, or the raw layer's, which do not hold this
	   queue's mutex) clears it while it takes the request back and submits
	   it again, and the request, still queued, was then taken for done. */
	pthread_rwlock_wrlock(&pa_cancel_lock);
	int r = PA_NOT_ARMED;
	if (__atomic_load_n(&s->armed, __ATOMIC_ACQUIRE) != 0)
		r = cancel_requeue_locked(s->cb.aio_fildes, &s->cb, s, rescan);
	pthread_rwlock_unlock(&pa_cancel_lock);
	return r;
}

/* aio_cancel of every request of queue self (Close), newest first, none
   submitted meanwhile: a request of self that a cancel strands is cancelled
   too; one of another queue on a descriptor where a cancel succeeded is
   taken back and submitted again (pa_requeue). Returns 1 when that set a
   queue's rescan flag (self's too: a running request of self that
   pa_requeue took back and re-armed). */
int pa_cancel_all(struct pa_queue *self)
{
	struct pa_slot *slots = self->slots;
	uint32_t n = self->n;
	struct pa_slot **l = malloc((size_t)n * sizeof *l);
	int k = 0, rescan = 0;
	pthread_rwlock_wrlock(&pa_cancel_lock);
	self->closing = 1;
	for (uint32_t i = 0; i < n; i++) {
		if (__atomic_load_n(&slots[i].armed, __ATOMIC_ACQUIRE) == 0)
			continue;
		if (l == NULL) {
			/* No memory: unordered, and every queue rescans. */
			if (aio_cancel(slots[i].cb.aio_fildes, &slots[i].cb) == AIO_CANCELED)
				rescan |= pa_requeue(&slots[i], slots[i].cb.aio_fildes);
		} else
			l[k++] = &slots[i];
	}
	if (l != NULL) {
		qsort(l, (size_t)k, sizeof *l, pa_by_seq);
		/* pad: 1 for a request glibc cancelled. Its descriptor may hold
		   another queue's request stranded behind it: once per descriptor,
		   after all of self's are cancelled, those are submitted again. */
		for (int i = k - 1; i >= 0; i--)
			l[i]->pad = aio_cancel(l[i]->cb.aio_fildes, &l[i]->cb) == AIO_CANCELED;
		for (int i = 0; i < k; i++) {
			if (!l[i]->pad)
				continue;
			int fd = l[i]->cb.aio_fildes;
			for (int j = i; j < k; j++)
				if (l[j]->cb.aio_fildes == fd)
					l[j]->pad = 0;
			rescan |= pa_requeue(NULL, fd);
		}
		free(l);
	}
	pthread_rwlock_unlock(&pa_cancel_lock);
	return rescan;
}

/* aio_cancel(fd, cb) of the raw layer (AioCancel, Aiocb.Cancel). glibc's answer
   is returned unchanged (-errno for -1), but after a successful cancel of one
   request the queues' requests on fd are taken back and submitted again, as
   pa_cancel does: the cancelled raw request may have been the descriptor's
   first, still queued, and glibc 2.36 then strands the next one, which may be a
   queue's (its handle never completed). Raw requests behind it are left as glibc
   leaves them, as in C. Cancelling every request of fd (cb NULL) strands
   nothing: glibc removes the whole queue of the descriptor. *rescan as for
   pa_cancel. */
int pa_raw_cancel(int fd, struct aiocb *cb, int *rescan)
{
	return cancel_requeue(fd, cb, NULL, rescan);
}

/* pa_cancel and pa_raw_cancel: aio_cancel(fd, cb) (-errno for -1) under
   pa_cancel_lock and, after a successful cancel of one request, pa_requeue of
   the queues' other requests on fd (all but skip's). */
static int cancel_requeue(int fd, struct aiocb *cb, struct pa_slot *skip, int *rescan)
{
	pthread_rwlock_wrlock(&pa_cancel_lock);
	int r = cancel_requeue_locked(fd, cb, skip, rescan);
	pthread_rwlock_unlock(&pa_cancel_lock);
	return r;
}

/* cancel_requeue with pa_cancel_lock held for writing. */
static int cancel_requeue_locked(int fd, struct aiocb *cb, struct pa_slot *skip, int *rescan)
{
	*rescan = 0;
	int r = aio_cancel(fd, cb);
	if (r < 0)
		r = errno != 0 ? -errno : -EIO;
	else if (r == AIO_CANCELED && cb != NULL)
		*rescan = pa_requeue(skip, fd);
	return r;
}

int pa_sigrtmin(void) { return SIGRTMIN; }
int pa_sigrtmax(void) { return SIGRTMAX; }

/* glibc 2.36's aio_suspend and lio_listio keep arrays of nent entries on
   the caller's stack (variable-length arrays: 40 bytes an entry in
   aio_suspend, 8 in lio_listio, NULL and LIO_NOP entries included): a long
   list overflowed the calling thread's stack (aio_suspend of 2^20 NULL
   entries, lio_listio of 2^21, died with SIGSEGV). A list longer than
   PA_STACK_LIST entries is therefore handed to a thread of its own whose
   stack has room for those arrays (PA_ENTRY_STACK bytes an entry, plus
   PA_STACK_SLACK), with every signal blocked; the caller waits for it. */
#define PA_STACK_LIST 4096
#define PA_ENTRY_STACK 64
#define PA_STACK_SLACK (256 * 1024)

struct pa_big {
	int lio; /* 0: aio_suspend, 1: lio_listio */
	int mode;
	struct aiocb **list;
	int n;
	const struct timespec *tp;
	struct sigevent *sig;
	int ret;
};

static void *pa_big_main(void *arg)
{
	struct pa_big *b = arg;
	int r = b->lio ? lio_listio(b->mode, b->list, b->n, b->sig)
		       : aio_suspend((const struct aiocb *const *)b->list, b->n, b->tp);
	b->ret = r < 0 ? -errno : 0;
	return NULL;
}

/* Runs b on a thread with a stack for its n entries; -nospace when that
   thread cannot be made. */
static int pa_big_call(struct pa_big *b, int nospace)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	if (pthread_attr_init(&attr) != 0)
		return -nospace;
	if (pthread_attr_setstacksize(&attr, (size_t)b->n * PA_ENTRY_STACK + PA_STACK_SLACK) != 0) {
		pthread_attr_destroy(&attr);
		return -nospace;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&th, &attr, pa_big_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0)
		return -nospace;
	pthread_join(th, NULL);
	return b->ret;
}

/* aio_suspend with a relative timeout in ns (< 0: none). Returns 0 or -errno
   (ENOMEM: a long list found no thread to run on, see PA_STACK_LIST). */
int pa_suspend(struct aiocb **list, int n, int64_t ns)
{
	struct timespec ts, *tp = NULL;
	if (ns >= 0) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		tp = &ts;
	}
	if (n > PA_STACK_LIST) {
		struct pa_big b = {.lio = 0, .list = list, .n = n, .tp = tp};
		return pa_big_call(&b, ENOMEM);
	}
	if (aio_suspend((const struct aiocb *const *)list, n, tp) < 0)
		return -errno;
	return 0;
}

static __thread int32_t pa_my_tid;

/* One wait of the aio_suspend reaper. Publishes this thread's id, then the
   SUSPEND state, then (unless the doorbell moved since the caller's pass
   read it) waits in aio_suspend. A submitter that sees SUSPEND therefore
   also sees the right thread id to signal. Returns 1 if the doorbell had
   moved (no wait), else pa_suspend's result. Running the whole sequence in
   one cgo call keeps the goroutine on this thread without LockOSThread. */
int pa_reaper_wait(struct pa_reaper *r, uint64_t bell, struct aiocb **list, int n, int64_t ns)
{
	if (pa_my_tid == 0)
		pa_my_tid = (int32_t)syscall(SYS_gettid);
	__atomic_store_n(&r->tid, pa_my_tid, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->state, PA_REAPER_SUSPEND, __ATOMIC_SEQ_CST);
	int ret = 1;
	if (__atomic_load_n(&r->bell, __ATOMIC_SEQ_CST) == bell)
		ret = pa_suspend(list, n, ns);
	__atomic_store_n(&r->state, PA_REAPER_AWAKE, __ATOMIC_SEQ_CST);
	return ret;
}

static void *pa_suspender_main(void *arg)
{
	struct pa_suspender *s = arg;
	const uint64_t one = 1;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->armed && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->armed) { /* stop, with no wait pending */
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		s->armed = 0;
		uint64_t bell = s->bell;
		struct aiocb **list = s->list;
		int n = s->n;
		int64_t ns = s->ns;
		pthread_mutex_unlock(&s->mu);
		int ret = pa_reaper_wait(s->r, bell, list, n, ns);
		__atomic_store_n(&s->ret, ret, __ATOMIC_SEQ_CST);
		/* The eventfd counter cannot reach its maximum: the reaper reads
		   it after every wait. */
		while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
}

int pa_suspender_start(struct pa_suspender *s, struct pa_reaper *r, int efd)
{
	sigset_t all, old;
	int err;

	memset(s, 0, sizeof(*s));
	s->r = r;
	s->efd = efd;
	if ((err = pthread_mutex_init(&s->mu, NULL)) != 0)
		return -err;
	if ((err = pthread_cond_init(&s->cv, NULL)) != 0) {
		pthread_mutex_destroy(&s->mu);
		return -err;
	}
	/* The thread starts with every signal blocked but SIGURG, the one
	   pa_reaper_wait's callers send to cut its aio_suspend short (Go's
	   handler ignores it on a thread Go did not make): process signals
	   stay for Go's threads. */
	sigfillset(&all);
	sigdelset(&all, SIGURG);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->th, NULL, pa_suspender_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		return -err;
	}
	return 0;
}

void pa_suspender_arm(struct pa_suspender *s, uint64_t bell, struct aiocb **list, int n, int64_t ns)
{
	pthread_mutex_lock(&s->mu);
	s->bell = bell;
	s->list = list;
	s->n = n;
	s->ns = ns;
	s->armed = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int pa_suspender_ret(struct pa_suspender *s) { return __atomic_load_n(&s->ret, __ATOMIC_SEQ_CST); }

void pa_suspender_stop(struct pa_suspender *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* lio_listio; a long list runs on a thread of its own (see PA_STACK_LIST),
   EAGAIN when none can be made. */
int pa_lio(int mode, struct aiocb **list, int n, struct sigevent *sig)
{
	if (n > PA_STACK_LIST) {
		struct pa_big b = {.lio = 1, .mode = mode, .list = list, .n = n, .sig = sig};
		return pa_big_call(&b, EAGAIN);
	}
	if (lio_listio(mode, list, n, sig) < 0)
		return -errno;
	return 0;
}
