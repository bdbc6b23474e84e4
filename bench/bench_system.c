/*
 * bench/bench_system.c - whole-system costs: CPU used by an idle loop and
 * by a loop fed a trickle of items from a plain thread and by one whose
 * 10^5 tasks are all asleep, and capacity
 * (10^6 tasks suspended at once: RSS per task, time to resume them all).
 */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* --- idle: % of one core used by parked workers ----------------------- */

static void *
serve(void *arg)
{
    bcl_run_forever(arg);
    return NULL;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double
idle_cpu(unsigned workers)
{
    bcl_config cfg = { .workers = workers };
    struct timespec span = { bench_quick() ? 1 : 5, 0 };
    bcl_loop *loop;
    pthread_t thread;
    double cpu0, wall0, cpu, wall;

    if (bcl_loop_new(&loop, &cfg) != 0)
        return -1;
    pthread_create(&thread, NULL, serve, loop);
    cpu0 = cpu_seconds();
    wall0 = bench_now();
    nanosleep(&span, NULL);
    cpu = cpu_seconds() - cpu0;
    wall = bench_now() - wall0;
    bcl_stop(loop);
    pthread_join(thread, NULL);
    bcl_loop_free(loop);
    return 100.0 * cpu / wall;
}

/* --- a trickle: % of one core while a plain thread feeds one task ------ */

/*
 * A plain thread (an I/O thread, say) puts an item on a queue every 20 us
 * or so (nanosleep's own lateness comes on top); one task takes them.
 * The loop could go much faster, so what counts is the CPU it burns
 * between items: searching, parking, waking.  The feeder's share is
 * included; it does the same work whatever the loop does.
 */
#define TRICKLE_GAP_NS 20000

struct trickle {
    bcl_queue *q;
    uint64_t n;
};

static void *
trickle_feed(void *arg)
{
    struct trickle *tr = arg;
    struct timespec gap = { 0, TRICKLE_GAP_NS };

    for (uint64_t i = 1; i <= tr->n; i++) {
        nanosleep(&gap, NULL);
        if (bcl_queue_put(tr->q, (void *)(uintptr_t)i) != 0)
            break; /* closed: the taker failed */
    }
    return NULL;
}

static double
trickle_take(void *arg)
{
    struct trickle *tr = arg;
    uint64_t sum = 0;

    for (uint64_t i = 0; i < tr->n; i++) {
        void *item;

        if (bcl_queue_get(tr->q, &item) != 0)
            return -1;
        sum += (uintptr_t)item;
    }
    return sum == tr->n * (tr->n + 1) / 2 ? 0 : -1;
}

static double
trickle_cpu(unsigned workers)
{
    struct trickle tr = { NULL, bench_scale(20000) };
    pthread_t feeder;
    double cpu0, wall0, taken;

    if (bcl_queue_new(&tr.q, 1024) != 0)
        return -1;
    cpu0 = cpu_seconds();
    wall0 = bench_now();
    if (pthread_create(&feeder, NULL, trickle_feed, &tr) != 0) {
        bcl_queue_free(tr.q);
        return -1;
    }
    taken = bench_in_loop(workers, trickle_take, &tr);
    bcl_queue_close(tr.q); /* lets the feeder end if the taker failed */
    pthread_join(feeder, NULL);
    bcl_queue_free(tr.q);
    if (taken < 0)
        return -1;
    return 100.0 * (cpu_seconds() - cpu0) / (bench_now() - wall0);
}

/* --- 10^5 tasks asleep: % of one core while they sleep ---------------- */

/*
 * 10^5 tasks each in a bcl_sleep of an hour (servers' idle connections
 * with read timeouts): their timers fill the workers' heaps, and a parked
 * worker must sleep until its earliest deadline, not poll them.  The main
 * task measures the process's CPU over a sleep of its own (2 s), then
 * cancels them all; each must end with -ECANCELED.
 */
#define ASLEEP_TASKS 100000
#define ASLEEP_NS (3600ull * 1000000000ull)
#define ASLEEP_WINDOW_NS 2000000000ull

static void *
asleep_task(void *arg)
{
    atomic_uint *started = arg;

    atomic_fetch_add(started, 1);
    return bcl_sleep(ASLEEP_NS) == -ECANCELED ? NULL : arg;
}

static double
asleep_main(void *arg)
{
    uint64_t n = bench_scale(ASLEEP_TASKS), spawned = 0;
    bcl_task **tasks = malloc(n * sizeof *tasks);
    atomic_uint started = 0;
    double cpu0, wall0, pct = -1;

    (void)arg;
    if (tasks == NULL)
        return -1;
    while (spawned < n &&
           bcl_spawn(&tasks[spawned], asleep_task, &started) == 0)
        spawned++;
    if (spawned == n) {
        /* Every task has started; one more millisecond and each is past
         * the few instructions between its count and its suspension. */
        while (atomic_load(&started) < n)
            bcl_sleep(1000000);
        bcl_sleep(1000000);
        cpu0 = cpu_seconds();
        wall0 = bench_now();
        bcl_sleep(bench_quick() ? ASLEEP_WINDOW_NS / 4 : ASLEEP_WINDOW_NS);
        pct = 100.0 * (cpu_seconds() - cpu0) / (bench_now() - wall0);
    }
    for (uint64_t i = 0; i < spawned; i++)
        bcl_cancel(tasks[i]);
    for (uint64_t i = 0; i < spawned; i++) {
        void *result = NULL;

        if (bcl_join(tasks[i], &result) != -ECANCELED || result != NULL)
            pct = -1;
    }
    free(tasks);
    return pct;
}

static double
asleep_cpu(unsigned workers)
{
    return bench_in_loop(workers, asleep_main, NULL);
}

/* --- capacity: 10^6 tasks parked at once ------------------------------ */

struct parked {
    struct bcl__waiter **waiters;
    _Atomic uint64_t count;
    _Atomic uint64_t resumed;
    struct bench_latch all_resumed;
    uint64_t n;
    double rss_per_task_kib, resume_rate;
};

static struct parked parked;

static void *
park_one(void *arg)
{
    struct bcl__waiter w;

    (void)arg;
    bcl__waiter_init(&w);
    parked.waiters[atomic_fetch_add(&parked.count, 1)] = &w;
    bcl__wait(&w);
    if (atomic_fetch_add(&parked.resumed, 1) + 1 == parked.n)
        bench_latch_open(&parked.all_resumed);
    return NULL;
}

static double
capacity_main(void *arg)
{
    long rss0, rss1;
    double start;

    (void)arg;
    rss0 = bench_rss_kib();
    for (uint64_t i = 0; i < parked.n; i++)
        if (bcl_spawn(NULL, park_one, NULL) != 0)
            return -1;
    while (atomic_load(&parked.count) < parked.n)
        bcl_yield();
    rss1 = bench_rss_kib();
    parked.rss_per_task_kib = (double)(rss1 - rss0) / (double)parked.n;
    start = bench_now();
    for (uint64_t i = 0; i < parked.n; i++)
        bcl__waiter_resolve(parked.waiters[i], BCL__WAIT_WOKEN);
    bench_latch_wait(&parked.all_resumed);
    parked.resume_rate = (double)parked.n / (bench_now() - start);
    return 0;
}

static double
capacity_run(unsigned workers)
{
    parked.n = bench_scale(1000000);
    parked.waiters = malloc(parked.n * sizeof *parked.waiters);
    if (parked.waiters != NULL) /* resident before the RSS baseline */
        memset(parked.waiters, 0, parked.n * sizeof *parked.waiters);
    atomic_store(&parked.count, 0);
    atomic_store(&parked.resumed, 0);
    bench_latch_init(&parked.all_resumed);
    if (parked.waiters == NULL ||
        bench_in_loop(workers, capacity_main, NULL) < 0 ||
        bench_loops_free() != 0) { /* measure from a fresh loop each time */
        free(parked.waiters);
        return -1;
    }
    free(parked.waiters);
    return 0;
}

static double
capacity_rss(unsigned workers)
{
    return capacity_run(workers) < 0 ? -1 : parked.rss_per_task_kib;
}

static double
capacity_resume(unsigned workers)
{
    return capacity_run(workers) < 0 ? -1 : parked.resume_rate;
}

const struct bench_case bench_system_cases[] = {
    { "idle_cpu", "% of a core", idle_cpu, false, 1 },
    { "trickle_cpu", "% of a core", trickle_cpu, false, 3 },
    { "asleep_100k_cpu", "% of a core", asleep_cpu, false, 3 },
    { "parked_1m_rss", "KiB per task", capacity_rss, false, 1 },
    { "parked_1m_resume", "tasks/s", capacity_resume, true, 1 },
};
const unsigned bench_system_ncases =
    sizeof bench_system_cases / sizeof bench_system_cases[0];
