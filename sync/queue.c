/*
 * sync/queue.c - bcl_queue: a lock-free ring (bounded: sync/ring.h;
 * unbounded: sync/segq.h) with two wait lists on the slow path.
 *
 * Fast path: put/get is one claim CAS on the ring plus, afterwards, one
 * load of the other side's waiter count.  The wait lists are touched only
 * when that count is non-zero (a waker) or the ring is empty/full (a
 * waiter).
 *
 * The handshake that loses no wake-up (getters shown; putters mirror it
 * with "full" and the putters' list):
 *
 *   putter                                getter (slow path)
 *   claim a slot: CAS tail (seq_cst)      lock getters; link entry:
 *   write item, release stamp               count++ (seq_cst RMW)
 *   if count != 0 (seq_cst load):         re-check: try_get, whose empty
 *     lock getters, wake one                verdict loads tail (seq_cst)
 *                                         if still empty: unlock, suspend
 *
 * All four marked operations are seq_cst, so they fall in one total
 * order: either the getter's tail load comes after the putter's CAS (the
 * re-check sees the claimed item and waits out its write) or the putter's
 * count load comes after the getter's increment (the putter wakes it).
 * The waker claims the entry under the list lock, which the getter held
 * from before its increment until after its re-check, so the wake cannot
 * slip between; it resumes the getter after dropping the lock.
 *
 * Hand-off: a single put that finds getters waiting and the ring empty
 * gives its item straight to the first of them, under the getters' lock:
 * claim the waiter (its one CAS), write the item into its frame, wake it.
 * The item never touches the ring, which saves a claim on each side.  It
 * is exactly once and FIFO: the claim either wins (the getter returns
 * with the item, even if cancelled just after: the cancel is for its next
 * call) or loses to a timeout or a cancel (the item goes to the next
 * waiter, or to the ring); and only an empty ring -- no item of any
 * producer stored or being stored -- lets an item pass.
 *
 * Otherwise a woken waiter is not handed the item: it retries (so a batch
 * getter can take several, and nothing is lost if it is cancelled later).
 * A caller that never waited may take the item first; the woken one then
 * relinks at the front of the list, keeping its turn.  Items can never sit
 * in the ring while getters sleep: a getter sleeps only after seeing
 * head == tail with its count published, and every later put sees that
 * count.
 *
 * task_done/join: the number of items ever put is the ring's tail as a
 * count plus the items handed off (`handed`, written under the getters'
 * lock), so put needs no counter of its own; task_done counts in `done`.
 *
 * Context: every call from any task or thread; see include/boucle/queue.h.
 */
#include <boucle/queue.h>

#include <ck_pr.h>
#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"
#include "sync/queue_debug.h"
#include "sync/ring.h"
#include "sync/segq.h"
#include "sync/waitlist.h"

#define DROP_BATCH 64

struct bcl_queue {
    union {
        struct bcl__ring ring; /* capacity > 0 */
        struct bcl__segq segq; /* capacity == 0 */
    } items;
    size_t capacity;
    BCL__ALIGNED_CACHELINE struct bcl__waitlist getters;
    _Atomic uint64_t handed; /* items handed off; written under getters' lock */
    BCL__ALIGNED_CACHELINE struct bcl__waitlist putters;
    BCL__ALIGNED_CACHELINE struct bcl__waitlist joiners;
    _Atomic uint64_t done; /* task_done calls (and items close_now dropped) */
};

/* --- the two ring kinds behind one set of calls ----------------------- */

/* 0, -EAGAIN (would block), -EPIPE (closed) or -ENOMEM (unbounded). */
static inline int
queue_put_some(bcl_queue *q, void *const *items, size_t n, size_t *moved)
{
    enum bcl__ring_status st;

    if (q->capacity == 0) {
        st = bcl__segq_put_many(&q->items.segq, items, n, moved);
        if (st == BCL__RING_FULL)
            return -ENOMEM;
    } else if (n == 1) {
        st = bcl__ring_try_put(&q->items.ring, items[0]);
        *moved = st == BCL__RING_OK;
    } else {
        st = bcl__ring_put_many(&q->items.ring, items, n, moved);
    }
    return st == BCL__RING_OK ? 0 : st == BCL__RING_CLOSED ? -EPIPE : -EAGAIN;
}

