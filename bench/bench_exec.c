/*
 * bench/bench_exec.c - executor workloads: spawn_many, yield_many (and
 * yield_timeouts, boucle only), chained_spawn, fib(30), skynet, and
 * spawn+join of an empty task.
 * Definitions follow issue "bench/" so that peers run the same work.
 */
#include "bench/bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* --- spawn_many: 10^6 tiny tasks (one atomic increment), all joined --- */

static _Atomic uint64_t spawn_counter;

static void *
tiny(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&spawn_counter, 1, memory_order_relaxed);
    return NULL;
}

static double
spawn_many_main(void *arg)
{
    uint64_t n = bench_scale(1000000);
    bcl_task **tasks = malloc(n * sizeof *tasks);
    double start;

    (void)arg;
    if (tasks == NULL)
        return -1;
    atomic_store(&spawn_counter, 0);
    start = bench_now();
    for (uint64_t i = 0; i < n; i++)
        if (bcl_spawn(&tasks[i], tiny, NULL) != 0)
            return -1;
    for (uint64_t i = 0; i < n; i++)
        bcl_join(tasks[i], NULL);
    double elapsed = bench_now() - start;
    free(tasks);
    return atomic_load(&spawn_counter) == n ? (double)n / elapsed : -1;
}

static double
spawn_many(unsigned workers)
{
    return bench_in_loop(workers, spawn_many_main, NULL);
}

/* --- yield_many: 200 tasks each yield 1,000 times --------------------- */

#define YIELDERS 200

static void *
yielder(void *arg)
{
    uint64_t n = (uint64_t)(uintptr_t)arg;

    for (uint64_t i = 0; i < n; i++)
        bcl_yield();
    return NULL;
}

/* Spawn YIELDERS tasks running `task`, each told to yield `per_task`
 * times (scaled), join them all; a task that returns non-NULL failed. */
struct yield_run {
    bcl_fn task;
    uint64_t per_task;
};

static double
yield_main(void *arg)
{
    const struct yield_run *run = arg;
    uint64_t per_task = bench_scale(run->per_task);
    bcl_task *tasks[YIELDERS];
    double start = bench_now();
    int failed = 0;

    for (int i = 0; i < YIELDERS; i++)
        if (bcl_spawn(&tasks[i], run->task, (void *)(uintptr_t)per_task) != 0)
            return -1;
    for (int i = 0; i < YIELDERS; i++) {
        void *r;

        bcl_join(tasks[i], &r);
        failed |= r != NULL;
    }
    return failed ? -1
                  : (double)(YIELDERS * per_task) / (bench_now() - start);
}

static double
yield_many(unsigned workers)
{
    struct yield_run run = { yielder, 1000 };

    return bench_in_loop(workers, yield_main, &run);
}

/* --- yield_timeouts: 200 tasks each yield 10,000 times, each holding a
 * timer armed 60 s ahead, as a server's connection tasks hold their read
 * timeouts: what a scheduling decision costs while timers are armed far
 * away (ten times yield_many's yields, so the stacks' first faults do not
 * weigh in the rate). ------------------------------------------------ */

#define FAR_TIMEOUT_NS 60000000000ull
#define YIELDS_WITH_TIMEOUT 10000

static void
timeout_never_fires(void *arg)
{
    (void)arg;
}

static void *
yielder_with_timeout(void *arg)
{
    bcl_timer *timeout;

    if (bcl_call_later(bcl_current(), FAR_TIMEOUT_NS,
                       timeout_never_fires, NULL, &timeout) != 0)
        return (void *)1;
    yielder(arg);
    return bcl_timer_cancel(timeout) == 0 ? NULL : (void *)1;
}

static double
yield_timeouts(unsigned workers)
{
    struct yield_run run = { yielder_with_timeout, YIELDS_WITH_TIMEOUT };

    return bench_in_loop(workers, yield_main, &run);
}

/* --- chained_spawn: each task spawns the next and exits --------------- */

struct chain {
    uint64_t remaining;
    struct bench_latch done;
};

static void *
chain_link(void *arg)
{
    struct chain *c = arg;

    if (--c->remaining == 0)
        bench_latch_open(&c->done);
    else if (bcl_spawn(NULL, chain_link, c) != 0)
        abort();
    return NULL;
}

