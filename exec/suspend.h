/*
 * exec/suspend.h - the suspension interface that sync/, timers and I/O use.
 *
 * A waiter stands for one suspended caller: a task (parked, its worker runs
 * other tasks) or a plain thread (blocked on a futex).  The wait site
 * publishes a pointer to the waiter where a waker will find it (a wait
 * list, a task's join word, a timer), then calls bcl__wait().
 *
 * One CAS decides how a wait ends:
 *
 *     WAITING --wake--> WOKEN
 *             --timeout--> TIMEDOUT      (the waiting side itself)
 *             --cancel--> CANCELLED      (bcl_cancel, via the task)
 *
 * For a plain thread the word is the waiter's `state`; for a task it is
 * the task's wait word (task.h), where the same CAS also tells whether the
 * task is parked already: a resolver of a parked task queues it, with no
 * further atomic.  TIMEDOUT comes from a timer on the waiting task's
 * worker (or, for a thread, from its own futex timeout), CANCELLED from
 * bcl_cancel, which reaches the task's word without the waiter.
 *
 * Exactly one of these transitions succeeds; its author then resumes the
 * waiter (bcl__waiter_resolve does both).  A waker that loses the CAS has
 * nothing to do for that waiter -- for wait lists, it passes the wake on to
 * the next waiter, so a woken-then-cancelled waiter never swallows a
 * wake-up (sync/ builds on this).
 *
 * Arming: bcl__waiter_init arms the task's word, before the wait site
 * publishes the waiter; every init is then followed by bcl__wait or
 * bcl__wait_until, or, by a wait site that found it need not wait, by
 * bcl__waiter_settle (a canceller may have resolved the armed word
 * meanwhile, and must be let go of before the next wait arms it again).
 *
 * Order against a concurrent wake: the waker may resolve the waiter before
 * the waiting task has even switched out; the wait word's HELD state
 * absorbs that (task.h) and the task is requeued instead of parked, so no
 * wake-up is lost and none runs the task twice.
 *
 * Lifetime: the waiter lives in the waiting side's frame; a waker may
 * touch it only between finding it and resolving it, under whatever
 * protects the place it was published (a lock, or the exchange on a join
 * word).  After a successful bcl__waiter_resolve() the waker must not
 * touch it again.  A waker that took the waiter from its publication
 * place and then lost the CAS (a timeout or cancel won) calls
 * bcl__waiter_release() as its last touch; the waiting side, seeing its
 * waiter gone from the publication place, waits for that with
 * bcl__waiter_wait_released() before leaving the frame.
 *
 * Context: bcl__waiter_init / bcl__wait: the waiting task or thread.
 * bcl__waiter_resolve: any thread, any task, timer callbacks.
 */
#ifndef BCL_EXEC_SUSPEND_H
#define BCL_EXEC_SUSPEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bcl_loop;
struct bcl_task;

enum bcl__wait_state {
    BCL__WAIT_WAITING = 0,
    BCL__WAIT_WOKEN = 1,
    BCL__WAIT_TIMEDOUT = 2,
    BCL__WAIT_CANCELLED = 3,
};

struct bcl__waiter {
    struct bcl_task *task;   /* NULL for a plain thread; immutable */
    _Atomic uint32_t state;  /* threads: enum bcl__wait_state */
    _Atomic uint32_t parked; /* threads: futex word, 1 once resolved */
    bool claimed_parked;     /* tasks: the claim found the task parked */
    void *data;              /* for the wait site (e.g. an item slot) */
    _Atomic uint32_t released; /* wakers done with it, see "Lifetime" */
};

/* Prepare a waiter for the caller (and arm a task's wait word, see
 * "Arming").  Returns 0, or -EPERM on a worker thread outside any task
 * (a timer callback), which must not block. */
int bcl__waiter_init(struct bcl__waiter *w);