/* 0, -EAGAIN (would block) or -EPIPE (closed and empty). */
static inline int
queue_get_some(bcl_queue *q, void **items, size_t n, size_t *moved)
{
    enum bcl__ring_status st;

    if (q->capacity == 0) {
        st = bcl__segq_get_many(&q->items.segq, items, n, moved);
    } else if (n == 1) {
        st = bcl__ring_try_get(&q->items.ring, items);
        *moved = st == BCL__RING_OK;
    } else {
        st = bcl__ring_get_many(&q->items.ring, items, n, moved);
    }
    return st == BCL__RING_OK ? 0 : st == BCL__RING_CLOSED ? -EPIPE : -EAGAIN;
}

/* One try at moving up to n items, in the direction `put` says. */
static inline int
queue_move_some(bcl_queue *q, bool put, void **items, size_t n,
                size_t *moved)
{
    return put ? queue_put_some(q, items, n, moved)
               : queue_get_some(q, items, n, moved);
}

static uint64_t
queue_total_put(const bcl_queue *q)
{
    uint64_t in_ring = q->capacity == 0
                           ? bcl__segq_total_put(&q->items.segq)
                           : bcl__ring_total_put(&q->items.ring);

    /* seq_cst: read against task_done's count, as the ring's total.  A
     * getter's task_done for a handed item comes after the store (the
     * wake carries it), so `done` never runs ahead of this sum. */
    return in_ring + atomic_load_explicit(&q->handed, memory_order_seq_cst);
}

/* No item stored or being stored, and not closed: a put may hand off. */
static bool
queue_empty_open(const bcl_queue *q)
{
    return q->capacity == 0 ? bcl__segq_size(&q->items.segq) == 0 &&
                                  !bcl__segq_is_closed(&q->items.segq)
                            : bcl__ring_empty_open(&q->items.ring);
}

/* A waiter's entry on either list, with, for a getter, where a putter
 * hands it an item. */
struct queue_waiter {
    struct bcl__wait_entry entry;
    void **items; /* the getter's first output slot */
    bool batch;   /* a batch: handed one item, it goes on for more */
    bool handed;  /* an item was written there (under the getters' lock) */
};

/* A put that found getters waiting: hand `item` to the first that can
 * still take it, if the ring is empty (top comment).  False: put it in
 * the ring instead. */
static bool
queue_hand_off(bcl_queue *q, void *item)
{
    struct bcl__wait_entry *claimed = NULL;

    bcl__waitlist_lock(&q->getters);
    if (queue_empty_open(q) &&
        (claimed = bcl__waitlist_claim_locked(&q->getters, 1, true)) !=
            NULL) {
        struct queue_waiter *g = bcl__container_of(claimed,
                                                   struct queue_waiter,
                                                   entry);

        /* The claim holds the getter: its frame stays until the resume,
         * which publishes these writes (exec/suspend.h).  Handed its
         * item, a single get touches the queue no more (claimed
         * `handed`; a batch getter goes on, and stays in flight). */
        *g->items = item;
        g->handed = true;
        if (g->batch)
            bcl__waitlist_hold_locked(&q->getters);
        /* release: under the lock, the only writer; see queue_total_put. */
        atomic_store_explicit(
            &q->handed,
            atomic_load_explicit(&q->handed, memory_order_relaxed) + 1,
            memory_order_release);
    }
    bcl__waitlist_unlock(&q->getters);
    return bcl__waitlist_resume(claimed) != 0;
}

/* Having moved items, wake up to that many waiters on the other side:
 * one load when nobody waits (handshake in the top comment). */
static void
queue_wake(struct bcl__waitlist *other_side, size_t moved)
{
    if (bcl__unlikely(bcl__waitlist_has_waiters(other_side)))
        bcl__waitlist_wake(other_side, moved);
}

