/*
 * tests/test_time.c - timers, sleeping, timeouts, cancellation of
 * suspended tasks, gather / wait_any, call_soon_threadsafe.
 *
 * No assertion here depends on how fast the machine is: sleeps are only
 * checked never to end early, timers only to fire in deadline order, and
 * every wait is for an exact condition (a queue item, a count).
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "sync/queue_debug.h"
#include "tests/test.h"

#define MS 1000000ull
#define ITEM(i) ((void *)(uintptr_t)(i))

static atomic_int failed;

static int
run_main(unsigned workers, bcl_fn main, void *arg)
{
    void *r = ITEM(1);

    atomic_store(&failed, 0);
    CHECK_EQ(test_run_main(workers, main, arg, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    CHECK_EQ(atomic_load(&failed), 0);
    return 0;
}

/* --- sleep never returns early ------------------------------------------ */

static void *
sleeper(void *arg)
{
    uint64_t ns = (uint64_t)(uintptr_t)arg;
    uint64_t start = bcl_now_ns();

    TASK_CHECK(&failed, bcl_sleep(ns) == 0);
    TASK_CHECK(&failed, bcl_now_ns() - start >= ns);
    return NULL;
}

static void *
sleep_main(void *arg)
{
    bcl_task *tasks[200];

    (void)arg;
    srand(7);
    for (int i = 0; i < 200; i++)
        TASK_CHECK(&failed, bcl_spawn(&tasks[i], sleeper,
                                      ITEM((uint64_t)(rand() % 5000) * 1000)) ==
                                0);
    for (int i = 0; i < 200; i++)
        bcl_join(tasks[i], NULL);
    TASK_CHECK(&failed, bcl_sleep(0) == 0); /* yields */
    return NULL;
}

int
test_time_sleep_never_early(void)
{
    uint64_t start = bcl_now_ns();

    CHECK_EQ(run_main(2, sleep_main, NULL), 0);
    CHECK_EQ(bcl_sleep(2 * MS), 0); /* a plain thread sleeps too */
    CHECK(bcl_now_ns() - start >= 2 * MS);
    return 0;
}

/* --- timers fire in deadline order --------------------------------------- */

#ifdef TEST_TSAN
#define NTIMERS 10000
#else
#define NTIMERS 100000
#endif

struct order {
    bcl_queue *done;
    uint64_t max_lo; /* the latest "at least" deadline fired so far */
    unsigned fired;
    bool out_of_order;
};

/* The heap's deadline is now + delay with its own clock read, which lies
 * between our reads just before and just after bcl_call_later: we know
 * it lies in [lo, hi]. */
struct order_timer {
    struct order *o;
    uint64_t lo, hi;
};

static void
order_fire(void *arg)
{
    struct order_timer *t = arg;
    struct order *o = t->o;

    /* One worker: callbacks never overlap.  In deadline order, every
     * timer fired before this one had a deadline <= ours, so none can
     * have had one surely later (lo > our hi). */
    if (o->max_lo > t->hi)
        o->out_of_order = true;
    if (t->lo > o->max_lo)
        o->max_lo = t->lo;
    if (bcl_now_ns() < t->lo)
        o->out_of_order = true; /* fired early */
    if (++o->fired == NTIMERS)
        bcl_queue_try_put(o->done, NULL);
}

static void *
order_main(void *arg)
{
    struct order *o = arg;
    struct order_timer *timers = calloc(NTIMERS, sizeof *timers);
    void *item;

    srand(11);
    for (int i = 0; i < NTIMERS; i++) {
        uint64_t delay = (uint64_t)(rand() % 50000) * 1000; /* 0-50 ms */

        timers[i].o = o;
        timers[i].lo = bcl_now_ns() + delay;
        TASK_CHECK(&failed, bcl_call_later(bcl_current(), delay, order_fire,
                                           &timers[i], NULL) == 0);
        timers[i].hi = bcl_now_ns() + delay;
    }
    TASK_CHECK(&failed, bcl_queue_get(o->done, &item) == 0);
    free(timers);
    return NULL;
}

int
test_time_timers_in_deadline_order(void)
{
    struct order *o = calloc(1, sizeof *o);

    CHECK(o != NULL);
    CHECK_EQ(bcl_queue_new(&o->done, 0), 0);
    CHECK_EQ(run_main(1, order_main, o), 0);
    CHECK_EQ(o->fired, NTIMERS);
    CHECK(!o->out_of_order);
    CHECK_EQ(bcl_queue_free(o->done), 0);
    free(o);
    return 0;
}

/* --- call_every: exactly N calls, never early, cancelled from inside --- */

#define PERIODS 50

struct every {
    bcl_queue *done;
    bcl_timer *timer;
    uint64_t start;
    unsigned calls;
    bool early;
    int cancel_rc;
};

static void
every_fire(void *arg)
{
    struct every *e = arg;

    e->calls++;
    if (bcl_now_ns() - e->start < (uint64_t)e->calls * MS)
        e->early = true;
    if (e->calls == PERIODS) {
        e->cancel_rc = bcl_timer_cancel(e->timer); /* from its callback */
        bcl_queue_try_put(e->done, NULL);
    }
}

