/*
 * exec/deque.h - growable Chase-Lev work-stealing deque of non-NULL pointers.
 *
 * The owning worker pushes and pops at the bottom (LIFO); any thread
 * steals at the top (FIFO).  Algorithm: Chase & Lev, SPAA 2005, with the
 * C11 orderings of Lê, Pop, Cohen, Zappa Nardelli, PPoPP 2013, fences
 * included.  Full argument: docs/design.md, "The deque".
 *
 * Marks.  Items are pointers with bit 0 clear; the owner may push one
 * marked (worker.c marks tasks that have run before: "sticky" tasks).
 * Every take returns the item without its mark; a thief can ask to leave
 * a marked top item alone unless the deque holds enough items, and
 * bcl__deque_look tells anyone whether the top item is marked.
 *
 * Invariants:
 *   - only the owner writes `bottom` and the slots; `top` only grows, by CAS;
 *   - every pushed item is returned exactly once, by pop() or by steal();
 *   - the array only grows; a retired array stays allocated until
 *     bcl__deque_destroy(), because a thief may still read a slot of it
 *     (its CAS on `top` then fails, so the value read is never used).
 *
 * Synchronization table (which calls may run at the same time):
 *
 *                 push  pop  pop_if  pop_oldest  steal  size_hint, look
 *   push (owner)    -     -     -        -        yes     yes
 *   pop  (owner)    -     -     -        -        yes     yes
 *   pop_if (owner)  -     -     -        -        yes     yes
 *   pop_oldest (o.) -     -     -        -        yes     yes
 *   steal (any)    yes   yes   yes      yes       yes     yes
 *
 * Context: push / pop / pop_if / pop_oldest: the owner thread only.
 * steal, size_hint, look: any thread.  init / destroy: no concurrent call.
 */
#ifndef BCL_EXEC_DEQUE_H
#define BCL_EXEC_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"

struct bcl__deque_array {
    struct bcl__deque_array *retired_next; /* owner only */
    int64_t mask;                          /* capacity - 1, immutable */
    _Atomic(void *) slots[];               /* owner writes; all read */
};

struct bcl__deque {
    /* Thieves CAS it forward; the owner CASes it only on the last item. */
    BCL__ALIGNED_CACHELINE _Atomic int64_t top;
    /* Written by the owner only; read by thieves. */
    BCL__ALIGNED_CACHELINE _Atomic int64_t bottom;
    /* Owner replaces it when growing (release); thieves read (acquire). */
    _Atomic(struct bcl__deque_array *) array;
    /* Arrays replaced by growth, freed at destroy; owner only. */
    struct bcl__deque_array *retired;
};

enum bcl__steal_result {
    BCL__STEAL_OK,     /* *item holds the stolen item */
    BCL__STEAL_EMPTY,  /* the deque looked empty */
    BCL__STEAL_RACE,   /* lost a race with another taker: retry may succeed */
    BCL__STEAL_MARKED, /* the top item is marked and the deque too short */
};

/* capacity: initial slot count, a power of two >= 2.  0 or -ENOMEM. */
int bcl__deque_init(struct bcl__deque *dq, int64_t capacity);
void bcl__deque_destroy(struct bcl__deque *dq);

/* Owner: push item (non-NULL, bit 0 clear) at the bottom, unmarked or
 * marked.  Returns the number of items it then holds (>= 1; a thief may
 * already have taken some), or -ENOMEM (growth). */
int64_t bcl__deque_push(struct bcl__deque *dq, void *item);
int64_t bcl__deque_push_marked(struct bcl__deque *dq, void *item);

/* Owner: take the bottom item, or NULL when empty. */
void *bcl__deque_pop(struct bcl__deque *dq);

/* Owner: take the bottom item only if it is `item`, unmarked; true when
 * taken. */
bool bcl__deque_pop_if(struct bcl__deque *dq, const void *item);

/* Owner: take the top (oldest) item, or NULL when empty: a steal by the
 * owner itself, without steal()'s fence, which orders a thief's look at
 * top and bottom against the owner's take -- and the owner is not taking
 * while it runs this. */
void *bcl__deque_pop_oldest(struct bcl__deque *dq);

/* Owner: an id of the top (oldest) item, -1 when empty.  The same id
 * twice means the same item stayed oldest in between: top only grows,
 * and the owner's take of a last item moves it too. */
int64_t bcl__deque_oldest_id(struct bcl__deque *dq);

/* Any thread: take the top item; a marked one only if the deque holds at
 * least `marked_min` items (0 or 1: always). */
enum bcl__steal_result bcl__deque_steal(struct bcl__deque *dq, void **item,
                                        int64_t marked_min);

/* Any thread: number of items, possibly stale by the time it returns. */
int64_t bcl__deque_size_hint(struct bcl__deque *dq);

/* Any thread: as size_hint, and whether the top item is marked (when the
 * size is > 0; as stale as the size). */
int64_t bcl__deque_look(struct bcl__deque *dq, bool *top_marked);

#endif /* BCL_EXEC_DEQUE_H */
