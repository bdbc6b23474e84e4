/*
 * exec/deque.h - growable Chase-Lev work-stealing deque of non-NULL pointers.
 *
 * The owning worker pushes and pops at the bottom (LIFO); any thread
 * steals at the top (FIFO).  Algorithm: Chase & Lev, SPAA 2005, with the
 * C11 orderings of Lê, Pop, Cohen, Zappa Nardelli, PPoPP 2013, fences
 * included.  Full argument: docs/design.md, "The deque".
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
 *                 push  pop  pop_if  pop_oldest  steal  size_hint
 *   push (owner)    -     -     -        -        yes     yes
 *   pop  (owner)    -     -     -        -        yes     yes
 *   pop_if (owner)  -     -     -        -        yes     yes
 *   pop_oldest (o.) -     -     -        -        yes     yes
 *   steal (any)    yes   yes   yes      yes       yes     yes
 *
 * Context: push / pop / pop_if / pop_oldest: the owner thread only.
 * steal, size_hint:
 * any thread.  init / destroy: no concurrent call.
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
    BCL__STEAL_OK,    /* *item holds the stolen item */
    BCL__STEAL_EMPTY, /* the deque looked empty */
    BCL__STEAL_RACE,  /* lost a race with another taker: retry may succeed */
};

/* capacity: initial slot count, a power of two >= 2.  0 or -ENOMEM. */
int bcl__deque_init(struct bcl__deque *dq, int64_t capacity);
void bcl__deque_destroy(struct bcl__deque *dq);

/* Owner: push item (non-NULL) at the bottom; 0 or -ENOMEM (growth). */
int bcl__deque_push(struct bcl__deque *dq, void *item);

/* Owner: take the bottom item, or NULL when empty. */
void *bcl__deque_pop(struct bcl__deque *dq);

/* Owner: take the bottom item only if it is `item`; true when taken. */
bool bcl__deque_pop_if(struct bcl__deque *dq, const void *item);

/* Owner: take the top (oldest) item, or NULL when empty: a steal by the
 * owner itself, without steal()'s fence, which orders a thief's look at
 * top and bottom against the owner's take -- and the owner is not taking
 * while it runs this. */
void *bcl__deque_pop_oldest(struct bcl__deque *dq);

/* Any thread: take the top item. */
enum bcl__steal_result bcl__deque_steal(struct bcl__deque *dq, void **item);

/* Any thread: number of items, possibly stale by the time it returns. */
int64_t bcl__deque_size_hint(struct bcl__deque *dq);

#endif /* BCL_EXEC_DEQUE_H */
