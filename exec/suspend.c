/*
 * exec/suspend.c - waiters: suspend a task or block a thread until one
 * CAS on the waiter's state resolves it (protocol in suspend.h).
 */
#include "suspend.h"

#include "futex.h"
#include "task.h"
#include "worker.h"

void
bcl__waiter_init(struct bcl__waiter *w)
{
    struct bcl__worker *worker = bcl__worker_current();

    /* relaxed: the waiter is published later by the wait site (a lock or
     * a release CAS), which orders these stores. */
    atomic_store_explicit(&w->state, BCL__WAIT_WAITING, memory_order_relaxed);
    atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
    w->task = worker != NULL ? worker->current : NULL;
    w->data = NULL;
}

enum bcl__wait_state
bcl__wait(struct bcl__waiter *w)
{
    if (w->task != NULL) {
        /* The scheduler commits the suspension after the switch; a
         * resolve that came first turns it into an immediate requeue. */
        bcl__worker_switch_out(BCL__SWITCH_PARK);
    } else {
        /* acquire: pairs with the release store in bcl__waiter_resolve(). */
        while (atomic_load_explicit(&w->parked, memory_order_acquire) == 0)
            bcl__futex_wait(&w->parked, 0, NULL);
    }
    /* acquire: the resolver's CAS (acq_rel) published the outcome and
     * everything it wrote before. */
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

bool
bcl__waiter_resolve(struct bcl__waiter *w, enum bcl__wait_state to)
{
    uint32_t expected = BCL__WAIT_WAITING;
    struct bcl_task *task;

    /* acq_rel: the one CAS that decides the outcome; release publishes
     * the resolver's writes (e.g. a handed-over item) to the waiter. */
    if (!atomic_compare_exchange_strong_explicit(&w->state, &expected, to,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    task = w->task;
    if (task != NULL) {
        bcl__task_resume(task);
    } else {
        /* release: pairs with the acquire loop in bcl__wait().  After
         * this store the waiter may return: only its address is used
         * below, and a futex wake on a stale address is harmless. */
        atomic_store_explicit(&w->parked, 1, memory_order_release);
        bcl__futex_wake(&w->parked, 1);
    }
    return true;
}
