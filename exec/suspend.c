/*
 * exec/suspend.c - waiters: suspend a task or block a thread until one
 * CAS on the waiter's state resolves it (protocol in suspend.h), with an
 * optional deadline and with cancellation.
 *
 * A task's wait ends through its wait word (task.h):
 *
 *   resolver (task_claim, task_wake)      commit (bcl__wait_commit)
 *   R1 CAS ARMED[|PARKED] -> o|PARKED     M1 CAS ARMED -> ARMED|PARKED:
 *      or o|HELD                             parked, a resolver queues it
 *   R2 PARKED: queue the task; done       M2 found o|HELD: CAS it to
 *   R3 HELD: after the last touch of the     o|PARKED: parked, the
 *      waiter, CAS o|HELD -> o; if the       resolver queues it (R3)
 *      commit made it o|PARKED, queue it  M3 found o: requeue the task
 *
 * Each transition is one CAS on one word, so the resolver and the commit
 * agree on who queues the task: R2 (the commit came first), R3 (M2 came
 * first) or M3 (R3's CAS came first), never two of them.  HELD keeps the
 * task from running, hence from leaving its frame, until the resolver's
 * last read of the waiter.
 *
 * Cancellation reaches a waiting task through the same word:
 *
 *   task                                  canceller (bcl_cancel)
 *   C1 word = ARMED (bcl__waiter_init);   K1 cancelled = 1 (release); fence
 *      fence (wait_task)                  K2 word (relaxed, after the fence)
 *   C2 if cancelled: CAS ARMED ->         K3 if ARMED: resolve CANCELLED
 *      CANCELLED itself, no switch           (R1-R3)
 *   C3 suspend (M1-M3)
 *
 * C1/C2 against K1/K2 is a Dekker pair: either the task sees the flag or
 * the canceller sees the armed word (or both: the one CAS settles it).
 * Each side puts a seq_cst fence between its store and its load (rather
 * than relying on a seq_cst store and a seq_cst load, equivalent in C11):
 * the fence is the store-load barrier spelled out, which emulators that
 * translate AArch64's STLR; LDAR without one (qemu-user) also honour.
 * The canceller never touches the waiter itself: only the word in the
 * task record, which outlives the wait.
 *
 * The fence on the canceller's side.  Most programs never cancel, yet the
 * task's fence at C1 costs an atomic on every wait.  So until the loop's
 * first bcl_cancel, tasks skip C1's fence and C2 (cancel_fence LAZY), and
 * that first canceller stands in for all of their fences with one
 * expedited membarrier(2) after K1 (the asymmetric fence of liburcu's
 * membarrier flavour and of Linux's own RCU): it makes every thread of
 * the process run a full barrier.  A task whose C1 store came before its
 * thread's barrier has it visible to K2; one whose store came after reads
 * cancel_fence after that barrier, hence after the canceller's switch to
 * SWITCHING, and runs C1-C2 in full.  Cancellers that find SWITCHING
 * issue their own membarrier (the first may not be through); from ALWAYS
 * on, every wait and every cancel fences.  Where membarrier is missing
 * (old kernels, some emulators) the loop starts in ALWAYS.
 *
 * K4: a child that bcl_join runs inline on the task's stack is cancelled
 * with it (asyncio cancels the future a task awaits).  A child that never
 * suspends sees its hosts' flags at its checks (the inline_host chain);
 * one that suspends first publishes itself in each host's `inline_child`
 * word (C0, before C1's fence), and the canceller follows that word with
 * the same check / busy-bit scheme.  C0 with C2's loads of the hosts'
 * flags against K1 and K4 is the same Dekker pair, one level up.
 */
#include "suspend.h"

#include <boucle/common.h>

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "loop.h"
#include "task.h"
#include "timer.h"
#include "worker.h"

/* loop->cancel_fence (top comment, "The fence on the canceller's side"). */
enum {
    CANCEL_FENCE_LAZY = 0,      /* tasks skip C1-C2; a canceller membarriers */
    CANCEL_FENCE_SWITCHING = 1, /* the first canceller's membarrier runs */
    CANCEL_FENCE_ALWAYS = 2,    /* both sides fence */
};

