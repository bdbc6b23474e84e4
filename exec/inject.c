/*
 * exec/inject.c - injection queue on liburcu's wfcqueue (see inject.h).
 */
#include "inject.h"

#include "task.h"

#if BCL__TSAN
#include <sanitizer/tsan_interface.h>
#endif

void
bcl__inject_init(struct bcl__inject *q)
{
    __cds_wfcq_init(&q->head, &q->tail);
    pthread_mutex_init(&q->lock, NULL);
}

void
bcl__inject_destroy(struct bcl__inject *q)
{
    pthread_mutex_destroy(&q->lock);
}

bool
bcl__inject_push(struct bcl__inject *q, struct bcl_task *t)
{
    cds_wfcq_node_init(&t->inject_node);
#if BCL__TSAN
    /* The enqueue's xchg is inline asm: tell TSan it releases t. */
    __tsan_release(t);
#endif
    /* cds_wfcq_enqueue: full barrier (xchg on the tail) before linking;
     * publishes t's fields to the dequeuer.  Returns false if the queue
     * was empty. */
    return !cds_wfcq_enqueue(&q->head, &q->tail, &t->inject_node);
}

struct bcl_task *
bcl__inject_pop(struct bcl__inject *q)
{
    struct cds_wfcq_node *node;
    struct bcl_task *t;

    if (cds_wfcq_empty(&q->head, &q->tail))
        return NULL;
    if (pthread_mutex_trylock(&q->lock) != 0)
        return NULL;
    node = __cds_wfcq_dequeue_nonblocking(&q->head, &q->tail);
    pthread_mutex_unlock(&q->lock);
    if (node == NULL || node == CDS_WFCQ_WOULDBLOCK)
        return NULL;
    t = bcl__container_of(node, struct bcl_task, inject_node);
#if BCL__TSAN
    /* Pairs with __tsan_release in bcl__inject_push(). */
    __tsan_acquire(t);
#endif
    return t;
}

bool
bcl__inject_empty(struct bcl__inject *q)
{
    /* cds_wfcq_empty: plain loads of head.next and tail; callers that need
     * ordering against their own stores fence first (park.c). */
    return cds_wfcq_empty(&q->head, &q->tail);
}
