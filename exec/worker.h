/*
 * exec/worker.h - one worker thread of a loop and its scheduling loop.
 *
 * Each worker owns a Chase-Lev deque, a stack pool, a cache of task
 * records and its own context (the thread's stack) in which the
 * scheduling loop runs; tasks switch to that context whenever they
 * suspend, yield or end, and the loop picks the next task:
 *
 *   0. its due timers (timer.h);
 *   1. every 61st tick: the injection queue first (fairness);
 *   2. after a yield: the oldest task of its own deque (FIFO), so a task
 *      yielding in a loop lets every other queued task run;
 *   3. its own deque, newest first (LIFO: children run first, few stacks);
 *   4. the injection queue;
 *   5. stealing from random victims, if allowed to spin (park.h); early in
 *      a search grace a victim's only task is left to its owner;
 *   6. a searcher that found nothing keeps searching for a short grace
 *      (1-16 us, adaptive: worker.c, SEARCH_GRACE_MAX_NS), then parks.
 *
 * A task that switches out while steps 2 and 3 have a task, and the loop
 * nothing of its own to do, switches straight to that task (worker.c,
 * "Direct switches"); the task switched to finishes the switch-out.
 *
 * The current worker is the only thread-local state of the library,
 * read through bcl__worker_current(), an out-of-line call that is never
 * cached across a suspension (a task may resume on another thread).
 *
 * Fields marked "owner" are touched only by the worker's own thread.
 */
#ifndef BCL_EXEC_WORKER_H
#define BCL_EXEC_WORKER_H

#include <boucle/exec.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"
#include "deque.h"
#include "fiber.h"
#include "rand.h"
#include "records.h"
#include "stack.h"
#include "timer.h"

struct bcl_task;
struct bcl_timer;

/* What a task asked its scheduler to do after switching out. */
enum bcl__switch_reason {
    BCL__SWITCH_PARK,   /* commit the suspension (task.h wait word) */
    BCL__SWITCH_YIELD,  /* requeue it behind the others */
    BCL__SWITCH_EXIT,   /* it ended: recycle its stack, finish it */
};

/* Counters: written by the owner only (relaxed load + store, no RMW),
 * read by bcl_loop_stats (relaxed). */
struct bcl__worker_stats {
    _Atomic uint64_t tasks_run, spawns, steals, steal_attempts, parks,
        injected, yields;
    _Atomic uint64_t created, finished; /* tasks, for bcl_loop_free */
};

struct bcl__worker {
    struct bcl__deque dq;          /* owner pushes/pops; thieves steal */
    struct bcl_loop *loop;         /* immutable */
    unsigned index;                /* immutable */
    pthread_t thread;              /* immutable after start */
    struct bcl__fiber_ctx sched;   /* owner: the scheduling loop's context */
    struct bcl_task *current;      /* owner: running task, NULL in sched */
    struct bcl__stack *running;    /* owner: stack being run (SIGSEGV) */
    enum bcl__switch_reason reason; /* owner: set by the task before a switch */
    /* Scheduling decisions made: the owner bumps it (relaxed load and
     * store: one writer) at every task switch and loop pass; watchers
     * (park.c) read it, relaxed, to tell a worker stuck in one task. */
    _Atomic uint32_t ticks;
    bool take_oldest;              /* owner: a yield just happened */
    /* owner: a task that switched directly to the running one, whose
     * after-switch step that one runs first (worker.c, "Direct
     * switches"); NULL otherwise. */
    struct bcl_task *switched_from;
    bool spinning;                 /* owner: counted in park.nspinning */
    uint64_t search_until;         /* owner: end of a searcher's grace, ns */
    uint32_t grace_ns;             /* owner: length of its next grace */
    bool grace_after_run;          /* owner: that grace began as work ran out */
    unsigned search_pauses;        /* owner: back-off before its next pass */
    struct bcl__rand rng;          /* owner */
    struct bcl__stack_pool stacks; /* owner */
    struct bcl__records records;   /* owner: task records */
    void *altstack;                /* owner: SIGSEGV handler stack */
    struct bcl__timer_heap timers; /* expired by the owner (timer.h) */
    struct bcl_timer *timer_cache; /* owner: freed timer records (time.c) */
    unsigned ntimer_cache;         /* owner */
    /* Colder fields.  owner: a worker a watch found stuck (its index
     * + 1; 0: none) and its ticks then; its sticky tasks may be stolen
     * while they stay. */
    uint32_t stalled_victim, stalled_ticks;
    /* owner: while watching (park.c), the period and the next look. */
    uint64_t watch_ns, watch_at;
    /* owner: the deque's oldest task as last looked at (its id, -1:
     * none) and how many looks found it still there (worker.c). */
    int64_t oldest_id;
    unsigned oldest_looks;
    /* Futex word: 0 while parked, 1 once woken (a waker stores it,
     * release, then wakes), 2 when kicked to look at its timers again
     * (a foreign bcl__park_kick; the owner resets it to 0).  The owner
     * loads it with acquire. */
    BCL__ALIGNED_CACHELINE _Atomic uint32_t wake;
    struct bcl__worker_stats stats;
};

/* The worker running the caller, or NULL on a plain thread.  Never
 * inlined: the answer may change across any suspension. */
struct bcl__worker *bcl__worker_current(void);

int bcl__worker_start(struct bcl__worker *w);

/* Switch the running task out with `reason`: to the next task of the
 * worker's deque (a direct switch) or to the scheduling loop.  Returns
 * when the task runs again, maybe on another worker. */
void bcl__worker_switch_out(enum bcl__switch_reason reason);

/* Run an unstarted child `t` on the caller's stack (bcl_join inline). */
void bcl__worker_run_inline(struct bcl__worker *w, struct bcl_task *t);

/* Owner-only counter increment (no atomic RMW: single writer). */
static inline void
bcl__stat_inc(_Atomic uint64_t *counter)
{
    /* relaxed: statistics, read approximately by bcl_loop_stats(). */
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

#endif /* BCL_EXEC_WORKER_H */
