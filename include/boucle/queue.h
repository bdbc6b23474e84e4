/*
 * boucle/queue.h - the multi-producer, multi-consumer async queue.
 *
 * asyncio.Queue for every core: `put` suspends while the queue is full,
 * `get` while it is empty.  Producers and consumers may be any mix of
 * tasks (on any worker) and plain threads; inside a task a suspending call
 * parks only the task, from a plain thread it blocks the thread.
 *
 * Guarantees:
 *   - exactly once: every item put is got by exactly one getter;
 *   - items from one producer come out in the order it put them;
 *   - a put that returns an error left no item, a get that returns an
 *     error took none;
 *   - closed wins: after bcl_queue_close, puts fail with -EPIPE even if
 *     there is room; gets return what is left, then -EPIPE;
 *   - while the queue is neither empty nor full, put and get take no lock
 *     and make no system call;
 *   - blocked getters (and blocked putters) are woken in the order they
 *     started waiting, one per item (one per freed slot); a woken caller
 *     that finds the item taken by a caller that never had to wait keeps
 *     its place at the front.
 * Items are `void *`; NULL is a valid item.
 *
 * Timeouts and cancellation: every suspending call has a `_timeout` form
 * (a relative duration; 0 means "do not wait" and gives -EAGAIN like the
 * try_ forms; BCL_FOREVER waits forever) returning -ETIMEDOUT, and returns
 * -ECANCELED once the calling task is cancelled (bcl_cancel) -- at once if
 * it is waiting, and then whenever it would have to wait again.  A call
 * that can complete without waiting completes, as in asyncio, where
 * cancellation strikes at the next suspension.  Either way nothing
 * changed: a timed-out or cancelled get took no item, a put left none.
 * A get that took an item returns 0 even if its timeout or a cancel came
 * at the same moment; a waiter woken for an item and then cancelled
 * passes the wake-up on to the next waiter.
 */
#ifndef BOUCLE_QUEUE_H
#define BOUCLE_QUEUE_H

#include <boucle/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bcl_queue bcl_queue;

/* The largest bounded capacity bcl_queue_new accepts (2^40; boucle
 * needs a 64-bit target, its context switch exists for x86-64 and
 * AArch64 only). */
#define BCL_QUEUE_MAX_CAPACITY ((size_t)1 << 40)

/*
 * bcl_queue_new - create a queue holding at most `capacity` items, or an
 * unbounded one for capacity 0 (it grows by 4 KiB segments and returns
 * them as they drain).  A bounded queue allocates its ring at once.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (out is NULL, capacity > BCL_QUEUE_MAX_CAPACITY);
 * -ENOMEM.
 */
BCL_EXPORT int bcl_queue_new(bcl_queue **out, size_t capacity);

/*
 * bcl_queue_free - free the queue.  Items still inside are not touched
 * (use bcl_queue_close_now to hand them to a callback first).
 * Context: any, once no other thread or task uses the queue.
 * Returns: 0; -EINVAL (NULL); -EBUSY while a task or thread waits on it
 * (nothing is freed).
 */
BCL_EXPORT int bcl_queue_free(bcl_queue *q);

/*
 * bcl_queue_put - append an item, suspending while the queue is full.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL queue); -EPIPE (closed, before or while
 * waiting); -ENOMEM (unbounded queue, no memory for a segment);
 * -ECANCELED; -EPERM (would wait, from a timer callback).
 */
BCL_EXPORT int bcl_queue_put(bcl_queue *q, void *item);

/*
 * bcl_queue_get - take the oldest item, suspending while the queue is
 * empty.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL queue or item); -EPIPE (closed and empty);
 * -ECANCELED; -EPERM (would wait, from a timer callback).
 */
BCL_EXPORT int bcl_queue_get(bcl_queue *q, void **item);

/*
 * bcl_queue_try_put / bcl_queue_try_get - the same without suspending.
 * Context: any.  Suspends: no.
 * Returns: as above, and -EAGAIN when the queue is full (try_put) or holds
 * no item at all (try_get).
 */
