/*
 * boucle/exec.h - the executor: loops, tasks, spawning, joining, running.
 *
 * A bcl_loop owns N worker threads, each running its own event loop over a
 * work-stealing deque.  Tasks are stackful fibers: they may suspend in any
 * boucle call marked "Suspends: yes" and resume later, possibly on another
 * worker thread of the same loop (see docs/design.md, "Thread-local storage").
 *
 * Lifetime of a task handle: bcl_spawn / bcl_spawn_on give a handle when
 * `out` is not NULL; it must be released exactly once, by bcl_join (or a
 * successful bcl_join of any form) or bcl_detach.
 */
#ifndef BOUCLE_EXEC_H
#define BOUCLE_EXEC_H

#include <boucle/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bcl_loop bcl_loop;
typedef struct bcl_task bcl_task;

/* bcl_config.flags */
enum {
    /* Pin worker i to the i-th CPU of the process's affinity mask. */
    BCL_PIN_WORKERS = 1u << 0,
    /* While bcl_run_forever runs, SIGINT stops it (as bcl_stop would). */
    BCL_STOP_ON_SIGINT = 1u << 1,
    /* Guard stacks with mprotect even where MADV_GUARD_INSTALL works: two
     * memory maps per stack, so at most ~vm.max_map_count / 2 stacks. */
    BCL_GUARD_MPROTECT = 1u << 2,
    /* While bcl_run_forever runs, SIGTERM stops it (as bcl_stop would). */
    BCL_STOP_ON_SIGTERM = 1u << 3,
};

typedef struct bcl_config {
    unsigned workers;    /* 0: one per CPU the process may run on */
    size_t stack_size;   /* 0: 64 KiB; rounded up to pages, plus a guard zone */
    unsigned flags;      /* BCL_PIN_WORKERS, BCL_STOP_ON_SIGINT, ... */
} bcl_config;

/*
 * bcl_loop_new - create a loop and its worker threads (parked until a run).
 * cfg may be NULL for the defaults.
 * Context: plain thread.  Suspends: no.
 * Returns: 0; -EINVAL (out NULL, more than 1024 workers, stack size over
 * 1 GiB or flags unknown); -ENOMEM; -EAGAIN (threads could not be started).
 */
BCL_EXPORT int bcl_loop_new(bcl_loop **out, const bcl_config *cfg);

/*
 * bcl_loop_free - cancel every task still queued in the loop, join the
 * worker threads and free everything.  Tasks that never ran are freed
 * without running; a queued task that had started is freed with its stack.
 * Context: plain thread, not while a run is in progress.  Suspends: no.
 * Returns: 0; -EINVAL (loop NULL); -EPERM (called from a task); -EBUSY (a
 * run is in progress, tasks are still suspended on objects that never woke
 * them, or handles of tasks spawned from inside the loop were neither
 * joined nor detached; nothing is freed).
 */
BCL_EXPORT int bcl_loop_free(bcl_loop *loop);

/*
 * bcl_run_until_complete - run `main(arg)` as a task of the loop, together
 * with every task already queued, and return when main ends; *result (if
 * not NULL) receives its return value.  Other tasks still pending then stay
 * in the loop for the next run.  A loop may be run any number of times.
 * Context: plain thread.  Suspends: blocks the caller.
 * Returns: 0; -EINVAL (loop or main NULL); -EBUSY (the loop is running);
 * -EPERM (called from a task); -ENOMEM; -ECANCELED (main was cancelled).
 */
BCL_EXPORT int bcl_run_until_complete(bcl_loop *loop, bcl_fn main, void *arg,
                                      void **result);

/*
 * bcl_run_forever - serve the loop's tasks until bcl_stop() (or, with
 * BCL_STOP_ON_SIGINT / BCL_STOP_ON_SIGTERM, until SIGINT / SIGTERM; the
 * handler only calls bcl_stop, and the previous dispositions come back
 * when the run returns).  Tasks still pending stay for the next run;
 * tasks in the middle of running finish their current step first.
 * Context: plain thread.  Suspends: blocks the caller.
 * Returns: 0; -EINVAL (loop NULL); -EBUSY (the loop is running, or another
 * loop already stops on these signals); -EPERM (called from a task).
 */
BCL_EXPORT int bcl_run_forever(bcl_loop *loop);

/*
 * bcl_stop - ask the current (or next) run of the loop to return.
 * A stop requested while the loop is not running ends its next
 * bcl_run_forever at once.
 * Context: any, including signal handlers (async-signal-safe).
 * Returns: 0; -EINVAL (loop NULL).
 */