static void *
every_main(void *arg)
{
    struct every *e = arg;
    void *item;

    e->start = bcl_now_ns();
    TASK_CHECK(&failed, bcl_call_every(bcl_current(), MS, every_fire, e,
                                       &e->timer) == 0);
    TASK_CHECK(&failed, bcl_queue_get(e->done, &item) == 0);
    /* Cancelled: no further call may come.  A timer armed after it, on
     * the same worker, fires after any further period would have. */
    TASK_CHECK(&failed, bcl_sleep(5 * MS) == 0);
    return NULL;
}

int
test_time_call_every_count(void)
{
    struct every e = { 0 };

    CHECK_EQ(bcl_queue_new(&e.done, 0), 0);
    CHECK_EQ(run_main(1, every_main, &e), 0);
    CHECK_EQ(e.calls, PERIODS);
    CHECK_EQ(e.cancel_rc, 0);
    CHECK(!e.early);
    CHECK_EQ(bcl_queue_free(e.done), 0);
    return 0;
}

/*
 * call_every keeps a fixed rate over 1,000 periods, checked by order
 * rather than by time: a one-shot timer armed right after it, on the same
 * worker, for the middle of period 1,000.5 must find exactly 1,000 calls
 * made.  Timers of a worker fire in deadline order however late they
 * run, so this holds on any machine -- but only if the n-th call stays
 * due n periods after the start: a timer re-armed from the time it fired
 * would have slid past the probe by its accumulated lateness.  The two
 * arms must lie within half a period of each other; a preemption between
 * them (measured, not assumed) just arms them again.
 */
#define DRIFT_PERIODS 1000u

struct drift {
    bcl_queue *done;
    unsigned calls;
    unsigned calls_at_probe;
};

static void
drift_tick(void *arg)
{
    ((struct drift *)arg)->calls++;
}

static void
drift_probe(void *arg)
{
    struct drift *d = arg;

    d->calls_at_probe = d->calls;
    bcl_queue_try_put(d->done, NULL);
}

static void *
drift_main(void *arg)
{
    struct drift *d = arg;
    bcl_timer *every, *probe;
    void *item;

    for (;;) {
        uint64_t before = bcl_now_ns();

        TASK_CHECK(&failed, bcl_call_every(bcl_current(), MS, drift_tick, d,
                                           &every) == 0);
        TASK_CHECK(&failed,
                   bcl_call_later(bcl_current(), DRIFT_PERIODS * MS + MS / 2,
                                  drift_probe, d, &probe) == 0);
        if (bcl_now_ns() - before < MS / 2)
            break;
        /* Preempted between the arms.  No callback ran meanwhile: this
         * task has not suspended, and the loop has one worker. */
        TASK_CHECK(&failed, bcl_timer_cancel(every) == 0);
        TASK_CHECK(&failed, bcl_timer_cancel(probe) == 0);
    }
    TASK_CHECK(&failed, bcl_queue_get(d->done, &item) == 0);
    TASK_CHECK(&failed, bcl_timer_cancel(every) == 0);
    TASK_CHECK(&failed, bcl_timer_cancel(probe) == 0); /* fired: frees it */
    return NULL;
}

int
test_time_call_every_no_drift(void)
{
    struct drift d = { 0 };

    CHECK_EQ(bcl_queue_new(&d.done, 0), 0);
    CHECK_EQ(run_main(1, drift_main, &d), 0);
    CHECK_EQ(d.calls_at_probe, DRIFT_PERIODS);
    CHECK(d.calls >= DRIFT_PERIODS);
    CHECK_EQ(bcl_queue_free(d.done), 0);
    return 0;
}

/* --- timer_cancel before firing; bad input; -EPERM in callbacks -------- */

struct cancel_check {
    bcl_queue *done;
    atomic_int ran_cancelled;
    int sleep_rc, get_rc, put_rc;
    /* Unavailable while the callback runs: a held mutex, a semaphore
     * without permits, a clear event, a waitgroup at 1. */
    bcl_mutex *m;
    bcl_sem *s;
    bcl_event *e;
    bcl_waitgroup *wg;
    int zero_rc[4], wait_rc[4]; /* their _timeout forms at 0 and at 1 ms */
};

static void
must_not_fire(void *arg)
{
    struct cancel_check *c = arg;

    atomic_store(&c->ran_cancelled, 1);
}

static void
callback_tries_to_suspend(void *arg)
{
    struct cancel_check *c = arg;
    void *item;

    c->sleep_rc = bcl_sleep(MS);
    c->get_rc = bcl_queue_get(c->done, &item); /* empty: would wait */
    /* 0 never waits, so it is not refused here: -ETIMEDOUT. */
    for (int i = 0; i < 2; i++) {
        uint64_t ns = i == 0 ? 0 : MS;
        int *rc = i == 0 ? c->zero_rc : c->wait_rc;

        rc[0] = bcl_mutex_lock_timeout(c->m, ns);
        rc[1] = bcl_sem_acquire_timeout(c->s, ns);
        rc[2] = bcl_event_wait_timeout(c->e, ns);
        rc[3] = bcl_waitgroup_wait_timeout(c->wg, ns);
    }
    c->put_rc = bcl_queue_try_put(c->done, NULL); /* no wait: fine */
}

