/*
 * exec/worker.c - the per-worker scheduling loop (order of the search in
 * worker.h; fairness argument in docs/design.md, "Finding work").
 *
 * Invariants:
 *   - a task is run by at most one worker at a time: it is taken from
 *     exactly one queue (deque pop/steal or injection pop) while RUNNABLE;
 *   - the scheduler context of a worker never migrates; task contexts do;
 *   - after any fiber switch, code re-reads the current worker through
 *     bcl__worker_current(): the thread may have changed.
 */
#include "worker.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "loop.h"
#include "park.h"
#include "signal.h"
#include "suspend.h"
#include "task.h"

/* The only thread-local state of the library.  initial-exec: a plain
 * %fs-relative load, safe to read from the SIGSEGV handler. */
static __thread struct bcl__worker *tls_worker
    __attribute__((tls_model("initial-exec")));

/* How often the injection queue is served before the local deque (and
 * the oldest task of the deque is looked at, worker_oldest_waited). */
#define INJECT_EVERY 61u
/* Looks that must find the same oldest task before it is taken. */
#define OLDEST_PATIENCE 16u
/* Passes over all victims before a spinning worker parks. */
#define STEAL_ROUNDS 4u
/* A searcher (a woken or spinning worker) that finds nothing keeps
 * looking for a while (its grace) before it parks.  While it does, new
 * work wakes nobody (park.h, W3): a stream of spawns or resumes arriving
 * every few microseconds costs no futex wake-up each.  Adaptive, per
 * worker: a grace that began as the worker's work ran out and ended with
 * work found doubles the next one, up to the maximum; one that ran out
 * while no worker ran a task halves it, down to the minimum -- then only
 * a plain thread or another loop could have brought work, and one that
 * does so every 50 us or more (a trickle) is not spun for 16 us each
 * time.  While another worker runs tasks, the grace stays: its spawns
 * and resumes wake nobody while we search.  Bounded either way: an idle
 * loop parks within the maximum. */
#define SEARCH_GRACE_MAX_NS 16000u
#define SEARCH_GRACE_MIN_NS 1000u
/* Pauses (ck_pr_stall, ~20 ns each on the benchmark machine) between two
 * passes of a searcher: the first gap is short, so work that appears
 * just after a wake-up is found at once; it doubles up to the maximum,
 * so a searcher does not keep stealing cache lines from a busy owner. */
#define SEARCH_PAUSES_FIRST 32u
#define SEARCH_PAUSES_MAX 512u
/* Timer slack of a worker thread (prctl PR_SET_TIMERSLACK). */
#define WORKER_TIMER_SLACK_NS 1000ul

__attribute__((noinline)) struct bcl__worker *
bcl__worker_current(void)
{
    /* The empty asm makes this function opaque to the optimizer, so no
     * caller can reuse an earlier answer (or the thread pointer) across a
     * fiber switch. */
    __asm__ volatile("" ::: "memory");
    return tls_worker;
}

void
bcl__worker_run_inline(struct bcl__worker *w, struct bcl_task *t)
{
    struct bcl_task *parent = w->current;

    t->stack = parent->stack;
    t->inline_host = parent;
    w->current = t;
    bcl__stat_inc(&w->stats.tasks_run);
    t->result = t->fn(t->arg);
    if (bcl__task_cancel_requested(t))
        t->status = -ECANCELED;
    bcl__task_unhost_inline(parent, t);
    /* t may have suspended and moved us to another thread. */
    w = bcl__worker_current();
    w->current = parent;
    t->stack = NULL;
}

/* Requeue a task that stays runnable (yield, or woken while parking):
 * sticky, like any task that has run (park.h); no wake-up, as its worker
 * is about to pick its next task. */
static void
worker_requeue(struct bcl__worker *w, struct bcl_task *t)
{
    if (bcl__deque_push_marked(&w->dq, t) < 0)
        bcl__inject_push(&w->loop->inject, t);
}

/* A scheduling decision: bump the ticks; returns the new count. */
static uint32_t
worker_tick(struct bcl__worker *w)
{
    /* relaxed: we are the only writer; watchers only compare values. */
    uint32_t ticks = atomic_load_explicit(&w->ticks, memory_order_relaxed) + 1;

    atomic_store_explicit(&w->ticks, ticks, memory_order_relaxed);
    return ticks;
}

