/*
 * bench/bench_fiber.c - the bare context switch, ns per switch (one
 * direction), measured between two contexts on one thread.
 */
#include "bench/bench.h"

#include "exec/fiber.h"
#include "exec/stack.h"

static struct bcl__fiber_ctx main_ctx, other_ctx;

static void
bounce(void *arg)
{
    (void)arg;
    for (;;)
        bcl__fiber_switch(&other_ctx, &main_ctx, false);
}

static double
fiber_switch(unsigned workers)
{
    struct bcl__stack_params params;
    struct bcl__stack *stack;
    uint64_t n = bench_scale(10000000);
    double start, elapsed;

    (void)workers;
    if (bcl__stack_params_init(&params, 0, false) != 0 ||
        (stack = bcl__stack_new(&params)) == NULL)
        return -1;
    bcl__fiber_init_thread(&main_ctx);
    bcl__fiber_init(&other_ctx, stack->lo, stack->size, bounce, NULL);
    start = bench_now();
    for (uint64_t i = 0; i < n; i++)
        bcl__fiber_switch(&main_ctx, &other_ctx, false);
    elapsed = bench_now() - start;
    /* The bouncing fiber stays switched out forever: just unmap it. */
    bcl__fiber_destroy(&other_ctx);
    bcl__stack_free(stack);
    return elapsed * 1e9 / (double)(2 * n);
}

const struct bench_case bench_fiber_cases[] = {
    { "fiber_switch", "ns", fiber_switch, false, 0 },
};
const unsigned bench_fiber_ncases =
    sizeof bench_fiber_cases / sizeof bench_fiber_cases[0];
