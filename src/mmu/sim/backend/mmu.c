/* SPDX-License-Identifier: MIT */
/*
 * The vmar_mmu_sim backend: real radix tables in the frames of a
 * simulated machine (the generic walker over the sim format). It reports
 * to the machine through the public functions of vmar/sim.h: every
 * operation the core asks for is counted (vmar_sim_count), every change
 * of translations is recorded until its flush (vmar_sim_change_begin and
 * _end), and flush() reaches the simulated CPUs (vmar_sim_tlb_flush).
 * The machine knows the table by its activation value, the root's
 * physical address. Hosted: the backend uses libc and pthreads, and sees
 * only public headers and the walker's radix.h.
 *
 * Thread safety: the core serialises the operations that change a table
 * (the exclusive space lock, or its page-table lock under the shared
 * one), but the simulated CPUs walk the table on their own, as hardware
 * does. Real hardware sees each entry written atomically; here a rwlock
 * per table gives the walker the same guarantee: changes write-lock it,
 * find_next read-locks it. It comes first in the machine's lock order
 * (src/mmu/sim/machine/machine.h).
 */
/* pthread_rwlock_t under -std=c11. */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/sim.h>

#include "radix.h"
#include "sim_pte.h"

/* One past the highest user address: the 48-bit lower half minus its top
 * page, as on x86-64 (so no user range ends at the non-canonical hole). */
#define VMAR_SIM_USER_TOP ((vmar_addr_t)0x7ffffffff000)

struct vmar_mmu {
    struct vmar__radix rx;
    struct vmar_sim *sim;
    pthread_rwlock_t lock; /* see above */
};

/* A broken pthread object must stop a test loudly: env->panic (the
 * machine's prints "vmar sim: panic: ..." and aborts). Cold, so that the
 * lock wrappers stay small enough to inline. */
_Noreturn __attribute__((cold)) static void fail(const struct vmar_mmu *mmu,
                                                 const char *what, int rc)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "sim mmu: %s: %s", what, strerror(rc));
    mmu->rx.env->panic(mmu->rx.env->ctx, msg);
    abort(); /* env->panic does not return */
}

/* The name the machine and its CPUs know the table by (activation). */
static uint64_t table_of(const struct vmar_mmu *mmu)
{
    return mmu->rx.root;
}

/* The table this thread holds for writing, if any. A flush may come from
 * inside unmap (an early batch flush), and a flush hook may walk the
 * table (test_sim's checking flush does): that walk runs under the write
 * lock already and must not wait for itself. */
static _Thread_local const struct vmar_mmu *wr_held;

static void wr_lock(struct vmar_mmu *mmu)
{
    int rc = pthread_rwlock_wrlock(&mmu->lock);

    if (rc != 0)
        fail(mmu, "pthread_rwlock_wrlock", rc);
    wr_held = mmu;
}

static void wr_unlock(struct vmar_mmu *mmu)
{
    int rc;

    wr_held = NULL;
    rc = pthread_rwlock_unlock(&mmu->lock);
    if (rc != 0)
        fail(mmu, "pthread_rwlock_unlock", rc);
}

/* Returns whether it took the lock (not when this thread writes it). */
static bool rd_lock(const struct vmar_mmu *mmu)
{
    int rc;

    if (wr_held == mmu)
        return false;
    /* Locking changes no state of the table: const callers may. */
    rc = pthread_rwlock_rdlock((pthread_rwlock_t *)&mmu->lock);
    if (rc != 0)
        fail(mmu, "pthread_rwlock_rdlock", rc);
    return true;
}

static void rd_unlock(const struct vmar_mmu *mmu, bool locked)
{
    int rc;

    if (!locked)
        return;
    rc = pthread_rwlock_unlock((pthread_rwlock_t *)&mmu->lock);
    if (rc != 0)
        fail(mmu, "pthread_rwlock_unlock", rc);
}

/* Count one operation and fold the walker's own counts into the
 * machine's live counters: call with the counts from before the
 * operation. => mmu->lock held for writing (rx.tables and rx.leaves are
 * stable). */
static void sync_counts(struct vmar_mmu *mmu, enum vmar_sim_op op,
                        size_t tables0, size_t leaves0)
{
    vmar_sim_count(mmu->sim, op, (ptrdiff_t)(mmu->rx.tables - tables0),
                   (ptrdiff_t)(mmu->rx.leaves - leaves0));
}

/* The change of [lo, hi) is made: what `batch` (may be NULL) still has to
 * flush stays recorded. */
static void change_end(struct vmar_mmu *mmu, vmar_addr_t lo, vmar_addr_t hi,
                       const struct vmar_tlb_batch *batch)
{
    vmar_sim_change_end(mmu->sim, table_of(mmu), lo, hi,
                        batch != NULL ? batch->lo : 0,
                        batch != NULL ? batch->hi : 0);
}