/* Act on what the task that just switched out asked for. */
static void
worker_after_switch(struct bcl__worker *w, struct bcl_task *t)
{
    switch (w->reason) {
    case BCL__SWITCH_EXIT:
        bcl__fiber_destroy(&t->stack->ctx);
        bcl__stack_put(&w->stacks, t->stack);
        t->stack = NULL;
        bcl__task_finish(w, t);
        break;
    case BCL__SWITCH_YIELD:
        bcl__stat_inc(&w->stats.yields);
        worker_requeue(w, t);
        break;
    case BCL__SWITCH_PARK:
        /* The wait's commit: a wait already settled runs on. */
        if (!bcl__wait_commit(t))
            worker_requeue(w, t);
        break;
    }
}

/* A task has just been switched to: name its stack for the SIGSEGV
 * handler (a task switching directly away ran on its own until the jump),
 * and run the after-switch step of the task that switched directly to
 * it, if one did. */
static void
worker_finish_switch(struct bcl__worker *w)
{
    struct bcl_task *prev = w->switched_from;

    w->running = w->current->stack;
    if (prev != NULL) {
        w->switched_from = NULL;
        worker_after_switch(w, prev);
    }
}

static void task_main(void *arg);

/* An unstarted task whose cancellation was requested ends without
 * running: true if t was so finished. */
static bool
worker_finish_if_cancelled(struct bcl__worker *w, struct bcl_task *t)
{
    if (!bcl__task_cancel_requested(t))
        return false;
    t->status = -ECANCELED;
    bcl__task_finish(w, t);
    return true;
}

/* Make t ready to be switched to, as the worker's current task: give an
 * unstarted task a stack, or finish it at once (cancelled before it
 * started, or no stack could be mapped: false). */
static bool
worker_prepare(struct bcl__worker *w, struct bcl_task *t)
{
    if (t->stack == NULL) {
        struct bcl__stack *s;

        if (worker_finish_if_cancelled(w, t))
            return false;
        s = bcl__stack_get(&w->stacks, &w->loop->stack_params);
        if (s == NULL) {
            t->status = -ENOMEM;
            bcl__task_finish(w, t);
            return false;
        }
        t->stack = s;
        bcl__fiber_init(&s->ctx, s->lo, s->size, task_main, t);
    }
    w->current = t;
    bcl__stat_inc(&w->stats.tasks_run);
    return true;
}

static void
worker_run(struct bcl__worker *w, struct bcl_task *t)
{
    if (!worker_prepare(w, t))
        return;
    w->running = t->stack;
    bcl__fiber_switch(&w->sched, &t->stack->ctx, false);
    /* The task that switched to us: the last of a chain of direct
     * switches (each finished by the next), or an inline child hosted on
     * a task's stack; it is the worker's current task. */
    t = w->current;
    w->current = NULL;
    w->running = NULL;
    worker_after_switch(w, t);
    w->take_oldest = w->reason == BCL__SWITCH_YIELD;
}

/* The next task of the worker's own deque: the oldest after a yield (so
 * tasks that all yield rotate in FIFO order) or when it waited too long;
 * otherwise the newest. */
static struct bcl_task *
worker_pop_own(struct bcl__worker *w, bool after_yield)
{
    return after_yield ? bcl__deque_pop_oldest(&w->dq)
                       : bcl__deque_pop(&w->dq);
}

/*
 * Direct switches.  A task that switches out (suspends, yields, ends)
 * while its worker's own deque holds the next task switches straight to
 * it instead of going through the scheduling loop's context: one fiber
 * switch instead of two, and no pass over the loop's other sources.  The
 * switched-out task's after-switch step (commit the suspension, requeue
 * the yield, recycle the stack) must wait until its context is saved, so
 * the task switched to performs it, first thing (worker_finish_switch).
 * The loop is still used when it has work of its own: a timer of this
 * worker that is due, the injection queue's turn (every INJECT_EVERY
 * ticks), stealing, parking, a run that is ending.
 */
