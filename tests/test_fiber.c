/*
 * tests/test_fiber.c - the context switch alone (white-box, exec/fiber.h):
 * values live across switches survive, each fiber keeps its own floating-
 * point control state, and a stack overflow is reported, not silent.
 */
#include <boucle/boucle.h>

#include <fenv.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/fiber.h"
#include "exec/stack.h"
#include "tests/test.h"

#define ROUNDS 100000

static struct bcl__fiber_ctx main_ctx, fiber_ctx;
static uint64_t fiber_sum;
static int fiber_round_mode;

static void
fiber_body(void *arg)
{
    uint64_t local = (uint64_t)(uintptr_t)arg; /* lives in a callee-saved reg */

    fesetround(FE_UPWARD);
    for (int i = 0; i < ROUNDS; i++) {
        local += (uint64_t)i;
        fiber_sum = local;
        fiber_round_mode = fegetround();
        bcl__fiber_switch(&fiber_ctx, &main_ctx, false);
    }
    bcl__fiber_switch(&fiber_ctx, &main_ctx, true);
}

int
test_fiber_switch_preserves_state(void)
{
    struct bcl__stack_params params;
    struct bcl__stack *stack;
    uint64_t expected = 7, mine = 0;

    CHECK_EQ(bcl__stack_params_init(&params, 0, false), 0);
    stack = bcl__stack_new(&params);
    CHECK(stack != NULL);
    bcl__fiber_init_thread(&main_ctx);
    bcl__fiber_init(&fiber_ctx, stack->lo, stack->size, fiber_body,
                    (void *)(uintptr_t)7);
    fesetround(FE_TONEAREST);
    for (int i = 0; i < ROUNDS; i++) {
        bcl__fiber_switch(&main_ctx, &fiber_ctx, false);
        expected += (uint64_t)i;
        mine += 3;
        CHECK_EQ(fiber_sum, expected);
        CHECK_EQ(fiber_round_mode, FE_UPWARD);
        CHECK_EQ(fegetround(), FE_TONEAREST);
    }
    bcl__fiber_switch(&main_ctx, &fiber_ctx, false); /* fiber exits */
    CHECK_EQ(mine, 3ull * ROUNDS);
    bcl__fiber_destroy(&fiber_ctx);
    bcl__fiber_destroy(&main_ctx);
    bcl__stack_free(stack);
    return 0;
}

/* --- stack overflow, in a child process ---------------------------- */

static volatile int overflow_limit = 1 << 30; /* never reached */

static int
overflow_recurse(volatile char *previous, int depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    frame[511] = previous ? previous[0] : 0;
    if (depth == overflow_limit)
        return 0;
    return overflow_recurse(frame, depth + 1) + frame[100];
}

static void *
overflow_task(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)overflow_recurse(NULL, 0);
}

static void
overflow_child(unsigned flags)
{
    bcl_loop *loop;
    bcl_config cfg = { .workers = 1, .flags = flags };

    if (bcl_loop_new(&loop, &cfg) != 0)
        _exit(3);
    bcl_run_until_complete(loop, overflow_task, NULL, NULL);
    _exit(4); /* not reached: the overflow aborts */
}

/* Overflow a task's stack guarded the way `flags` asks; the process must
 * print the message and abort. */
static int
overflow_reported(unsigned flags)
{
    int fds[2], status;
    char out[512] = { 0 };
    ssize_t got = 0, r;
    pid_t pid;

    CHECK_EQ(pipe(fds), 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        overflow_child(flags);
    }
    close(fds[1]);
    while ((r = read(fds[0], out + got, sizeof out - 1 - (size_t)got)) > 0)
        got += r;
    close(fds[0]);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
#if TEST_ASAN
    /* ASan may own SIGSEGV: then it reports the overflow itself. */
    if (strstr(out, "stack-overflow") != NULL) {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        return 0;
    }
#endif
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGABRT);
    CHECK(strstr(out, "boucle: task stack overflow") != NULL);
    return 0;
}

/* The default guard: MADV_GUARD_INSTALL where the kernel has it. */
int
test_stack_overflow_reported(void)
{
    return overflow_reported(0);
}

int
test_stack_overflow_reported_mprotect(void)
{
    return overflow_reported(BCL_GUARD_MPROTECT);
}

/* The pool's trim rule (stack.h), on a clock of our own: a surplus is
 * first watched for a period; then what the period left unused is
 * unmapped, a batch per call, and what it used stays, watched afresh. */
int
test_stack_pool_trim_decays(void)
{
    const unsigned keep = BCL__STACK_POOL_KEEP;
    const uint64_t period = BCL__STACK_TRIM_PERIOD_NS, t = 1000;
    struct bcl__stack_params params;
    struct bcl__stack_pool pool = { 0 };
    struct bcl__stack *taken[100];
    unsigned calls = 0;

    CHECK_EQ(bcl__stack_params_init(&params, 0, false), 0);
    for (unsigned i = 0; i < keep + 300; i++) {
        struct bcl__stack *s = bcl__stack_new(&params);

        CHECK(s != NULL);
        bcl__stack_put(&pool, s);
    }
    CHECK(!bcl__stack_pool_trim(&pool, t, 64));
    CHECK_EQ(pool.count, keep + 300);
    CHECK(!bcl__stack_pool_trim(&pool, t + period - 1, 64));
    /* 100 taken and given back within the period: 200 stay unused. */
    for (unsigned i = 0; i < 100; i++)
        CHECK((taken[i] = bcl__stack_get(&pool, &params)) != NULL);
    for (unsigned i = 0; i < 100; i++)
        bcl__stack_put(&pool, taken[i]);
    CHECK_EQ(pool.count, keep + 300);
    while (bcl__stack_pool_trim(&pool, t + period, 64))
        calls++;
    CHECK_EQ(calls, 4); /* 64 + 64 + 64 + 8 */
    CHECK_EQ(pool.count, keep + 100);
    /* The 100 left are watched for a new period, then go too. */
    CHECK_EQ(pool.trim_at, t + 2 * period);
    CHECK(!bcl__stack_pool_trim(&pool, t + 2 * period - 1, 64));
    while (bcl__stack_pool_trim(&pool, t + 2 * period, 64))
        ;
    CHECK_EQ(pool.count, keep);
    CHECK_EQ(pool.trim_at, 0);
    bcl__stack_pool_destroy(&pool);
    CHECK_EQ(pool.count, 0);
    return 0;
}
