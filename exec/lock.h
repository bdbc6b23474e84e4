/*
 * exec/lock.h - a small mutex for short critical sections that tasks and
 * plain threads share (the wait lists of sync/), with a counter its
 * holder keeps in the same word.
 *
 * The word's low two bits are 0 (free), 1 (held) or 2 (held, and someone
 * may sleep on it); the bits above count what the holder says they count
 * (a wait list: its linked entries), so that one load answers "is anyone
 * waiting?" and one CAS both takes the lock and counts a new waiter.
 * Lock: one CAS free -> held (adding to the count) when free; under
 * contention, announce a sleeper (state 2) and futex-wait.  Unlock: one
 * CAS to free (subtracting from the count), and a futex wake only if the
 * state was 2.  (Ulrich Drepper, "Futexes Are Tricky", mutex 2, with the
 * count beside the state.)  Only the holder changes the count; others
 * change only the state bits (2), so the holder's unlock CAS retries at
 * most when a contender announces itself.  glibc's default pthread mutex
 * runs the same protocol, behind a call and its type checks on every lock
 * and unlock: ping_pong, four lock/unlock pairs per round trip, runs 14 %
 * faster on this one.
 *
 * No spinning before sleeping: with more runnable threads than CPUs
 * (plain-thread producers beside the workers), a spinner takes the CPU
 * its preempted holder needs.  Measured: a test-and-test-and-set
 * spinlock, or this lock with 64 pauses before sleeping, made
 * mpmc_threads_4x4 at one worker 10x slower (4 M items/s against 45 M;
 * docs/design.md, "Wait lists").
 *
 * Context: any thread, any task (a task that sleeps here blocks its worker
 * for the length of a critical section, never across a suspension).
 */
#ifndef BCL_EXEC_LOCK_H
#define BCL_EXEC_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "futex.h"

#define BCL__LOCK_HELD 1u
#define BCL__LOCK_SLEEPERS 2u /* held, and someone may sleep on it */
#define BCL__LOCK_STATE 3u
#define BCL__LOCK_ONE 4u      /* one unit of the holder's count */

struct bcl__lock {
    _Atomic uint32_t word;
};

static inline void
bcl__lock_init(struct bcl__lock *l)
{
    /* relaxed: published with the structure that embeds the lock. */
    atomic_store_explicit(&l->word, 0, memory_order_relaxed);
}

void bcl__lock_contended(struct bcl__lock *l, uint32_t add);

/* Take the lock and add `add` to the count, in one CAS when it is free. */
static inline void
bcl__lock_lock_add(struct bcl__lock *l, uint32_t add)
{
    /* relaxed: a guess, the CAS validates it. */
    uint32_t word = atomic_load_explicit(&l->word, memory_order_relaxed);

    while ((word & BCL__LOCK_STATE) == 0) {
        /* seq_cst: acquire for the previous holder's critical section
         * (its release in bcl__lock_unlock_sub); and the RMW that counts
         * a waiter is half of the wait lists' handshake (waitlist.h). */
        if (atomic_compare_exchange_weak_explicit(
                &l->word, &word, word + add * BCL__LOCK_ONE + BCL__LOCK_HELD,
                memory_order_seq_cst, memory_order_relaxed))
            return;
    }
    bcl__lock_contended(l, add);
}

static inline void
bcl__lock_lock(struct bcl__lock *l)
{
    bcl__lock_lock_add(l, 0);
}

/* Subtract `sub` from the count and release the lock. */
static inline void
bcl__lock_unlock_sub(struct bcl__lock *l, uint32_t sub)
{
    /* relaxed: the CAS validates it. */
    uint32_t word = atomic_load_explicit(&l->word, memory_order_relaxed);

    /* release: publishes our critical section to the next holder; the
     * old state tells whether anyone announced sleeping. */
    while (!atomic_compare_exchange_weak_explicit(
        &l->word, &word, (word - sub * BCL__LOCK_ONE) & ~BCL__LOCK_STATE,
        memory_order_release, memory_order_relaxed))
        continue;
    if ((word & BCL__LOCK_STATE) == BCL__LOCK_SLEEPERS)
        bcl__futex_wake(&l->word, 1);
}

/* The count, as of one load.  seq_cst: the fast path's half of the wait
 * lists' handshake (waitlist.h). */
static inline uint32_t
bcl__lock_count(const struct bcl__lock *l)
{
    return atomic_load_explicit(&l->word, memory_order_seq_cst) /
           BCL__LOCK_ONE;
}

#endif /* BCL_EXEC_LOCK_H */
