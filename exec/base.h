/*
 * exec/base.h - small definitions every internal file uses: the internal
 * assertion, branch hints, cache-line alignment, container_of and the
 * sanitizer feature tests.
 *
 * BCL__ASSERT is for broken *internal* invariants only (going on would lose
 * or duplicate work); bad input from users returns an error instead.
 */
#ifndef BCL_EXEC_BASE_H
#define BCL_EXEC_BASE_H

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

#endif /* BCL_EXEC_BASE_H */
