/*
 * boucle/sync.h - task-aware synchronization: mutex, semaphore, event,
 * condition variable and wait group.
 *
 * Each suspending call parks only the calling task (its worker runs other
 * tasks) or, from a plain thread, blocks the thread; tasks and threads may
 * mix freely on one object.  Waiters are served in the order they started
 * waiting: an unlock (a release) with waiters hands the mutex (the permit)
 * straight to the oldest one, so a caller arriving later cannot overtake
 * it.  While nobody waits, lock/unlock and acquire/release take no lock
 * and make no system call.
 *
 * Every call returns -EINVAL for a NULL handle; every _free returns -EBUSY
 * (and frees nothing) while a task or thread waits on the object.
 *
 * Timeouts and cancellation: each suspending call has a _timeout form
 * (a relative duration, last; BCL_FOREVER waits forever, 0 does not wait)
 * that returns -ETIMEDOUT with nothing changed: no lock taken, no permit
 * used.  A cancelled task (bcl_cancel) gets -ECANCELED at once if it is
 * waiting, and whenever it would have to wait again; a call that needs no
 * waiting still succeeds, and a waiter that was handed the mutex (or a
 * permit) just before its cancel or timeout keeps it and returns 0.  From a
 * timer callback, a call that would wait returns -EPERM (a _timeout form
 * with 0 never waits: it returns 0 or -ETIMEDOUT there too).
 */
#ifndef BOUCLE_SYNC_H
#define BOUCLE_SYNC_H

#include <boucle/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- bcl_mutex ----------------------------------------------------------- */

typedef struct bcl_mutex bcl_mutex;

/*
 * bcl_mutex_new - create an unlocked mutex.  Not recursive.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_mutex_new(bcl_mutex **out);

/*
 * bcl_mutex_free - free the mutex.
 * Context: any, once no other thread or task uses it.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (locked, or waited on; nothing freed).
 */
BCL_EXPORT int bcl_mutex_free(bcl_mutex *m);

/*
 * bcl_mutex_lock - lock m, suspending while another caller holds it.  The
 * owner is the calling task (wherever it resumes later) or, outside any
 * task, the calling thread.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_mutex_lock(bcl_mutex *m);
BCL_EXPORT int bcl_mutex_lock_timeout(bcl_mutex *m, uint64_t ns);

/*
 * bcl_mutex_trylock - lock m if it is free, without suspending.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (held, by anyone including the caller).
 */
BCL_EXPORT int bcl_mutex_trylock(bcl_mutex *m);

/*
 * bcl_mutex_unlock - unlock m; with waiters, the oldest becomes the owner.
 * Context: the owner (task or thread).  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EPERM (the caller does not hold m).
 */
BCL_EXPORT int bcl_mutex_unlock(bcl_mutex *m);

/* --- bcl_sem -------------------------------------------------------------- */

typedef struct bcl_sem bcl_sem;

/*
 * bcl_sem_new - create a counting semaphore holding `initial` permits.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_sem_new(bcl_sem **out, size_t initial);

/*
 * bcl_sem_free - free the semaphore (permits left are irrelevant).
 * Context: any, once no other thread or task uses it.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (waited on; nothing freed).
 */
BCL_EXPORT int bcl_sem_free(bcl_sem *s);

/*
 * bcl_sem_acquire - take one permit, suspending while there is none.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_sem_acquire(bcl_sem *s);
BCL_EXPORT int bcl_sem_acquire_timeout(bcl_sem *s, uint64_t ns);

/*
 * bcl_sem_try_acquire - take one permit if there is one.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EAGAIN (no permit).
 */
BCL_EXPORT int bcl_sem_try_acquire(bcl_sem *s);

/*
 * bcl_sem_release - give one permit back: to the oldest waiter if any,
 * else to the count.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL, or the count is already SIZE_MAX).
 */
BCL_EXPORT int bcl_sem_release(bcl_sem *s);

/* --- bcl_event ------------------------------------------------------------ */

