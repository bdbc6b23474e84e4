/*
 * bench/bench_time.c - timers (issue "time" definitions):
 *
 *   timers                10^5 tasks each sleep a random 0-10 ms ten times;
 *                         sleeps completed per second of wall time (the
 *                         peers run the same; bench/peers/README.md)
 *   timers_overhead_pct   the same run:
 *                         wall time over the ideal (the longest chain of
 *                         sleeps of any one task), in % (lower is better)
 *   timers_cpu_s          CPU time (user + system) that run used, seconds
 *   timers_warm_overhead_pct  timers_overhead_pct measured on a second run
 *                         in the same loop, right after a first: the
 *                         stack pools hold the stacks (stack.h), so no
 *                         stack is mapped or faulted in
 *   timer_arm_cancel_ns   bcl_call_later + bcl_timer_cancel from a task
 *   sleep_1ms_late_p50_us / _p99_us     lateness of a 1 ms bcl_sleep on an
 *                         idle loop
 *   sleep_1ms_late_busy_p99_us          the same while the other tasks of
 *                         the loop keep every worker busy (yielding)
 *   nanosleep_1ms_late_p99_us           the kernel's own floor: a plain
 *                         thread's clock_nanosleep of 1 ms (default slack)
 *   nanosleep_1ms_slack1us_late_p99_us  the same with the 1 us timer slack
 *                         boucle's workers set
 *   clock_read_ns         one bcl_now_ns(): part of every timer arm
 */
#include "bench/bench.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#define SLEEPERS 100000
#define SLEEPS_EACH 10
#define LATENCY_SAMPLES 1000
#define MS 1000000ull

/* --- 10^5 sleepers ------------------------------------------------------ */

struct sleeper {
    uint32_t seed;
    uint64_t total_ns; /* the sum of its sleeps: its ideal duration */
};

static uint32_t
next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void *
sleeper_task(void *arg)
{
    struct sleeper *s = arg;

    for (int i = 0; i < SLEEPS_EACH; i++) {
        uint64_t ns = (uint64_t)(next_random(&s->seed) % 10001) * 1000;

        s->total_ns += ns;
        if (bcl_sleep(ns) != 0)
            return (void *)1;
    }
    return NULL;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct sleepers_result {
    double overhead_pct, cpu_s, sleeps_per_s;
};

static double
sleepers_main(void *arg)
{
    struct sleepers_result *res = arg;
    uint64_t n = bench_scale(SLEEPERS), ideal = 0;
    struct sleeper *s = calloc(n, sizeof *s);
    bcl_task **tasks = malloc(n * sizeof *tasks);
    double start, cpu0, wall;
    int failed = 0;

    if (s == NULL || tasks == NULL)
        return -1;
    cpu0 = cpu_seconds();
    start = bench_now();
    for (uint64_t i = 0; i < n; i++) {
        s[i].seed = (uint32_t)i * 2654435761u + 1;
        if (bcl_spawn(&tasks[i], sleeper_task, &s[i]) != 0)
            return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        void *r;

        bcl_join(tasks[i], &r);
        failed |= r != NULL;
        if (s[i].total_ns > ideal)
            ideal = s[i].total_ns;
    }
    wall = bench_now() - start;
    res->cpu_s = cpu_seconds() - cpu0;
    res->sleeps_per_s = (double)(n * SLEEPS_EACH) / wall;
    res->overhead_pct = (wall - (double)ideal / 1e9) / ((double)ideal / 1e9) *
                        100.0;
    free(s);
    free(tasks);
    return failed ? -1 : 0;
}

static double
timers_overhead(unsigned workers)
{
    struct sleepers_result res = { 0, 0, 0 };

    return bench_in_loop(workers, sleepers_main, &res) < 0 ? -1
                                                          : res.overhead_pct;
}

static double
timers_rate(unsigned workers)
{
    struct sleepers_result res = { 0, 0, 0 };

    return bench_in_loop(workers, sleepers_main, &res) < 0 ? -1
                                                          : res.sleeps_per_s;
}

static double
timers_warm_overhead(unsigned workers)
{
    struct sleepers_result res = { 0, 0, 0 };

    if (bench_in_loop(workers, sleepers_main, &res) < 0)
        return -1;
    return bench_in_loop(workers, sleepers_main, &res) < 0 ? -1
                                                          : res.overhead_pct;
}

static double
timers_cpu(unsigned workers)
{
    struct sleepers_result res = { 0, 0, 0 };

    return bench_in_loop(workers, sleepers_main, &res) < 0 ? -1 : res.cpu_s;
}

/* --- arm + cancel -------------------------------------------------------- */

static void
never(void *arg)
{
    (void)arg;
}

static double
arm_cancel_main(void *arg)
{
    uint64_t n = bench_scale(2000000);
    double start = bench_now();

    (void)arg;
    for (uint64_t i = 0; i < n; i++) {
        bcl_timer *t;

        /* Deadlines spread over a second, as real timeouts are. */
        if (bcl_call_later(bcl_current(), MS * (1 + i % 1000), never, NULL,
                           &t) != 0 ||
            bcl_timer_cancel(t) != 0)
            return -1;
    }
    return (bench_now() - start) * 1e9 / (double)n;
}

static double
timer_arm_cancel(unsigned workers)
{
    return bench_in_loop(workers, arm_cancel_main, NULL);
}

/* --- lateness of a 1 ms sleep ------------------------------------------- */

static int
compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

struct lateness {
    unsigned percentile; /* 50 or 99 */
    bool busy;
    atomic_int stop;
};

static void *
spinner(void *arg)
{
    struct lateness *l = arg;

    while (!atomic_load(&l->stop))
        bcl_yield();
    return NULL;
}

static uint64_t
percentile_of(uint64_t *late, unsigned n, unsigned percentile)
{
    qsort(late, n, sizeof late[0], compare_u64);
    return late[(size_t)n * percentile / 100 - (percentile == 100)];
}

static double
lateness_main(void *arg)
{
    struct lateness *l = arg;
    unsigned n = (unsigned)bench_scale(LATENCY_SAMPLES);
    uint64_t *late = malloc(n * sizeof *late);
    bcl_task *spinners[4];
    unsigned nspin = l->busy ? 4 : 0;
    double us;

    if (late == NULL)
        return -1;
    atomic_store(&l->stop, 0);
    for (unsigned i = 0; i < nspin; i++)
        if (bcl_spawn(&spinners[i], spinner, l) != 0)
            return -1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t start = bcl_now_ns();

        if (bcl_sleep(MS) != 0)
            return -1;
        late[i] = bcl_now_ns() - start - MS;
    }
    atomic_store(&l->stop, 1);
    for (unsigned i = 0; i < nspin; i++)
        bcl_join(spinners[i], NULL);
    us = (double)percentile_of(late, n, l->percentile) / 1e3;
    free(late);
    return us;
}

