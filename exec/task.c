/*
 * exec/task.c - task records, spawning, scheduling, resuming, finishing,
 * detach, cancel, yield (state machines in task.h).
 */
#include "task.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "loop.h"
#include "park.h"
#include "suspend.h"
#include "worker.h"

/* Owner: when w's free list is empty, take the loop's remote list. */
static void
task_take_remote(struct bcl__worker *w)
{
    struct bcl_loop *loop = w->loop;

    /* relaxed: a hint; the list itself is read under the lock. */
    if (!atomic_load_explicit(&loop->remote_pending, memory_order_relaxed))
        return;
    pthread_mutex_lock(&loop->remote_lock);
    bcl__records_adopt(&w->records, loop->remote_free, loop->nremote_free);
    loop->remote_free = NULL;
    loop->nremote_free = 0;
    /* relaxed: under the lock, which orders it with the pushers. */
    atomic_store_explicit(&loop->remote_pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&loop->remote_lock);
}

struct bcl_task *
bcl__task_alloc(struct bcl_loop *loop, struct bcl__worker *w)
{
    struct bcl_task *t;

    if (w == NULL || w->loop != loop) {
        t = malloc(sizeof *t);
        if (t != NULL)
            t->from_slab = false;
        return t;
    }
    if (w->records.free == NULL)
        task_take_remote(w);
    t = bcl__records_take(&w->records);
    if (t != NULL)
        t->from_slab = true;
    return t;
}

void
bcl__task_free(struct bcl__worker *w, struct bcl_task *t)
{
    struct bcl_loop *loop = t->loop;

    if (!t->from_slab) {
        free(t);
        return;
    }
    if (w != NULL && w->loop == loop) {
        bcl__records_give(&w->records, t);
        return;
    }
    pthread_mutex_lock(&loop->remote_lock);
    t->next_free = loop->remote_free;
    loop->remote_free = t;
    loop->nremote_free++;
    /* relaxed: under the lock; see task_take_remote(). */
    atomic_store_explicit(&loop->remote_pending, 1, memory_order_relaxed);
    pthread_mutex_unlock(&loop->remote_lock);
}

bool
bcl__task_cancel_flagged(const struct bcl_task *t)
{
    struct bcl_loop *loop = t->loop;

    /* seq_cst: the C2 loads of the cancellation handshake (suspend.c),
     * and acquires: the task sees what a canceller wrote before.  The
     * hosts too: a child run inline is part of its hosts' wait. */
    for (; t != NULL; t = t->inline_host)
        if (atomic_load_explicit(&t->cancelled, memory_order_seq_cst) != 0)
            return true;
    /* acquire: pairs with the release in loop_drain(). */
    return atomic_load_explicit(&loop->cancelling, memory_order_acquire);
}

bool
bcl__task_cancel_requested(const struct bcl_task *t)
{
    struct bcl_loop *loop = t->loop;

    /* relaxed: bcl_cancel stores it before its K1 store, so a cancel
     * that happened before this check is seen here too (the walk below
     * is as deep as the inline recursion: fib's 30 levels at every end).
     * acquire on `cancelling`: pairs with the release in loop_drain(). */
    if (!atomic_load_explicit(&loop->cancels_seen, memory_order_relaxed))
        return atomic_load_explicit(&loop->cancelling, memory_order_acquire);
    return bcl__task_cancel_flagged(t);
}

/* Queue t: on the calling worker w's deque if w serves t's loop, else
 * (or if the deque cannot grow) through the injection queue, which
 * cannot fail; wake a worker if needed.  A task that has run (`resumed`)
 * is queued sticky (park.h); one that has not, plain.  w is
 * bcl__worker_current() (or NULL), read once by the caller; `resumed` is
 * a constant in each caller below. */
static inline void
task_schedule(struct bcl__worker *w, struct bcl_task *t, bool resumed)
{
    struct bcl_loop *loop = t->loop;
    bool inside = w != NULL && w->loop == loop;

    if (resumed)
        t->fed_from_outside = !inside;
    if (inside) {
        /* W1 of the wake-up protocol (park.h): publish, then wake.  A
         * resumed task is sticky (marked) and, below the backlog, needs
         * no wake-up while another worker watches. */
        int64_t queued = resumed ? bcl__deque_push_marked(&w->dq, t)
                                 : bcl__deque_push(&w->dq, t);

        if (queued < 0)
            bcl__inject_push(&loop->inject, t);
        if (loop->nworkers == 1)
            return; /* the one worker is us, running: nobody to wake */
        if (resumed && queued > 0 && queued < BCL__STICKY_BACKLOG)
            bcl__park_wake_sticky(loop);
        else
            bcl__park_wake_one(loop);
        return;
    }
    /* From outside the loop's workers (a plain thread putting on a queue,
     * another loop): once t is published it may run, end the run, and the
     * loop may be freed while we still wake a worker.  bcl_loop_free
     * waits for `outside_scheduling` to drop to 0.  relaxed increment:
     * ordered before the publication by the push's own release. */
    atomic_fetch_add_explicit(&loop->outside_scheduling, 1,
                              memory_order_relaxed);
    bcl__inject_push(&loop->inject, t);
    bcl__park_wake_one(loop);
    /* release: our last touch of the loop; pairs with loop_free's
     * acquire. */
    atomic_fetch_sub_explicit(&loop->outside_scheduling, 1,
                              memory_order_release);
}

