/*
 * tests/test_queue_stress.c - exactly once, under load: 8 producers and 8
 * consumers on one queue, half of each tasks (on a 2-worker loop), half
 * plain threads.  Each item carries (producer, sequence); every item must
 * be seen exactly once (a counter per item), each consumer must see each
 * producer's items in increasing order, and the sums must match.  The last
 * producer to finish closes the queue; consumers stop at -EPIPE.
 * Run with capacities 1, 64 and unbounded, single and batched calls.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test.h"

#define PRODUCERS 8
#define CONSUMERS 8
#define HALF_TASKS 4 /* of each side, the first 4 are tasks */
#define BATCH 16
/* Varied batches: each call moves a size drawn from 1 .. the bound. */
#define VARIED_MAX 1200

#ifdef TEST_TSAN
#define TOTAL 100000 /* every access is instrumented: 10x fewer */
#else
#define TOTAL 1000000
#endif
#define PER_PRODUCER (TOTAL / PRODUCERS)

struct stress {
    bcl_queue *q;
    bool batched;
    size_t varied; /* 0: batches of BATCH; else sizes 1 .. varied */
    atomic_int producers_left;
    atomic_int failed;
    _Atomic uint64_t got;
    _Atomic uint64_t sum;
    _Atomic uint8_t *seen; /* TOTAL counters, one per item */
};

struct role {
    struct stress *s;
    uint64_t id;
    uint64_t rng; /* xorshift state, for varied batch sizes */
};

/* The size of this role's next batch call. */
static size_t
batch_size(struct role *r)
{
    if (r->s->varied == 0)
        return BATCH;
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return 1 + (size_t)(r->rng % r->s->varied);
}

static void *
encode(uint64_t producer, uint64_t seq)
{
    return (void *)(uintptr_t)(producer << 32 | seq);
}

static void *
producer(void *arg)
{
    struct role *r = arg;
    struct stress *s = r->s;
    uint64_t seq = 0;
    void **items = malloc(VARIED_MAX * sizeof *items);

    TASK_CHECK(&s->failed, items != NULL);
    while (items != NULL && seq < PER_PRODUCER) {
        if (s->batched) {
            size_t n = 0, moved = 0, want = batch_size(r);

            while (n < want && seq + n < PER_PRODUCER) {
                items[n] = encode(r->id, seq + n);
                n++;
            }
            /* Put the whole batch, as many calls as it takes. */
            for (size_t done = 0; done < n; done += moved)
                TASK_CHECK(&s->failed, bcl_queue_put_many(s->q, items + done,
                                                          n - done,
                                                          &moved) == 0);
            seq += n;
        } else {
            TASK_CHECK(&s->failed,
                       bcl_queue_put(s->q, encode(r->id, seq)) == 0);
            seq++;
        }
    }
    free(items);
    if (atomic_fetch_sub(&s->producers_left, 1) == 1)
        bcl_queue_close(s->q); /* the last producer: consumers drain, stop */
    return NULL;
}

static void
consume(struct stress *s, int64_t last[PRODUCERS], void *item,
        uint64_t *count, uint64_t *sum)
{
    uint64_t v = (uint64_t)(uintptr_t)item;
    uint64_t p = v >> 32, seq = v & 0xffffffffu;

    TASK_CHECK(&s->failed, p < PRODUCERS && seq < PER_PRODUCER);
    if (p >= PRODUCERS || seq >= PER_PRODUCER)
        return;
    TASK_CHECK(&s->failed, (int64_t)seq > last[p]); /* per-producer FIFO */
    last[p] = (int64_t)seq;
    TASK_CHECK(&s->failed,
               atomic_fetch_add(&s->seen[p * PER_PRODUCER + seq], 1) == 0);
    *count += 1;
    *sum += v;
}

static void *
consumer(void *arg)
{
    struct role *r = arg;
    struct stress *s = r->s;
    int64_t last[PRODUCERS];
    uint64_t count = 0, sum = 0;
    void **items = malloc(VARIED_MAX * sizeof *items);
    int rc = items != NULL ? 0 : -ENOMEM;

    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    while (rc == 0) {
        if (s->batched) {
            size_t moved;

            rc = bcl_queue_get_many(s->q, items, batch_size(r), &moved);
            if (rc != 0)
                break;
            for (size_t i = 0; i < moved; i++)
                consume(s, last, items[i], &count, &sum);
        } else {
            void *item;

            rc = bcl_queue_get(s->q, &item);
            if (rc != 0)
                break;
            consume(s, last, item, &count, &sum);
        }
    }
    free(items);
    TASK_CHECK(&s->failed, rc == -EPIPE);
    atomic_fetch_add(&s->got, count);
    atomic_fetch_add(&s->sum, sum);
    return NULL;
}

static struct role producers[PRODUCERS], consumers[CONSUMERS];

