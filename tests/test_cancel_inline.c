/*
 * tests/test_cancel_inline.c - cancelling a task cancels the child that
 * bcl_join runs inline on its stack (docs/design.md, "Cancellation"):
 * while the child waits, before it waits, when it never waits, two levels
 * deep, and raced by a canceller thread.  White-box only to check that
 * the child really ran inline (exec/task.h, inline_host).
 *
 * On one worker nothing can steal the child, so every join here is
 * inline.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "exec/task.h"
#include "tests/test.h"

#define HOUR (3600ull * 1000000000ull)

/* What a child saw, for the test to check after the run. */
struct inline_probe {
    _Atomic int ran_inline; /* 1 if it ran on its host's stack */
    _Atomic int wait_rc;    /* its sleep's return value; 1: never slept */
    _Atomic int waiting;    /* 1 just before it suspends */
    bool sleeps;            /* the innermost child sleeps an hour */
    bcl_task *host;         /* a host it cancels itself first, or NULL */
    int depth;              /* > 0: spawn and join one more level */
};

static void *child_main(void *arg);

/* Spawn a child with `probe` and join it (inline: it is our newest).
 * Returns the join's result, or its error. */
static void *
join_child(struct inline_probe *probe)
{
    bcl_task *child;
    void *r = NULL;
    int rc;

    if (bcl_spawn(&child, child_main, probe) != 0)
        return (void *)(intptr_t)-1000;
    rc = bcl_join(child, &r);
    return rc != 0 ? (void *)(intptr_t)rc : r;
}

static void *
child_main(void *arg)
{
    struct inline_probe *probe = arg;

    atomic_store(&probe->ran_inline, bcl_current_task()->inline_host != NULL);
    if (probe->depth > 0) {
        probe->depth--;
        return join_child(probe);
    }
    if (probe->host != NULL)
        bcl_cancel(probe->host); /* while we run: we are not published */
    if (probe->sleeps) {
        atomic_store(&probe->waiting, 1);
        atomic_store(&probe->wait_rc, bcl_sleep(HOUR));
    }
    return NULL;
}

static void *
host_main(void *arg)
{
    return join_child(arg);
}

/* Spawn a host; cancel it once its (grand)child sleeps (from outside),
 * or let the child cancel it (probe->host).  Returns the host's join
 * error and stores its result. */
static void *
cancel_host(void *arg)
{
    struct inline_probe *probe = arg;
    bool from_child = probe->host != NULL;
    bcl_task *host;
    void *r = NULL;
    int rc;

    if (bcl_spawn(&host, host_main, probe) != 0)
        return (void *)1;
    if (from_child) {
        probe->host = host;
    } else {
        /* One worker: we run again only once the child has suspended. */
        while (!atomic_load(&probe->waiting))
            bcl_yield();
        bcl_cancel(host);
    }
    rc = bcl_join(host, &r);
    /* The host ends cancelled (its own status), and its join of the
     * child reported the cancellation the child inherited from it. */
    return (void *)(intptr_t)(rc == -ECANCELED &&
                                      (intptr_t)r == -ECANCELED
                                  ? 0
                                  : 2);
}

int
test_cancel_inline_waiting_child(void)
{
    for (int depth = 0; depth <= 2; depth++) {
        struct inline_probe probe = { .wait_rc = 1, .sleeps = true,
                                      .depth = depth };
        void *r = (void *)9;

        CHECK_EQ(test_run_main(1, cancel_host, &probe, &r), 0);
        CHECK_PTR_EQ(r, NULL);
        CHECK_EQ(atomic_load(&probe.ran_inline), 1);
        CHECK_EQ(atomic_load(&probe.wait_rc), -ECANCELED);
    }
    return 0;
}

/* The child cancels its host while it runs, before it ever suspends,
 * then sleeps (which must end at once) or returns without sleeping. */
int
test_cancel_inline_running_child(void)
{
    static char marker;

    for (int sleeps = 0; sleeps <= 1; sleeps++) {
        struct inline_probe probe = { .wait_rc = 1, .sleeps = sleeps,
                                      .host = (bcl_task *)&marker };
        void *r = (void *)9;

        CHECK_EQ(test_run_main(1, cancel_host, &probe, &r), 0);
        CHECK_PTR_EQ(r, NULL);
        CHECK_EQ(atomic_load(&probe.ran_inline), 1);
        CHECK_EQ(atomic_load(&probe.wait_rc), sleeps ? -ECANCELED : 1);
    }
    return 0;
}

/* --- raced: a plain thread cancels the host at an arbitrary moment ---- */

#define RACE_ROUNDS 20000

static void *
racing_child(void *arg)
{
    struct inline_probe *probe = arg;

    /* Cancelled before its join, the host detached us (bcl_join's
     * -ECANCELED) and we run later, on our own: the round, and its
     * probe, may be over. */
    if (bcl_current_task()->inline_host == NULL)
        return NULL;
    atomic_store(&probe->ran_inline, 1);
    atomic_store(&probe->wait_rc, bcl_sleep(HOUR));
    return NULL;
}

static void *
racing_host(void *arg)
{
    bcl_task *child;
    void *r = NULL;

    if (bcl_spawn(&child, racing_child, arg) != 0)
        return (void *)1;
    bcl_join(child, &r);
    return NULL;
}

int
test_cancel_inline_race(void)
{
    bcl_config cfg = { .workers = 1 };
    bcl_loop *loop;
    pthread_t runner;
    unsigned spins = 1;

    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(pthread_create(&runner, NULL, test_serve_forever, loop), 0);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        struct inline_probe probe = { .wait_rc = 1 };
        bcl_task *host;

        CHECK_EQ(bcl_spawn_on(loop, &host, racing_host, &probe), 0);
        /* Vary the moment: before the host starts, while the child runs,
         * while it publishes itself, once it sleeps. */
        for (unsigned i = 0; i < spins; i++)
            sched_yield();
        spins = spins * 7 % 13 + 1;
        CHECK_EQ(bcl_cancel(host), 0);
        /* Hangs if the cancel missed the sleeping child. */
        CHECK_EQ(bcl_join(host, NULL), -ECANCELED);
        /* If the child ran, it ran inline and its hour-long sleep ended
         * cancelled (at its check, or woken). */
        if (atomic_load(&probe.wait_rc) != 1) {
            CHECK_EQ(atomic_load(&probe.ran_inline), 1);
            CHECK_EQ(atomic_load(&probe.wait_rc), -ECANCELED);
        }
    }
    CHECK_EQ(bcl_stop(loop), 0);
    pthread_join(runner, NULL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}
