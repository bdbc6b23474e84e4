/*
 * tests/test.h - assertions for boucle's tests.
 *
 * Each test is `int test_<name>(void)` returning 0; a failed CHECK prints
 * the file, line, expression and both values, and returns 1 from the test.
 * The runner runs each test in a forked child, so a crash or a hang is
 * one failed test, not a broken run.
 */
#ifndef BCL_TESTS_TEST_H
#define BCL_TESTS_TEST_H

#include <boucle/exec.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Which sanitizer the tests run under (gcc and clang spell it apart). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            return 1;                                                      \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        int64_t check_a_ = (int64_t)(a), check_b_ = (int64_t)(b);          \
        if (check_a_ != check_b_) {                                        \
            fprintf(stderr,                                                \
                    "%s:%d: CHECK_EQ(%s, %s) failed: %" PRId64             \
                    " != %" PRId64 "\n",                                   \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);       \
            return 1;                                                      \
        }                                                                  \
    } while (0)

#define CHECK_PTR_EQ(a, b)                                                 \
    do {                                                                   \
        const void *check_a_ = (a), *check_b_ = (b);                       \
        if (check_a_ != check_b_) {                                        \
            fprintf(stderr, "%s:%d: CHECK_PTR_EQ(%s, %s) failed: %p != %p\n", \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);       \
            return 1;                                                      \
        }                                                                  \
    } while (0)

/* Inside a task body (returns void *): record the failure and return. */
#define TASK_CHECK(flag, cond)                                             \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: TASK_CHECK(%s) failed\n", __FILE__,    \
                    __LINE__, #cond);                                      \
            atomic_store(flag, 1);                                         \
        }                                                                  \
    } while (0)

/* A pthread entry that serves `loop` with bcl_run_forever until a
 * bcl_stop (for tests that drive a loop from plain threads). */
static inline void *
test_serve_forever(void *loop)
{
    bcl_run_forever(loop);
    return NULL;
}

/* A fresh loop of `workers` workers served by bcl_run_forever on its own
 * thread, for tests driven from this one; test_serve_end stops it, joins
 * the thread and frees the loop.  0, or 1 after a failed CHECK. */
static inline int
test_serve(unsigned workers, bcl_loop **loop, pthread_t *runner)
{
    bcl_config cfg = { .workers = workers };

    CHECK_EQ(bcl_loop_new(loop, &cfg), 0);
    CHECK_EQ(pthread_create(runner, NULL, test_serve_forever, *loop), 0);
    return 0;
}

static inline int
test_serve_end(bcl_loop *loop, pthread_t runner)
{
    CHECK_EQ(bcl_stop(loop), 0);
    CHECK_EQ(pthread_join(runner, NULL), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* A task that keeps its worker busy until released: on a one-worker
 * loop, a task woken meanwhile cannot run yet (tests of what a woken
 * caller may still touch).  Start it, wait for `running`, act, then set
 * `release`. */
struct test_hog {
    atomic_int running, release;
};

static inline void *
test_hog_task(void *arg)
{
    struct test_hog *hog = arg;

    atomic_store(&hog->running, 1);
    while (!atomic_load(&hog->release))
        sched_yield(); /* the thread's, not the task's: the worker stays */
    return NULL;
}

/* Run fn as the main task of a fresh loop of `workers` workers (result as
 * bcl_run_until_complete), then free the loop.  0, or the first error. */
static inline int
test_run_main(unsigned workers, bcl_fn fn, void *arg, void **result)
{
    bcl_config cfg = { .workers = workers };
    bcl_loop *loop;
    int err;

    if ((err = bcl_loop_new(&loop, &cfg)) != 0)
        return err;
    err = bcl_run_until_complete(loop, fn, arg, result);
    if (err == 0)
        err = bcl_loop_free(loop);
    else
        bcl_loop_free(loop);
    return err;
}

#endif /* BCL_TESTS_TEST_H */