static void *
stress_main(void *arg)
{
    bcl_task *tasks[2 * HALF_TASKS];

    (void)arg;
    for (int i = 0; i < HALF_TASKS; i++) {
        if (bcl_spawn(&tasks[2 * i], consumer, &consumers[i]) != 0 ||
            bcl_spawn(&tasks[2 * i + 1], producer, &producers[i]) != 0)
            abort();
    }
    for (int i = 0; i < 2 * HALF_TASKS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

static int
stress_run(size_t capacity, bool batched, size_t varied)
{
    bcl_config cfg = { .workers = 2 };
    struct stress s = { .batched = batched, .varied = varied };
    pthread_t threads[PRODUCERS - HALF_TASKS + CONSUMERS - HALF_TASKS];
    uint64_t want_sum = 0;
    bcl_loop *loop;
    size_t nthreads = 0;

    s.seen = calloc(TOTAL, sizeof *s.seen);
    CHECK(s.seen != NULL);
    atomic_store(&s.producers_left, PRODUCERS);
    CHECK_EQ(bcl_queue_new(&s.q, capacity), 0);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    for (int i = 0; i < PRODUCERS; i++)
        producers[i] = (struct role){ &s, (uint64_t)i, 2 * (uint64_t)i + 1 };
    for (int i = 0; i < CONSUMERS; i++)
        consumers[i] = (struct role){ &s, (uint64_t)i, 2 * (uint64_t)i + 2 };
    for (int i = HALF_TASKS; i < PRODUCERS; i++)
        CHECK_EQ(pthread_create(&threads[nthreads++], NULL, producer,
                                &producers[i]), 0);
    for (int i = HALF_TASKS; i < CONSUMERS; i++)
        CHECK_EQ(pthread_create(&threads[nthreads++], NULL, consumer,
                                &consumers[i]), 0);
    CHECK_EQ(bcl_run_until_complete(loop, stress_main, NULL, NULL), 0);
    for (size_t i = 0; i < nthreads; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);

    CHECK_EQ(atomic_load(&s.failed), 0);
    CHECK_EQ(atomic_load(&s.got), TOTAL);
    for (uint64_t p = 0; p < PRODUCERS; p++)
        for (uint64_t seq = 0; seq < PER_PRODUCER; seq++) {
            want_sum += p << 32 | seq;
            CHECK_EQ(atomic_load(&s.seen[p * PER_PRODUCER + seq]), 1);
        }
    CHECK_EQ(atomic_load(&s.sum), want_sum);
    CHECK_EQ(bcl_queue_size(s.q), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(bcl_queue_free(s.q), 0);
    free(s.seen);
    return 0;
}


/* --- plain-thread producers, task consumers, one worker ----------------- */

/* Every consumer is a task resumed by a plain thread: the shape that once
 * lost a worker wake-up (a failed waker's transient spinner count hid
 * another waker's work from a worker that was parking; park.c, W5). */
static void *
thread_fed_main(void *arg)
{
    bcl_task *tasks[CONSUMERS];

    (void)arg;
    for (int i = 0; i < CONSUMERS; i++)
        if (bcl_spawn(&tasks[i], consumer, &consumers[i]) != 0)
            abort();
    for (int i = 0; i < CONSUMERS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_queue_stress_thread_fed_w1(void)
{
    bcl_config cfg = { .workers = 1 };
    struct stress s = { .batched = false };
    pthread_t threads[PRODUCERS];
    bcl_loop *loop;

    s.seen = calloc(TOTAL, sizeof *s.seen);
    CHECK(s.seen != NULL);
    atomic_store(&s.producers_left, PRODUCERS);
    CHECK_EQ(bcl_queue_new(&s.q, 1024), 0);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    for (int i = 0; i < PRODUCERS; i++)
        producers[i] = (struct role){ &s, (uint64_t)i, 2 * (uint64_t)i + 1 };
    for (int i = 0; i < CONSUMERS; i++)
        consumers[i] = (struct role){ &s, (uint64_t)i, 2 * (uint64_t)i + 2 };
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, producer, &producers[i]),
                 0);
    CHECK_EQ(bcl_run_until_complete(loop, thread_fed_main, NULL, NULL), 0);
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    CHECK_EQ(atomic_load(&s.failed), 0);
    CHECK_EQ(atomic_load(&s.got), TOTAL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(bcl_queue_free(s.q), 0);
    free(s.seen);
    return 0;
}
int test_queue_stress_cap1(void) { return stress_run(1, false, 0); }
int test_queue_stress_cap64(void) { return stress_run(64, false, 0); }
int test_queue_stress_unbounded(void) { return stress_run(0, false, 0); }
int test_queue_stress_cap1_many(void) { return stress_run(1, true, 0); }
int test_queue_stress_cap64_many(void) { return stress_run(64, true, 0); }
int test_queue_stress_unbounded_many(void) { return stress_run(0, true, 0); }
/* Odd capacities, batches of varied sizes, some larger than the ring:
 * claims that wrap anywhere in the array (ring.c's runs). */
int test_queue_stress_cap3_varied(void) { return stress_run(3, true, 5); }
int test_queue_stress_cap1000_varied(void)
{
    return stress_run(1000, true, VARIED_MAX);
}
