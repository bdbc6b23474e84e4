/*
 * exec/fiber_x86_64.S - fiber switch for the System V x86-64 ABI.
 *
 * void bcl__fiber_jump(void **save_sp, void *new_sp)
 *   Pushes the callee-saved state -- rbp, rbx, r12-r15, then MXCSR and the
 *   x87 control word in one 8-byte slot -- stores rsp into *save_sp, loads
 *   new_sp and pops the same frame from it, then returns into the target.
 *   Frame, lowest address first (64 bytes with the return address; mirrored
 *   by struct first_frame in fiber.c):
 *     [0] mxcsr (4)  [4] x87 cw (2)  [8] r15  [16] r14  [24] r13  [32] r12
 *     [40] rbx  [48] rbp  [56] return address
 *   Caller-saved registers need no saving: the call is a normal C call.
 *
 * bcl__fiber_start
 *   Where a new fiber's first frame returns: calls r12(r13) with rsp
 *   16-byte aligned before the call; that function never returns.
 */
    .text
    .globl  bcl__fiber_jump
    .hidden bcl__fiber_jump
    .type   bcl__fiber_jump, @function
    .p2align 4
bcl__fiber_jump:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   bcl__fiber_jump, .-bcl__fiber_jump

    .globl  bcl__fiber_start
    .hidden bcl__fiber_start
    .type   bcl__fiber_start, @function
    .p2align 4
bcl__fiber_start:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   bcl__fiber_start, .-bcl__fiber_start

    .section .note.GNU-stack, "", @progbits
