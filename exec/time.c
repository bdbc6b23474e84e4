/*
 * exec/time.c - the public time API: bcl_now_ns, bcl_sleep, the public
 * timers (call_later, call_every, timer_cancel), call_soon_threadsafe,
 * gather and wait_any.  The heaps and the node life cycle are in timer.c;
 * sleeping and timeouts are a waiter with a deadline (suspend.c).
 *
 * A public timer lives on one worker's heap for its whole life: the
 * caller's worker when a task of the loop arms it, else the loop's
 * workers in turn (and that worker is kicked if the new timer is its
 * earliest).  Who frees it:
 *   - one-shot without a handle: itself, after firing (BCL__TIMER_RELEASE);
 *   - with a handle: bcl_timer_cancel, which first makes sure it will not
 *     fire again (bcl__timer_disarm waits out a fire running elsewhere);
 *     cancelled from inside its own callback, it is released when the
 *     callback returns;
 *   - periodic without a handle: the loop's teardown (bcl__time_orphan).
 */
#include <boucle/time.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "park.h"
#include "suspend.h"
#include "task.h"
#include "timer.h"
#include "worker.h"

struct bcl_timer {
    struct bcl__timer_node node;
    struct bcl_timer *cache_next; /* in a worker's timer_cache */
    void (*cb)(void *arg);
    void *arg;
    uint64_t period;      /* 0: one-shot */
    bool self_owned;      /* no handle was given out */
    /* Set by a cancel from inside the timer's own callback (the owner
     * worker's thread only, so no atomic is needed). */
    bool cancelled;
};

uint64_t
bcl_now_ns(void)
{
    return bcl__now_ns();
}

int
bcl_sleep(uint64_t ns)
{
    struct bcl__worker *w = bcl__worker_current();
    struct bcl__waiter waiter;
    int rc;

    if (w != NULL && w->current == NULL)
        return -EPERM; /* a timer callback must not block */
    if (bcl__cancel_pending())
        return -ECANCELED;
    if (w == NULL) {
        /* A plain thread: the kernel's sleep, absolute so EINTR cannot
         * shorten it. */
        uint64_t deadline = bcl__deadline_after(ns);
        struct timespec until = { (time_t)(deadline / 1000000000u),
                                  (long)(deadline % 1000000000u) };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
                               NULL) == EINTR)
            continue;
        return 0;
    }
    if (ns == 0) {
        bcl_yield();
        return 0;
    }
    if ((rc = bcl__waiter_init(&waiter)) != 0)
        return rc;
    /* Nobody wakes this waiter: only its deadline or a cancel. */
    return bcl__wait_until(&waiter, bcl__deadline_after(ns)) ==
                   BCL__WAIT_CANCELLED
               ? -ECANCELED
               : 0;
}

/* --- public timers ------------------------------------------------------ */

/*
 * Records.  A worker keeps up to TIMER_CACHE_MAX freed records (of any
 * loop: they are all plain malloc'ed blocks of one size) for its next
 * arms; other threads use malloc and free.  An arm followed by its cancel
 * -- a timeout that did not expire, the common case -- then costs no
 * allocator call (docs/design.md, "Timers").
 */
#define TIMER_CACHE_MAX 64u

static struct bcl_timer *
timer_alloc(struct bcl__worker *w)
{
    struct bcl_timer *t;

    if (w != NULL && (t = w->timer_cache) != NULL) {
        w->timer_cache = t->cache_next;
        w->ntimer_cache--;
        return t;
    }
    return malloc(sizeof *t);
}

static void
timer_free(struct bcl__worker *w, struct bcl_timer *t)
{
    if (w != NULL && w->ntimer_cache < TIMER_CACHE_MAX) {
        t->cache_next = w->timer_cache;
        w->timer_cache = t;
        w->ntimer_cache++;
        return;
    }
    free(t);
}

void
bcl__time_cache_drain(struct bcl__worker *w)
{
    while (w->timer_cache != NULL) {
        struct bcl_timer *next = w->timer_cache->cache_next;

        free(w->timer_cache);
        w->timer_cache = next;
    }
    w->ntimer_cache = 0;
}

static uint64_t
timer_fire(struct bcl__timer_node *node)
{
    struct bcl_timer *t = bcl__container_of(node, struct bcl_timer, node);

    t->cb(t->arg);
    if (t->cancelled)
        return BCL__TIMER_RELEASE;
    if (t->period != 0)
        return node->deadline + t->period; /* fixed rate: no drift */
    return t->self_owned ? BCL__TIMER_RELEASE : 0;
}

static void
timer_release(struct bcl__timer_node *node)
{
    /* On the worker whose heap fired it. */
    timer_free(bcl__worker_current(),
               bcl__container_of(node, struct bcl_timer, node));
}

void
bcl__time_orphan(struct bcl__timer_node *node)
{
    struct bcl_timer *t = bcl__container_of(node, struct bcl_timer, node);

    /* heap_clear left it IDLE, its heap pointer cleared: a handle's
     * bcl_timer_cancel just frees it. */
    if (t->self_owned)
        free(t);
}

