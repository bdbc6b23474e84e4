/*
 * tests/test_sync.c - bcl_mutex, bcl_sem, bcl_event, bcl_cond and
 * bcl_waitgroup: mutual exclusion and never-over-admitting under load
 * from tasks and threads together, FIFO hand-off, wake-one vs wake-all,
 * exactly-once through cond+mutex, error codes and bad input.
 *
 * A test that needs "the caller is now blocked" waits for that exact
 * condition (the object's waiter count, sync/sync_debug.h), never for a
 * time.  Loops run 2 workers; tasks and plain threads share each object.
 * One file for the five primitives because they share the blocked-caller
 * helper and cond's tests lean on the mutex; each section stands alone.
 */
#include <boucle/boucle.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "sync/sync_debug.h"
#include "tests/test.h"

#ifdef TEST_TSAN
#define SCALE 10 /* every access is instrumented: 10x fewer rounds */
#else
#define SCALE 1
#endif

/* Yield (a task) or sched_yield (a thread) until cond holds. */
#define WAIT_FOR(cond)                                                     \
    do {                                                                   \
        while (!(cond))                                                    \
            bcl_yield();                                                   \
    } while (0)

/*
 * Run main_task on a 2-worker loop, then join the plain threads that took
 * part before freeing the loop: a thread that resumed one of its tasks may
 * still be inside that resume (waking a worker) when the run ends.
 */
static int
run_on_two_workers(bcl_fn main_task, void *arg, pthread_t *threads, int n)
{
    bcl_config cfg = { .workers = 2 };
    bcl_loop *loop;
    void *r = (void *)1;

    CHECK_EQ(bcl_loop_new(&loop, &cfg), 0);
    CHECK_EQ(bcl_run_until_complete(loop, main_task, arg, &r), 0);
    CHECK_PTR_EQ(r, NULL);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    CHECK_EQ(bcl_loop_free(loop), 0);
    return 0;
}

/* --- one caller blocked on one object, from a plain thread --------------- */

enum blocked_kind { LOCK, ACQUIRE, EVENT_WAIT, COND_WAIT, GROUP_WAIT };

struct blocked {
    enum blocked_kind kind;
    bcl_mutex *m;
    bcl_sem *s;
    bcl_event *e;
    bcl_cond *c;
    bcl_waitgroup *wg;
    int rc;       /* the blocking call's result */
    int rc_after; /* LOCK, COND_WAIT: unlock afterwards (0: m was held) */
    atomic_int returned;
};

static void *
blocked_thread(void *arg)
{
    struct blocked *b = arg;

    switch (b->kind) {
    case LOCK:
        b->rc = bcl_mutex_lock(b->m);
        b->rc_after = bcl_mutex_unlock(b->m);
        break;
    case ACQUIRE:
        b->rc = bcl_sem_acquire(b->s);
        break;
    case EVENT_WAIT:
        b->rc = bcl_event_wait(b->e);
        break;
    case COND_WAIT:
        bcl_mutex_lock(b->m);
        b->rc = bcl_cond_wait(b->c, b->m);
        b->rc_after = bcl_mutex_unlock(b->m);
        break;
    case GROUP_WAIT:
        b->rc = bcl_waitgroup_wait(b->wg);
        break;
    }
    atomic_store(&b->returned, 1);
    return NULL;
}

/* --- bad input ----------------------------------------------------------- */

int
test_sync_bad_input(void)
{
    bcl_mutex *m;
    bcl_cond *c;
    bcl_sem *s;
    bcl_waitgroup *wg;

    CHECK_EQ(bcl_mutex_new(NULL), -EINVAL);
    CHECK_EQ(bcl_mutex_free(NULL), -EINVAL);
    CHECK_EQ(bcl_mutex_lock(NULL), -EINVAL);
    CHECK_EQ(bcl_mutex_trylock(NULL), -EINVAL);
    CHECK_EQ(bcl_mutex_unlock(NULL), -EINVAL);
    CHECK_EQ(bcl_sem_new(NULL, 1), -EINVAL);
    CHECK_EQ(bcl_sem_free(NULL), -EINVAL);
    CHECK_EQ(bcl_sem_acquire(NULL), -EINVAL);
    CHECK_EQ(bcl_sem_try_acquire(NULL), -EINVAL);
    CHECK_EQ(bcl_sem_release(NULL), -EINVAL);
    CHECK_EQ(bcl_event_new(NULL), -EINVAL);
    CHECK_EQ(bcl_event_free(NULL), -EINVAL);
    CHECK_EQ(bcl_event_set(NULL), -EINVAL);
    CHECK_EQ(bcl_event_clear(NULL), -EINVAL);
    CHECK_EQ(bcl_event_wait(NULL), -EINVAL);
    CHECK(!bcl_event_is_set(NULL));
    CHECK_EQ(bcl_cond_new(NULL), -EINVAL);
    CHECK_EQ(bcl_cond_free(NULL), -EINVAL);
    CHECK_EQ(bcl_cond_wait(NULL, NULL), -EINVAL);
    CHECK_EQ(bcl_cond_signal(NULL), -EINVAL);
    CHECK_EQ(bcl_cond_broadcast(NULL), -EINVAL);
    CHECK_EQ(bcl_waitgroup_new(NULL), -EINVAL);
    CHECK_EQ(bcl_waitgroup_free(NULL), -EINVAL);
    CHECK_EQ(bcl_waitgroup_add(NULL, 1), -EINVAL);
    CHECK_EQ(bcl_waitgroup_done(NULL), -EINVAL);
    CHECK_EQ(bcl_waitgroup_wait(NULL), -EINVAL);

    /* One NULL among valid arguments. */
    CHECK_EQ(bcl_mutex_new(&m), 0);
    CHECK_EQ(bcl_cond_new(&c), 0);
    CHECK_EQ(bcl_mutex_lock(m), 0);
    CHECK_EQ(bcl_cond_wait(c, NULL), -EINVAL);
    CHECK_EQ(bcl_cond_wait(NULL, m), -EINVAL);
    CHECK_EQ(bcl_mutex_unlock(m), 0); /* still held: nothing was done */
    CHECK_EQ(bcl_cond_free(c), 0);
    CHECK_EQ(bcl_mutex_free(m), 0);

    /* A full semaphore refuses another permit, keeping its count. */
    CHECK_EQ(bcl_sem_new(&s, SIZE_MAX), 0);
    CHECK_EQ(bcl_sem_release(s), -EINVAL);
    CHECK_EQ(bcl_sem_try_acquire(s), 0);
    CHECK_EQ(bcl_sem_release(s), 0);
    CHECK_EQ(bcl_sem_release(s), -EINVAL);
    CHECK_EQ(bcl_sem_free(s), 0);
    CHECK_EQ(bcl_waitgroup_new(&wg), 0);
    CHECK_EQ(bcl_waitgroup_add(wg, INT64_MIN), -EINVAL);
    CHECK_EQ(bcl_waitgroup_free(wg), 0);
    return 0;
}

