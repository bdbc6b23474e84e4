/*
 * sync/waitgroup.c - bcl_waitgroup: Go's sync.WaitGroup, a counter whose
 * return to zero wakes every waiter.
 *
 * add changes the count with one CAS (refusing to go below 0 or past
 * INT64_MAX, leaving it unchanged); the add that brings it to 0 wakes
 * everyone linked.  wait returns at once on 0, otherwise links and
 * suspends.  A woken waiter returns 0 even if a later add raised the
 * count again: it was woken by a zero (Go's behaviour).
 *
 * The handshake that loses no wake-up (numbered steps, both sides):
 *
 *   adder reaching 0                       waiter (slow path of wait)
 *   A1 CAS count -> 0 (seq_cst)            W1 lock the list; link:
 *   A2 waiters != 0 (seq_cst load)?           waiters++ (seq_cst RMW)
 *      yes: lock the list, wake all        W2 count == 0 (seq_cst load)?
 *                                             yes: unlink, unlock; return
 *                                          W3 unlock the list, suspend
 *
 * In the total order of A1, A2, W1 and W2: either W2 comes after A1 and
 * sees the zero (or a count raised again by a later add, whose own zero
 * will wake it), or W1 precedes A2 and the adder wakes the waiter, which
 * is linked by then (it holds the list lock from W1 to W3).
 *
 * Invariants:
 *   - 0 <= count <= INT64_MAX at all times;
 *   - no waiter sleeps through a zero reached after it linked.
 *
 * Context: wait: task or thread; the rest: any.
 */
#include <boucle/sync.h>

#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/sync_debug.h"
#include "sync/waitlist.h"

struct bcl_waitgroup {
    _Atomic int64_t count;        /* CAS by add; see above */
    struct bcl__waitlist waiters; /* its own lock */
};

int
bcl_waitgroup_new(bcl_waitgroup **out)
{
    bcl_waitgroup *wg;

    if (out == NULL)
        return -EINVAL;
    wg = malloc(sizeof *wg);
    if (wg == NULL)
        return -ENOMEM;
    bcl__waitlist_init(&wg->waiters);
    /* relaxed: published with *out by the caller's own synchronization. */
    atomic_store_explicit(&wg->count, 0, memory_order_relaxed);
    *out = wg;
    return 0;
}

int
bcl_waitgroup_free(bcl_waitgroup *wg)
{
    if (wg == NULL)
        return -EINVAL;
    if (bcl__waitlist_busy(&wg->waiters))
        return -EBUSY;
    free(wg);
    return 0;
}

int
bcl_waitgroup_add(bcl_waitgroup *wg, int64_t n)
{
    int64_t old;

    if (wg == NULL)
        return -EINVAL;
    /* relaxed: a first guess for the CAS below. */
    old = atomic_load_explicit(&wg->count, memory_order_relaxed);
    do {
        /* old >= 0, so old + n cannot overflow when n < 0. */
        if ((n < 0 && old + n < 0) || (n > 0 && old > INT64_MAX - n))
            return -EINVAL;
        /* seq_cst: A1, before A2; release publishes the adder's writes
         * (the work it is done with) to the waiters it lets go. */
    } while (!atomic_compare_exchange_weak_explicit(&wg->count, &old,
                                                    old + n,
                                                    memory_order_seq_cst,
                                                    memory_order_relaxed));
    if (old + n == 0 && bcl__waitlist_has_waiters(&wg->waiters)) /* A2 */
        bcl__waitlist_wake(&wg->waiters, SIZE_MAX);
    return 0;
}

int
bcl_waitgroup_done(bcl_waitgroup *wg)
{
    return bcl_waitgroup_add(wg, -1);
}

int
bcl_waitgroup_wait(bcl_waitgroup *wg)
{
    return bcl_waitgroup_wait_timeout(wg, BCL_FOREVER);
}

/* W2 of the wait: seq_cst, after W1; pairs with A1/A2 in
 * bcl_waitgroup_add(). */
static bool
waitgroup_ready(void *arg)
{
    bcl_waitgroup *wg = arg;

    return atomic_load_explicit(&wg->count, memory_order_seq_cst) == 0;
}

int
bcl_waitgroup_wait_timeout(bcl_waitgroup *wg, uint64_t ns)
{
    if (wg == NULL)
        return -EINVAL;
    /* acquire: pairs with the CAS in bcl_waitgroup_add(); we see the
     * work of everyone whose done brought the count to 0. */
    if (atomic_load_explicit(&wg->count, memory_order_acquire) == 0)
        return 0;
    return bcl__waitlist_wait_unless(&wg->waiters, waitgroup_ready, wg, ns);
}

size_t
bcl__waitgroup_waiting(const bcl_waitgroup *wg)
{
    /* seq_cst: a snapshot ordered with the caller's own operations. */
    return bcl__waitlist_count(&wg->waiters);
}
