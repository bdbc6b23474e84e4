/*
 * exec/timer.h - per-worker timer heaps: what sleeps, timeouts and
 * call_later/call_every stand on.
 *
 * Each worker owns a 4-ary min-heap of timer nodes keyed by deadline
 * (CLOCK_MONOTONIC ns).  Why a 4-ary heap rather than a timing wheel:
 * docs/design.md, "Timers".  The owning worker runs the expired nodes in
 * its scheduling loop, between tasks, and a parked worker sleeps exactly
 * until its earliest deadline (park.c).  Other threads may arm (a plain
 * thread's call_later) or disarm (a task that migrated, a cancel) nodes,
 * so the heap is guarded by a spinlock held for a heap operation only.
 *
 * A node's life, under the heap lock:
 *
 *     IDLE --arm--> ARMED --expire pops it--> FIRING --fire returns--> IDLE
 *                     |                          (or ARMED: re-armed)
 *                     +--disarm removes it--> IDLE
 *
 * `fire` runs without the lock, on the owning worker, outside any task.
 * A node living in a waiting task's frame (a sleep or a timeout) must not
 * go away while its fire runs: bcl__timer_disarm() waits while the node is
 * FIRING, and the expiring worker touches the node for the last time in
 * the critical section that leaves FIRING.
 *
 * Context: arm/disarm: any thread (not a signal handler).  expire: the
 * owning worker only.
 */
#ifndef BCL_EXEC_TIMER_H
#define BCL_EXEC_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"

struct bcl_loop;
struct bcl__timer_heap;
struct bcl__timer_node;

/* Called on expiry.  Returns the next deadline to re-arm the node with,
 * 0 to leave it IDLE, or BCL__TIMER_RELEASE to leave it IDLE and then
 * pass it to its `release` function (a timer that owns itself).  After
 * returning 0 the callee must not rely on the node staying alive (its
 * owner may free it at once). */
typedef uint64_t (*bcl__timer_fire_fn)(struct bcl__timer_node *node);

#define BCL__TIMER_RELEASE UINT64_MAX

enum bcl__timer_state {
    BCL__TIMER_IDLE = 0,
    BCL__TIMER_ARMED,
    BCL__TIMER_FIRING,
};

struct bcl__timer_node {
    uint64_t deadline;               /* under the heap lock */
    uint32_t slot;                   /* index in the heap while ARMED */
    enum bcl__timer_state state;     /* under the heap lock */
    /* The heap the node is ARMED or FIRING in, NULL when IDLE: written
     * under that heap's lock, read without it by disarm (then re-checked
     * under the lock), so a handle outlives its loop once it is idle. */
    _Atomic(struct bcl__timer_heap *) heap;
    bcl__timer_fire_fn fire;         /* immutable */
    void (*release)(struct bcl__timer_node *node); /* immutable; or NULL */
    /* Under the heap lock: bcl__timer_stop_from_fire() found it FIRING;
     * its owner releases it when the fire returns. */
    bool stop_requested;
};

/* A heap slot: the deadline is copied next to the node pointer, so that
 * sifting compares within the array (four children share a cache line)
 * instead of chasing nodes that live in task stacks all over memory. */
struct bcl__timer_slot {
    uint64_t deadline;
    struct bcl__timer_node *node;
};

struct bcl__timer_heap {
    struct bcl__spinlock lock;
    struct bcl__timer_slot *slots;  /* under lock: the 4-ary heap */
    uint32_t n, cap;                /* under lock */
    /* Earliest deadline (UINT64_MAX when empty): written under the lock,
     * read without it by the owner's scheduling loop and by park. */
    _Atomic uint64_t earliest;
    struct bcl__timer_node *firing; /* owner only: node whose fire runs */
};

int bcl__timer_heap_init(struct bcl__timer_heap *h);
void bcl__timer_heap_destroy(struct bcl__timer_heap *h);

