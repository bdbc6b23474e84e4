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

/* Shared by a loop's pools; mode may fall back to MPROTECT once. */
struct bcl__stack_params {
    size_t usable;                 /* usable bytes per stack, page multiple */
    _Atomic int mode;              /* enum bcl__guard_mode; relaxed */
};

struct bcl__stack_pool {
    struct bcl__stack *free; /* owner worker only */
    unsigned count;
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
/* Idle worker: unmap up to `batch` stacks beyond the pool's keep size;
 * true if it unmapped any (the worker then searches again). */
bool bcl__stack_pool_trim(struct bcl__stack_pool *pool, unsigned batch);
void bcl__stack_pool_destroy(struct bcl__stack_pool *pool);

/* True when addr lies in the guard zone of s (for the SIGSEGV handler;
 * async-signal-safe). */
bool bcl__stack_guard_hit(const struct bcl__stack *s, const void *addr);

#endif /* BCL_EXEC_STACK_H */
