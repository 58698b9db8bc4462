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
 * Several CPUs (QEMU -smp; docs/PORTING.md section 4, "SMP"): the boot
 * CPU starts the others (arch_smp_start) and drives every scenario; the
 * others wait for work (k_on_cpus). libvmar locks each space itself with
 * the spinning reader-writer lock of kenv.c ("libvmar locks", section 5),
 * so faults of every CPU run beside one CPU's layout changes, and
 * env->tlb_flush shoots the other CPUs down (arch_tlb_flush). No
 * preemption: a CPU runs one thing until it is done.
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

/* Make `space` the current one of the calling CPU: load CR3 / satp (with
 * the space's PCID / ASID). */
void arch_switch(struct vmar_space *space);

/* env->tlb_flush: invalidate [va, va+len) (len 0: everything) of the table
 * whose root value (CR3 / satp, PCID / ASID included) is `root` on every
 * CPU, and return when every CPU has done so: x86-64 sends an IPI to the
 * other CPUs and waits for each one's acknowledgement, RISC-V asks the SBI
 * for a remote fence (sbi_remote_sfence_vma_asid), which returns when the
 * other harts have fenced. Built with K_BROKEN_SHOOTDOWN, the calling CPU
 * only (the fault the SMP scenarios must catch). */
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
    /* Jump to `addr`: 0 when the instruction there was fetched (whatever
     * it then did: a zero page holds no valid one, and the trap it raises
     * at `addr` ends the run), else the fetch fault's error. */
    UOP_EXEC,
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

/* The boot command line (x86: Multiboot's; RISC-V: the whole DTB, which
 * holds /chosen/bootargs), as bytes to search. */
void arch_cmdline(const char **text, size_t *len);

/* ---- provided by common/ ---------------------------------------------- */

/* The decimal number after `key` (e.g. "stream.ops=") on the command
 * line, or `def`. */
uint64_t k_cmdline_num(const char *key, uint64_t def);

/* The env shared by every space: frame pool [pool_lo, pool_hi). */
extern const struct vmar_env k_env;
void k_env_init(vmar_paddr_t pool_lo, vmar_paddr_t pool_hi);
size_t k_frames_free(void);

/* ---- CPUs ----------------------------------------------------------- */

#define K_MAX_CPUS 8

/* Per-CPU state. The first fields are at fixed offsets for boot.S: x86-64
 * reaches the struct through GS (self at %gs:0), RISC-V through tp. */
struct k_cpu {
    struct k_cpu *self; /* 0 */
    uint64_t kctx_sp;   /* 8: x86 user_enter's parked kernel stack */
    uint64_t trap_top;  /* 16: RISC-V sscratch between traps; x86 TSS.RSP0 */
    uint64_t kctx[14];  /* 24: RISC-V user_enter's ra, sp, s0..s11 */
    uint64_t boot_sp;   /* 136: the stack an AP starts on */
    unsigned id;        /* 0 .. k_ncpus-1; 0 boots */
    unsigned hw_id;     /* APIC ID / hart id */
    struct vmar_space *current;
    vmar_addr_t fault_last; /* k_user_fault's loop detection */
    unsigned fault_streak;
    int user_fault;          /* the error that ended a user run */
    vmar_addr_t exec_target; /* UOP_EXEC's address during its run */
    void *arch;              /* the architecture's per-CPU part */
};

extern struct k_cpu k_cpus[K_MAX_CPUS];
extern unsigned k_ncpus;  /* CPUs started (set by arch_smp_start) */
extern unsigned k_online; /* CPUs that reached k_ap_main, boot CPU included */
/* The calling CPU's struct (GS base / tp). */
struct k_cpu *arch_this_cpu(void);
#define k_current      (arch_this_cpu()->current)
#define k_fault_streak (arch_this_cpu()->fault_streak)