void
bcl__task_resume(struct bcl_task *t)
{
    task_schedule(bcl__worker_current(), t, true);
}

void
bcl__task_finish(struct bcl__worker *w, struct bcl_task *t)
{
    uintptr_t old;

    bcl__stat_inc(&w->stats.finished);
    /* acq_rel: release publishes result and status to the handle holder;
     * acquire sees the waiter it registered (bcl_join). */
    old = atomic_exchange_explicit(&t->join, BCL__JOIN_DONE,
                                   memory_order_acq_rel);
    if (old == 0)
        return; /* the handle holder frees it when it sees DONE */
    if (old == BCL__JOIN_DETACHED) {
        bcl__task_free(w, t);
        return;
    }
    /* A joiner that timed out or was cancelled but could not take its
     * waiter back (we exchanged first) waits for our release. */
    if (!bcl__waiter_resolve((struct bcl__waiter *)old, BCL__WAIT_WOKEN))
        bcl__waiter_release((struct bcl__waiter *)old);
}

/* Make a record for fn(arg) in loop, counted against w if it serves the
 * loop (else against the loop's outside counter). */
static struct bcl_task *
task_new(struct bcl__worker *w, struct bcl_loop *loop, bool handle,
         bcl_fn fn, void *arg)
{
    bool local = w != NULL && w->loop == loop;
    struct bcl_task *t = bcl__task_alloc(loop, w);

    if (t == NULL)
        return NULL;
    /* Field by field, not a memset: for this 104-byte record the
     * compiler emits `rep stos`, whose start-up costs more than these
     * stores (docs/design.md, "Task records").
     * inject_node is set by the injection push, next_free by a free
     * list.  relaxed: the record is published by the queue push that
     * follows. */
    t->fn = fn;
    t->arg = arg;
    t->result = NULL;
    t->loop = loop;
    t->stack = NULL;
    t->status = 0;
    atomic_store_explicit(&t->wait, 0, memory_order_relaxed);
    atomic_store_explicit(&t->cancelled, 0, memory_order_relaxed);
    atomic_store_explicit(&t->inline_child, 0, memory_order_relaxed);
    t->inline_host = NULL;
    atomic_store_explicit(&t->join, handle ? 0 : BCL__JOIN_DETACHED,
                          memory_order_relaxed);
    t->fed_from_outside = false;
    if (local) {
        bcl__stat_inc(&w->stats.created);
        bcl__stat_inc(&w->stats.spawns);
    } else {
        /* relaxed: a counter, read by bcl_loop_free once workers park. */
        atomic_fetch_add_explicit(&loop->outside_created, 1,
                                  memory_order_relaxed);
    }
    return t;
}

/* Both spawns; w is the caller's bcl__worker_current(). */
static int
task_spawn(struct bcl__worker *w, bcl_loop *loop, bcl_task **out, bcl_fn fn,
           void *arg)
{
    struct bcl_task *t = task_new(w, loop, out != NULL, fn, arg);

    if (t == NULL)
        return -ENOMEM;
    if (out != NULL)
        *out = t;
    task_schedule(w, t, false);
    return 0;
}

int
bcl_spawn_on(bcl_loop *loop, bcl_task **out, bcl_fn fn, void *arg)
{
    if (loop == NULL || fn == NULL)
        return -EINVAL;
    return task_spawn(bcl__worker_current(), loop, out, fn, arg);
}

int
bcl_spawn(bcl_task **out, bcl_fn fn, void *arg)
{
    struct bcl__worker *w = bcl__worker_current();

    if (fn == NULL)
        return -EINVAL;
    if (w == NULL || w->current == NULL)
        return -EPERM;
    return task_spawn(w, w->loop, out, fn, arg);
}

int
bcl_detach(bcl_task *t)
{
    uintptr_t expected = 0;

    if (t == NULL)
        return -EINVAL;
    /* acq_rel: release hands the record to the finisher (which frees it);
     * acquire on failure: we see the finished task before freeing it. */
    if (atomic_compare_exchange_strong_explicit(&t->join, &expected,
                                                BCL__JOIN_DETACHED,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return 0;
    if (expected != BCL__JOIN_DONE)
        return -EINVAL; /* already detached or being joined */
    bcl__task_free(bcl__worker_current(), t);
    return 0;
}

void
bcl_yield(void)
{
    struct bcl__worker *w = bcl__worker_current();

    if (w == NULL || w->current == NULL) {
        sched_yield();
        return;
    }
    bcl__worker_switch_out(BCL__SWITCH_YIELD);
}

bcl_task *
bcl_current_task(void)
{
    struct bcl__worker *w = bcl__worker_current();

    return w != NULL ? w->current : NULL;
}

bcl_loop *
bcl_current(void)
{
    struct bcl__worker *w = bcl__worker_current();

    return w != NULL ? w->loop : NULL;
}

int
bcl_worker_index(void)
{
    struct bcl__worker *w = bcl__worker_current();

    return w != NULL ? (int)w->index : -EPERM;
}
