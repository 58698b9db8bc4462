/* SPDX-License-Identifier: MIT */
/*
 * x86-64 test kernel: Multiboot entry, long mode, trap stubs, the ring-3
 * round trip and the user program.
 *
 * Boot (32-bit, paging off, at the load address): the boot tables map the
 * first 1 GiB twice with 2 MiB pages, at 0 (only for the jump) and at KVA
 * (where the kernel runs). When the command line ends in '5' and the CPU
 * has LA57, paging is 5-level; the choice cannot change later, since
 * CR4.LA57 may only be written with paging off.
 */
#define KVA 0xffffffff80000000

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010003 /* page align, memory info, a.out kludge */

/* Every data segment register: the kernel data selector. */
.macro DATA_SEGMENTS
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
.endm

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long mb_header           /* header_addr */
    .long mb_header           /* load_addr: the image starts here */
    .long _load_end           /* load_end_addr */
    .long _kernel_end         /* bss_end_addr */
    .long _start32            /* entry_addr */

/* Boot page tables. pd maps 0..1 GiB with 2 MiB leaves (P|RW|PS, no US:
 * the kernel half is supervisor-only); the PDPTs hang it at 0 and at KVA
 * (PDPT index 510); pml4 has both at [0] and [511]; pml5 points at pml4
 * from [0] and [511]. Filled in by _start32 (the linker cannot compute
 * PD entries with flags in 32-bit words). */
    .section .boot.tables, "aw"
    .balign 4096
    .globl boot_pml5, boot_pml4
boot_pml5: .fill 512, 8, 0
boot_pml4: .fill 512, 8, 0
boot_pdpt_lo: .fill 512, 8, 0
boot_pdpt_hi: .fill 512, 8, 0
boot_pd: .fill 512, 8, 0

boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff  /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff  /* 0x10: data */
boot_gdtr:
    .word 3 * 8 - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    mov %ebx, %esi               /* Multiboot info, kept for C */
    /* pd[i] = i * 2 MiB | P|RW|PS */
    mov $boot_pd, %edi
    mov $0x83, %eax
    mov $512, %ecx
1:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b
    movl $boot_pd + 3, boot_pdpt_lo
    movl $boot_pd + 3, boot_pdpt_hi + 510 * 8
    movl $boot_pdpt_lo + 3, boot_pml4
    movl $boot_pdpt_hi + 3, boot_pml4 + 511 * 8
    movl $boot_pml4 + 3, boot_pml5
    movl $boot_pml4 + 3, boot_pml5 + 511 * 8

    mov %cr4, %eax
    or $(1 << 5), %eax           /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    /* 5-level when the command line ends in '5' and CPUID says LA57. */
    testl $(1 << 2), (%esi)      /* Multiboot flags: cmdline valid */
    jz 3f
    mov 16(%esi), %edx
2:  cmpb $0, (%edx)
    je 4f
    inc %edx
    jmp 2b
4:  cmpb $'5', -1(%edx)
    jne 3f
    mov %eax, %edi
    mov $7, %eax
    xor %ecx, %ecx
    cpuid
    mov %edi, %eax
    test $(1 << 16), %ecx        /* CPUID.(7,0):ECX.LA57 */
    jz 3f
    mov %cr4, %edx
    or $(1 << 12), %edx          /* LA57 */
    mov %edx, %cr4
    mov $boot_pml5, %eax
3:  mov %eax, %cr3
    mov $0xc0000080, %ecx        /* IA32_EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax /* LME, NXE (x86_64.h requires NXE) */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0
    lgdt boot_gdtr
    ljmp $0x08, $start64_low

    .code64
start64_low:
    movabs $start64, %rax
    jmp *%rax

    .text
start64:
    DATA_SEGMENTS
    movabs $boot_stack_top, %rsp
    mov %esi, %ebx               /* zero-extends: upper halves undefined */
    movabs $_bss_start, %rdi
    movabs $_bss_end, %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    mov %rbx, %rdi
    call arch_main               /* (Multiboot info physical address) */
5:  hlt
    jmp 5b

/* Trap stubs: every vector gets the same frame (a dummy error code where
 * the CPU pushes none), then the 15 GPRs; trap() gets a pointer to it. */
.macro TRAP vec, has_err
trap\vec:
    .if !\has_err
    push $0
    .endif
    push $\vec
    jmp trap_common
.endm
    TRAP 0, 0
    TRAP 1, 0
    TRAP 2, 0
    TRAP 3, 0
    TRAP 4, 0
    TRAP 5, 0
    TRAP 6, 0
    TRAP 7, 0
    TRAP 8, 1
    TRAP 9, 0
    TRAP 10, 1
    TRAP 11, 1
    TRAP 12, 1
    TRAP 13, 1
    TRAP 14, 1
    TRAP 15, 0
    TRAP 16, 0
    TRAP 17, 1
    TRAP 18, 0
    TRAP 19, 0
    TRAP 20, 0
    TRAP 21, 1
    TRAP 128, 0
    TRAP 240, 0                  /* K_IPI_VECTOR: shootdown */
    TRAP 255, 0                  /* local APIC spurious vector */

trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    call trap
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                /* vector, error code */
    iretq

    .section .rodata
    .balign 8
    .globl trap_vectors
trap_vectors:                    /* vectors 0..21, then 128, 240, 255 */
    .quad trap0, trap1, trap2, trap3, trap4, trap5, trap6, trap7
    .quad trap8, trap9, trap10, trap11, trap12, trap13, trap14, trap15
    .quad trap16, trap17, trap18, trap19, trap20, trap21, trap128
    .quad trap240, trap255

/*
 * uint64_t user_enter(uint64_t rip, uint64_t arg0, uint64_t arg1):
 * run ring 3 at rip with rdi = arg0, rsi = arg1 (interrupts on, for
 * shootdown IPIs) until a trap handler calls user_return(v); then return
 * v. The kernel's callee-saved registers and stack pointer wait in the
 * CPU's k_cpu::kctx_sp (%gs:8); traps from ring 3 run on the CPU's TSS
 * RSP0 stack, a different one, so nothing here is overwritten.
 */
    .text
    .globl user_enter, user_return
user_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %gs:8
    push $0x1b                   /* SS: user data | RPL 3 */
    push $0                      /* RSP: the user program needs no stack */
    push $0x202                  /* RFLAGS: IF set */
    push $0x23                   /* CS: user code | RPL 3 */
    push %rdi
    mov %rsi, %rdi
    mov %rdx, %rsi
    xor %eax, %eax               /* leak no kernel values to ring 3 */
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    iretq

/* void user_return(uint64_t v): abandon the trap frame, resume user_enter's
 * caller with v, interrupts on (the kernel runs with them on). */
user_return:
    mov %gs:8, %rsp
    sti
    mov %rdi, %rax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

/* The user program (see UCODE_STRIDE in kernel.h): one access, then
 * int $0x80 back to the kernel. Position independent; copied into every
 * space. */
    .section .rodata
    .balign 16
    .globl user_blob, user_blob_end
user_blob:
    movzbq (%rdi), %rax          /* UOP_LOAD8 */
    int $0x80
    .balign 16, 0xcc
    mov %sil, (%rdi)             /* UOP_STORE8 */
    int $0x80
    .balign 16, 0xcc
    mov (%rdi), %rax             /* UOP_LOAD64 */
    int $0x80
    .balign 16, 0xcc
    mov %rsi, (%rdi)             /* UOP_STORE64 */
    int $0x80
    .balign 16, 0xcc
    jmp *%rdi                    /* UOP_EXEC (rax = 0: see arch_user_op) */
user_blob_end:

/*
 * The application processors' start (x86_64/smp.c copies this to
 * AP_TRAMP, below 1 MiB, and sends INIT-SIPI-SIPI with vector
 * AP_TRAMP >> 12): real mode at CS = AP_TRAMP >> 4, then protected mode,
 * long mode with the boot tables (tr_cr3, tr_cr4 as on the boot CPU) and
 * a jump to ap_start64 with the CPU's struct k_cpu in rdi. Position
 * dependent on AP_TRAMP only, through label differences.
 */
#define AP_TRAMP 0x8000
#define TR(sym) (AP_TRAMP + (sym) - ap_tramp)
    .balign 16
    .globl ap_tramp, ap_tramp_end, tr_cr3, tr_cr4, tr_cpu
    .code16
ap_tramp:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tr_gdtr - ap_tramp
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $TR(tr_32)
    .code32
tr_32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov TR(tr_cr4), %eax
    mov %eax, %cr4
    mov TR(tr_cr3), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax /* LME, NXE */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0
    ljmp $0x18, $TR(tr_64)
    .code64
tr_64:
    mov $TR(tr_cpu), %eax
    mov (%rax), %rdi
    movabs $ap_start64, %rax
    jmp *%rax
    .balign 8
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff     /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
    .quad 0x00af9a000000ffff     /* 0x18: 64-bit code */
tr_gdtr:
    .word 4 * 8 - 1
    .long TR(tr_gdt)
    .balign 8
tr_cpu: .quad 0                  /* struct k_cpu * of the CPU to start */
tr_cr3: .long 0
tr_cr4: .long 0
ap_tramp_end:

    .text
/* An AP in long mode on the boot tables: its own stack, then C. */
ap_start64:
    DATA_SEGMENTS
    mov 136(%rdi), %rsp          /* k_cpu::boot_sp */
    call arch_ap_init            /* (struct k_cpu *), never returns */
6:  hlt
    jmp 6b

    .bss
    .balign 4096
    .skip 16384
boot_stack_top:
    .section .note.GNU-stack, "", @progbits
