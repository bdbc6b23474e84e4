/*
 * exec/loop.h - struct bcl_loop: the workers, the injection queue, the
 * parking state and the run state.
 *
 * Run state: `running` is 1 between the start and the end of a
 * bcl_run_*; workers take tasks only while it is 1 and park otherwise,
 * so tasks spawned before a run wait for it, and a run returns only once
 * every worker is parked (no task code is running).  `stop` is posted by
 * bcl_stop (async-signal-safe) and consumed by bcl_run_forever.  `cancelling` makes
 * every task that has not started end as cancelled while bcl_loop_free
 * drains the loop (suspension points will honour it with the
 * cancellation issue).
 */
#ifndef BCL_EXEC_LOOP_H
#define BCL_EXEC_LOOP_H

#include <boucle/exec.h>

#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <urcu/list.h>

#include "inject.h"
#include "park.h"
#include "stack.h"
#include "worker.h"

struct bcl_loop {
    struct bcl__worker *workers; /* immutable array */
    unsigned nworkers;
    unsigned flags;              /* bcl_config.flags, immutable */
    struct bcl__stack_params stack_params;
    struct bcl__inject inject;
    struct bcl__park park;
    /* 1 while a run is in progress.  Set/cleared by the running thread
     * (seq_cst: part of the parking Dekker pair), read by workers. */
    _Atomic uint32_t running;
    /* A bcl_run_* owns the loop: CAS 0 -> 1 by the caller, release store
     * 0 at the end.  Guards against two concurrent runs. */
    _Atomic uint32_t run_owner;
    /* bcl_stop posts it (sem_post is async-signal-safe); bcl_run_forever
     * waits on it.  A semaphore rather than a raw futex so that sanitizer
     * runtimes, which defer signals until an intercepted call, see the
     * waiting thread blocked in one and run the SIGINT handler at once. */
    sem_t stop;
    /* Set by bcl_loop_free before its drain run; read by tasks. */
    _Atomic uint32_t cancelling;
    /* 1 once bcl_cancel was called on a task of this loop (sticky).
     * Until then no task can be cancelled, and a child run inline need
     * not look at its hosts' flags: fork-join recursion (fib) would walk
     * a chain as deep as the recursion at every end.  Stored before the
     * canceller's flag (task.c, suspend.c). */
    _Atomic uint32_t cancels_seen;
    /* How waits and cancels order the wait word against the cancel flag
     * (suspend.c, "The fence on the canceller's side"): LAZY until the
     * first bcl_cancel's membarrier is through, then ALWAYS; ALWAYS from
     * the start where membarrier is not available. */
    _Atomic uint32_t cancel_fence;
    /* Set once, by bcl_loop_free: workers exit their thread. */
    _Atomic uint32_t shutdown;
    /* Tasks spawned from outside the workers (for bcl_loop_free). */
    _Atomic uint64_t outside_created;
    /* Threads outside the workers queueing a task of this loop (task.c,
     * task_schedule); bcl_loop_free waits for 0. */
    _Atomic uint32_t outside_scheduling;
    /* Round robin over workers for timers armed from outside (time.c). */
    _Atomic uint32_t timer_turn;
    /* Chunk records freed away from their loop's workers (task.h). */
    pthread_mutex_t remote_lock;
    struct bcl_task *remote_free;     /* under remote_lock */
    uint64_t nremote_free;            /* under remote_lock */
    _Atomic uint32_t remote_pending;  /* 1 if remote_free may be non-empty;
                                         relaxed hint, checked then locked */
    /* bcl_call_soon_threadsafe records whose task has not run yet
     * (time.c): a loop freed first frees them. */
    pthread_mutex_t soon_lock;
    struct cds_list_head soon_pending; /* under soon_lock */
};

/* True while tasks may run.  Any thread. */
static inline bool
bcl__loop_running(struct bcl_loop *loop)
{
    /* acquire: a worker that sees the run started sees the tasks the
     * runner queued before setting it; pairs with the store in loop.c. */
    return atomic_load_explicit(&loop->running, memory_order_acquire) != 0;
}

/* True if any source of work that `self` may take looks non-empty (its
 * parking re-check, P4): the injection queue, its own deque, or another
 * deque, unless that one's oldest task is sticky and it holds fewer than
 * the backlog (park.h). */
bool bcl__loop_has_work(struct bcl_loop *loop, struct bcl__worker *self);

/* True if any task looks queued, sticky or not, in the injection queue
 * or in any worker's deque. */
bool bcl__loop_has_queued(struct bcl_loop *loop);

#endif /* BCL_EXEC_LOOP_H */
