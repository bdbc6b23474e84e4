/*
 * exec/park.c - parking and waking workers (protocol in park.h; argument
 * in docs/design.md, "Parking and waking").
 */
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "futex.h"
#include "loop.h"
#include "worker.h"

int
bcl__park_init(struct bcl__park *p, unsigned nworkers)
{
    p->idle = calloc(nworkers, sizeof p->idle[0]);
    p->watch_seen = calloc((size_t)nworkers * nworkers,
                           sizeof p->watch_seen[0]);
    if (p->idle == NULL || p->watch_seen == NULL) {
        free(p->idle);
        free(p->watch_seen);
        return -ENOMEM;
    }
    /* relaxed: no worker exists yet. */
    atomic_store_explicit(&p->nspinning, 0, memory_order_relaxed);
    atomic_store_explicit(&p->nidle, 0, memory_order_relaxed);
    atomic_store_explicit(&p->nwatching, 0, memory_order_relaxed);
    pthread_mutex_init(&p->lock, NULL);
    return 0;
}

void
bcl__park_destroy(struct bcl__park *p)
{
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->watch_seen);
}

/* Under p->lock: remove worker `index` from the idle stack if present. */
static bool
park_unlist_locked(struct bcl__park *p, unsigned index)
{
    /* relaxed: writes of nidle happen under the lock we hold. */
    uint32_t n = atomic_load_explicit(&p->nidle, memory_order_relaxed);

    for (uint32_t i = 0; i < n; i++) {
        if (p->idle[i] == index) {
            p->idle[i] = p->idle[n - 1];
            /* seq_cst: wakers read nidle locklessly at W3. */
            atomic_store_explicit(&p->nidle, n - 1, memory_order_seq_cst);
            return true;
        }
    }
    return false;
}

/* A parked worker leaves the idle list itself, to search: it saw work at
 * P4, its earliest timer is due, or a watch found a stuck worker.  True if
 * it did (it then searches, counted as spinning); false if a waker took
 * it off the list first (its wake is on the way), or the run ended. */
static bool
park_leave_idle(struct bcl__worker *w)
{
    struct bcl__park *p = &w->loop->park;
    bool unlisted;

    pthread_mutex_lock(&p->lock);
    /* Under the lock, re-read the run state: a run that ended, and saw us
     * parked (loop_wait_all_parked() reads nidle under this lock), keeps
     * us parked.  relaxed: the lock orders it. */
    unlisted =
        (atomic_load_explicit(&w->loop->running, memory_order_relaxed) ||
         atomic_load_explicit(&w->loop->shutdown, memory_order_relaxed)) &&
        park_unlist_locked(p, w->index);
    pthread_mutex_unlock(&p->lock);
    if (!unlisted)
        return false;
    /* We search again, as a spinner.  seq_cst: counted before we look,
     * so wakers see a searcher (W3). */
    atomic_fetch_add_explicit(&p->nspinning, 1, memory_order_seq_cst);
    w->spinning = true;
    return true;
}

/* --- watching sticky work (park.h, "Sticky tasks") --------------------- */

#define WATCH_MIN_NS 50000u
#define WATCH_MAX_NS 1000000u
#define WATCH_SEEN ((uint64_t)1 << 32)

enum watch_result {
    WATCH_NONE,    /* no deque holds sticky work below the backlog */
    WATCH_STICKY,  /* some do; their owners moved on since our last look */
    WATCH_STALLED, /* one's owner did not: w->stalled_victim says which */
};

/* Look at every other worker: is its oldest task sticky, and did it make
 * a scheduling decision since our last look? */
static enum watch_result
park_watch_look(struct bcl__worker *w)
{
    struct bcl_loop *loop = w->loop;
    uint64_t *seen =
        loop->park.watch_seen + (size_t)w->index * loop->nworkers;
    enum watch_result result = WATCH_NONE;

    for (unsigned i = 0; i < loop->nworkers; i++) {
        struct bcl__worker *v = &loop->workers[i];
        bool marked;
        int64_t queued;
        uint64_t now_seen;

        if (v == w)
            continue;
        queued = bcl__deque_look(&v->dq, &marked);
        if (!bcl__park_owner_only(queued, marked)) {
            seen[i] = 0; /* no sticky work, or thieves may take it */
            continue;
        }
        /* relaxed: only compared with what we saw a period ago. */
        now_seen = WATCH_SEEN |
                   atomic_load_explicit(&v->ticks, memory_order_relaxed);
        if (seen[i] == now_seen) {
            w->stalled_victim = i + 1;
            w->stalled_ticks = (uint32_t)now_seen;
            return WATCH_STALLED;
        }
        seen[i] = now_seen;
        result = WATCH_STICKY;
    }
    return result;
}

