/*
 * sync/segq.c - unbounded MPMC queue: a chain of segments (invariants and
 * the position encoding in segq.h).
 *
 * A single put or get is a batch of one; a batch stays within the segment
 * its first slot is in, so one CAS claims it.
 */
#include "sync/segq.h"

#include <errno.h>
#include <stdlib.h>

#include "exec/base.h"

enum {
    SLOT_WRITE = 1,   /* the item is written */
    SLOT_READ = 2,    /* the item was read */
    SLOT_DESTROY = 4, /* a sweep stopped here; this slot's reader goes on */
};

#define POS_FLAG UINT64_C(1) /* tail: closed; head: a next segment exists */
#define POS_STEP UINT64_C(2) /* one slot */

static uint64_t
segq_offset(uint64_t pos)
{
    return (pos >> 1) % BCL__SEGQ_LAP;
}

/* Items a position stands for since the start. */
static uint64_t
segq_count(uint64_t pos)
{
    uint64_t index = pos >> 1;

    return (index / BCL__SEGQ_LAP) * BCL__SEGQ_SLOTS +
           index % BCL__SEGQ_LAP;
}

int
bcl__segq_init(struct bcl__segq *q)
{
    /* The first segment exists from the start, so no reader ever meets
     * a chain without one (a get on a fresh queue is simply empty). */
    struct bcl__segq_seg *first = calloc(1, sizeof *first);

    if (first == NULL)
        return -ENOMEM;
    /* relaxed: the queue is published by whatever hands out its pointer. */
    atomic_store_explicit(&q->head, 0, memory_order_relaxed);
    atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&q->head_seg, first, memory_order_relaxed);
    atomic_store_explicit(&q->tail_seg, first, memory_order_relaxed);
    return 0;
}

void
bcl__segq_destroy(struct bcl__segq *q)
{
    /* relaxed: the caller guarantees no concurrent use.  Every segment
     * before head_seg was freed by its last reader. */
    struct bcl__segq_seg *seg =
        atomic_load_explicit(&q->head_seg, memory_order_relaxed);

    while (seg != NULL) {
        struct bcl__segq_seg *next =
            atomic_load_explicit(&seg->next, memory_order_relaxed);
        free(seg);
        seg = next;
    }
}

/* Free seg once slots [start, SLOTS - 1) are read (the last slot's reader
 * started the sweep).  Stops at the first unread slot, marking it. */
static void
segq_sweep(struct bcl__segq_seg *seg, unsigned start)
{
    for (unsigned i = start; i < BCL__SEGQ_SLOTS - 1; i++) {
        struct bcl__segq_slot *slot = &seg->slots[i];

        /* acquire: that slot's reader is done with the segment; pairs
         * with the acq_rel fetch_or of SLOT_READ in bcl__segq_get_many. */
        if ((atomic_load_explicit(&slot->state, memory_order_acquire) &
             SLOT_READ) == 0 &&
            /* acq_rel: either we see READ (and its reader's accesses), or
             * the reader sees DESTROY and resumes the sweep after us. */
            (atomic_fetch_or_explicit(&slot->state, SLOT_DESTROY,
                                      memory_order_acq_rel) &
             SLOT_READ) == 0)
            return;
    }
    free(seg);
}