/* Move as many more as possible without waiting (the _many contract). */
static void
queue_move_rest(bcl_queue *q, bool put, void **items, size_t n,
                size_t *moved)
{
    size_t more;

    while (*moved < n) {
        int rc = queue_move_some(q, put, items + *moved, n - *moved, &more);
        if (rc != 0)
            break;
        *moved += more;
    }
}

/* A plain thread that would wait for a single item (or slot), or a task
 * fed by plain threads with nothing else queued on its worker, on a loop
 * whose other workers run at the same time (bcl__spin_may_help): pause
 * about a microsecond (64 `pause`s) and retry once before suspending.
 * Waiting and being woken cost a list lock, a futex wake and, for a task,
 * a switch and a resume through the injection queue (for a thread, a
 * futex wait), more than the item takes to arrive.  One retry, not a
 * polling loop: each poll pulls the ring's lines away from the other
 * core.  A task fed by tasks, and any batch, waits at once: the wake
 * pulls it to its waker's core, where a pause would keep producers on one
 * core and consumers on the other all run long.  Measurements:
 * docs/design.md, "Waiting a little". */
#define QUEUE_SPIN_PAUSES 64

static int
queue_spin_move(bcl_queue *q, bool put, void **items, size_t n,
                size_t *moved)
{
    for (int i = 0; i < QUEUE_SPIN_PAUSES; i++)
        ck_pr_stall();
    return queue_move_some(q, put, items, n, moved);
}

/*
 * The one wait loop behind put, get and their batch and timed forms: try;
 * if the ring would block, link on our side's list, re-check under its
 * lock, suspend until woken, the deadline or a cancel; retry when woken.
 * Returns 0 with *moved >= 1, or an error with *moved == 0 (nothing
 * moved).  A waiter that times out or is cancelled leaves the list; if a
 * waker had already picked it, that waker's wake goes to the next waiter
 * (waitlist.c), so no wake-up is lost.  A woken waiter that retries is
 * in flight on its list until its last touch of the queue (`counted`,
 * waitlist.h), so bcl_queue_free says -EBUSY until it has returned; one
 * handed its item (a single get) touches nothing more.
 */
static int
queue_move(bcl_queue *q, bool put, void **items, size_t n, size_t *moved,
           uint64_t deadline)
{
    struct bcl__waitlist *mine = put ? &q->putters : &q->getters;
    struct bcl__waitlist *other = put ? &q->getters : &q->putters;
    struct queue_waiter waiter = { .items = items, .batch = n > 1 };
    struct bcl__wait_entry *entry = &waiter.entry;
    enum bcl__wait_state state;
    bool front = false;   /* woken: relink at the front */
    bool counted = false; /* woken, unlinked, in flight on mine */
    int rc;

    for (;;) {
        rc = queue_move_some(q, put, items, n, moved);
        if (rc != -EAGAIN || deadline == 0)
            break; /* moved, closed, out of memory, or a try */
        /* Only a single item pauses: a batch waits at once (above).  And
         * only before a first wait: a woken caller whose item was taken
         * relinks at the front at once, so that no put can wake a waiter
         * behind it meanwhile (queue.h: it keeps its place). */
        if (n == 1 && !front && bcl__spin_may_help() &&
            (rc = queue_spin_move(q, put, items, n, moved)) != -EAGAIN)
            break;
        if ((rc = bcl__waiter_init(&entry->waiter)) != 0)
            break; /* from a timer callback */
        bcl__waitlist_lock_link(mine, entry, front, true);
        counted = false; /* linked again: no longer in flight */
        rc = queue_move_some(q, put, items, n, moved);
        if (rc != -EAGAIN) {
            /* Moved (or closed) at the re-check: we still wake the other
             * side, or move the rest of a batch, so we are in flight. */
            bcl__waitlist_unlink(mine, entry);
            bcl__waitlist_hold_locked(mine);
            bcl__waitlist_unlock(mine);
            bcl__waiter_settle(&entry->waiter, BCL__WAIT_WOKEN); /* no wait */
            counted = true;
            break;
        }
        state = bcl__waitlist_wait_until_locked(mine, entry, deadline);
        if (state != BCL__WAIT_WOKEN) {
            *moved = 0;
            return bcl__wait_status(state);
        }
        if (waiter.handed) {
            *moved = 1; /* a put handed us its item */
            rc = 0;
            counted = n > 1; /* a batch goes on: the putter held it */
            break;
        }
        /* Woken for an item (a slot) or by close: retry, first in line. */
        front = true;
        counted = true;
    }
    if (rc == 0) {
        if (n > 1)
            queue_move_rest(q, put, items, n, moved);
        /* A handed item never took a ring slot: no putter to wake for it
         * (and a handed getter must not touch the queue again). */
        if (*moved > waiter.handed)
            queue_wake(other, *moved - waiter.handed);
    }
    if (counted)
        bcl__waitlist_leave(mine); /* our last touch of the queue */
    return rc;
}