static void
park_watch_start(struct bcl__worker *w, uint64_t now)
{
    w->watch_ns = WATCH_MIN_NS;
    w->watch_at = now + WATCH_MIN_NS;
    /* seq_cst: read by sticky pushes at W3. */
    atomic_fetch_add_explicit(&w->loop->park.nwatching, 1,
                              memory_order_seq_cst);
}

static void
park_watch_stop(struct bcl__worker *w)
{
    if (w->watch_ns == 0)
        return;
    w->watch_ns = 0;
    /* seq_cst: the first half of the stop's Dekker pair (park.h). */
    atomic_fetch_sub_explicit(&w->loop->park.nwatching, 1,
                              memory_order_seq_cst);
}

/* The watch period is over.  Returns true when a stuck worker was found
 * and we left the idle list to steal from it (now searching). */
static bool
park_watch_due(struct bcl__worker *w, uint64_t now)
{
    enum watch_result seen = park_watch_look(w);

    if (seen == WATCH_STALLED)
        return park_leave_idle(w);
    if (seen == WATCH_NONE && w->watch_ns >= WATCH_MAX_NS) {
        /* Quiet for the longest period: stop.  Our decrement, then the
         * fence, then one more look; a sticky push does W1, its fence,
         * then reads nwatching: it sees our decrement and wakes someone,
         * or our look sees its task. */
        park_watch_stop(w);
        atomic_thread_fence(memory_order_seq_cst);
        if (park_watch_look(w) != WATCH_NONE)
            park_watch_start(w, now);
        return false;
    }
    /* Sticky work whose owners progress, or a quiet spell: look again
     * later, less often each time. */
    w->watch_ns = w->watch_ns * 2 < WATCH_MAX_NS ? w->watch_ns * 2
                                                 : WATCH_MAX_NS;
    w->watch_at = now + w->watch_ns;
    return false;
}

/* P5.  Returns true if the worker woke for a due timer or found a stuck
 * worker (and left the idle list), false once a waker set its word to
 * 1. */
static bool
park_sleep(struct bcl__worker *w)
{
    for (;;) {
        /* acquire: pairs with the waker's release store of 1 (we see the
         * idle-list update it made) or the kicker's 2. */
        uint32_t word = atomic_load_explicit(&w->wake, memory_order_acquire);
        uint64_t due, trim_at, watch_at, now;
        struct timespec span;

        if (word == 1)
            return false;
        if (word == 2) {
            /* A kick: look at the timers again.  seq_cst, and the fence
             * after it: a kicker whose CAS found our 2 (and so did not
             * wake us) armed its timer before its own fence; our re-read
             * of the earliest deadline must follow this reset in the same
             * Dekker order as P1/P3.  A waker's 1 racing this CAS wins
             * (the CAS fails, and we loop). */
            atomic_compare_exchange_strong_explicit(
                &w->wake, &word, 0, memory_order_seq_cst,
                memory_order_relaxed);
            atomic_thread_fence(memory_order_seq_cst);
            continue;
        }
        due = bcl__loop_running(w->loop) ? bcl__timer_earliest(&w->timers)
                                         : UINT64_MAX;
        trim_at = w->stacks.trim_at != 0 ? w->stacks.trim_at : UINT64_MAX;
        watch_at = w->watch_ns != 0 ? w->watch_at : UINT64_MAX;
        if (due == UINT64_MAX && trim_at == UINT64_MAX &&
            watch_at == UINT64_MAX) {
            bcl__futex_wait(&w->wake, 0, NULL);
            continue;
        }
        now = bcl__now_ns();
        if (now >= trim_at) {
            /* The stack pool's trim period is over: trim while parked
             * (the pool is ours alone; nobody else needs to know), a
             * batch per pass so that a wake is not kept waiting. */
            bcl__stack_pool_trim(&w->stacks, now, BCL__STACK_TRIM_BATCH);
            continue;
        }
        if (now >= watch_at) {
            if (park_watch_due(w, now))
                return true; /* a stuck worker: we search, to steal */
            if (w->watch_ns != 0 && w->watch_at <= now) {
                /* A stuck worker, but we could not leave the idle list:
                 * a waker popped us (it counted us in nspinning at W4;
                 * its word is on the way), or the run ended (no task runs
                 * until the next, whose start wakes the workers with
                 * queued tasks).  Either way we stop watching: sleeping
                 * without a deadline, we must not be counted. */
                park_watch_stop(w);
                bcl__futex_wait(&w->wake, 0, NULL);
            }
            continue;
        }
        if (now >= due) {
            if (park_leave_idle(w))
                return true;
            /* A waker popped us: wait for its word. */
            bcl__futex_wait(&w->wake, 0, NULL);
            continue;
        }
        if (trim_at < due)
            due = trim_at;
        if (watch_at < due)
            due = watch_at;
        span.tv_sec = (time_t)((due - now) / 1000000000u);
        span.tv_nsec = (long)((due - now) % 1000000000u);
        bcl__futex_wait(&w->wake, 0, &span);
    }
}