static inline void
bcl__timer_node_init(struct bcl__timer_node *node, bcl__timer_fire_fn fire,
                     void (*release)(struct bcl__timer_node *node))
{
    node->state = BCL__TIMER_IDLE;
    /* relaxed: the node is not shared yet. */
    atomic_store_explicit(&node->heap, NULL, memory_order_relaxed);
    node->fire = fire;
    node->release = release;
    node->stop_requested = false;
}

/* Arm an IDLE node (or re-arm an ARMED one) on heap h.  Returns 0 or
 * -ENOMEM; *earliest (if not NULL) tells whether it is now the first. */
int bcl__timer_arm(struct bcl__timer_heap *h, struct bcl__timer_node *node,
                   uint64_t deadline, bool *earliest);

/* Make sure the node will not fire: true if it was removed while ARMED,
 * false if it was IDLE (fired already).  If it is FIRING, waits until its
 * fire returned (and removes it if the fire re-armed it).  Must not be
 * called from the node's own fire. */
bool bcl__timer_disarm(struct bcl__timer_node *node);

/* The same from another node's fire, which must not wait for a fire on
 * another worker (two fires stopping each other would wait forever):
 * true if the node will not fire again and the caller may release it
 * (removed while ARMED, or IDLE); false if it is FIRING -- its owner then
 * releases it (node->release) when that fire returns, instead of
 * re-arming it. */
bool bcl__timer_stop_from_fire(struct bcl__timer_node *node);

/* Owner: run every node whose deadline is <= now.  While a node's fire
 * runs, h->firing points to it (so a timer can tell it is cancelled from
 * its own callback). */
void bcl__timer_expire(struct bcl__timer_heap *h, uint64_t now);

/* Owner: the earliest deadline (UINT64_MAX if none).  relaxed: a stale
 * value only makes the owner look again a little early or late; a
 * foreign arm that moves it earlier also kicks the owner (park.c). */
static inline uint64_t
bcl__timer_earliest(struct bcl__timer_heap *h)
{
    return atomic_load_explicit(&h->earliest, memory_order_relaxed);
}

/* Remove every node (loop teardown): each is left IDLE; `drop` is called
 * on each, after the lock is released. */
void bcl__timer_heap_clear(struct bcl__timer_heap *h,
                           void (*drop)(struct bcl__timer_node *node));

/* time.c: a public timer left in a heap at loop teardown -- freed if it
 * owns itself, else left for its handle's bcl_timer_cancel. */
void bcl__time_orphan(struct bcl__timer_node *node);

struct bcl__worker;
/* time.c: free the timer records a worker keeps (loop teardown). */
void bcl__time_cache_drain(struct bcl__worker *w);

/* Free the bcl_call_soon_threadsafe records whose task never ran (their
 * callbacks never run).  At loop destruction, once no worker runs. */
void bcl__time_soon_drop(struct bcl_loop *loop);

/* CLOCK_MONOTONIC in ns. */
uint64_t bcl__now_ns(void);

/* CLOCK_MONOTONIC_COARSE in ns: the same clock as of the kernel's last
 * timekeeping update, never ahead of bcl__now_ns() and usually behind by
 * less than two ticks (4-8 ms here at HZ=250, 10-20 ms at HZ=100); a
 * third of the cost of a full read on this VM. */
uint64_t bcl__coarse_now_ns(void);

/* How far behind the coarse clock is trusted to be.  Above the lags seen
 * (here: up to 8 ms on an idle machine, 18 ms under load); if it lags
 * more, a due timer waits for its worker's next pass through the
 * scheduling loop, at most INJECT_EVERY decisions away (worker.c). */
#define BCL__COARSE_LAG_NS 50000000u

/* Owner, between two tasks: whether the earliest timer (`due`, from
 * bcl__timer_earliest, not UINT64_MAX) may be due.  A deadline beyond
 * the coarse clock's reach is ruled out with the coarse read alone; a
 * closer one takes the full read. */
static inline bool
bcl__timer_maybe_due(uint64_t due)
{
    return bcl__coarse_now_ns() + BCL__COARSE_LAG_NS >= due &&
           bcl__now_ns() >= due;
}

#endif /* BCL_EXEC_TIMER_H */