/* A relative timeout as queue_move's deadline: 0 stays 0 (a try). */
static uint64_t
queue_deadline(uint64_t ns)
{
    return ns == 0 ? 0 : bcl__deadline_after(ns);
}

/* --- public API -------------------------------------------------------- */

int
bcl_queue_new(bcl_queue **out, size_t capacity)
{
    size_t size = (sizeof(bcl_queue) + BCL__CACHELINE - 1) &
                  ~(size_t)(BCL__CACHELINE - 1);
    bcl_queue *q;
    int rc;

    if (out == NULL || capacity > BCL_QUEUE_MAX_CAPACITY)
        return -EINVAL;
    q = aligned_alloc(BCL__CACHELINE, size);
    if (q == NULL)
        return -ENOMEM;
    q->capacity = capacity;
    if (capacity == 0) {
        rc = bcl__segq_init(&q->items.segq);
    } else {
        rc = bcl__ring_init(&q->items.ring, capacity);
    }
    if (rc != 0) {
        free(q);
        return rc;
    }
    bcl__waitlist_init(&q->getters);
    bcl__waitlist_init(&q->putters);
    bcl__waitlist_init(&q->joiners);
    /* relaxed: published with *out by the caller's own synchronization. */
    atomic_store_explicit(&q->handed, 0, memory_order_relaxed);
    atomic_store_explicit(&q->done, 0, memory_order_relaxed);
    *out = q;
    return 0;
}

int
bcl_queue_free(bcl_queue *q)
{
    if (q == NULL)
        return -EINVAL;
    if (bcl__waitlist_busy(&q->getters) || bcl__waitlist_busy(&q->putters) ||
        bcl__waitlist_busy(&q->joiners))
        return -EBUSY;
    if (q->capacity == 0)
        bcl__segq_destroy(&q->items.segq);
    else
        bcl__ring_destroy(&q->items.ring);
    free(q);
    return 0;
}

int
bcl_queue_put(bcl_queue *q, void *item)
{
    return bcl_queue_put_timeout(q, item, BCL_FOREVER);
}

/* A single put past the fast path: a hand-off to a waiting getter, else
 * queue_move (the ring's full try, then the wait).  queue_put and
 * queue_get hold queue_move's out-parameters, so that the fast paths
 * keep no frame and reach them by a tail call. */
static __attribute__((noinline)) int
queue_put(bcl_queue *q, void *item, uint64_t ns)
{
    size_t moved;

    if (bcl__unlikely(bcl__waitlist_has_waiters(&q->getters)) &&
        queue_hand_off(q, item))
        return 0;
    return queue_move(q, true, &item, 1, &moved, queue_deadline(ns));
}

/* A single get past the fast path: queue_move. */
static __attribute__((noinline)) int
queue_get(bcl_queue *q, void **item, uint64_t ns)
{
    size_t moved;

    return queue_move(q, false, item, 1, &moved, queue_deadline(ns));
}

/*
 * The fast paths of put and get: a bounded ring that is neither full nor
 * empty, and nobody waiting on the other side before the move.  One
 * attempt at the ring (bcl__ring_put_once), no loop and no call but the
 * wake-up, so they save no registers; anything else -- including a race
 * lost to another caller -- is a tail call to queue_put / queue_get,
 * which start over with queue_move (whose first step is the ring's full
 * try: a second try before it would only read the other side's index
 * again, a cross-core miss when it sits on the other core).  The order
 * is the slow path's: a put looks for waiting getters (to hand off,
 * first in line), claims with its seq_cst CAS, then loads the getters'
 * count (the handshake in the top comment).
 */