int
bcl__waiter_init(struct bcl__waiter *w)
{
    struct bcl__worker *worker = bcl__worker_current();

    if (worker != NULL && worker->current == NULL)
        return -EPERM; /* a callback on a worker: blocking would stall it */
    /* relaxed: the waiter is published later by the wait site (a lock or
     * a release CAS), which orders these stores. */
    atomic_store_explicit(&w->state, BCL__WAIT_WAITING, memory_order_relaxed);
    atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
    atomic_store_explicit(&w->released, 0, memory_order_relaxed);
    w->task = worker != NULL ? worker->current : NULL;
    w->claimed_parked = false;
    w->data = NULL;
    if (w->task != NULL) {
        /* C1.  relaxed: ordered for wakers by the waiter's publication,
         * for a canceller by the fence in wait_task.  The previous wait
         * left the word settled (no ARMED, no HELD): nobody else writes
         * it now. */
        atomic_store_explicit(&w->task->wait, BCL__TW_ARMED,
                              memory_order_relaxed);
    }
    return 0;
}

/* R1: resolve t's armed wait to `to`.  *parked: the task had switched
 * out, so the caller queues it (task_wake). */
static bool
task_claim(struct bcl_task *t, enum bcl__wait_state to, bool *parked)
{
    /* relaxed: the CAS below orders. */
    uint32_t word = atomic_load_explicit(&t->wait, memory_order_relaxed);
    uint32_t next;

    do {
        if ((word & BCL__TW_ARMED) == 0)
            return false; /* resolved by someone else, or not waiting */
        next = (uint32_t)to |
               ((word & BCL__TW_PARKED) ? BCL__TW_PARKED : BCL__TW_HELD);
        /* acq_rel: release publishes what we wrote before (a handed-over
         * item, a mutex) to the task; acquire pairs with the commit's
         * release (the saved context), for the queueing. */
    } while (!atomic_compare_exchange_weak_explicit(
        &t->wait, &word, next, memory_order_acq_rel, memory_order_relaxed));
    *parked = (word & BCL__TW_PARKED) != 0;
    return true;
}

/* R2/R3: after our last touch of the waiter, let the task run. */
static void
task_wake(struct bcl_task *t, bool parked)
{
    if (!parked) {
        /* acquire: if the commit already swapped HELD for PARKED, its
         * release (the saved context) before we queue the task. */
        uint32_t word = atomic_load_explicit(&t->wait, memory_order_acquire);

        while (word & BCL__TW_HELD) {
            /* R3.  release: our reads of the waiter come before the task
             * goes on (pairs with the commit's acquire at M3); acquire on
             * failure: as above. */
            if (atomic_compare_exchange_weak_explicit(
                    &t->wait, &word, word & ~BCL__TW_HELD,
                    memory_order_acq_rel, memory_order_acquire))
                return; /* the commit requeues it (M3) */
        }
        /* M2 came first: the task is parked, ours to queue. */
    }
    bcl__task_resume(t);
}

bool
bcl__wait_commit(struct bcl_task *t)
{
    uint32_t word = BCL__TW_ARMED;

    /* M1.  acq_rel: release hands the saved context to the resolver that
     * will see PARKED (its acquire); acquire on failure: we see what the
     * resolver wrote before its R1 or R3. */
    if (atomic_compare_exchange_strong_explicit(
            &t->wait, &word, BCL__TW_ARMED | BCL__TW_PARKED,
            memory_order_acq_rel, memory_order_acquire))
        return true;
    /* M2.  Orders: as at M1. */
    while (word & BCL__TW_HELD)
        if (atomic_compare_exchange_weak_explicit(
                &t->wait, &word, (word & ~BCL__TW_HELD) | BCL__TW_PARKED,
                memory_order_acq_rel, memory_order_acquire))
            return true;
    return false; /* M3 */
}

/* C0: a task running inline on a host's stack suspends its hosts with
 * it; make each host of the chain name the child it now waits in, so a
 * canceller of the host reaches the wait (K4).  Done at the first
 * suspension rather than for every inline run, which mostly never
 * suspends; undone when the inline run ends (bcl__task_unhost_inline). */
static void
wait_publish_hosts(struct bcl_task *t)
{
    for (struct bcl_task *c = t; c->inline_host != NULL; c = c->inline_host) {
        struct bcl_task *host = c->inline_host;

        /* relaxed: see bcl__task_unhost_inline.  Non-zero: c and the
         * hosts above it were published by an earlier suspension. */
        if (atomic_load_explicit(&host->inline_child, memory_order_relaxed))
            return;
        /* release: the child's record is complete for a canceller (pairs
         * with the acquire CAS at K4); ordered before the loads at C2 by
         * the fence in wait_task. */
        atomic_store_explicit(&host->inline_child, (uintptr_t)c,
                              memory_order_release);
    }
}

