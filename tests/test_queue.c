/*
 * tests/test_queue.c - bcl_queue's semantics one by one, with asyncio's
 * Queue (CPython Lib/test/test_asyncio/test_queues.py) as the reference:
 * empty/full/size, try_* on full/empty, FIFO, capacity 1, blocking and
 * resuming, waiters served in order, task_done/join, close and close_now
 * with waiters on both sides, NULL items, batches, bad input.
 *
 * A test that needs "the caller is now blocked" waits for that exact
 * condition (the queue's own waiter count), never for a time.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "sync/queue_debug.h"
#include "tests/test.h"

#define ITEM(i) ((void *)(uintptr_t)(i))

static void
wait_waiting(const bcl_queue *q, enum bcl__queue_side side, size_t n)
{
    while (bcl__queue_waiting(q, side) != n)
        sched_yield();
}

/* --- single-threaded semantics ---------------------------------------- */

int
test_queue_empty_full_size(void)
{
    bcl_queue *q;
    void *item = ITEM(99);

    CHECK_EQ(bcl_queue_new(&q, 3), 0);
    CHECK_EQ(bcl_queue_capacity(q), 3);
    CHECK_EQ(bcl_queue_size(q), 0);
    CHECK_EQ(bcl_queue_try_get(q, &item), -EAGAIN);
    CHECK_PTR_EQ(item, ITEM(99)); /* a failed get took nothing */
    for (uintptr_t i = 1; i <= 3; i++) {
        CHECK_EQ(bcl_queue_try_put(q, ITEM(i)), 0);
        CHECK_EQ(bcl_queue_size(q), i);
    }
    CHECK_EQ(bcl_queue_try_put(q, ITEM(4)), -EAGAIN);
    CHECK_EQ(bcl_queue_size(q), 3);
    for (uintptr_t i = 1; i <= 3; i++) {
        CHECK_EQ(bcl_queue_try_get(q, &item), 0);
        CHECK_PTR_EQ(item, ITEM(i));
    }
    CHECK_EQ(bcl_queue_size(q), 0);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* FIFO over many laps of a small ring, and across segments (capacity 0). */
static int
fifo_laps(size_t capacity, size_t batch, size_t total)
{
    bcl_queue *q;
    uintptr_t next_put = 0, next_get = 0;

    CHECK_EQ(bcl_queue_new(&q, capacity), 0);
    while (next_get < total) {
        for (size_t i = 0; i < batch && next_put < total; i++)
            CHECK_EQ(bcl_queue_put(q, ITEM(next_put++)), 0);
        while (next_get < next_put) {
            void *item;

            CHECK_EQ(bcl_queue_get(q, &item), 0);
            CHECK_PTR_EQ(item, ITEM(next_get));
            next_get++;
        }
    }
    CHECK_EQ(bcl_queue_size(q), 0);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

int
test_queue_fifo_order(void)
{
    static const size_t capacities[] = { 1, 2, 3, 7, 64, 1000 };

    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++)
        CHECK_EQ(fifo_laps(capacities[c], capacities[c], 10000), 0);
    CHECK_EQ(fifo_laps(0, 1, 10000), 0);
    CHECK_EQ(fifo_laps(0, 1000, 10000), 0); /* many segments in flight */
    return 0;
}

int
test_queue_unbounded_1m(void)
{
    enum { N = 1000000 };
    bcl_queue *q;

    CHECK_EQ(bcl_queue_new(&q, 0), 0);
    for (uintptr_t i = 0; i < N; i++)
        CHECK_EQ(bcl_queue_put(q, ITEM(i)), 0);
    CHECK_EQ(bcl_queue_size(q), N);
    for (uintptr_t i = 0; i < N; i++) {
        void *item;

        CHECK_EQ(bcl_queue_get(q, &item), 0);
        CHECK_PTR_EQ(item, ITEM(i));
    }
    CHECK_EQ(bcl_queue_size(q), 0);
    CHECK_EQ(bcl_queue_try_get(q, &(void *){ NULL }), -EAGAIN);
    CHECK_EQ(bcl_queue_free(q), 0); /* LSan: every drained segment freed */
    return 0;
}

int
test_queue_null_items(void)
{
    static const size_t capacities[] = { 1, 0 };

    for (size_t c = 0; c < 2; c++) {
        bcl_queue *q;
        void *item = ITEM(1);

        CHECK_EQ(bcl_queue_new(&q, capacities[c]), 0);
        CHECK_EQ(bcl_queue_put(q, NULL), 0);
        CHECK_EQ(bcl_queue_size(q), 1);
        CHECK_EQ(bcl_queue_get(q, &item), 0);
        CHECK_PTR_EQ(item, NULL);
        CHECK_EQ(bcl_queue_free(q), 0);
    }
    return 0;
}

int
test_queue_many_semantics(void)
{
    void *in[10], *out[10];
    bcl_queue *q;
    size_t moved;

    for (uintptr_t i = 0; i < 10; i++)
        in[i] = ITEM(i + 1);
    /* A batch put moves what fits; a batch get takes what is there. */
    CHECK_EQ(bcl_queue_new(&q, 4), 0);
    CHECK_EQ(bcl_queue_put_many(q, in, 10, &moved), 0);
    CHECK_EQ(moved, 4);
    CHECK_EQ(bcl_queue_get_many(q, out, 10, &moved), 0);
    CHECK_EQ(moved, 4);
    for (size_t i = 0; i < 4; i++)
        CHECK_PTR_EQ(out[i], in[i]);
    /* Wrap-around: batches across the end of the ring keep order. */
    CHECK_EQ(bcl_queue_put_many(q, in, 3, &moved), 0);
    CHECK_EQ(bcl_queue_get_many(q, out, 2, &moved), 0);
    CHECK_EQ(bcl_queue_put_many(q, in + 3, 3, &moved), 0);
    CHECK_EQ(moved, 3);
    CHECK_EQ(bcl_queue_get_many(q, out + 2, 8, &moved), 0);
    CHECK_EQ(moved, 4);
    for (size_t i = 0; i < 6; i++)
        CHECK_PTR_EQ(out[i], in[i]);
    CHECK_EQ(bcl_queue_free(q), 0);
    /* Unbounded: everything fits; a batch across a segment boundary. */
    CHECK_EQ(bcl_queue_new(&q, 0), 0);
    for (uintptr_t i = 0; i < 250; i++)
        CHECK_EQ(bcl_queue_put(q, ITEM(i)), 0);
    CHECK_EQ(bcl_queue_put_many(q, in, 10, &moved), 0);
    CHECK_EQ(moved, 10);
    for (uintptr_t i = 0; i < 250; i++)
        CHECK_EQ(bcl_queue_get(q, &out[0]), 0);
    CHECK_EQ(bcl_queue_get_many(q, out, 10, &moved), 0);
    CHECK_EQ(moved, 10);
    for (size_t i = 0; i < 10; i++)
        CHECK_PTR_EQ(out[i], in[i]);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* A batch after many laps of single items: the index each side's batches
 * last saw of the other (ring.h) is laps behind, and must show neither
 * room on a full ring nor items on an empty one. */
int
test_queue_batch_after_single_laps(void)
{
    void *in[4] = { ITEM(1), ITEM(2), ITEM(3), ITEM(4) }, *out[4];
    bcl_queue *q;
    size_t moved;
    void *item;

    CHECK_EQ(bcl_queue_new(&q, 4), 0);
    /* Batches once, so both sides have seen an index. */
    CHECK_EQ(bcl_queue_put_many(q, in, 2, &moved), 0);
    CHECK_EQ(bcl_queue_get_many(q, out, 2, &moved), 0);
    for (uintptr_t i = 0; i < 4 * 25; i++) {
        CHECK_EQ(bcl_queue_try_put(q, ITEM(i)), 0);
        CHECK_EQ(bcl_queue_try_get(q, &item), 0);
        CHECK_PTR_EQ(item, ITEM(i));
    }
    /* Empty: a batch get takes nothing. */
    CHECK_EQ(bcl_queue_get_many_timeout(q, out, 2, &moved, 0), -EAGAIN);
    CHECK_EQ(moved, 0);
    for (uintptr_t i = 0; i < 4; i++)
        CHECK_EQ(bcl_queue_try_put(q, ITEM(100 + i)), 0);
    /* Full: a batch put moves nothing. */
    CHECK_EQ(bcl_queue_put_many_timeout(q, in, 2, &moved, 0), -EAGAIN);
    CHECK_EQ(moved, 0);
    CHECK_EQ(bcl_queue_size(q), 4);
    CHECK_EQ(bcl_queue_get_many(q, out, 4, &moved), 0);
    CHECK_EQ(moved, 4);
    for (uintptr_t i = 0; i < 4; i++)
        CHECK_PTR_EQ(out[i], ITEM(100 + i));
    /* One free slot: a batch of two moves one. */
    for (uintptr_t i = 0; i < 3; i++)
        CHECK_EQ(bcl_queue_try_put(q, ITEM(200 + i)), 0);
    CHECK_EQ(bcl_queue_put_many_timeout(q, in, 2, &moved, 0), 0);
    CHECK_EQ(moved, 1);
    CHECK_EQ(bcl_queue_get_many(q, out, 4, &moved), 0);
    CHECK_EQ(moved, 4);
    for (uintptr_t i = 0; i < 3; i++)
        CHECK_PTR_EQ(out[i], ITEM(200 + i));
    CHECK_PTR_EQ(out[3], in[0]);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* --- batches at every start index ------------------------------------- */

/* A batch walks its claimed slots in runs: to the end of the array, then
 * from index 0 of the next lap (ring.c).  For rings of odd and even
 * capacities, from every start index: batches that end before, exactly
 * at and past the end of the array, and full ones; each taken out in
 * three pieces (a batch, a single get, a batch), in FIFO order. */
#define WRAP_MAX_CAPACITY 1025

static uintptr_t wrap_in, wrap_out; /* next item to put, to get */

/* One put and one get at a time until the ring starts at index `at`. */
static int
wrap_seek(bcl_queue *q, size_t capacity, size_t at)
{
    while ((wrap_in - 1) % capacity != at) {
        void *item;

        CHECK_EQ(bcl_queue_put(q, ITEM(wrap_in++)), 0);
        CHECK_EQ(bcl_queue_get(q, &item), 0);
        CHECK_PTR_EQ(item, ITEM(wrap_out++));
    }
    return 0;
}

static int
wrap_batch(bcl_queue *q, size_t capacity, size_t k)
{
    static void *in[WRAP_MAX_CAPACITY], *out[WRAP_MAX_CAPACITY];
    size_t moved, half = k / 2;

    for (size_t i = 0; i < k; i++)
        in[i] = ITEM(wrap_in + i);
    CHECK_EQ(bcl_queue_put_many(q, in, k, &moved), 0);
    CHECK_EQ(moved, k);
    wrap_in += k;
    CHECK_EQ(bcl_queue_size(q), k);
    if (k == capacity)
        CHECK_EQ(bcl_queue_try_put(q, ITEM(0)), -EAGAIN);
    if (half > 0) {
        CHECK_EQ(bcl_queue_get_many(q, out, half, &moved), 0);
        CHECK_EQ(moved, half);
    }
    CHECK_EQ(bcl_queue_get(q, &out[half]), 0);
    if (half + 1 < k) {
        CHECK_EQ(bcl_queue_get_many(q, out + half + 1, k, &moved), 0);
        CHECK_EQ(moved, k - half - 1);
    }
    for (size_t i = 0; i < k; i++)
        CHECK_PTR_EQ(out[i], ITEM(wrap_out + i));
    wrap_out += k;
    CHECK_EQ(bcl_queue_try_get(q, &out[0]), -EAGAIN);
    return 0;
}

int
test_queue_batch_wraps_any_capacity(void)
{
    static const size_t capacities[] = { 1,  2,  3,    5,    7,   63,
                                         64, 65, 1000, 1023, 1025 };

    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        size_t cap = capacities[c];
        bcl_queue *q;

        CHECK_EQ(bcl_queue_new(&q, cap), 0);
        wrap_in = wrap_out = 1;
        for (size_t at = 0; at < cap; at++) {
            /* Small rings: every batch size.  Large ones: the sizes
             * around the end of the array, and the extremes. */
            size_t sizes[] = { 1, cap, cap - at, cap - at + 1, cap - at - 1 };
            size_t nsizes = sizeof sizes / sizeof sizes[0];

            for (size_t s = 0; s < (cap <= 65 ? cap : nsizes); s++) {
                size_t k = cap <= 65 ? s + 1 : sizes[s];

                if (k == 0 || k > cap)
                    continue;
                CHECK_EQ(wrap_seek(q, cap, at), 0);
                CHECK_EQ(wrap_batch(q, cap, k), 0);
            }
        }
        CHECK_EQ(bcl_queue_free(q), 0);
    }
    return 0;
}

int
test_queue_bad_input(void)
{
    bcl_queue *q;
    void *item, *items[2] = { NULL, NULL };
    size_t moved = 7;

    CHECK_EQ(bcl_queue_new(NULL, 1), -EINVAL);
    CHECK_EQ(bcl_queue_new(&q, BCL_QUEUE_MAX_CAPACITY + 1), -EINVAL);
    CHECK_EQ(bcl_queue_new(&q, SIZE_MAX), -EINVAL);
    CHECK_EQ(bcl_queue_free(NULL), -EINVAL);
    CHECK_EQ(bcl_queue_put(NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_get(NULL, &item), -EINVAL);
    CHECK_EQ(bcl_queue_try_put(NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_try_get(NULL, &item), -EINVAL);
    CHECK_EQ(bcl_queue_put_many(NULL, items, 2, &moved), -EINVAL);
    CHECK_EQ(moved, 0);
    CHECK_EQ(bcl_queue_get_many(NULL, items, 2, &moved), -EINVAL);
    CHECK_EQ(bcl_queue_close(NULL), -EINVAL);
    CHECK_EQ(bcl_queue_close_now(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_task_done(NULL), -EINVAL);
    CHECK_EQ(bcl_queue_join(NULL), -EINVAL);
    CHECK(!bcl_queue_is_closed(NULL));
    CHECK_EQ(bcl_queue_size(NULL), 0);
    CHECK_EQ(bcl_queue_capacity(NULL), 0);

    CHECK_EQ(bcl_queue_new(&q, 2), 0);
    CHECK_EQ(bcl_queue_get(q, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_try_get(q, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_put_many(q, NULL, 2, &moved), -EINVAL);
    CHECK_EQ(bcl_queue_put_many(q, items, 0, &moved), -EINVAL);
    CHECK_EQ(bcl_queue_put_many(q, items, 2, NULL), -EINVAL);
    CHECK_EQ(bcl_queue_get_many(q, items, 0, &moved), -EINVAL);
    CHECK_EQ(bcl_queue_get_many(q, NULL, 2, &moved), -EINVAL);
    CHECK_EQ(bcl_queue_size(q), 0); /* nothing moved by the bad calls */
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* --- blocking, from plain threads and from tasks ---------------------- */

struct blocked_call {
    bcl_queue *q;
    void *item;
    int rc;
    atomic_int returned;
};

static void *
thread_put(void *arg)
{
    struct blocked_call *c = arg;

    c->rc = bcl_queue_put(c->q, c->item);
    atomic_store(&c->returned, 1);
    return NULL;
}

static void *
thread_get(void *arg)
{
    struct blocked_call *c = arg;

    c->rc = bcl_queue_get(c->q, &c->item);
    atomic_store(&c->returned, 1);
    return NULL;
}

int
test_queue_put_blocks_at_capacity(void)
{
    struct blocked_call call = { .item = ITEM(2) };
    pthread_t putter;
    void *item;

    CHECK_EQ(bcl_queue_new(&call.q, 1), 0);
    CHECK_EQ(bcl_queue_put(call.q, ITEM(1)), 0);
    CHECK_EQ(pthread_create(&putter, NULL, thread_put, &call), 0);
    wait_waiting(call.q, BCL__QUEUE_PUTTERS, 1);
    CHECK_EQ(atomic_load(&call.returned), 0); /* blocked while full */
    CHECK_EQ(bcl_queue_size(call.q), 1);
    CHECK_EQ(bcl_queue_get(call.q, &item), 0); /* makes room */
    CHECK_PTR_EQ(item, ITEM(1));
    CHECK_EQ(pthread_join(putter, NULL), 0);
    CHECK_EQ(call.rc, 0);
    CHECK_EQ(bcl_queue_get(call.q, &item), 0);
    CHECK_PTR_EQ(item, ITEM(2));
    CHECK_EQ(bcl_queue_free(call.q), 0);
    return 0;
}

int
test_queue_getters_served_in_order(void)
{
    enum { NGETTERS = 4 };
    struct blocked_call calls[NGETTERS] = { 0 };
    pthread_t getters[NGETTERS];
    bcl_queue *q;

    CHECK_EQ(bcl_queue_new(&q, 8), 0);
    for (size_t i = 0; i < NGETTERS; i++) {
        calls[i].q = q;
        CHECK_EQ(pthread_create(&getters[i], NULL, thread_get, &calls[i]), 0);
        wait_waiting(q, BCL__QUEUE_GETTERS, i + 1); /* i waits before i+1 */
    }
    CHECK_EQ(bcl_queue_free(q), -EBUSY); /* waited on: nothing freed */
    for (uintptr_t i = 0; i < NGETTERS; i++) {
        CHECK_EQ(bcl_queue_put(q, ITEM(100 + i)), 0);
        CHECK_EQ(pthread_join(getters[i], NULL), 0); /* the oldest waiter */
        CHECK_EQ(calls[i].rc, 0);
        CHECK_PTR_EQ(calls[i].item, ITEM(100 + i));
    }
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* Capacity 1 between a producer task and a consumer task: every put
 * blocks until the consumer took the previous item. */
struct pingpong {
    bcl_queue *q;
    atomic_int failed;
};

#define PINGPONG_N 20000

static void *
producer_task(void *arg)
{
    struct pingpong *p = arg;

    for (uintptr_t i = 0; i < PINGPONG_N; i++)
        TASK_CHECK(&p->failed, bcl_queue_put(p->q, ITEM(i)) == 0);
    return NULL;
}

static void *
consumer_task(void *arg)
{
    struct pingpong *p = arg;

    for (uintptr_t i = 0; i < PINGPONG_N; i++) {
        void *item = NULL;

        TASK_CHECK(&p->failed, bcl_queue_get(p->q, &item) == 0);
        TASK_CHECK(&p->failed, item == ITEM(i));
    }
    return NULL;
}

static void *
pingpong_main(void *arg)
{
    bcl_task *prod, *cons;

    /* Consumer first: it blocks on the empty queue straight away. */
    if (bcl_spawn(&cons, consumer_task, arg) != 0 ||
        bcl_spawn(&prod, producer_task, arg) != 0)
        return ITEM(1);
    bcl_join(prod, NULL);
    bcl_join(cons, NULL);
    return NULL;
}

int
test_queue_capacity_one_tasks(void)
{
    static const unsigned workers[] = { 1, 2 };

    for (size_t w = 0; w < 2; w++) {
        struct pingpong p = { 0 };
        void *r = ITEM(1);

        CHECK_EQ(bcl_queue_new(&p.q, 1), 0);
        CHECK_EQ(test_run_main(workers[w], pingpong_main, &p, &r), 0);
        CHECK_PTR_EQ(r, NULL);
        CHECK_EQ(atomic_load(&p.failed), 0);
        CHECK_EQ(bcl_queue_size(p.q), 0);
        CHECK_EQ(bcl_queue_free(p.q), 0);
    }
    return 0;
}

/* --- task_done / join -------------------------------------------------- */

struct joiner {
    bcl_queue *q;
    int rc;
    atomic_int returned;
};

static void *
thread_join(void *arg)
{
    struct joiner *j = arg;

    j->rc = bcl_queue_join(j->q);
    atomic_store(&j->returned, 1);
    return NULL;
}

int
test_queue_task_done_join(void)
{
    struct joiner j = { 0 };
    pthread_t joiner;
    void *item;

    CHECK_EQ(bcl_queue_new(&j.q, 0), 0);
    CHECK_EQ(bcl_queue_join(j.q), 0);            /* nothing put: at once */
    CHECK_EQ(bcl_queue_task_done(j.q), -EINVAL); /* nothing to be done */
    for (uintptr_t i = 0; i < 3; i++)
        CHECK_EQ(bcl_queue_put(j.q, ITEM(i)), 0);
    CHECK_EQ(pthread_create(&joiner, NULL, thread_join, &j), 0);
    wait_waiting(j.q, BCL__QUEUE_JOINERS, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(bcl_queue_get(j.q, &item), 0);
        CHECK_EQ(atomic_load(&j.returned), 0); /* 3 - i still pending */
        CHECK_EQ(bcl_queue_task_done(j.q), 0);
    }
    CHECK_EQ(pthread_join(joiner, NULL), 0);
    CHECK_EQ(j.rc, 0);
    CHECK_EQ(bcl_queue_task_done(j.q), -EINVAL); /* once too often */
    CHECK_EQ(bcl_queue_join(j.q), 0);
    CHECK_EQ(bcl_queue_free(j.q), 0);
    return 0;
}

/* A put that finds a getter waiting hands the item over without the
 * ring: it still counts as put for task_done and join, exactly once. */
int
test_queue_hand_off_counts_for_join(void)
{
    static const size_t capacities[] = { 4, 0 };

    for (size_t c = 0; c < 2; c++) {
        struct blocked_call call = { 0 };
        struct joiner j = { 0 };
        pthread_t getter, joiner;

        CHECK_EQ(bcl_queue_new(&call.q, capacities[c]), 0);
        j.q = call.q;
        CHECK_EQ(pthread_create(&getter, NULL, thread_get, &call), 0);
        wait_waiting(call.q, BCL__QUEUE_GETTERS, 1);
        CHECK_EQ(bcl_queue_put(call.q, ITEM(7)), 0); /* handed off */
        CHECK_EQ(pthread_join(getter, NULL), 0);
        CHECK_EQ(call.rc, 0);
        CHECK_PTR_EQ(call.item, ITEM(7));
        CHECK_EQ(bcl_queue_size(call.q), 0);
        CHECK_EQ(pthread_create(&joiner, NULL, thread_join, &j), 0);
        wait_waiting(call.q, BCL__QUEUE_JOINERS, 1); /* one item pending */
        CHECK_EQ(atomic_load(&j.returned), 0);
        CHECK_EQ(bcl_queue_task_done(call.q), 0);
        CHECK_EQ(pthread_join(joiner, NULL), 0);
        CHECK_EQ(j.rc, 0);
        CHECK_EQ(bcl_queue_task_done(call.q), -EINVAL); /* once too often */
        CHECK_EQ(bcl_queue_free(call.q), 0);
    }
    return 0;
}

/* --- close and close_now ----------------------------------------------- */

int
test_queue_close_wakes_getters(void)
{
    enum { NGETTERS = 3 };
    struct blocked_call calls[NGETTERS] = { 0 };
    pthread_t getters[NGETTERS];
    bcl_queue *q;

    CHECK_EQ(bcl_queue_new(&q, 4), 0);
    for (size_t i = 0; i < NGETTERS; i++) {
        calls[i].q = q;
        calls[i].item = ITEM(7);
        CHECK_EQ(pthread_create(&getters[i], NULL, thread_get, &calls[i]), 0);
    }
    wait_waiting(q, BCL__QUEUE_GETTERS, NGETTERS);
    CHECK(!bcl_queue_is_closed(q));
    CHECK_EQ(bcl_queue_close(q), 0);
    CHECK(bcl_queue_is_closed(q));
    for (size_t i = 0; i < NGETTERS; i++) {
        CHECK_EQ(pthread_join(getters[i], NULL), 0);
        CHECK_EQ(calls[i].rc, -EPIPE);
        CHECK_PTR_EQ(calls[i].item, ITEM(7)); /* took nothing */
    }
    CHECK_EQ(bcl_queue_close(q), 0); /* twice is fine */
    CHECK_EQ(bcl_queue_put(q, ITEM(1)), -EPIPE); /* closed wins over room */
    CHECK_EQ(bcl_queue_try_put(q, ITEM(1)), -EPIPE);
    CHECK_EQ(bcl_queue_size(q), 0);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

int
test_queue_close_wakes_putters_getters_drain(void)
{
    enum { NPUTTERS = 3 };
    struct blocked_call calls[NPUTTERS] = { 0 };
    pthread_t putters[NPUTTERS];
    bcl_queue *q;
    void *item;
    size_t moved;

    CHECK_EQ(bcl_queue_new(&q, 2), 0);
    CHECK_EQ(bcl_queue_put(q, ITEM(1)), 0);
    CHECK_EQ(bcl_queue_put(q, ITEM(2)), 0);
    for (size_t i = 0; i < NPUTTERS; i++) {
        calls[i].q = q;
        calls[i].item = ITEM(10 + i);
        CHECK_EQ(pthread_create(&putters[i], NULL, thread_put, &calls[i]), 0);
    }
    wait_waiting(q, BCL__QUEUE_PUTTERS, NPUTTERS);
    CHECK_EQ(bcl_queue_close(q), 0);
    for (size_t i = 0; i < NPUTTERS; i++) {
        CHECK_EQ(pthread_join(putters[i], NULL), 0);
        CHECK_EQ(calls[i].rc, -EPIPE); /* left no item */
    }
    /* Gets drain what was put before the close, then -EPIPE. */
    CHECK_EQ(bcl_queue_size(q), 2);
    CHECK_EQ(bcl_queue_get(q, &item), 0);
    CHECK_PTR_EQ(item, ITEM(1));
    CHECK_EQ(bcl_queue_get_many(q, &item, 1, &moved), 0);
    CHECK_PTR_EQ(item, ITEM(2));
    CHECK_EQ(bcl_queue_get(q, &item), -EPIPE);
    CHECK_EQ(bcl_queue_try_get(q, &item), -EPIPE); /* not -EAGAIN */
    CHECK_EQ(bcl_queue_get_many(q, &item, 1, &moved), -EPIPE);
    CHECK_EQ(moved, 0);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

struct dropped {
    size_t count;
    uintptr_t sum;
};

static void
drop_item(void *item, void *arg)
{
    struct dropped *d = arg;

    d->count++;
    d->sum += (uintptr_t)item;
}

int
test_queue_close_now(void)
{
    static const size_t capacities[] = { 1000, 0 };

    for (size_t c = 0; c < 2; c++) {
        struct dropped d = { 0 };
        struct joiner j = { 0 };
        pthread_t joiner;
        void *item;

        CHECK_EQ(bcl_queue_new(&j.q, capacities[c]), 0);
        for (uintptr_t i = 1; i <= 600; i++)
            CHECK_EQ(bcl_queue_put(j.q, ITEM(i)), 0);
        CHECK_EQ(bcl_queue_get(j.q, &item), 0); /* 1: got, not done yet */
        CHECK_EQ(pthread_create(&joiner, NULL, thread_join, &j), 0);
        wait_waiting(j.q, BCL__QUEUE_JOINERS, 1);
        CHECK_EQ(bcl_queue_close_now(j.q, drop_item, &d), 0);
        CHECK_EQ(d.count, 599);
        CHECK_EQ(d.sum, 600 * 601 / 2 - 1);
        CHECK_EQ(bcl_queue_size(j.q), 0);
        CHECK_EQ(bcl_queue_put(j.q, ITEM(1)), -EPIPE);
        CHECK_EQ(bcl_queue_get(j.q, &item), -EPIPE);
        CHECK_EQ(atomic_load(&j.returned), 0); /* item 1 not done yet */
        CHECK_EQ(bcl_queue_task_done(j.q), 0);
        CHECK_EQ(pthread_join(joiner, NULL), 0);
        CHECK_EQ(j.rc, 0);
        CHECK_EQ(bcl_queue_task_done(j.q), -EINVAL);
        CHECK_EQ(bcl_queue_close_now(j.q, NULL, NULL), 0); /* again: fine */
        CHECK_EQ(bcl_queue_free(j.q), 0);
    }
    return 0;
}

/* Close while tasks (not threads) wait on both sides of two queues. */
struct close_tasks {
    bcl_queue *empty, *full;
    atomic_int epipe;
};

static void *
blocked_getter_task(void *arg)
{
    struct close_tasks *c = arg;
    void *item;

    if (bcl_queue_get(c->empty, &item) == -EPIPE)
        atomic_fetch_add(&c->epipe, 1);
    return NULL;
}

static void *
blocked_putter_task(void *arg)
{
    struct close_tasks *c = arg;

    if (bcl_queue_put(c->full, NULL) == -EPIPE)
        atomic_fetch_add(&c->epipe, 1);
    return NULL;
}

static void *
close_tasks_main(void *arg)
{
    struct close_tasks *c = arg;
    bcl_task *tasks[8];

    for (int i = 0; i < 8; i++)
        if (bcl_spawn(&tasks[i], i % 2 ? blocked_putter_task
                                       : blocked_getter_task, c) != 0)
            return ITEM(1);
    /* Wait (yielding) until all eight are suspended on the queues. */
    while (bcl__queue_waiting(c->empty, BCL__QUEUE_GETTERS) != 4 ||
           bcl__queue_waiting(c->full, BCL__QUEUE_PUTTERS) != 4)
        bcl_yield();
    bcl_queue_close(c->empty);
    bcl_queue_close(c->full);
    for (int i = 0; i < 8; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_queue_close_wakes_tasks(void)
{
    struct close_tasks c = { 0 };
    void *r = ITEM(1);

    CHECK_EQ(bcl_queue_new(&c.empty, 1), 0);
    CHECK_EQ(bcl_queue_new(&c.full, 1), 0);
    CHECK_EQ(bcl_queue_put(c.full, NULL), 0);
    CHECK_EQ(test_run_main(2, close_tasks_main, &c, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(atomic_load(&c.epipe), 8);
    CHECK_EQ(bcl_queue_free(c.empty), 0);
    CHECK_EQ(bcl_queue_free(c.full), 0);
    return 0;
}

/* --- free while a woken caller has not returned ------------------------- */

/*
 * A caller woken by close (or a joiner woken by task_done) retries on the
 * queue, so until it has returned bcl_queue_free must say -EBUSY; a getter
 * handed its item by a put touches nothing more, so the queue may go at
 * once -- unless it is a batch getter, which goes on for more.  On a one-worker loop whose worker a hog keeps busy, the woken
 * task cannot run before the free: each case is exact.  (Under ASan a
 * touch of the freed queue would fail the run.)
 */
enum woken_how {
    WOKEN_BY_CLOSE,
    WOKEN_BY_HAND_OFF,
    WOKEN_BY_HAND_OFF_BATCH, /* a get_many handed one item goes on */
    WOKEN_BY_TASK_DONE,
};

struct woken {
    bcl_queue *q;
    bool batch;
    void *item, *items[4];
    size_t moved;
    int rc;
};

static void *
woken_getter(void *arg)
{
    struct woken *w = arg;

    if (w->batch) {
        w->rc = bcl_queue_get_many(w->q, w->items, 4, &w->moved);
        w->item = w->items[0];
    } else {
        w->rc = bcl_queue_get(w->q, &w->item);
    }
    return NULL;
}

static void *
woken_joiner(void *arg)
{
    struct woken *w = arg;

    w->rc = bcl_queue_join(w->q);
    return NULL;
}

static int
free_with_woken(enum woken_how how, int free_rc, int waiter_rc)
{
    struct test_hog hog = { 0 };
    struct woken w = { .batch = how == WOKEN_BY_HAND_OFF_BATCH, .rc = 1 };
    bcl_task *waiter, *hogger;
    pthread_t runner;
    bcl_loop *loop;
    void *item;

    CHECK_EQ(bcl_queue_new(&w.q, 4), 0);
    if (how == WOKEN_BY_TASK_DONE)
        CHECK_EQ(bcl_queue_put(w.q, ITEM(7)), 0); /* pending: join waits */
    CHECK_EQ(test_serve(1, &loop, &runner), 0);
    CHECK_EQ(bcl_spawn_on(loop, &waiter,
                          how == WOKEN_BY_TASK_DONE ? woken_joiner
                                                    : woken_getter,
                          &w),
             0);
    wait_waiting(w.q,
                 how == WOKEN_BY_TASK_DONE ? BCL__QUEUE_JOINERS
                                           : BCL__QUEUE_GETTERS,
                 1);
    CHECK_EQ(bcl_spawn_on(loop, &hogger, test_hog_task, &hog), 0);
    while (!atomic_load(&hog.running))
        sched_yield();
    switch (how) {
    case WOKEN_BY_CLOSE:
        CHECK_EQ(bcl_queue_close(w.q), 0);
        break;
    case WOKEN_BY_HAND_OFF:
    case WOKEN_BY_HAND_OFF_BATCH:
        CHECK_EQ(bcl_queue_put(w.q, ITEM(42)), 0);
        break;
    case WOKEN_BY_TASK_DONE:
        CHECK_EQ(bcl_queue_get(w.q, &item), 0);
        CHECK_EQ(bcl_queue_task_done(w.q), 0);
        break;
    }
    CHECK_EQ(bcl_queue_free(w.q), free_rc);
    atomic_store(&hog.release, 1);
    CHECK_EQ(bcl_join(hogger, NULL), 0);
    CHECK_EQ(bcl_join(waiter, NULL), 0);
    CHECK_EQ(w.rc, waiter_rc);
    if (how == WOKEN_BY_HAND_OFF || how == WOKEN_BY_HAND_OFF_BATCH)
        CHECK_PTR_EQ(w.item, ITEM(42));
    if (how == WOKEN_BY_HAND_OFF_BATCH)
        CHECK_EQ(w.moved, 1);
    if (free_rc != 0)
        CHECK_EQ(bcl_queue_free(w.q), 0); /* it has returned */
    CHECK_EQ(test_serve_end(loop, runner), 0);
    return 0;
}

int
test_queue_free_waits_out_woken_callers(void)
{
    CHECK_EQ(free_with_woken(WOKEN_BY_CLOSE, -EBUSY, -EPIPE), 0);
    CHECK_EQ(free_with_woken(WOKEN_BY_TASK_DONE, -EBUSY, 0), 0);
    CHECK_EQ(free_with_woken(WOKEN_BY_HAND_OFF, 0, 0), 0);
    CHECK_EQ(free_with_woken(WOKEN_BY_HAND_OFF_BATCH, -EBUSY, 0), 0);
    return 0;
}
