/*
 * sync/segq.h - the unbounded MPMC queue under bcl_queue (capacity 0):
 * a chain of fixed-size segments, each freed by its last reader.
 *
 * Positions count slots across the whole chain, shifted left by one bit
 * to keep a flag: bit 0 of `tail` is the close mark, bit 0 of `head` says
 * "a next segment exists" (so a reader need not load `tail` to know the
 * chain goes on).  A position's offset within its segment is
 * (pos >> 1) % BCL__SEGQ_LAP; offset BCL__SEGQ_SLOTS (the last of the lap)
 * is never a slot: an index standing there means "the segment is full and
 * the thread that claimed its last slot is installing the next one".
 *
 * Invariants:
 *   - head and tail only move forward, by CAS; the thread whose CAS takes
 *     a segment's last slot links the next segment and moves the index
 *     past the sentinel offset (producers: tail and tail_seg; consumers:
 *     head and head_seg);
 *   - each slot is written once (WRITE bit) and read once (READ bit);
 *   - a segment is freed exactly once, when every slot has been read:
 *     the reader of the last slot starts the sweep; a sweep that meets a
 *     slot not yet read marks it DESTROY and leaves the rest to its
 *     reader, who resumes the sweep after reading.  A thread dereferences
 *     a segment only after its CAS claimed a slot in it, and a claimed
 *     slot keeps its segment alive until it is read.
 *   - a put can fail only for the close mark or -ENOMEM (a new segment);
 *     a get fails only when head == tail (exact emptiness; a claimed but
 *     unwritten slot is waited out, see sync/spin.h).
 *
 * Orderings are annotated in segq.c; the index CASes and the emptiness
 * load of `tail` are seq_cst for the waiter handshake, as in ring.h.
 * Context: any thread or task; nothing suspends, nothing takes a lock.
 */
#ifndef BCL_SYNC_SEGQ_H
#define BCL_SYNC_SEGQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/base.h"
#include "sync/ring.h"

#define BCL__SEGQ_LAP 256u
#define BCL__SEGQ_SLOTS (BCL__SEGQ_LAP - 1u)

struct bcl__segq_slot {
    void *item;
    _Atomic uint32_t state; /* WRITE | READ | DESTROY bits, segq.c */
};

struct bcl__segq_seg {
    _Atomic(struct bcl__segq_seg *) next;
    struct bcl__segq_slot slots[BCL__SEGQ_SLOTS];
};

struct bcl__segq {
    BCL__ALIGNED_CACHELINE _Atomic uint64_t head;
    _Atomic(struct bcl__segq_seg *) head_seg;
    BCL__ALIGNED_CACHELINE _Atomic uint64_t tail;
    _Atomic(struct bcl__segq_seg *) tail_seg;
};

/* 0 or -ENOMEM (the first segment). */
int bcl__segq_init(struct bcl__segq *q);
/* Frees every segment; no other thread may use q. */
void bcl__segq_destroy(struct bcl__segq *q);

/* OK, CLOSED, or FULL standing for -ENOMEM (no memory for a segment). */
enum bcl__ring_status bcl__segq_try_put(struct bcl__segq *q, void *item);
enum bcl__ring_status bcl__segq_try_get(struct bcl__segq *q, void **item);
/* Batches stay within one segment: up to BCL__SEGQ_SLOTS per call. */
enum bcl__ring_status bcl__segq_put_many(struct bcl__segq *q,
                                         void *const *items, size_t n,
                                         size_t *moved);
enum bcl__ring_status bcl__segq_get_many(struct bcl__segq *q, void **items,
                                         size_t n, size_t *moved);
void bcl__segq_close(struct bcl__segq *q);
bool bcl__segq_is_closed(const struct bcl__segq *q);
uint64_t bcl__segq_size(const struct bcl__segq *q);
uint64_t bcl__segq_total_put(const struct bcl__segq *q);

#endif /* BCL_SYNC_SEGQ_H */
