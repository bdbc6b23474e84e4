/*
 * exec/suspend.h - the suspension interface that sync/, timers and I/O use.
 *
 * A waiter stands for one suspended caller: a task (parked, its worker runs
 * other tasks) or a plain thread (blocked on a futex).  The wait site
 * publishes a pointer to the waiter where a waker will find it (a wait
 * list, a task's join word, a timer), then calls bcl__wait().
 *
 * The waiter's state word decides everything with one CAS:
 *
 *     WAITING --wake--> WOKEN
 *             --timeout--> TIMEDOUT      (the waiting side itself)
 *             --cancel--> CANCELLED      (bcl_cancel, via the task)
 *
 * (TIMEDOUT and CANCELLED are resolved by the timers and cancellation
 * issue's code; today only WOKEN is used.)
 *
 * Exactly one of these transitions succeeds; its author then resumes the
 * waiter (bcl__waiter_resolve does both).  A waker that loses the CAS has
 * nothing to do for that waiter -- for wait lists, it passes the wake on to
 * the next waiter, so a woken-then-cancelled waiter never swallows a
 * wake-up (sync/ builds on this).
 *
 * Order against a concurrent wake: the waker may resolve the waiter before
 * the waiting task has even switched out; the task's run state absorbs
 * that (RUNNING -> NOTIFIED, see task.h) and the task is requeued instead
 * of parked, so no wake-up is lost and none runs the task twice.
 *
 * Lifetime: the waiter lives in the waiting side's frame; a waker may
 * touch it only between finding it and resolving it, under whatever
 * protects the place it was published (a lock, or the exchange on a join
 * word).  After bcl__waiter_resolve() the waker must not touch it again.
 *
 * Context: bcl__waiter_init / bcl__wait: the waiting task or thread.
 * bcl__waiter_resolve: any thread, any task, timer callbacks.
 */
#ifndef BCL_EXEC_SUSPEND_H
#define BCL_EXEC_SUSPEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bcl_task;

enum bcl__wait_state {
    BCL__WAIT_WAITING = 0,
    BCL__WAIT_WOKEN = 1,
    BCL__WAIT_TIMEDOUT = 2,
    BCL__WAIT_CANCELLED = 3,
};

struct bcl__waiter {
    _Atomic uint32_t state;  /* enum bcl__wait_state; one CAS leaves WAITING */
    _Atomic uint32_t parked; /* thread waiters: futex word, 1 once resolved */
    struct bcl_task *task;   /* NULL for a plain thread; immutable */
    void *data;              /* for the wait site (e.g. an item slot) */
};

/* Prepare a waiter for the caller (task or thread). */
void bcl__waiter_init(struct bcl__waiter *w);

/* Suspend until the waiter is resolved; returns its final state. */
enum bcl__wait_state bcl__wait(struct bcl__waiter *w);

/* Try WAITING -> `to` and, on success, resume the waiter.  Returns false
 * if another party resolved it first (the caller must not touch it). */
bool bcl__waiter_resolve(struct bcl__waiter *w, enum bcl__wait_state to);

#endif /* BCL_EXEC_SUSPEND_H */
