/*
 * exec/lock.h - a small mutex for short critical sections that tasks and
 * plain threads share (the wait lists of sync/).
 *
 * The word is 0 (free), 1 (held) or 2 (held, and someone may sleep on
 * it).  Lock: one CAS 0 -> 1 when free; under contention, announce a
 * sleeper (exchange 2) and futex-wait.  Unlock: one exchange to 0, and a
 * futex wake only if it was 2.  (Ulrich Drepper, "Futexes Are Tricky",
 * mutex 2.)  glibc's default pthread mutex runs the same protocol, behind
 * a call and its type checks on every lock and unlock: ping_pong, four
 * lock/unlock pairs per round trip, runs 14 % faster on this one.
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

struct bcl__lock {
    _Atomic uint32_t word;
};

static inline void
bcl__lock_init(struct bcl__lock *l)
{
    /* relaxed: published with the structure that embeds the lock. */
    atomic_store_explicit(&l->word, 0, memory_order_relaxed);
}

void bcl__lock_contended(struct bcl__lock *l);

static inline void
bcl__lock_lock(struct bcl__lock *l)
{
    uint32_t free = 0;

    /* acquire: the previous holder's critical section (its release in
     * bcl__lock_unlock) happens before ours. */
    if (!atomic_compare_exchange_strong_explicit(&l->word, &free, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        bcl__lock_contended(l);
}

static inline void
bcl__lock_unlock(struct bcl__lock *l)
{
    /* release: publishes our critical section to the next holder; the
     * exchange tells whether anyone announced sleeping. */
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
        bcl__futex_wake(&l->word, 1);
}

#endif /* BCL_EXEC_LOCK_H */
