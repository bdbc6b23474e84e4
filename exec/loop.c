/*
 * exec/loop.c - creating, running, stopping and freeing a loop; stats.
 *
 * A run (bcl_run_until_complete / bcl_run_forever) is owned by the thread
 * that calls it: it claims `run_owner`, sets `running` and wakes one
 * worker (park.h's rule spreads the work from there), waits for its end
 * condition, clears `running` and waits until every worker is parked, so
 * no task code runs between two runs.
 */
#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "futex.h"
#include "signal.h"
#include "suspend.h"
#include "task.h"

#define MAX_WORKERS 1024u
#define DEQUE_INITIAL 256
#define KNOWN_FLAGS                                                      \
    (BCL_PIN_WORKERS | BCL_STOP_ON_SIGINT | BCL_GUARD_MPROTECT |          \
     BCL_STOP_ON_SIGTERM)

/* CPUs this process may use: its affinity mask, capped by a cgroup v2
 * CPU quota when one is set (cpu.max "quota period"). */
static unsigned
loop_default_workers(void)
{
    cpu_set_t set;
    unsigned n = 1;
    FILE *f;

    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (unsigned)CPU_COUNT(&set);
    f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f != NULL) {
        long long quota, period;

        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 &&
            period > 0) {
            long long cap = (quota + period - 1) / period;

            if (cap < (long long)n)
                n = (unsigned)cap;
        }
        fclose(f);
    }
    return n ? n : 1;
}

bool
bcl__loop_has_work(struct bcl_loop *loop, struct bcl__worker *self)
{
    if (!bcl__loop_running(loop))
        return false;
    if (!bcl__inject_empty(&loop->inject))
        return true;
    for (unsigned i = 0; i < loop->nworkers; i++) {
        struct bcl__worker *v = &loop->workers[i];
        bool sticky;
        int64_t queued = bcl__deque_look(&v->dq, &sticky);

        /* Sticky work below the backlog is for its owner (and for
         * watchers: park.h), not for anyone else. */
        if (queued > 0 &&
            (v == self || !bcl__park_owner_only(queued, sticky)))
            return true;
    }
    return false;
}

bool
bcl__loop_has_queued(struct bcl_loop *loop)
{
    if (!bcl__inject_empty(&loop->inject))
        return true;
    for (unsigned i = 0; i < loop->nworkers; i++)
        if (bcl__deque_size_hint(&loop->workers[i].dq) > 0)
            return true;
    return false;
}

/* A run starts (`running` is 1): wake the workers with tasks in their
 * own deques -- they park with them when a run ends, and sticky ones are
 * for them -- and one more for the injection queue. */
static void
loop_wake_for_queued(struct bcl_loop *loop)
{
    for (unsigned i = 0; i < loop->nworkers; i++)
        if (bcl__deque_size_hint(&loop->workers[i].dq) > 0)
            bcl__park_wake_worker(&loop->workers[i]);
    bcl__park_wake_one(loop);
}

/* Stop and join the first `started` workers, then free everything. */
static void
loop_destroy(struct bcl_loop *loop, unsigned started)
{
    /* release: workers that see shutdown see everything before it. */
    atomic_store_explicit(&loop->shutdown, 1, memory_order_release);
    bcl__park_wake_all(loop);
    for (unsigned i = 0; i < started; i++)
        pthread_join(loop->workers[i].thread, NULL);
    for (unsigned i = 0; i < loop->nworkers; i++) {
        struct bcl__worker *w = &loop->workers[i];

        bcl__records_destroy(&w->records);
        bcl__stack_pool_destroy(&w->stacks);
        bcl__deque_destroy(&w->dq);
        /* Only public timers can be left (suspended tasks keep the loop
         * from being freed): self-owned ones are freed, handles orphaned
         * for their bcl_timer_cancel. */
        bcl__timer_heap_clear(&w->timers, bcl__time_orphan);
        bcl__timer_heap_destroy(&w->timers);
        bcl__time_cache_drain(w);
    }
    bcl__park_destroy(&loop->park);
    bcl__inject_destroy(&loop->inject);
    bcl__time_soon_drop(loop);
    sem_destroy(&loop->stop);
    pthread_mutex_destroy(&loop->remote_lock);
    pthread_mutex_destroy(&loop->soon_lock);
    free(loop->workers);
    free(loop);
}

