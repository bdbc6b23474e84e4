/*
 * exec/deque.c - growable Chase-Lev work-stealing deque.
 *
 * See deque.h for the contract and docs/design.md, "The deque", for the
 * proof sketch.  In short: the owner and a thief can only disagree about
 * the last item; that case is settled by a CAS on `top`, which both must
 * win to take it.  For every other item, the seq_cst store of `bottom` in
 * pop() and the seq_cst loads of `top` then `bottom` in steal() form a
 * Dekker pair: in the single total order of seq_cst operations either the
 * thief sees the decremented bottom (and backs off), or the owner sees the
 * thief's incremented top (and treats the item as the contended last one).
 */
#include "deque.h"

#include <errno.h>
#include <stdlib.h>

static struct bcl__deque_array *
deque_array_new(int64_t capacity)
{
    struct bcl__deque_array *a;

    a = malloc(sizeof *a + (size_t)capacity * sizeof a->slots[0]);
    if (a == NULL)
        return NULL;
    a->retired_next = NULL;
    a->mask = capacity - 1;
    return a;
}

int
bcl__deque_init(struct bcl__deque *dq, int64_t capacity)
{
    struct bcl__deque_array *a;

    if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        return -EINVAL;
    a = deque_array_new(capacity);
    if (a == NULL)
        return -ENOMEM;
    /* relaxed: no other thread can see the deque before init returns. */
    atomic_store_explicit(&dq->top, 0, memory_order_relaxed);
    atomic_store_explicit(&dq->bottom, 0, memory_order_relaxed);
    atomic_store_explicit(&dq->array, a, memory_order_relaxed);
    dq->retired = NULL;
    return 0;
}

void
bcl__deque_destroy(struct bcl__deque *dq)
{
    /* relaxed: destroy runs after every thief has stopped. */
    free(atomic_load_explicit(&dq->array, memory_order_relaxed));
    while (dq->retired != NULL) {
        struct bcl__deque_array *next = dq->retired->retired_next;

        free(dq->retired);
        dq->retired = next;
    }
}

/* Owner: copy [t, b) into an array twice as large and publish it. */
static struct bcl__deque_array *
deque_grow(struct bcl__deque *dq, struct bcl__deque_array *old, int64_t t,
           int64_t b)
{
    struct bcl__deque_array *a = deque_array_new(2 * (old->mask + 1));

    if (a == NULL)
        return NULL;
    for (int64_t i = t; i < b; i++) {
        /* relaxed: the slots are published below by the release store of
         * `array` and, for items pushed later, of `bottom`. */
        void *item = atomic_load_explicit(&old->slots[i & old->mask],
                                          memory_order_relaxed);
        atomic_store_explicit(&a->slots[i & a->mask], item,
                              memory_order_relaxed);
    }
    /* release: a thief that acquires the new array sees the copied slots;
     * pairs with the acquire load of `array` in bcl__deque_steal(). */
    atomic_store_explicit(&dq->array, a, memory_order_release);
    old->retired_next = dq->retired;
    dq->retired = old;
    return a;
}

#define DEQUE_MARK ((uintptr_t)1)

static void *
deque_unmark(void *stored)
{
    return (void *)((uintptr_t)stored & ~DEQUE_MARK);
}

/* Store at b and publish: the tail of a push. */
static inline int64_t
deque_publish(struct bcl__deque *dq, struct bcl__deque_array *a,
              void *stored, int64_t t, int64_t b)
{
    /* relaxed: published by the release store of bottom just below. */
    atomic_store_explicit(&a->slots[b & a->mask], stored,
                          memory_order_relaxed);
    /* release: a thief whose acquire load of bottom (in steal()) sees b+1
     * also sees the item stored above and everything the caller wrote
     * into it before pushing. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_release);
    return b + 1 - t;
}

/* A push into a full array: grow it first.  Out of line (a tail call),
 * so that the common path saves no registers. */
static __attribute__((noinline)) int64_t
deque_push_grow(struct bcl__deque *dq, struct bcl__deque_array *a,
                void *stored, int64_t t, int64_t b)
{
    a = deque_grow(dq, a, t, b);
    if (a == NULL)
        return -ENOMEM;
    return deque_publish(dq, a, stored, t, b);
}

/* The push, of the value to store (the item, marked or not). */
static inline int64_t
deque_push(struct bcl__deque *dq, void *stored)
{
    /* relaxed: only this thread (the owner) writes bottom and array. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    struct bcl__deque_array *a =
        atomic_load_explicit(&dq->array, memory_order_relaxed);
    /* acquire: a slot freed by a steal (top moved past it) may be reused
     * only after that steal read it; pairs with the CAS in steal(). */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);

    if (bcl__unlikely(b - t > a->mask))
        return deque_push_grow(dq, a, stored, t, b);
    return deque_publish(dq, a, stored, t, b);
}

int64_t
bcl__deque_push(struct bcl__deque *dq, void *item)
{
    return deque_push(dq, item);
}

int64_t
bcl__deque_push_marked(struct bcl__deque *dq, void *item)
{
    return deque_push(dq, (void *)((uintptr_t)item | DEQUE_MARK));
}

