/*
 * tests/test_park.c - parking and the suspension interface: no lost
 * wake-up when every worker sleeps, and many suspended tasks resumed
 * exactly once (white-box through exec/suspend.h).
 */
#include <boucle/boucle.h>

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec/loop.h"
#include "exec/park.h"
#include "exec/suspend.h"
#include "tests/test.h"

/* --- 10^5 rounds: all workers parked, then one spawn from outside ---- */

#define ROUNDS 100000

static void *
increment(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

static void
wait_all_parked(bcl_loop *loop)
{
    /* White-box: the parking protocol's own count. */
    while (atomic_load(&loop->park.nidle) != loop->nworkers)
        sched_yield();
}

int
test_park_no_lost_wakeup(void)
{
    bcl_loop *loop;
    pthread_t runner;

    CHECK_EQ(test_serve(2, &loop, &runner), 0);
    for (uintptr_t i = 0; i < ROUNDS; i++) {
        bcl_task *t;
        void *r = NULL;

        wait_all_parked(loop);
        CHECK_EQ(bcl_spawn_on(loop, &t, increment, (void *)i), 0);
        CHECK_EQ(bcl_join(t, &r), 0); /* hangs if the wake-up was lost */
        CHECK_EQ((uintptr_t)r, i + 1);
    }
    return test_serve_end(loop, runner);
}

/* --- 10^4 rounds: a task spawns 3 children, then blocks its thread --- */

/* Only the other worker, parked at the start of each round, can run the
 * children: the first spawn must wake it, and the spawns after it (onto a
 * deque that is not empty, while that worker may be parking again) must
 * reach it too.  A wake-up rule that relied on the owner running its own
 * deque later would hang here. */
#define BLOCKED_ROUNDS 10000
#define BLOCKED_CHILDREN 3

static sem_t blocked_ran;

static void *
post_ran(void *arg)
{
    (void)arg;
    sem_post(&blocked_ran);
    return NULL;
}

static void *
blocking_spawner(void *arg)
{
    bcl_loop *loop = arg;

    for (int round = 0; round < BLOCKED_ROUNDS; round++) {
        while (atomic_load(&loop->park.nidle) != loop->nworkers - 1)
            sched_yield();
        for (int i = 0; i < BLOCKED_CHILDREN; i++)
            if (bcl_spawn(NULL, post_ran, NULL) != 0)
                return (void *)1;
        /* Block this worker's thread (no suspension): hangs if a spawn
         * left the parked worker asleep. */
        for (int i = 0; i < BLOCKED_CHILDREN; i++)
            while (sem_wait(&blocked_ran) != 0)
                continue;
    }
    return NULL;
}

int
test_park_spawns_reach_parked_worker(void)
{
    bcl_config cfg = { .workers = 2 };
    bcl_loop *loop;
    void *r = (void *)9;

    CHECK_EQ(sem_init(&blocked_ran, 0, 0), 0);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, blocking_spawner, loop, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    sem_destroy(&blocked_ran);
    return 0;
}

/* --- the last searcher wakes a worker for what is left --------------- */

/* Each round, with both workers parked, a plain thread spawns two tasks
 * that wait for each other, blocking their threads: both must run at
 * once.  The first spawn wakes one worker; the second usually finds that
 * worker searching and wakes nobody (W3).  The worker takes one task from
 * the injection queue, and only its found-work wake -- which it makes if
 * its look sees the other task still queued -- brings the second worker.
 * Hangs if that look misses it. */
#define PAIR_ROUNDS 5000

static void *
rendezvous(void *arg)
{
    atomic_uint *arrived = arg;

    atomic_fetch_add(arrived, 1);
    while (atomic_load(arrived) < 2)
        sched_yield(); /* blocks this worker's thread, on purpose */
    return NULL;
}

int
test_park_last_searcher_wakes_for_rest(void)
{
    bcl_loop *loop;
    pthread_t runner;

    CHECK_EQ(test_serve(2, &loop, &runner), 0);
    for (int i = 0; i < PAIR_ROUNDS; i++) {
        atomic_uint arrived = 0;
        bcl_task *a, *b;

        wait_all_parked(loop);
        CHECK_EQ(bcl_spawn_on(loop, &a, rendezvous, &arrived), 0);
        CHECK_EQ(bcl_spawn_on(loop, &b, rendezvous, &arrived), 0);
        CHECK_EQ(bcl_join(a, NULL), 0);
        CHECK_EQ(bcl_join(b, NULL), 0);
        CHECK_EQ(atomic_load(&arrived), 2);
    }
    return test_serve_end(loop, runner);
}

/* --- work a searcher queues on its own deque ------------------------- */

/* A searching worker can itself be the waker that stopped at W3: the
 * timers it expires while searching resume sleepers and run callbacks
 * that spawn, onto its own deque, and each push finds the pusher counted
 * as a searcher.  Its found-work look must count its own deque, or the
 * second of two tasks that wait for each other, blocking their threads,
 * is stranded behind the first.  Both tests hang if it does not. */
#define OWN_ROUNDS 1000
#define OWN_DELAY_NS 100000u

struct pair_round {
    bcl_loop *loop;
    atomic_uint arrived;
    sem_t done;
};

static void *
pair_member(void *arg)
{
    struct pair_round *r = arg;

    atomic_fetch_add(&r->arrived, 1);
    while (atomic_load(&r->arrived) < 2)
        sched_yield(); /* blocks this worker's thread, on purpose */
    sem_post(&r->done);
    return NULL;
}

static void
spawn_pair(void *arg)
{
    struct pair_round *r = arg;

    /* A timer callback, on the worker whose heap holds the timer. */
    if (bcl_spawn_on(r->loop, NULL, pair_member, r) != 0 ||
        bcl_spawn_on(r->loop, NULL, pair_member, r) != 0)
        abort();
}

int
test_park_timer_spawns_reach_other_worker(void)
{
    struct pair_round r;
    pthread_t runner;

    CHECK_EQ(sem_init(&r.done, 0, 0), 0);
    CHECK_EQ(test_serve(2, &r.loop, &runner), 0);
    for (int i = 0; i < OWN_ROUNDS; i++) {
        atomic_store(&r.arrived, 0);
        wait_all_parked(r.loop);
        CHECK_EQ(bcl_call_later(r.loop, OWN_DELAY_NS, spawn_pair, &r, NULL),
                 0);
        for (int k = 0; k < 2; k++)
            while (sem_wait(&r.done) != 0)
                continue;
        CHECK_EQ(atomic_load(&r.arrived), 2);
    }
    sem_destroy(&r.done);
    return test_serve_end(r.loop, runner);
}

/* Both sleep to one absolute deadline (white-box: bcl_sleep is relative,
 * and two relative sleeps would end at two deadlines -- the first to end
 * would then block its worker's thread before that worker expired the
 * second timer, which nothing else fires). */
struct sleeper_pair {
    uint64_t until;
    atomic_uint arrived;
};

static void *
sleeper_member(void *arg)
{
    struct sleeper_pair *p = arg;
    struct bcl__waiter waiter;

    if (bcl__waiter_init(&waiter) != 0 ||
        bcl__wait_until(&waiter, p->until) != BCL__WAIT_TIMEDOUT)
        return (void *)1;
    atomic_fetch_add(&p->arrived, 1);
    while (atomic_load(&p->arrived) < 2)
        sched_yield(); /* blocks this worker's thread, on purpose */
    return NULL;
}

static void *
sleeper_pairs_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < OWN_ROUNDS; i++) {
        struct sleeper_pair p = { .until = bcl_now_ns() + OWN_DELAY_NS };
        bcl_task *a, *b;
        void *ra = NULL, *rb = NULL;

        atomic_init(&p.arrived, 0);
        if (bcl_spawn(&a, sleeper_member, &p) != 0 ||
            bcl_spawn(&b, sleeper_member, &p) != 0 ||
            bcl_join(a, &ra) != 0 || bcl_join(b, &rb) != 0 || ra != NULL ||
            rb != NULL || atomic_load(&p.arrived) != 2)
            return (void *)1;
    }
    return NULL;
}

