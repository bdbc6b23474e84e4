/*
 * exec/base.h - small definitions every internal file uses: the internal
 * assertion, branch hints, cache-line alignment, container_of and the
 * sanitizer feature tests.
 *
 * BCL__ASSERT is for broken *internal* invariants only (going on would lose
 * or duplicate work); bad input from users returns an error instead.
 *
 * bcl__spin waits out another thread's few-instruction window: a producer
 * between claiming a slot and writing it, a waker between popping a waiter
 * and resolving it, a lock holder.  It pauses with ck_backoff's
 * exponential loop, and once the wait grows long (the other thread was
 * preempted inside its window) it gives the CPU away with sched_yield().
 * Never used to wait for something that needs a task to be scheduled: a
 * task cannot suspend inside those windows, so the other party is always
 * a running or runnable thread.
 */
#ifndef BCL_EXEC_BASE_H
#define BCL_EXEC_BASE_H

#include <ck_backoff.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BCL__CACHELINE 64
#define BCL__ALIGNED_CACHELINE _Alignas(BCL__CACHELINE)

#define bcl__likely(x) __builtin_expect(!!(x), 1)
#define bcl__unlikely(x) __builtin_expect(!!(x), 0)

#define bcl__container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

/* Print "boucle: <what>" and abort.  Async-signal-safe. */
_Noreturn void bcl__fatal(const char *what);

#define BCL__ASSERT(cond)                                                  \
    do {                                                                   \
        if (bcl__unlikely(!(cond)))                                        \
            bcl__fatal("internal invariant broken: " #cond " at "          \
                       __FILE__);                                          \
    } while (0)

/* Sanitizer detection that works for both gcc and clang. */
#if defined(__SANITIZE_ADDRESS__)
#define BCL__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BCL__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define BCL__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BCL__TSAN 1
#endif
#endif

#define BCL__SPIN_FIRST 8u    /* pause loop length of the first wait */
#define BCL__SPIN_YIELD 4096u /* past this, the other side was preempted */

struct bcl__spin {
    ck_backoff_t backoff;
};

static inline void
bcl__spin_init(struct bcl__spin *s)
{
    s->backoff = BCL__SPIN_FIRST;
}

static inline void
bcl__spin_once(struct bcl__spin *s)
{
    if (s->backoff > BCL__SPIN_YIELD)
        sched_yield();
    else
        ck_backoff_eb(&s->backoff);
}

/*
 * A test-and-test-and-set lock for critical sections of a few dozen
 * instructions (the timer heaps).  Written with C11 atomics rather than
 * ck_spinlock so that ThreadSanitizer sees its ordering.
 */
struct bcl__spinlock {
    _Atomic uint32_t held;
};

/* The lock was held: spin until we take it (exec/lock.c).  Out of line,
 * so that an uncontended lock costs its caller no saved registers. */
void bcl__spinlock_contended(struct bcl__spinlock *l);

static inline void
bcl__spinlock_lock(struct bcl__spinlock *l)
{
    /* acquire: pairs with the release in bcl__spinlock_unlock, so the
     * previous holder's writes are visible in our critical section. */
    if (atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
        bcl__spinlock_contended(l);
}

static inline void
bcl__spinlock_unlock(struct bcl__spinlock *l)
{
    /* release: publishes our critical section to the next holder. */
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif /* BCL_EXEC_BASE_H */
