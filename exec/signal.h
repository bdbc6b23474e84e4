/*
 * exec/signal.h - the library's signal handling: stack-overflow reports
 * (SIGSEGV on a guard zone) and BCL_STOP_ON_SIGINT.
 */
#ifndef BCL_EXEC_SIGNAL_H
#define BCL_EXEC_SIGNAL_H

#include <stdbool.h>

struct bcl_loop;

/* Install the process-wide SIGSEGV handler once (chains to the previous
 * handler for faults that are not a task stack overflow). */
void bcl__signal_overflow_install(void);

/* Give the calling worker thread an alternate signal stack, so the
 * SIGSEGV handler can run when a task stack is exhausted.  Returns the
 * memory to pass to _leave (NULL if none could be set: overflows then
 * still crash, without the message). */
void *bcl__signal_altstack_enter(void);
void bcl__signal_altstack_leave(void *altstack);

/* Make SIGINT and/or SIGTERM call bcl_stop(loop) until detach.  0, or
 * -EBUSY when another loop has them.  Plain thread (bcl_run_forever). */
int bcl__signal_stop_attach(struct bcl_loop *loop, bool sigint, bool sigterm);
void bcl__signal_stop_detach(struct bcl_loop *loop);

#endif /* BCL_EXEC_SIGNAL_H */
