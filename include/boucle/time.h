/*
 * boucle/time.h - time on the per-core loops: sleeping, timers, timed
 * joins, gather / wait_any, and callbacks from other threads.
 *
 * Every worker keeps its own timers; a parked worker sleeps exactly until
 * its next timer or new work.  Timers fire only while the loop runs (a
 * bcl_run_* is in progress), as asyncio's call_later callbacks do.  A
 * timer fires on the worker that armed it (a task's sleep: its worker at
 * the time), between tasks: a task that runs long without suspending
 * delays that worker's timers, and the other workers do not take them
 * over -- a sleep still never ends early, but may end late by as much.
 */
#ifndef BOUCLE_TIME_H
#define BOUCLE_TIME_H

#include <boucle/common.h>
#include <boucle/exec.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC, in nanoseconds.  Context: any.  Suspends: no. */
BCL_EXPORT uint64_t bcl_now_ns(void);

/*
 * bcl_sleep - suspend the calling task for at least ns nanoseconds (a
 * plain thread sleeps); 0 ns yields.
 * Context: task or thread (not a timer callback).  Suspends: yes.
 * Returns: 0; -ECANCELED (the task is cancelled: at once, even mid-sleep);
 * -EPERM (from a timer callback).
 */
BCL_EXPORT int bcl_sleep(uint64_t ns);

typedef struct bcl_timer bcl_timer;

/*
 * bcl_call_later - run cb(arg) once, ns nanoseconds from now, on a worker
 * of `loop`, outside any task (cb must not suspend: suspending calls
 * return -EPERM there).  From a task of `loop` the timer lives on that
 * task's worker; from elsewhere, on the loop's workers in turn.
 * out may be NULL: the timer then frees itself after firing.  A handle in
 * *out is released by exactly one bcl_timer_cancel, also after it fired.
 * Context: any thread (not a signal handler).  Suspends: no.
 * Returns: 0; -EINVAL (NULL loop or cb); -ENOMEM.
 */
BCL_EXPORT int bcl_call_later(bcl_loop *loop, uint64_t ns, void (*cb)(void *),
                              void *arg, bcl_timer **out);

/*
 * bcl_call_every - run cb(arg) every period_ns, at fixed rate: the n-th
 * call is due n periods after the call, so lateness never accumulates
 * (a late call is followed by the next one on schedule).  With out NULL
 * it runs until the loop is freed.
 * Returns: as bcl_call_later; -EINVAL also for period_ns == 0.
 */
BCL_EXPORT int bcl_call_every(bcl_loop *loop, uint64_t period_ns,
                              void (*cb)(void *), void *arg, bcl_timer **out);

/*
 * bcl_timer_cancel - stop the timer and release the handle.  After it
 * returns, cb is not started again; a call already running on another
 * worker is waited for -- except from a timer callback (its own or
 * another timer's: two callbacks cancelling each other would wait
 * forever), where cancel returns at once and the timer is freed when
 * that call returns.
 * Context: any thread or task, or the timer's own callback.
 * Suspends: no (may wait for a running callback).
 * Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_timer_cancel(bcl_timer *t);

/*
 * bcl_call_soon_threadsafe - run cb(arg) on `loop` as soon as possible,
 * from any thread (asyncio's call_soon_threadsafe).  The callback runs as
 * a short detached task, so it may suspend.  A loop freed before it ran
 * drops it: the callback never runs, and nothing is leaked.
 * Context: any thread (not a signal handler).  Suspends: no.
 * Returns: 0; -EINVAL (NULL loop or cb); -ENOMEM.
 */
BCL_EXPORT int bcl_call_soon_threadsafe(bcl_loop *loop, void (*cb)(void *),
                                        void *arg);

/*
 * bcl_join_timeout - bcl_join, giving up after ns nanoseconds (0: do not
 * wait).  On -ETIMEDOUT the handle is kept: join or detach it later.
 * -ECANCELED releases it, as in bcl_join.
 * Context: task or thread.  Suspends: yes.
 * Returns: as bcl_join; -ETIMEDOUT.
 */
BCL_EXPORT int bcl_join_timeout(bcl_task *t, void **result, uint64_t ns);

/*
 * bcl_gather - join every task in array order (asyncio's gather): every
 * handle is released and results[i] (if results is not NULL) gets each
 * task's result.  Returns 0 or the first error in array order.  If the
 * caller is cancelled meanwhile, the handles not yet joined are detached
 * (their results[i] are NULL) and -ECANCELED is returned.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0 (also for n == 0); -EINVAL (tasks NULL with n > 0, a NULL
 * handle -- the others are still joined -- or a handle that appears twice
 * -- then none is joined); -EPERM (from a timer callback, which must not
 * wait: none is joined); a task's own error (-ECANCELED, -ENOMEM).  A
 * handle released earlier must not be passed, as with bcl_join.
 */
BCL_EXPORT int bcl_gather(bcl_task **tasks, size_t n, void **results);

/*
 * bcl_wait_any - wait until one of the tasks has ended, or ns pass
 * (asyncio's wait(FIRST_COMPLETED)); *index gets a task that ended.
 * Releases nothing: join or detach every handle afterwards.  No other
 * caller may be joining these tasks meanwhile, and a handle may appear
 * only once in the array.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (n == 0, NULL arguments, a handle joined or
 * detached elsewhere); -ETIMEDOUT; -ECANCELED.
 */
BCL_EXPORT int bcl_wait_any(bcl_task **tasks, size_t n, uint64_t ns,
                            size_t *index);

#ifdef __cplusplus
}
#endif
#endif /* BOUCLE_TIME_H */