void
bcl__park(struct bcl__worker *w)
{
    struct bcl_loop *loop = w->loop;
    struct bcl__park *p = &loop->park;
    enum watch_result watch;
    bool searching;
    uint32_t n;

    /* P1: announce.  relaxed: `wake` is only set by a waker that finds us
     * on the idle list, which the lock below publishes. */
    atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    n = atomic_load_explicit(&p->nidle, memory_order_relaxed) + 1;
    p->idle[n - 1] = w->index;
    /* seq_cst: the P1 half of the Dekker pair with W3 (wake_one). */
    atomic_store_explicit(&p->nidle, n, memory_order_seq_cst);
    pthread_mutex_unlock(&p->lock);
    bcl__stat_inc(&w->stats.parks);

    /* P2: no longer a searcher.  seq_cst RMW: see W3. */
    if (w->spinning) {
        w->spinning = false;
        atomic_fetch_sub_explicit(&p->nspinning, 1, memory_order_seq_cst);
    }
    /* P3: our P1/P2 stores before any P4 load; pairs with the fence at
     * W2 in bcl__park_wake_one(). */
    atomic_thread_fence(memory_order_seq_cst);

    /* Every worker idle: tell a bcl_run_* waiting for quiescence. */
    if (n == loop->nworkers)
        bcl__futex_wake(&p->nidle, INT_MAX);

    /* P4: re-check.  shutdown too: bcl__park_wake_all() only wakes the
     * workers already listed, and we may have listed ourselves after it
     * (acquire: pairs with the release store in loop_destroy(); the lock
     * we took at P1 orders it after wake_all's critical section). */
    watch = WATCH_NONE;
    if (atomic_load_explicit(&loop->shutdown, memory_order_acquire) ||
        bcl__loop_has_work(loop, w) ||
        (watch = park_watch_look(w)) == WATCH_STALLED) {
        if (park_leave_idle(w))
            return;
        /* A waker already took us off the list (its wake is on the
         * way), or the run ended (we stay parked until the next). */
    } else if (watch == WATCH_STICKY) {
        /* P4b: only sticky work elsewhere: watch it while we sleep. */
        park_watch_start(w, bcl__now_ns());
    }
    /* P5: sleep until a waker sets our word, or until our earliest
     * timer is due (only while a run is in progress: timers fire only
     * then), or until a watch finds a stuck worker. */
    searching = park_sleep(w);
    /* Counted in nspinning now, by park_sleep or by the waker at W4
     * (unless it was a shutdown wake-all, which does not matter any
     * more): no longer a watcher. */
    park_watch_stop(w);
    if (!searching)
        w->spinning = true;
}

