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
 * TIMEDOUT comes from a timer on the waiting task's worker (or, for a
 * thread, from its own futex timeout), CANCELLED from bcl_cancel, which
 * finds the waiter through the task's `waiting` word (suspend.c).
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
 * word).  After a successful bcl__waiter_resolve() the waker must not
 * touch it again.  A waker that took the waiter from its publication
 * place and then lost the CAS (a timeout or cancel won) calls
 * bcl__waiter_release() as its last touch; the waiting side, seeing its
 * waiter gone from the publication place, waits for that with
 * bcl__waiter_wait_released() before leaving the frame.
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
    _Atomic uint32_t released; /* wakers done with it, see "Lifetime" */
};

/* Prepare a waiter for the caller.  Returns 0, or -EPERM on a worker
 * thread outside any task (a timer callback), which must not block. */
int bcl__waiter_init(struct bcl__waiter *w);

/* Suspend until the waiter is resolved; returns its final state.  A task
 * whose cancellation is (or becomes) requested gets CANCELLED unless a
 * wake won first. */
enum bcl__wait_state bcl__wait(struct bcl__waiter *w);

/* The same with an absolute deadline (bcl__deadline_after); UINT64_MAX
 * waits forever.  TIMEDOUT only once the deadline has passed. */
enum bcl__wait_state bcl__wait_until(struct bcl__waiter *w,
                                     uint64_t deadline);

/* Try WAITING -> `to` and, on success, resume the waiter.  Returns false
 * if another party resolved it first (the caller must not touch it,
 * except for bcl__waiter_release, see "Lifetime"). */
bool bcl__waiter_resolve(struct bcl__waiter *w, enum bcl__wait_state to);

/* The two halves of bcl__waiter_resolve, for wakers that must finish with
 * the structure the waiter was found in before the waiter runs again (a
 * mutex hand-off, then the list unlock, then the resume): a claimed waiter
 * cannot return before bcl__waiter_wake, so its frame stays valid. */
bool bcl__waiter_claim(struct bcl__waiter *w, enum bcl__wait_state to);
void bcl__waiter_wake(struct bcl__waiter *w);

/* A waker's last touch of a waiter whose resolve it lost. */
static inline void
bcl__waiter_release(struct bcl__waiter *w)
{
    /* release: our reads of the waiter are done; pairs with the acquire
     * in bcl__waiter_wait_released().  A count: a waiter published in
     * several places (bcl_wait_any) may be released by several wakers. */
    atomic_fetch_add_explicit(&w->released, 1, memory_order_release);
}

/* The waiting side: wait until `count` wakers released it (short). */
void bcl__waiter_wait_released(struct bcl__waiter *w, uint32_t count);

/* now + ns, saturating at UINT64_MAX (= forever; BCL_FOREVER maps here). */
uint64_t bcl__deadline_after(uint64_t ns);

/* 0, -ETIMEDOUT or -ECANCELED for WOKEN, TIMEDOUT, CANCELLED. */
int bcl__wait_status(enum bcl__wait_state state);

/* Has the calling task been cancelled?  (False for plain threads.)  Every
 * suspending call checks it first: cancellation is sticky. */
bool bcl__cancel_pending(void);

/* Whether retrying a little before suspending may pay: the caller is a
 * task on a loop with other workers, which run at the same time and may
 * produce what it waits for, and its own worker has nothing else queued
 * (a counterpart queued there cannot run while the caller spins; on one
 * worker nothing else runs at all). */
bool bcl__spin_may_help(void);

#endif /* BCL_EXEC_SUSPEND_H */
