/*
 * sync/ring.c - the bounded ring's slow and batch paths: set-up, the
 * batch put/get, close and the counts (the single-item fast paths are
 * inline in ring.h, which states the invariants).
 *
 * A batch claims k slots with one CAS on tail (put) or head (get), after
 * checking that all k are available: against this side's copy of the
 * other index when it covers them (ring.h), else against the other index
 * itself; then it fills or drains them in order.  A claimed slot may
 * still be in the previous owner's short window (a consumer of the last
 * lap still reading it, or a producer still writing it): that is waited
 * out with bcl__spin, as in the single-item paths.
 */
#include "sync/ring.h"

#include <errno.h>
#include <stdlib.h>

int
bcl__ring_init(struct bcl__ring *r, uint64_t capacity)
{
    uint64_t mark = 1;

    if (capacity == 0 || capacity > BCL__RING_MAX_CAPACITY)
        return -EINVAL;
    while (mark <= capacity)
        mark <<= 1;
    r->slots = malloc(capacity * sizeof *r->slots);
    if (r->slots == NULL)
        return -ENOMEM;
    r->capacity = capacity;
    r->mark = mark;
    r->one_lap = mark << 1;
    r->lap_shift = (unsigned)__builtin_ctzll(r->one_lap);
    for (uint64_t i = 0; i < capacity; i++) {
        /* relaxed: the ring is published to other threads by whatever
         * hands them the queue pointer. */
        atomic_store_explicit(&r->slots[i].stamp, i, memory_order_relaxed);
        r->slots[i].item = NULL;
    }
    atomic_store_explicit(&r->head, 0, memory_order_relaxed);
    atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&r->head_seen, 0, memory_order_relaxed);
    atomic_store_explicit(&r->tail_seen, 0, memory_order_relaxed);
    return 0;
}

void
bcl__ring_destroy(struct bcl__ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

/*
 * ring_seen_order.  A copy (head_seen, tail_seen) is stored with release
 * after a seq_cst load of the real index, and loaded with acquire.  So
 * the store that wrote the index value a copy holds -- a claim CAS, a
 * seq_cst RMW -- happens before every claim made on the strength of that
 * copy, as it did when each batch read the index itself: a thread that
 * sees a head (or tail) some claim wrote, and then reads the other
 * index, still reads at least the value that claim was checked against
 * (bcl__ring_empty_open, bcl__ring_size, the belt-and-braces retries).
 * On x86-64 both are plain moves.
 */

/* The rare wait in a batch loop: the slot's stamp is not `want` yet (last
 * lap's consumer, or this lap's producer, is between its claim and its
 * stamp store).  acquire: as the loops' own stamp loads. */
static __attribute__((noinline)) void
ring_wait_stamp(struct bcl__ring_slot *slot, uint64_t want)
{
    struct bcl__spin spin;

    bcl__spin_init(&spin);
    while (atomic_load_explicit(&slot->stamp, memory_order_acquire) != want)
        bcl__spin_once(&spin);
}

/* A batch's slots, in runs: from `index` to the end of the array (or to
 * the batch's end), then from index 0 of the next lap.  Within a run the
 * loops step a slot pointer and a position, with no wrap test per item.
 * The length of the run starting at `index` with `left` items to go: */
static inline uint64_t
ring_run_length(const struct bcl__ring *r, uint64_t index, uint64_t left)
{
    return r->capacity - index < left ? r->capacity - index : left;
}

enum bcl__ring_status
bcl__ring_put_many(struct bcl__ring *r, void *const *items, size_t n,
                   size_t *moved)
{
    /* relaxed: a guess, validated by the CAS. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t start, k;

    *moved = 0;
    for (;;) {
        uint64_t head, used;

        if (tail & r->mark)
            return BCL__RING_CLOSED;
        start = bcl__ring_count(r, tail);
        /* A head a producer read earlier (ring.h); never ahead of the
         * real one, so the room it shows is there.  It may be more than a
         * lap behind our tail: then it shows none.  acquire: pairs with
         * the release store below, so the consumers' claims up to it
         * happen before our claim (ring_seen_order). */
        head = bcl__ring_count(
            r, atomic_load_explicit(&r->head_seen, memory_order_acquire));
        if (head <= start && start - head < r->capacity &&
            r->capacity - (start - head) >= n) {
            k = n;
        } else {
            /* seq_cst: the full check is half of the putters'
             * handshake. */
            uint64_t now = atomic_load_explicit(&r->head,
                                                memory_order_seq_cst);

            /* release: see the acquire load above. */
            atomic_store_explicit(&r->head_seen, now, memory_order_release);
            head = bcl__ring_count(r, now);
            if (head > start) { /* our tail is stale */
                tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
                continue;
            }
            used = start - head;
            if (used >= r->capacity)
                return BCL__RING_FULL;
            k = r->capacity - used < n ? r->capacity - used : n;
        }
        /* seq_cst: claims k slots; ordered before the caller's load of
         * the getters' count (handshake). */
        if (atomic_compare_exchange_weak_explicit(
                &r->tail, &tail, bcl__ring_pos(r, start + k),
                memory_order_seq_cst, memory_order_relaxed))
            break;
    }
    uint64_t index = tail & (r->mark - 1), pos = tail;

    for (uint64_t i = 0; i < k; index = 0, pos += r->one_lap - r->capacity) {
        struct bcl__ring_slot *slot = &r->slots[index];

        for (uint64_t end = i + ring_run_length(r, index, k - i); i < end;
             i++, slot++, pos++) {
            /* acquire: last lap's consumer finished reading the slot;
             * pairs with its release store (ring_claim_get,
             * ring_get_many). */
            if (atomic_load_explicit(&slot->stamp, memory_order_acquire) !=
                pos)
                ring_wait_stamp(slot, pos);
            slot->item = items[i];
            /* release: publishes the item to the consumer's acquire
             * load. */
            atomic_store_explicit(&slot->stamp, pos + 1,
                                  memory_order_release);
        }
    }
    *moved = k;
    return BCL__RING_OK;
}

