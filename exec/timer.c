/*
 * exec/timer.c - the per-worker 4-ary timer heap (node life cycle and
 * locking in timer.h).
 *
 * Heap order: slots[i].deadline <= each of slots[4i+1 .. 4i+4].deadline;
 * every ARMED node knows its index (`slot`) so disarm is O(log n) without
 * a search.  A 4-ary heap is shallower than a binary one (half the
 * levels), and with the deadlines stored in the array (16-byte slots) its
 * four children share one cache line: a sift touches one line per level
 * and never the nodes themselves, which live in task stacks.
 */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define HEAP_ARITY 4
#define HEAP_FIRST_CAP 64

uint64_t
bcl__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
bcl__coarse_now_ns(void)
{
    struct timespec ts;

    /* A kernel or sandbox without the coarse clock: the full one is
     * never behind it, only slower to read. */
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
        return bcl__now_ns();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
bcl__timer_heap_init(struct bcl__timer_heap *h)
{
    h->slots = NULL;
    h->n = h->cap = 0;
    h->firing = NULL;
    /* relaxed: published with the worker that embeds the heap. */
    atomic_store_explicit(&h->lock.held, 0, memory_order_relaxed);
    atomic_store_explicit(&h->earliest, UINT64_MAX, memory_order_relaxed);
    return 0;
}

void
bcl__timer_heap_destroy(struct bcl__timer_heap *h)
{
    free(h->slots);
    h->slots = NULL;
}

/* --- heap surgery, all under h->lock ----------------------------------- */

static void
heap_place(struct bcl__timer_heap *h, uint32_t i, struct bcl__timer_slot slot)
{
    h->slots[i] = slot;
    slot.node->slot = i;
}

static void
heap_sift_up(struct bcl__timer_heap *h, uint32_t i)
{
    struct bcl__timer_slot moving = h->slots[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / HEAP_ARITY;

        if (h->slots[parent].deadline <= moving.deadline)
            break;
        heap_place(h, i, h->slots[parent]);
        i = parent;
    }
    heap_place(h, i, moving);
}

static void
heap_sift_down(struct bcl__timer_heap *h, uint32_t i)
{
    struct bcl__timer_slot moving = h->slots[i];

    for (;;) {
        uint32_t first = i * HEAP_ARITY + 1, best = i;
        uint64_t best_deadline = moving.deadline;

        for (uint32_t c = first; c < first + HEAP_ARITY && c < h->n; c++) {
            if (h->slots[c].deadline < best_deadline) {
                best = c;
                best_deadline = h->slots[c].deadline;
            }
        }
        if (best == i)
            break;
        heap_place(h, i, h->slots[best]);
        i = best;
    }
    heap_place(h, i, moving);
}

static void
heap_update_earliest(struct bcl__timer_heap *h)
{
    /* relaxed: a hint for the owner (see bcl__timer_earliest); the lock
     * orders it for anyone who reads the heap itself. */
    atomic_store_explicit(&h->earliest,
                          h->n ? h->slots[0].deadline : UINT64_MAX,
                          memory_order_relaxed);
}

/* Take node out of the heap's array; its state and `heap` are the
 * caller's to change (under the lock). */
static void
heap_unlink(struct bcl__timer_heap *h, struct bcl__timer_node *node)
{
    uint32_t i = node->slot;
    struct bcl__timer_slot last = h->slots[--h->n];

    if (last.node != node) {
        heap_place(h, i, last);
        if (i > 0 &&
            h->slots[(i - 1) / HEAP_ARITY].deadline > last.deadline)
            heap_sift_up(h, i);
        else
            heap_sift_down(h, i);
    }
    heap_update_earliest(h);
}

/* Take node out and let it go: IDLE, `heap` NULL. */
static void
heap_remove(struct bcl__timer_heap *h, struct bcl__timer_node *node)
{
    heap_unlink(h, node);
    node->state = BCL__TIMER_IDLE;
    /* release: our writes to the node come before a disarmer's acquire
     * load that sees NULL (its frame may go right after). */
    atomic_store_explicit(&node->heap, NULL, memory_order_release);
}

static int heap_push_grow(struct bcl__timer_heap *h,
                          struct bcl__timer_node *node, uint64_t deadline);

static inline int
heap_push(struct bcl__timer_heap *h, struct bcl__timer_node *node,
          uint64_t deadline)
{
    if (h->n == h->cap)
        return heap_push_grow(h, node, deadline);
    node->deadline = deadline;
    node->state = BCL__TIMER_ARMED;
    /* relaxed: under the lock; see bcl__timer_disarm. */
    atomic_store_explicit(&node->heap, h, memory_order_relaxed);
    heap_place(h, h->n++, (struct bcl__timer_slot){ deadline, node });
    heap_sift_up(h, node->slot);
    heap_update_earliest(h);
    return 0;
}

/* A push into a full array: grow it first.  Out of line (a tail call),
 * so that the common push saves no registers. */
static __attribute__((noinline)) int
heap_push_grow(struct bcl__timer_heap *h, struct bcl__timer_node *node,
               uint64_t deadline)
{
    uint32_t cap = h->cap ? h->cap * 2 : HEAP_FIRST_CAP;
    struct bcl__timer_slot *slots = realloc(h->slots, cap * sizeof *slots);

    if (slots == NULL)
        return -ENOMEM;
    h->slots = slots;
    h->cap = cap;
    return heap_push(h, node, deadline);
}

/* --- the node protocol -------------------------------------------------- */

int
bcl__timer_arm(struct bcl__timer_heap *h, struct bcl__timer_node *node,
               uint64_t deadline, bool *earliest)
{
    int rc;

    bcl__spinlock_lock(&h->lock);
    BCL__ASSERT(node->state == BCL__TIMER_IDLE);
    rc = heap_push(h, node, deadline);
    if (earliest != NULL)
        *earliest = rc == 0 && h->slots[0].node == node;
    bcl__spinlock_unlock(&h->lock);
    return rc;
}

/* Lock the heap the node is ARMED or FIRING in and return it, or return
 * NULL if the node is IDLE (never armed, or fired and let go). */
static struct bcl__timer_heap *
node_lock_heap(struct bcl__timer_node *node)
{
    for (;;) {
        /* acquire: NULL means the owner is done with the node (pairs with
         * the release stores of NULL); otherwise a guess checked under
         * that heap's lock below (a node changes heap only under it). */
        struct bcl__timer_heap *h =
            atomic_load_explicit(&node->heap, memory_order_acquire);

        if (h == NULL)
            return NULL;
        bcl__spinlock_lock(&h->lock);
        /* relaxed: under the lock that orders its writes. */
        if (atomic_load_explicit(&node->heap, memory_order_relaxed) == h)
            return h;
        bcl__spinlock_unlock(&h->lock); /* moved meanwhile: again */
    }
}

bool
bcl__timer_disarm(struct bcl__timer_node *node)
{
    struct bcl__spin spin;

    bcl__spin_init(&spin);
    for (;;) {
        struct bcl__timer_heap *h = node_lock_heap(node);

        if (h == NULL)
            return false; /* IDLE: never armed, or fired */
        if (node->state == BCL__TIMER_ARMED) {
            heap_remove(h, node);
            bcl__spinlock_unlock(&h->lock);
            return true;
        }
        /* FIRING on the owner: wait for its fire to return. */
        bcl__spinlock_unlock(&h->lock);
        bcl__spin_once(&spin);
    }
}

bool
bcl__timer_stop_from_fire(struct bcl__timer_node *node)
{
    struct bcl__timer_heap *h = node_lock_heap(node);
    bool caller_releases = true;

    if (h == NULL)
        return true; /* IDLE */
    if (node->state == BCL__TIMER_ARMED) {
        heap_remove(h, node);
    } else {
        /* FIRING: its owner reads this under the lock after the fire and
         * releases the node (bcl__timer_expire). */
        node->stop_requested = true;
        caller_releases = false;
    }
    bcl__spinlock_unlock(&h->lock);
    return caller_releases;
}

void
bcl__timer_expire(struct bcl__timer_heap *h, uint64_t now)
{
    for (;;) {
        struct bcl__timer_node *node;
        uint64_t next;

        bcl__spinlock_lock(&h->lock);
        if (h->n == 0 || h->slots[0].deadline > now) {
            bcl__spinlock_unlock(&h->lock);
            return;
        }
        node = h->slots[0].node;
        /* Not heap_remove: `heap` must not pass through NULL, which tells
         * a lockless disarm the node is free to go -- while we are about
         * to fire it.  It stays h, and a disarm waits while it sees
         * FIRING under the lock. */
        heap_unlink(h, node);
        node->state = BCL__TIMER_FIRING;
        bcl__spinlock_unlock(&h->lock);

        h->firing = node;
        next = node->fire(node);
        h->firing = NULL;

        bcl__spinlock_lock(&h->lock);
        /* Stopped from another timer's fire meanwhile: release it. */
        if (node->stop_requested) {
            node->stop_requested = false;
            next = BCL__TIMER_RELEASE;
        }
        /* The last touch of the node (unless we release it below): a
         * disarm waiting on FIRING sees the new state only after we
         * release the lock.  Re-arming cannot need memory: the node's own
         * place was freed when it was popped, unless other arms took it. */
        if (next == 0 || next == BCL__TIMER_RELEASE ||
            heap_push(h, node, next) != 0) {
            node->state = BCL__TIMER_IDLE;
            /* release: the last touch; see heap_remove. */
            atomic_store_explicit(&node->heap, NULL, memory_order_release);
        }
        bcl__spinlock_unlock(&h->lock);
        if (next == BCL__TIMER_RELEASE)
            node->release(node);
    }
}

void
bcl__timer_heap_clear(struct bcl__timer_heap *h,
                      void (*drop)(struct bcl__timer_node *node))
{
    for (;;) {
        struct bcl__timer_node *node = NULL;

        bcl__spinlock_lock(&h->lock);
        if (h->n > 0) {
            node = h->slots[h->n - 1].node;
            heap_remove(h, node);
        }
        bcl__spinlock_unlock(&h->lock);
        if (node == NULL)
            return;
        drop(node);
    }
}