static enum bcl__wait_state
wait_task(struct bcl__waiter *w)
{
    struct bcl_task *t = w->task;
    uint32_t word;

    wait_publish_hosts(t);
    /* C1: the fence orders the armed word (bcl__waiter_init) and C0's
     * stores before the loads of `cancelled` at C2 (the task's and its
     * hosts'): a Dekker pair with K1's fence in bcl_cancel.  Skipped
     * while the loop's first canceller will fence for us (top comment).
     * relaxed: that argument needs no more. */
    if (atomic_load_explicit(&t->loop->cancel_fence, memory_order_relaxed) !=
        CANCEL_FENCE_LAZY) {
        atomic_thread_fence(memory_order_seq_cst);
        /* C2: cancelled before we suspend: resolve ourselves, no switch
         * (a resolver that came first wins, and settle waits it out). */
        if (bcl__task_cancel_flagged(t))
            return bcl__waiter_settle(w, BCL__WAIT_CANCELLED);
    }
    /* C3.  acquire: a resolver's CAS published what it wrote. */
    word = atomic_load_explicit(&t->wait, memory_order_acquire);
    if (word & (BCL__TW_ARMED | BCL__TW_HELD)) {
        /* Unresolved, or its resolver is not done: the commit after the
         * switch decides (M1-M3). */
        bcl__worker_switch_out(BCL__SWITCH_PARK);
        /* acquire: as above (R1, or R3 before the commit's M3). */
        word = atomic_load_explicit(&t->wait, memory_order_acquire);
    }
    return word & BCL__TW_OUTCOME;
}