/* Owner: reserve the bottom slot, then settle the last-item race. */
static void *
deque_take(struct bcl__deque *dq, int64_t b, struct bcl__deque_array *a)
{
    void *item;
    int64_t t;

    /* Lê et al.: relaxed store, seq_cst fence, relaxed load.  The fence
     * orders the reservation of slot b before our look at top, so a
     * concurrent thief either sees it or we see its increment of top;
     * pairs with the fence in steal().  (A seq_cst store followed by a
     * seq_cst load is equivalent in C11, but the fence states the
     * store-load barrier outright: emulators such as qemu-user translate
     * AArch64's STLR; LDAR without one.) */
    atomic_store_explicit(&dq->bottom, b, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    t = atomic_load_explicit(&dq->top, memory_order_relaxed);
    if (t > b) {
        /* Was empty: undo the reservation.  relaxed: owner-only value,
         * no item is published by it. */
        atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    /* relaxed: the owner wrote this slot itself. */
    item = deque_unmark(
        atomic_load_explicit(&a->slots[b & a->mask], memory_order_relaxed));
    if (t == b) {
        /* The last item: thieves may be reaching for it too.  seq_cst CAS:
         * exactly one of us moves top from t to t+1 and owns the item;
         * relaxed on failure: we then return nothing. */
        if (!atomic_compare_exchange_strong_explicit(
                &dq->top, &t, t + 1, memory_order_seq_cst,
                memory_order_relaxed))
            item = NULL;
        /* relaxed: the deque is now empty (top == b + 1). */
        atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
    }
    return item;
}

void *
bcl__deque_pop(struct bcl__deque *dq)
{
    /* relaxed: owner-only fields. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed) - 1;
    struct bcl__deque_array *a =
        atomic_load_explicit(&dq->array, memory_order_relaxed);

    return deque_take(dq, b, a);
}

bool
bcl__deque_pop_if(struct bcl__deque *dq, const void *item)
{
    /* relaxed: owner-only fields, and slots are written by the owner. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed) - 1;
    struct bcl__deque_array *a =
        atomic_load_explicit(&dq->array, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);

    /* A stale top only makes us try (and maybe fail) the real take.  A
     * marked slot never equals the unmarked item. */
    if (b < t || atomic_load_explicit(&a->slots[b & a->mask],
                                      memory_order_relaxed) != item)
        return false;
    return deque_take(dq, b, a) == item;
}

void *
bcl__deque_pop_oldest(struct bcl__deque *dq)
{
    /* relaxed: owner-only fields, and the slots were written by the
     * owner itself. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    struct bcl__deque_array *a =
        atomic_load_explicit(&dq->array, memory_order_relaxed);
    /* relaxed: a stale top only makes the CAS below fail. */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);

    while (t < b) {
        /* relaxed: slot t is not reused while top == t (push cannot lap
         * it), which the CAS proves. */
        void *found =
            atomic_load_explicit(&a->slots[t & a->mask], memory_order_relaxed);

        /* seq_cst CAS, as in steal(): decides between us and thieves; on
         * failure t is the new top (relaxed: nothing to read). */
        if (atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                                    memory_order_seq_cst,
                                                    memory_order_relaxed))
            return deque_unmark(found);
    }
    return NULL;
}

int64_t
bcl__deque_oldest_id(struct bcl__deque *dq)
{
    /* relaxed: bottom is ours; a stale top only delays the caller's
     * verdict by one look. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);

    return t < b ? t : -1;
}

enum bcl__steal_result
bcl__deque_steal(struct bcl__deque *dq, void **item, int64_t marked_min)
{
    /* Lê et al.: acquire load of top, seq_cst fence, acquire load of
     * bottom.  The fence pairs with the one in deque_take(); the acquire
     * load of bottom pairs with the release store in push(). */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    int64_t b;
    struct bcl__deque_array *a;
    void *found;

    atomic_thread_fence(memory_order_seq_cst);
    b = atomic_load_explicit(&dq->bottom, memory_order_acquire);

    if (t >= b)
        return BCL__STEAL_EMPTY;
    /* acquire: see the slots copied by deque_grow(); pairs with its
     * release store.  An older array is fine too: see deque.h. */
    a = atomic_load_explicit(&dq->array, memory_order_acquire);
    /* relaxed: the value is only used if the CAS below succeeds, which
     * proves slot t was not reused (push() cannot lap a top of t). */
    found = atomic_load_explicit(&a->slots[t & a->mask], memory_order_relaxed);
    /* A stale value only makes us leave the deque alone this once. */
    if (((uintptr_t)found & DEQUE_MARK) && b - t < marked_min)
        return BCL__STEAL_MARKED;
    /* seq_cst CAS: decides between thieves and the owner's last-item take;
     * release half: orders our slot read before the owner's reuse of the
     * slot (pairs with the acquire load of top in push()). */
    if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed))
        return BCL__STEAL_RACE;
    *item = deque_unmark(found);
    return BCL__STEAL_OK;
}

int64_t
bcl__deque_size_hint(struct bcl__deque *dq)
{
    /* seq_cst: used by the parking protocol's re-check (park.c), whose
     * argument needs these loads in the single total order. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);

    return b > t ? b - t : 0;
}

int64_t
bcl__deque_look(struct bcl__deque *dq, bool *top_marked)
{
    /* seq_cst: as size_hint (the parking re-checks use both). */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);
    /* acquire: as in steal(); the slot may be stale, like the size. */
    struct bcl__deque_array *a =
        atomic_load_explicit(&dq->array, memory_order_acquire);

    *top_marked = b > t && ((uintptr_t)atomic_load_explicit(
                                &a->slots[t & a->mask], memory_order_relaxed) &
                            DEQUE_MARK);
    return b > t ? b - t : 0;
}