int
test_park_sleepers_due_together_reach_other_worker(void)
{
    void *r = (void *)9;

    CHECK_EQ(test_run_main(2, sleeper_pairs_main, NULL, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    return 0;
}

/* --- sticky tasks behind a stuck worker ------------------------------ */

/* Each round the runner resumes tasks onto its own deque -- sticky, as
 * every task that has run -- then blocks its thread until they ran: only
 * the other worker can run them, and only by the rules for sticky work
 * (exec/park.h): with one task resumed, its watch must find the runner
 * stuck; with more than the backlog, it may take them at once until
 * fewer remain, and the rest again by the watch.  Hangs if a rule
 * fails. */
#define STICKY_ROUNDS 200
#define STICKY_MANY (BCL__STICKY_BACKLOG + 8)

struct sticky_round {
    bcl_event *go;
    atomic_uint waiting, done;
};

static void *
sticky_waiter(void *arg)
{
    struct sticky_round *r = arg;

    atomic_fetch_add(&r->waiting, 1);
    if (bcl_event_wait(r->go) != 0)
        return (void *)1;
    atomic_fetch_add(&r->done, 1);
    return NULL;
}

static void *
sticky_runner(void *arg)
{
    unsigned batch = (unsigned)(uintptr_t)arg;
    bcl_task *tasks[STICKY_MANY];
    struct sticky_round r;

    for (int round = 0; round < STICKY_ROUNDS; round++) {
        if (bcl_event_new(&r.go) != 0)
            return (void *)1;
        atomic_store(&r.waiting, 0);
        atomic_store(&r.done, 0);
        for (unsigned i = 0; i < batch; i++)
            if (bcl_spawn(&tasks[i], sticky_waiter, &r) != 0)
                return (void *)1;
        /* Let them reach their wait, here or on the other worker. */
        while (atomic_load(&r.waiting) != batch)
            bcl_yield();
        /* Resumes the ones already waiting onto our deque. */
        if (bcl_event_set(r.go) != 0)
            return (void *)1;
        /* Block this worker's thread, without suspending. */
        while (atomic_load(&r.done) != batch)
            sched_yield();
        for (unsigned i = 0; i < batch; i++) {
            void *res = (void *)1;

            if (bcl_join(tasks[i], &res) != 0 || res != NULL)
                return (void *)1;
        }
        bcl_event_free(r.go);
    }
    return NULL;
}

static int
sticky_rounds(unsigned batch)
{
    bcl_config cfg = { .workers = 2 };
    bcl_loop *loop;
    void *r = (void *)9;

    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, sticky_runner,
                                    (void *)(uintptr_t)batch, &r),
             0);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

int
test_park_sticky_task_leaves_stuck_worker(void)
{
    return sticky_rounds(1);
}

int
test_park_sticky_backlog_spreads(void)
{
    return sticky_rounds(STICKY_MANY);
}

/* --- a pair waking each other does not starve older work ------------ */

/* Two tasks bouncing an item through two queues are always the newest
 * work of their worker (each wakes the other onto the bottom of its
 * deque); the task queued before them, at the top, must still run: it
 * is the one that stops them.  Hangs without the oldest's turn. */
struct bouncing {
    bcl_queue *there, *back;
    atomic_int stop;
};

static void *
bounce_pinger(void *arg)
{
    struct bouncing *b = arg;
    void *item;

    while (!atomic_load(&b->stop))
        if (bcl_queue_put(b->there, NULL) != 0 ||
            bcl_queue_get(b->back, &item) != 0)
            return (void *)1;
    return bcl_queue_close(b->there) == 0 ? NULL : (void *)1;
}

static void *
bounce_ponger(void *arg)
{
    struct bouncing *b = arg;
    void *item;

    while (bcl_queue_get(b->there, &item) == 0)
        if (bcl_queue_put(b->back, item) != 0)
            return (void *)1;
    return NULL;
}

static void *
bounce_stopper(void *arg)
{
    atomic_store(&((struct bouncing *)arg)->stop, 1);
    return NULL;
}

static void *
bounce_main(void *arg)
{
    struct bouncing *b = arg;
    bcl_task *tasks[3];
    void *r = NULL;
    uintptr_t failed = 0;

    /* The stopper first: the oldest of our deque. */
    if (bcl_spawn(&tasks[0], bounce_stopper, b) != 0 ||
        bcl_spawn(&tasks[1], bounce_ponger, b) != 0 ||
        bcl_spawn(&tasks[2], bounce_pinger, b) != 0)
        return (void *)1;
    for (int i = 0; i < 3; i++)
        failed |= bcl_join(tasks[i], &r) != 0 || r != NULL;
    return (void *)failed;
}

static int
bounce_run(unsigned workers)
{
    bcl_config cfg = { .workers = workers };
    struct bouncing b = { .stop = 0 };
    bcl_loop *loop;
    void *r = (void *)9;

    CHECK_EQ(bcl_queue_new(&b.there, 1), 0);
    CHECK_EQ(bcl_queue_new(&b.back, 1), 0);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, bounce_main, &b, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(bcl_queue_free(b.there), 0);
    CHECK_EQ(bcl_queue_free(b.back), 0);
    return 0;
}

int
test_park_bouncing_pair_lets_oldest_run_w1(void)
{
    return bounce_run(1);
}

int
test_park_bouncing_pair_lets_oldest_run_w2(void)
{
    return bounce_run(2);
}

/* --- 100,000 tasks suspended at once, each resumed exactly once ------ */

#if TEST_TSAN
/* TSan maps a 512 KiB shadow stack per fiber: 100,000 would need 50 GB. */
#define SLEEPERS 10000
#else
#define SLEEPERS 100000
#endif

struct gate {
    pthread_mutex_t lock;
    struct bcl__waiter **waiters; /* under lock */
    size_t count;                 /* under lock */
    _Atomic uint32_t resumed[SLEEPERS];
    _Atomic uint64_t sum;
};

static struct gate gate;

static void *
sleeper(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    struct bcl__waiter w;

    bcl__waiter_init(&w);
    w.data = arg;
    pthread_mutex_lock(&gate.lock);
    gate.waiters[gate.count++] = &w;
    pthread_mutex_unlock(&gate.lock);
    if (bcl__wait(&w) == BCL__WAIT_WOKEN) {
        atomic_fetch_add(&gate.resumed[id], 1);
        atomic_fetch_add(&gate.sum, id);
    }
    return NULL;
}

static size_t
gate_count(void)
{
    size_t n;

    pthread_mutex_lock(&gate.lock);
    n = gate.count;
    pthread_mutex_unlock(&gate.lock);
    return n;
}

static void *
suspend_main(void *arg)
{
    bcl_task **tasks = arg;

    for (uintptr_t i = 0; i < SLEEPERS; i++)
        if (bcl_spawn(&tasks[i], sleeper, (void *)i) != 0)
            return (void *)1;
    while (gate_count() < SLEEPERS)
        bcl_yield();
    /* All suspended: resume each once, newest first. */
    for (size_t i = SLEEPERS; i-- > 0;)
        if (!bcl__waiter_resolve(gate.waiters[i], BCL__WAIT_WOKEN))
            return (void *)2;
    for (uintptr_t i = 0; i < SLEEPERS; i++)
        if (bcl_join(tasks[i], NULL) != 0)
            return (void *)3;
    return NULL;
}

int
test_suspend_100k_resumed_once(void)
{
    bcl_config cfg = { .workers = 2 };
    bcl_task **tasks = calloc(SLEEPERS, sizeof *tasks);
    uint64_t expected = 0;
    bcl_loop *loop;
    void *r = (void *)9;

    CHECK(tasks != NULL);
    gate.waiters = calloc(SLEEPERS, sizeof *gate.waiters);
    CHECK(gate.waiters != NULL);
    pthread_mutex_init(&gate.lock, NULL);
    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, suspend_main, tasks, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    for (uint64_t i = 0; i < SLEEPERS; i++) {
        CHECK_EQ(atomic_load(&gate.resumed[i]), 1);
        expected += i;
    }
    CHECK_EQ(atomic_load(&gate.sum), expected);
    CHECK_EQ(bcl_loop_free(loop), 0);
    free(gate.waiters);
    free(tasks);
    return 0;
}

/* A resolve that races the suspension itself (before the task switched
 * out) is not lost: resolve from another thread right after publishing. */
#define RACES 20000

static _Atomic(struct bcl__waiter *) race_slot;
static _Atomic int race_done;

static void *
race_resolver(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACES; i++) {
        struct bcl__waiter *w;

        while ((w = atomic_exchange(&race_slot, NULL)) == NULL)
            sched_yield();
        bcl__waiter_resolve(w, BCL__WAIT_WOKEN);
    }
    return NULL;
}

static void *
race_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACES; i++) {
        struct bcl__waiter w;

        bcl__waiter_init(&w);
        atomic_store(&race_slot, &w);
        if (bcl__wait(&w) != BCL__WAIT_WOKEN)
            return (void *)1;
        atomic_fetch_add(&race_done, 1);
    }
    return NULL;
}

int
test_suspend_resolve_races_switch(void)
{
    bcl_config cfg = { .workers = 2 };
    bcl_loop *loop;
    pthread_t resolver;
    void *r = (void *)9;

    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(pthread_create(&resolver, NULL, race_resolver, NULL), 0);
    CHECK_EQ(bcl_run_until_complete(loop, race_main, NULL, &r), 0);
    pthread_join(resolver, NULL);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(atomic_load(&race_done), RACES);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}