enum bcl__ring_status
bcl__segq_put_many(struct bcl__segq *q, void *const *items, size_t n,
                   size_t *moved)
{
    struct bcl__segq_seg *seg, *next = NULL;
    struct bcl__spin spin;
    uint64_t tail, offset, k;

    *moved = 0;
    bcl__spin_init(&spin);
    /* acquire (both): index first, then the segment it lies in; the
     * installer stores the segment before the index (release). */
    tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    seg = atomic_load_explicit(&q->tail_seg, memory_order_acquire);
    for (;;) {
        if (tail & POS_FLAG) {
            free(next);
            return BCL__RING_CLOSED;
        }
        offset = segq_offset(tail);
        if (offset == BCL__SEGQ_SLOTS) {
            /* Another producer is linking the next segment. */
            bcl__spin_once(&spin);
            tail = atomic_load_explicit(&q->tail, memory_order_acquire);
            seg = atomic_load_explicit(&q->tail_seg, memory_order_acquire);
            continue;
        }
        k = BCL__SEGQ_SLOTS - offset < n ? BCL__SEGQ_SLOTS - offset : n;
        if (offset + k == BCL__SEGQ_SLOTS && next == NULL) {
            /* We may take the last slot: have the successor ready, so
             * the window in which others wait for it stays short. */
            next = calloc(1, sizeof *next);
            if (next == NULL)
                return BCL__RING_FULL;
        }
        /* seq_cst: claims k slots, and orders the claim before the
         * caller's load of the getters' count (handshake, ring.h). */
        if (atomic_compare_exchange_weak_explicit(
                &q->tail, &tail, tail + k * POS_STEP, memory_order_seq_cst,
                memory_order_acquire))
            break;
        seg = atomic_load_explicit(&q->tail_seg, memory_order_acquire);
    }
    if (offset + k == BCL__SEGQ_SLOTS) {
        /* We took the last slot: link the successor, then step the index
         * over the sentinel.  release: the segment before the index. */
        atomic_store_explicit(&q->tail_seg, next, memory_order_release);
        /* release (fetch_add keeps a close mark set meanwhile): pairs
         * with the acquire index loads above. */
        atomic_fetch_add_explicit(&q->tail, POS_STEP, memory_order_release);
        /* release: a reader of our last slot waits for this link. */
        atomic_store_explicit(&seg->next, next, memory_order_release);
        next = NULL;
    }
    free(next);
    for (uint64_t i = 0; i < k; i++) {
        struct bcl__segq_slot *slot = &seg->slots[offset + i];

        slot->item = items[i];
        /* release: publishes the item; pairs with the acquire load of
         * SLOT_WRITE in bcl__segq_get_many. */
        atomic_fetch_or_explicit(&slot->state, SLOT_WRITE,
                                 memory_order_release);
    }
    *moved = k;
    return BCL__RING_OK;
}

