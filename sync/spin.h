/*
 * sync/spin.h - waiting out another thread's few-instruction window.
 *
 * The queue's rings have two short windows in which one party has claimed a
 * slot (by CAS on an index) and not yet written it: a producer between its
 * claim and its publish, a consumer between its claim and its release.
 * Such a window is a handful of instructions, so the party waiting on it
 * spins -- with ck_backoff's exponential pause -- and only if the other
 * thread was preempted inside the window (the spin grows long) does it give
 * up the CPU with sched_yield() so the preempted thread can finish.
 *
 * Never used to wait for an event that depends on a task being scheduled:
 * a task cannot suspend inside those windows, so the other party is always
 * a running (or runnable, preempted) thread.
 */
#ifndef BCL_SYNC_SPIN_H
#define BCL_SYNC_SPIN_H

#include <ck_backoff.h>
#include <sched.h>

#define BCL__SPIN_FIRST 8u      /* pause loop length of the first wait */
#define BCL__SPIN_YIELD 4096u   /* past this, the other side was preempted */

struct bcl__spin {
    ck_backoff_t backoff;
};

static inline void
bcl__spin_init(struct bcl__spin *s)
{
    s->backoff = BCL__SPIN_FIRST;
}

static inline void
bcl__spin_once(struct bcl__spin *s)
{
    if (s->backoff > BCL__SPIN_YIELD)
        sched_yield();
    else
        ck_backoff_eb(&s->backoff);
}

#endif /* BCL_SYNC_SPIN_H */
