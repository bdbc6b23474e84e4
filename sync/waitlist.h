/*
 * sync/waitlist.h - a FIFO of suspended callers (tasks and plain threads),
 * the slow path of every structure in sync/.
 *
 * A waiting caller links an entry (living in its own frame) under the
 * list's lock, re-checks its condition still under the lock, and only
 * then unlocks and suspends.  A waker pops entries under the same lock and
 * resolves each (exec/suspend.h); an entry whose waiter was already
 * resolved by someone else (a timeout, a cancellation) is skipped and the
 * wake goes to the next, so a wake-up is never swallowed.
 *
 * Two ways to wake:
 *   - bcl__waitlist_wake_locked resolves under the lock: for hand-offs
 *     (mutex, semaphore) where the decision and the resolve must be one
 *     atomic step with respect to other lockers;
 *   - bcl__waitlist_wake pops under the lock but resolves after dropping
 *     it, so the lock is never held across a task resume or a futex wake.
 *     An entry popped that way may still be read by its waker after the
 *     unlock; its waiter, if something else resolved it first, finds the
 *     entry unlinked and waits for the waker's bcl__waiter_release before
 *     leaving the frame (bcl__waitlist_wait_locked does this).  A waiter
 *     the waker resolved is never touched again by the waker.
 *
 * `count` mirrors the number of linked entries so that fast paths can ask
 * "is anyone waiting?" with one load, without the lock.  The handshake that
 * makes that load safe (no lost wake-up) is the caller's: it must order
 * its state change before the load (seq_cst), and the waiter's link
 * (seq_cst RMW on count) before its re-check.  See docs/design.md,
 * "The queue".
 *
 * Context: any thread or task.  The lock is held only for list surgery and
 * the resolves (which never block), never across a suspension.
 */
#ifndef BCL_SYNC_WAITLIST_H
#define BCL_SYNC_WAITLIST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/suspend.h"

struct bcl__wait_entry {
    struct bcl__waiter waiter;
    struct bcl__wait_entry *prev, *next; /* under the list's lock */
    bool linked;                          /* under the list's lock */
};

struct bcl__waitlist {
    pthread_mutex_t lock;
    struct bcl__wait_entry *first, *last; /* under lock */
    _Atomic size_t count;                 /* linked entries; see above */
};

int bcl__waitlist_init(struct bcl__waitlist *wl);
void bcl__waitlist_destroy(struct bcl__waitlist *wl);

static inline void
bcl__waitlist_lock(struct bcl__waitlist *wl)
{
    pthread_mutex_lock(&wl->lock);
}

static inline void
bcl__waitlist_unlock(struct bcl__waitlist *wl)
{
    pthread_mutex_unlock(&wl->lock);
}

/* One load: may someone be waiting?  seq_cst: the fast path's half of the
 * handshake (the caller's state change, seq_cst, comes before). */
static inline bool
bcl__waitlist_has_waiters(const struct bcl__waitlist *wl)
{
    return atomic_load_explicit(&wl->count, memory_order_seq_cst) != 0;
}

/* Under the lock: link e at the back (or the front, for a waiter that was
 * woken but lost the race for what woke it, so it keeps its place). */
void bcl__waitlist_link(struct bcl__waitlist *wl, struct bcl__wait_entry *e,
                        bool front);
/* Under the lock: unlink e if it is linked. */
void bcl__waitlist_unlink(struct bcl__waitlist *wl, struct bcl__wait_entry *e);

/* Under the lock: pop and resolve (WOKEN) entries from the front until
 * `n` were woken or the list is empty; returns how many were woken.
 * `data`, if not NULL, is stored in each woken waiter before it resumes. */
size_t bcl__waitlist_wake_locked(struct bcl__waitlist *wl, size_t n,
                                 void *data);

/* Wake up to n (SIZE_MAX: all), resolving outside the lock (see above).
 * Once the last waiter is resolved the list is not touched again, so a
 * woken caller may free the structure that holds it at once. */
size_t bcl__waitlist_wake(struct bcl__waitlist *wl, size_t n);

/* The two halves, for waking several lists before resolving any (close):
 * unlink every entry under the lock, then resolve a chain (no lock). */
struct bcl__wait_entry *bcl__waitlist_take_all(struct bcl__waitlist *wl);
size_t bcl__waitlist_resolve_chain(struct bcl__wait_entry *chain);

/* Suspend on an entry the caller linked and whose condition it re-checked,
 * both under the lock: call with the lock held; returns with the lock
 * released, the waiter resolved and the entry unlinked. */
enum bcl__wait_state bcl__waitlist_wait_locked(struct bcl__waitlist *wl,
                                               struct bcl__wait_entry *e);
/* The same with an absolute deadline (UINT64_MAX: none): TIMEDOUT or
 * CANCELLED leave the entry unlinked and its waiter unused. */
enum bcl__wait_state bcl__waitlist_wait_until_locked(
    struct bcl__waitlist *wl, struct bcl__wait_entry *e, uint64_t deadline);

#endif /* BCL_SYNC_WAITLIST_H */
