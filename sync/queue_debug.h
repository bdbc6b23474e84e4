/*
 * sync/queue_debug.h - what white-box tests may observe of a bcl_queue:
 * how many callers wait on each side.  Lets a test wait for "the getter
 * is blocked" as an exact condition instead of sleeping.
 */
#ifndef BCL_SYNC_QUEUE_DEBUG_H
#define BCL_SYNC_QUEUE_DEBUG_H

#include <boucle/queue.h>

enum bcl__queue_side {
    BCL__QUEUE_GETTERS,
    BCL__QUEUE_PUTTERS,
    BCL__QUEUE_JOINERS,
};

/* Callers linked on one side's wait list (a snapshot). */
size_t bcl__queue_waiting(const bcl_queue *q, enum bcl__queue_side side);

#endif /* BCL_SYNC_QUEUE_DEBUG_H */