enum bcl__wait_state
bcl__wait(struct bcl__waiter *w)
{
    if (w->task != NULL)
        return wait_task(w);
    /* acquire: pairs with the release store in bcl__waiter_resolve(). */
    while (atomic_load_explicit(&w->parked, memory_order_acquire) == 0)
        bcl__futex_wait(&w->parked, 0, NULL);
    /* acquire: see above. */
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

/* A task's deadline: a timer node in its frame, on its worker's heap. */
struct wait_timeout {
    struct bcl__timer_node node;
    struct bcl__waiter *waiter;
};

static uint64_t
wait_timeout_fire(struct bcl__timer_node *node)
{
    struct wait_timeout *wt = bcl__container_of(node, struct wait_timeout,
                                                node);

    /* The task waits on its stack (its own or, inline, its host's) and
     * will run soon: see bcl__stack_prefetch. */
    bcl__stack_prefetch(wt->waiter->task->stack);
    /* The node stays alive until this returns: bcl__timer_disarm in
     * wait_until_task waits while it is FIRING. */
    bcl__waiter_resolve(wt->waiter, BCL__WAIT_TIMEDOUT);
    return 0;
}

static enum bcl__wait_state
wait_until_task(struct bcl__waiter *w, uint64_t deadline)
{
    struct bcl__worker *worker = bcl__worker_current();
    struct wait_timeout wt = { .waiter = w };
    enum bcl__wait_state state;

    bcl__timer_node_init(&wt.node, wait_timeout_fire, NULL);
    if (bcl__timer_arm(&worker->timers, &wt.node, deadline, NULL) != 0) {
        /* No memory for the timer: time out at once rather than wait
         * without a bound (the caller's timeout contract).  A wake that
         * beat us is taken as it is. */
        return bcl__waiter_settle(w, BCL__WAIT_TIMEDOUT);
    }
    state = wait_task(w);
    /* We may run on another worker now; disarm works from anywhere. */
    bcl__timer_disarm(&wt.node);
    return state;
}

static enum bcl__wait_state
wait_until_thread(struct bcl__waiter *w, uint64_t deadline)
{
    for (;;) {
        uint64_t now;
        struct timespec span;

        /* acquire: pairs with the resolver's release store. */
        if (atomic_load_explicit(&w->parked, memory_order_acquire) != 0)
            break;
        now = bcl__now_ns();
        if (now >= deadline)
            return bcl__waiter_settle(w, BCL__WAIT_TIMEDOUT);
        span.tv_sec = (time_t)((deadline - now) / 1000000000u);
        span.tv_nsec = (long)((deadline - now) % 1000000000u);
        bcl__futex_wait(&w->parked, 0, &span);
    }
    /* acquire: see above. */
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

enum bcl__wait_state
bcl__wait_until(struct bcl__waiter *w, uint64_t deadline)
{
    if (deadline == UINT64_MAX)
        return bcl__wait(w);
    return w->task != NULL ? wait_until_task(w, deadline)
                           : wait_until_thread(w, deadline);
}

bool
bcl__waiter_claim(struct bcl__waiter *w, enum bcl__wait_state to)
{
    uint32_t expected = BCL__WAIT_WAITING;

    if (w->task != NULL)
        return task_claim(w->task, to, &w->claimed_parked);
    /* acq_rel: the one CAS that decides the outcome; release publishes
     * the resolver's writes (e.g. a handed-over item) to the waiter. */
    return atomic_compare_exchange_strong_explicit(&w->state, &expected, to,
                                                   memory_order_acq_rel,
                                                   memory_order_relaxed);
}

void
bcl__waiter_wake(struct bcl__waiter *w)
{
    struct bcl_task *task = w->task;

    if (task != NULL) {
        task_wake(task, w->claimed_parked);
    } else {
        /* release: pairs with the acquire loop in bcl__wait().  After
         * this store the waiter may return: only its address is used
         * below, and a futex wake on a stale address is harmless. */
        atomic_store_explicit(&w->parked, 1, memory_order_release);
        bcl__futex_wake(&w->parked, 1);
    }
}

bool
bcl__waiter_resolve(struct bcl__waiter *w, enum bcl__wait_state to)
{
    if (!bcl__waiter_claim(w, to))
        return false;
    bcl__waiter_wake(w);
    return true;
}

enum bcl__wait_state
bcl__waiter_settle(struct bcl__waiter *w, enum bcl__wait_state to)
{
    struct bcl__spin spin;
    uint32_t word;

    if (w->task == NULL) {
        word = BCL__WAIT_WAITING;
        /* acq_rel: we resolve ourselves, as a resolver would. */
        if (atomic_compare_exchange_strong_explicit(&w->state, &word, to,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            return to;
        return bcl__wait(w); /* its parked store and wake are on the way */
    }
    word = BCL__TW_ARMED;
    /* acq_rel: as a resolver's CAS; acquire on failure: what the
     * resolver that won wrote. */
    if (atomic_compare_exchange_strong_explicit(&w->task->wait, &word, to,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return to;
    /* A resolver that found us running holds the word (HELD) until its
     * last touch of the waiter (R3), a few instructions: wait for it. */
    bcl__spin_init(&spin);
    while (word & BCL__TW_HELD) {
        bcl__spin_once(&spin);
        /* acquire: pairs with R3's release. */
        word = atomic_load_explicit(&w->task->wait, memory_order_acquire);
    }
    return word & BCL__TW_OUTCOME;
}

void
bcl__waiter_wait_released(struct bcl__waiter *w, uint32_t count)
{
    struct bcl__spin spin;

    bcl__spin_init(&spin);
    /* acquire: pairs with bcl__waiter_release(). */
    while (atomic_load_explicit(&w->released, memory_order_acquire) < count)
        bcl__spin_once(&spin);
}

uint64_t
bcl__deadline_after(uint64_t ns)
{
    uint64_t now;

    if (ns == BCL_FOREVER)
        return UINT64_MAX;
    now = bcl__now_ns();
    return ns >= UINT64_MAX - now ? UINT64_MAX : now + ns;
}

int
bcl__wait_status(enum bcl__wait_state state)
{
    switch (state) {
    case BCL__WAIT_TIMEDOUT:
        return -ETIMEDOUT;
    case BCL__WAIT_CANCELLED:
        return -ECANCELED;
    default:
        return 0;
    }
}

bool
bcl__cancel_pending(void)
{
    struct bcl__worker *w = bcl__worker_current();

    return w != NULL && w->current != NULL &&
           bcl__task_cancel_requested(w->current);
}

bool
bcl__spin_may_help(void)
{
    struct bcl__worker *w = bcl__worker_current();

    if (w == NULL)
        return true; /* a plain thread */
    return w->current != NULL && w->loop->nworkers > 1 &&
           w->current->fed_from_outside && bcl__deque_size_hint(&w->dq) == 0;
}

/* --- bcl_cancel (the canceller's half, steps K1-K3) --------------------- */

static long
cancel_membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

void
bcl__cancel_fence_init(struct bcl_loop *loop)
{
    long cmds = cancel_membarrier(MEMBARRIER_CMD_QUERY);
    bool lazy = cmds > 0 &&
                (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                cancel_membarrier(
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;

    /* relaxed: published with the loop. */
    atomic_store_explicit(&loop->cancel_fence,
                          lazy ? CANCEL_FENCE_LAZY : CANCEL_FENCE_ALWAYS,
                          memory_order_relaxed);
}

void
bcl__cancel_fence_always(struct bcl_loop *loop)
{
    /* relaxed: the workers are parked; the run start that follows
     * publishes it (loop.c). */
    atomic_store_explicit(&loop->cancel_fence, CANCEL_FENCE_ALWAYS,
                          memory_order_relaxed);
}

/* How often a canceller retries a failed membarrier (a transient -ENOMEM
 * from the kernel's CPU mask allocation) before it gives up. */
#define CANCEL_MEMBARRIER_TRIES 100

/* K1's barrier, between the flag store and K2 (top comment).  Returns 0,
 * or -errno if the membarrier kept failing: then the loop stays in
 * SWITCHING (waits from now on fence), but a task that skipped its fence
 * just before may miss this cancel until its next wait. */
static int
cancel_fence(struct bcl_loop *loop)
{
    /* acquire: a canceller that reads ALWAYS comes after the membarrier
     * of the one that stored it, so every task that skipped its fence
     * has its armed word visible to us too. */
    uint32_t mode = atomic_load_explicit(&loop->cancel_fence,
                                         memory_order_acquire);
    uint32_t lazy = CANCEL_FENCE_LAZY;

    /* Our own stores before the loads that follow, in any case. */
    atomic_thread_fence(memory_order_seq_cst);
    if (mode == CANCEL_FENCE_ALWAYS)
        return 0;
    /* relaxed: the membarrier orders it for the tasks that read it. */
    atomic_compare_exchange_strong_explicit(&loop->cancel_fence, &lazy,
                                            CANCEL_FENCE_SWITCHING,
                                            memory_order_relaxed,
                                            memory_order_relaxed);
    /* Registered at loop creation, yet it can still fail (the kernel's
     * CPU mask allocation, a seccomp filter on this thread): retry, and
     * report it rather than pretend.  It also orders the switch to
     * SWITCHING before every thread's barrier. */
    for (int tries = 0; cancel_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
         tries++) {
        if (tries == CANCEL_MEMBARRIER_TRIES)
            return -errno;
        sched_yield();
    }
    /* release: see the acquire above. */
    atomic_store_explicit(&loop->cancel_fence, CANCEL_FENCE_ALWAYS,
                          memory_order_release);
    return 0;
}

#define INLINE_BUSY ((uintptr_t)1)

void
bcl__task_unhost_inline(struct bcl_task *host, struct bcl_task *child)
{
    struct bcl__spin spin;

    /* relaxed: only code on this stack stores a non-zero value here
     * (wait_publish_hosts), and a canceller only changes a non-zero one;
     * 0 means no canceller can reach the child. */
    if (atomic_load_explicit(&host->inline_child, memory_order_relaxed) == 0)
        return;
    bcl__spin_init(&spin);
    for (;;) {
        uintptr_t mine = (uintptr_t)child;

        /* acquire: after a canceller's use (its release store) the
         * child's record is ours to collect. */
        if (atomic_compare_exchange_weak_explicit(&host->inline_child, &mine,
                                                  0, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        bcl__spin_once(&spin); /* a canceller is cancelling the child */
    }
}

int
bcl_cancel(bcl_task *t)
{
    uintptr_t p;
    bool parked;
    int rc;

    if (t == NULL)
        return -EINVAL;
    /* K0.  relaxed: sequenced before K1 and its fence, which order it
     * for every reader of the flag (bcl__task_cancel_requested).  Read
     * first: after the first cancel the line is only read. */
    if (!atomic_load_explicit(&t->loop->cancels_seen, memory_order_relaxed))
        atomic_store_explicit(&t->loop->cancels_seen, 1, memory_order_relaxed);
    /* K1.  release: the task that sees the flag sees what the canceller
     * wrote before.  The fence orders the store before the loads at K2
     * and K4: the Dekker pair with C0/C1 and C2. */
    atomic_store_explicit(&t->cancelled, 1, memory_order_release);
    rc = cancel_fence(t->loop);
    /* K2/K3 (task_claim's first load is K2, after the fence): a wait
     * armed now ends CANCELLED, whoever published its waiter. */
    if (task_claim(t, BCL__WAIT_CANCELLED, &parked))
        task_wake(t, parked);
    /* K4: a child running inline on t's stack is part of t's wait (as
     * asyncio cancels the future a task awaits).  relaxed: ordered after
     * K1 by its fence; a child published at C0 before its own fence is
     * seen here, or its C2 sees our flag.  The BUSY bit keeps the child's
     * record alive (its host cannot collect it) until we are done. */
    p = atomic_load_explicit(&t->inline_child, memory_order_relaxed);
    if (p != 0 && (p & INLINE_BUSY) == 0 &&
        atomic_compare_exchange_strong_explicit(&t->inline_child, &p,
                                                p | INLINE_BUSY,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
        bcl_cancel((struct bcl_task *)p);
        /* release: pairs with the acquire in bcl__task_unhost_inline. */
        atomic_store_explicit(&t->inline_child, p, memory_order_release);
    }
    return rc;
}
