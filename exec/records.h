/*
 * exec/records.h - one worker's supply of task records.
 *
 * A worker allocates the records of its own loop's tasks from slabs that
 * it maps itself and keeps until the loop is freed, and recycles them
 * through a free list; nothing here is shared, so nothing is atomic.
 *
 * Invariants:
 *   - records are handed out from the free list first, then carved from
 *     the untouched tail of the newest slab (`carve` .. `carve_end`): a
 *     slab's pages are faulted in only as its records are first used;
 *   - slabs double in size, from BCL__RECORDS_SLAB_MIN up to
 *     BCL__RECORDS_SLAB_MAX; a slab of 2 MiB or more is 2 MiB-aligned and
 *     advised MADV_HUGEPAGE, so a burst of 10^6 spawns faults in about 60
 *     huge pages instead of about 28,000 small ones (a small page fault
 *     costs ~14 us on the benchmark VM; docs/design.md, "Task records");
 *   - carved == records handed out at least once; in use = carved - nfree.
 */
#ifndef BCL_EXEC_RECORDS_H
#define BCL_EXEC_RECORDS_H

#include <stddef.h>
#include <stdint.h>

struct bcl_task;
struct bcl__records_slab;

#define BCL__RECORDS_SLAB_MIN ((size_t)64 << 10)
#define BCL__RECORDS_SLAB_MAX ((size_t)4 << 20)

struct bcl__records {
    struct bcl_task *free;           /* recycled records, via next_free */
    uint64_t nfree;
    char *carve, *carve_end;         /* never-used tail of the newest slab */
    struct bcl__records_slab *slabs; /* every slab, newest first */
    size_t next_slab_bytes;          /* 0 before the first slab */
    uint64_t carved;
};

/* A record, not zeroed, or NULL when no slab can be mapped. */
struct bcl_task *bcl__records_take(struct bcl__records *r);

/* Give back one record; or, while the free list is empty, a whole list
 * of n records linked by next_free (the loop's remote list). */
void bcl__records_give(struct bcl__records *r, struct bcl_task *t);
void bcl__records_adopt(struct bcl__records *r, struct bcl_task *list,
                        uint64_t n);

/* Records handed out and not given back.  Records move between workers
 * (a record freed on another worker joins that worker's list), so one
 * worker's count may wrap; the sum over a loop's workers, in uint64_t
 * arithmetic, is exact. */
static inline uint64_t
bcl__records_in_use(const struct bcl__records *r)
{
    return r->carved - r->nfree;
}

/* Unmap every slab (the loop is being freed). */
void bcl__records_destroy(struct bcl__records *r);

#endif /* BCL_EXEC_RECORDS_H */
