/*
 * exec/join.c - waiting for a task to end: bcl_join.
 *
 * Fast path (work-first, as in Cilk and oneTBB): when the child is still
 * the newest task on the caller's own deque, the caller pops it and runs
 * it right there, on its own stack -- no stack, no switch, no wake-up.
 * Otherwise the caller registers a waiter in the child's join word and
 * suspends until bcl__task_finish() resolves it (task.h, "Join word").
 */
#include <boucle/exec.h>

#include <errno.h>

#include "stack.h"
#include "suspend.h"
#include "task.h"
#include "worker.h"

/* Take the result of a DONE task and free its record. */
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

/* Run t here if it is the unstarted newest task of our deque. */
static bool
join_inline(struct bcl__worker *w, struct bcl_task *t)
{
    if (w == NULL || w->current == NULL ||
        !join_stack_has_room(w->current) || !bcl__deque_pop_if(&w->dq, t))
        return false;
    /* We popped it: it is ours alone now. */
    if (t->stack != NULL) {
        /* Started and resumed onto our deque: it needs its own context.
         * Give it back and wait like anyone else. */
        bcl__task_schedule(t);
        return false;
    }
    if (bcl__task_cancel_requested(t))
        t->status = -ECANCELED;
    else
        bcl__worker_run_inline(w, t);
    bcl__stat_inc(&bcl__worker_current()->stats.finished);
    return true;
}

int
bcl_join(bcl_task *t, void **result)
{
    struct bcl__worker *w = bcl__worker_current();
    struct bcl__waiter waiter;
    uintptr_t expected = 0;

    if (t == NULL || (w != NULL && t == w->current))
        return -EINVAL;
    if (join_inline(w, t))
        return join_collect(t, result);
    if (w != NULL && w->current == NULL)
        return -EPERM; /* a worker outside any task must not block */
    bcl__waiter_init(&waiter);
    /* acq_rel: release publishes the waiter to the finisher; acquire on
     * failure sees the DONE task's result and status. */
    if (atomic_compare_exchange_strong_explicit(&t->join, &expected,
                                                (uintptr_t)&waiter,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
        bcl__wait(&waiter);
    } else if (expected != BCL__JOIN_DONE) {
        return -EINVAL; /* detached, or joined twice */
    }
    return join_collect(t, result);
}