static double
chained_spawn_main(void *arg)
{
    struct chain c = { .remaining = bench_scale(1000000) };
    uint64_t n = c.remaining;
    double start;

    (void)arg;
    bench_latch_init(&c.done);
    start = bench_now();
    if (bcl_spawn(NULL, chain_link, &c) != 0)
        return -1;
    bench_latch_wait(&c.done);
    return (double)n / (bench_now() - start);
}

static double
chained_spawn(unsigned workers)
{
    return bench_in_loop(workers, chained_spawn_main, NULL);
}

/* --- fib(30): a task per call for n >= 2 ------------------------------- */

static void *
fib(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    bcl_task *child;
    void *a = NULL;

    if (n < 2)
        return arg;
    if (bcl_spawn(&child, fib, (void *)(n - 1)) != 0)
        abort();
    uintptr_t b = (uintptr_t)fib((void *)(n - 2));
    bcl_join(child, &a);
    return (void *)((uintptr_t)a + b);
}

static double
fib_main(void *arg)
{
    uintptr_t n = bench_quick() ? 25 : 30;
    uintptr_t expected = bench_quick() ? 75025 : 832040;
    /* Spawned tasks: calls with n >= 2, i.e. fib(n+1) - 1. */
    double tasks = bench_quick() ? 121392 : 1346268;
    double start = bench_now();
    uintptr_t r;

    (void)arg;
    r = (uintptr_t)fib((void *)n);
    return r == expected ? tasks / (bench_now() - start) : -1;
}

static double
fib30(unsigned workers)
{
    return bench_in_loop(workers, fib_main, NULL);
}

/* --- skynet depth 6: 10-way tree of 1,111,111 tasks -------------------- */

struct skynet_arg {
    uint64_t num, size;
};

static void *
skynet(void *arg)
{
    struct skynet_arg *a = arg;
    struct skynet_arg child_args[10];
    bcl_task *children[10];
    uint64_t sum = 0;

    if (a->size == 1)
        return (void *)(uintptr_t)a->num;
    for (int i = 0; i < 10; i++) {
        child_args[i].num = a->num + (uint64_t)i * (a->size / 10);
        child_args[i].size = a->size / 10;
        if (bcl_spawn(&children[i], skynet, &child_args[i]) != 0)
            abort();
    }
    /* Newest first: each join finds its child on top of the deque. */
    for (int i = 9; i >= 0; i--) {
        void *r = NULL;

        bcl_join(children[i], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    return (void *)(uintptr_t)sum;
}

static double
skynet_main(void *arg)
{
    uint64_t size = bench_quick() ? 100000 : 1000000;
    struct skynet_arg root = { 0, size };
    double tasks = bench_quick() ? 111111 : 1111111;
    double start = bench_now();
    uint64_t r;

    (void)arg;
    r = (uint64_t)(uintptr_t)skynet(&root);
    return r == size * (size - 1) / 2 ? tasks / (bench_now() - start) : -1;
}

static double
skynet6(unsigned workers)
{
    return bench_in_loop(workers, skynet_main, NULL);
}

/* --- spawn + run + join of an empty task, ns per operation ------------- */

static void *
empty(void *arg)
{
    return arg;
}

static double
spawn_join_main(void *arg)
{
    uint64_t n = bench_scale(2000000);
    double start = bench_now();

    (void)arg;
    for (uint64_t i = 0; i < n; i++) {
        bcl_task *t;

        if (bcl_spawn(&t, empty, NULL) != 0 || bcl_join(t, NULL) != 0)
            return -1;
    }
    return (bench_now() - start) * 1e9 / (double)n;
}

static double
spawn_join_empty(unsigned workers)
{
    return bench_in_loop(workers, spawn_join_main, NULL);
}

const struct bench_case bench_exec_cases[] = {
    { "spawn_many", "tasks/s", spawn_many, true, 0 },
    { "yield_many", "yields/s", yield_many, true, 0 },
    { "yield_timeouts", "yields/s", yield_timeouts, true, 0 },
    { "chained_spawn", "spawns/s", chained_spawn, true, 0 },
    { "fib", "tasks/s", fib30, true, 0 },
    { "skynet", "tasks/s", skynet6, true, 0 },
    { "spawn_join_empty", "ns/op", spawn_join_empty, false, 0 },
};
const unsigned bench_exec_ncases =
    sizeof bench_exec_cases / sizeof bench_exec_cases[0];
