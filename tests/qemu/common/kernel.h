/* SPDX-License-Identifier: MIT */
/*
 * The QEMU test kernels (tests/qemu/): what the architecture half
 * (x86_64/arch.c, riscv64/arch.c) and the shared half (common/) promise
 * each other.
 *
 * Both kernels run the same scenarios (common/scenarios.c) on libvmar's
 * real page-table backends: each scenario creates a user address space
 * with vmar_space_create(), loads its root into the MMU, enters user mode
 * to touch memory, and resolves the resulting page faults with
 * vmar_fault(). The kernel itself lives in the upper half of every table
 * (vmar_x86_64_config::kernel_root, vmar_riscv64_config::kernel_root; see
 * arch_space_create), so libvmar owns the whole lower half.
 *
 * Single CPU, interrupts off, no preemption: the "you lock" mode of
 * docs/PORTING.md section 5 with nothing to lock.
 */
#ifndef VMAR_QEMU_KERNEL_H
#define VMAR_QEMU_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmar/vmar.h>

/* ---- provided by the architecture (x86_64/arch.c, riscv64/arch.c) ---- */

/* Kernel virtual address of physical address `pa`: the kernel maps RAM
 * (and low MMIO) at a fixed offset in the upper half. */
void *arch_phys_to_virt(vmar_paddr_t pa);

/* Write one character to the serial console. */
void arch_putc(char c);

/* Leave QEMU: pass or fail status (x86 isa-debug-exit, RISC-V SiFive test
 * device). Never returns. */
_Noreturn void arch_exit(bool pass);

/* The backend of this run (chosen on the command line) and its name. */
const struct vmar_mmu_ops *arch_mmu(void);

/* Create a user space on arch_mmu() whose root shares the kernel's
 * upper-half entries: the backend config's kernel_root is the boot table,
 * which libvmar copies the upper half of. Returns what vmar_space_create
 * returns. */
int arch_space_create(struct vmar_space **out);

/* Create a child with vmar_fork(), with the same config (kernel_root
 * included) as arch_space_create. */
int arch_space_fork(struct vmar_space *parent, struct vmar_space **out);

/* Switch away from `space` if it is current and destroy it (libvmar frees
 * the tables of the lower half only, never the kernel's). */
void arch_space_destroy(struct vmar_space *space);

/* Make `space` the current one: load CR3 / satp. */
void arch_switch(struct vmar_space *space);

/* env->tlb_flush: invalidate [va, va+len) (len 0: everything) of the table
 * whose root value (CR3 / satp) is `root`, if it is the current one. One
 * CPU, and every switch flushes the whole TLB (no PCID, one ASID), so a
 * table that is not current has nothing cached. */
void arch_tlb_flush(uint64_t root, vmar_addr_t va, vmar_size_t len);

/* The level of the leaf that maps `va` in `space` (0: 4 KiB, 1: 2 MiB,
 * ...), or -1 when none does. Walks the raw table, to prove what kind of
 * leaf the backend wrote. */
int arch_leaf_level(struct vmar_space *space, vmar_addr_t va);

/* One user-mode access (below); returns 0 or the vmar_fault() error that
 * stopped it. Faults that vmar_fault resolves are retried transparently
 * and counted in k_faults_resolved. */
enum uop {
    UOP_LOAD8,
    UOP_STORE8,
    UOP_LOAD64,
    UOP_STORE64,
};
int arch_user_op(enum uop op, vmar_addr_t addr, uint64_t val, uint64_t *out);

/* The user program: position-independent machine code between these two
 * symbols (in boot.S), copied into every space at UCODE_VA. Entry points
 * are at UCODE_STRIDE * op. Each does one access with the address in the
 * first argument register and the value in the second, then traps back to
 * the kernel with the loaded value in the first result register. */
extern const char user_blob[], user_blob_end[];
#define UCODE_VA     ((vmar_addr_t)0x400000)
#define UCODE_STRIDE 16u

/* The device scenario's MMIO page and its access test (arch specific:
 * x86 the VGA text buffer, RISC-V the 16550 UART). */
extern const vmar_paddr_t arch_device_pa;
extern const enum vmar_cache arch_device_cache;
/* Exercise the device through user mapping `va`; NULL or a reason. */
const char *arch_device_test(vmar_addr_t va);

/* RAM reserved for the huge-page scenario: 2 MiB aligned, outside the
 * frame pool. */
extern const vmar_paddr_t arch_huge_pa;

/* ---- provided by common/ ---------------------------------------------- */

/* The env shared by every space: frame pool [pool_lo, pool_hi). */
extern const struct vmar_env k_env;
void k_env_init(vmar_paddr_t pool_lo, vmar_paddr_t pool_hi);
size_t k_frames_free(void);

/* The current space, for the fault handler. */
extern struct vmar_space *k_current;
/* Faults that vmar_fault resolved since boot. */
extern unsigned long k_faults_resolved;
/* env->tlb_flush calls since boot. */
extern unsigned long k_tlb_flushes;

/* A user page fault at `addr` (one vmar_access value): vmar_fault() on the
 * current space, counted. Returns 0 (retry the instruction) or the error
 * that ends the user run: vmar_fault's, or K_EFAULT_LOOP when the same
 * address faulted again after K_FAULT_RETRIES resolved faults (a leaf the
 * hardware refuses though libvmar thinks it allows the access, e.g. Svpbmt
 * bits on a hart without Svpbmt; retrying would never end).
 * arch_user_op sets k_fault_streak to 0 before entering user mode. */
#define K_EFAULT_LOOP   (-1000)
#define K_FAULT_RETRIES 4u
extern unsigned k_fault_streak;
int k_user_fault(vmar_addr_t addr, unsigned access);

/* Console output. */
void k_puts(const char *s);
void k_puthex(uint64_t v);
_Noreturn void k_panic(const char *msg);

/* Run every scenario, print ALL PASS or the failure count, exit. */
_Noreturn void k_run_scenarios(void);

/* The byte operations GCC may emit calls to (docs/PORTING.md section 1). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif /* VMAR_QEMU_KERNEL_H */
