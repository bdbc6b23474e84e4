/*
 * sync/waitlist.h - a FIFO of suspended callers (tasks and plain threads),
 * the slow path of every structure in sync/.
 *
 * A waiting caller links an entry (living in its own frame) under the
 * list's lock, re-checks its condition still under the lock, and only
 * then unlocks and suspends.
 *
 * A waker works in two steps.  Under the lock it unlinks entries and
 * *claims* each (the waiter's one CAS, WAITING -> WOKEN, exec/suspend.h);
 * an entry whose waiter was already resolved by someone else (a timeout, a
 * cancellation) is released and skipped, and the wake goes to the next
 * one, so a wake-up is never swallowed.  After its last touch of the
 * structure -- a mutex hand-off decided under the lock, the unlock itself
 * -- it *resumes* the claimed waiters.  A claimed waiter cannot return
 * before it is resumed, so its entry stays valid until then, and once the
 * first waiter runs nothing touches the list again: a woken caller may
 * free the mutex, semaphore or queue at once.  A waiter resolved by a
 * timeout or a cancel finds its entry unlinked if a waker took it, and
 * waits for that waker's bcl__waiter_release before leaving its frame
 * (bcl__waitlist_wait_until_locked).
 *
 * The lock word also counts the linked entries (exec/lock.h), so that fast
 * paths can ask "is anyone waiting?" with one load, without the lock, and
 * a waiter takes the lock and counts itself with one CAS.  Unlinks are
 * taken off the count when the lock is released.
 *
 * A structure's _free says -EBUSY while any caller may still touch it
 * (bcl__waitlist_busy), which is more than the linked entries: a waiter
 * resolved by a timeout or a cancel whose entry a waker popped takes the
 * lock once more to learn that; and the queue's waiters look at the
 * queue again when woken (`recheck`, below).  Those are counted apart, in
 * `inflight`, so that the fast paths' count keeps meaning "linked" and a
 * woken caller that has not run yet sends no fast path to the lock.  A
 * waker counts them in flight before its unlock takes them off the linked
 * count; each leaves `inflight` with its last touch of the structure
 * (bcl__waitlist_leave), or when it relinks (counted as linked first).
 * A waiter that finds its condition at the re-check under the lock and
 * still has work on the structure moves itself in flight the same way
 * (bcl__waitlist_hold_locked).
 *
 * Context: any thread or task.  The lock is held only for list surgery and
 * claims (a CAS each), never across a resume or a suspension.
 */
#ifndef BCL_SYNC_WAITLIST_H
#define BCL_SYNC_WAITLIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/lock.h"
#include "exec/suspend.h"

struct bcl__wait_entry {
    struct bcl__waiter waiter;
    struct bcl__wait_entry *prev, *next; /* under the list's lock */
    bool linked;                          /* under the list's lock */
    /* Woken (and not handed what it waited for), it looks at the
     * structure again: the queue's waiters (top comment). */
    bool recheck;
};

struct bcl__waitlist {
    /* Held for list surgery and a few CAS: never across a suspension, a
     * resume or a system call (exec/lock.h).  Its count: linked entries
     * (plus, while held, those unlinked since it was taken). */
    struct bcl__lock lock;
    struct bcl__wait_entry *first, *last; /* under lock */
    uint32_t unlinked; /* under lock: to take off the count at unlock */
    /* Unlinked callers that will still touch the structure (top
     * comment): raised by wakers under the lock, lowered by each caller
     * with its last touch. */
    _Atomic uint32_t inflight;
};

void bcl__waitlist_init(struct bcl__waitlist *wl);

static inline void
bcl__waitlist_lock(struct bcl__waitlist *wl)
{
    bcl__lock_lock(&wl->lock);
}

static inline void
bcl__waitlist_unlock(struct bcl__waitlist *wl)
{
    uint32_t unlinked = wl->unlinked;

    wl->unlinked = 0;
    bcl__lock_unlock_sub(&wl->lock, unlinked);
}

/* One load: may someone be waiting?  seq_cst (in bcl__lock_count): the
 * fast path's half of the handshake (the caller's state change, seq_cst,
 * comes before). */
static inline bool
bcl__waitlist_has_waiters(const struct bcl__waitlist *wl)
{
    return bcl__lock_count(&wl->lock) != 0;
}

/* Linked entries, a snapshot (for tests' exact conditions). */
static inline size_t
bcl__waitlist_count(const struct bcl__waitlist *wl)
{
    return bcl__lock_count(&wl->lock);
}

/* Take the lock and link e at the back, counting it: W1, one seq_cst CAS
 * that both locks and counts e.  Or, `front`, relink at the front a
 * waiter that was woken but lost the race for what woke it, so that it
 * keeps its place; it leaves `inflight` once counted as linked. */
void bcl__waitlist_lock_link(struct bcl__waitlist *wl,
                             struct bcl__wait_entry *e, bool front,
                             bool recheck);
/* Under the lock: unlink e if it is linked. */
void bcl__waitlist_unlink(struct bcl__waitlist *wl, struct bcl__wait_entry *e);

