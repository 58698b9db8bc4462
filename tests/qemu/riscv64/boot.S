/* SPDX-License-Identifier: MIT */
/*
 * RISC-V test kernel: S-mode entry from OpenSBI, the move to the upper
 * half, the trap entry, the U-mode round trip and the user program.
 *
 * Boot tables (built here, in .bss): boot_l2 maps physical 0..4 GiB with
 * 1 GiB leaves at KOFF (entries 256..259: MMIO and RAM) plus RAM at its
 * own address (entry 2, only for the jump). It is the Sv39 root; boot_l3
 * (Sv48 root) points at it from entries 0 and 511, boot_l4 (Sv57 root) at
 * boot_l3 the same way. The kernel half of any user root is entries
 * 256..511 of the boot root of the same mode.
 */
#define KOFF 0xffffffc000000000
#define LEAF 0xcf /* V|R|W|X|A|D, not U: the kernel half is S-mode only */

/* Paging on with boot_l2 (satp: Sv39, ASID 0), then on to `label` at
 * its high address: the same code, since it is PC relative. */
.macro BOOT_PAGING label
    la t0, boot_l2
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    sfence.vma
    csrw satp, t0
    sfence.vma
    la t0, \label
    li t1, KOFF
    add t0, t0, t1
    jr t0
.endm

    .section .text.entry, "ax"
    .globl _start
_start:
    /* a0 = hart id, a1 = DTB (physical); kept for arch_main. Paging is
     * off: every la below gives a physical address. Zero .bss first,
     * since the tables live there. */
    la t0, _bss_start
    la t1, _bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  la t0, boot_l2
    li t1, (0x80000000 >> 12 << 10) | LEAF
    sd t1, 2 * 8(t0)
    li t1, 2048                   /* &boot_l2[256] */
    add t1, t0, t1
    li t2, 0
3:  slli t3, t2, 28               /* (i GiB >> 12) << 10 */
    ori t3, t3, LEAF
    sd t3, 0(t1)
    addi t1, t1, 8
    addi t2, t2, 1
    li t3, 4
    blt t2, t3, 3b
    la t1, boot_l3                /* boot_l3[0] = boot_l3[511] -> boot_l2 */
    srli t2, t0, 12
    slli t2, t2, 10
    ori t2, t2, 1
    sd t2, 0(t1)
    li t3, 511 * 8
    add t3, t1, t3
    sd t2, 0(t3)
    la t0, boot_l4                /* boot_l4[0] = boot_l4[511] -> boot_l3 */
    srli t2, t1, 12
    slli t2, t2, 10
    ori t2, t2, 1
    sd t2, 0(t0)
    li t3, 511 * 8
    add t3, t0, t3
    sd t2, 0(t3)
    BOOT_PAGING 4f
4:  la sp, boot_stack_top         /* PC relative: now high addresses */
    la t0, trap_entry
    csrw stvec, t0
    la t0, trap_stack_top
    csrw sscratch, t0
    call arch_main                /* (hart id, DTB physical address) */
5:  wfi
    j 5b

/*
 * Every trap: sscratch holds the top of the CPU's trap stack while
 * anything else runs, so swapping it with sp gives a stack whatever the
 * user's sp is. The word at that top is the CPU's struct k_cpu, which
 * becomes tp (the kernel's per-CPU pointer) whatever the interrupted tp
 * was. trap() gets the 32 saved registers (x0's slot holds nothing; x2's
 * holds the interrupted sp).
 */
    .text
    .balign 4
trap_entry:
    csrrw sp, sscratch, sp
    addi sp, sp, -256
    sd x1, 8(sp)
    .irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\n, \n * 8(sp)
    .endr
    csrr t0, sscratch
    sd t0, 16(sp)
    ld tp, 256(sp)
    mv a0, sp
    call trap
    ld x1, 8(sp)
    .irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\n, \n * 8(sp)
    .endr
    addi sp, sp, 256
    csrrw sp, sscratch, sp
    sret

/*
 * uint64_t user_enter(uint64_t pc, uint64_t arg0, uint64_t arg1): run
 * U-mode at pc with a0 = arg0, a1 = arg1 (interrupts stay off: remote
 * fences run in M-mode) until a trap handler calls user_return(v); then
 * return v. The kernel's callee-saved registers wait in the CPU's
 * k_cpu::kctx (tp + 24).
 */
    .globl user_enter, user_return
user_enter:
    addi t0, tp, 24
    sd ra, 0(t0)
    sd sp, 8(t0)
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
    sd s\n, (16 + \n * 8)(t0)
    .endr
    csrw sepc, a0
    mv a0, a1
    mv a1, a2
    li t0, (1 << 8) | (1 << 5)    /* sstatus.SPP = U, SPIE = 0 */
    csrc sstatus, t0
    fence.i                       /* the user program was just written */
    sret

/* void user_return(uint64_t v): abandon the trap frame, resume user_enter's
 * caller with v. */
user_return:
    ld t0, 16(tp)                 /* k_cpu::trap_top */
    csrw sscratch, t0
    addi t0, tp, 24
    ld ra, 0(t0)
    ld sp, 8(t0)
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
    ld s\n, (16 + \n * 8)(t0)
    .endr
    ret

/* The user program (see UCODE_STRIDE in kernel.h): one access, then ecall
 * back to the kernel. Position independent; copied into every space. */
    .section .rodata
    .balign 16
    .globl user_blob, user_blob_end
user_blob:
    lbu a0, 0(a0)                 /* UOP_LOAD8 */
    ecall
    .balign 16
    sb a1, 0(a0)                  /* UOP_STORE8 */
    ecall
    .balign 16
    ld a0, 0(a0)                  /* UOP_LOAD64 */
    ecall
    .balign 16
    sd a1, 0(a0)                  /* UOP_STORE64 */
    ecall
    .balign 16
    jr a0                         /* UOP_EXEC */
user_blob_end:

/*
 * A secondary hart, started by SBI HSM hart_start (riscv64/smp.c) at this
 * physical address with a0 = hart id, a1 = its struct k_cpu (a kernel
 * address): the boot CPU's Sv39 table, the high half, its own stack
 * (k_cpu::boot_sp) and tp, then C.
 */
    .text
    .globl ap_start
ap_start:
    BOOT_PAGING 1f
1:  mv tp, a1
    ld sp, 136(a1)                /* k_cpu::boot_sp */
    la t0, trap_entry
    csrw stvec, t0
    mv a0, a1
    call arch_ap_init             /* (struct k_cpu *), never returns */
2:  wfi
    j 2b

    .bss
    .balign 4096
    .globl boot_l2, boot_l3, boot_l4
boot_l2: .skip 4096
boot_l3: .skip 4096
boot_l4: .skip 4096
    .balign 16
    .skip 16384
boot_stack_top:
    .skip 16384
trap_stack_top:
