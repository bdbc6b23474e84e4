/*
 * exec/join.c - waiting for a task to end: bcl_join, bcl_join_timeout.
 *
 * Fast path (work-first, as in Cilk and oneTBB): when the child is still
 * the newest task on the caller's own deque, the caller pops it and runs
 * it right there, on its own stack -- no stack, no switch, no wake-up.
 * Otherwise the caller registers a waiter in the child's join word and
 * suspends until bcl__task_finish() resolves it (task.h, "Join word").
 *
 * A join that times out or is cancelled takes its waiter back with a CAS
 * on the join word (waiter -> 0) and keeps the handle.  If that CAS fails,
 * the finisher exchanged DONE first and holds the waiter: its resolve
 * fails, it releases the waiter (bcl__waiter_release), and only then may
 * the joiner's frame go.
 */
#include <boucle/exec.h>
#include <boucle/time.h>

#include <errno.h>

#include "stack.h"
#include "suspend.h"
#include "task.h"
#include "worker.h"

/* Take the result of a DONE task and free its record (the handle is
 * released). */
static int
join_collect(struct bcl_task *t, void **result)
{
    int status = t->status;

    if (result != NULL)
        *result = t->result;
    bcl__task_free(bcl__worker_current(), t);
    return status;
}

/* Whether more than half of the current stack is still free: a child
 * run inline gets at least half a stack, and a deep chain of joins falls
 * back to giving each child its own stack instead of overflowing. */
static bool
join_stack_has_room(const struct bcl_task *current)
{
    const char *here = __builtin_frame_address(0);
    const char *lo = current->stack->lo;

    return (size_t)(here - lo) > current->stack->size / 2;
}

/* Run t here if it is the unstarted newest task of our deque.  A task
 * that has run sits on a deque marked (sticky), which pop_if never
 * matches: it needs its own context. */
static bool
join_inline(struct bcl__worker *w, struct bcl_task *t)
{
    if (w == NULL || w->current == NULL ||
        !join_stack_has_room(w->current) || !bcl__deque_pop_if(&w->dq, t))
        return false;
    /* We popped it: it is ours alone now. */
    if (bcl__task_cancel_requested(t))
        t->status = -ECANCELED;
    else
        bcl__worker_run_inline(w, t);
    bcl__stat_inc(&bcl__worker_current()->stats.finished);
    return true;
}

/* The caller is cancelled (before or while it waited): it cannot wait
 * for t any more.  -ECANCELED always releases the handle, whoever was
 * cancelled, so t runs on, detached, and leaves no result. */
static int
join_abandon(struct bcl_task *t, void **result, bool *caller_cancelled)
{
    if (result != NULL)
        *result = NULL;
    *caller_cancelled = true;
    bcl_detach(t);
    return -ECANCELED;
}

int
bcl_join_timeout(bcl_task *t, void **result, uint64_t ns)
{
    bool caller_cancelled;

    return bcl__join(t, result, ns, &caller_cancelled);
}

int
bcl__join(bcl_task *t, void **result, uint64_t ns, bool *caller_cancelled)
{
    struct bcl__worker *w = bcl__worker_current();
    struct bcl__waiter waiter;
    uintptr_t expected = 0;
    enum bcl__wait_state state;
    int rc;

    *caller_cancelled = false;
    if (t == NULL || (w != NULL && t == w->current))
        return -EINVAL;
    if (bcl__cancel_pending())
        return join_abandon(t, result, caller_cancelled);
    /* Inline only without a timeout: a child run on our stack cannot be
     * left behind when the time is up. */
    if (ns == BCL_FOREVER && join_inline(w, t))
        return join_collect(t, result);
    if ((rc = bcl__waiter_init(&waiter)) != 0)
        return rc; /* a worker outside any task must not block */
    /* acq_rel: release publishes the waiter to the finisher; acquire on
     * failure sees the DONE task's result and status. */
    if (!atomic_compare_exchange_strong_explicit(&t->join, &expected,
                                                 (uintptr_t)&waiter,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        bcl__waiter_settle(&waiter, BCL__WAIT_WOKEN); /* no wait */
        return expected == BCL__JOIN_DONE
                   ? join_collect(t, result)
                   : -EINVAL; /* detached, or twice */
    }
    state = bcl__wait_until(&waiter, bcl__deadline_after(ns));
    if (state == BCL__WAIT_WOKEN)
        return join_collect(t, result);
    expected = (uintptr_t)&waiter;
    /* relaxed: on success nobody saw the waiter (the finisher will find
     * 0 and leave DONE for a later join); on failure, see above. */
    if (!atomic_compare_exchange_strong_explicit(&t->join, &expected, 0,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed))
        bcl__waiter_wait_released(&waiter, 1);
    if (state == BCL__WAIT_CANCELLED)
        return join_abandon(t, result, caller_cancelled);
    return bcl__wait_status(state); /* -ETIMEDOUT: the handle is kept */
}

int
bcl_join(bcl_task *t, void **result)
{
    return bcl_join_timeout(t, result, BCL_FOREVER);
}
