/*
 * sync/waitlist.c - FIFO of suspended callers (protocol in waitlist.h).
 */
#include "sync/waitlist.h"

#include <errno.h>

#include "sync/spin.h"

#define WAKE_BATCH 16 /* entries popped per lock round by bcl__waitlist_wake */

int
bcl__waitlist_init(struct bcl__waitlist *wl)
{
    if (pthread_mutex_init(&wl->lock, NULL) != 0)
        return -ENOMEM;
    wl->first = wl->last = NULL;
    /* relaxed: published with the structure that embeds the list. */
    atomic_store_explicit(&wl->count, 0, memory_order_relaxed);
    return 0;
}

void
bcl__waitlist_destroy(struct bcl__waitlist *wl)
{
    pthread_mutex_destroy(&wl->lock);
}

void
bcl__waitlist_link(struct bcl__waitlist *wl, struct bcl__wait_entry *e,
                   bool front)
{
    e->linked = true;
    /* relaxed: read by the waiter itself only after the lock orders it
     * behind this store (bcl__waitlist_wait_locked). */
    atomic_store_explicit(&e->released, 0, memory_order_relaxed);
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
    /* seq_cst: the waiter's half of the handshake -- this RMW comes
     * before the caller's re-check of its condition, so a concurrent
     * state change either is seen by the re-check or sees count != 0 in
     * bcl__waitlist_has_waiters(). */
    atomic_fetch_add_explicit(&wl->count, 1, memory_order_seq_cst);
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
    /* relaxed: a stale non-zero count only sends a fast path to the lock,
     * where it finds the list as it is. */
    atomic_fetch_sub_explicit(&wl->count, 1, memory_order_relaxed);
}

size_t
bcl__waitlist_wake_locked(struct bcl__waitlist *wl, size_t n, void *data)
{
    size_t woken = 0;

    while (woken < n && wl->first != NULL) {
        struct bcl__wait_entry *e = wl->first;

        bcl__waitlist_unlink(wl, e);
        if (data != NULL)
            e->waiter.data = data; /* published by the resolve CAS */
        /* A waiter already resolved (timed out, cancelled) is skipped:
         * it will find itself unlinked and not need the list again. */
        if (bcl__waiter_resolve(&e->waiter, BCL__WAIT_WOKEN))
            woken++;
        else
            /* release: as in bcl__waitlist_wake (the lock orders it too). */
            atomic_store_explicit(&e->released, 1, memory_order_release);
    }
    return woken;
}

size_t
bcl__waitlist_wake(struct bcl__waitlist *wl, size_t n)
{
    size_t woken = 0;

    while (woken < n) {
        struct bcl__wait_entry *batch[WAKE_BATCH];
        size_t taken = 0;

        bcl__waitlist_lock(wl);
        while (taken < WAKE_BATCH && woken + taken < n && wl->first != NULL) {
            batch[taken] = wl->first;
            bcl__waitlist_unlink(wl, batch[taken]);
            taken++;
        }
        bcl__waitlist_unlock(wl);
        if (taken == 0)
            break;
        for (size_t i = 0; i < taken; i++) {
            if (bcl__waiter_resolve(&batch[i]->waiter, BCL__WAIT_WOKEN)) {
                woken++; /* its waiter may be gone already: hands off */
                continue;
            }
            /* Resolved by a timeout or a cancel: its waiter waits for this
             * store before leaving.  release: our reads of the entry are
             * done; pairs with the acquire in bcl__waitlist_wait_locked. */
            atomic_store_explicit(&batch[i]->released, 1,
                                  memory_order_release);
        }
    }
    return woken;
}

enum bcl__wait_state
bcl__waitlist_wait_locked(struct bcl__waitlist *wl, struct bcl__wait_entry *e)
{
    enum bcl__wait_state state;

    bcl__waitlist_unlock(wl);
    state = bcl__wait(&e->waiter);
    if (state != BCL__WAIT_WOKEN) {
        /* Resolved by a timeout or a cancel: leave the list ourselves, or,
         * if a waker already popped us, let it finish with the entry. */
        bool popped;

        bcl__waitlist_lock(wl);
        popped = !e->linked;
        bcl__waitlist_unlink(wl, e);
        bcl__waitlist_unlock(wl);
        if (popped) {
            struct bcl__spin spin;

            bcl__spin_init(&spin);
            /* acquire: pairs with the waker's release in
             * bcl__waitlist_wake; after it the entry is ours alone. */
            while (atomic_load_explicit(&e->released,
                                        memory_order_acquire) == 0)
                bcl__spin_once(&spin);
        }
    }
    return state;
}
