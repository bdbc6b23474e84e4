/*
 * sync/waitlist.c - FIFO of suspended callers (protocol in waitlist.h).
 */
#include "sync/waitlist.h"

#include <errno.h>

#include <stdint.h>

#include "exec/base.h"

void
bcl__waitlist_init(struct bcl__waitlist *wl)
{
    bcl__lock_init(&wl->lock);
    wl->first = wl->last = NULL;
    wl->unlinked = 0;
    /* relaxed: published with the structure. */
    atomic_store_explicit(&wl->inflight, 0, memory_order_relaxed);
}

void
bcl__waitlist_lock_link(struct bcl__waitlist *wl, struct bcl__wait_entry *e,
                        bool front, bool recheck)
{
    /* W1: the CAS that takes the lock counts e (seq_cst): the waiter's
     * half of the handshake -- it comes before the caller's re-check of
     * its condition, so a concurrent state change either is seen by the
     * re-check or sees a non-zero count in bcl__waitlist_has_waiters(). */
    bcl__lock_lock_add(&wl->lock, 1);
    /* A woken waiter relinking: counted as linked now, it leaves
     * `inflight` (in this order, bcl__waitlist_busy). */
    if (front)
        bcl__waitlist_leave(wl);
    e->linked = true;
    e->recheck = recheck;
    if (front) {
        e->prev = NULL;
        e->next = wl->first;
        if (wl->first != NULL)
            wl->first->prev = e;
        else
            wl->last = e;
        wl->first = e;
    } else {
        e->next = NULL;
        e->prev = wl->last;
        if (wl->last != NULL)
            wl->last->next = e;
        else
            wl->first = e;
        wl->last = e;
    }
}

void
bcl__waitlist_unlink(struct bcl__waitlist *wl, struct bcl__wait_entry *e)
{
    if (!e->linked)
        return;
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        wl->first = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        wl->last = e->prev;
    e->linked = false;
    /* Off the count at unlock: a reader that sees the stale non-zero count
     * meanwhile only goes to the lock, where it finds the list as it is. */
    wl->unlinked++;
}

struct bcl__wait_entry *
bcl__waitlist_claim_locked(struct bcl__waitlist *wl, size_t n, bool handed)
{
    struct bcl__wait_entry *chain = NULL, **tail = &chain;
    size_t claimed = 0;

    while (claimed < n && wl->first != NULL) {
        struct bcl__wait_entry *e = wl->first;

        bcl__waitlist_unlink(wl, e);
        if (!bcl__waiter_claim(&e->waiter, BCL__WAIT_WOKEN)) {
            /* Resolved by a timeout or a cancel: it waits for this
             * before leaving (bcl__waitlist_wait_linked), and the wake
             * goes to the next entry.  It takes the lock once more: in
             * flight until then (relaxed: our unlock's release publishes
             * it before the linked count drops). */
            bcl__waitlist_hold_locked(wl);
            bcl__waiter_release(&e->waiter);
            continue;
        }
        /* Woken: a `recheck` waiter looks at the structure again, unless
         * we hand it what it waited for. */
        if (!handed && e->recheck)
            bcl__waitlist_hold_locked(wl);
        e->next = NULL;
        *tail = e;
        tail = &e->next;
        claimed++;
    }
    return chain;
}

struct bcl__wait_entry *
bcl__waitlist_claim(struct bcl__waitlist *wl, size_t n)
{
    struct bcl__wait_entry *chain;

    bcl__waitlist_lock(wl);
    chain = bcl__waitlist_claim_locked(wl, n, false);
    bcl__waitlist_unlock(wl);
    return chain;
}

size_t
bcl__waitlist_resume(struct bcl__wait_entry *chain)
{
    size_t woken = 0;

    while (chain != NULL) {
        /* Read the link first: a resumed waiter may leave at once. */
        struct bcl__wait_entry *next = chain->next;

        bcl__waiter_wake(&chain->waiter);
        woken++;
        chain = next;
    }
    return woken;
}

size_t
bcl__waitlist_wake(struct bcl__waitlist *wl, size_t n)
{
    /* Claimed under one lock, resumed after it: once the first waiter
     * runs, the list (and what holds it) is not touched again. */
    return bcl__waitlist_resume(bcl__waitlist_claim(wl, n));
}

/* wait_unless and wait_ready: a try for ns == 0 (it never waits, so a
 * timer callback may make it too); else link, re-check (W1, W2), suspend
 * (W3); a `recheck` caller woken relinks at the front, in flight until
 * then, and goes round again. */
static int
waitlist_wait(struct bcl__waitlist *wl, bool (*ready)(void *arg), void *arg,
              uint64_t ns, bool recheck)
{
    struct bcl__wait_entry entry;
    uint64_t deadline;
    bool front = false;
    int rc;

    if (ns == 0)
        return ready(arg) ? 0 : -ETIMEDOUT;
    deadline = bcl__deadline_after(ns);
    for (;;) {
        enum bcl__wait_state state;

        if ((rc = bcl__waiter_init(&entry.waiter)) != 0) {
            /* A timer callback must not block.  That is known on the
             * first round, before anything counted us: the caller's
             * context does not change between rounds. */
            BCL__ASSERT(!front);
            return rc;
        }
        bcl__waitlist_lock_link(wl, &entry, front, recheck); /* W1 */
        if (ready(arg)) {                                   /* W2 */
            bcl__waitlist_unlink(wl, &entry);
            bcl__waitlist_unlock(wl);
            bcl__waiter_settle(&entry.waiter, BCL__WAIT_WOKEN); /* no wait */
            return 0;
        }
        state = bcl__waitlist_wait_until_locked(wl, &entry, deadline); /* W3 */
        if (state != BCL__WAIT_WOKEN || !recheck)
            return bcl__wait_status(state);
        front = true;
    }
}

int
bcl__waitlist_wait_unless(struct bcl__waitlist *wl, bool (*ready)(void *arg),
                          void *arg, uint64_t ns)
{
    return waitlist_wait(wl, ready, arg, ns, false);
}

int
bcl__waitlist_wait_ready(struct bcl__waitlist *wl, bool (*ready)(void *arg),
                         void *arg, uint64_t ns)
{
    return waitlist_wait(wl, ready, arg, ns, true);
}

enum bcl__wait_state
bcl__waitlist_wait_until_locked(struct bcl__waitlist *wl,
                                struct bcl__wait_entry *e, uint64_t deadline)
{
    bcl__waitlist_unlock(wl);
    return bcl__waitlist_wait_linked(wl, e, deadline);
}

enum bcl__wait_state
bcl__waitlist_wait_linked(struct bcl__waitlist *wl, struct bcl__wait_entry *e,
                          uint64_t deadline)
{
    enum bcl__wait_state state = bcl__wait_until(&e->waiter, deadline);

    if (state != BCL__WAIT_WOKEN) {
        /* Resolved by a timeout or a cancel: leave the list ourselves, or,
         * if a waker already popped us, let it finish with the entry.
         * Either way the structure is still there: we are linked, or in
         * flight (a popper whose claim failed counted us, waitlist.h). */
        bool popped;

        bcl__waitlist_lock(wl);
        popped = !e->linked;
        bcl__waitlist_unlink(wl, e);
        bcl__waitlist_unlock(wl);
        if (popped) {
            bcl__waiter_wait_released(&e->waiter, 1);
            bcl__waitlist_leave(wl); /* our last touch of the structure */
        }
    }
    return state;
}