BCL_EXPORT int bcl_stop(bcl_loop *loop);

/*
 * bcl_spawn - start fn(arg) as a new task of the caller's loop.  The new
 * task is pushed on the caller's worker deque, where an idle worker may
 * steal it.  out may be NULL: the task is then detached.
 * Context: task.  Suspends: no.
 * Returns: 0; -EINVAL (fn NULL); -EPERM (not called from a task: use
 * bcl_spawn_on); -ENOMEM.
 */
BCL_EXPORT int bcl_spawn(bcl_task **out, bcl_fn fn, void *arg);

/*
 * bcl_spawn_on - start fn(arg) as a new task of `loop`, from anywhere.
 * When the loop is not running, the task waits for its next run (asyncio's
 * ensure_future before run_forever).  out may be NULL: detached.
 * Context: any thread or task.  Suspends: no.
 * Returns: 0; -EINVAL (loop or fn NULL); -ENOMEM.
 */
BCL_EXPORT int bcl_spawn_on(bcl_loop *loop, bcl_task **out, bcl_fn fn,
                            void *arg);

/*
 * bcl_join - wait until t ends, store its return value in *result (if not
 * NULL) and release the handle.  A child that has not started yet and sits
 * on the caller's own deque is run right there, on the caller's stack.
 * Context: task or plain thread.  Suspends: yes.
 * Returns: 0; -EINVAL (t NULL, or t is the caller itself); -EPERM (from a
 * timer callback, which must not block); -ECANCELED (t was cancelled:
 * *result is still set, NULL if t never ran; or the calling task was: t
 * runs on, detached, and *result is NULL).  0 and -ECANCELED release the
 * handle; -EINVAL and -EPERM keep it.
 */
BCL_EXPORT int bcl_join(bcl_task *t, void **result);

/*
 * bcl_detach - release the handle; the task runs on and frees itself.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (t NULL).
 */
BCL_EXPORT int bcl_detach(bcl_task *t);

/*
 * bcl_cancel - request cancellation of t.  A task cancelled before it
 * starts never runs; bcl_join on a cancelled task returns -ECANCELED.
 * The request is sticky: t's suspending call in progress returns
 * -ECANCELED at once, and so does every later one.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (t NULL); -ENOMEM or -EPERM if the loop's first
 * cancel could not run its membarrier(2) (the kernel ran out of memory,
 * or a seccomp filter forbids it): the request is recorded and every
 * later suspending call of t returns -ECANCELED, but a call t entered
 * just before may not be interrupted.
 */
BCL_EXPORT int bcl_cancel(bcl_task *t);

/*
 * bcl_yield - let every other runnable task of this worker run before the
 * caller continues (it is requeued behind them; it may be stolen).
 * From a plain thread, yields the thread (sched_yield).
 * Context: any.  Suspends: yes (briefly).
 */
BCL_EXPORT void bcl_yield(void);

/*
 * bcl_current - the loop running the caller; NULL in a plain thread.
 * Context: any.  Suspends: no.
 */
BCL_EXPORT bcl_loop *bcl_current(void);

/*
 * bcl_current_task - the task calling it; NULL in a plain thread.
 * Context: any.  Suspends: no.
 */
BCL_EXPORT bcl_task *bcl_current_task(void);

/*
 * bcl_worker_index - index (0..workers-1) of the worker thread running the
 * caller right now; -EPERM in a plain thread.  It may change after any
 * suspending call.
 * Context: any.  Suspends: no.
 */
BCL_EXPORT int bcl_worker_index(void);

/* Per-worker counters, read with bcl_loop_stats(). */
typedef struct bcl_stats {
    uint64_t tasks_run;      /* tasks started or resumed by this worker */
    uint64_t spawns;         /* tasks spawned from this worker */
    uint64_t steals;         /* tasks taken from another worker's deque */
    uint64_t steal_attempts; /* steal tries, successful or not */
    uint64_t parks;          /* times the worker went to sleep */
    uint64_t injected;       /* tasks taken from the injection queue */
    uint64_t yields;         /* bcl_yield calls served */
} bcl_stats;

/*
 * bcl_loop_stats - copy up to n workers' counters into per_worker (may be
 * NULL when n is 0) and the number of workers into *workers (may be NULL).
 * Counters are read without stopping the workers: each value is exact
 * once the loop is not running.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (loop NULL, or per_worker NULL with n > 0).
 */
BCL_EXPORT int bcl_loop_stats(bcl_loop *loop, bcl_stats *per_worker,
                              unsigned n, unsigned *workers);

#ifdef __cplusplus
}
#endif
#endif /* BOUCLE_EXEC_H */