enum bcl__ring_status
bcl__segq_get_many(struct bcl__segq *q, void **items, size_t n,
                   size_t *moved)
{
    struct bcl__segq_seg *seg;
    struct bcl__spin spin;
    uint64_t head, offset, k;

    *moved = 0;
    bcl__spin_init(&spin);
    /* acquire (both): as in put_many, index then segment. */
    head = atomic_load_explicit(&q->head, memory_order_acquire);
    seg = atomic_load_explicit(&q->head_seg, memory_order_acquire);
    for (;;) {
        uint64_t new_head, avail = BCL__SEGQ_SLOTS;

        offset = segq_offset(head);
        if (offset == BCL__SEGQ_SLOTS) {
            /* A consumer is moving to the next segment. */
            bcl__spin_once(&spin);
            head = atomic_load_explicit(&q->head, memory_order_acquire);
            seg = atomic_load_explicit(&q->head_seg, memory_order_acquire);
            continue;
        }
        new_head = head;
        if ((head & POS_FLAG) == 0) {
            /* seq_cst: the empty check is half of the getters' handshake
             * (ring.h). */
            uint64_t tail = atomic_load_explicit(&q->tail,
                                                 memory_order_seq_cst);

            if ((head >> 1) == (tail >> 1))
                return (tail & POS_FLAG) ? BCL__RING_CLOSED
                                         : BCL__RING_EMPTY;
            if ((head >> 1) / BCL__SEGQ_LAP != (tail >> 1) / BCL__SEGQ_LAP)
                new_head |= POS_FLAG; /* tail is in a later segment */
            else
                avail = segq_offset(tail);
        }
        k = avail - offset < n ? avail - offset : n;
        new_head += k * POS_STEP;
        /* seq_cst: claims k items, ordered before the caller's load of
         * the putters' count (handshake). */
        if (atomic_compare_exchange_weak_explicit(
                &q->head, &head, new_head, memory_order_seq_cst,
                memory_order_acquire))
            break;
        seg = atomic_load_explicit(&q->head_seg, memory_order_acquire);
    }
    if (offset + k == BCL__SEGQ_SLOTS) {
        /* We took the last slot: move consumers to the next segment. */
        struct bcl__segq_seg *next;
        uint64_t next_head = ((head + k * POS_STEP) | POS_FLAG) - POS_FLAG;

        bcl__spin_init(&spin);
        /* acquire: pairs with the producer's release link in put_many. */
        while ((next = atomic_load_explicit(&seg->next,
                                            memory_order_acquire)) == NULL)
            bcl__spin_once(&spin);
        next_head += POS_STEP;
        /* acquire: is the chain already longer (so head may skip tail)? */
        if (atomic_load_explicit(&next->next, memory_order_acquire) != NULL)
            next_head |= POS_FLAG;
        /* release: segment before index, as the producers do.  Nobody
         * else moves head while it stands on the sentinel. */
        atomic_store_explicit(&q->head_seg, next, memory_order_release);
        atomic_store_explicit(&q->head, next_head, memory_order_release);
    }
    for (uint64_t i = 0; i < k; i++) {
        struct bcl__segq_slot *slot = &seg->slots[offset + i];

        bcl__spin_init(&spin);
        /* acquire: pairs with the producer's release of SLOT_WRITE. */
        while ((atomic_load_explicit(&slot->state, memory_order_acquire) &
                SLOT_WRITE) == 0)
            bcl__spin_once(&spin);
        items[i] = slot->item;
        if (offset + i + 1 == BCL__SEGQ_SLOTS)
            segq_sweep(seg, 0);
        /* acq_rel: our read is done before a sweeper frees the segment;
         * a DESTROY seen here hands the rest of the sweep to us. */
        else if (atomic_fetch_or_explicit(&slot->state, SLOT_READ,
                                          memory_order_acq_rel) &
                 SLOT_DESTROY)
            segq_sweep(seg, (unsigned)(offset + i + 1));
    }
    *moved = k;
    return BCL__RING_OK;
}

enum bcl__ring_status
bcl__segq_try_put(struct bcl__segq *q, void *item)
{
    size_t moved;

    return bcl__segq_put_many(q, &item, 1, &moved);
}

enum bcl__ring_status
bcl__segq_try_get(struct bcl__segq *q, void **item)
{
    size_t moved;

    return bcl__segq_get_many(q, item, 1, &moved);
}

void
bcl__segq_close(struct bcl__segq *q)
{
    /* seq_cst: no put CAS succeeds after this (they expect the bit
     * clear), so every completed put was claimed before the close. */
    atomic_fetch_or_explicit(&q->tail, POS_FLAG, memory_order_seq_cst);
}

bool
bcl__segq_is_closed(const struct bcl__segq *q)
{
    /* acquire: a caller that sees the mark sees what the closer did. */
    return (atomic_load_explicit(&q->tail, memory_order_acquire) &
            POS_FLAG) != 0;
}

uint64_t
bcl__segq_size(const struct bcl__segq *q)
{
    for (;;) {
        /* seq_cst: a consistent pair (tail, head, tail again). */
        uint64_t tail = atomic_load_explicit(&q->tail, memory_order_seq_cst);
        uint64_t head = atomic_load_explicit(&q->head, memory_order_seq_cst);

        if (atomic_load_explicit(&q->tail, memory_order_seq_cst) == tail)
            return segq_count(tail) - segq_count(head);
    }
}

uint64_t
bcl__segq_total_put(const struct bcl__segq *q)
{
    /* seq_cst: read against task_done's count in queue.c's join check. */
    return segq_count(atomic_load_explicit(&q->tail, memory_order_seq_cst));
}
