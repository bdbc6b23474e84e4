/*
 * exec/stack.h - fiber stacks: mapping with a guard zone, per-worker pools.
 *
 * A stack is one anonymous mapping laid out, lowest address first, as
 *   [guard zone, BCL__STACK_GUARD bytes][usable stack ...][struct bcl__stack]
 * The record sits in the top page, which the first frame touches anyway,
 * so an idle pooled stack costs one resident page.  Pages below are only
 * made resident when a task really uses them (MAP_NORESERVE).
 *
 * Guard modes: MADV_GUARD_INSTALL (Linux >= 6.13) installs the guard zone
 * in the page tables and costs no extra memory map, so the number of
 * stacks is limited by memory only; elsewhere (or with BCL_GUARD_MPROTECT)
 * the zone is mprotect(PROT_NONE)ed, which splits the mapping in two and
 * limits the process to about vm.max_map_count / 2 stacks.  A mapping that
 * fails returns NULL: the task that needed it ends with -ENOMEM.
 *
 * Context: a pool belongs to one worker and is used by that worker only;
 * bcl__stack_new / bcl__stack_free may be called from any thread.
 */
#ifndef BCL_EXEC_STACK_H
#define BCL_EXEC_STACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiber.h"

/* Guard zone below every stack: large enough that a frame of a few KiB
 * cannot jump over it into the neighbouring mapping. */
#define BCL__STACK_GUARD ((size_t)16384)

enum bcl__guard_mode {
    BCL__GUARD_INSTALL, /* madvise(MADV_GUARD_INSTALL) */
    BCL__GUARD_MPROTECT, /* mprotect(PROT_NONE) */
};

struct bcl__stack {
    struct bcl__fiber_ctx ctx; /* the fiber running on this stack */
    void *lo;                  /* lowest usable byte (just above the guard) */
    size_t size;               /* usable bytes, below this record */
    struct bcl__stack *next;   /* pool free list; owner worker only */
};

/* Bytes just below a stack's record that a switched-out task's frames
 * occupy when it waits in a sleep or a timeout (its entry frame, the wait
 * frames, the saved registers: 384 measured on x86-64, rounded up). */
#define BCL__STACK_WAIT_DEPTH 512u

/* Start loading a switched-out task's hot stack lines -- its record, the
 * frames of its wait, its saved registers -- so that its resume, a while
 * later, does not stall on them.  Used where the task has waited long
 * enough for them to be cold: a timer's fire (10^5 sleepers: 9 prefetches
 * per wake, docs/design.md "Many sleepers"). */
static inline void
bcl__stack_prefetch(const struct bcl__stack *s)
{
    for (size_t off = 0; off <= BCL__STACK_WAIT_DEPTH; off += 64)
        __builtin_prefetch((const char *)s - off, 1);
}

/* Shared by a loop's pools; mode may fall back to MPROTECT once. */
struct bcl__stack_params {
    size_t usable;                 /* usable bytes per stack, page multiple */
    _Atomic int mode;              /* enum bcl__guard_mode; relaxed */
};

/*
 * Trimming decays: a stack is unmapped only after it has sat in the pool,
 * unused, for a whole BCL__STACK_TRIM_PERIOD_NS.  The pool remembers the
 * fewest stacks it held since the period began (`low`); when the period
 * ends, `low - BCL__STACK_POOL_KEEP` stacks were never needed in it and
 * go.  So a burst of tasks that comes back within a period finds its
 * stacks mapped and faulted in (a 4 KiB fault costs 10-14 us on some
 * VMs), and a pool left idle is back to the keep size one period later.
 */
#define BCL__STACK_POOL_KEEP 256u
#define BCL__STACK_TRIM_PERIOD_NS 1000000000u
#define BCL__STACK_TRIM_BATCH 64u /* unmapped between looks for work */

struct bcl__stack_pool { /* owner worker only */
    struct bcl__stack *free;
    unsigned count;
    unsigned low;     /* fewest stacks held since the period began */
    uint64_t trim_at; /* end of the period watching a surplus; 0: none */
};

/* Round the requested size (0: default) to pages. 0 or -EINVAL. */
int bcl__stack_params_init(struct bcl__stack_params *p, size_t requested,
                           bool force_mprotect);

/* Map a new stack; NULL when the kernel refuses. Any thread. */
struct bcl__stack *bcl__stack_new(struct bcl__stack_params *p);
void bcl__stack_free(struct bcl__stack *s);

/* Pool of the calling worker: reuse a stack or map one (NULL: no memory). */
struct bcl__stack *bcl__stack_get(struct bcl__stack_pool *pool,
                                  struct bcl__stack_params *p);
void bcl__stack_put(struct bcl__stack_pool *pool, struct bcl__stack *s);
/* Idle worker, at time `now` (ns): start watching a surplus, or once
 * its period is over unmap up to `batch` of the stacks unused all through
 * it.  True if it unmapped any (the worker then searches again).  While a
 * surplus is watched, pool->trim_at is when the worker should look again
 * (park sleeps no longer than that). */
bool bcl__stack_pool_trim(struct bcl__stack_pool *pool, uint64_t now,
                          unsigned batch);
void bcl__stack_pool_destroy(struct bcl__stack_pool *pool);

/* True when addr lies in the guard zone of s (for the SIGSEGV handler;
 * async-signal-safe). */
bool bcl__stack_guard_hit(const struct bcl__stack *s, const void *addr);

#endif /* BCL_EXEC_STACK_H */