typedef struct bcl_event bcl_event; /* asyncio.Event */

/*
 * bcl_event_new - create an event, initially not set.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_event_new(bcl_event **out);

/*
 * bcl_event_free - free the event.
 * Context: any, once no other thread or task uses it.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (waited on; nothing freed).
 */
BCL_EXPORT int bcl_event_free(bcl_event *e);

/*
 * bcl_event_set - set the event and wake every waiter; until the next
 * clear, waits return at once.  Setting twice is not an error.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_event_set(bcl_event *e);

/*
 * bcl_event_clear - reset the event: later waits suspend until a set.
 * Waiters already woken by a set still return.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_event_clear(bcl_event *e);

/*
 * bcl_event_wait - return once the event is set (at once if it is).
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_event_wait(bcl_event *e);
BCL_EXPORT int bcl_event_wait_timeout(bcl_event *e, uint64_t ns);

/* True while the event is set (false for NULL).  Context: any. */
BCL_EXPORT bool bcl_event_is_set(const bcl_event *e);

/* --- bcl_cond ------------------------------------------------------------- */

typedef struct bcl_cond bcl_cond; /* used with a bcl_mutex */

/*
 * bcl_cond_new - create a condition variable.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_cond_new(bcl_cond **out);

/*
 * bcl_cond_free - free the condition variable.
 * Context: any, once no other thread or task uses it.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (waited on; nothing freed).
 */
BCL_EXPORT int bcl_cond_free(bcl_cond *c);

/*
 * bcl_cond_wait - atomically unlock m and wait for a signal or broadcast
 * on c, then lock m again before returning.  A signal sent after m was
 * unlocked here is never missed.  Re-check the predicate after return.
 * Context: task or thread holding m.  Suspends: yes.
 * Returns: 0 (m held again); -EINVAL (NULL); -EPERM (the caller does not
 * hold m; nothing done).
 */
BCL_EXPORT int bcl_cond_wait(bcl_cond *c, bcl_mutex *m);
/* m is held again on return, whatever the result (also -ETIMEDOUT). */
BCL_EXPORT int bcl_cond_wait_timeout(bcl_cond *c, bcl_mutex *m, uint64_t ns);

/*
 * bcl_cond_signal / bcl_cond_broadcast - wake the oldest waiter / every
 * waiter of c (no effect when none waits).  The caller need not hold the
 * mutex, but a signal sent without it may come before a waiter links.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_cond_signal(bcl_cond *c);
BCL_EXPORT int bcl_cond_broadcast(bcl_cond *c);

/* --- bcl_waitgroup -------------------------------------------------------- */

typedef struct bcl_waitgroup bcl_waitgroup; /* Go's sync.WaitGroup */

/*
 * bcl_waitgroup_new - create a wait group with a count of 0.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_waitgroup_new(bcl_waitgroup **out);

/*
 * bcl_waitgroup_free - free the wait group.
 * Context: any, once no other thread or task uses it.  Suspends: no.
 * Returns: 0; -EINVAL (NULL); -EBUSY (waited on; nothing freed).
 */
BCL_EXPORT int bcl_waitgroup_free(bcl_waitgroup *wg);

/*
 * bcl_waitgroup_add - add n (may be negative) to the count; reaching zero
 * wakes every waiter.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL, the count would go below 0 or above
 * INT64_MAX; the count is unchanged).
 */
BCL_EXPORT int bcl_waitgroup_add(bcl_waitgroup *wg, int64_t n);

/* bcl_waitgroup_done - bcl_waitgroup_add(wg, -1). */
BCL_EXPORT int bcl_waitgroup_done(bcl_waitgroup *wg);

/*
 * bcl_waitgroup_wait - return once the count is zero (at once if it is).
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_waitgroup_wait(bcl_waitgroup *wg);
BCL_EXPORT int bcl_waitgroup_wait_timeout(bcl_waitgroup *wg, uint64_t ns);

#ifdef __cplusplus
}
#endif
#endif /* BOUCLE_SYNC_H */
