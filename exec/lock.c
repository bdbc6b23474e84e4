/*
 * exec/lock.c - the contended halves of bcl__lock (protocol in lock.h)
 * and of bcl__spinlock (base.h).
 */
#include "lock.h"

#include "base.h"

void
bcl__spinlock_contended(struct bcl__spinlock *l)
{
    struct bcl__spin spin;

    bcl__spin_init(&spin);
    do {
        /* relaxed: only a hint to retry the exchange. */
        while (atomic_load_explicit(&l->held, memory_order_relaxed))
            bcl__spin_once(&spin);
        /* acquire: as in bcl__spinlock_lock. */
    } while (atomic_exchange_explicit(&l->held, 1, memory_order_acquire));
}

void
bcl__lock_contended(struct bcl__lock *l, uint32_t add)
{
    /* relaxed: the CASes validate it. */
    uint32_t word = atomic_load_explicit(&l->word, memory_order_relaxed);

    /* Announce a sleeper and sleep until the word is freed.  We take the
     * lock as SLEEPERS even if nobody else sleeps: the cost is one futex
     * wake too many at our unlock.  The count bits are the holder's: we
     * keep them, and add ours only with the CAS that takes the lock. */
    for (;;) {
        uint32_t count = word & ~BCL__LOCK_STATE;

        if ((word & BCL__LOCK_STATE) == 0) {
            /* seq_cst: as in bcl__lock_lock_add. */
            if (atomic_compare_exchange_weak_explicit(
                    &l->word, &word,
                    count + add * BCL__LOCK_ONE + BCL__LOCK_SLEEPERS,
                    memory_order_seq_cst, memory_order_relaxed))
                return;
            continue;
        }
        /* relaxed: announcing ourselves orders nothing; the futex call
         * re-reads the word. */
        if ((word & BCL__LOCK_STATE) != BCL__LOCK_SLEEPERS &&
            !atomic_compare_exchange_weak_explicit(
                &l->word, &word, count | BCL__LOCK_SLEEPERS,
                memory_order_relaxed, memory_order_relaxed))
            continue;
        bcl__futex_wait(&l->word, count | BCL__LOCK_SLEEPERS, NULL);
        /* relaxed: as above. */
        word = atomic_load_explicit(&l->word, memory_order_relaxed);
    }
}