/* Ranges reach the backend validated by the core: a range beyond
 * user_top is a core bug, hence an assertion (env->panic, as the core's
 * own). */
static void check_user(const struct vmar_mmu *mmu, vmar_addr_t va,
                       vmar_size_t len)
{
    const struct vmar_env *env = mmu->rx.env;

    if (va > VMAR_SIM_USER_TOP || len > VMAR_SIM_USER_TOP - va)
        env->panic(env->ctx, "sim mmu: range beyond user_top");
}

/* Writer-preferring: every TLB hit walks (the stale-entry check), so with
 * glibc's default reader preference the CPUs would starve a change. */
static int rwlock_init(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    int rc;

    if (pthread_rwlockattr_init(&attr) != 0)
        return VMAR_ENOMEM;
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc != 0 ? VMAR_ENOMEM : 0;
}

static int sim_mmu_create(const struct vmar_env *env, const void *config,
                          struct vmar_mmu **out)
{
    struct vmar_sim *sim = (struct vmar_sim *)config;
    struct vmar_mmu *mmu;

    /* The tables live in this machine's pool, so the space must allocate
     * through this machine's env. */
    if (sim == NULL || env == NULL || out == NULL ||
        env->ctx != vmar_sim_env(sim)->ctx ||
        env->frame_alloc != vmar_sim_env(sim)->frame_alloc ||
        env->phys_to_virt != vmar_sim_env(sim)->phys_to_virt)
        return VMAR_EINVAL;
    mmu = env->alloc(env->ctx, sizeof(*mmu), _Alignof(struct vmar_mmu));
    if (mmu == NULL)
        return VMAR_ENOMEM;
    if (rwlock_init(&mmu->lock) != 0) {
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    if (vmar__radix_init(&mmu->rx, &vmar__sim_pt_format, env) != 0) {
        pthread_rwlock_destroy(&mmu->lock);
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    mmu->sim = sim;
    sync_counts(mmu, VMAR_SIM_OP_NONE, 0, 0);
    *out = mmu;
    return 0;
}

static void sim_mmu_destroy(struct vmar_mmu *mmu)
{
    const struct vmar_env *env = mmu->rx.env;
    const uint64_t table = table_of(mmu);
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;

    /* The contract: a destroyed table is active on no CPU. A CPU still
     * running it would translate through freed table pages. */
    if (vmar_sim_table_running(mmu->sim, table))
        env->panic(env->ctx, "sim mmu: destroying a page table that a "
                             "simulated CPU still runs "
                             "(vmar_sim_cpu_switch(cpu, NULL) first)");
    wr_lock(mmu);
    vmar__radix_fini(&mmu->rx);
    sync_counts(mmu, VMAR_SIM_OP_NONE, tables0, leaves0);
    wr_unlock(mmu);
    /* Records left by missed flushes must not match a later table that
     * reuses this root (no CPU runs this one: nothing else happens). */
    vmar_sim_tlb_flush(mmu->sim, table, 0, 0);
    pthread_rwlock_destroy(&mmu->lock);
    env->free(env->ctx, mmu, sizeof(*mmu));
}

static int sim_mmu_prepare(struct vmar_mmu *mmu, vmar_addr_t va,
                           vmar_size_t len, enum vmar_mmu_prep what,
                           struct vmar_frame_list *resv)
{
    int rc;

    vmar_sim_count(mmu->sim, VMAR_SIM_OP_PREPARE, 0, 0);
    check_user(mmu, va, len);
    wr_lock(mmu);
    rc = vmar__radix_prepare(&mmu->rx, va, len, what, resv);
    wr_unlock(mmu);
    return rc;
}

/* The walker does not count the leaf: the pages map took from `resv` are
 * the tables it linked, and the leaf is one. */
static void sim_mmu_map(struct vmar_mmu *mmu, vmar_addr_t va,
                        const struct vmar_pte *pte,
                        struct vmar_frame_list *resv)
{
    const size_t spare = resv->count;

    check_user(mmu, va, VMAR_PAGE_SIZE);
    wr_lock(mmu);
    vmar__radix_map(&mmu->rx, va, 0, pte, resv);
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_MAP, (ptrdiff_t)(spare - resv->count),
                   1);
    wr_unlock(mmu);
}

/* Counted in stats.maps as one call (map counts one per page). */
static void sim_mmu_map_range(struct vmar_mmu *mmu, vmar_addr_t va,
                              const struct vmar_pte *pte, vmar_size_t len,
                              unsigned flags, struct vmar_frame_list *resv)
{
    size_t tables0, leaves0;

    check_user(mmu, va, len);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar__radix_map_range(&mmu->rx, va, pte, len, flags, resv);
    sync_counts(mmu, VMAR_SIM_OP_MAP, tables0, leaves0);
    wr_unlock(mmu);
}

static size_t sim_mmu_unmap(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0, leaves0;
    size_t pages;

    check_user(mmu, va, len);
    /* Recorded before the change, settled to what the batch still has to
     * flush after it; an early flush inside the walker (a full batch)
     * clears its part in between. */
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    pages = vmar__radix_unmap(&mmu->rx, va, len, resv, batch);
    sync_counts(mmu, VMAR_SIM_OP_UNMAP, tables0, leaves0);
    wr_unlock(mmu);
    change_end(mmu, va, va + len, batch);
    return pages;
}

static void sim_mmu_protect(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, unsigned prot,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0, leaves0;

    check_user(mmu, va, len);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len); /* as unmap */
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar__radix_protect(&mmu->rx, va, len, prot, resv, batch);
    /* a split adds a table */
    sync_counts(mmu, VMAR_SIM_OP_PROTECT, tables0, leaves0);
    wr_unlock(mmu);
    change_end(mmu, va, va + len, batch);
}

