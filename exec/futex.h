/*
 * exec/futex.h - futex wait/wake on a 32-bit word (Linux).
 *
 * bcl__futex_wait sleeps while *word == expected (checked atomically by the
 * kernel) and returns on a wake, a signal, a spurious wake-up or the
 * timeout: callers always re-check their condition in a loop.
 * bcl__futex_wake is async-signal-safe.
 */
#ifndef BCL_EXEC_FUTEX_H
#define BCL_EXEC_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *word == expected; NULL timeout waits forever (relative). */
static inline void
bcl__futex_wait(_Atomic uint32_t *word, uint32_t expected,
                const struct timespec *timeout)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout, NULL, 0);
}

/* Wake up to n threads sleeping on word. */
static inline void
bcl__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif /* BCL_EXEC_FUTEX_H */
