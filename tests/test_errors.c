/*
 * tests/test_errors.c - bad input and wrong contexts return the documented
 * negative errno, never crash; bcl_strerror names every code.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/test.h"

static void *
nothing(void *arg)
{
    return arg;
}

int
test_errors_null_handles(void)
{
    bcl_stats stats;

    CHECK_EQ(bcl_loop_new(NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_loop_free(NULL), -EINVAL);
    CHECK_EQ(bcl_run_until_complete(NULL, nothing, NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_run_forever(NULL), -EINVAL);
    CHECK_EQ(bcl_stop(NULL), -EINVAL);
    CHECK_EQ(bcl_spawn_on(NULL, NULL, nothing, NULL), -EINVAL);
    CHECK_EQ(bcl_join(NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_detach(NULL), -EINVAL);
    CHECK_EQ(bcl_cancel(NULL), -EINVAL);
    CHECK_EQ(bcl_loop_stats(NULL, &stats, 1, NULL), -EINVAL);
    CHECK_PTR_EQ(bcl_current(), NULL);
    CHECK_PTR_EQ(bcl_current_task(), NULL);
    CHECK_EQ(bcl_worker_index(), -EPERM);
    return 0;
}

int
test_errors_bad_config(void)
{
    bcl_loop *loop = NULL;
    bcl_config too_many = { .workers = 5000 };
    bcl_config bad_flags = { .flags = 1u << 30 };
    bcl_config huge_stack = { .stack_size = (size_t)1 << 40 };
    bcl_stats stats[4];
    unsigned n = 0;

    CHECK_EQ(bcl_loop_new(&loop, &too_many), -EINVAL);
    CHECK_EQ(bcl_loop_new(&loop, &bad_flags), -EINVAL);
    CHECK_EQ(bcl_loop_new(&loop, &huge_stack), -EINVAL);
    CHECK_PTR_EQ(loop, NULL);
    CHECK_EQ(bcl_loop_new(&loop, &(bcl_config){ .workers = 3 }), 0);
    CHECK_EQ(bcl_run_until_complete(loop, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_spawn_on(loop, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_loop_stats(loop, NULL, 1, &n), -EINVAL);
    CHECK_EQ(bcl_loop_stats(loop, stats, 4, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* Calls that need a task, made from a plain thread. */
int
test_errors_spawn_from_thread(void)
{
    bcl_task *t = NULL;

    CHECK_EQ(bcl_spawn(&t, nothing, NULL), -EPERM);
    CHECK_EQ(bcl_spawn(NULL, NULL, NULL), -EINVAL);
    CHECK_PTR_EQ(t, NULL);
    bcl_yield(); /* a plain thread just yields the CPU */
    return 0;
}

/* Calls that a task must not make, and joins that make no sense. */
static _Atomic int task_failed;

static void *
misuse_main(void *arg)
{
    bcl_loop *loop = arg;
    bcl_task *t;

    TASK_CHECK(&task_failed,
               bcl_run_until_complete(loop, nothing, NULL, NULL) == -EPERM);
    TASK_CHECK(&task_failed, bcl_run_forever(loop) == -EPERM);
    TASK_CHECK(&task_failed, bcl_loop_free(loop) == -EPERM);
    TASK_CHECK(&task_failed, bcl_join(bcl_current_task(), NULL) == -EINVAL);
    TASK_CHECK(&task_failed, bcl_current() == loop);
    TASK_CHECK(&task_failed, bcl_spawn(&t, nothing, NULL) == 0);
    TASK_CHECK(&task_failed, bcl_detach(t) == 0);
    return NULL;
}

int
test_errors_wrong_context(void)
{
    bcl_loop *loop;

    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_run_until_complete(loop, misuse_main, loop, NULL), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* A run on a running loop, and freeing it, give -EBUSY. */
static sem_t running;

static void *
signal_running(void *arg)
{
    (void)arg;
    sem_post(&running);
    return NULL;
}

int
test_errors_run_on_running_loop(void)
{
    bcl_loop *loop;
    pthread_t thread;

    CHECK_EQ(sem_init(&running, 0, 0), 0);
    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_spawn_on(loop, NULL, signal_running, NULL), 0);
    CHECK_EQ(pthread_create(&thread, NULL, test_serve_forever, loop), 0);
    while (sem_wait(&running) != 0)
        continue;
    CHECK_EQ(bcl_run_until_complete(loop, nothing, NULL, NULL), -EBUSY);
    CHECK_EQ(bcl_run_forever(loop), -EBUSY);
    CHECK_EQ(bcl_loop_free(loop), -EBUSY);
    CHECK_EQ(bcl_stop(loop), 0);
    pthread_join(thread, NULL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    sem_destroy(&running);
    return 0;
}

int
test_errors_strerror(void)
{
    const int codes[] = { EINVAL, ENOMEM, EAGAIN, ETIMEDOUT, ECANCELED,
                          EPIPE,  EBUSY,  EPERM };

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(strcmp(bcl_strerror(-codes[i]), "unknown error") != 0);
        CHECK(strcmp(bcl_strerror(-codes[i]), bcl_strerror(codes[i])) == 0);
    }
    CHECK(strcmp(bcl_strerror(0), "success") == 0);
    CHECK(strcmp(bcl_strerror(-99999), "unknown error") == 0);
    CHECK(strcmp(bcl_strerror(-ECANCELED), "cancelled") == 0);
    return 0;
}
