/*
 * sync/ring.h - the bounded MPMC ring under bcl_queue (capacity >= 1).
 *
 * A per-slot sequence ring in the style of Vyukov's bounded MPMC queue,
 * with an exact capacity and a close mark:
 *
 *   - A position packs (lap, index): index = pos & (mark - 1) < capacity,
 *     the lap is in the bits at and above `one_lap` = 2 * mark, where
 *     `mark` is the smallest power of two > capacity.  Stepping past the
 *     last index moves to index 0 of the next lap, so any capacity works
 *     without a division on the fast path.
 *   - `tail` is the next position to write, `head` the next to read; each
 *     only moves forward, by CAS.  `tail` carries the `mark` bit once the
 *     ring is closed; a put that sees it fails, so no put can complete
 *     after close (the CAS that claims a slot is the put's commit point).
 *   - slot[i].stamp tells whose turn it is: == pos for a producer at pos,
 *     == pos + 1 once the item is written (consumer's turn), == pos +
 *     one_lap once it was read (the producer of the next lap's turn).
 *
 * Emptiness is exact: "empty" means head == tail as read by one seq_cst
 * load of tail after the slot's stamp.  A slot that is claimed but not
 * yet written (a producer between its CAS and its stamp store) is waited
 * out with bcl__spin, never reported as empty: a try_get fails only when
 * the ring holds no item at all.  "Full" means tail is one lap ahead of
 * head; on weak memory a put may read an older head and report FULL while
 * a consumer is freeing a slot, which loses nothing (that consumer's
 * claim CAS is followed by its load of the putters' count, see queue.c).
 * Producers never wait for each other: a preempted producer delays only
 * the one consumer that claimed its slot.
 *
 * Orderings: the index CASes (the claims) and the index loads that decide
 * "empty" or "full" are seq_cst: they are one half of the waiter handshake
 * (queue.c: a producer claims, then loads the getters' count; a getter
 * counts itself, then re-checks the ring), which needs both sides' store
 * before load.  The item travels by the stamp: release store by the
 * writer, acquire load by the reader.  Full argument: docs/design.md,
 * "The queue".
 *
 * Context: any thread or task; no call suspends or takes a lock.
 */
#ifndef BCL_SYNC_RING_H
#define BCL_SYNC_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exec/base.h"

enum bcl__ring_status {
    BCL__RING_OK = 0,
    BCL__RING_EMPTY,  /* get: nothing to take (not closed) */
    BCL__RING_FULL,   /* put: no room (not closed) */
    BCL__RING_CLOSED, /* put: closed; get: closed and empty */
};

struct bcl__ring_slot {
    _Atomic uint64_t stamp; /* whose turn, see above */
    void *item;             /* written before, read after the stamp */
};

/*
 * Each side keeps, on its own line, the other side's index as one of its
 * batch calls last read it (`tail_seen` beside head, `head_seen` beside
 * tail).  Indices only grow, so a seen value is never ahead of the real
 * one, and the items (or the room) it shows are really there: a batch
 * that the seen value already covers claims without reading the other
 * side's line, which, when the two sides run on different cores, the
 * other side writes all the time.  Only a verdict of "empty" or "full"
 * needs the real index, read seq_cst as before (the handshake).
 */
struct bcl__ring {
    BCL__ALIGNED_CACHELINE _Atomic uint64_t head; /* consumers' position */
    _Atomic uint64_t tail_seen; /* a tail a consumer read; ring_seen_order */
    BCL__ALIGNED_CACHELINE _Atomic uint64_t tail; /* producers' | mark */
    _Atomic uint64_t head_seen; /* a head a producer read; ring_seen_order */
    BCL__ALIGNED_CACHELINE uint64_t capacity;     /* immutable from here */
    uint64_t mark;    /* smallest power of two > capacity; the close bit */
    uint64_t one_lap; /* 2 * mark */
    unsigned lap_shift; /* log2(one_lap): a lap count without a division */
    struct bcl__ring_slot *slots;
};

/* Largest capacity a ring accepts (positions must not overflow). */
#define BCL__RING_MAX_CAPACITY (UINT64_C(1) << 40)

