/*
 * boucle/common.h - definitions shared by every boucle header.
 *
 * Conventions used across the API:
 *   - functions that can fail return int: 0 on success, a negative errno
 *     value on failure; bcl_strerror() names each of them;
 *   - durations are uint64_t nanoseconds, BCL_FOREVER means no timeout;
 *   - "Suspends: yes" means that inside a task the task is parked while its
 *     worker runs other tasks, and that from a plain thread the thread blocks.
 */
#ifndef BOUCLE_COMMON_H
#define BOUCLE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BCL_EXPORT __attribute__((visibility("default")))
#else
#define BCL_EXPORT
#endif

/* A duration meaning "no timeout". */
#define BCL_FOREVER UINT64_MAX

/* The body of a task: receives the spawn argument, returns the task result. */
typedef void *(*bcl_fn)(void *arg);

/*
 * bcl_strerror - a short, static description of a boucle error code.
 * Accepts the negative errno values boucle returns (and their positive
 * forms); unknown values give "unknown error".
 * Context: any, async-signal-safe.  Suspends: no.
 */
BCL_EXPORT const char *bcl_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* BOUCLE_COMMON_H */
