/*
 * sync/cond.c - bcl_cond: a condition variable used with a bcl_mutex.
 *
 * wait links the caller on the cond's list *before* unlocking the mutex,
 * so a signal sent by anyone who locks the mutex after that unlock finds
 * the waiter: no signal is lost between the unlock and the suspension.
 * signal wakes the oldest waiter, broadcast every waiter; a woken waiter
 * locks the mutex again (in FIFO order with other lockers) and returns.
 *
 * The two sides:
 *
 *   waiter (bcl_cond_wait)                 signaller
 *   C1 lock the list; link:                (usually holding m, having
 *      count++ (seq_cst RMW); unlock        changed the predicate)
 *   C2 unlock m (release)                  S1 count != 0 (seq_cst load)?
 *   C3 lock the list; suspend (a wake         yes: lock the list, pop and
 *      that came first is absorbed)           resolve 1 (or all)
 *   C4 lock m
 *
 * A signaller that locked m after C2 synchronizes with it, so S1 sees the
 * count raised at C1 and the list lock orders the pop after the link.
 * A signal sent without the mutex may come before C1 and wake nobody,
 * as with pthreads.
 *
 * The list lock is released before C2: unlocking m may take m's own list
 * lock to hand m over, and no wait list lock is ever taken under another.
 * C3 suspends through bcl__waitlist_wait_linked(), without that lock: it
 * absorbs a wake that came in between (exec/suspend.h), so a woken waiter
 * never touches the cond again and a cond may be freed as soon as the
 * signal or broadcast that woke its last waiters returns (as POSIX allows
 * for pthread_cond_destroy); a waiter resolved by a timeout or a cancel
 * takes the list lock once more, linked or in flight until then, so a free
 * meanwhile says -EBUSY.
 *
 * Invariants:
 *   - on every return but -EINVAL/-EPERM the caller holds m again;
 *   - signal resolves at most one waiter; broadcast every linked one.
 *
 * Context: wait: task or thread holding m; signal/broadcast: any.
 */
#include <boucle/exec.h>
#include <boucle/sync.h>

#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/sync_debug.h"
#include "sync/waitlist.h"

struct bcl_cond {
    struct bcl__waitlist waiters; /* its own lock */
};

int
bcl_cond_new(bcl_cond **out)
{
    bcl_cond *c;

    if (out == NULL)
        return -EINVAL;
    c = malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    bcl__waitlist_init(&c->waiters);
    *out = c;
    return 0;
}

int
bcl_cond_free(bcl_cond *c)
{
    if (c == NULL)
        return -EINVAL;
    if (bcl__waitlist_busy(&c->waiters))
        return -EBUSY;
    free(c);
    return 0;
}

/* C4: lock m again whatever happens, since the caller holds m on every
 * return.  A cancelled task's lock fails at once (cancellation is
 * sticky); it then takes m between yields instead. */
static void
cond_relock(bcl_mutex *m)
{
    if (bcl_mutex_lock(m) == 0)
        return;
    while (bcl_mutex_trylock(m) != 0)
        bcl_yield();
}

int
bcl_cond_wait(bcl_cond *c, bcl_mutex *m)
{
    return bcl_cond_wait_timeout(c, m, BCL_FOREVER);
}

int
bcl_cond_wait_timeout(bcl_cond *c, bcl_mutex *m, uint64_t ns)
{
    struct bcl__wait_entry entry;
    enum bcl__wait_state st;
    int rc;

    if (c == NULL || m == NULL)
        return -EINVAL;
    if (!bcl__mutex_held(m))
        return -EPERM;
    if ((rc = bcl__waiter_init(&entry.waiter)) != 0)
        return rc; /* a timer callback must not block */
    bcl__waitlist_lock_link(&c->waiters, &entry, false, false); /* C1 */
    bcl__waitlist_unlock(&c->waiters);
    /* C2: cannot fail, we hold m (checked above; only we can drop it). */
    rc = bcl_mutex_unlock(m);
    BCL__ASSERT(rc == 0);
    /* C3: suspend on the linked entry without the list lock: a wake that
     * came since C1 makes this return at once, and once woken we must not
     * touch the cond (a broadcaster may free it as soon as it returns). */
    st = bcl__waitlist_wait_linked(&c->waiters, &entry,
                                   bcl__deadline_after(ns));
    cond_relock(m); /* C4 */
    if (st != BCL__WAIT_WOKEN)
        return bcl__wait_status(st);
    return 0;
}

int
bcl_cond_signal(bcl_cond *c)
{
    if (c == NULL)
        return -EINVAL;
    if (bcl__waitlist_has_waiters(&c->waiters)) /* S1 */
        bcl__waitlist_wake(&c->waiters, 1);
    return 0;
}

int
bcl_cond_broadcast(bcl_cond *c)
{
    if (c == NULL)
        return -EINVAL;
    if (bcl__waitlist_has_waiters(&c->waiters)) /* S1 */
        bcl__waitlist_wake(&c->waiters, SIZE_MAX);
    return 0;
}

size_t
bcl__cond_waiting(const bcl_cond *c)
{
    /* seq_cst: a snapshot ordered with the caller's own operations. */
    return bcl__waitlist_count(&c->waiters);
}
