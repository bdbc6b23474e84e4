/*
 * bench/bench_queue.c - queue workloads (issue "bench/" definitions):
 *
 *   mpmc PxC        capacity 1024, 10^7 u64 items, P producer tasks and C
 *                   consumer tasks; the sum is checked.  items/s.
 *   mpmc_batch PxC  the same with put_many/get_many of 64.
 *   mpmc_threads    producers are plain threads, consumers tasks.
 *   ping_pong       1,000 pairs of tasks, 100 round trips each through two
 *                   capacity-1 queues.  round trips/s.
 *
 * The last producer to finish closes the queue; consumers stop at -EPIPE.
 * Queue creation is outside the timed region, thread creation inside.
 */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MPMC_CAPACITY 1024
#define MPMC_ITEMS 10000000
#define MPMC_BATCH 64
#define MAX_SIDE 16

struct mpmc {
    bcl_queue *q;
    unsigned producers, consumers;
    bool batch, threads;
    uint64_t per_producer;
    atomic_uint producers_left;
    _Atomic uint64_t sum;
    atomic_int failed;
};

struct producer_arg {
    struct mpmc *m;
    uint64_t first; /* items first .. first + per_producer - 1 */
};

static void
mpmc_produced(struct mpmc *m)
{
    /* acq_rel: the last producer closes after every other one's puts. */
    if (atomic_fetch_sub_explicit(&m->producers_left, 1,
                                  memory_order_acq_rel) == 1)
        bcl_queue_close(m->q);
}

static void *
mpmc_producer(void *arg)
{
    struct producer_arg *p = arg;
    struct mpmc *m = p->m;
    uint64_t end = p->first + m->per_producer;

    if (m->batch) {
        void *items[MPMC_BATCH];

        for (uint64_t v = p->first; v < end;) {
            size_t n = 0, moved;

            while (n < MPMC_BATCH && v + n < end) {
                items[n] = (void *)(uintptr_t)(v + n);
                n++;
            }
            for (size_t done = 0; done < n; done += moved)
                if (bcl_queue_put_many(m->q, items + done, n - done,
                                       &moved) != 0)
                    atomic_store(&m->failed, 1);
            v += n;
        }
    } else {
        for (uint64_t v = p->first; v < end; v++)
            if (bcl_queue_put(m->q, (void *)(uintptr_t)v) != 0)
                atomic_store(&m->failed, 1);
    }
    mpmc_produced(m);
    return NULL;
}

static void *
mpmc_consumer(void *arg)
{
    struct mpmc *m = arg;
    uint64_t sum = 0;
    int rc;

    if (m->batch) {
        void *items[MPMC_BATCH];
        size_t moved;

        while ((rc = bcl_queue_get_many(m->q, items, MPMC_BATCH,
                                        &moved)) == 0)
            for (size_t i = 0; i < moved; i++)
                sum += (uintptr_t)items[i];
    } else {
        void *item;

        while ((rc = bcl_queue_get(m->q, &item)) == 0)
            sum += (uintptr_t)item;
    }
    if (rc != -EPIPE)
        atomic_store(&m->failed, 1);
    atomic_fetch_add(&m->sum, sum);
    return NULL;
}

static double
mpmc_main(void *arg)
{
    struct mpmc *m = arg;
    struct producer_arg pargs[MAX_SIDE];
    bcl_task *consumers[MAX_SIDE], *producers[MAX_SIDE];
    pthread_t threads[MAX_SIDE];
    uint64_t n = m->per_producer * m->producers;
    double start, elapsed;

    atomic_store(&m->producers_left, m->producers);
    atomic_store(&m->sum, 0);
    start = bench_now();
    for (unsigned i = 0; i < m->consumers; i++)
        if (bcl_spawn(&consumers[i], mpmc_consumer, m) != 0)
            return -1;
    for (unsigned i = 0; i < m->producers; i++) {
        pargs[i] = (struct producer_arg){ m, 1 + i * m->per_producer };
        if (m->threads ? pthread_create(&threads[i], NULL, mpmc_producer,
                                        &pargs[i]) != 0
                       : bcl_spawn(&producers[i], mpmc_producer,
                                   &pargs[i]) != 0)
            return -1;
    }
    for (unsigned i = 0; i < m->consumers; i++)
        bcl_join(consumers[i], NULL);
    elapsed = bench_now() - start;
    /* Every item was got, so every producer is past its last put. */
    for (unsigned i = 0; i < m->producers; i++) {
        if (m->threads)
            pthread_join(threads[i], NULL);
        else
            bcl_join(producers[i], NULL);
    }
    if (atomic_load(&m->failed) || atomic_load(&m->sum) != n * (n + 1) / 2)
        return -1;
    return (double)n / elapsed;
}

