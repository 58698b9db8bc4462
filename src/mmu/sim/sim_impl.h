/* SPDX-License-Identifier: MIT */
/*
 * Private to src/mmu/sim/: the machine behind the opaque struct vmar_sim
 * and the seams between its files (sim.c: lifetime, counters and failure
 * injection; pool.c: physical frames; env.c: the vmar_env callbacks;
 * pte.c: the PTE format; mmu.c: the vmar_mmu_sim backend; cpu.c: the
 * simulated CPUs and their TLBs).
 *
 * Hosted code: uses libc and pthreads. Thread safe: a kernel runs many
 * threads in one address space, so the machine must take concurrent
 * faults, accesses and layout changes (issue 6).
 *
 * Locks, in the order they nest (a thread holding one may take only those
 * below it):
 *   1. vmar_mmu::lock (mmu.c), a rwlock per sim page table: the table
 *      operations write-lock it, find_next (the core's and the simulated
 *      CPUs' walks) read-locks it, so a walk never sees a half-written
 *      entry. The core serialises the writers already; this lock is for
 *      the simulated hardware walker, which the core does not know about.
 *      A flush may come from inside unmap (an early batch flush), so a
 *      flush takes no table lock.
 *   2. vmar_sim::cpus_lock: the CPU list.
 *   3. vmar_sim_cpu::lock (cpu.c): one CPU's TLB, space and counters. An
 *      access holds it from its translation to its copy, so a flush (which
 *      takes it) waits for accesses in flight, like a shootdown IPI. It is
 *      never held across a walk: a walk made without it is validated
 *      afterwards (see cpu.c), which keeps order 1 -> 3.
 *   4. vmar_sim::lock: everything else of the machine (counters, metadata
 *      allocator, frame pool, failure injection, random source, violation
 *      count, unflushed ranges). A leaf: nothing is taken under it, and
 *      no callback runs under it.
 */
#ifndef VMAR_MMU_SIM_IMPL_H
#define VMAR_MMU_SIM_IMPL_H

#include <pthread.h>

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

/* A range of a sim page table whose translations changed (unmap or
 * protect) and whose flush has not been done yet, by thread `owner`. A
 * stale TLB hit there on another thread races with that operation and is
 * legal; see cpu.c. */
struct vmar_sim_unflushed {
    const struct vmar_mmu *mmu;
    vmar_addr_t lo, hi;
    pthread_t owner;
};

struct vmar_sim {
    struct vmar_env env;        /* ctx == this machine */
    struct vmar_env env_locked; /* env plus the lock hooks (env.c) */
    pthread_mutex_t lock;       /* see the lock order above */
    pthread_mutex_t cpus_lock;
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

    /* Simulated CPUs (cpu.c), newest first; under cpus_lock. */
    struct vmar_sim_cpu *cpus;
    unsigned cpu_ids;  /* ids handed out, for reports; under lock */
    size_t violations; /* stale TLB hits, CPUs destroyed since included */

    /* Unflushed ranges (under lock), recorded once a CPU exists (before,
     * no TLB can hold anything). */
    bool track_unflushed;
    struct vmar_sim_unflushed *unflushed;
    size_t nunflushed, unflushed_cap;

    /* vmar_sim_set_frame_hook(); under lock, called outside it. */
    vmar_sim_frame_hook frame_hook;
    void *frame_hook_arg;

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
 * VMAR_SIM_FAIL_FRAME) fails on purpose; counts it when it does.
 * => sim->lock held. */
bool vmar_sim__inject(struct vmar_sim *sim, unsigned kind);

/* pool.c. init returns 0 or VMAR_ENOMEM; fini frees the pool. */
int vmar_sim__pool_init(struct vmar_sim *sim, size_t nframes,
                        vmar_paddr_t phys_base, bool huge_pages);
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

/* Unflushed ranges (sim.c), each taking sim->lock. mark: before an unmap
 * or protect of [lo, hi) on `mmu` by this thread. settle: after it, the
 * thread's marks inside [lo, hi) become what `batch` still has to flush
 * (batch may be NULL: nothing). flushed: a flush of [va, va+len) (len 0:
 * all) of `mmu` completed on every CPU. excused: whether a stale hit on
 * `page` races with another thread's unflushed change. missed: at the end
 * of a locked call, the calling thread's leftovers are missed flushes:
 * reported, counted as violations, dropped. */
struct vmar_tlb_batch;
void vmar_sim__unflushed_mark(struct vmar_sim *sim, const struct vmar_mmu *mmu,
                              vmar_addr_t lo, vmar_addr_t hi);
void vmar_sim__unflushed_settle(struct vmar_sim *sim,
                                const struct vmar_mmu *mmu, vmar_addr_t lo,
                                vmar_addr_t hi,
                                const struct vmar_tlb_batch *batch);
void vmar_sim__unflushed_flushed(struct vmar_sim *sim,
                                 const struct vmar_mmu *mmu, vmar_addr_t va,
                                 vmar_size_t len);
bool vmar_sim__unflushed_excused(struct vmar_sim *sim,
                                 const struct vmar_mmu *mmu, vmar_addr_t page);
void vmar_sim__unflushed_missed(struct vmar_sim *sim);

/* Lock and unlock that abort on error (a broken mutex is a test bug). */
void vmar_sim__lock(pthread_mutex_t *m);
void vmar_sim__unlock(pthread_mutex_t *m);

#endif /* VMAR_MMU_SIM_IMPL_H */