static struct bcl_task *
worker_pop_direct(struct bcl__worker *w, enum bcl__switch_reason reason)
{
    uint64_t due = bcl__timer_earliest(&w->timers);
    struct bcl_task *t;

    /* The clock is read only while a timer is armed, and the full clock
     * only when the earliest is near (bcl__timer_maybe_due); the loop's
     * own pass, at least every INJECT_EVERY ticks, reads the full clock.
     * relaxed: our own counter. */
    if ((atomic_load_explicit(&w->ticks, memory_order_relaxed) + 1) %
                INJECT_EVERY == 0 ||
        (due != UINT64_MAX && bcl__timer_maybe_due(due)) ||
        !bcl__loop_running(w->loop))
        return NULL;
    if ((t = worker_pop_own(w, reason == BCL__SWITCH_YIELD)) == NULL)
        return NULL;
    worker_tick(w);
    return t;
}

/* Switch the current task out, directly to `next` if not NULL (popped
 * by worker_pop_direct), else to the scheduling loop. */
static void
worker_switch_out_to(struct bcl__worker *w, enum bcl__switch_reason reason,
                     struct bcl_task *next)
{
    struct bcl_task *t = w->current;

    w->reason = reason;
    if (next != NULL && !worker_prepare(w, next))
        next = NULL;
    if (next == NULL) {
        bcl__fiber_switch(&t->stack->ctx, &w->sched,
                          reason == BCL__SWITCH_EXIT);
    } else {
        w->switched_from = t;
        bcl__fiber_switch(&t->stack->ctx, &next->stack->ctx,
                          reason == BCL__SWITCH_EXIT);
    }
    /* Resumed, maybe on another worker, by its scheduling loop or by
     * another task's direct switch, whose switch-out we finish. */
    worker_finish_switch(bcl__worker_current());
}

void
bcl__worker_switch_out(enum bcl__switch_reason reason)
{
    struct bcl__worker *w = bcl__worker_current();

    worker_switch_out_to(w, reason, worker_pop_direct(w, reason));
}

/*
 * A task that returns hands its stack to the next task of the deque if
 * that one has not started yet: the next task's function runs in the same
 * task_main frame, with no stack taken from the pool, no context made and
 * no switch (a chain of spawns, a burst of small tasks).  The ended task
 * is finished here, on the stack it no longer owns (its result is
 * published; nothing of it remains on the stack).  Returns the task to
 * run next on this stack, now the worker's current one; or NULL after
 * setting *started to the started task popped (to switch to), or NULL
 * if there is none.
 */
static struct bcl_task *
worker_run_next_here(struct bcl__worker *w, struct bcl_task *ended,
                     struct bcl_task **started)
{
    struct bcl_task *next;

    while ((next = worker_pop_direct(w, BCL__SWITCH_EXIT)) != NULL &&
           next->stack == NULL) {
        if (worker_finish_if_cancelled(w, next))
            continue;
        next->stack = ended->stack;
        ended->stack = NULL;
        w->current = next;
        bcl__stat_inc(&w->stats.tasks_run);
        bcl__task_finish(w, ended);
        return next;
    }
    *started = next;
    return NULL;
}

static void
task_main(void *arg)
{
    struct bcl_task *t = arg;
    struct bcl_task *started;
    struct bcl__worker *w;

    worker_finish_switch(bcl__worker_current());
    do {
        t->result = t->fn(t->arg);
        if (bcl__task_cancel_requested(t))
            t->status = -ECANCELED;
        /* Re-read: the task may have moved to another worker. */
        w = bcl__worker_current();
    } while ((t = worker_run_next_here(w, t, &started)) != NULL);
    worker_switch_out_to(w, BCL__SWITCH_EXIT, started);
}

static struct bcl_task *
worker_take_injected(struct bcl__worker *w)
{
    struct bcl_task *t = bcl__inject_pop(&w->loop->inject);

    if (t != NULL)
        bcl__stat_inc(&w->stats.injected);
    return t;
}

/* How many tasks a victim's deque must hold before we take a sticky
 * (marked) task from it: the backlog, unless a watch of ours found the
 * victim stuck in one task and it still is (park.h, "Sticky tasks"). */