/* Start every other CPU (x86-64: INIT-SIPI-SIPI through the local APIC,
 * RISC-V: SBI HSM hart_start); each runs arch_ap_init and then
 * k_ap_main. Returns when all of them checked in; sets k_ncpus. */
void arch_smp_start(void);
_Noreturn void k_ap_main(struct k_cpu *cpu);
/* Spin politely (pause); x86 takes pending IPIs here. */
void arch_relax(void);
/* Idle until *word is no longer `old` (halt until an interrupt: x86 hlt,
 * RISC-V wfi), and wake CPU `id` from it. So idle vCPUs leave the host's
 * cores to the busy ones. */
void arch_idle(const unsigned *word, unsigned old);
void arch_wake(unsigned id);

/* Run fn(arg) on every CPU in `mask` (bit i: CPU i), the caller's own
 * included when its bit is set, and return when all are done. */
void k_on_cpus(uint32_t mask, void (*fn)(void *), void *arg);
#define K_ALL_CPUS ((uint32_t)((1ull << k_ncpus) - 1))
/* A barrier for CPUs 0..n-1 (those of one k_on_cpus call); the early
 * ones halt until the last one wakes them. */
struct k_barrier {
    unsigned count, sense;
};
void k_barrier_wait(struct k_barrier *b, unsigned n);

/* A spinning reader-writer lock: the space lock of env->lock. */
struct k_rwlock {
    int state; /* readers, or -1 for the writer */
};

/* Faults that vmar_fault resolved since boot (every CPU). */
extern unsigned long k_faults_resolved;
/* env->tlb_flush calls since boot. */
extern unsigned long k_tlb_flushes;

/* The lock object and hardware tag of a space: arch_space_create and
 * arch_space_fork take a slot, arch_space_destroy gives it back. */
struct k_slot {
    struct vmar_space *space;
    struct k_rwlock lock;
    uint16_t tag; /* PCID / ASID, 0 without */
    bool used;
};
struct k_slot *k_slot_new(void);
struct k_slot *k_slot_of(struct vmar_space *space);
/* After vmar_space_create / vmar_fork with the slot's lock: on success the
 * slot names *out, else it is free again. Returns rc. */
int k_slot_commit(struct k_slot *slot, int rc, struct vmar_space **out);
void k_slot_free(struct k_slot *slot);
/* A fresh PCID / ASID for a new space (1..max, cycling). */
uint16_t k_tag_new(uint16_t max);

/* A user page fault at `addr` (one vmar_access value): vmar_fault() on the
 * current space, counted. Returns 0 (retry the instruction) or the error
 * that ends the user run: vmar_fault's, or K_EFAULT_LOOP when the same
 * address faulted again after K_FAULT_RETRIES resolved faults (a leaf the
 * hardware refuses though libvmar thinks it allows the access, e.g. Svpbmt
 * bits on a hart without Svpbmt; retrying would never end).
 * arch_user_op sets the CPU's k_fault_streak to 0 before entering user
 * mode. */
#define K_EFAULT_LOOP   (-1000)
#define K_FAULT_RETRIES 4u
int k_user_fault(vmar_addr_t addr, unsigned access);

/* Console output. */
void k_puts(const char *s);
void k_puthex(uint64_t v);
_Noreturn void k_panic(const char *msg);

/* Run every scenario, print ALL PASS or the failure count, exit. */
_Noreturn void k_run_scenarios(void);
/* The runner's helpers, for the scenarios of other files: a fresh space
 * with the user program (current on the calling CPU), and the report of
 * one scenario (why NULL: PASS). */
const char *space_new(struct vmar_space **out);
void k_report(const char *name, const char *why, uint64_t value);
/* The SMP scenarios (smp.c) and the random stream (stream.c), reported
 * through k_report. */
void k_smp_scenarios(void);
void k_stream_scenarios(void);

/* The byte operations GCC may emit calls to (docs/PORTING.md section 1). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif /* VMAR_QEMU_KERNEL_H */