/* Under the lock: count one more caller in flight -- one that will touch
 * the structure again after leaving the list: the caller itself, having
 * found its condition at the re-check with work left to do; or a waiter
 * a waker claims `handed` that still goes on (a batch getter handed one
 * item).  It leaves with bcl__waitlist_leave(). */
static inline void
bcl__waitlist_hold_locked(struct bcl__waitlist *wl)
{
    /* relaxed: the unlock's release publishes it before the linked count
     * drops (bcl__waitlist_busy). */
    atomic_fetch_add_explicit(&wl->inflight, 1, memory_order_relaxed);
}

/* An in-flight waiter's last touch of the structure: leave `inflight`
 * (no lock).  release: its reads and writes of the structure
 * come before a _free whose acquire load sees the smaller count. */
static inline void
bcl__waitlist_leave(struct bcl__waitlist *wl)
{
    atomic_fetch_sub_explicit(&wl->inflight, 1, memory_order_release);
}

/* May a caller still touch the structure: linked, or in flight?  For a
 * _free, which must not race new callers (the caller guarantees that).
 * The linked count, then `inflight`, then the linked count again: a
 * waker raises `inflight` before its unlock lowers the count, a relinking
 * waiter raises the count before it lowers `inflight`, so a caller moving
 * from one to the other is seen in one of the three loads. */
static inline bool
bcl__waitlist_busy(struct bcl__waitlist *wl)
{
    /* acquire (seq_cst in has_waiters, and here): each load sees what the
     * move that wrote the value it reads had done before. */
    return bcl__waitlist_has_waiters(wl) ||
           atomic_load_explicit(&wl->inflight, memory_order_acquire) != 0 ||
           bcl__waitlist_has_waiters(wl);
}

/* Under the lock: unlink entries from the front and claim each (WOKEN,
 * exec/suspend.h) until `n` are claimed or the list is empty; entries
 * already resolved by a timeout or a cancel are released and skipped
 * (counted in flight: they take the lock once more).  Claimed `recheck`
 * waiters are counted in flight too, unless `handed`: the caller hands
 * each what it waited for (and holds, bcl__waitlist_hold_locked, one
 * that goes on all the same).
 * Returns the claimed entries, chained through `next` in FIFO order: the
 * caller resumes them with bcl__waitlist_resume() after its last touch of
 * the structure (a hand-off decision, the list unlock). */
struct bcl__wait_entry *bcl__waitlist_claim_locked(struct bcl__waitlist *wl,
                                                   size_t n, bool handed);
/* The same (not `handed`), taking and dropping the lock. */
struct bcl__wait_entry *bcl__waitlist_claim(struct bcl__waitlist *wl,
                                            size_t n);
/* Resume a claimed chain; returns how many.  No lock. */
size_t bcl__waitlist_resume(struct bcl__wait_entry *chain);

/* Claim up to n (SIZE_MAX: all) and resume them: once the first waiter
 * runs the list is not touched again, so a woken caller may free the
 * structure that holds it at once. */
size_t bcl__waitlist_wake(struct bcl__waitlist *wl, size_t n);

/*
 * The slow path of every wait in sync/ whose re-check is one predicate:
 * prepare a waiter, lock and link it (W1: the seq_cst CAS that counts it),
 * call `ready` still under the lock (W2: it must read -- or take -- the
 * waited-for state with seq_cst), and if that fails suspend until woken,
 * ns nanoseconds pass (BCL_FOREVER: never) or a cancel.  ns == 0 is one
 * call of `ready` without linking: it never waits, so it is allowed from
 * a timer callback too.  Returns 0 when `ready` held or the waiter was
 * woken (what a wake means is the caller's: owned for a hand-off, "look
 * again" otherwise), else -EPERM (a timer callback that would wait),
 * -ETIMEDOUT or -ECANCELED with the entry gone.
 */
int bcl__waitlist_wait_unless(struct bcl__waitlist *wl,
                              bool (*ready)(void *arg), void *arg,
                              uint64_t ns);

/* The same for a caller that, woken, must look again (the queue's
 * joiners): a woken caller relinks at the front (in flight until then) and
 * re-checks under the lock, until `ready` holds there (0) or the wait
 * times out or is cancelled.  It never returns woken-but-not-ready. */
int bcl__waitlist_wait_ready(struct bcl__waitlist *wl,
                             bool (*ready)(void *arg), void *arg,
                             uint64_t ns);

/* Suspend on an entry the caller linked and whose condition it re-checked,
 * both under the lock: call with the lock held; returns with the lock
 * released and the waiter resolved, by a wake, the deadline (UINT64_MAX:
 * none) or a cancel; TIMEDOUT or CANCELLED leave the entry unlinked and
 * its waiter unused. */
enum bcl__wait_state bcl__waitlist_wait_until_locked(
    struct bcl__waitlist *wl, struct bcl__wait_entry *e, uint64_t deadline);

/* The same on an entry linked earlier, with the lock no longer held (the
 * condition variable: once woken, its waiter must not touch the list,
 * which its waker's caller may free). */
enum bcl__wait_state bcl__waitlist_wait_linked(struct bcl__waitlist *wl,
                                               struct bcl__wait_entry *e,
                                               uint64_t deadline);

#endif /* BCL_SYNC_WAITLIST_H */
