/*
 * tests/test_run.c - run_until_complete and run_forever: repeated runs,
 * ensure_future then run_forever, stop from a thread and by SIGINT,
 * pending tasks kept for the next run, loop_free of queued tasks.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "exec/loop.h"
#include "tests/test.h"

static void *
return_arg(void *arg)
{
    return arg;
}

int
test_run_until_complete_twice(void)
{
    bcl_loop *loop;
    void *r = NULL;

    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_run_until_complete(loop, return_arg, (void *)11, &r), 0);
    CHECK_PTR_EQ(r, (void *)11);
    CHECK_EQ(bcl_run_until_complete(loop, return_arg, (void *)22, &r), 0);
    CHECK_PTR_EQ(r, (void *)22);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* ensure_future + run_forever: queued tasks run, the last one stops. */
#define QUEUED 100
static _Atomic int queued_ran;

static void *
queued_task(void *arg)
{
    if (atomic_fetch_add(&queued_ran, 1) + 1 == QUEUED)
        bcl_stop(arg);
    return NULL;
}

int
test_run_forever_queued_then_stop(void)
{
    bcl_loop *loop;

    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    for (int i = 0; i < QUEUED; i++)
        CHECK_EQ(bcl_spawn_on(loop, NULL, queued_task, loop), 0);
    CHECK_EQ(atomic_load(&queued_ran), 0); /* nothing runs before the run */
    CHECK_EQ(bcl_run_forever(loop), 0);
    CHECK_EQ(atomic_load(&queued_ran), QUEUED);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* run_forever stopped from another thread; a stop before the run ends
 * the next run at once. */
static sem_t started;

static void *
announce(void *arg)
{
    (void)arg;
    sem_post(&started);
    return NULL;
}

static void *
stopper(void *arg)
{
    while (sem_wait(&started) != 0)
        continue;
    bcl_stop(arg);
    return NULL;
}

int
test_run_forever_stop_from_thread(void)
{
    bcl_loop *loop;
    pthread_t thread;

    CHECK_EQ(sem_init(&started, 0, 0), 0);
    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_spawn_on(loop, NULL, announce, NULL), 0);
    CHECK_EQ(pthread_create(&thread, NULL, stopper, loop), 0);
    CHECK_EQ(bcl_run_forever(loop), 0);
    pthread_join(thread, NULL);
    /* A stop requested while idle ends the next run at once. */
    CHECK_EQ(bcl_stop(loop), 0);
    CHECK_EQ(bcl_run_forever(loop), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    sem_destroy(&started);
    return 0;
}

/* BCL_STOP_ON_SIGINT / _SIGTERM: the signal stops run_forever; the old
 * handler is back afterwards. */
static void *
send_signal(void *arg)
{
    kill(getpid(), (int)(intptr_t)arg);
    return NULL;
}

static volatile sig_atomic_t previous_handler_ran;

static void
previous_handler(int sig)
{
    (void)sig;
    previous_handler_ran = 1;
}

static int
run_forever_stops_on(int signo, unsigned flag)
{
    bcl_config cfg = { .workers = 2, .flags = flag };
    bcl_loop *loop;

    previous_handler_ran = 0;
    signal(signo, previous_handler);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_spawn_on(loop, NULL, send_signal, (void *)(intptr_t)signo),
             0);
    CHECK_EQ(bcl_run_forever(loop), 0);
    CHECK_EQ(previous_handler_ran, 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    raise(signo);
    CHECK_EQ(previous_handler_ran, 1);
    return 0;
}

int
test_run_forever_sigint(void)
{
    return run_forever_stops_on(SIGINT, BCL_STOP_ON_SIGINT);
}

int
test_run_forever_sigterm(void)
{
    CHECK_EQ(run_forever_stops_on(SIGTERM, BCL_STOP_ON_SIGTERM), 0);
    /* Both at once, either stops it. */
    return run_forever_stops_on(SIGTERM,
                                BCL_STOP_ON_SIGINT | BCL_STOP_ON_SIGTERM);
}

/* Tasks still pending when a run ends stay for the next run. */
static sem_t gate, blocker_running;
static _Atomic int late_ran;

static void *
late_task(void *arg)
{
    (void)arg;
    atomic_store(&late_ran, 1);
    return NULL;
}

static void *
blocker(void *arg)
{
    /* Occupies the only worker until the run is over, so the task
     * queued behind it cannot start in this run. */
    bcl_loop *loop = arg;

    bcl_spawn_on(loop, NULL, late_task, NULL);
    sem_post(&blocker_running);
    bcl_stop(loop);
    while (sem_wait(&gate) != 0)
        continue;
    return NULL;
}

static void *
open_gate(void *arg)
{
    bcl_loop *loop = arg;

    /* The run has started (the blocker runs in it); white-box: wait for
     * it to end (workers no longer take tasks), then release the blocker. */
    while (sem_wait(&blocker_running) != 0)
        continue;
    while (atomic_load(&loop->running) != 0)
        sched_yield();
    sem_post(&gate);
    return NULL;
}

int
test_run_pending_stay_for_next_run(void)
{
    bcl_config cfg = { .workers = 1 };
    bcl_loop *loop;
    pthread_t thread;

    CHECK_EQ(sem_init(&gate, 0, 0), 0);
    CHECK_EQ(sem_init(&blocker_running, 0, 0), 0);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_spawn_on(loop, NULL, blocker, loop), 0);
    /* run_forever returns only once the blocker let go of the worker. */
    CHECK_EQ(pthread_create(&thread, NULL, open_gate, loop), 0);
    CHECK_EQ(bcl_run_forever(loop), 0);
    pthread_join(thread, NULL);
    CHECK_EQ(atomic_load(&late_ran), 0);
    CHECK_EQ(bcl_run_until_complete(loop, return_arg, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&late_ran), 1);
    CHECK_EQ(bcl_loop_free(loop), 0);
    sem_destroy(&gate);
    sem_destroy(&blocker_running);
    return 0;
}