static double
late_p50(unsigned workers)
{
    struct lateness l = { .percentile = 50 };

    return bench_in_loop(workers, lateness_main, &l);
}

static double
late_p99(unsigned workers)
{
    struct lateness l = { .percentile = 99 };

    return bench_in_loop(workers, lateness_main, &l);
}

static double
late_busy_p99(unsigned workers)
{
    struct lateness l = { .percentile = 99, .busy = true };

    return bench_in_loop(workers, lateness_main, &l);
}

/* The kernel's floor: a plain thread's clock_nanosleep of 1 ms, with the
 * given timer slack (0: the thread's default, 50 us on Linux). */
static double
nanosleep_p99_with_slack(unsigned long slack_ns)
{
    unsigned n = (unsigned)bench_scale(LATENCY_SAMPLES);
    uint64_t *late = malloc(n * sizeof *late);
    struct timespec ms = { 0, (long)MS };
    int old_slack = prctl(PR_GET_TIMERSLACK);
    double us;

    if (late == NULL)
        return -1;
    if (slack_ns != 0)
        prctl(PR_SET_TIMERSLACK, slack_ns);
    for (unsigned i = 0; i < n; i++) {
        uint64_t start = bcl_now_ns();

        clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, NULL);
        late[i] = bcl_now_ns() - start - MS;
    }
    if (slack_ns != 0 && old_slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack);
    us = (double)percentile_of(late, n, 99) / 1e3;
    free(late);
    return us;
}

static double
nanosleep_p99(unsigned workers)
{
    (void)workers;
    return nanosleep_p99_with_slack(0);
}

/* With the slack boucle's workers use (exec/worker.c): 1 us. */
static double
nanosleep_slack1us_p99(unsigned workers)
{
    (void)workers;
    return nanosleep_p99_with_slack(1000);
}

/* What reading the clock costs here: part of every timer arm. */
static double
clock_read(unsigned workers)
{
    uint64_t n = bench_scale(10000000), sink = 0;
    double start = bench_now();

    (void)workers;
    for (uint64_t i = 0; i < n; i++)
        sink += bcl_now_ns();
    if (sink == 0)
        return -1;
    return (bench_now() - start) * 1e9 / (double)n;
}

const struct bench_case bench_time_cases[] = {
    { "timers", "sleeps/s", timers_rate, true, 0 },
    { "timers_overhead_pct", "% over ideal", timers_overhead, false, 0 },
    { "timers_cpu_s", "s CPU", timers_cpu, false, 0 },
    { "timers_warm_overhead_pct", "% over ideal", timers_warm_overhead, false,
      0 },
    { "timer_arm_cancel_ns", "ns", timer_arm_cancel, false, 0 },
    { "sleep_1ms_late_p50_us", "us", late_p50, false, 0 },
    { "sleep_1ms_late_p99_us", "us", late_p99, false, 0 },
    { "sleep_1ms_late_busy_p99_us", "us", late_busy_p99, false, 0 },
    { "nanosleep_1ms_late_p99_us", "us", nanosleep_p99, false, 0 },
    { "nanosleep_1ms_slack1us_late_p99_us", "us", nanosleep_slack1us_p99,
      false, 0 },
    { "clock_read_ns", "ns", clock_read, false, 0 },
};
const unsigned bench_time_ncases =
    sizeof bench_time_cases / sizeof bench_time_cases[0];