int
bcl_loop_new(bcl_loop **out, const bcl_config *cfg)
{
    static const bcl_config defaults = { 0, 0, 0 };
    struct bcl_loop *loop;
    unsigned n, i;
    int err;

    if (out == NULL)
        return -EINVAL;
    if (cfg == NULL)
        cfg = &defaults;
    if (cfg->workers > MAX_WORKERS || (cfg->flags & ~KNOWN_FLAGS) != 0)
        return -EINVAL;
    n = cfg->workers ? cfg->workers : loop_default_workers();
    loop = aligned_alloc(BCL__CACHELINE, sizeof *loop);
    if (loop == NULL)
        return -ENOMEM;
    memset(loop, 0, sizeof *loop);
    err = bcl__stack_params_init(&loop->stack_params, cfg->stack_size,
                                 (cfg->flags & BCL_GUARD_MPROTECT) != 0);
    if (err != 0) {
        free(loop);
        return err;
    }
    loop->workers = aligned_alloc(BCL__CACHELINE, n * sizeof loop->workers[0]);
    if (loop->workers == NULL || bcl__park_init(&loop->park, n) != 0) {
        free(loop->workers);
        free(loop);
        return -ENOMEM;
    }
    memset(loop->workers, 0, n * sizeof loop->workers[0]);
    loop->nworkers = n;
    loop->flags = cfg->flags;
    bcl__cancel_fence_init(loop);
    bcl__inject_init(&loop->inject);
    for (i = 0; i < n; i++) {
        struct bcl__worker *w = &loop->workers[i];

        w->loop = loop;
        w->index = i;
        w->oldest_id = -1;
        bcl__rand_seed(&w->rng, ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ull ^
                                    (uint64_t)(uintptr_t)loop);
        if (bcl__deque_init(&w->dq, DEQUE_INITIAL) != 0)
            break;
        bcl__timer_heap_init(&w->timers);
    }
    sem_init(&loop->stop, 0, 0);
    pthread_mutex_init(&loop->remote_lock, NULL);
    pthread_mutex_init(&loop->soon_lock, NULL);
    CDS_INIT_LIST_HEAD(&loop->soon_pending);
    if (i < n) {
        while (i-- > 0)
            bcl__deque_destroy(&loop->workers[i].dq);
        sem_destroy(&loop->stop);
        pthread_mutex_destroy(&loop->remote_lock);
        pthread_mutex_destroy(&loop->soon_lock);
        bcl__inject_destroy(&loop->inject);
        bcl__park_destroy(&loop->park);
        free(loop->workers);
        free(loop);
        return -ENOMEM;
    }
    bcl__signal_overflow_install();
    for (i = 0; i < n; i++) {
        if ((err = bcl__worker_start(&loop->workers[i])) != 0) {
            loop_destroy(loop, i);
            return err;
        }
    }
    *out = loop;
    return 0;
}