BCL_EXPORT int bcl_queue_try_put(bcl_queue *q, void *item);
BCL_EXPORT int bcl_queue_try_get(bcl_queue *q, void **item);

/*
 * bcl_queue_put_timeout / bcl_queue_get_timeout - put or get, waiting at
 * most ns nanoseconds.
 * Context: task or thread.  Suspends: yes (not for ns == 0).
 * Returns: as put/get; -ETIMEDOUT (nothing moved); -EAGAIN for ns == 0;
 * -ECANCELED; -EPERM from a timer callback (for any ns but 0).
 */
BCL_EXPORT int bcl_queue_put_timeout(bcl_queue *q, void *item, uint64_t ns);
BCL_EXPORT int bcl_queue_get_timeout(bcl_queue *q, void **item, uint64_t ns);

/*
 * bcl_queue_put_many / bcl_queue_get_many - move a batch: suspend until at
 * least one item can move, then move as many of the n as possible without
 * suspending again, claiming several slots per synchronization round.
 * *moved says how many moved (also on error: 0).  Items keep their order.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0 (*moved >= 1); -EINVAL (NULL argument, n == 0); -EPIPE
 * (closed: put, or get with nothing left); -ENOMEM (put, unbounded).
 */
BCL_EXPORT int bcl_queue_put_many(bcl_queue *q, void *const *items, size_t n,
                                  size_t *moved);
BCL_EXPORT int bcl_queue_get_many(bcl_queue *q, void **items, size_t n,
                                  size_t *moved);

/* The batch forms with a timeout (as bcl_queue_put_timeout). */
BCL_EXPORT int bcl_queue_put_many_timeout(bcl_queue *q, void *const *items,
                                          size_t n, size_t *moved,
                                          uint64_t ns);
BCL_EXPORT int bcl_queue_get_many_timeout(bcl_queue *q, void **items,
                                          size_t n, size_t *moved,
                                          uint64_t ns);

/*
 * bcl_queue_close - asyncio's shutdown(): later puts return -EPIPE, gets
 * return the items left and then -EPIPE; every waiter (getters, putters)
 * is woken to see it.  Closing twice is not an error.
 * Context: any.  Suspends: no.  Returns: 0; -EINVAL (NULL).
 */
BCL_EXPORT int bcl_queue_close(bcl_queue *q);

/*
 * bcl_queue_close_now - asyncio's shutdown(immediate=True): close, then
 * remove every item left, pass each to drop(item, arg) (drop may be NULL)
 * and count it as task_done, so bcl_queue_join returns.  Items a racing
 * getter takes first are its own, not dropped.
 * Context: any.  Suspends: no.  Returns: 0; -EINVAL (NULL queue).
 */
BCL_EXPORT int bcl_queue_close_now(bcl_queue *q,
                                   void (*drop)(void *item, void *arg),
                                   void *arg);

/* True once bcl_queue_close or close_now was called (false for NULL). */
BCL_EXPORT bool bcl_queue_is_closed(const bcl_queue *q);

/*
 * bcl_queue_task_done - asyncio's task_done(): one item got earlier is
 * fully processed.
 * Context: any.  Suspends: no.
 * Returns: 0; -EINVAL (NULL, or more task_done calls than items put).
 */
BCL_EXPORT int bcl_queue_task_done(bcl_queue *q);

/*
 * bcl_queue_join - suspend until every item put so far is task_done
 * (asyncio's join()); returns at once if that is already the case.
 * Context: task or thread.  Suspends: yes.
 * Returns: 0; -EINVAL (NULL); -ECANCELED; -EPERM (from a timer callback).
 */
BCL_EXPORT int bcl_queue_join(bcl_queue *q);

/* Items in the queue at some instant during the call (0 for NULL). */
BCL_EXPORT size_t bcl_queue_size(const bcl_queue *q);
/* The capacity given to bcl_queue_new (0: unbounded; 0 for NULL). */
BCL_EXPORT size_t bcl_queue_capacity(const bcl_queue *q);

#ifdef __cplusplus
}
#endif
#endif /* BOUCLE_QUEUE_H */
