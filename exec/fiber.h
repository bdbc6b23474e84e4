/*
 * exec/fiber.h - architecture-neutral fiber contexts.
 *
 * A context is a saved stack pointer: bcl__fiber_jump (fiber_<arch>.S)
 * pushes the callee-saved registers of the ABI on the current stack,
 * stores the stack pointer, loads the target's and pops its registers.
 * Everything a sanitizer must know about a switch happens here, in
 * bcl__fiber_switch(): ASan learns the target stack's bounds
 * (__sanitizer_start/finish_switch_fiber) and TSan switches its fiber
 * (__tsan_switch_to_fiber), so neither reports false positives on fibers.
 *
 * Invariants:
 *   - a context is resumed at most once per save (no two threads run the
 *     same fiber); the scheduler guarantees it, see task.h;
 *   - a fiber's entry function never returns: the fiber ends by a last
 *     bcl__fiber_switch(..., exiting = true) to another context.
 *
 * Context: any thread; a context may be saved on one thread and resumed
 * on another.
 */
#ifndef BCL_EXEC_FIBER_H
#define BCL_EXEC_FIBER_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"

struct bcl__fiber_ctx {
    void *sp; /* saved stack pointer, valid while switched out */
    void (*entry)(void *arg); /* first run only */
    void *arg;
#if BCL__ASAN
    const void *stack_lo; /* bounds told to ASan on switches to us */
    size_t stack_size;
    void *fake_stack; /* ASan's fake stack saved while switched out */
    struct bcl__fiber_ctx *prev; /* the context that switched to us */
#endif
#if BCL__TSAN
    void *tsan_fiber;
    bool tsan_owned; /* created by us (not the thread's own) */
#endif
};

/* Prepare a new fiber on [stack_lo, stack_lo + size); its first switch-in
 * calls entry(arg). */
void bcl__fiber_init(struct bcl__fiber_ctx *ctx, void *stack_lo, size_t size,
                     void (*entry)(void *), void *arg);

/* Describe the calling thread's own stack as a context (the scheduler's). */
void bcl__fiber_init_thread(struct bcl__fiber_ctx *ctx);

/* Release sanitizer state of a context that will never run again. */
void bcl__fiber_destroy(struct bcl__fiber_ctx *ctx);

/* Save the current context into `from` and resume `to`.  Returns when
 * something switches back to `from`.  With exiting = true, `from` is never
 * resumed (its stack may be reused as soon as `to` runs). */
void bcl__fiber_switch(struct bcl__fiber_ctx *from, struct bcl__fiber_ctx *to,
                       bool exiting);

#endif /* BCL_EXEC_FIBER_H */
