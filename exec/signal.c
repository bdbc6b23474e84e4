/*
 * exec/signal.c - signal handlers and the global state they must reach.
 *
 * This file holds the library's only process-wide state besides the
 * thread-local current worker, because a signal handler can reach nothing
 * else:
 *   - overflow_previous: the SIGSEGV disposition found at installation,
 *     restored for faults that are not ours (so the process still crashes
 *     the way it would have without boucle);
 *   - stop_loop / stop_signals / previous[]: the loop that SIGINT and/or
 *     SIGTERM stop while a bcl_run_forever with BCL_STOP_ON_SIGINT /
 *     BCL_STOP_ON_SIGTERM runs, and the dispositions to restore after it.
 * Both handlers are async-signal-safe: the overflow handler reads the
 * current worker (initial-exec TLS), compares addresses and write()s; the
 * stop handler calls bcl_stop(), which only posts a semaphore.
 */
#include "signal.h"

#include <boucle/exec.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "stack.h"
#include "worker.h"

#define ALTSTACK_SIZE ((size_t)65536)

static struct sigaction overflow_previous;
static pthread_once_t overflow_once = PTHREAD_ONCE_INIT;

static _Atomic(struct bcl_loop *) stop_loop;
static bool stop_signals[2];          /* SIGINT, SIGTERM attached */
static struct sigaction previous[2]; /* their dispositions before */
static const int stop_signo[2] = { SIGINT, SIGTERM };

static void
overflow_handler(int sig, siginfo_t *info, void *uctx)
{
    struct bcl__worker *w = bcl__worker_current();

    (void)uctx;
    if (w != NULL && w->running != NULL &&
        bcl__stack_guard_hit(w->running, info->si_addr))
        bcl__fatal("task stack overflow");
    /* Not ours: restore the previous disposition; returning re-runs the
     * faulting instruction, which then gets it. */
    sigaction(sig, &overflow_previous, NULL);
}

static void
overflow_install_once(void)
{
    struct sigaction sa = { 0 };

    sa.sa_sigaction = overflow_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &overflow_previous);
}

void
bcl__signal_overflow_install(void)
{
    pthread_once(&overflow_once, overflow_install_once);
}

void *
bcl__signal_altstack_enter(void)
{
    stack_t ss = { 0 };
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (mem == MAP_FAILED)
        return NULL;
    ss.ss_sp = mem;
    ss.ss_size = ALTSTACK_SIZE;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALTSTACK_SIZE);
        return NULL;
    }
    return mem;
}

void
bcl__signal_altstack_leave(void *altstack)
{
    stack_t ss = { 0 };

    if (altstack == NULL)
        return;
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap(altstack, ALTSTACK_SIZE);
}

static void
stop_handler(int sig)
{
    /* acquire: pairs with the release CAS in attach. */
    struct bcl_loop *loop = atomic_load_explicit(&stop_loop,
                                                 memory_order_acquire);

    (void)sig;
    if (loop != NULL)
        bcl_stop(loop);
}

int
bcl__signal_stop_attach(struct bcl_loop *loop, bool sigint, bool sigterm)
{
    struct bcl_loop *none = NULL;
    struct sigaction sa = { 0 };

    /* acq_rel: one loop at a time owns these signals. */
    if (!atomic_compare_exchange_strong_explicit(&stop_loop, &none, loop,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire))
        return -EBUSY;
    sa.sa_handler = stop_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    stop_signals[0] = sigint;
    stop_signals[1] = sigterm;
    for (int i = 0; i < 2; i++)
        if (stop_signals[i])
            sigaction(stop_signo[i], &sa, &previous[i]);
    return 0;
}

void
bcl__signal_stop_detach(struct bcl_loop *loop)
{
    (void)loop;
    for (int i = 0; i < 2; i++)
        if (stop_signals[i])
            sigaction(stop_signo[i], &previous[i], NULL);
    /* release: the handlers are gone before the slot frees up. */
    atomic_store_explicit(&stop_loop, NULL, memory_order_release);
}
