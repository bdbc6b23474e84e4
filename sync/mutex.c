/*
 * sync/mutex.c - bcl_mutex: a state word, a FIFO of waiters, hand-off.
 *
 * `state` is 0 (free) or 1 (locked).  While nobody waits, lock is one CAS
 * 0 -> 1 and unlock one store of 0 plus one load of the waiter count: no
 * lock, no system call.  A caller that finds the mutex held links on the
 * wait list and suspends (a task parks, a thread blocks).
 *
 * Hand-off: an unlock that sees waiters does not free the mutex.  It pops
 * the oldest waiter and resumes it with `state` still 1, so the waiter
 * owns the mutex when it wakes and nobody arriving later overtakes it; a
 * woken waiter never retries.
 *
 * The handshake that loses no wake-up (numbered steps, both sides):
 *
 *   unlocker                               waiter (slow path of lock)
 *   U1 count != 0 (seq_cst load)?          W1 lock the list; link:
 *      yes: lock the list, hand off to        count++ (seq_cst RMW)
 *      the oldest; done (state stays 1)    W2 CAS state 0 -> 1 (seq_cst)
 *   U2 store state = 0 (release);             won: unlink, unlock; owned
 *      seq_cst fence
 *   U3 count != 0 (seq_cst load)?          W3 unlock the list, suspend;
 *      yes: lock the list; if a waiter        woken means owned
 *      is linked and CAS state 0 -> 1
 *      wins, hand off (none left: free)
 *
 * U2's fence, U3, W1 and W2 fall in one total order.  If W2 comes after
 * the fence, the waiter finds the mutex free, or taken by a third caller
 * whose own unlock will run these steps.  Otherwise W1 precedes U3, so the unlocker sees
 * the waiter; the waiter holds the list lock from W1 to W3, so the
 * unlocker finds it linked (and suspending is safe even if the resume
 * comes first: exec/suspend.h).  A CAS lost at U3 means a third caller
 * took the mutex after U2; the waiter's W2 failed on that caller's hold,
 * so W2 precedes that caller's own U2 and its U3 (if not U1) sees the
 * waiter.
 *
 * Invariants:
 *   - state == 1 exactly while a caller owns the mutex or it is being
 *     handed to a waiter;
 *   - a waiter that wakes WOKEN owns the mutex;
 *   - `owner` is the holder's identity or 0; only the holder writes its
 *     identity there and it stores 0 before giving the mutex up, so a
 *     caller that reads its own identity holds the mutex (coherence).
 *
 * Context: lock: task or thread; the rest: any.  Only the wait list's
 * lock is taken here, never under another wait list's lock (cond.c).
 */
#include <boucle/exec.h>
#include <boucle/sync.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/sync_debug.h"
#include "sync/waitlist.h"

struct bcl_mutex {
    _Atomic uint32_t state;       /* 0 free, 1 locked; the handshake above */
    _Atomic uintptr_t owner;      /* the holder writes; any unlock reads */
    struct bcl__waitlist waiters; /* its own lock */
};

_Static_assert(sizeof(pthread_t) <= sizeof(uintptr_t),
               "a thread identity must fit the owner word");

/*
 * Who is calling: the task (wherever it runs now), else the thread.  A
 * thread's pthread_t is tagged with bit 0, which task records (aligned)
 * never have; on Linux a pthread_t is the address of an aligned thread
 * descriptor, so the tag merges no two threads.  Never 0.
 */
static uintptr_t
mutex_caller(void)
{
    bcl_task *task = bcl_current_task();

    if (task != NULL)
        return (uintptr_t)task;
    return (uintptr_t)pthread_self() | 1u;
}

/* The caller now holds m: record it for unlock's ownership check. */
static void
mutex_set_owner(bcl_mutex *m)
{
    /* relaxed: read back by this same caller (a task that migrated is
     * ordered by the scheduler's hand-over) or compared by a non-owner,
     * which by coherence never sees its own identity here. */
    atomic_store_explicit(&m->owner, mutex_caller(), memory_order_relaxed);
}

/* Under the list lock, state == 1 held for the next owner: claim the
 * oldest waiter still waiting (NULL when there is none).  The caller
 * resumes it after unlocking the list: its last touch of the mutex, which
 * the new owner may free as soon as it runs. */
static struct bcl__wait_entry *
mutex_handoff_locked(bcl_mutex *m)
{
    return bcl__waitlist_claim_locked(&m->waiters, 1, true);
}