/* 0, -EINVAL (capacity 0 or too large) or -ENOMEM. */
int bcl__ring_init(struct bcl__ring *r, uint64_t capacity);
void bcl__ring_destroy(struct bcl__ring *r);

/* Items a position stands for since the start: laps * capacity + index. */
static inline uint64_t
bcl__ring_count(const struct bcl__ring *r, uint64_t pos)
{
    pos &= ~r->mark;
    return (pos >> r->lap_shift) * r->capacity + (pos & (r->mark - 1));
}

/* The position `count` items from the start (inverse of ring_count). */
static inline uint64_t
bcl__ring_pos(const struct bcl__ring *r, uint64_t count)
{
    return (count / r->capacity) * r->one_lap + count % r->capacity;
}

/* The position after `pos` (same lap, or index 0 of the next lap). */
static inline uint64_t
bcl__ring_next(const struct bcl__ring *r, uint64_t pos)
{
    if ((pos & (r->mark - 1)) + 1 < r->capacity)
        return pos + 1;
    return (pos & ~(r->one_lap - 1)) + r->one_lap;
}

/* The slot at *tail is free in this lap (its stamp == *tail): claim it
 * and fill it.  False if another producer moved tail first; *tail then
 * holds the new value. */
static inline bool
ring_claim_put(struct bcl__ring *r, struct bcl__ring_slot *slot,
               uint64_t *tail, void *item)
{
    /* seq_cst: claims the slot; the waiter handshake orders this before
     * the caller's load of the getters' count. */
    if (!atomic_compare_exchange_weak_explicit(&r->tail, tail,
                                               bcl__ring_next(r, *tail),
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
        return false;
    slot->item = item;
    /* release: publishes the item; pairs with the acquire stamp load in
     * bcl__ring_try_get() and bcl__ring_get_once(). */
    atomic_store_explicit(&slot->stamp, *tail + 1, memory_order_release);
    return true;
}

/* The item at *head is written (its stamp == *head + 1): claim it and
 * read it.  False if another consumer moved head first; *head then holds
 * the new value. */
static inline bool
ring_claim_get(struct bcl__ring *r, struct bcl__ring_slot *slot,
               uint64_t *head, void **item)
{
    /* seq_cst: claims the item; the putters' handshake orders this before
     * the caller's load of the putters' count. */
    if (!atomic_compare_exchange_weak_explicit(&r->head, head,
                                               bcl__ring_next(r, *head),
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
        return false;
    *item = slot->item;
    /* release: our read of the item is done before the next lap's
     * producer (acquire stamp load) reuses the slot. */
    atomic_store_explicit(&slot->stamp, *head + r->one_lap,
                          memory_order_release);
    return true;
}

/*
 * One attempt, for a caller's inline fast path: true if the item went in
 * (got out); false if the slot is not ready -- full, empty, closed, a
 * claimed slot still being written or read -- or another caller claimed
 * first.  False changes nothing: the caller then asks bcl__ring_try_put
 * (try_get), which decides.  No loop and no call, so the caller's fast
 * path needs no saved registers (the queue's put and get).
 */
static inline bool
bcl__ring_put_once(struct bcl__ring *r, void *item)
{
    /* relaxed: only a guess; the slot's stamp and the CAS validate it. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    struct bcl__ring_slot *slot = &r->slots[tail & (r->mark - 1)];

    /* acquire: as in bcl__ring_try_put.  A closed tail (mark bit) never
     * equals a stamp. */
    return atomic_load_explicit(&slot->stamp, memory_order_acquire) ==
               tail &&
           ring_claim_put(r, slot, &tail, item);
}

static inline bool
bcl__ring_get_once(struct bcl__ring *r, void **item)
{
    /* relaxed: a guess, validated by the stamp and the CAS. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    struct bcl__ring_slot *slot = &r->slots[head & (r->mark - 1)];

    /* acquire: as in bcl__ring_try_get. */
    return atomic_load_explicit(&slot->stamp, memory_order_acquire) ==
               head + 1 &&
           ring_claim_get(r, slot, &head, item);
}

static inline enum bcl__ring_status
bcl__ring_try_put(struct bcl__ring *r, void *item)
{
    struct bcl__spin spin;
    /* relaxed: only a guess; the slot's stamp and the CAS validate it. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

    bcl__spin_init(&spin);
    for (;;) {
        struct bcl__ring_slot *slot;
        uint64_t stamp;

        if (tail & r->mark)
            return BCL__RING_CLOSED;
        slot = &r->slots[tail & (r->mark - 1)];
        /* acquire: the consumer that freed the slot is done reading it;
         * pairs with the release stamp store in ring_claim_get() and
         * bcl__ring_get_many(). */
        stamp = atomic_load_explicit(&slot->stamp, memory_order_acquire);
        if (stamp == tail) {
            if (ring_claim_put(r, slot, &tail, item))
                return BCL__RING_OK;
            continue; /* the failed CAS reloaded tail */
        }
        if (stamp + r->one_lap == tail + 1) {
            /* The slot still holds last lap's item.  seq_cst: the full
             * check is half of the putters' handshake. */
            uint64_t head = atomic_load_explicit(&r->head,
                                                 memory_order_seq_cst);
            if (head + r->one_lap == tail)
                return BCL__RING_FULL;
        }
        /* A consumer is reading the slot, or tail moved on. */
        bcl__spin_once(&spin);
        tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    }
}

static inline enum bcl__ring_status
bcl__ring_try_get(struct bcl__ring *r, void **item)
{
    struct bcl__spin spin;
    /* relaxed: a guess, validated by the stamp and the CAS. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    bcl__spin_init(&spin);
    for (;;) {
        struct bcl__ring_slot *slot = &r->slots[head & (r->mark - 1)];
        /* acquire: pairs with the publishing release stamp store in
         * ring_claim_put() and bcl__ring_put_many(). */
        uint64_t stamp = atomic_load_explicit(&slot->stamp,
                                              memory_order_acquire);

        if (stamp == head + 1) {
            if (ring_claim_get(r, slot, &head, item))
                return BCL__RING_OK;
            continue;
        }
        if (stamp == head) {
            /* Not written yet.  seq_cst: the empty check is half of the
             * getters' handshake. */
            uint64_t tail = atomic_load_explicit(&r->tail,
                                                 memory_order_seq_cst);
            if ((tail & ~r->mark) == head)
                return (tail & r->mark) ? BCL__RING_CLOSED : BCL__RING_EMPTY;
            /* else a producer claimed this slot and is writing it. */
        }
        bcl__spin_once(&spin);
        head = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
}

/* Batch forms: claim up to n slots with one CAS, then fill or drain them
 * in order.  *moved gets the count (0 with EMPTY/FULL/CLOSED). */
enum bcl__ring_status bcl__ring_put_many(struct bcl__ring *r,
                                         void *const *items, size_t n,
                                         size_t *moved);
enum bcl__ring_status bcl__ring_get_many(struct bcl__ring *r, void **items,
                                         size_t n, size_t *moved);

/* Set the close mark (idempotent).  seq_cst RMW. */
void bcl__ring_close(struct bcl__ring *r);

/* True once bcl__ring_close() ran.  acquire: see what the closer did. */
static inline bool
bcl__ring_is_closed(const struct bcl__ring *r)
{
    return (atomic_load_explicit(&r->tail, memory_order_acquire) & r->mark) !=
           0;
}

/* Items in the ring at some instant during the call. */
uint64_t bcl__ring_size(const struct bcl__ring *r);

/* Empty and open at some instant during the call: no item stored or being
 * stored.  Cheaper than bcl__ring_size() == 0 (no division). */
static inline bool
bcl__ring_empty_open(const struct bcl__ring *r)
{
    /* seq_cst, head first: the tail read after it cannot be behind it, so
     * equal positions (the close mark clear) mean empty when tail is read. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

    return atomic_load_explicit(&r->tail, memory_order_seq_cst) == head;
}

/* Items ever put: the producers' position as a count. */
uint64_t bcl__ring_total_put(const struct bcl__ring *r);

#endif /* BCL_SYNC_RING_H */