enum bcl__ring_status
bcl__ring_get_many(struct bcl__ring *r, void **items, size_t n,
                   size_t *moved)
{
    /* acquire (here and on CAS failure): the head we read was written
     * after its claimer read a tail at least that far, itself or through
     * tail_seen (ring_seen_order), so our later tail load cannot be older
     * (on weak memory a relaxed load could be). */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t start, k;

    *moved = 0;
    for (;;) {
        uint64_t tail, avail;

        start = bcl__ring_count(r, head);
        /* A tail a consumer read earlier (ring.h); never ahead of the
         * real one, so the items it shows were claimed by their producers
         * (their stamps are waited for below).  acquire: pairs with the
         * release store below (ring_seen_order). */
        tail = bcl__ring_count(
            r, atomic_load_explicit(&r->tail_seen, memory_order_acquire));
        if (tail >= start && tail - start >= n) {
            k = n;
        } else {
            /* seq_cst: the empty check is half of the getters'
             * handshake. */
            uint64_t now = atomic_load_explicit(&r->tail,
                                                memory_order_seq_cst);

            /* release: see the acquire load above. */
            atomic_store_explicit(&r->tail_seen, now, memory_order_release);
            tail = bcl__ring_count(r, now);
            if (tail < start) { /* belt and braces */
                head = atomic_load_explicit(&r->head, memory_order_acquire);
                continue;
            }
            avail = tail - start;
            if (avail == 0)
                return (now & r->mark) ? BCL__RING_CLOSED : BCL__RING_EMPTY;
            k = avail < n ? avail : n;
        }
        /* seq_cst: claims k items; ordered before the caller's load of
         * the putters' count (handshake). */
        if (atomic_compare_exchange_weak_explicit(
                &r->head, &head, bcl__ring_pos(r, start + k),
                memory_order_seq_cst, memory_order_acquire))
            break;
    }
    uint64_t index = head & (r->mark - 1), pos = head;
    uint64_t one_lap = r->one_lap;

    for (uint64_t i = 0; i < k; index = 0, pos += one_lap - r->capacity) {
        struct bcl__ring_slot *slot = &r->slots[index];

        for (uint64_t end = i + ring_run_length(r, index, k - i); i < end;
             i++, slot++, pos++) {
            /* acquire: the producer's item is written; pairs with its
             * release store (ring_claim_put, ring_put_many). */
            if (atomic_load_explicit(&slot->stamp, memory_order_acquire) !=
                pos + 1)
                ring_wait_stamp(slot, pos + 1);
            items[i] = slot->item;
            /* release: our read is done before the next lap's producer. */
            atomic_store_explicit(&slot->stamp, pos + one_lap,
                                  memory_order_release);
        }
    }
    *moved = k;
    return BCL__RING_OK;
}

void
bcl__ring_close(struct bcl__ring *r)
{
    /* seq_cst: after this, no CAS on tail succeeds (they expect the bit
     * clear), so every put that completes was claimed before the close. */
    atomic_fetch_or_explicit(&r->tail, r->mark, memory_order_seq_cst);
}

uint64_t
bcl__ring_size(const struct bcl__ring *r)
{
    for (;;) {
        /* seq_cst: a consistent pair, read tail, head, tail again. */
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
        uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

        if (atomic_load_explicit(&r->tail, memory_order_seq_cst) == tail)
            return bcl__ring_count(r, tail) - bcl__ring_count(r, head);
    }
}

uint64_t
bcl__ring_total_put(const struct bcl__ring *r)
{
    /* seq_cst: read against task_done's count in queue.c's join check. */
    return bcl__ring_count(r, atomic_load_explicit(&r->tail,
                                                   memory_order_seq_cst));
}