int
bcl_queue_put_timeout(bcl_queue *q, void *item, uint64_t ns)
{
    if (q == NULL)
        return -EINVAL;
    if (bcl__likely(q->capacity != 0 &&
                    !bcl__waitlist_has_waiters(&q->getters) &&
                    bcl__ring_put_once(&q->items.ring, item))) {
        queue_wake(&q->getters, 1);
        return 0;
    }
    return queue_put(q, item, ns);
}

int
bcl_queue_get(bcl_queue *q, void **item)
{
    return bcl_queue_get_timeout(q, item, BCL_FOREVER);
}

int
bcl_queue_get_timeout(bcl_queue *q, void **item, uint64_t ns)
{
    if (q == NULL || item == NULL)
        return -EINVAL;
    if (bcl__likely(q->capacity != 0 &&
                    bcl__ring_get_once(&q->items.ring, item))) {
        queue_wake(&q->putters, 1);
        return 0;
    }
    return queue_get(q, item, ns);
}

int
bcl_queue_try_put(bcl_queue *q, void *item)
{
    size_t moved;
    int rc;

    if (q == NULL)
        return -EINVAL;
    if (bcl__unlikely(bcl__waitlist_has_waiters(&q->getters)) &&
        queue_hand_off(q, item))
        return 0;
    rc = queue_put_some(q, &item, 1, &moved);
    if (rc == 0)
        queue_wake(&q->getters, 1);
    return rc;
}

int
bcl_queue_try_get(bcl_queue *q, void **item)
{
    size_t moved;
    int rc;

    if (q == NULL || item == NULL)
        return -EINVAL;
    rc = queue_get_some(q, item, 1, &moved);
    if (rc == 0)
        queue_wake(&q->putters, 1);
    return rc;
}

int
bcl_queue_put_many(bcl_queue *q, void *const *items, size_t n, size_t *moved)
{
    return bcl_queue_put_many_timeout(q, items, n, moved, BCL_FOREVER);
}

int
bcl_queue_get_many(bcl_queue *q, void **items, size_t n, size_t *moved)
{
    return bcl_queue_get_many_timeout(q, items, n, moved, BCL_FOREVER);
}

int
bcl_queue_put_many_timeout(bcl_queue *q, void *const *items, size_t n,
                           size_t *moved, uint64_t ns)
{
    if (moved != NULL)
        *moved = 0;
    if (q == NULL || items == NULL || n == 0 || moved == NULL)
        return -EINVAL;
    /* The items are only read: the cast serves the shared wait loop. */
    return queue_move(q, true, (void **)(uintptr_t)items, n, moved,
                      queue_deadline(ns));
}

int
bcl_queue_get_many_timeout(bcl_queue *q, void **items, size_t n,
                           size_t *moved, uint64_t ns)
{
    if (moved != NULL)
        *moved = 0;
    if (q == NULL || items == NULL || n == 0 || moved == NULL)
        return -EINVAL;
    return queue_move(q, false, items, n, moved, queue_deadline(ns));
}

int
bcl_queue_close(bcl_queue *q)
{
    if (q == NULL)
        return -EINVAL;
    if (q->capacity == 0)
        bcl__segq_close(&q->items.segq);
    else
        bcl__ring_close(&q->items.ring);
    /* Every waiter re-checks and sees the mark: getters drain what is
     * left, then get -EPIPE like putters.  A waiter linking concurrently
     * re-checks after the mark (it was set before we took the lock).
     * Both lists are emptied before anyone is resumed: after the first
     * resolve we do not touch the queue, which a woken caller may free. */
    struct bcl__wait_entry *getters = bcl__waitlist_claim(&q->getters,
                                                          SIZE_MAX);
    struct bcl__wait_entry *putters = bcl__waitlist_claim(&q->putters,
                                                          SIZE_MAX);

    bcl__waitlist_resume(getters);
    bcl__waitlist_resume(putters);
    return 0;
}

