/*
 * tests/test_spawn.c - spawn, join, detach, yield, cancel-before-start,
 * inline join, deep nesting, migration of started tasks.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test.h"

static _Atomic int task_failed;

/* --- 10^6 spawns joined, exact checksum --------------------------- */

#if TEST_TSAN
/* TSan makes a shadow fiber per task start: 10^6 take minutes there. */
#define MANY 100000
#else
#define MANY 1000000
#endif

static void *
square(void *arg)
{
    uintptr_t x = (uintptr_t)arg;

    return (void *)(x * x);
}

static void *
spawn_many_main(void *arg)
{
    uint64_t sum = 0;
    bcl_task *batch[1000];

    (void)arg;
    for (uintptr_t base = 0; base < MANY; base += 1000) {
        for (uintptr_t i = 0; i < 1000; i++)
            TASK_CHECK(&task_failed,
                       bcl_spawn(&batch[i], square, (void *)(base + i)) == 0);
        /* Join in spawn order: most children are not the newest on the
         * deque, so both the inline and the suspending join run. */
        for (uintptr_t i = 0; i < 1000; i++) {
            void *r = NULL;

            TASK_CHECK(&task_failed, bcl_join(batch[i], &r) == 0);
            sum += (uint64_t)(uintptr_t)r;
        }
    }
    return (void *)(uintptr_t)sum;
}