static int64_t
worker_marked_min(struct bcl__worker *w, struct bcl__worker *victim)
{
    if (w->stalled_victim == victim->index + 1) {
        /* relaxed: only compared; a stale value is one more look. */
        if (atomic_load_explicit(&victim->ticks, memory_order_relaxed) ==
            w->stalled_ticks)
            return 0;
        w->stalled_victim = 0; /* it moved on */
    }
    return BCL__STICKY_BACKLOG;
}

static struct bcl_task *
worker_steal(struct bcl__worker *w)
{
    struct bcl_loop *loop = w->loop;
    unsigned n = loop->nworkers;
    /* Early in a search grace, leave a victim's only task to its owner,
     * which pops it within nanoseconds (a chain of spawns, a task it just
     * woke): stealing it would only move the work to another core.  Later
     * in the grace, take it (its owner may be busy for long). */
    bool take_lone = w->search_until == 0 ||
                     bcl__now_ns() + w->grace_ns / 2 >= w->search_until;

    for (unsigned round = 0; round < STEAL_ROUNDS; round++) {
        unsigned start = bcl__rand_below(&w->rng, n);

        for (unsigned i = 0; i < n; i++) {
            struct bcl__worker *victim = &loop->workers[(start + i) % n];
            void *item;

            if (victim == w ||
                (!take_lone && bcl__deque_size_hint(&victim->dq) < 2))
                continue;
            bcl__stat_inc(&w->stats.steal_attempts);
            if (bcl__deque_steal(&victim->dq, &item,
                                 worker_marked_min(w, victim)) ==
                BCL__STEAL_OK) {
                bcl__stat_inc(&w->stats.steals);
                return item;
            }
        }
        /* Work may also arrive from outside while we search. */
        struct bcl_task *t = worker_take_injected(w);
        if (t != NULL)
            return t;
        if (!bcl__loop_running(loop))
            return NULL;
    }
    return NULL;
}

/* The same task stayed the oldest of our deque through OLDEST_PATIENCE
 * looks (one per INJECT_EVERY decisions, about a thousand decisions):
 * take it now.  LIFO keeps fork-join trees and queue ping-pongs on a few
 * hot stacks, but tasks that keep waking each other are always the
 * newest, and would starve what waits at the top forever. */
static bool
worker_oldest_waited(struct bcl__worker *w)
{
    int64_t id = bcl__deque_oldest_id(&w->dq);

    if (id < 0 || id != w->oldest_id) {
        w->oldest_id = id;
        w->oldest_looks = 0;
        return false;
    }
    if (++w->oldest_looks < OLDEST_PATIENCE)
        return false;
    w->oldest_looks = 0;
    return true;
}

static struct bcl_task *
worker_find(struct bcl__worker *w)
{
    struct bcl_task *t;
    bool after_yield, oldest_turn;

    /* Every INJECT_EVERY-th decision serves the injection queue first,
     * and looks whether the oldest task of our deque has waited too long
     * (worker_oldest_waited). */
    oldest_turn = worker_tick(w) % INJECT_EVERY == 0;
    if (oldest_turn) {
        if ((t = worker_take_injected(w)) != NULL)
            return t;
        oldest_turn = worker_oldest_waited(w);
    }
    after_yield = w->take_oldest;
    w->take_oldest = false;
    if ((t = worker_pop_own(w, after_yield || oldest_turn)) != NULL)
        return t;
    if ((t = worker_take_injected(w)) != NULL)
        return t;
    if (!bcl__park_try_spin(w))
        return NULL;
    return worker_steal(w);
}

/* Run the timers that are due (the clock is read only if any exist). */
static void
worker_expire_timers(struct bcl__worker *w)
{
    uint64_t due = bcl__timer_earliest(&w->timers);

    if (due != UINT64_MAX) {
        uint64_t now = bcl__now_ns();

        if (now >= due)
            bcl__timer_expire(&w->timers, now);
    }
}

/* A search grace starts: searching until now + grace_ns.  after_run: the
 * worker's own work just ran out (else it was just woken or unparked). */
