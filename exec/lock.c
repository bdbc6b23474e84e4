/*
 * exec/lock.c - the contended half of bcl__lock (protocol in lock.h).
 */
#include "lock.h"

void
bcl__lock_contended(struct bcl__lock *l)
{
    /* Announce a sleeper and sleep until the word is freed.  We take the
     * lock as 2 even if nobody else sleeps: the cost is one futex wake
     * too many at our unlock.  acquire: as in bcl__lock_lock. */
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
        bcl__futex_wait(&l->word, 2, NULL);
}
