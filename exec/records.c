/*
 * exec/records.c - task record slabs (invariants in records.h).
 */
#include "records.h"

#include <stdalign.h>
#include <sys/mman.h>

#include "task.h"

#define HUGE_PAGE ((size_t)2 << 20)

struct bcl__records_slab {
    struct bcl__records_slab *next;
    size_t bytes; /* the whole mapping, header included */
};

/* The first record of a slab: after the header, aligned for a record. */
static char *
slab_records(struct bcl__records_slab *slab)
{
    size_t header = (sizeof *slab + alignof(struct bcl_task) - 1) &
                    ~(alignof(struct bcl_task) - 1);

    return (char *)slab + header;
}

/* Map `bytes`; huge-page sized slabs are aligned to a huge page and
 * advised for THP (advice only: without THP they work the same). */
static void *
slab_map(size_t bytes)
{
    size_t extra = bytes >= HUGE_PAGE ? HUGE_PAGE : 0;
    char *p = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *aligned;

    if (p == MAP_FAILED)
        return NULL;
    if (extra == 0)
        return p;
    aligned = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
    if (aligned > p)
        munmap(p, (size_t)(aligned - p));
    if (aligned + bytes < p + bytes + extra)
        munmap(aligned + bytes, (size_t)(p + bytes + extra - (aligned + bytes)));
    madvise(aligned, bytes, MADV_HUGEPAGE);
    return aligned;
}

static int
records_grow(struct bcl__records *r)
{
    size_t bytes = r->next_slab_bytes == 0 ? BCL__RECORDS_SLAB_MIN
                                           : r->next_slab_bytes;
    struct bcl__records_slab *slab = slab_map(bytes);
    size_t fit; /* whole records after the header */

    if (slab == NULL)
        return -1;
    slab->next = r->slabs;
    slab->bytes = bytes;
    r->slabs = slab;
    r->carve = slab_records(slab);
    fit = (bytes - (size_t)(r->carve - (char *)slab)) / sizeof(struct bcl_task);
    r->carve_end = r->carve + fit * sizeof(struct bcl_task);
    r->next_slab_bytes =
        bytes < BCL__RECORDS_SLAB_MAX ? bytes * 2 : BCL__RECORDS_SLAB_MAX;
    return 0;
}

/* A never-used record (the free list is empty).  Out of line, so that
 * the free-list path of records_take saves no registers. */
static __attribute__((noinline)) struct bcl_task *
records_carve(struct bcl__records *r)
{
    struct bcl_task *t;

    if (r->carve == r->carve_end && records_grow(r) != 0)
        return NULL;
    t = (struct bcl_task *)(void *)r->carve;
    r->carve += sizeof *t;
    r->carved++;
    return t;
}

struct bcl_task *
bcl__records_take(struct bcl__records *r)
{
    struct bcl_task *t = r->free;

    if (t == NULL)
        return records_carve(r);
    r->free = t->next_free;
    r->nfree--;
    return t;
}

void
bcl__records_give(struct bcl__records *r, struct bcl_task *t)
{
    t->next_free = r->free;
    r->free = t;
    r->nfree++;
}

void
bcl__records_adopt(struct bcl__records *r, struct bcl_task *list,
                   uint64_t n)
{
    BCL__ASSERT(r->free == NULL);
    r->free = list;
    r->nfree += n;
}

void
bcl__records_destroy(struct bcl__records *r)
{
    while (r->slabs != NULL) {
        struct bcl__records_slab *next = r->slabs->next;

        munmap(r->slabs, r->slabs->bytes);
        r->slabs = next;
    }
    *r = (struct bcl__records){0};
}
