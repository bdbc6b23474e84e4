/*
 * exec/stack.c - stack mapping, guard zones and per-worker pools.
 *
 * See stack.h for the layout, the guard modes and the trimming rule.  A
 * pool takes back every stack at once (unmapping is a syscall plus a TLB
 * shootdown, far too slow for the path that ends a task); its idle worker
 * unmaps, a batch at a time, what a whole trim period did not use, so a
 * burst of suspended tasks does not pin its memory forever and a steady
 * stream of bursts does not map and unmap the same stacks over and over.
 */
#include "stack.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi */
#endif

#define STACK_DEFAULT ((size_t)64 * 1024)
#define STACK_MAX ((size_t)1 << 30)

static size_t
page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

int
bcl__stack_params_init(struct bcl__stack_params *p, size_t requested,
                       bool force_mprotect)
{
    size_t page = page_size();
    size_t size = requested ? requested : STACK_DEFAULT;

    if (size > STACK_MAX)
        return -EINVAL;
    if (size < 2 * page)
        size = 2 * page;
    p->usable = (size + page - 1) & ~(page - 1);
    /* relaxed: set before any worker thread exists. */
    atomic_store_explicit(&p->mode,
                          force_mprotect ? BCL__GUARD_MPROTECT
                                         : BCL__GUARD_INSTALL,
                          memory_order_relaxed);
    return 0;
}

/* Install the guard zone at base; false if the kernel refused. */
static bool
stack_guard(struct bcl__stack_params *p, void *base)
{
    /* relaxed: the mode is a hint; a racing fallback only costs one more
     * refused madvise. */
    if (atomic_load_explicit(&p->mode, memory_order_relaxed) ==
        BCL__GUARD_INSTALL) {
        if (madvise(base, BCL__STACK_GUARD, MADV_GUARD_INSTALL) == 0)
            return true;
        if (errno != EINVAL)
            return false;
        /* Kernel older than 6.13: fall back for good.  relaxed: as above. */
        atomic_store_explicit(&p->mode, BCL__GUARD_MPROTECT,
                              memory_order_relaxed);
    }
    return mprotect(base, BCL__STACK_GUARD, PROT_NONE) == 0;
}

struct bcl__stack *
bcl__stack_new(struct bcl__stack_params *p)
{
    size_t total = BCL__STACK_GUARD + p->usable;
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                      -1, 0);
    struct bcl__stack *s;

    if (base == MAP_FAILED)
        return NULL;
    if (!stack_guard(p, base)) {
        munmap(base, total);
        return NULL;
    }
    s = (struct bcl__stack *)(base + total) - 1;
    s->lo = base + BCL__STACK_GUARD;
    s->size = (size_t)((char *)s - (char *)s->lo);
    s->next = NULL;
    return s;
}

void
bcl__stack_free(struct bcl__stack *s)
{
    char *base = (char *)s->lo - BCL__STACK_GUARD;
    size_t total = (size_t)((char *)(s + 1) - base);

    munmap(base, total);
}

struct bcl__stack *
bcl__stack_get(struct bcl__stack_pool *pool, struct bcl__stack_params *p)
{
    struct bcl__stack *s = pool->free;

    if (s == NULL)
        return bcl__stack_new(p);
    pool->free = s->next;
    if (--pool->count < pool->low)
        pool->low = pool->count;
    return s;
}

void
bcl__stack_put(struct bcl__stack_pool *pool, struct bcl__stack *s)
{
    s->next = pool->free;
    pool->free = s;
    pool->count++;
}

bool
bcl__stack_pool_trim(struct bcl__stack_pool *pool, uint64_t now,
                     unsigned batch)
{
    bool trimmed = false;

    if (pool->count <= BCL__STACK_POOL_KEEP) {
        pool->trim_at = 0;
        return false;
    }
    if (pool->trim_at == 0) {
        /* A surplus: watch it for a period. */
        pool->trim_at = now + BCL__STACK_TRIM_PERIOD_NS;
        pool->low = pool->count;
        return false;
    }
    if (now < pool->trim_at)
        return false;
    /* The period is over: low - KEEP stacks were never taken in it. */
    while (pool->low > BCL__STACK_POOL_KEEP && batch-- > 0) {
        struct bcl__stack *s = pool->free;

        pool->free = s->next;
        pool->count--;
        pool->low--;
        bcl__stack_free(s);
        trimmed = true;
    }
    if (pool->low <= BCL__STACK_POOL_KEEP) {
        /* Every unused one is gone; watch what is left afresh. */
        pool->trim_at = pool->count > BCL__STACK_POOL_KEEP
                            ? now + BCL__STACK_TRIM_PERIOD_NS
                            : 0;
        pool->low = pool->count;
    }
    return trimmed;
}

void
bcl__stack_pool_destroy(struct bcl__stack_pool *pool)
{
    while (pool->free != NULL) {
        struct bcl__stack *next = pool->free->next;

        bcl__stack_free(pool->free);
        pool->free = next;
    }
    pool->count = pool->low = 0;
    pool->trim_at = 0;
}

bool
bcl__stack_guard_hit(const struct bcl__stack *s, const void *addr)
{
    uintptr_t lo = (uintptr_t)s->lo - BCL__STACK_GUARD;
    uintptr_t a = (uintptr_t)addr;

    return a >= lo && a < (uintptr_t)s->lo;
}
