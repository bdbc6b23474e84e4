/*
 * sync/sync_debug.h - what white-box tests may observe of the primitives
 * in <boucle/sync.h>: how many callers wait on each (a snapshot), so a
 * test can wait for "the caller is blocked" as an exact condition instead
 * of sleeping.  Also the one internal call between those files:
 * bcl_cond_wait asks whether the caller holds the mutex.
 */
#ifndef BCL_SYNC_SYNC_DEBUG_H
#define BCL_SYNC_SYNC_DEBUG_H

#include <boucle/sync.h>

/* Callers linked on the object's wait list (a seq_cst snapshot). */
size_t bcl__mutex_waiting(const bcl_mutex *m);
size_t bcl__sem_waiting(const bcl_sem *s);
size_t bcl__event_waiting(const bcl_event *e);
size_t bcl__cond_waiting(const bcl_cond *c);
size_t bcl__waitgroup_waiting(const bcl_waitgroup *wg);

/* True if the calling task (or, outside tasks, thread) holds m.  Exact
 * for the caller: only the owner can change the answer from true. */
bool bcl__mutex_held(const bcl_mutex *m);

#endif /* BCL_SYNC_SYNC_DEBUG_H */
