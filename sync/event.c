/*
 * sync/event.c - bcl_event: asyncio.Event, a flag that waiters wait for.
 *
 * set stores the flag and wakes every waiter linked at that moment; a
 * wait that finds the flag set returns at once.  clear only resets the
 * flag: a waiter already woken by a set still returns 0, as in asyncio.
 *
 * The handshake that loses no wake-up (numbered steps, both sides):
 *
 *   setter                                 waiter (slow path of wait)
 *   S1 store set = 1 (release);            W1 lock the list; link:
 *      seq_cst fence                          count++ (seq_cst RMW)
 *   S2 count != 0 (seq_cst load)?          W2 set == 1 (seq_cst load)?
 *      yes: lock the list, wake all           yes: unlink, unlock; return
 *                                          W3 unlock the list, suspend
 *
 * In the total order of S1's fence, S2, W1 and W2: either W2 comes after
 * the fence and sees the flag (unless a clear came between, which is a
 * later epoch), or W1 precedes the fence, S2 sees the count and the
 * setter wakes the waiter, linked by then (the waiter holds the list lock
 * from W1 to W3).
 *
 * Invariants:
 *   - no waiter sleeps through a set that came after it linked;
 *   - a woken waiter returns 0 without looking at the flag again.
 *
 * Context: wait: task or thread; the rest: any.
 */
#include <boucle/sync.h>

#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/sync_debug.h"
#include "sync/waitlist.h"

struct bcl_event {
    _Atomic uint32_t set;         /* 0 or 1; any caller stores */
    struct bcl__waitlist waiters; /* its own lock */
};

int
bcl_event_new(bcl_event **out)
{
    bcl_event *e;

    if (out == NULL)
        return -EINVAL;
    e = malloc(sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    bcl__waitlist_init(&e->waiters);
    /* relaxed: published with *out by the caller's own synchronization. */
    atomic_store_explicit(&e->set, 0, memory_order_relaxed);
    *out = e;
    return 0;
}

int
bcl_event_free(bcl_event *e)
{
    if (e == NULL)
        return -EINVAL;
    if (bcl__waitlist_busy(&e->waiters))
        return -EBUSY;
    free(e);
    return 0;
}

int
bcl_event_set(bcl_event *e)
{
    if (e == NULL)
        return -EINVAL;
    /* S1.  release: publishes the setter's writes to waiters that see
     * the flag (W2, bcl_event_is_set()).  The fence orders S1 before the
     * load at S2 (the store-load barrier of the handshake, spelled out
     * rather than left to a seq_cst store: see exec/suspend.c). */
    atomic_store_explicit(&e->set, 1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (bcl__waitlist_has_waiters(&e->waiters)) /* S2 */
        bcl__waitlist_wake(&e->waiters, SIZE_MAX);
    return 0;
}

int
bcl_event_clear(bcl_event *e)
{
    if (e == NULL)
        return -EINVAL;
    /* relaxed: only the flag changes; waiters that link later read it
     * at W2 after taking the list lock, and a wait racing the clear may
     * see either value, as any racing caller may. */
    atomic_store_explicit(&e->set, 0, memory_order_relaxed);
    return 0;
}

bool
bcl_event_is_set(const bcl_event *e)
{
    if (e == NULL)
        return false;
    /* acquire: pairs with the store in bcl_event_set(). */
    return atomic_load_explicit(&e->set, memory_order_acquire) != 0;
}

int
bcl_event_wait(bcl_event *e)
{
    return bcl_event_wait_timeout(e, BCL_FOREVER);
}

/* W2 of the wait: seq_cst, after W1; pairs with S1/S2 in
 * bcl_event_set(). */
static bool
event_ready(void *arg)
{
    bcl_event *e = arg;

    return atomic_load_explicit(&e->set, memory_order_seq_cst) != 0;
}

int
bcl_event_wait_timeout(bcl_event *e, uint64_t ns)
{
    if (e == NULL)
        return -EINVAL;
    if (bcl_event_is_set(e))
        return 0;
    return bcl__waitlist_wait_unless(&e->waiters, event_ready, e, ns);
}

size_t
bcl__event_waiting(const bcl_event *e)
{
    /* seq_cst: a snapshot ordered with the caller's own operations. */
    return bcl__waitlist_count(&e->waiters);
}
