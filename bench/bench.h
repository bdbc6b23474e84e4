/*
 * bench/bench.h - shared pieces of boucle's benchmarks: the case table,
 * clocks, a one-waiter latch, and the quick mode.
 *
 * A case measures one workload at a given worker count and returns one
 * number (a rate, a time or a percentage, per its unit); main.c runs each
 * case several times and prints the median with min-max.  Loop creation
 * and teardown are never inside the measured time.
 */
#ifndef BCL_BENCH_H
#define BCL_BENCH_H

#include <boucle/boucle.h>

#include <stdbool.h>
#include <stdint.h>

#include "exec/suspend.h"

struct bench_case {
    const char *name;
    const char *unit;             /* printed after the number */
    double (*run)(unsigned workers); /* < 0: the case failed */
    bool higher_is_better;
    unsigned runs;                /* 0: the suite's default */
};

/* Cases, defined in bench_*.c. */
extern const struct bench_case bench_exec_cases[];
extern const unsigned bench_exec_ncases;
extern const struct bench_case bench_queue_cases[];
extern const unsigned bench_queue_ncases;
extern const struct bench_case bench_time_cases[];
extern const unsigned bench_time_ncases;
extern const struct bench_case bench_fiber_cases[];
extern const unsigned bench_fiber_ncases;
extern const struct bench_case bench_system_cases[];
extern const unsigned bench_system_ncases;

double bench_now(void);        /* seconds, CLOCK_MONOTONIC */
bool bench_quick(void);        /* BENCH_QUICK=1: 1/10 of N */
uint64_t bench_scale(uint64_t n); /* n, or n / 10 in quick mode */
long bench_rss_kib(void);      /* current resident set, KiB */

/* Run fn(arg) as the main task of the suite's loop with `workers`
 * workers and return what it returns (a measured value); -1 on error. */
double bench_in_loop(unsigned workers, double (*fn)(void *), void *arg);
/* Free the loops bench_in_loop made; nonzero if one could not be freed. */
int bench_loops_free(void);

/* A latch one task waits on until another task opens it. */
struct bench_latch {
    _Atomic int open;
    _Atomic(struct bcl__waiter *) waiter;
};
void bench_latch_init(struct bench_latch *l);
void bench_latch_wait(struct bench_latch *l);
void bench_latch_open(struct bench_latch *l);

#endif /* BCL_BENCH_H */
