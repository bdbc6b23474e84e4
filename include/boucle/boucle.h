/*
 * boucle/boucle.h - umbrella header: everything a boucle program needs.
 *
 * boucle is a multithreaded work-stealing executor for C11: one event loop
 * per core, tasks as stackful fibers shared through Chase-Lev deques.
 */
#ifndef BOUCLE_BOUCLE_H
#define BOUCLE_BOUCLE_H

#define BCL_VERSION_MAJOR 0
#define BCL_VERSION_MINOR 1
#define BCL_VERSION_PATCH 0

#include <boucle/common.h>
#include <boucle/exec.h>
#include <boucle/queue.h>
#include <boucle/time.h>
#include <boucle/sync.h>

#endif /* BOUCLE_BOUCLE_H */