int
bcl_mutex_new(bcl_mutex **out)
{
    bcl_mutex *m;

    if (out == NULL)
        return -EINVAL;
    m = malloc(sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    bcl__waitlist_init(&m->waiters);
    /* relaxed: published with *out by the caller's own synchronization. */
    atomic_store_explicit(&m->state, 0, memory_order_relaxed);
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    *out = m;
    return 0;
}

int
bcl_mutex_free(bcl_mutex *m)
{
    if (m == NULL)
        return -EINVAL;
    /* relaxed: a snapshot; the caller guarantees nobody races the free. */
    if (atomic_load_explicit(&m->state, memory_order_relaxed) != 0 ||
        bcl__waitlist_busy(&m->waiters))
        return -EBUSY;
    free(m);
    return 0;
}

int
bcl_mutex_trylock(bcl_mutex *m)
{
    uint32_t expected = 0;

    if (m == NULL)
        return -EINVAL;
    /* acquire: takes the critical section of the last unlock; pairs with
     * the state stores (U2, or the undo) in bcl_mutex_unlock(). */
    if (!atomic_compare_exchange_strong_explicit(&m->state, &expected, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        return -EBUSY;
    mutex_set_owner(m);
    return 0;
}

int
bcl_mutex_lock(bcl_mutex *m)
{
    return bcl_mutex_lock_timeout(m, BCL_FOREVER);
}

/* W2 of the wait: the re-check after W1.  seq_cst: pairs with U2/U3 in
 * bcl_mutex_unlock() (acquire: takes the last critical section). */
static bool
mutex_ready(void *arg)
{
    bcl_mutex *m = arg;
    uint32_t expected = 0;

    return atomic_compare_exchange_strong_explicit(
        &m->state, &expected, 1, memory_order_seq_cst, memory_order_seq_cst);
}

int
bcl_mutex_lock_timeout(bcl_mutex *m, uint64_t ns)
{
    int rc;

    if (m == NULL)
        return -EINVAL;
    if (bcl__likely(bcl_mutex_trylock(m) == 0))
        return 0;
    rc = bcl__waitlist_wait_unless(&m->waiters, mutex_ready, m,
                                   ns); /* W1-W3; 0: a try */
    if (rc != 0)
        return rc;
    /* Taken at W2, or handed over (state stayed 1 for us; the resolve CAS
     * made the previous holder's writes visible). */
    mutex_set_owner(m);
    return 0;
}

int
bcl_mutex_unlock(bcl_mutex *m)
{
    struct bcl__wait_entry *next = NULL;
    uint32_t expected = 0;

    if (m == NULL)
        return -EINVAL;
    /* relaxed: see mutex_set_owner(); only the holder reads itself. */
    if (atomic_load_explicit(&m->owner, memory_order_relaxed) !=
        mutex_caller())
        return -EPERM;
    /* relaxed: ordered before the hand-off or the release of `state`
     * below, whichever gives the mutex away. */
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);

    if (bcl__unlikely(bcl__waitlist_has_waiters(&m->waiters))) { /* U1 */
        bcl__waitlist_lock(&m->waiters);
        next = mutex_handoff_locked(m);
        if (next == NULL)
            /* release: nobody left to hand to (all resolved elsewhere);
             * later waiters link under the lock we hold, so they see it;
             * pairs with the CAS in bcl_mutex_trylock() and W2. */
            atomic_store_explicit(&m->state, 0, memory_order_release);
        bcl__waitlist_unlock(&m->waiters);
        bcl__waitlist_resume(next);
        return 0;
    }
    /* U2.  release: frees the mutex and publishes the critical section.
     * The fence orders U2 before the load at U3 (pairs with W1/W2 in
     * bcl_mutex_lock(); the store-load barrier spelled out, as in
     * exec/suspend.c). */
    atomic_store_explicit(&m->state, 0, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (bcl__unlikely(bcl__waitlist_has_waiters(&m->waiters))) { /* U3 */
        bcl__waitlist_lock(&m->waiters);
        /* acquire: we take the mutex back for the waiter, and with it the
         * critical section of whoever held it since U2. */
        if (m->waiters.first != NULL &&
            atomic_compare_exchange_strong_explicit(
                &m->state, &expected, 1, memory_order_acquire,
                memory_order_relaxed) &&
            (next = mutex_handoff_locked(m)) == NULL)
            /* release: as in the U1 branch, nobody to hand to. */
            atomic_store_explicit(&m->state, 0, memory_order_release);
        bcl__waitlist_unlock(&m->waiters);
        bcl__waitlist_resume(next);
    }
    return 0;
}

bool
bcl__mutex_held(const bcl_mutex *m)
{
    /* relaxed: see mutex_set_owner(). */
    return atomic_load_explicit(&m->owner, memory_order_relaxed) ==
           mutex_caller();
}

size_t
bcl__mutex_waiting(const bcl_mutex *m)
{
    /* seq_cst: a snapshot ordered with the caller's own operations. */
    return bcl__waitlist_count(&m->waiters);
}
