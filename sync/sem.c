/*
 * sync/sem.c - bcl_sem: a counting semaphore with FIFO hand-off.
 *
 * `permits` counts the free permits.  acquire takes one with a CAS while
 * the count is above 0 (no lock, no system call); otherwise it links on
 * the wait list and suspends.  A release that sees waiters gives its
 * permit to the oldest one directly, without passing it through the
 * count, so a caller arriving later cannot take it first; the woken
 * waiter holds the permit and never retries.
 *
 * The handshake that loses no wake-up (numbered steps, both sides):
 *
 *   releaser                               waiter (slow path of acquire)
 *   R1 count != 0 (seq_cst load)?          A1 lock the list; link:
 *      yes: lock the list, hand the           count++ (seq_cst RMW)
 *      permit to the oldest (none left:    A2 take a permit: load and CAS
 *      permits++ under the lock); done        on `permits` (seq_cst)
 *   R2 permits++ (seq_cst RMW)                got one: unlink, unlock
 *   R3 count != 0 (seq_cst load)?          A3 unlock the list, suspend;
 *      yes: lock the list; if a waiter        woken means a permit
 *      is linked and a permit can be
 *      taken back, hand it off
 *
 * In the total order of R2, R3, A1 and A2: either A2 comes after R2 and
 * finds the permit (or a third caller took it, and its own release will
 * run these steps), or A1 precedes R3 and the releaser finds the waiter
 * linked once it holds the list lock (held by the waiter from A1 to A3).
 *
 * Invariants:
 *   - each permit is, at any time, in `permits`, held by one caller, or
 *     being handed to one waiter under the list lock: never two holders
 *     more than the permits released and initially given;
 *   - a waiter that wakes WOKEN holds a permit.
 *
 * Context: acquire: task or thread; the rest: any.
 */
#include <boucle/sync.h>

#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/sync_debug.h"
#include "sync/waitlist.h"

struct bcl_sem {
    _Atomic size_t permits;       /* CAS by any caller; see above */
    struct bcl__waitlist waiters; /* its own lock */
};

/* Take a permit if there is one.  `order` is acquire on fast paths (we
 * take the releaser's writes, pairing with sem_give()) and seq_cst for
 * A2, where the first load is the waiter's half of the handshake. */
static bool
sem_take(bcl_sem *s, memory_order order)
{
    size_t n = atomic_load_explicit(&s->permits, order);

    while (n > 0) {
        /* `order`, as above; a failed CAS reloads n and goes round. */
        if (atomic_compare_exchange_weak_explicit(&s->permits, &n, n - 1,
                                                  order, order))
            return true;
    }
    return false;
}

/* Put a permit in the count; -EINVAL if it is full. */
static int
sem_give(bcl_sem *s)
{
    /* relaxed: a first guess for the CAS below. */
    size_t n = atomic_load_explicit(&s->permits, memory_order_relaxed);

    do {
        if (n == SIZE_MAX)
            return -EINVAL;
        /* seq_cst: R2, before R3 (the handshake); release publishes our
         * writes to whoever takes the permit in sem_take(). */
    } while (!atomic_compare_exchange_weak_explicit(&s->permits, &n, n + 1,
                                                    memory_order_seq_cst,
                                                    memory_order_relaxed));
    return 0;
}

/* Under the list lock, a permit set aside for the next waiter: claim the
 * oldest waiter still waiting (NULL when there is none).  The caller
 * resumes it after unlocking: the waiter may free the semaphore at once. */
static struct bcl__wait_entry *
sem_handoff_locked(bcl_sem *s)
{
    return bcl__waitlist_claim_locked(&s->waiters, 1, true);
}

int
bcl_sem_new(bcl_sem **out, size_t initial)
{
    bcl_sem *s;

    if (out == NULL)
        return -EINVAL;
    s = malloc(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    bcl__waitlist_init(&s->waiters);
    /* relaxed: published with *out by the caller's own synchronization. */
    atomic_store_explicit(&s->permits, initial, memory_order_relaxed);
    *out = s;
    return 0;
}

int
bcl_sem_free(bcl_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    if (bcl__waitlist_busy(&s->waiters))
        return -EBUSY;
    free(s);
    return 0;
}

int
bcl_sem_try_acquire(bcl_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    return sem_take(s, memory_order_acquire) ? 0 : -EAGAIN;
}

int
bcl_sem_acquire(bcl_sem *s)
{
    return bcl_sem_acquire_timeout(s, BCL_FOREVER);
}

/* A2 of the wait: take a permit, seq_cst (the re-check after A1). */
static bool
sem_ready(void *arg)
{
    return sem_take(arg, memory_order_seq_cst);
}

int
bcl_sem_acquire_timeout(bcl_sem *s, uint64_t ns)
{
    if (s == NULL)
        return -EINVAL;
    if (bcl__likely(sem_take(s, memory_order_acquire)))
        return 0;
    /* 0: a permit taken at A2, or handed to us (the resolve CAS published
     * the releaser's writes). */
    return bcl__waitlist_wait_unless(&s->waiters, sem_ready, s,
                                     ns); /* A1-A3; 0: a try */
}

int
bcl_sem_release(bcl_sem *s)
{
    struct bcl__wait_entry *next = NULL;
    int rc;

    if (s == NULL)
        return -EINVAL;
    if (bcl__unlikely(bcl__waitlist_has_waiters(&s->waiters))) { /* R1 */
        bcl__waitlist_lock(&s->waiters);
        next = sem_handoff_locked(s);
        rc = next != NULL ? 0 : sem_give(s);
        bcl__waitlist_unlock(&s->waiters);
        bcl__waitlist_resume(next);
        return rc;
    }
    rc = sem_give(s); /* R2 */
    if (rc != 0)
        return rc;
    if (bcl__unlikely(bcl__waitlist_has_waiters(&s->waiters))) { /* R3 */
        bcl__waitlist_lock(&s->waiters);
        /* Take a permit back (ours, or one released since) for the
         * waiter; if nobody is left to take it, return it. */
        if (s->waiters.first != NULL && sem_take(s, memory_order_acquire) &&
            (next = sem_handoff_locked(s)) == NULL)
            sem_give(s); /* cannot be full: we just took one */
        bcl__waitlist_unlock(&s->waiters);
        bcl__waitlist_resume(next);
    }
    return 0;
}

size_t
bcl__sem_waiting(const bcl_sem *s)
{
    /* seq_cst: a snapshot ordered with the caller's own operations. */
    return bcl__waitlist_count(&s->waiters);
}