/* The worker whose heap takes a new timer of `loop`; w is the caller's. */
static struct bcl__worker *
timer_home(struct bcl_loop *loop, struct bcl__worker *w, bool *foreign)
{
    uint32_t turn;

    *foreign = w == NULL || w->loop != loop;
    if (!*foreign)
        return w;
    /* relaxed: only spreads timers over the workers. */
    turn = atomic_fetch_add_explicit(&loop->timer_turn, 1,
                                     memory_order_relaxed);
    return &loop->workers[turn % loop->nworkers];
}

static int
timer_start(bcl_loop *loop, uint64_t first_ns, uint64_t period,
            void (*cb)(void *), void *arg, bcl_timer **out)
{
    struct bcl__worker *w = bcl__worker_current(), *home;
    struct bcl_timer *t;
    bool foreign, earliest;

    if (loop == NULL || cb == NULL)
        return -EINVAL;
    t = timer_alloc(w);
    if (t == NULL)
        return -ENOMEM;
    bcl__timer_node_init(&t->node, timer_fire, timer_release);
    t->cb = cb;
    t->arg = arg;
    t->period = period;
    t->self_owned = out == NULL;
    t->cancelled = false;
    if (out != NULL)
        *out = t; /* before arming: the callback may already run */
    home = timer_home(loop, w, &foreign);
    if (bcl__timer_arm(&home->timers, &t->node,
                       bcl__deadline_after(first_ns), &earliest) != 0) {
        timer_free(w, t);
        return -ENOMEM;
    }
    if (foreign && earliest)
        bcl__park_kick(home);
    return 0;
}

int
bcl_call_later(bcl_loop *loop, uint64_t ns, void (*cb)(void *), void *arg,
               bcl_timer **out)
{
    return timer_start(loop, ns, 0, cb, arg, out);
}

int
bcl_call_every(bcl_loop *loop, uint64_t period_ns, void (*cb)(void *),
               void *arg, bcl_timer **out)
{
    if (period_ns == 0)
        return -EINVAL;
    return timer_start(loop, period_ns, period_ns, cb, arg, out);
}

int
bcl_timer_cancel(bcl_timer *t)
{
    struct bcl__worker *w = bcl__worker_current();

    if (t == NULL)
        return -EINVAL;
    /* From its own callback (only the owner's thread can see itself in
     * `firing`). */
    if (w != NULL && w->timers.firing == &t->node) {
        t->cancelled = true; /* from its own callback: freed on return */
        return 0;
    }
    if (w != NULL && w->timers.firing != NULL) {
        /* From another timer's callback: never wait for this one's call
         * on another worker, which may be cancelling ours; if it is
         * running, its worker frees it when the call returns. */
        if (bcl__timer_stop_from_fire(&t->node))
            timer_free(w, t);
        return 0;
    }
    bcl__timer_disarm(&t->node);
    timer_free(w, t);
    return 0;
}

/* --- call_soon_threadsafe ----------------------------------------------- */

/* A call waits in its loop's soon_pending list until its task runs and
 * takes it out; the task of a loop freed first never runs, and the
 * loop's destruction frees what is left (bcl__time_soon_drop). */
struct soon_call {
    void (*cb)(void *arg);
    void *arg;
    struct bcl_loop *loop;
    struct cds_list_head pending; /* in loop->soon_pending, under its lock */
};

/* Take the call off its loop's list and free it. */
static void
soon_free(struct soon_call *call)
{
    pthread_mutex_lock(&call->loop->soon_lock);
    cds_list_del(&call->pending);
    pthread_mutex_unlock(&call->loop->soon_lock);
    free(call);
}

static void *
soon_trampoline(void *arg)
{
    struct soon_call *call = arg;
    void (*cb)(void *) = call->cb;
    void *cb_arg = call->arg;

    soon_free(call);
    cb(cb_arg);
    return NULL;
}

int
bcl_call_soon_threadsafe(bcl_loop *loop, void (*cb)(void *), void *arg)
{
    struct soon_call *call;
    int rc;

    if (loop == NULL || cb == NULL)
        return -EINVAL;
    call = malloc(sizeof *call);
    if (call == NULL)
        return -ENOMEM;
    call->cb = cb;
    call->arg = arg;
    call->loop = loop;
    pthread_mutex_lock(&loop->soon_lock);
    cds_list_add(&call->pending, &loop->soon_pending);
    pthread_mutex_unlock(&loop->soon_lock);
    if ((rc = bcl_spawn_on(loop, NULL, soon_trampoline, call)) != 0)
        soon_free(call);
    return rc;
}

void
bcl__time_soon_drop(struct bcl_loop *loop)
{
    while (!cds_list_empty(&loop->soon_pending)) {
        struct soon_call *call = bcl__container_of(loop->soon_pending.next,
                                                   struct soon_call, pending);

        cds_list_del(&call->pending);
        free(call);
    }
}

/* --- gather and wait_any -------------------------------------------------- */

/* --- gather ------------------------------------------------------------ */

static int
handle_order(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(bcl_task *const *)a;
    uintptr_t y = (uintptr_t)*(bcl_task *const *)b;

    return (x > y) - (x < y);
}

