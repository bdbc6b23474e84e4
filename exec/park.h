/*
 * exec/park.h - idle workers: spinning count, parking and the wake-up rule.
 *
 * The rule (Go's proc.go, Tokio's idle.rs): new work wakes at most one
 * parked worker, and only when no worker is already searching ("spinning");
 * the woken worker searches; when the last searcher finds work it wakes
 * one more, so work spreads one worker at a time and never in a herd.
 *
 * Both sides, as numbered steps (full argument: docs/design.md, "Parking
 * and waking"):
 *
 *   Worker parking (bcl__park)           Waker (bcl__park_wake_one)
 *   P1 push self on idle list, nidle++   W1 publish the work (deque push,
 *      (under the idle lock)                injection, loop state)
 *   P2 stop spinning (nspinning--)       W2 seq_cst fence
 *   P3 seq_cst fence                     W3 if nspinning > 0 or nidle == 0:
 *   P4 re-check every source of work        done (a searcher will see W1)
 *      (deques, injection queue,         W4 CAS nspinning 0 -> 1, pop one
 *      shutdown)
 *   P5 found work: leave the idle list      idle worker, set its word,
 *      and search again; else sleep on      futex-wake it
 *      the futex word until a W4 (or
 *      the earliest own timer, or the
 *      end of the stack pool's trim
 *      period: trims, still parked)
 *
 * P1/P2 before P3-P4 and W1 before W2-W3 form a Dekker pair: either the
 * waker sees the parker in nidle (or a spinner), or the parker's re-check
 * sees the work.  So no wake-up is lost, and a worker sleeps only when,
 * after announcing itself, it saw no work.
 *
 * Sticky tasks (docs/design.md, "Sticky tasks").  A task that has run
 * before (resumed from a wait, requeued by a yield) goes on its worker's
 * deque marked, and a thief takes a marked task only when that deque
 * holds BCL__STICKY_BACKLOG tasks or more, or when its owner is stuck in
 * one task: the two ends of a queue stay on one core instead of pulling
 * its cache lines across.  Liveness rests on watchers.  A worker that
 * parks while deques elsewhere hold only sticky work (P4) parks as a
 * watcher, counted in nwatching: it looks again every watch period (50 us
 * doubling to 1 ms), and a worker whose ticks did not move over a period
 * is stuck, so the watcher leaves the idle list and steals from it.  A
 * resume below the backlog wakes nobody while someone watches (W3 also
 * reads nwatching).  A watcher stops only after a look at the longest
 * period found nothing, then: nwatching--, fence, one more look -- a
 * Dekker pair with W1-W3 of sticky pushes, so that a sticky task is
 * always either seen by a watcher or the reason for a wake-up.
 *
 * Context: bcl__park: a worker thread about itself.  wake_one: any thread
 * (not from a signal handler: it may take the idle lock).
 */
#ifndef BCL_EXEC_PARK_H
#define BCL_EXEC_PARK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"

struct bcl_loop;
struct bcl__worker;

struct bcl__park {
    /* Workers searching for work.  RMW by searchers and wakers, seq_cst. */
    BCL__ALIGNED_CACHELINE _Atomic uint32_t nspinning;
    /* Workers on the idle list; futex word for "all parked" waits.
     * Written under `lock`, read locklessly (seq_cst) by wakers.  On a
     * line of its own (with the lock it is written under), away from
     * nspinning, which searchers write on every steal: while every
     * worker is busy, a spawn's W3 reads this line, finds 0 and stops,
     * and the line stays in the spawner's cache. */
    BCL__ALIGNED_CACHELINE _Atomic uint32_t nidle;
    /* Parked workers watching sticky work (RMW by them, seq_cst; read
     * at W3 of sticky pushes).  Changes once per watch, not per task. */
    _Atomic uint32_t nwatching;
    pthread_mutex_t lock;      /* protects idle[] and nidle's writes */
    unsigned *idle;            /* stack of parked worker indices */
    /* nworkers rows of nworkers: what each watcher saw of each worker's
     * ticks at its last look (WATCH_SEEN | ticks, or 0); row owner only. */
    uint64_t *watch_seen;
};

/* Tasks a deque must hold before thieves take its sticky ones too. */
#define BCL__STICKY_BACKLOG 32

/* A deque holding `queued` tasks, its oldest one marked or not: is it
 * work for its owner (and watchers) only -- sticky, below the backlog? */
static inline bool
bcl__park_owner_only(int64_t queued, bool oldest_marked)
{
    return queued > 0 && oldest_marked && queued < BCL__STICKY_BACKLOG;
}

int bcl__park_init(struct bcl__park *p, unsigned nworkers);
void bcl__park_destroy(struct bcl__park *p);

/* A worker with nothing to do: steps P1-P5.  Returns when the worker
 * should search again (woken, or work seen at P4); the worker is then
 * counted as spinning (w->spinning). */
void bcl__park(struct bcl__worker *w);

/* Steps W2-W4 after the caller published work (W1). */
void bcl__park_wake_one(struct bcl_loop *loop);
/* The same for a sticky task below the backlog: a watcher covers it. */
void bcl__park_wake_sticky(struct bcl_loop *loop);

/* Make a parked worker re-read its earliest timer (a foreign thread armed
 * an earlier one, or a run starts).  Harmless if it is not parked.  Any
 * thread, after updating the heap. */
void bcl__park_kick(struct bcl__worker *w);

/* Wake worker v if it is parked, counted as a searcher (a W4 aimed at
 * it: a run starts and v has tasks queued in its own deque).  Any
 * thread. */
void bcl__park_wake_worker(struct bcl__worker *v);

/* Wake every parked worker (shutdown).  Any thread. */
void bcl__park_wake_all(struct bcl_loop *loop);

/* A spinning worker found work: stop spinning; if it was the last
 * searcher, wake another worker to look for the rest. */
void bcl__park_found_work(struct bcl__worker *w);

/* Is no worker running a task -- every one parked or searching?  A
 * relaxed heuristic (worker.c's adaptive search grace): a stale answer
 * only makes a grace shorter or longer once. */
bool bcl__park_loop_quiet(struct bcl_loop *loop);

/* May this worker start spinning (steal)?  Caps searchers at half the
 * busy workers, as Go does; counts the worker in when it says yes. */
bool bcl__park_try_spin(struct bcl__worker *w);

#endif /* BCL_EXEC_PARK_H */
