/* SPDX-License-Identifier: MIT */
/*
 * Private to src/mmu/sim/: the machine behind the opaque struct vmar_sim
 * and the seams between its files (sim.c: lifetime, counters and failure
 * injection; pool.c: physical frames; env.c: the vmar_env callbacks;
 * pte.c: the PTE format; mmu.c: the vmar_mmu_sim backend; cpu.c and
 * cpu_hw.c: the simulated CPUs and their TLBs).
 *
 * Hosted code: uses libc. Not thread safe (one machine, one thread).
 */
#ifndef VMAR_MMU_SIM_IMPL_H
#define VMAR_MMU_SIM_IMPL_H

#include <vmar/sim.h>

/* Per-frame state in vmar_sim::frame_state. */
enum {
    VMAR_SIM_FRAME_FREE = 0,
    VMAR_SIM_FRAME_LIVE = 1,
};

/* Poison bytes: freed frames (and frames never allocated) and freed
 * metadata blocks, so stale reads show up as recognisable garbage. */
#define VMAR_SIM_FRAME_POISON 0x5a
#define VMAR_SIM_ALLOC_POISON 0x6b

struct vmar_sim {
    struct vmar_env env; /* ctx == this machine */
    struct vmar_sim_stats stats;
    bool verbose;
    uint64_t rng;          /* splitmix64 state for env->random */
    unsigned char *blocks; /* live metadata blocks (env.c), by base */

    /* The physical pool: frame i is at phys_base + i * VMAR_PAGE_SIZE and
     * its bytes at mem + i * VMAR_PAGE_SIZE. */
    unsigned char *mem;
    size_t nframes;
    vmar_paddr_t phys_base;
    unsigned char *frame_state; /* VMAR_SIM_FRAME_* per frame */
    size_t *refcount;           /* env->frame_refcount words, per frame */
    size_t *free_stack;         /* indices of free frames; top = next out */
    size_t nfree;

    /* Simulated CPUs (cpu.c), newest first. */
    struct vmar_sim_cpu *cpus;
    unsigned cpu_ids;  /* ids handed out, for reports */
    size_t violations; /* stale TLB hits, CPUs destroyed since included */

    /* vmar_sim_fail_after() state. */
    struct {
        unsigned mask;    /* VMAR_SIM_FAIL_* kinds that count; 0: off */
        size_t countdown; /* matching allocations until the first failure */
        bool persistent;  /* keep failing after the first failure */
        bool tripped;     /* persistent and already failing */
    } fail;
};

/* Print "vmar sim: <message>" on stderr and abort. For broken contracts
 * (double free, foreign address) that must stop a test loudly. */
_Noreturn void vmar_sim__die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Decide whether this allocation of `kind` (VMAR_SIM_FAIL_ALLOC or
 * VMAR_SIM_FAIL_FRAME) fails on purpose; counts it when it does. */
bool vmar_sim__inject(struct vmar_sim *sim, unsigned kind);

/* pool.c. init returns 0 or VMAR_ENOMEM; fini frees the pool. */
int vmar_sim__pool_init(struct vmar_sim *sim, size_t nframes,
                        vmar_paddr_t phys_base);
void vmar_sim__pool_fini(struct vmar_sim *sim);
int vmar_sim__frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa);
void vmar_sim__frame_free(void *ctx, vmar_paddr_t pa);
void *vmar_sim__phys_to_virt(void *ctx, vmar_paddr_t pa);
size_t *vmar_sim__frame_refcount(void *ctx, vmar_paddr_t pa);

/* env.c: fill sim->env (frame callbacks from pool.c). */
void vmar_sim__env_init(struct vmar_sim *sim, bool with_random, uint64_t seed,
                        bool with_refcount);

/* cpu.c. fini frees the CPUs a test left behind. mmu_active: whether a
 * CPU runs a space over `mmu` (the table must not be destroyed then).
 * The flushes invalidate [va, va+len) (len 0: everything) on every CPU
 * whose current space uses that table: by table (the sim backend) or by
 * hardware root value (env->tlb_flush of the hardware-format backends). */
void vmar_sim__cpus_fini(struct vmar_sim *sim);
bool vmar_sim__mmu_active(const struct vmar_sim *sim,
                          const struct vmar_mmu *mmu);
void vmar_sim__tlb_flush_mmu(struct vmar_sim *sim, const struct vmar_mmu *mmu,
                             vmar_addr_t va, vmar_size_t len);
void vmar_sim__tlb_flush_root(struct vmar_sim *sim, uint64_t root,
                              vmar_addr_t va, vmar_size_t len);

/* cpu_hw.c: the CR3 / satp value of a hardware-format backend's table
 * (struct vmar_mmu of src/mmu/hwpt.h). Only for x86_64-* and riscv64-*
 * backends; false when there is none. */
bool vmar_sim__hw_root(const struct vmar_mmu *mmu, uint64_t *root);

#endif /* VMAR_MMU_SIM_IMPL_H */