/* The wait site decided not to wait, or to stop waiting (its deadline,
 * registration that failed): resolve the waiter to `to` itself unless
 * someone did first, and in that case wait until that resolver is done
 * with it.  Returns the outcome, `to` or the other resolver's. */
enum bcl__wait_state bcl__waiter_settle(struct bcl__waiter *w,
                                        enum bcl__wait_state to);

/* Suspend until the waiter is resolved; returns its final state.  A task
 * whose cancellation is (or becomes) requested gets CANCELLED unless a
 * wake won first. */
enum bcl__wait_state bcl__wait(struct bcl__waiter *w);

/* The same with an absolute deadline (bcl__deadline_after); UINT64_MAX
 * waits forever.  TIMEDOUT only once the deadline has passed. */
enum bcl__wait_state bcl__wait_until(struct bcl__waiter *w,
                                     uint64_t deadline);

/* Try WAITING -> `to` and, on success, resume the waiter.  Returns false
 * if another party resolved it first (the caller must not touch it,
 * except for bcl__waiter_release, see "Lifetime"). */
bool bcl__waiter_resolve(struct bcl__waiter *w, enum bcl__wait_state to);

/* The two halves of bcl__waiter_resolve, for wakers that must finish with
 * the structure the waiter was found in before the waiter runs again (a
 * mutex hand-off, then the list unlock, then the resume): a claimed waiter
 * cannot return before bcl__waiter_wake, so its frame stays valid. */
bool bcl__waiter_claim(struct bcl__waiter *w, enum bcl__wait_state to);
void bcl__waiter_wake(struct bcl__waiter *w);

/* The commit of a task's suspension, on the stack switched to (worker.c):
 * true if the task is parked now (a resolver will queue it), false if its
 * wait is settled already and the caller must requeue it. */
bool bcl__wait_commit(struct bcl_task *t);

/* A waker's last touch of a waiter whose resolve it lost. */
static inline void
bcl__waiter_release(struct bcl__waiter *w)
{
    /* release: our reads of the waiter are done; pairs with the acquire
     * in bcl__waiter_wait_released().  A count: a waiter published in
     * several places (bcl_wait_any) may be released by several wakers. */
    atomic_fetch_add_explicit(&w->released, 1, memory_order_release);
}

/* The waiting side: wait until `count` wakers released it (short). */
void bcl__waiter_wait_released(struct bcl__waiter *w, uint32_t count);

/* now + ns, saturating at UINT64_MAX (= forever; BCL_FOREVER maps here). */
uint64_t bcl__deadline_after(uint64_t ns);

/* 0, -ETIMEDOUT or -ECANCELED for WOKEN, TIMEDOUT, CANCELLED. */
int bcl__wait_status(enum bcl__wait_state state);

/* Choose the loop's cancel_fence (suspend.c): LAZY if the process can
 * use an expedited membarrier, else ALWAYS.  At loop creation. */
void bcl__cancel_fence_init(struct bcl_loop *loop);

/* Make every later wait of the loop run C1-C2 (a drain that cancels all
 * tasks through loop->cancelling).  Only while its workers are parked:
 * the next run's start publishes it. */
void bcl__cancel_fence_always(struct bcl_loop *loop);

/* Has the calling task been cancelled?  (False for plain threads.)  Every
 * suspending call checks it first: cancellation is sticky. */
bool bcl__cancel_pending(void);

/* Whether retrying a little before suspending may pay.  Always for a
 * plain thread: its counterparts run on other CPUs, and its futex wait
 * and wake cost more than an item takes to arrive.  For a task: its loop
 * has other workers, which run at the same time; its last wake came from
 * a plain thread (its counterparts are threads, which run beside the
 * workers, and no wake can bring them to its core; a task woken by tasks
 * waits at once, and the wake pulls it to its waker's core); and its own
 * worker has nothing else queued (a counterpart queued there cannot run
 * while the caller spins; on one worker nothing else runs at all). */
bool bcl__spin_may_help(void);

#endif /* BCL_EXEC_SUSPEND_H */
