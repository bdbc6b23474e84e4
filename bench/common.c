/*
 * bench/common.c - clocks, quick mode, RSS, the loop wrapper and the latch.
 */
#include "bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool
bench_quick(void)
{
    const char *q = getenv("BENCH_QUICK");

    return q != NULL && strcmp(q, "0") != 0;
}

uint64_t
bench_scale(uint64_t n)
{
    return bench_quick() ? n / 10 : n;
}

long
bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * 4;
}

struct loop_call {
    double (*fn)(void *);
    void *arg;
    double value;
};

static void *
loop_call_main(void *arg)
{
    struct loop_call *c = arg;

    c->value = c->fn(c->arg);
    return NULL;
}

/* One loop per worker count, made at its first use and kept for every
 * later run, as a server keeps its runtime: its task records, stacks and
 * deques are warm after the first run (start-up is never timed). */
#define MAX_LOOPS 64
static bcl_loop *loops[MAX_LOOPS + 1];

/* BENCH_STATS=1: where the tasks ran (docs/benchmarks.md, "Reading the
 * table"), one line per worker on stderr; counters add up over the runs
 * of the process's loop. */
static void
bench_print_stats(bcl_loop *loop)
{
    bcl_stats st[MAX_LOOPS];
    unsigned n = 0;

    if (bcl_loop_stats(loop, st, MAX_LOOPS, &n) != 0)
        return;
    for (unsigned i = 0; i < n && i < MAX_LOOPS; i++)
        fprintf(stderr,
                "worker %u: runs %llu steals %llu parks %llu injected %llu\n",
                i, (unsigned long long)st[i].tasks_run,
                (unsigned long long)st[i].steals,
                (unsigned long long)st[i].parks,
                (unsigned long long)st[i].injected);
}

double
bench_in_loop(unsigned workers, double (*fn)(void *), void *arg)
{
    bcl_config cfg = { .workers = workers };
    struct loop_call call = { fn, arg, -1 };

    if (workers == 0 || workers > MAX_LOOPS)
        return -1;
    if (loops[workers] == NULL && bcl_loop_new(&loops[workers], &cfg) != 0)
        return -1;
    if (bcl_run_until_complete(loops[workers], loop_call_main, &call,
                               NULL) != 0)
        return -1;
    if (getenv("BENCH_STATS") != NULL)
        bench_print_stats(loops[workers]);
    return call.value;
}

int
bench_loops_free(void)
{
    int failed = 0;

    for (unsigned i = 0; i <= MAX_LOOPS; i++) {
        if (loops[i] != NULL && bcl_loop_free(loops[i]) != 0)
            failed = 1;
        loops[i] = NULL;
    }
    return failed;
}

void
bench_latch_init(struct bench_latch *l)
{
    atomic_store(&l->open, 0);
    atomic_store(&l->waiter, NULL);
}

void
bench_latch_wait(struct bench_latch *l)
{
    struct bcl__waiter w;

    bcl__waiter_init(&w);
    atomic_store(&l->waiter, &w);
    /* Opened before we published: take our own waiter back. */
    if (atomic_load(&l->open) &&
        atomic_exchange(&l->waiter, NULL) == &w) {
        bcl__waiter_settle(&w, BCL__WAIT_WOKEN);
        return;
    }
    bcl__wait(&w);
}

void
bench_latch_open(struct bench_latch *l)
{
    struct bcl__waiter *w;

    atomic_store(&l->open, 1);
    w = atomic_exchange(&l->waiter, NULL);
    if (w != NULL)
        bcl__waiter_resolve(w, BCL__WAIT_WOKEN);
}