/* --- bcl_mutex ----------------------------------------------------------- */

struct probe {
    bcl_mutex *m;
    int unlock_rc, trylock_rc;
};

static void *
probe_thread(void *arg)
{
    struct probe *p = arg;

    p->unlock_rc = bcl_mutex_unlock(p->m);
    p->trylock_rc = bcl_mutex_trylock(p->m);
    return NULL;
}

int
test_mutex_errors(void)
{
    struct blocked b = { .kind = LOCK };
    struct probe p = { 0 };
    pthread_t t;

    CHECK_EQ(bcl_mutex_new(&p.m), 0);
    CHECK_EQ(bcl_mutex_unlock(p.m), -EPERM); /* not locked at all */
    CHECK_EQ(bcl_mutex_trylock(p.m), 0);
    CHECK_EQ(bcl_mutex_trylock(p.m), -EBUSY); /* held, even by us */
    CHECK_EQ(bcl_mutex_free(p.m), -EBUSY);    /* locked: nothing freed */
    CHECK_EQ(pthread_create(&t, NULL, probe_thread, &p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(p.unlock_rc, -EPERM); /* another thread is not the owner */
    CHECK_EQ(p.trylock_rc, -EBUSY);
    CHECK_EQ(bcl_mutex_unlock(p.m), 0); /* still ours */
    CHECK_EQ(bcl_mutex_unlock(p.m), -EPERM);

    /* Waited on (and held): free refuses, frees nothing. */
    b.m = p.m;
    CHECK_EQ(bcl_mutex_lock(p.m), 0);
    CHECK_EQ(pthread_create(&t, NULL, blocked_thread, &b), 0);
    WAIT_FOR(bcl__mutex_waiting(p.m) == 1);
    CHECK_EQ(bcl_mutex_free(p.m), -EBUSY);
    CHECK_EQ(atomic_load(&b.returned), 0);
    CHECK_EQ(bcl_mutex_unlock(p.m), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(b.rc_after, 0);
    CHECK_EQ(bcl_mutex_free(p.m), 0);
    return 0;
}

/* 8 tasks (2 workers) and 4 threads increment a plain counter under the
 * mutex; tasks sometimes yield while holding it, so others suspend on it
 * and the holder may resume on the other worker. */
#define CONTEND_TASKS 8
#define CONTEND_THREADS 4
#define CONTEND_TASK_ITERS (10000 / SCALE)
#define CONTEND_THREAD_ITERS (5000 / SCALE)

struct contend {
    bcl_mutex *m;
    long counter;      /* under m, deliberately not atomic */
    atomic_int inside; /* callers in the critical section */
    atomic_int go;     /* threads start with the tasks */
    atomic_int failed;
};

static void
contend_loop(struct contend *c, int iters, bool yield_inside)
{
    for (int i = 0; i < iters; i++) {
        TASK_CHECK(&c->failed, bcl_mutex_lock(c->m) == 0);
        TASK_CHECK(&c->failed, atomic_fetch_add(&c->inside, 1) == 0);
        c->counter++;
        if (yield_inside && i % 64 == 0)
            bcl_yield();
        atomic_fetch_sub(&c->inside, 1);
        TASK_CHECK(&c->failed, bcl_mutex_unlock(c->m) == 0);
    }
}

static void *
contend_task(void *arg)
{
    contend_loop(arg, CONTEND_TASK_ITERS, true);
    return NULL;
}

static void *
contend_thread(void *arg)
{
    struct contend *c = arg;

    WAIT_FOR(atomic_load(&c->go));
    contend_loop(c, CONTEND_THREAD_ITERS, false);
    return NULL;
}

static void *
contend_main(void *arg)
{
    bcl_task *tasks[CONTEND_TASKS];

    for (int i = 0; i < CONTEND_TASKS; i++)
        if (bcl_spawn(&tasks[i], contend_task, arg) != 0)
            abort();
    atomic_store(&((struct contend *)arg)->go, 1);
    for (int i = 0; i < CONTEND_TASKS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_mutex_contention_count(void)
{
    struct contend c = { 0 };
    pthread_t threads[CONTEND_THREADS];

    CHECK_EQ(bcl_mutex_new(&c.m), 0);
    for (int i = 0; i < CONTEND_THREADS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, contend_thread, &c), 0);
    CHECK_EQ(run_on_two_workers(contend_main, &c, threads, CONTEND_THREADS),
             0);
    CHECK_EQ(atomic_load(&c.failed), 0);
    CHECK_EQ(c.counter, CONTEND_TASKS * CONTEND_TASK_ITERS +
                            CONTEND_THREADS * CONTEND_THREAD_ITERS);
    CHECK_EQ(bcl_mutex_free(c.m), 0);
    return 0;
}

/* Blocked threads get the mutex in the order they started waiting, and an
 * unlock with waiters hands it over: the unlocker cannot take it back. */
#define FIFO_WAITERS 5

struct fifo {
    bcl_mutex *m;
    int order[FIFO_WAITERS]; /* under m */
    int next;                /* under m */
    atomic_int release_first;
};

struct fifo_waiter {
    struct fifo *f;
    int id;
};

static void *
fifo_lock_thread(void *arg)
{
    struct fifo_waiter *w = arg;
    struct fifo *f = w->f;

    if (bcl_mutex_lock(f->m) != 0)
        return NULL;
    f->order[f->next++] = w->id;
    if (w->id == 0) /* keep it while the test checks the hand-off */
        WAIT_FOR(atomic_load(&f->release_first));
    bcl_mutex_unlock(f->m);
    return NULL;
}

int
test_mutex_fifo_handoff(void)
{
    struct fifo f = { 0 };
    struct fifo_waiter waiters[FIFO_WAITERS];
    pthread_t threads[FIFO_WAITERS];

    CHECK_EQ(bcl_mutex_new(&f.m), 0);
    CHECK_EQ(bcl_mutex_lock(f.m), 0);
    for (int i = 0; i < FIFO_WAITERS; i++) {
        waiters[i] = (struct fifo_waiter){ &f, i };
        CHECK_EQ(pthread_create(&threads[i], NULL, fifo_lock_thread,
                                &waiters[i]), 0);
        WAIT_FOR(bcl__mutex_waiting(f.m) == (size_t)i + 1); /* i, then i+1 */
    }
    CHECK_EQ(bcl_mutex_unlock(f.m), 0);
    /* Handed to waiter 0 directly: never free in between. */
    CHECK_EQ(bcl_mutex_trylock(f.m), -EBUSY);
    CHECK_EQ(bcl__mutex_waiting(f.m), FIFO_WAITERS - 1);
    atomic_store(&f.release_first, 1);
    for (int i = 0; i < FIFO_WAITERS; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    CHECK_EQ(f.next, FIFO_WAITERS);
    for (int i = 0; i < FIFO_WAITERS; i++)
        CHECK_EQ(f.order[i], i);
    CHECK_EQ(bcl_mutex_trylock(f.m), 0);
    CHECK_EQ(bcl_mutex_unlock(f.m), 0);
    CHECK_EQ(bcl_mutex_free(f.m), 0);
    return 0;
}

/* Tasks each lock a mutex, yield many times (finishing at different
 * times, so workers steal: a task may resume on the other worker) and
 * unlock: ownership is the task's, not the thread's.  Meanwhile another
 * task and a plain thread are refused every mutex. */
#define HOLDERS 16
#define HOLDER_YIELDS 200 /* times (1 + index) */

struct holder {
    bcl_mutex *m[HOLDERS];
    atomic_int held, probed, migrations;
    atomic_int failed;
};

struct holder_role {
    struct holder *h;
    int k;
};

static void *
holder_task(void *arg)
{
    struct holder_role *r = arg;
    struct holder *h = r->h;
    int last = bcl_worker_index();

    TASK_CHECK(&h->failed, bcl_mutex_lock(h->m[r->k]) == 0);
    atomic_fetch_add(&h->held, 1);
    for (int i = 0;
         i < HOLDER_YIELDS * (1 + r->k) || atomic_load(&h->probed) < 2; i++) {
        bcl_yield();
        if (bcl_worker_index() != last)
            atomic_fetch_add(&h->migrations, 1);
        last = bcl_worker_index();
    }
    TASK_CHECK(&h->failed, bcl_mutex_unlock(h->m[r->k]) == 0);
    TASK_CHECK(&h->failed, bcl_mutex_unlock(h->m[r->k]) == -EPERM);
    return NULL;
}

static void *
holder_probe(void *arg) /* a task, and a plain thread */
{
    struct holder *h = arg;

    WAIT_FOR(atomic_load(&h->held) == HOLDERS);
    for (int k = 0; k < HOLDERS; k++) {
        TASK_CHECK(&h->failed, bcl_mutex_unlock(h->m[k]) == -EPERM);
        TASK_CHECK(&h->failed, bcl_mutex_trylock(h->m[k]) == -EBUSY);
    }
    atomic_fetch_add(&h->probed, 1);
    return NULL;
}

static struct holder_role holder_roles[HOLDERS];

static void *
holder_main(void *arg)
{
    bcl_task *tasks[HOLDERS + 1];

    if (bcl_spawn(&tasks[HOLDERS], holder_probe, arg) != 0)
        abort();
    for (int k = 0; k < HOLDERS; k++) {
        holder_roles[k] = (struct holder_role){ arg, k };
        if (bcl_spawn(&tasks[k], holder_task, &holder_roles[k]) != 0)
            abort();
    }
    for (int i = 0; i < HOLDERS + 1; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_mutex_task_keeps_ownership(void)
{
    struct holder h = { 0 };
    pthread_t prober;

    for (int k = 0; k < HOLDERS; k++)
        CHECK_EQ(bcl_mutex_new(&h.m[k]), 0);
    CHECK_EQ(pthread_create(&prober, NULL, holder_probe, &h), 0);
    CHECK_EQ(run_on_two_workers(holder_main, &h, &prober, 1), 0);
    CHECK_EQ(atomic_load(&h.failed), 0);
    CHECK_EQ(atomic_load(&h.probed), 2);
    for (int k = 0; k < HOLDERS; k++)
        CHECK_EQ(bcl_mutex_free(h.m[k]), 0); /* unlocked by its task */
    fprintf(stderr, "# %d migrations observed\n",
            atomic_load(&h.migrations));
    return 0;
}

/* --- bcl_sem ------------------------------------------------------------- */

#define PERMITS 3
#define ADMIT_TASKS 8
#define ADMIT_THREADS 4
#define ADMIT_ITERS (2000 / SCALE)

struct admit {
    bcl_sem *s;
    atomic_int holders, max_holders;
    atomic_int failed;
};

static void *
admit_loop(void *arg) /* a task, and a plain thread */
{
    struct admit *a = arg;

    for (int i = 0; i < ADMIT_ITERS; i++) {
        int now, seen;

        TASK_CHECK(&a->failed, bcl_sem_acquire(a->s) == 0);
        now = atomic_fetch_add(&a->holders, 1) + 1;
        seen = atomic_load(&a->max_holders);
        while (now > seen &&
               !atomic_compare_exchange_weak(&a->max_holders, &seen, now))
            continue;
        bcl_yield(); /* hold the permit a while */
        atomic_fetch_sub(&a->holders, 1);
        TASK_CHECK(&a->failed, bcl_sem_release(a->s) == 0);
    }
    return NULL;
}

static void *
admit_main(void *arg)
{
    bcl_task *tasks[ADMIT_TASKS];

    for (int i = 0; i < ADMIT_TASKS; i++)
        if (bcl_spawn(&tasks[i], admit_loop, arg) != 0)
            abort();
    for (int i = 0; i < ADMIT_TASKS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_sem_never_over_admits(void)
{
    struct admit a = { 0 };
    pthread_t threads[ADMIT_THREADS];

    CHECK_EQ(bcl_sem_new(&a.s, PERMITS), 0);
    for (int i = 0; i < ADMIT_THREADS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, admit_loop, &a), 0);
    CHECK_EQ(run_on_two_workers(admit_main, &a, threads, ADMIT_THREADS), 0);
    CHECK_EQ(atomic_load(&a.failed), 0);
    CHECK(atomic_load(&a.max_holders) >= 1);
    CHECK(atomic_load(&a.max_holders) <= PERMITS);
    /* Every permit came back: none lost, none made up. */
    for (int i = 0; i < PERMITS; i++)
        CHECK_EQ(bcl_sem_try_acquire(a.s), 0);
    CHECK_EQ(bcl_sem_try_acquire(a.s), -EAGAIN);
    CHECK_EQ(bcl_sem_free(a.s), 0);
    return 0;
}

int
test_sem_fifo_handoff(void)
{
    enum { WAITERS = 4 };
    struct blocked b[WAITERS] = { 0 };
    pthread_t threads[WAITERS];
    bcl_sem *s;

    CHECK_EQ(bcl_sem_new(&s, 0), 0);
    CHECK_EQ(bcl_sem_try_acquire(s), -EAGAIN);
    CHECK_EQ(bcl_sem_release(s), 0); /* nobody waits: into the count */
    CHECK_EQ(bcl_sem_try_acquire(s), 0);
    for (int i = 0; i < WAITERS; i++) {
        b[i].kind = ACQUIRE;
        b[i].s = s;
        CHECK_EQ(pthread_create(&threads[i], NULL, blocked_thread, &b[i]), 0);
        WAIT_FOR(bcl__sem_waiting(s) == (size_t)i + 1); /* i, then i+1 */
    }
    for (int i = 0; i < WAITERS; i++) {
        CHECK_EQ(bcl_sem_release(s), 0);
        /* Handed to the oldest waiter, not left in the count. */
        CHECK_EQ(bcl_sem_try_acquire(s), -EAGAIN);
        CHECK_EQ(bcl__sem_waiting(s), WAITERS - 1 - i);
        CHECK_EQ(pthread_join(threads[i], NULL), 0); /* that one: i */
        CHECK_EQ(b[i].rc, 0);
        for (int j = i + 1; j < WAITERS; j++)
            CHECK_EQ(atomic_load(&b[j].returned), 0);
    }
    CHECK_EQ(bcl_sem_free(s), 0);
    return 0;
}

/* --- bcl_event ----------------------------------------------------------- */

#define EVENT_THREADS 3
#define EVENT_TASKS 4

struct event_test {
    bcl_event *e;
    atomic_int woken;
    atomic_int failed;
};

static void *
event_wait_task(void *arg)
{
    struct event_test *t = arg;

    TASK_CHECK(&t->failed, bcl_event_wait(t->e) == 0);
    atomic_fetch_add(&t->woken, 1);
    return NULL;
}

static void *
event_main(void *arg)
{
    struct event_test *t = arg;
    bcl_task *tasks[EVENT_TASKS];

    for (int i = 0; i < EVENT_TASKS; i++)
        if (bcl_spawn(&tasks[i], event_wait_task, arg) != 0)
            abort();
    WAIT_FOR(bcl__event_waiting(t->e) == EVENT_THREADS + EVENT_TASKS);
    TASK_CHECK(&t->failed, atomic_load(&t->woken) == 0);
    bcl_event_set(t->e);
    for (int i = 0; i < EVENT_TASKS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_event_set_wakes_all(void)
{
    struct event_test t = { 0 };
    struct blocked b[EVENT_THREADS] = { 0 };
    pthread_t threads[EVENT_THREADS];

    CHECK_EQ(bcl_event_new(&t.e), 0);
    CHECK(!bcl_event_is_set(t.e));
    for (int i = 0; i < EVENT_THREADS; i++) {
        b[i].kind = EVENT_WAIT;
        b[i].e = t.e;
        CHECK_EQ(pthread_create(&threads[i], NULL, blocked_thread, &b[i]), 0);
    }
    CHECK_EQ(run_on_two_workers(event_main, &t, threads, EVENT_THREADS), 0);
    for (int i = 0; i < EVENT_THREADS; i++)
        CHECK_EQ(b[i].rc, 0);
    CHECK_EQ(atomic_load(&t.failed), 0);
    CHECK_EQ(atomic_load(&t.woken), EVENT_TASKS);
    CHECK_EQ(bcl__event_waiting(t.e), 0);
    CHECK(bcl_event_is_set(t.e));
    CHECK_EQ(bcl_event_wait(t.e), 0); /* set: returns at once */
    CHECK_EQ(bcl_event_set(t.e), 0);  /* twice is fine */
    CHECK_EQ(bcl_event_free(t.e), 0);
    return 0;
}

int
test_event_clear_blocks_again(void)
{
    struct blocked b = { .kind = EVENT_WAIT };
    pthread_t t;

    CHECK_EQ(bcl_event_new(&b.e), 0);
    CHECK_EQ(bcl_event_set(b.e), 0);
    CHECK_EQ(bcl_event_clear(b.e), 0);
    CHECK(!bcl_event_is_set(b.e));
    CHECK_EQ(pthread_create(&t, NULL, blocked_thread, &b), 0);
    WAIT_FOR(bcl__event_waiting(b.e) == 1);
    CHECK_EQ(atomic_load(&b.returned), 0);
    CHECK_EQ(bcl_event_clear(b.e), 0); /* clearing a clear event: no-op */
    CHECK_EQ(bcl__event_waiting(b.e), 1);
    CHECK_EQ(bcl_event_set(b.e), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(bcl_event_free(b.e), 0);
    return 0;
}

/* --- bcl_cond ------------------------------------------------------------ */

static int
count_returned(struct blocked *b, int n)
{
    int returned = 0;

    for (int i = 0; i < n; i++)
        returned += atomic_load(&b[i].returned);
    return returned;
}

int
test_cond_signal_one_broadcast_all(void)
{
    enum { WAITERS = 4 };
    struct blocked b[WAITERS] = { 0 };
    pthread_t threads[WAITERS];
    bcl_mutex *m;
    bcl_cond *c;

    CHECK_EQ(bcl_mutex_new(&m), 0);
    CHECK_EQ(bcl_cond_new(&c), 0);
    CHECK_EQ(bcl_cond_signal(c), 0); /* nobody waits: no effect */
    for (int i = 0; i < WAITERS; i++) {
        b[i] = (struct blocked){ .kind = COND_WAIT, .m = m, .c = c };
        CHECK_EQ(pthread_create(&threads[i], NULL, blocked_thread, &b[i]), 0);
    }
    WAIT_FOR(bcl__cond_waiting(c) == WAITERS);
    CHECK_EQ(bcl_mutex_lock(m), 0); /* once the last waiter released it */
    CHECK_EQ(bcl_cond_signal(c), 0);
    CHECK_EQ(bcl__cond_waiting(c), WAITERS - 1); /* exactly one woken */
    CHECK_EQ(bcl_mutex_unlock(m), 0);
    WAIT_FOR(count_returned(b, WAITERS) == 1);
    CHECK_EQ(bcl__cond_waiting(c), WAITERS - 1); /* the others still wait */
    CHECK_EQ(bcl_cond_free(c), -EBUSY);
    CHECK_EQ(bcl_cond_broadcast(c), 0);
    CHECK_EQ(bcl__cond_waiting(c), 0);
    for (int i = 0; i < WAITERS; i++) {
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
        CHECK_EQ(b[i].rc, 0);
        CHECK_EQ(b[i].rc_after, 0); /* it held m again on return */
    }
    CHECK_EQ(bcl_cond_free(c), 0);
    CHECK_EQ(bcl_mutex_free(m), 0);
    return 0;
}

/* A cond may be freed as soon as the broadcast that woke its waiters has
 * returned (POSIX allows it for pthread_cond_destroy): a woken waiter
 * never touches the cond again.  Tasks on a one-worker loop whose worker
 * a hog keeps busy, so none of them runs before the free (under ASan a
 * touch of the freed cond would fail the run). */
int
test_cond_free_right_after_broadcast(void)
{
    enum { WAITERS = 3 };
    struct blocked b[WAITERS] = { 0 };
    struct test_hog hog = { 0 };
    bcl_task *tasks[WAITERS], *hogger;
    pthread_t runner;
    bcl_loop *loop;
    bcl_mutex *m;
    bcl_cond *c;

    CHECK_EQ(bcl_mutex_new(&m), 0);
    CHECK_EQ(bcl_cond_new(&c), 0);
    CHECK_EQ(test_serve(1, &loop, &runner), 0);
    for (int i = 0; i < WAITERS; i++) {
        b[i] = (struct blocked){ .kind = COND_WAIT, .m = m, .c = c };
        CHECK_EQ(bcl_spawn_on(loop, &tasks[i], blocked_thread, &b[i]), 0);
    }
    WAIT_FOR(bcl__cond_waiting(c) == WAITERS);
    CHECK_EQ(bcl_spawn_on(loop, &hogger, test_hog_task, &hog), 0);
    WAIT_FOR(atomic_load(&hog.running));
    CHECK_EQ(bcl_mutex_lock(m), 0);
    CHECK_EQ(bcl_cond_broadcast(c), 0);
    CHECK_EQ(bcl_mutex_unlock(m), 0);
    CHECK_EQ(bcl_cond_free(c), 0);
    atomic_store(&hog.release, 1);
    CHECK_EQ(bcl_join(hogger, NULL), 0);
    for (int i = 0; i < WAITERS; i++) {
        CHECK_EQ(bcl_join(tasks[i], NULL), 0);
        CHECK_EQ(b[i].rc, 0);
        CHECK_EQ(b[i].rc_after, 0); /* it held m again on return */
    }
    CHECK_EQ(test_serve_end(loop, runner), 0);
    CHECK_EQ(bcl_mutex_free(m), 0);
    return 0;
}

/* A thread that holds a mutex until told to let go. */
struct holding {
    bcl_mutex *m;
    atomic_int locked, release;
};

static void *
holding_thread(void *arg)
{
    struct holding *h = arg;

    bcl_mutex_lock(h->m);
    atomic_store(&h->locked, 1);
    WAIT_FOR(atomic_load(&h->release));
    bcl_mutex_unlock(h->m);
    return NULL;
}

int
test_cond_wait_requires_mutex(void)
{
    struct holding h = { 0 };
    pthread_t t;
    bcl_cond *c;

    CHECK_EQ(bcl_mutex_new(&h.m), 0);
    CHECK_EQ(bcl_cond_new(&c), 0);
    CHECK_EQ(bcl_cond_wait(c, h.m), -EPERM); /* m not locked */
    CHECK_EQ(pthread_create(&t, NULL, holding_thread, &h), 0);
    WAIT_FOR(atomic_load(&h.locked));
    CHECK_EQ(bcl_cond_wait(c, h.m), -EPERM); /* locked by another thread */
    CHECK_EQ(bcl__cond_waiting(c), 0);       /* nothing linked */
    atomic_store(&h.release, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(bcl_mutex_trylock(h.m), 0); /* nothing changed hands */
    CHECK_EQ(bcl_mutex_unlock(h.m), 0);
    CHECK_EQ(bcl_cond_free(c), 0);
    CHECK_EQ(bcl_mutex_free(h.m), 0);
    return 0;
}

/* A bounded buffer guarded by a mutex and two conds; producers and
 * consumers are half tasks, half threads.  Every item once. */
#define PC_SIDE 4 /* producers, and consumers; the first half are tasks */
#define PC_PER_PRODUCER (5000 / SCALE)
#define PC_TOTAL (PC_SIDE * PC_PER_PRODUCER)
#define PC_CAP 4

struct pc {
    bcl_mutex *m;
    bcl_cond *not_empty, *not_full;
    int buf[PC_CAP]; /* under m: a ring of `count` items from `head` */
    int head, count;
    int producers_left; /* under m */
    atomic_int seen[PC_TOTAL];
    atomic_int got;
    atomic_int failed;
};

struct pc_role {
    struct pc *pc;
    int id;
};

static void *
pc_producer(void *arg)
{
    struct pc_role *r = arg;
    struct pc *pc = r->pc;

    for (int i = 0; i < PC_PER_PRODUCER; i++) {
        TASK_CHECK(&pc->failed, bcl_mutex_lock(pc->m) == 0);
        while (pc->count == PC_CAP)
            TASK_CHECK(&pc->failed,
                       bcl_cond_wait(pc->not_full, pc->m) == 0);
        pc->buf[(pc->head + pc->count++) % PC_CAP] =
            r->id * PC_PER_PRODUCER + i;
        bcl_cond_signal(pc->not_empty);
        TASK_CHECK(&pc->failed, bcl_mutex_unlock(pc->m) == 0);
    }
    bcl_mutex_lock(pc->m);
    if (--pc->producers_left == 0)
        bcl_cond_broadcast(pc->not_empty); /* consumers: drain, then stop */
    bcl_mutex_unlock(pc->m);
    return NULL;
}

static void *
pc_consumer(void *arg)
{
    struct pc_role *r = arg;
    struct pc *pc = r->pc;

    for (;;) {
        int item;

        TASK_CHECK(&pc->failed, bcl_mutex_lock(pc->m) == 0);
        while (pc->count == 0 && pc->producers_left > 0)
            TASK_CHECK(&pc->failed,
                       bcl_cond_wait(pc->not_empty, pc->m) == 0);
        if (pc->count == 0) {
            bcl_mutex_unlock(pc->m);
            break;
        }
        item = pc->buf[pc->head];
        pc->head = (pc->head + 1) % PC_CAP;
        pc->count--;
        bcl_cond_signal(pc->not_full);
        TASK_CHECK(&pc->failed, bcl_mutex_unlock(pc->m) == 0);
        TASK_CHECK(&pc->failed, item >= 0 && item < PC_TOTAL);
        if (item >= 0 && item < PC_TOTAL)
            TASK_CHECK(&pc->failed, atomic_fetch_add(&pc->seen[item], 1) == 0);
        atomic_fetch_add(&pc->got, 1);
    }
    return NULL;
}

static struct pc_role pc_producers[PC_SIDE], pc_consumers[PC_SIDE];

static void *
pc_main(void *arg)
{
    bcl_task *tasks[PC_SIDE];

    (void)arg;
    for (int i = 0; i < PC_SIDE / 2; i++)
        if (bcl_spawn(&tasks[2 * i], pc_consumer, &pc_consumers[i]) != 0 ||
            bcl_spawn(&tasks[2 * i + 1], pc_producer, &pc_producers[i]) != 0)
            abort();
    for (int i = 0; i < PC_SIDE; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_cond_producer_consumer(void)
{
    struct pc *pc = calloc(1, sizeof *pc);
    pthread_t threads[PC_SIDE];
    int nthreads = 0;

    CHECK(pc != NULL);
    CHECK_EQ(bcl_mutex_new(&pc->m), 0);
    CHECK_EQ(bcl_cond_new(&pc->not_empty), 0);
    CHECK_EQ(bcl_cond_new(&pc->not_full), 0);
    pc->producers_left = PC_SIDE;
    for (int i = 0; i < PC_SIDE; i++) {
        pc_producers[i] = (struct pc_role){ pc, i };
        pc_consumers[i] = (struct pc_role){ pc, i };
    }
    for (int i = PC_SIDE / 2; i < PC_SIDE; i++) {
        CHECK_EQ(pthread_create(&threads[nthreads++], NULL, pc_producer,
                                &pc_producers[i]), 0);
        CHECK_EQ(pthread_create(&threads[nthreads++], NULL, pc_consumer,
                                &pc_consumers[i]), 0);
    }
    CHECK_EQ(run_on_two_workers(pc_main, NULL, threads, nthreads), 0);
    CHECK_EQ(atomic_load(&pc->failed), 0);
    CHECK_EQ(atomic_load(&pc->got), PC_TOTAL);
    for (int i = 0; i < PC_TOTAL; i++)
        CHECK_EQ(atomic_load(&pc->seen[i]), 1);
    CHECK_EQ(pc->count, 0);
    CHECK_EQ(bcl_cond_free(pc->not_full), 0);
    CHECK_EQ(bcl_cond_free(pc->not_empty), 0);
    CHECK_EQ(bcl_mutex_free(pc->m), 0);
    free(pc);
    return 0;
}

/* --- bcl_waitgroup ------------------------------------------------------- */

#define GROUP_TASKS 8

struct group {
    bcl_waitgroup *wg;
    atomic_int finished;
    atomic_int failed;
};

static void *
group_worker_task(void *arg)
{
    struct group *g = arg;

    for (int i = 0; i < 10; i++)
        bcl_yield();
    atomic_fetch_add(&g->finished, 1);
    TASK_CHECK(&g->failed, bcl_waitgroup_done(g->wg) == 0);
    return NULL;
}

static void *
group_main(void *arg)
{
    struct group *g = arg;
    bcl_task *tasks[GROUP_TASKS];

    TASK_CHECK(&g->failed, bcl_waitgroup_add(g->wg, GROUP_TASKS) == 0);
    for (int i = 0; i < GROUP_TASKS; i++)
        if (bcl_spawn(&tasks[i], group_worker_task, g) != 0)
            abort();
    TASK_CHECK(&g->failed, bcl_waitgroup_wait(g->wg) == 0);
    /* Not before the last done: each task counts itself first. */
    TASK_CHECK(&g->failed, atomic_load(&g->finished) == GROUP_TASKS);
    for (int i = 0; i < GROUP_TASKS; i++)
        bcl_join(tasks[i], NULL);
    return NULL;
}

int
test_waitgroup_waits_for_last_done(void)
{
    enum { N = 5 };
    struct blocked b = { .kind = GROUP_WAIT };
    struct group g = { 0 };
    pthread_t t;

    /* A blocked thread returns on the n-th done, not before. */
    CHECK_EQ(bcl_waitgroup_new(&b.wg), 0);
    CHECK_EQ(bcl_waitgroup_wait(b.wg), 0); /* zero: at once */
    CHECK_EQ(bcl_waitgroup_add(b.wg, N), 0);
    CHECK_EQ(pthread_create(&t, NULL, blocked_thread, &b), 0);
    WAIT_FOR(bcl__waitgroup_waiting(b.wg) == 1);
    for (int i = 0; i < N - 1; i++) {
        CHECK_EQ(bcl_waitgroup_done(b.wg), 0);
        CHECK_EQ(bcl__waitgroup_waiting(b.wg), 1);
        CHECK_EQ(atomic_load(&b.returned), 0);
    }
    CHECK_EQ(bcl_waitgroup_done(b.wg), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(bcl_waitgroup_free(b.wg), 0);

    /* A task waits for 8 tasks. */
    CHECK_EQ(bcl_waitgroup_new(&g.wg), 0);
    CHECK_EQ(run_on_two_workers(group_main, &g, NULL, 0), 0);
    CHECK_EQ(atomic_load(&g.failed), 0);
    CHECK_EQ(bcl_waitgroup_free(g.wg), 0);
    return 0;
}

int
test_waitgroup_add_errors(void)
{
    bcl_waitgroup *wg;

    CHECK_EQ(bcl_waitgroup_new(&wg), 0);
    CHECK_EQ(bcl_waitgroup_add(wg, -1), -EINVAL);
    CHECK_EQ(bcl_waitgroup_done(wg), -EINVAL);
    CHECK_EQ(bcl_waitgroup_add(wg, 0), 0);
    CHECK_EQ(bcl_waitgroup_wait(wg), 0); /* still zero */
    CHECK_EQ(bcl_waitgroup_add(wg, 3), 0);
    CHECK_EQ(bcl_waitgroup_add(wg, -4), -EINVAL); /* count unchanged: 3 */
    CHECK_EQ(bcl_waitgroup_add(wg, -2), 0);
    CHECK_EQ(bcl_waitgroup_done(wg), 0);
    CHECK_EQ(bcl_waitgroup_done(wg), -EINVAL);
    CHECK_EQ(bcl_waitgroup_add(wg, INT64_MAX), 0);
    CHECK_EQ(bcl_waitgroup_add(wg, 1), -EINVAL); /* would overflow */
    CHECK_EQ(bcl_waitgroup_add(wg, INT64_MIN), -EINVAL);
    CHECK_EQ(bcl_waitgroup_add(wg, -INT64_MAX), 0);
    CHECK_EQ(bcl_waitgroup_wait(wg), 0);
    CHECK_EQ(bcl_waitgroup_free(wg), 0);
    return 0;
}

/* --- free while waited on ------------------------------------------------ */

int
test_sync_free_busy_while_waited(void)
{
    struct blocked b[3] = { { .kind = ACQUIRE }, { .kind = EVENT_WAIT },
                            { .kind = GROUP_WAIT } };
    pthread_t t[3];

    CHECK_EQ(bcl_sem_new(&b[0].s, 0), 0);
    CHECK_EQ(bcl_event_new(&b[1].e), 0);
    CHECK_EQ(bcl_waitgroup_new(&b[2].wg), 0);
    CHECK_EQ(bcl_waitgroup_add(b[2].wg, 1), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, blocked_thread, &b[i]), 0);
    WAIT_FOR(bcl__sem_waiting(b[0].s) == 1);
    WAIT_FOR(bcl__event_waiting(b[1].e) == 1);
    WAIT_FOR(bcl__waitgroup_waiting(b[2].wg) == 1);
    CHECK_EQ(bcl_sem_free(b[0].s), -EBUSY);
    CHECK_EQ(bcl_event_free(b[1].e), -EBUSY);
    CHECK_EQ(bcl_waitgroup_free(b[2].wg), -EBUSY);
    CHECK_EQ(bcl_sem_release(b[0].s), 0);
    CHECK_EQ(bcl_event_set(b[1].e), 0);
    CHECK_EQ(bcl_waitgroup_done(b[2].wg), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(b[i].rc, 0);
    }
    CHECK_EQ(bcl_sem_free(b[0].s), 0);
    CHECK_EQ(bcl_event_free(b[1].e), 0);
    CHECK_EQ(bcl_waitgroup_free(b[2].wg), 0);
    return 0;
}