/* bcl_loop_free cancels tasks that never ran and frees them. */
static _Atomic int never_ran;

static void *
count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&never_ran, 1);
    return NULL;
}

int
test_loop_free_cancels_queued(void)
{
    bcl_loop *loop;

    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(bcl_spawn_on(loop, NULL, count_run, NULL), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(atomic_load(&never_ran), 0);
    return 0;
}

/* A run that ends while resumed tasks sit queued, sticky, in a worker's
 * deque: bcl_loop_free must still run them to their end (its drain counts
 * sticky tasks, and a run start wakes the workers holding queued tasks;
 * the worker woken first may not take another's sticky tasks).  The
 * setter resumes its waiters, stops the loop, then computes for 2 ms, so
 * the run ends before its worker gets to them; the blocker computes for
 * 20 ms on the other worker, which so parks last and is woken first.
 * Computing, not sleeping: the interleaving is likely, not required, and
 * the checks hold in every interleaving. */
#define LEFTOVER_ROUNDS 10
#define LEFTOVER_WAITERS 4

struct leftovers {
    bcl_loop *loop;
    bcl_event *go;
    atomic_int waiting, ended, blocking;
};

static void
compute_for(uint64_t ns)
{
    uint64_t end = bcl_now_ns() + ns;

    while (bcl_now_ns() < end)
        continue;
}

static void *
leftover_waiter(void *arg)
{
    struct leftovers *l = arg;

    atomic_fetch_add(&l->waiting, 1);
    bcl_event_wait(l->go); /* 0, or -ECANCELED in the drain */
    atomic_fetch_add(&l->ended, 1);
    return NULL;
}

static void *
leftover_blocker(void *arg)
{
    struct leftovers *l = arg;

    atomic_store(&l->blocking, 1);
    compute_for(20000000);
    return NULL;
}

static void *
leftover_setter(void *arg)
{
    struct leftovers *l = arg;

    for (int i = 0; i < LEFTOVER_WAITERS; i++)
        if (bcl_spawn(NULL, leftover_waiter, l) != 0)
            return (void *)1;
    while (atomic_load(&l->waiting) != LEFTOVER_WAITERS ||
           !atomic_load(&l->blocking))
        bcl_yield();
    if (bcl_event_set(l->go) != 0 || bcl_stop(l->loop) != 0)
        return (void *)1;
    compute_for(2000000);
    return NULL;
}

int
test_loop_free_runs_sticky_leftovers(void)
{
    for (int round = 0; round < LEFTOVER_ROUNDS; round++) {
        bcl_config cfg = { .workers = 2 };
        struct leftovers l = { .waiting = 0, .ended = 0, .blocking = 0 };

        CHECK_EQ(bcl_event_new(&l.go), 0);
        CHECK_EQ(bcl_loop_new(&l.loop, &cfg), 0);
        CHECK_EQ(bcl_spawn_on(l.loop, NULL, leftover_setter, &l), 0);
        CHECK_EQ(bcl_spawn_on(l.loop, NULL, leftover_blocker, &l), 0);
        CHECK_EQ(bcl_run_forever(l.loop), 0);
        CHECK_EQ(bcl_loop_free(l.loop), 0); /* -EBUSY: tasks left queued */
        CHECK_EQ(atomic_load(&l.ended), LEFTOVER_WAITERS);
        CHECK_EQ(bcl_event_free(l.go), 0);
    }
    return 0;
}

/* bcl_loop_free's drain runs what is left "with every task cancelled":
 * a task still queued when the run ended, whose next wait is on an
 * event nobody sets, gets -ECANCELED and ends, and the loop is freed --
 * on a loop that never saw a bcl_cancel too (its waits skip the cancel
 * check until the drain makes them look). */
struct drained {
    bcl_loop *loop;
    bcl_event *never;
    atomic_int freeing, rc;
};

static void *
drained_task(void *arg)
{
    struct drained *d = arg;

    bcl_stop(d->loop);
    /* Stay queued until the run has ended and bcl_loop_free drains. */
    while (!atomic_load(&d->freeing))
        bcl_yield();
    atomic_store(&d->rc, bcl_event_wait(d->never));
    return NULL;
}

int
test_loop_free_cancels_leftover_waits(void)
{
    bcl_config cfg = { .workers = 1 };
    struct drained d = { .rc = 1 };

    CHECK_EQ(bcl_loop_new(&d.loop, &cfg), 0);
    CHECK_EQ(bcl_event_new(&d.never), 0);
    CHECK_EQ(bcl_spawn_on(d.loop, NULL, drained_task, &d), 0);
    CHECK_EQ(bcl_run_forever(d.loop), 0);
    atomic_store(&d.freeing, 1);
    CHECK_EQ(bcl_loop_free(d.loop), 0);
    CHECK_EQ(atomic_load(&d.rc), -ECANCELED);
    CHECK_EQ(bcl_event_free(d.never), 0);
    return 0;
}