void
bcl__park_kick(struct bcl__worker *w)
{
    uint32_t parked = 0;

    /* seq_cst: the kicker's heap update (its timer_arm) before the
     * load of `wake` below; pairs with P3 of the parker, whose loads of
     * its earliest deadline follow its P1 store of wake = 0. */
    atomic_thread_fence(memory_order_seq_cst);
    /* relaxed: only a parked worker (wake == 0) needs the kick; a
     * waker's 1 must not be overwritten, and the futex call orders the
     * rest. */
    if (atomic_compare_exchange_strong_explicit(&w->wake, &parked, 2,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        bcl__futex_wake(&w->wake, 1);
}

/* Wake v, which its waker has just taken off the idle list. */
static void
park_send_wake(struct bcl__worker *v)
{
    /* release: pairs with the acquire load at P5. */
    atomic_store_explicit(&v->wake, 1, memory_order_release);
    bcl__futex_wake(&v->wake, 1);
}

/* Pop one parked worker and wake it; false if none is parked. */
static bool
park_wake_some(struct bcl_loop *loop)
{
    struct bcl__park *p = &loop->park;
    struct bcl__worker *v;
    uint32_t n;

    pthread_mutex_lock(&p->lock);
    /* relaxed: under the lock that guards its writes. */
    n = atomic_load_explicit(&p->nidle, memory_order_relaxed);
    if (n == 0) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    v = &loop->workers[p->idle[n - 1]];
    /* seq_cst: read locklessly by wakers (W3) and bcl_run_*. */
    atomic_store_explicit(&p->nidle, n - 1, memory_order_seq_cst);
    pthread_mutex_unlock(&p->lock);
    park_send_wake(v);
    return true;
}

/* W2-W5; `sticky` is a constant in each caller below. */
static inline void
park_wake(struct bcl_loop *loop, bool sticky)
{
    struct bcl__park *p = &loop->park;

    for (;;) {
        uint32_t zero = 0;

        /* W2: the caller's publication (W1) before our loads; pairs with
         * P3. */
        atomic_thread_fence(memory_order_seq_cst);
        /* W3.  relaxed loads are enough after the fence.  nidle first:
         * it rarely changes while workers are busy (park.h). */
        if (atomic_load_explicit(&loop->running, memory_order_relaxed) == 0 ||
            atomic_load_explicit(&p->nidle, memory_order_relaxed) == 0 ||
            atomic_load_explicit(&p->nspinning, memory_order_relaxed) != 0 ||
            (sticky &&
             atomic_load_explicit(&p->nwatching, memory_order_relaxed) != 0))
            return;
        /* W4: become the one waker; the woken worker is counted spinning.
         * seq_cst: ordered with P2/P4 of parkers. */
        if (!atomic_compare_exchange_strong_explicit(
                &p->nspinning, &zero, 1, memory_order_seq_cst,
                memory_order_relaxed))
            return;
        if (park_wake_some(loop))
            return;
        /* Nobody was idle after all: undo.  While our 1 stood in
         * nspinning, another waker may have skipped its wake-up (W3),
         * trusting a searcher that does not exist, and a worker may have
         * parked since without seeing that waker's work (its P4 can come
         * before that work was visible).  So look again (W5): the other
         * waker's work was published before it read our 1, hence before
         * our decrement, hence before anything a worker parking from now
         * on re-checks; a worker already parked is on the idle list, and
         * we wake it. */
        atomic_fetch_sub_explicit(&p->nspinning, 1, memory_order_seq_cst);
    }
}

void
bcl__park_wake_one(struct bcl_loop *loop)
{
    park_wake(loop, false);
}

void
bcl__park_wake_sticky(struct bcl_loop *loop)
{
    park_wake(loop, true);
}

void
bcl__park_wake_worker(struct bcl__worker *v)
{
    struct bcl__park *p = &v->loop->park;
    bool unlisted;

    pthread_mutex_lock(&p->lock);
    unlisted = park_unlist_locked(p, v->index);
    if (unlisted) {
        /* W4 for this one: counted as a searcher before it wakes.
         * seq_cst: as at W4. */
        atomic_fetch_add_explicit(&p->nspinning, 1, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&p->lock);
    if (unlisted)
        park_send_wake(v);
}

void
bcl__park_wake_all(struct bcl_loop *loop)
{
    while (park_wake_some(loop))
        continue;
}

void
bcl__park_found_work(struct bcl__worker *w)
{
    struct bcl_loop *loop = w->loop;

    if (!w->spinning)
        return;
    w->spinning = false;
    /* seq_cst: the last searcher to stop must see parkers (W3 again). */
    if (atomic_fetch_sub_explicit(&loop->park.nspinning, 1,
                                  memory_order_seq_cst) != 1)
        return;
    /* While we searched, wakers skipped their wake-ups (W3 saw us); we
     * take one task, so wake another worker for the rest -- if there is
     * a rest.  Nothing else queued: nobody is woken only to spin and park
     * again (a plain thread feeding one task would keep the other worker
     * busy doing that, beside the thread).  seq_cst fence: our decrement
     * before the loads below, as P2/P3: a waker that read our 1 at W3
     * published its work before its W2 fence, so we see that work.  Our
     * own deque counts too: we may be that waker ourselves -- timers we
     * expired while searching, or a run start that woke us by name,
     * queue tasks there while we are counted. */
    atomic_thread_fence(memory_order_seq_cst);
    if (bcl__loop_has_queued(loop))
        bcl__park_wake_one(loop);
}

bool
bcl__park_loop_quiet(struct bcl_loop *loop)
{
    /* relaxed: a heuristic (park.h). */
    return atomic_load_explicit(&loop->park.nidle, memory_order_relaxed) +
               atomic_load_explicit(&loop->park.nspinning,
                                    memory_order_relaxed) >=
           loop->nworkers;
}

bool
bcl__park_try_spin(struct bcl__worker *w)
{
    struct bcl__park *p = &w->loop->park;
    uint32_t idle, spinning;

    if (w->spinning)
        return true;
    /* relaxed: a heuristic cap; a stale value only lets one more or one
     * fewer worker search. */
    idle = atomic_load_explicit(&p->nidle, memory_order_relaxed);
    spinning = atomic_load_explicit(&p->nspinning, memory_order_relaxed);
    if (2 * spinning >= w->loop->nworkers - idle)
        return false;
    /* seq_cst: see W3. */
    atomic_fetch_add_explicit(&p->nspinning, 1, memory_order_seq_cst);
    w->spinning = true;
    return true;
}
