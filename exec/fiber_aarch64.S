/*
 * exec/fiber_aarch64.S - fiber switch for AAPCS64 (Linux, AArch64).
 *
 * void bcl__fiber_jump(void **save_sp, void *new_sp)
 *   Saves the callee-saved state -- x19-x28, x29 (fp), x30 (lr), d8-d15
 *   and FPCR -- in a 176-byte frame on the current stack, stores sp into
 *   *save_sp, loads new_sp and restores the same frame, then returns to
 *   the restored x30.  Frame, lowest address first (mirrored by struct
 *   first_frame in fiber.c):
 *     [0..79] x19-x28  [80] x29  [88] x30  [96..159] d8-d15  [160] fpcr
 *     [168] padding (keeps sp 16-byte aligned)
 *
 * bcl__fiber_start
 *   Where a new fiber's first frame returns: calls x19(x20); that function
 *   never returns.
 */
    .text
    .globl  bcl__fiber_jump
    .hidden bcl__fiber_jump
    .type   bcl__fiber_jump, %function
    .p2align 4
bcl__fiber_jump:
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    ret
    .size   bcl__fiber_jump, .-bcl__fiber_jump

    .globl  bcl__fiber_start
    .hidden bcl__fiber_start
    .type   bcl__fiber_start, %function
    .p2align 4
bcl__fiber_start:
    mov     x0, x20
    blr     x19
    brk     #0
    .size   bcl__fiber_start, .-bcl__fiber_start

    .section .note.GNU-stack, "", %progbits