/* Claim the loop for a run: -EINVAL, -EPERM (from a worker) or -EBUSY. */
static int
loop_claim(struct bcl_loop *loop)
{
    uint32_t free_owner = 0;

    if (loop == NULL)
        return -EINVAL;
    if (bcl__worker_current() != NULL)
        return -EPERM;
    /* acquire: see the previous run's end; pairs with loop_release(). */
    if (!atomic_compare_exchange_strong_explicit(&loop->run_owner,
                                                 &free_owner, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        return -EBUSY;
    return 0;
}

static void
loop_release(struct bcl_loop *loop)
{
    /* release: the next owner sees this run's effects. */
    atomic_store_explicit(&loop->run_owner, 0, memory_order_release);
}

/* Wait until every worker is parked. */
static void
loop_wait_all_parked(struct bcl_loop *loop)
{
    for (;;) {
        uint32_t n;

        /* Under the park lock: a parker that re-checks at P4 after this
         * read sees the run state we set before it (park.c), and seeing
         * all of them parked makes their counters visible.  relaxed: the
         * lock orders it. */
        pthread_mutex_lock(&loop->park.lock);
        n = atomic_load_explicit(&loop->park.nidle, memory_order_relaxed);
        pthread_mutex_unlock(&loop->park.lock);
        if (n == loop->nworkers)
            return;
        bcl__futex_wait(&loop->park.nidle, n, NULL);
    }
}

static void
loop_start(struct bcl_loop *loop)
{
    /* seq_cst: W1 of the wake-up protocol for everything queued before
     * the run; pairs with P3/P4 of workers parking (park.h). */
    atomic_store_explicit(&loop->running, 1, memory_order_seq_cst);
    loop_wake_for_queued(loop);
    /* Workers that parked between runs sleep without a deadline: let
     * those with timers look at them again. */
    for (unsigned i = 0; i < loop->nworkers; i++)
        if (bcl__timer_earliest(&loop->workers[i].timers) != UINT64_MAX)
            bcl__park_kick(&loop->workers[i]);
}

static void
loop_end(struct bcl_loop *loop)
{
    /* seq_cst: workers read it at every search; once they all park, no
     * task code runs until the next loop_start(). */
    atomic_store_explicit(&loop->running, 0, memory_order_seq_cst);
    loop_wait_all_parked(loop);
}

int
bcl_run_until_complete(bcl_loop *loop, bcl_fn main, void *arg, void **result)
{
    bcl_task *task;
    int err;

    if (main == NULL)
        return -EINVAL;
    if ((err = loop_claim(loop)) != 0)
        return err;
    err = bcl_spawn_on(loop, &task, main, arg);
    if (err == 0) {
        loop_start(loop);
        err = bcl_join(task, result);
        loop_end(loop);
    }
    loop_release(loop);
    return err;
}

int
bcl_run_forever(bcl_loop *loop)
{
    bool sigint, sigterm;
    int err;

    if ((err = loop_claim(loop)) != 0)
        return err;
    sigint = (loop->flags & BCL_STOP_ON_SIGINT) != 0;
    sigterm = (loop->flags & BCL_STOP_ON_SIGTERM) != 0;
    if ((sigint || sigterm) &&
        (err = bcl__signal_stop_attach(loop, sigint, sigterm)) != 0) {
        loop_release(loop);
        return err;
    }
    loop_start(loop);
    while (sem_wait(&loop->stop) != 0)
        continue; /* EINTR */
    /* Requests made twice count once: the next run starts afresh. */
    while (sem_trywait(&loop->stop) == 0)
        continue;
    loop_end(loop);
    if (sigint || sigterm)
        bcl__signal_stop_detach(loop);
    loop_release(loop);
    return 0;
}

int
bcl_stop(bcl_loop *loop)
{
    if (loop == NULL)
        return -EINVAL;
    /* sem_post: async-signal-safe, and a release for the runner. */
    sem_post(&loop->stop);
    return 0;
}

/* Tasks spawned and not finished yet (exact while all workers park). */
static uint64_t
loop_unfinished(struct bcl_loop *loop)
{
    /* relaxed: read after loop_wait_all_parked(), which orders them. */
    uint64_t made = atomic_load_explicit(&loop->outside_created,
                                         memory_order_relaxed);
    uint64_t done = 0;

    for (unsigned i = 0; i < loop->nworkers; i++) {
        made += atomic_load_explicit(&loop->workers[i].stats.created,
                                     memory_order_relaxed);
        done += atomic_load_explicit(&loop->workers[i].stats.finished,
                                     memory_order_relaxed);
    }
    return made - done;
}

/* Chunk records still held: by live tasks or by unreleased handles. */
static uint64_t
loop_records_in_use(struct bcl_loop *loop)
{
    uint64_t in_use = 0;

    /* Workers are parked: their owner-only fields are stable, and the
     * park lock ordered their last writes before our read of nidle. */
    for (unsigned i = 0; i < loop->nworkers; i++) {
        struct bcl__worker *w = &loop->workers[i];

        in_use += bcl__records_in_use(&w->records);
    }
    pthread_mutex_lock(&loop->remote_lock);
    in_use -= loop->nremote_free;
    pthread_mutex_unlock(&loop->remote_lock);
    return in_use;
}

/* Run the loop with every task cancelled until nothing can run. */
static void
loop_drain(struct bcl_loop *loop)
{
    /* release: tasks that see it see the loop is going away. */
    atomic_store_explicit(&loop->cancelling, 1, memory_order_release);
    /* Waits find `cancelling` at C2, which a LAZY loop skips. */
    bcl__cancel_fence_always(loop);
    loop_start(loop);
    for (;;) {
        loop_wait_all_parked(loop);
        if (!bcl__loop_has_queued(loop))
            break;
        loop_wake_for_queued(loop);
    }
    loop_end(loop);
    /* relaxed: workers are parked; the next run (if free fails) orders
     * it through run_owner. */
    atomic_store_explicit(&loop->cancelling, 0, memory_order_relaxed);
}

int
bcl_loop_free(bcl_loop *loop)
{
    int err;

    if ((err = loop_claim(loop)) != 0)
        return err;
    loop_wait_all_parked(loop);
    if (loop_unfinished(loop) != 0)
        loop_drain(loop);
    if (loop_unfinished(loop) != 0 || loop_records_in_use(loop) != 0) {
        loop_release(loop);
        return -EBUSY;
    }
    /* A plain thread that resumed the last task may still be waking a
     * worker (task.c).  acquire: pairs with its release decrement. */
    while (atomic_load_explicit(&loop->outside_scheduling,
                                memory_order_acquire) != 0)
        sched_yield();
    loop_destroy(loop, loop->nworkers);
    return 0;
}

int
bcl_loop_stats(bcl_loop *loop, bcl_stats *per_worker, unsigned n,
               unsigned *workers)
{
    if (loop == NULL || (per_worker == NULL && n > 0))
        return -EINVAL;
    if (workers != NULL)
        *workers = loop->nworkers;
    for (unsigned i = 0; i < n && i < loop->nworkers; i++) {
        struct bcl__worker_stats *s = &loop->workers[i].stats;

        /* relaxed: statistics; exact once the loop is parked. */
        per_worker[i] = (bcl_stats){
            .tasks_run = atomic_load_explicit(&s->tasks_run, memory_order_relaxed),
            .spawns = atomic_load_explicit(&s->spawns, memory_order_relaxed),
            .steals = atomic_load_explicit(&s->steals, memory_order_relaxed),
            .steal_attempts =
                atomic_load_explicit(&s->steal_attempts, memory_order_relaxed),
            .parks = atomic_load_explicit(&s->parks, memory_order_relaxed),
            .injected = atomic_load_explicit(&s->injected, memory_order_relaxed),
            .yields = atomic_load_explicit(&s->yields, memory_order_relaxed),
        };
    }
    return 0;
}