static int sim_mmu_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                             vmar_addr_t end, struct vmar_pte *pte)
{
    int rc;

    bool locked;

    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FIND, 0, 0);
    locked = rd_lock(mmu);
    rc = vmar__radix_find_next(&mmu->rx, va, end, pte);
    rd_unlock(mmu, locked);
    return rc;
}

/* Counted in stats.maps as one call, like map_range. Empty slots only,
 * so nothing is left unflushed. */
static size_t sim_mmu_copy(struct vmar_mmu *dst, const struct vmar_mmu *src,
                           vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                           struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                           void *arg)
{
    size_t tables0, leaves0, need;
    bool locked;

    check_user(dst, *va, end - *va);
    wr_lock(dst);
    locked = rd_lock(src);
    tables0 = dst->rx.tables;
    leaves0 = dst->rx.leaves;
    need =
        vmar__radix_copy(&dst->rx, &src->rx, va, end, flags, resv, take, arg);
    sync_counts(dst, VMAR_SIM_OP_MAP, tables0, leaves0);
    rd_unlock(src, locked);
    wr_unlock(dst);
    return need;
}

/* Counted in stats.maps as one call, like copy. Empty slots only, so
 * nothing is left unflushed. */
static void sim_mmu_move(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                         vmar_addr_t to, struct vmar_frame_list *resv,
                         vmar_mmu_take_fn *moved, void *arg)
{
    size_t tables0, leaves0;

    check_user(mmu, va, len);
    check_user(mmu, to, len);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar__radix_move(&mmu->rx, va, len, to, resv, moved, arg);
    sync_counts(mmu, VMAR_SIM_OP_MAP, tables0, leaves0);
    wr_unlock(mmu);
}

/* Counted in stats.maps (one page installed). The page is recorded as
 * unflushed from before the change; the flush inside clears it. */
static void sim_mmu_replace(struct vmar_mmu *mmu, vmar_addr_t va,
                            const struct vmar_pte *pte,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0, leaves0;

    check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + VMAR_PAGE_SIZE);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar__radix_replace(&mmu->rx, va, pte, batch);
    sync_counts(mmu, VMAR_SIM_OP_MAP, tables0, leaves0);
    wr_unlock(mmu);
    change_end(mmu, va, va + VMAR_PAGE_SIZE, batch);
}

static void sim_mmu_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FLUSH, 0, 0);
    vmar_sim_tlb_flush(mmu->sim, table_of(mmu), va, len);
}

/* No translation register to load: the value is the root's address. */
static void sim_mmu_activation(const struct vmar_mmu *mmu,
                               struct vmar_mmu_activation *out)
{
    out->root = mmu->rx.root;
    out->value = mmu->rx.root;
}

const struct vmar_mmu_ops vmar_mmu_sim = {
    .abi = VMAR_MMU_ABI,
    .name = "sim",
    .caps = VMAR_MMU_CAP_NX | VMAR_MMU_CAP_HUGE_2M | VMAR_MMU_CAP_HUGE_1G,
    .user_top = VMAR_SIM_USER_TOP,
    .create = sim_mmu_create,
    .destroy = sim_mmu_destroy,
    .prepare = sim_mmu_prepare,
    .map = sim_mmu_map,
    .unmap = sim_mmu_unmap,
    .protect = sim_mmu_protect,
    .find_next = sim_mmu_find_next,
    .flush = sim_mmu_flush,
    .map_range = sim_mmu_map_range,
    .copy = sim_mmu_copy,
    .move = sim_mmu_move,
    .replace = sim_mmu_replace,
    .pa_top = VMAR_SIM_PA_LIMIT,
    /* The PTE keeps the enum itself (sim_pte.h). */
    .cache_as = {VMAR_CACHE_WB, VMAR_CACHE_WT, VMAR_CACHE_WC, VMAR_CACHE_UC},
    .activation = sim_mmu_activation,
};
