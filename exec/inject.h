/*
 * exec/inject.h - the injection queue: tasks entering a loop from outside
 * its workers (plain threads, other loops, bcl_run_*, loop start-up).
 *
 * Built on liburcu's wait-free concurrent queue (wfcqueue): enqueue is
 * wait-free from any thread; dequeue is serialized by a mutex that workers
 * only *try* to take (one worker draining at a time is enough), and uses
 * the non-blocking dequeue, which returns instead of sleeping when an
 * enqueuer is between its two steps (liburcu's blocking dequeue would poll
 * for 10 ms there).  FIFO for each producer.
 *
 * liburcu 0.13's atomics are inline assembly that ThreadSanitizer cannot
 * see; inject.c adds explicit __tsan_release/__tsan_acquire on each task
 * so TSan still sees the hand-off.  urcu stays inside inject.c.
 *
 * Context: push: any thread.  pop / empty: any thread (workers).
 */
#ifndef BCL_EXEC_INJECT_H
#define BCL_EXEC_INJECT_H

#include <pthread.h>
#include <stdbool.h>
#include <urcu/wfcqueue.h>

#include "base.h"

struct bcl_task;

struct bcl__inject {
    BCL__ALIGNED_CACHELINE struct __cds_wfcq_head head; /* dequeuers, under lock */
    BCL__ALIGNED_CACHELINE struct cds_wfcq_tail tail;   /* enqueuers, wait-free */
    pthread_mutex_t lock;                               /* serializes dequeue */
};

void bcl__inject_init(struct bcl__inject *q);
void bcl__inject_destroy(struct bcl__inject *q);

/* Append t; returns true if the queue was empty before (a wake hint). */
bool bcl__inject_push(struct bcl__inject *q, struct bcl_task *t);

/* Take the oldest task, or NULL if empty, busy (another dequeuer) or an
 * enqueue is half done.  A NULL for the last two reasons is not lost:
 * bcl__inject_empty() stays false, so a parking worker's re-check (park.h,
 * P4) sends it searching again. */
struct bcl_task *bcl__inject_pop(struct bcl__inject *q);

/* Whether the queue looked empty. */
bool bcl__inject_empty(struct bcl__inject *q);

#endif /* BCL_EXEC_INJECT_H */
