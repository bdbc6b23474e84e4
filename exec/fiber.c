/*
 * exec/fiber.c - fiber set-up and the annotated switch.
 *
 * The register work is in fiber_x86_64.S / fiber_aarch64.S; this file lays
 * out a new fiber's first frame so that the first bcl__fiber_jump into it
 * "returns" into bcl__fiber_start, and wraps every jump with the ASan and
 * TSan fiber annotations.
 */
#include "fiber.h"

#include <stdint.h>
#include <string.h>

#if BCL__ASAN
#include <sanitizer/asan_interface.h>
#endif
#if BCL__TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* fiber_<arch>.S */
void bcl__fiber_jump(void **save_sp, void *new_sp);
void bcl__fiber_start(void);

/* First C code of every fiber: finish the switch, then run the entry. */
static void
fiber_first_run(void *arg)
{
    struct bcl__fiber_ctx *self = arg;

#if BCL__ASAN
    __sanitizer_finish_switch_fiber(NULL, &self->prev->stack_lo,
                                    &self->prev->stack_size);
#endif
    self->entry(self->arg);
    bcl__fatal("fiber entry returned");
}

#if defined(__x86_64__)
/* Frame popped by bcl__fiber_jump, lowest address first (fiber_x86_64.S). */
struct first_frame {
    uint32_t mxcsr;
    uint16_t x87_cw;
    uint16_t pad;
    uint64_t r15, r14, r13, r12, rbx, rbp;
    uint64_t ret; /* bcl__fiber_start */
};
_Static_assert(sizeof(struct first_frame) == 64, "fiber_x86_64.S frame");

static void *
fiber_first_frame(void *top, struct bcl__fiber_ctx *ctx)
{
    /* After `ret` pops frame->ret, rsp == top, 16-byte aligned, so the
     * `call` in bcl__fiber_start enters C with the ABI's alignment. */
    struct first_frame *frame = (struct first_frame *)top - 1;

    memset(frame, 0, sizeof *frame);
    frame->mxcsr = 0x1f80; /* all exceptions masked, round to nearest */
    frame->x87_cw = 0x037f; /* same for x87, extended precision */
    frame->r12 = (uint64_t)(uintptr_t)fiber_first_run;
    frame->r13 = (uint64_t)(uintptr_t)ctx;
    frame->ret = (uint64_t)(uintptr_t)bcl__fiber_start;
    return frame;
}
#elif defined(__aarch64__)
/* Frame popped by bcl__fiber_jump, lowest address first (fiber_aarch64.S). */
struct first_frame {
    uint64_t x19_x28[10];
    uint64_t x29, x30; /* x30: bcl__fiber_start */
    uint64_t d8_d15[8];
    uint64_t fpcr;
    uint64_t pad;
};
_Static_assert(sizeof(struct first_frame) == 176, "fiber_aarch64.S frame");

static void *
fiber_first_frame(void *top, struct bcl__fiber_ctx *ctx)
{
    struct first_frame *frame = (struct first_frame *)top - 1;

    memset(frame, 0, sizeof *frame);
    frame->x19_x28[0] = (uint64_t)(uintptr_t)fiber_first_run;
    frame->x19_x28[1] = (uint64_t)(uintptr_t)ctx;
    frame->x30 = (uint64_t)(uintptr_t)bcl__fiber_start;
    return frame;
}
#else
#error "boucle: no fiber switch for this architecture"
#endif

void
bcl__fiber_init(struct bcl__fiber_ctx *ctx, void *stack_lo, size_t size,
                void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;

    ctx->entry = entry;
    ctx->arg = arg;
    ctx->sp = fiber_first_frame((void *)top, ctx);
#if BCL__ASAN
    ctx->stack_lo = stack_lo;
    ctx->stack_size = size;
    ctx->fake_stack = NULL;
    ctx->prev = NULL;
#endif
#if BCL__TSAN
    ctx->tsan_fiber = __tsan_create_fiber(0);
    ctx->tsan_owned = true;
#endif
}

void
bcl__fiber_init_thread(struct bcl__fiber_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
#if BCL__TSAN
    ctx->tsan_fiber = __tsan_get_current_fiber();
    ctx->tsan_owned = false;
#endif
}

void
bcl__fiber_destroy(struct bcl__fiber_ctx *ctx)
{
#if BCL__TSAN
    if (ctx->tsan_owned && ctx->tsan_fiber != NULL)
        __tsan_destroy_fiber(ctx->tsan_fiber);
    ctx->tsan_fiber = NULL;
#else
    (void)ctx;
#endif
}

void
bcl__fiber_switch(struct bcl__fiber_ctx *from, struct bcl__fiber_ctx *to,
                  bool exiting)
{
#if BCL__ASAN
    to->prev = from;
    __sanitizer_start_switch_fiber(exiting ? NULL : &from->fake_stack,
                                   to->stack_lo, to->stack_size);
#else
    (void)exiting;
#endif
#if BCL__TSAN
    /* flags 0: the switch synchronizes, like the hand-off it is. */
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    bcl__fiber_jump(&from->sp, to->sp);
#if BCL__ASAN
    /* Back in `from`: whoever switched to us left its pointer in prev. */
    __sanitizer_finish_switch_fiber(from->fake_stack, &from->prev->stack_lo,
                                    &from->prev->stack_size);
#endif
}
