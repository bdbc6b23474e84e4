/*
 * exec/task.h - struct bcl_task and its two state machines.
 *
 * 1. Wait word (how a suspension ends, and who queues the task), `wait`:
 *
 *      ARMED          a wait began (bcl__waiter_init), nobody resolved it
 *      ARMED|PARKED   ... and the task is switched out (the commit)
 *      o|HELD         resolved with outcome o before the commit; the
 *                     resolver has not finished with the waiter yet
 *      o|PARKED       resolved; the resolver queues the task
 *      o              resolved and settled; the task goes on by itself
 *
 *    A resolver (waker, timer, canceller) takes ARMED[|PARKED] to o with
 *    one CAS.  If the task was parked, that resolver queues it: one atomic
 *    per wake-up.  If not, the resolver holds the word (HELD) until it has
 *    let go of the waiter, then clears HELD; the commit, finding HELD,
 *    swaps it for PARKED and leaves the queueing to the resolver, and
 *    finding a settled o, requeues the task itself.  The commit happens
 *    after the task's context is saved, on the stack switched to, so a
 *    resolver never starts a context that is still being saved, and a
 *    task never leaves a wait while its resolver still reads the waiter.
 *    Protocol and proof: exec/suspend.c and docs/design.md.  So a task
 *    sits in at most one run queue: its spawner queues it once, a yield
 *    requeues it, and after a wait exactly one party the word names.
 *
 * 2. Join word (who frees the record), `join`:
 *
 *      0 (running, handle held) --bcl_join--> waiter pointer
 *      0 --bcl_detach--> DETACHED
 *      0 / waiter / DETACHED --the task ends (exchange)--> DONE
 *
 *    The exchange to DONE tells the finisher what to do: wake the waiter,
 *    free the record (DETACHED), or nothing (the handle holder will free it
 *    when it sees DONE).  So exactly one party frees each record.
 *
 * A task that has not started has no stack (`stack` NULL); it gets one
 * from its worker's pool, or the stack of a task that just ended on that
 * worker (worker.c, worker_run_next_here).  A child run inline by
 * bcl_join borrows its parent's stack (`inline_host` names the parent):
 * its frames sit on top of the parent's, and suspending it suspends both.
 */
#ifndef BCL_EXEC_TASK_H
#define BCL_EXEC_TASK_H

#include <boucle/exec.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/wfcqueue.h>

#include "base.h"

struct bcl__stack;
struct bcl__worker;

/* The wait word's bits (above); the low two hold an enum
 * bcl__wait_state outcome (exec/suspend.h), 0 while ARMED. */
#define BCL__TW_OUTCOME 3u
#define BCL__TW_PARKED 4u
#define BCL__TW_HELD 8u
#define BCL__TW_ARMED 16u

#define BCL__JOIN_DETACHED ((uintptr_t)1)
#define BCL__JOIN_DONE ((uintptr_t)2)

struct bcl_task {
    bcl_fn fn;                 /* immutable after spawn */
    void *arg;
    void *result;              /* written by the task; read after DONE */
    struct bcl_loop *loop;     /* immutable */
    struct bcl__stack *stack;  /* NULL until first run; then the running worker */
    int status;                /* 0, -ECANCELED or -ENOMEM; read after DONE */
    _Atomic uint32_t wait;      /* the wait word, see above */
    _Atomic uint32_t cancelled; /* sticky flag; any thread sets, task reads */
    /* The child bcl_join is running inline on this task's stack, once
     * that child (or one running inline on it) first suspends, so that
     * cancelling this task reaches the wait; its low bit is set while a
     * canceller uses it (suspend.c, "K4"). */
    _Atomic uintptr_t inline_child;
    /* The task on whose stack this one runs inline (NULL: its own stack):
     * written before the child runs and read only by code running on
     * that stack.  A child sees its hosts' cancellation through it. */
    struct bcl_task *inline_host;
    _Atomic uintptr_t join;    /* 0, waiter pointer, DETACHED or DONE */
    struct cds_wfcq_node inject_node; /* while in the injection queue */
    struct bcl_task *next_free;       /* on a free list (see records) */
    /* The last resume that queued it came from outside the loop's
     * workers (a plain thread): what it waits for is made where no wake
     * can pull it (bcl__spin_may_help).  A hint: a wake that lands
     * before the task has switched out does not queue it and leaves the
     * flag as it was.  Written by the resumer before the task is queued
     * (the queue publishes it), read by the task. */
    bool fed_from_outside;
    bool from_slab;                   /* record owned by the loop */
};

/*
 * Records.  A worker takes the records of its own loop's tasks from its
 * slabs (records.h), which it keeps until the loop is freed, and
 * recycles them through its own free list: spawning never calls malloc.
 * A slab record freed elsewhere (plain thread, other loop) goes to the
 * loop's remote list, under a lock, and a worker whose list is empty
 * takes the whole remote list before carving fresh records.  Tasks
 * spawned from outside any worker of the loop get a malloc'ed record,
 * freed with free().
 */

/* A record for a task of `loop`, its fields left as they were except
 * from_slab (task.c's task_new sets the others); w is the calling worker
 * or NULL.  NULL when out of memory. */
struct bcl_task *bcl__task_alloc(struct bcl_loop *loop, struct bcl__worker *w);
/* Give back a record; w is the calling worker or NULL. */
void bcl__task_free(struct bcl__worker *w, struct bcl_task *t);

/* Queue a task whose wait a resolver ended while it was parked (the
 * resolver owns it now: wait word above), sticky: on the calling
 * worker's deque if it serves the task's loop, else through the
 * injection queue.  Any thread.  (Spawns queue new tasks the same way,
 * unmarked: task.c.) */
void bcl__task_resume(struct bcl_task *t);

/* The task has ended (status already set): publish DONE and act on the
 * join word.  w is the calling worker of the task's loop (never NULL:
 * tasks end on their loop's workers). */
void bcl__task_finish(struct bcl__worker *w, struct bcl_task *t);

/* A child run inline on `host`'s stack has returned: if it was published
 * in host's inline_child (it suspended), take it back, waiting out a
 * canceller that is using it.  suspend.c. */
void bcl__task_unhost_inline(struct bcl_task *host, struct bcl_task *child);

/* bcl_join_timeout, also saying whether a -ECANCELED is the caller's own
 * cancellation (t was then detached) rather than t's status (its record
 * collected); either way the handle is released.  join.c. */
int bcl__join(struct bcl_task *t, void **result, uint64_t ns,
              bool *caller_cancelled);

/* True if t, a task it runs inline for (its inline_host chain) or its
 * loop asked for cancellation (checked at suspension points, before a
 * task starts and when it ends).  The hosts are looked at only once the
 * loop has seen a bcl_cancel (its sticky cancels_seen), which is enough
 * for a cancel that happened before the check. */
bool bcl__task_cancel_requested(const struct bcl_task *t);

/* The same without the cancels_seen shortcut: C2 of the cancellation
 * handshake, after a seq_cst fence (suspend.c).  There the cancel may be
 * concurrent, and C11's fence rules order a canceller's own stores, not
 * another canceller's store of cancels_seen that it only read. */
bool bcl__task_cancel_flagged(const struct bcl_task *t);

#endif /* BCL_EXEC_TASK_H */