/* Does a handle appear twice in tasks[0..n)?  Joining it twice would free
 * its record twice.  Pairs for a short array; a sorted copy for a long
 * one (pairs again if there is no memory for the copy). */
#define GATHER_PAIRS_MAX 32

static bool
gather_has_repeats(bcl_task **tasks, size_t n)
{
    bcl_task **sorted;
    bool repeats = false;

    if (n > GATHER_PAIRS_MAX &&
        (sorted = malloc(n * sizeof *sorted)) != NULL) {
        memcpy(sorted, tasks, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, handle_order);
        for (size_t i = 1; i < n && !repeats; i++)
            repeats = sorted[i] != NULL && sorted[i] == sorted[i - 1];
        free(sorted);
        return repeats;
    }
    for (size_t i = 0; i < n && !repeats; i++)
        for (size_t j = i + 1; j < n && !repeats; j++)
            repeats = tasks[i] != NULL && tasks[i] == tasks[j];
    return repeats;
}

int
bcl_gather(bcl_task **tasks, size_t n, void **results)
{
    struct bcl__worker *w = bcl__worker_current();
    int first = 0;

    if (n > 0 && tasks == NULL)
        return -EINVAL;
    if (w != NULL && w->current == NULL)
        return -EPERM; /* a timer callback must not wait: nothing joined */
    if (gather_has_repeats(tasks, n))
        return -EINVAL; /* nothing joined */
    for (size_t i = 0; i < n; i++) {
        void *result = NULL;
        bool caller_cancelled = false;
        int rc = tasks[i] != NULL ? bcl__join(tasks[i], &result, BCL_FOREVER,
                                              &caller_cancelled)
                                  : -EINVAL;

        if (results != NULL)
            results[i] = result;
        if (caller_cancelled) {
            /* We are cancelled: the join detached tasks[i], and the rest
             * cannot be joined any more.  Release them so nothing leaks;
             * their results are lost. */
            for (size_t j = i + 1; j < n; j++) {
                if (results != NULL)
                    results[j] = NULL;
                if (tasks[j] != NULL)
                    bcl_detach(tasks[j]);
            }
            return -ECANCELED;
        }
        if (rc != 0 && first == 0)
            first = rc;
    }
    return first;
}

/* Take our waiter back from tasks[0..n) (registered there); returns how
 * many could not be taken back (their finishers hold it) and the first
 * such index in *ended. */
static uint32_t
wait_any_retract(bcl_task **tasks, size_t n, struct bcl__waiter *waiter,
                 size_t *ended)
{
    uint32_t held = 0;

    for (size_t i = 0; i < n; i++) {
        uintptr_t mine = (uintptr_t)waiter;

        /* relaxed: success means no finisher saw it; failure means the
         * word is DONE and its finisher holds our waiter. */
        if (!atomic_compare_exchange_strong_explicit(&tasks[i]->join, &mine,
                                                     0, memory_order_relaxed,
                                                     memory_order_relaxed)) {
            if (held++ == 0)
                *ended = i;
        }
    }
    return held;
}

int
bcl_wait_any(bcl_task **tasks, size_t n, uint64_t ns, size_t *index)
{
    struct bcl__waiter waiter;
    enum bcl__wait_state state;
    size_t registered, ended = 0;
    uint32_t held;
    int rc;

    if (tasks == NULL || n == 0 || index == NULL)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (tasks[i] == NULL)
            return -EINVAL;
    if (bcl__cancel_pending())
        return -ECANCELED;
    if ((rc = bcl__waiter_init(&waiter)) != 0)
        return rc;
    for (registered = 0; registered < n; registered++) {
        uintptr_t expected = 0;

        /* acq_rel: as in bcl_join_timeout (publish the waiter; see DONE). */
        if (atomic_compare_exchange_strong_explicit(
                &tasks[registered]->join, &expected, (uintptr_t)&waiter,
                memory_order_acq_rel, memory_order_acquire))
            continue;
        /* Already ended, or joined/detached by someone else: take the
         * waiter back, settle its state ourselves so no finisher wakes
         * it later, and absorb a wake that came first. */
        bool woken;

        held = wait_any_retract(tasks, registered, &waiter, &ended);
        /* A finisher's wake (or a cancel) may have come first: the
         * finisher whose resolve won is the one that will not release. */
        woken = bcl__waiter_settle(&waiter, BCL__WAIT_TIMEDOUT) ==
                BCL__WAIT_WOKEN;
        bcl__waiter_wait_released(&waiter, held - (woken ? 1 : 0));
        if (expected != BCL__JOIN_DONE)
            return -EINVAL;
        *index = held ? ended : registered;
        return 0;
    }
    state = bcl__wait_until(&waiter, bcl__deadline_after(ns));
    held = wait_any_retract(tasks, n, &waiter, &ended);
    /* Every finisher holding the waiter releases it, except the one
     * whose resolve woke us. */
    bcl__waiter_wait_released(&waiter,
                              held - (state == BCL__WAIT_WOKEN ? 1 : 0));
    if (held > 0) {
        *index = ended;
        return 0; /* a task ended: that wins over a racing timeout */
    }
    return bcl__wait_status(state);
}