static int
spawn_join_checksum(unsigned workers)
{
    uint64_t expected = 0;
    void *result = NULL;

    for (uint64_t i = 0; i < MANY; i++)
        expected += i * i;
    CHECK_EQ(test_run_main(workers, spawn_many_main, NULL, &result), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ((uint64_t)(uintptr_t)result, expected);
    return 0;
}

int test_spawn_join_w1(void) { return spawn_join_checksum(1); }
int test_spawn_join_w2(void) { return spawn_join_checksum(2); }
int test_spawn_join_w4(void) { return spawn_join_checksum(4); }

/* --- fork-join recursion (fib) joins newest-first: inline path ------ */

static void *
fib(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    bcl_task *child;
    void *a = NULL;

    if (n < 2)
        return arg;
    TASK_CHECK(&task_failed, bcl_spawn(&child, fib, (void *)(n - 1)) == 0);
    uintptr_t b = (uintptr_t)fib((void *)(n - 2));
    TASK_CHECK(&task_failed, bcl_join(child, &a) == 0);
    return (void *)((uintptr_t)a + b);
}

static int
fib_check(unsigned workers)
{
    void *result = NULL;

    CHECK_EQ(test_run_main(workers, fib, (void *)(uintptr_t)25, &result), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ((uintptr_t)result, 75025);
    return 0;
}

int test_spawn_fib_w1(void) { return fib_check(1); }
int test_spawn_fib_w2(void) { return fib_check(2); }

/* --- nested spawn depth 10^5 ---------------------------------------- */

#define DEPTH 100000

static void *
nest(void *arg)
{
    uintptr_t depth = (uintptr_t)arg;
    bcl_task *child;
    void *r = NULL;

    if (depth == DEPTH)
        return (void *)depth;
    TASK_CHECK(&task_failed, bcl_spawn(&child, nest, (void *)(depth + 1)) == 0);
    TASK_CHECK(&task_failed, bcl_join(child, &r) == 0);
    return r;
}

int
test_spawn_nested_depth(void)
{
    void *result = NULL;

    CHECK_EQ(test_run_main(2, nest, (void *)0, &result), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ((uintptr_t)result, DEPTH);
    return 0;
}

/* --- detach: detached tasks all run, records freed by themselves ---- */

#define DETACHED 10000
static _Atomic int detached_ran;

/* A task body that counts its run in the _Atomic int it is given. */
static void *
count_once(void *counter)
{
    atomic_fetch_add((_Atomic int *)counter, 1);
    return NULL;
}

static void *
detach_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < DETACHED; i++) {
        bcl_task *t;

        if (i % 2) {
            TASK_CHECK(&task_failed,
                       bcl_spawn(NULL, count_once, &detached_ran) == 0);
        } else {
            TASK_CHECK(&task_failed,
                       bcl_spawn(&t, count_once, &detached_ran) == 0);
            TASK_CHECK(&task_failed, bcl_detach(t) == 0);
        }
    }
    /* Wait cooperatively: yielding lets the detached tasks run. */
    while (atomic_load(&detached_ran) < DETACHED)
        bcl_yield();
    return NULL;
}

int
test_spawn_detach(void)
{
    CHECK_EQ(test_run_main(2, detach_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(atomic_load(&detached_ran), DETACHED);
    return 0;
}

/* --- yield: round-robin among the yielding tasks on one worker ------- */

#define YIELDERS 4
#define TURNS 100
static int turn_log[YIELDERS * TURNS];
static int turn_count;

static void *
yielder(void *arg)
{
    for (int i = 0; i < TURNS; i++) {
        turn_log[turn_count++] = (int)(uintptr_t)arg;
        bcl_yield();
    }
    return NULL;
}

static void *
yield_main(void *arg)
{
    bcl_task *t[YIELDERS];

    (void)arg;
    for (uintptr_t i = 0; i < YIELDERS; i++)
        TASK_CHECK(&task_failed, bcl_spawn(&t[i], yielder, (void *)i) == 0);
    for (int i = 0; i < YIELDERS; i++)
        TASK_CHECK(&task_failed, bcl_join(t[i], NULL) == 0);
    return NULL;
}

int
test_yield_round_robin(void)
{
    int done[YIELDERS] = { 0 };

    CHECK_EQ(test_run_main(1, yield_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(turn_count, YIELDERS * TURNS);
    /* Fair: no task gets two turns ahead of any other still running. */
    for (int i = 0; i < turn_count; i++) {
        int who = turn_log[i];

        done[who]++;
        for (int other = 0; other < YIELDERS; other++)
            if (done[other] < TURNS)
                CHECK(done[who] <= done[other] + 1);
    }
    return 0;
}

/* --- a yielding task does not starve the injection queue ------------ */

static _Atomic int injected_ran;

static void *
set_injected(void *arg)
{
    (void)arg;
    atomic_store(&injected_ran, 1);
    return NULL;
}

static void *
spawn_from_outside(void *arg)
{
    bcl_loop *loop = arg;

    TASK_CHECK(&task_failed, bcl_spawn_on(loop, NULL, set_injected, NULL) == 0);
    return NULL;
}

static void *
yield_until_injected(void *arg)
{
    pthread_t thread;

    pthread_create(&thread, NULL, spawn_from_outside, arg);
    while (atomic_load(&injected_ran) == 0)
        bcl_yield(); /* one worker: only the tick rule lets it in */
    pthread_join(thread, NULL);
    return NULL;
}

int
test_yield_no_starvation(void)
{
    bcl_config cfg = { .workers = 1 };
    bcl_loop *loop;

    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, yield_until_injected, loop, NULL), 0);
    CHECK_EQ(atomic_load(&injected_ran), 1);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* --- cancel before start: never runs, join says -ECANCELED ---------- */

static _Atomic int cancelled_ran;

static void *
must_not_run(void *arg)
{
    (void)arg;
    atomic_store(&cancelled_ran, 1);
    return (void *)1;
}

static void *
cancel_child_main(void *arg)
{
    bcl_task *t;
    void *r = (void *)0x1234;

    (void)arg;
    TASK_CHECK(&task_failed, bcl_spawn(&t, must_not_run, NULL) == 0);
    TASK_CHECK(&task_failed, bcl_cancel(t) == 0);
    TASK_CHECK(&task_failed, bcl_cancel(t) == 0); /* sticky, idempotent */
    TASK_CHECK(&task_failed, bcl_join(t, &r) == -ECANCELED);
    TASK_CHECK(&task_failed, r == NULL);
    return NULL;
}

int
test_cancel_before_start(void)
{
    /* One worker: the child cannot start before its parent cancels it
     * (with two, an idle worker may steal and start it first). */
    bcl_config cfg = { .workers = 1 };
    bcl_loop *loop;
    bcl_task *queued;
    void *r = (void *)0x1234;

    /* Queued before the run (ensure_future), cancelled, then run. */
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_spawn_on(loop, &queued, must_not_run, NULL), 0);
    CHECK_EQ(bcl_cancel(queued), 0);
    CHECK_EQ(bcl_run_until_complete(loop, cancel_child_main, NULL, NULL), 0);
    CHECK_EQ(bcl_join(queued, &r), -ECANCELED);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(atomic_load(&cancelled_ran), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* --- a task that ends hands its stack to the next, unstarted one ------ */

/* Each link spawns the next link, then a task it cancels at once, and
 * returns: at one worker the cancelled task is the newest on the deque,
 * so the ending link's stack hand-off (worker.c, worker_run_next_here)
 * first finishes it unstarted, then runs the next link on that stack. */
#define CHAIN_LINKS 20000

static bcl_task *chain_links[CHAIN_LINKS];
static bcl_task *chain_victims[CHAIN_LINKS];
static _Atomic uint64_t chain_ran; /* links run so far */
static _Atomic int victims_ran;
static bcl_event *chain_done; /* set by the last link */
static unsigned chain_workers;

static void *
chain_link(void *arg)
{
    uintptr_t i = (uintptr_t)arg;

    /* In order, once each, and the current task is this link's handle. */
    TASK_CHECK(&task_failed, atomic_fetch_add(&chain_ran, 1) == i);
    TASK_CHECK(&task_failed, bcl_current_task() == chain_links[i]);
    if (i + 1 < CHAIN_LINKS) {
        TASK_CHECK(&task_failed, bcl_spawn(&chain_links[i + 1], chain_link,
                                           (void *)(i + 1)) == 0);
        TASK_CHECK(&task_failed,
                   bcl_spawn(&chain_victims[i], count_once,
                             &victims_ran) == 0);
        TASK_CHECK(&task_failed, bcl_cancel(chain_victims[i]) == 0);
    } else {
        TASK_CHECK(&task_failed, bcl_event_set(chain_done) == 0);
    }
    return (void *)(i * 3);
}

static void *
chain_main(void *arg)
{
    (void)arg;
    TASK_CHECK(&task_failed,
               bcl_spawn(&chain_links[0], chain_link, (void *)0) == 0);
    /* Wait for the end before joining: a join of an unstarted link would
     * run it inline on our stack instead.  Link i's handle was stored by
     * link i - 1, which ended first. */
    TASK_CHECK(&task_failed, bcl_event_wait(chain_done) == 0);
    for (uintptr_t i = 0; i < CHAIN_LINKS; i++) {
        void *r = NULL;

        TASK_CHECK(&task_failed, bcl_join(chain_links[i], &r) == 0);
        TASK_CHECK(&task_failed, r == (void *)(i * 3));
        if (i + 1 < CHAIN_LINKS) {
            /* With two workers a thief may run a victim to its end before
             * the cancel: then it ends normally (count_once returns NULL). */
            int rc;

            r = (void *)0x1234;
            rc = bcl_join(chain_victims[i], &r);
            TASK_CHECK(&task_failed, rc == -ECANCELED ||
                                         (rc == 0 && chain_workers > 1));
            TASK_CHECK(&task_failed, r == NULL);
        }
    }
    return NULL;
}

static int
chain_hands_stack(unsigned workers)
{
    chain_workers = workers;
    atomic_store(&chain_ran, 0);
    atomic_store(&victims_ran, 0);
    CHECK_EQ(bcl_event_new(&chain_done), 0);
    CHECK_EQ(test_run_main(workers, chain_main, NULL, NULL), 0);
    CHECK_EQ(bcl_event_free(chain_done), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    CHECK_EQ(atomic_load(&chain_ran), CHAIN_LINKS);
    if (workers == 1)
        CHECK_EQ(atomic_load(&victims_ran), 0);
    return 0;
}

int test_spawn_chain_hands_stack_w1(void) { return chain_hands_stack(1); }
int test_spawn_chain_hands_stack_w2(void) { return chain_hands_stack(2); }

/* --- started tasks may migrate; the library's per-thread state follows */

#define MIGRANTS 64
#define MIGRANT_YIELDS 2000
static _Atomic(pthread_t) worker_thread[2];
static _Atomic int migrations;

/* Which thread runs us, asked without letting the compiler cache it. */
static __attribute__((noinline)) pthread_t
this_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

static void *
migrant(void *arg)
{
    bcl_task *self = bcl_current_task();
    int last = -1;

    (void)arg;
    for (int i = 0; i < MIGRANT_YIELDS; i++) {
        int index = bcl_worker_index();
        pthread_t none = 0, me = this_thread();

        TASK_CHECK(&task_failed, index == 0 || index == 1);
        /* Each worker index always names the same thread. */
        atomic_compare_exchange_strong(&worker_thread[index], &none, me);
        TASK_CHECK(&task_failed,
                   pthread_equal(atomic_load(&worker_thread[index]), me));
        TASK_CHECK(&task_failed, bcl_current_task() == self);
        if (last >= 0 && last != index)
            atomic_fetch_add(&migrations, 1);
        last = index;
        bcl_yield();
    }
    return NULL;
}

static void *
migrate_main(void *arg)
{
    bcl_task *t[MIGRANTS];

    (void)arg;
    for (int i = 0; i < MIGRANTS; i++)
        TASK_CHECK(&task_failed, bcl_spawn(&t[i], migrant, NULL) == 0);
    for (int i = 0; i < MIGRANTS; i++)
        TASK_CHECK(&task_failed, bcl_join(t[i], NULL) == 0);
    return NULL;
}

int
test_migration_keeps_worker_state(void)
{
    CHECK_EQ(test_run_main(2, migrate_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&task_failed), 0);
    fprintf(stderr, "# %d migrations observed\n", atomic_load(&migrations));
    return 0;
}