static void *
cancel_timer_main(void *arg)
{
    struct cancel_check *c = arg;
    bcl_timer *a, *b;
    void *item;

    TASK_CHECK(&failed, bcl_call_later(bcl_current(), 2 * MS, must_not_fire,
                                       c, &a) == 0);
    TASK_CHECK(&failed, bcl_call_later(bcl_current(), 4 * MS,
                                       callback_tries_to_suspend, c, &b) == 0);
    TASK_CHECK(&failed, bcl_timer_cancel(a) == 0);
    TASK_CHECK(&failed, bcl_mutex_lock(c->m) == 0);
    TASK_CHECK(&failed, bcl_queue_get(c->done, &item) == 0);
    TASK_CHECK(&failed, bcl_mutex_unlock(c->m) == 0);
    TASK_CHECK(&failed, bcl_timer_cancel(b) == 0); /* fired: just frees */
    return NULL;
}

int
test_time_timer_cancel(void)
{
    struct cancel_check c = { 0 };
    bcl_loop *loop;
    bcl_timer *t;

    CHECK_EQ(bcl_queue_new(&c.done, 0), 0);
    CHECK_EQ(bcl_mutex_new(&c.m), 0);
    CHECK_EQ(bcl_sem_new(&c.s, 0), 0);
    CHECK_EQ(bcl_event_new(&c.e), 0);
    CHECK_EQ(bcl_waitgroup_new(&c.wg), 0);
    CHECK_EQ(bcl_waitgroup_add(c.wg, 1), 0);
    CHECK_EQ(run_main(1, cancel_timer_main, &c), 0);
    CHECK_EQ(atomic_load(&c.ran_cancelled), 0);
    CHECK_EQ(c.sleep_rc, -EPERM);
    CHECK_EQ(c.get_rc, -EPERM);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(c.zero_rc[i], -ETIMEDOUT);
        CHECK_EQ(c.wait_rc[i], -EPERM);
    }
    CHECK_EQ(c.put_rc, 0);
    CHECK_EQ(bcl_queue_free(c.done), 0);
    CHECK_EQ(bcl_waitgroup_done(c.wg), 0);
    CHECK_EQ(bcl_waitgroup_free(c.wg), 0);
    CHECK_EQ(bcl_event_free(c.e), 0);
    CHECK_EQ(bcl_sem_free(c.s), 0);
    CHECK_EQ(bcl_mutex_free(c.m), 0);

    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_call_later(NULL, 1, must_not_fire, &c, NULL), -EINVAL);
    CHECK_EQ(bcl_call_later(loop, 1, NULL, &c, NULL), -EINVAL);
    CHECK_EQ(bcl_call_every(loop, 0, must_not_fire, &c, NULL), -EINVAL);
    CHECK_EQ(bcl_timer_cancel(NULL), -EINVAL);
    CHECK_EQ(bcl_call_soon_threadsafe(NULL, must_not_fire, &c), -EINVAL);
    CHECK_EQ(bcl_call_soon_threadsafe(loop, NULL, &c), -EINVAL);
    /* Timers fire only while the loop runs: armed and freed unrun, from a
     * plain thread, with and without a handle. */
    CHECK_EQ(bcl_call_later(loop, 0, must_not_fire, &c, &t), 0);
    CHECK_EQ(bcl_call_every(loop, MS, must_not_fire, &c, NULL), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(bcl_timer_cancel(t), 0); /* handle outlives the loop */
    CHECK_EQ(atomic_load(&c.ran_cancelled), 0);
    /* A call_soon on a loop freed before it ran: its task is freed
     * without running, and its record with it (the ASan run checks that
     * nothing leaks). */
    CHECK_EQ(bcl_loop_new(&loop, NULL), 0);
    CHECK_EQ(bcl_call_soon_threadsafe(loop, must_not_fire, &c), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    CHECK_EQ(atomic_load(&c.ran_cancelled), 0);
    return 0;
}

/*
 * Two timer callbacks, running at once on the two workers, cancel each
 * other: neither may wait for the other's call (each would wait forever);
 * both return 0 and each timer is freed by its worker when its call
 * returns.  Armed from a plain thread on a fresh loop, the two timers go
 * to the two workers in turn (time.h).
 */
struct mutual {
    bcl_timer *timers[2];
    atomic_int entered, done;
    int rc[2];
};

struct mutual_side {
    struct mutual *m;
    int index;
};

static void
mutual_fire(void *arg)
{
    struct mutual_side *side = arg;
    struct mutual *m = side->m;

    atomic_fetch_add(&m->entered, 1);
    while (atomic_load(&m->entered) < 2)
        continue; /* both calls run now, one on each worker */
    m->rc[side->index] = bcl_timer_cancel(m->timers[1 - side->index]);
    atomic_fetch_add(&m->done, 1);
}

int
test_time_timer_cancel_each_other(void)
{
    struct mutual m = { .rc = { 1, 1 } };
    struct mutual_side sides[2] = { { &m, 0 }, { &m, 1 } };
    pthread_t runner;
    bcl_loop *loop;

    CHECK_EQ(test_serve(2, &loop, &runner), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(bcl_call_later(loop, MS, mutual_fire, &sides[i],
                                &m.timers[i]),
                 0);
    while (atomic_load(&m.done) < 2)
        sched_yield();
    CHECK_EQ(m.rc[0], 0);
    CHECK_EQ(m.rc[1], 0);
    CHECK_EQ(test_serve_end(loop, runner), 0);
    return 0;
}

/* --- cancelling a task blocked in each suspending call ------------------ */

struct blocked {
    bcl_queue *empty, *full;
    bcl_task *victim_child;
    int rc[5];
};

static void *
forever_child(void *arg)
{
    bcl_queue *q = arg;
    void *item;

    bcl_queue_get(q, &item); /* until the test closes the queue */
    return NULL;
}

static void *
victim_sleep(void *arg)
{
    struct blocked *b = arg;

    b->rc[0] = bcl_sleep(3600 * 1000 * MS);
    return NULL;
}

static void *
victim_get(void *arg)
{
    struct blocked *b = arg;
    void *item = ITEM(5);

    b->rc[1] = bcl_queue_get(b->empty, &item);
    if (item != ITEM(5))
        atomic_store(&failed, 1); /* a cancelled get took nothing */
    return NULL;
}

static void *
victim_put(void *arg)
{
    struct blocked *b = arg;

    b->rc[2] = bcl_queue_put(b->full, ITEM(9));
    return NULL;
}

static void *
victim_join(void *arg)
{
    struct blocked *b = arg;

    b->rc[3] = bcl_join(b->victim_child, NULL);
    return NULL;
}

static void *
victim_many(void *arg)
{
    struct blocked *b = arg;
    void *items[4];
    size_t moved = 99;

    b->rc[4] = bcl_queue_get_many(b->empty, items, 4, &moved);
    if (moved != 0)
        atomic_store(&failed, 1);
    return NULL;
}

static void *
cancel_blocked_main(void *arg)
{
    static bcl_fn victims[] = { victim_sleep, victim_get, victim_put,
                                victim_join, victim_many };
    struct blocked *b = arg;
    bcl_task *tasks[5];

    TASK_CHECK(&failed, bcl_spawn(&b->victim_child, forever_child,
                                  b->empty) == 0);
    for (int i = 0; i < 5; i++)
        TASK_CHECK(&failed, bcl_spawn(&tasks[i], victims[i], b) == 0);
    /* Let them all block (two getters, a putter, a sleeper, a joiner). */
    while (bcl__queue_waiting(b->empty, BCL__QUEUE_GETTERS) != 3 ||
           bcl__queue_waiting(b->full, BCL__QUEUE_PUTTERS) != 1)
        bcl_yield();
    for (int i = 0; i < 5; i++)
        TASK_CHECK(&failed, bcl_cancel(tasks[i]) == 0);
    for (int i = 0; i < 5; i++)
        TASK_CHECK(&failed, bcl_join(tasks[i], NULL) == -ECANCELED);
    TASK_CHECK(&failed, bcl_queue_size(b->full) == 1); /* left no item */
    /* The cancelled join released victim_child's handle (detached it):
     * closing the queue ends it, and it frees itself (bcl_loop_free
     * would return -EBUSY otherwise). */
    bcl_queue_close(b->empty);
    return NULL;
}

int
test_time_cancel_blocked_calls(void)
{
    struct blocked b = { 0 };

    CHECK_EQ(bcl_queue_new(&b.empty, 4), 0);
    CHECK_EQ(bcl_queue_new(&b.full, 1), 0);
    CHECK_EQ(bcl_queue_put(b.full, ITEM(1)), 0);
    CHECK_EQ(run_main(2, cancel_blocked_main, &b), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(b.rc[i], -ECANCELED);
    CHECK_EQ(bcl_queue_free(b.empty), 0);
    CHECK_EQ(bcl_queue_free(b.full), 0);
    return 0;
}

/* --- timeouts: -ETIMEDOUT and nothing changed --------------------------- */

static int
timeouts_on(bcl_queue *empty, bcl_queue *full)
{
    void *item = ITEM(3), *items[2] = { ITEM(3), ITEM(3) };
    size_t moved = 7;

    if (bcl_queue_get_timeout(empty, &item, MS) != -ETIMEDOUT ||
        item != ITEM(3))
        return 1;
    if (bcl_queue_get_timeout(empty, &item, 0) != -EAGAIN)
        return 2;
    if (bcl_queue_put_timeout(full, ITEM(4), MS) != -ETIMEDOUT ||
        bcl_queue_size(full) != 1)
        return 3;
    if (bcl_queue_put_timeout(full, ITEM(4), 0) != -EAGAIN)
        return 4;
    if (bcl_queue_get_many_timeout(empty, items, 2, &moved, MS) !=
            -ETIMEDOUT || moved != 0)
        return 5;
    if (bcl_queue_put_many_timeout(full, items, 2, &moved, MS) !=
            -ETIMEDOUT || moved != 0 || bcl_queue_size(full) != 1)
        return 6;
    return 0;
}

struct timeouts {
    bcl_queue *empty, *full;
    bcl_task *slow;
    int task_rc;
};

static void *
slow_child(void *arg)
{
    bcl_queue *q = arg;
    void *item = NULL; /* stays NULL when the queue is closed */

    bcl_queue_get(q, &item);
    return item;
}

static void *
timeouts_main(void *arg)
{
    struct timeouts *t = arg;
    bcl_task *child;
    void *r = NULL;

    t->task_rc = timeouts_on(t->empty, t->full);
    /* join_timeout keeps the handle; the join after the item succeeds. */
    TASK_CHECK(&failed, bcl_spawn(&child, slow_child, t->empty) == 0);
    TASK_CHECK(&failed, bcl_join_timeout(child, &r, MS) == -ETIMEDOUT);
    TASK_CHECK(&failed, bcl_join_timeout(child, &r, 0) == -ETIMEDOUT);
    TASK_CHECK(&failed, bcl_queue_put(t->empty, ITEM(8)) == 0);
    TASK_CHECK(&failed, bcl_join(child, &r) == 0);
    TASK_CHECK(&failed, r == ITEM(8));
    return NULL;
}

int
test_time_timeouts_change_nothing(void)
{
    struct timeouts t = { 0 };

    CHECK_EQ(bcl_queue_new(&t.empty, 2), 0);
    CHECK_EQ(bcl_queue_new(&t.full, 1), 0);
    CHECK_EQ(bcl_queue_put(t.full, ITEM(1)), 0);
    CHECK_EQ(timeouts_on(t.empty, t.full), 0); /* from a plain thread */
    CHECK_EQ(run_main(2, timeouts_main, &t), 0);
    CHECK_EQ(t.task_rc, 0); /* from a task */
    CHECK_EQ(bcl_queue_free(t.empty), 0);
    CHECK_EQ(bcl_queue_free(t.full), 0);
    return 0;
}

/* --- the cancel-vs-put race: the item is never lost, no waiter stranded */

#ifdef TEST_TSAN
#define RACES 10000
#else
#define RACES 100000
#endif

struct race_getter {
    bcl_queue *q;
    void *got;
    int rc;
};

static void *
race_getter(void *arg)
{
    struct race_getter *g = arg;

    g->rc = bcl_queue_get(g->q, &g->got);
    return NULL;
}

/*
 * Two getters wait (or are about to); one item is put and the first getter
 * is cancelled at the same moment.  Whatever wins, the item is got exactly
 * once: by the first getter (a get that took it returns 0), or -- if the
 * cancel won -- by the second, which must not be left asleep beside it
 * (a swallowed wake-up would hang this test, and the runner fails it).
 */
static void *
race_main(void *arg)
{
    bcl_queue *q = arg;
    unsigned first_got = 0;

    for (uintptr_t i = 1; i <= RACES; i++) {
        struct race_getter g1 = { q, NULL, -ECANCELED };
        struct race_getter g2 = { q, NULL, 1 };
        bcl_task *t1, *t2;
        void *left;

        TASK_CHECK(&failed, bcl_spawn(&t1, race_getter, &g1) == 0);
        TASK_CHECK(&failed, bcl_spawn(&t2, race_getter, &g2) == 0);
        if (i % 2)
            bcl_yield(); /* vary the timing: blocked, or not yet */
        TASK_CHECK(&failed, bcl_queue_put(q, ITEM(2 * i)) == 0);
        TASK_CHECK(&failed, bcl_cancel(t1) == 0);
        bcl_join(t1, NULL); /* -ECANCELED: it was cancelled, got or not */
        if (g1.rc == 0) {
            TASK_CHECK(&failed, g1.got == ITEM(2 * i));
            first_got++;
            /* Give the second getter its own item. */
            TASK_CHECK(&failed, bcl_queue_put(q, ITEM(2 * i + 1)) == 0);
            bcl_join(t2, NULL);
            TASK_CHECK(&failed, g2.rc == 0 && g2.got == ITEM(2 * i + 1));
        } else {
            /* Cancelled (or never started): it took nothing. */
            TASK_CHECK(&failed, g1.rc == -ECANCELED && g1.got == NULL);
            bcl_join(t2, NULL);
            TASK_CHECK(&failed, g2.rc == 0 && g2.got == ITEM(2 * i));
        }
        TASK_CHECK(&failed, bcl_queue_try_get(q, &left) == -EAGAIN);
        if (atomic_load(&failed))
            break;
    }
    return NULL;
}

int
test_time_cancel_vs_put_race(void)
{
    bcl_queue *q;

    CHECK_EQ(bcl_queue_new(&q, 4), 0);
    CHECK_EQ(run_main(2, race_main, q), 0);
    CHECK_EQ(bcl_queue_free(q), 0);
    return 0;
}

/* Timeouts that expire while a put wakes the waiter: the timer may fire
 * on one worker while the task, woken, runs on another and leaves its
 * wait (and the frame that holds the timer node).  Short timeouts (1-16
 * us) against a steady stream of puts put the fire and the wake-up side
 * by side; every item put is got exactly once (counts and sums), and a
 * fire must never touch a node its waiter has taken back. */
#define RACE_GETTERS 8
#define RACE_PUTTERS 2
#define RACE_ITEMS 20000 /* per putter */

struct timeout_race {
    bcl_queue *q;
    atomic_uint_fast64_t got, sum;
    atomic_uint putters_left;
};

static void *
timeout_race_getter(void *arg)
{
    struct timeout_race *tr = arg;
    uint64_t got = 0, sum = 0;
    uint32_t seed = (uint32_t)(uintptr_t)&got;

    for (;;) {
        void *item;
        int rc;

        seed = seed * 1664525u + 1013904223u;
        rc = bcl_queue_get_timeout(tr->q, &item, 1000 + (seed >> 28) * 1000);
        if (rc == 0) {
            got++;
            sum += (uintptr_t)item;
        } else if (rc == -EPIPE) {
            break;
        } else {
            TASK_CHECK(&failed, rc == -ETIMEDOUT);
        }
    }
    atomic_fetch_add(&tr->got, got);
    atomic_fetch_add(&tr->sum, sum);
    return NULL;
}

static void *
timeout_race_putter(void *arg)
{
    struct timeout_race *tr = arg;

    uintptr_t first = atomic_fetch_add(&tr->putters_left, 1) * RACE_ITEMS;
    uint32_t seed = (uint32_t)first;

    for (uintptr_t i = first + 1; i <= first + RACE_ITEMS; i++) {
        TASK_CHECK(&failed, bcl_queue_put(tr->q, ITEM(i)) == 0);
        /* A busy pause of 0-16 us: puts land around the getters'
         * deadlines (a sweep, not a sleep: nothing waits for it). */
        seed = seed * 1664525u + 1013904223u;
        for (uint64_t t0 = bcl_now_ns(); bcl_now_ns() - t0 < (seed >> 28) * 1000;)
            continue;
    }
    return NULL;
}

static void *
timeout_race_main(void *arg)
{
    struct timeout_race *tr = arg;
    bcl_task *getters[RACE_GETTERS], *putters[RACE_PUTTERS];

    for (int i = 0; i < RACE_GETTERS; i++)
        TASK_CHECK(&failed,
                   bcl_spawn(&getters[i], timeout_race_getter, tr) == 0);
    for (int i = 0; i < RACE_PUTTERS; i++)
        TASK_CHECK(&failed,
                   bcl_spawn(&putters[i], timeout_race_putter, tr) == 0);
    for (int i = 0; i < RACE_PUTTERS; i++)
        bcl_join(putters[i], NULL);
    bcl_queue_close(tr->q);
    for (int i = 0; i < RACE_GETTERS; i++)
        bcl_join(getters[i], NULL);
    return NULL;
}

int
test_time_timeout_races_wake(void)
{
    static const unsigned workers[] = { 2, 3 };

    for (size_t w = 0; w < 2; w++) {
        struct timeout_race tr = { 0 };

        CHECK_EQ(bcl_queue_new(&tr.q, 1), 0);
        CHECK_EQ(run_main(workers[w], timeout_race_main, &tr), 0);
        CHECK_EQ(atomic_load(&tr.got), RACE_PUTTERS * RACE_ITEMS);
        CHECK_EQ(atomic_load(&tr.sum),
                 (uint64_t)RACE_PUTTERS * RACE_ITEMS *
                     (RACE_PUTTERS * RACE_ITEMS + 1) / 2);
        CHECK_EQ(bcl_queue_free(tr.q), 0);
    }
    return 0;
}

/* The first bcl_cancel of a loop: until then waits skip their half of
 * the cancellation handshake, and that canceller makes up for it with a
 * process-wide barrier (exec/suspend.c).  Each round is a fresh loop
 * whose first cancel races a child, on the other worker, that is just
 * starting to wait: the parent spins until the child is about to call
 * get, then a busy delay of a length that varies with the round sweeps
 * the cancel across the child's way into the wait.  A cancel lost in
 * that window leaves the child blocked and the round hangs. */
#define FIRST_CANCEL_ROUNDS 256

struct first_cancel {
    bcl_queue *q;
    atomic_int about_to_wait;
};

static void *
blocked_getter(void *arg)
{
    struct first_cancel *fc = arg;
    void *item;

    atomic_store(&fc->about_to_wait, 1);
    return ITEM(bcl_queue_get(fc->q, &item));
}

static void *
first_cancel_main(void *arg)
{
    uintptr_t round = (uintptr_t)arg;
    struct first_cancel fc = { .about_to_wait = 0 };
    bcl_task *child;
    void *r = NULL;

    TASK_CHECK(&failed, bcl_queue_new(&fc.q, 1) == 0);
    TASK_CHECK(&failed, bcl_spawn(&child, blocked_getter, &fc) == 0);
    /* We never yield: the other worker steals and runs the child. */
    while (!atomic_load(&fc.about_to_wait))
        continue;
    for (volatile uintptr_t i = 0; i < (round % 64) * 8; i++)
        continue;
    TASK_CHECK(&failed, bcl_cancel(child) == 0);
    TASK_CHECK(&failed, bcl_join(child, &r) == -ECANCELED);
    TASK_CHECK(&failed, r == ITEM(-ECANCELED)); /* its get saw the cancel */
    TASK_CHECK(&failed, bcl_queue_free(fc.q) == 0);
    return NULL;
}

int
test_time_first_cancel_of_loop(void)
{
    for (uintptr_t round = 0; round < FIRST_CANCEL_ROUNDS; round++)
        CHECK_EQ(run_main(2, first_cancel_main, ITEM(round)), 0);
    return 0;
}

/* --- gather and wait_any -------------------------------------------------- */

static void *
value_task(void *arg)
{
    return arg;
}

/* A handle twice in one gather: -EINVAL and nothing joined (joining it
 * twice would free its record twice), in a short array (checked by
 * pairs) and a long one (a sorted copy); then every handle joins once. */
#define GATHER_LONG 40

static int
gather_repeats_rejected(void)
{
    bcl_task *tasks[GATHER_LONG + 1];
    void *results[GATHER_LONG + 1];

    for (uintptr_t i = 0; i < GATHER_LONG; i++)
        if (bcl_spawn(&tasks[i], value_task, ITEM(i + 1)) != 0)
            return 1;
    tasks[GATHER_LONG] = tasks[GATHER_LONG / 2];
    if (bcl_gather(tasks + 2, 3, NULL) != 0 || /* 2, 3, 4: distinct */
        bcl_gather((bcl_task *[]){ tasks[0], tasks[1], tasks[0] }, 3,
                   NULL) != -EINVAL ||
        bcl_gather(tasks, GATHER_LONG + 1, NULL) != -EINVAL)
        return 1;
    tasks[2] = tasks[3] = tasks[4] = NULL; /* released by the first gather */
    if (bcl_gather(tasks, GATHER_LONG, results) != -EINVAL) /* the NULLs */
        return 1;
    for (uintptr_t i = 0; i < GATHER_LONG; i++)
        if (results[i] != (i >= 2 && i <= 4 ? NULL : ITEM(i + 1)))
            return 1;
    return 0;
}

static void *
gather_main(void *arg)
{
    bcl_queue *gate = arg;
    bcl_task *tasks[8], *waiting[3];
    void *results[8];
    size_t index = 99;

    for (uintptr_t i = 0; i < 8; i++)
        TASK_CHECK(&failed, bcl_spawn(&tasks[i], value_task, ITEM(i + 1)) ==
                                0);
    TASK_CHECK(&failed, bcl_gather(tasks, 8, results) == 0);
    for (uintptr_t i = 0; i < 8; i++)
        TASK_CHECK(&failed, results[i] == ITEM(i + 1));
    TASK_CHECK(&failed, bcl_gather(NULL, 0, NULL) == 0);
    TASK_CHECK(&failed, bcl_gather(NULL, 1, NULL) == -EINVAL);
    TASK_CHECK(&failed, gather_repeats_rejected() == 0);

    /* wait_any: three tasks blocked on the gate; a timeout, then one ends. */
    for (int i = 0; i < 3; i++)
        TASK_CHECK(&failed, bcl_spawn(&waiting[i], slow_child, gate) == 0);
    TASK_CHECK(&failed, bcl_wait_any(waiting, 3, MS, &index) == -ETIMEDOUT);
    TASK_CHECK(&failed, bcl_wait_any(waiting, 0, MS, &index) == -EINVAL);
    TASK_CHECK(&failed, bcl_queue_put(gate, ITEM(42)) == 0);
    TASK_CHECK(&failed, bcl_wait_any(waiting, 3, BCL_FOREVER, &index) == 0);
    TASK_CHECK(&failed, index < 3);
    {
        void *r = NULL;

        /* The one that ended has the item; the others still wait. */
        TASK_CHECK(&failed, bcl_join(waiting[index], &r) == 0 &&
                                r == ITEM(42));
        bcl_queue_close(gate);
        for (size_t i = 0; i < 3; i++)
            if (i != index)
                TASK_CHECK(&failed, bcl_join(waiting[i], &r) == 0 &&
                                        r == NULL);
    }
    return NULL;
}

int
test_time_gather_wait_any(void)
{
    bcl_queue *gate;

    CHECK_EQ(bcl_queue_new(&gate, 4), 0);
    CHECK_EQ(run_main(2, gather_main, gate), 0);
    CHECK_EQ(bcl_queue_free(gate), 0);
    return 0;
}

/* --- call_soon_threadsafe: 4 threads x 10^4 calls, each runs once ------- */

#define SOON_THREADS 4
#ifdef TEST_TSAN
#define SOON_CALLS 2000
#else
#define SOON_CALLS 10000
#endif

struct soon {
    bcl_loop *loop;
    bcl_queue *done;
    _Atomic uint64_t sum;
    atomic_uint calls;
    _Atomic uint8_t seen[SOON_THREADS * SOON_CALLS];
};

static struct soon soon;

static void
soon_cb(void *arg)
{
    uintptr_t id = (uintptr_t)arg;

    if (atomic_fetch_add(&soon.seen[id], 1) != 0)
        atomic_store(&failed, 1);
    atomic_fetch_add(&soon.sum, id);
    if (atomic_fetch_add(&soon.calls, 1) + 1 == SOON_THREADS * SOON_CALLS)
        bcl_queue_try_put(soon.done, NULL);
}

static void *
soon_thread(void *arg)
{
    uintptr_t t = (uintptr_t)arg;

    for (uintptr_t i = 0; i < SOON_CALLS; i++)
        if (bcl_call_soon_threadsafe(soon.loop, soon_cb,
                                     ITEM(t * SOON_CALLS + i)) != 0)
            atomic_store(&failed, 1);
    return NULL;
}

static void *
soon_main(void *arg)
{
    void *item;

    (void)arg;
    TASK_CHECK(&failed, bcl_queue_get(soon.done, &item) == 0);
    return NULL;
}

int
test_time_call_soon_threadsafe(void)
{
    bcl_config cfg = { .workers = 2 };
    pthread_t threads[SOON_THREADS];
    uint64_t n = SOON_THREADS * SOON_CALLS;

    atomic_store(&failed, 0);
    CHECK_EQ(bcl_loop_new(&soon.loop, &cfg), 0);
    CHECK_EQ(bcl_queue_new(&soon.done, 0), 0);
    for (uintptr_t t = 0; t < SOON_THREADS; t++)
        CHECK_EQ(pthread_create(&threads[t], NULL, soon_thread, ITEM(t)), 0);
    CHECK_EQ(bcl_run_until_complete(soon.loop, soon_main, NULL, NULL), 0);
    for (int t = 0; t < SOON_THREADS; t++)
        CHECK_EQ(pthread_join(threads[t], NULL), 0);
    CHECK_EQ(atomic_load(&soon.calls), n);
    CHECK_EQ(atomic_load(&soon.sum), n * (n - 1) / 2);
    CHECK_EQ(atomic_load(&failed), 0);
    CHECK_EQ(bcl_loop_free(soon.loop), 0);
    CHECK_EQ(bcl_queue_free(soon.done), 0);
    return 0;
}

/* --- the primitives' timeouts and cancellation ----------------------------- */

struct prims {
    bcl_mutex *held, *free_m;
    bcl_sem *sem;
    bcl_event *event;
    bcl_cond *cond;
    bcl_waitgroup *wg;
    int rc[5];
};

/* Each _timeout form gives -ETIMEDOUT and changes nothing. */
static int
prims_time_out(struct prims *p)
{
    if (bcl_mutex_lock_timeout(p->held, MS) != -ETIMEDOUT ||
        bcl_mutex_lock_timeout(p->held, 0) != -ETIMEDOUT)
        return 1;
    if (bcl_sem_acquire_timeout(p->sem, MS) != -ETIMEDOUT ||
        bcl_sem_try_acquire(p->sem) != -EAGAIN)
        return 2;
    if (bcl_event_wait_timeout(p->event, MS) != -ETIMEDOUT)
        return 3;
    if (bcl_mutex_lock(p->free_m) != 0 ||
        bcl_cond_wait_timeout(p->cond, p->free_m, MS) != -ETIMEDOUT ||
        bcl_mutex_unlock(p->free_m) != 0) /* held again on return */
        return 4;
    if (bcl_waitgroup_wait_timeout(p->wg, MS) != -ETIMEDOUT)
        return 5;
    return 0;
}

static void *
prims_timeout_main(void *arg)
{
    struct prims *p = arg;

    p->rc[0] = prims_time_out(p);
    return NULL;
}

static void *
blocked_lock(void *arg)
{
    struct prims *p = arg;

    p->rc[0] = bcl_mutex_lock(p->held);
    return NULL;
}

static void *
blocked_acquire(void *arg)
{
    struct prims *p = arg;

    p->rc[1] = bcl_sem_acquire(p->sem);
    return NULL;
}

static void *
blocked_event(void *arg)
{
    struct prims *p = arg;

    p->rc[2] = bcl_event_wait(p->event);
    return NULL;
}

static void *
blocked_cond(void *arg)
{
    struct prims *p = arg;

    if (bcl_mutex_lock(p->free_m) != 0) {
        p->rc[3] = 1;
        return NULL;
    }
    p->rc[3] = bcl_cond_wait(p->cond, p->free_m);
    if (bcl_mutex_unlock(p->free_m) != 0) /* held again even when cancelled */
        p->rc[3] = 2;
    return NULL;
}

static void *
blocked_wg(void *arg)
{
    struct prims *p = arg;

    p->rc[4] = bcl_waitgroup_wait(p->wg);
    return NULL;
}

static void *
prims_cancel_main(void *arg)
{
    static bcl_fn victims[] = { blocked_lock, blocked_acquire, blocked_event,
                                blocked_cond, blocked_wg };
    struct prims *p = arg;
    bcl_task *tasks[5];

    for (int i = 0; i < 5; i++)
        TASK_CHECK(&failed, bcl_spawn(&tasks[i], victims[i], p) == 0);
    for (int i = 0; i < 5; i++)
        bcl_yield(); /* most will be blocked; cancel is sticky anyway */
    for (int i = 0; i < 5; i++)
        TASK_CHECK(&failed, bcl_cancel(tasks[i]) == 0);
    for (int i = 0; i < 5; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_time_primitives_timeout_cancel(void)
{
    struct prims p = { 0 };

    CHECK_EQ(bcl_mutex_new(&p.held), 0);
    CHECK_EQ(bcl_mutex_new(&p.free_m), 0);
    CHECK_EQ(bcl_sem_new(&p.sem, 0), 0);
    CHECK_EQ(bcl_event_new(&p.event), 0);
    CHECK_EQ(bcl_cond_new(&p.cond), 0);
    CHECK_EQ(bcl_waitgroup_new(&p.wg), 0);
    CHECK_EQ(bcl_waitgroup_add(p.wg, 1), 0);
    CHECK_EQ(bcl_mutex_lock(p.held), 0); /* held by this thread throughout */

    CHECK_EQ(prims_time_out(&p), 0);                  /* a plain thread */
    CHECK_EQ(run_main(2, prims_timeout_main, &p), 0); /* a task */
    CHECK_EQ(p.rc[0], 0);

    CHECK_EQ(run_main(2, prims_cancel_main, &p), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(p.rc[i], -ECANCELED);
    /* Nothing changed: still held by us, no permit, not set, count 1. */
    CHECK_EQ(bcl_mutex_unlock(p.held), 0);
    CHECK_EQ(bcl_sem_try_acquire(p.sem), -EAGAIN);
    CHECK(!bcl_event_is_set(p.event));
    CHECK_EQ(bcl_waitgroup_done(p.wg), 0);
    CHECK_EQ(bcl_mutex_free(p.held), 0);
    CHECK_EQ(bcl_mutex_free(p.free_m), 0);
    CHECK_EQ(bcl_sem_free(p.sem), 0);
    CHECK_EQ(bcl_event_free(p.event), 0);
    CHECK_EQ(bcl_cond_free(p.cond), 0);
    CHECK_EQ(bcl_waitgroup_free(p.wg), 0);
    return 0;
}