/* Count `n` more items as done; wake the joiners if that made every item
 * put so far done. */
static void
queue_count_done(bcl_queue *q, uint64_t n)
{
    /* seq_cst: the task_done side of the joiners' handshake (the count,
     * then the total and the joiners' count, as for the rings). */
    uint64_t done = atomic_fetch_add_explicit(&q->done, n,
                                              memory_order_seq_cst) + n;

    if (done == queue_total_put(q))
        queue_wake(&q->joiners, SIZE_MAX);
}

int
bcl_queue_close_now(bcl_queue *q, void (*drop)(void *item, void *arg),
                    void *arg)
{
    void *batch[DROP_BATCH];
    size_t moved;

    if (q == NULL)
        return -EINVAL;
    bcl_queue_close(q);
    while (queue_get_some(q, batch, DROP_BATCH, &moved) == 0) {
        if (drop != NULL)
            for (size_t i = 0; i < moved; i++)
                drop(batch[i], arg);
        queue_count_done(q, moved);
    }
    return 0;
}

bool
bcl_queue_is_closed(const bcl_queue *q)
{
    if (q == NULL)
        return false;
    return q->capacity == 0 ? bcl__segq_is_closed(&q->items.segq)
                            : bcl__ring_is_closed(&q->items.ring);
}

int
bcl_queue_task_done(bcl_queue *q)
{
    uint64_t done, total;

    if (q == NULL)
        return -EINVAL;
    /* acquire (here and on CAS failure): the put behind the `done` we
     * read happened before our read of the total, so the total cannot
     * look smaller than `done` (a spurious -EINVAL on weak memory). */
    done = atomic_load_explicit(&q->done, memory_order_acquire);
    do {
        /* done <= items put always holds; reading the total after `done`
         * can only find it larger, so equality means nothing pending. */
        total = queue_total_put(q);
        if (done >= total)
            return -EINVAL;
        /* seq_cst: the task_done side of the joiners' handshake. */
    } while (!atomic_compare_exchange_weak_explicit(
        &q->done, &done, done + 1, memory_order_seq_cst,
        memory_order_acquire));
    /* Only the call that completes the count wakes the joiners; it reads
     * the total again after its CAS (seq_cst), as the joiners' re-check
     * reads `done` after linking. */
    if (done + 1 == queue_total_put(q))
        queue_wake(&q->joiners, SIZE_MAX);
    return 0;
}

/* Every item put so far is done: read `done` first, then the total. */
static bool
queue_all_done(const bcl_queue *q)
{
    /* seq_cst: the joiner's re-check half of the handshake. */
    uint64_t done = atomic_load_explicit(&q->done, memory_order_seq_cst);

    return done == queue_total_put(q);
}

/* The joiners' re-check (a bcl__waitlist_wait_unless predicate). */
static bool
queue_join_ready(void *arg)
{
    return queue_all_done(arg);
}

int
bcl_queue_join(bcl_queue *q)
{
    if (q == NULL)
        return -EINVAL;
    if (queue_all_done(q))
        return 0;
    /* Woken, a joiner looks again (more items may have been put
     * meanwhile), counted until it returns. */
    return bcl__waitlist_wait_ready(&q->joiners, queue_join_ready, q,
                                    BCL_FOREVER);
}

size_t
bcl_queue_size(const bcl_queue *q)
{
    if (q == NULL)
        return 0;
    return q->capacity == 0 ? bcl__segq_size(&q->items.segq)
                            : bcl__ring_size(&q->items.ring);
}

size_t
bcl_queue_capacity(const bcl_queue *q)
{
    return q == NULL ? 0 : q->capacity;
}

size_t
bcl__queue_waiting(const bcl_queue *q, enum bcl__queue_side side)
{
    const struct bcl__waitlist *wl = side == BCL__QUEUE_GETTERS ? &q->getters
                                     : side == BCL__QUEUE_PUTTERS
                                         ? &q->putters
                                         : &q->joiners;

    return bcl__waitlist_count(wl);
}