static void
worker_grace_start(struct bcl__worker *w, uint64_t now, bool after_run)
{
    w->search_until = now + w->grace_ns;
    w->grace_after_run = after_run;
    w->search_pauses = SEARCH_PAUSES_FIRST;
}

/* A searcher that found nothing: true while its grace lasts (it pauses
 * briefly and searches again), false once it should park. */
static bool
worker_keep_searching(struct bcl__worker *w)
{
    uint64_t now;

    if (!w->spinning || !bcl__loop_running(w->loop)) {
        w->search_until = 0;
        return false;
    }
    now = bcl__now_ns();
    if (w->search_until == 0)
        worker_grace_start(w, now, true);
    if (now >= w->search_until) {
        /* Spun for nothing in a quiet loop: shorter next time.  (A
         * woken worker's grace says nothing about the gaps between its
         * own tasks.) */
        if (w->grace_after_run && w->grace_ns > SEARCH_GRACE_MIN_NS &&
            bcl__park_loop_quiet(w->loop))
            w->grace_ns /= 2;
        w->search_until = 0;
        return false;
    }
    /* Back off between passes: a searcher that reads a busy owner's
     * deque on every pass pulls its cache lines away from it. */
    for (unsigned i = 0; i < w->search_pauses; i++)
        ck_pr_stall();
    if (w->search_pauses < SEARCH_PAUSES_MAX)
        w->search_pauses *= 2;
    return true;
}

static void
worker_pin(struct bcl__worker *w)
{
    cpu_set_t allowed, mine;
    unsigned seen = 0;

    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (seen++ == w->index % (unsigned)CPU_COUNT(&allowed)) {
            CPU_ZERO(&mine);
            CPU_SET(cpu, &mine);
            pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
            return;
        }
    }
}

static void *
worker_main(void *arg)
{
    struct bcl__worker *w = arg;
    struct bcl_loop *loop = w->loop;

    tls_worker = w;
    w->grace_ns = SEARCH_GRACE_MAX_NS;
    bcl__fiber_init_thread(&w->sched);
    w->altstack = bcl__signal_altstack_enter();
    if (loop->flags & BCL_PIN_WORKERS)
        worker_pin(w);
    /* A parked worker's futex timeout is its next timer: Linux would let
     * it fire up to 50 us late by default (the thread's timer slack) to
     * batch wake-ups; a timer loop wants them on time.  Failure only
     * leaves the default. */
    prctl(PR_SET_TIMERSLACK, WORKER_TIMER_SLACK_NS);
    /* acquire: pairs with the release store in bcl_loop_free(). */
    while (atomic_load_explicit(&loop->shutdown, memory_order_acquire) == 0) {
        struct bcl_task *t = NULL;

        if (bcl__loop_running(loop)) {
            worker_expire_timers(w);
            t = worker_find(w);
        }
        if (t == NULL) {
            if (worker_keep_searching(w))
                continue;
            /* Idle: give back stacks a whole trim period did not use, a
             * batch at a time, then look for work again before sleeping
             * (park keeps watching a surplus left, stack.h). */
            if (!bcl__stack_pool_trim(&w->stacks, bcl__now_ns(),
                                      BCL__STACK_TRIM_BATCH)) {
                bcl__park(w);
                /* Woken (or found work at P4): a search grace starts. */
                if (w->spinning)
                    worker_grace_start(w, bcl__now_ns(), false);
            }
            continue;
        }
        /* Found while a grace lasted that began as work ran out: the
         * spin paid (a futex wait and a wake saved); longer next time. */
        if (w->search_until != 0 && w->grace_after_run &&
            w->grace_ns < SEARCH_GRACE_MAX_NS)
            w->grace_ns *= 2;
        w->search_until = 0;
        bcl__park_found_work(w);
        worker_run(w, t);
    }
    bcl__signal_altstack_leave(w->altstack);
    bcl__fiber_destroy(&w->sched);
    tls_worker = NULL;
    return NULL;
}

int
bcl__worker_start(struct bcl__worker *w)
{
    int err = pthread_create(&w->thread, NULL, worker_main, w);

    return err == 0 ? 0 : -EAGAIN;
}