static double
mpmc_run(unsigned workers, unsigned side, bool batch, bool threads)
{
    struct mpmc m = { .producers = side, .consumers = side,
                      .batch = batch, .threads = threads };
    double rate;

    m.per_producer = bench_scale(MPMC_ITEMS) / side;
    if (bcl_queue_new(&m.q, MPMC_CAPACITY) != 0)
        return -1;
    rate = bench_in_loop(workers, mpmc_main, &m);
    bcl_queue_free(m.q);
    return rate;
}

static double mpmc_1x1(unsigned w) { return mpmc_run(w, 1, false, false); }
static double mpmc_4x4(unsigned w) { return mpmc_run(w, 4, false, false); }
static double mpmc_16x16(unsigned w) { return mpmc_run(w, 16, false, false); }
static double batch_1x1(unsigned w) { return mpmc_run(w, 1, true, false); }
static double batch_4x4(unsigned w) { return mpmc_run(w, 4, true, false); }
static double batch_16x16(unsigned w) { return mpmc_run(w, 16, true, false); }
static double threads_1x1(unsigned w) { return mpmc_run(w, 1, false, true); }
static double threads_4x4(unsigned w) { return mpmc_run(w, 4, false, true); }

/* --- ping_pong: 1,000 pairs, 100 round trips through capacity-1 queues */

#define PAIRS 1000

struct pair {
    bcl_queue *ping, *pong;
    uint64_t rounds;
    atomic_int *failed;
};

static void *
pinger(void *arg)
{
    struct pair *p = arg;
    void *ball;

    for (uint64_t i = 0; i < p->rounds; i++)
        if (bcl_queue_put(p->ping, (void *)(uintptr_t)i) != 0 ||
            bcl_queue_get(p->pong, &ball) != 0 || ball != (void *)(uintptr_t)i)
            atomic_store(p->failed, 1);
    return NULL;
}

static void *
ponger(void *arg)
{
    struct pair *p = arg;
    void *ball;

    for (uint64_t i = 0; i < p->rounds; i++)
        if (bcl_queue_get(p->ping, &ball) != 0 ||
            bcl_queue_put(p->pong, ball) != 0)
            atomic_store(p->failed, 1);
    return NULL;
}

static double
ping_pong_main(void *arg)
{
    struct pair *pairs = arg;
    bcl_task **tasks = malloc(2 * PAIRS * sizeof *tasks);
    double start = bench_now();

    if (tasks == NULL)
        return -1;
    for (int i = 0; i < PAIRS; i++)
        if (bcl_spawn(&tasks[2 * i], ponger, &pairs[i]) != 0 ||
            bcl_spawn(&tasks[2 * i + 1], pinger, &pairs[i]) != 0)
            return -1;
    for (int i = 0; i < 2 * PAIRS; i++)
        bcl_join(tasks[i], NULL);
    double elapsed = bench_now() - start;
    free(tasks);
    return (double)(PAIRS * pairs[0].rounds) / elapsed;
}

static double
ping_pong(unsigned workers)
{
    struct pair *pairs = calloc(PAIRS, sizeof *pairs);
    atomic_int failed = 0;
    double rate = -1;
    int made = 0;

    if (pairs == NULL)
        return -1;
    for (; made < PAIRS; made++) {
        pairs[made].rounds = bench_scale(100);
        pairs[made].failed = &failed;
        if (bcl_queue_new(&pairs[made].ping, 1) != 0)
            break;
        if (bcl_queue_new(&pairs[made].pong, 1) != 0) {
            bcl_queue_free(pairs[made].ping);
            break;
        }
    }
    if (made == PAIRS)
        rate = bench_in_loop(workers, ping_pong_main, pairs);
    for (int i = 0; i < made; i++) {
        bcl_queue_free(pairs[i].ping);
        bcl_queue_free(pairs[i].pong);
    }
    free(pairs);
    return atomic_load(&failed) ? -1 : rate;
}

const struct bench_case bench_queue_cases[] = {
    { "mpmc_1x1", "items/s", mpmc_1x1, true, 0 },
    { "mpmc_4x4", "items/s", mpmc_4x4, true, 0 },
    { "mpmc_16x16", "items/s", mpmc_16x16, true, 0 },
    { "mpmc_batch_1x1", "items/s", batch_1x1, true, 0 },
    { "mpmc_batch_4x4", "items/s", batch_4x4, true, 0 },
    { "mpmc_batch_16x16", "items/s", batch_16x16, true, 0 },
    { "mpmc_threads_1x1", "items/s", threads_1x1, true, 0 },
    { "mpmc_threads_4x4", "items/s", threads_4x4, true, 0 },
    { "ping_pong", "round trips/s", ping_pong, true, 0 },
};
const unsigned bench_queue_ncases =
    sizeof bench_queue_cases / sizeof bench_queue_cases[0];
