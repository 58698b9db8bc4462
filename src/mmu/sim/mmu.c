/* SPDX-License-Identifier: MIT */
/*
 * The vmar_mmu_sim backend: real radix tables in pool frames (the generic
 * walker over the sim format), plus counters for every operation the core
 * asks for. flush() counts and invalidates the simulated TLBs (cpu.c) of
 * every CPU running a space over this table.
 *
 * Thread safety: the core serialises the operations that change a table
 * (the exclusive space lock, or its page-table lock under the shared
 * one), but the simulated CPUs walk the table on their own, as hardware
 * does. Real hardware sees each entry written atomically; here a rwlock
 * per table gives the walker the same guarantee: changes write-lock it,
 * find_next read-locks it. unmap and protect also record the range they
 * change until its flush (sim.c, "unflushed ranges").
 */
/* pthread_rwlock_t under -std=c11. */
#define _GNU_SOURCE

#include <string.h>

#include <vmar/error.h>

#include "core/deps.h"
#include "radix.h"
#include "sim_impl.h"
#include "sim_pte.h"

/* One past the highest user address: the 48-bit lower half minus its top
 * page, as on x86-64 (so no user range ends at the non-canonical hole). */
#define VMAR_SIM_USER_TOP ((vmar_addr_t)0x7ffffffff000)

struct vmar_mmu {
    struct vmar_radix rx;
    struct vmar_sim *sim;
    pthread_rwlock_t lock; /* see above */
};

/* The table this thread holds for writing, if any. A flush may come from
 * inside unmap (an early batch flush), and a flush hook may walk the
 * table (test_sim's checking flush does): that walk runs under the write
 * lock already and must not wait for itself. */
static _Thread_local const struct vmar_mmu *wr_held;

static void wr_lock(struct vmar_mmu *mmu)
{
    int rc = pthread_rwlock_wrlock(&mmu->lock);

    if (rc != 0)
        vmar_sim__die("sim mmu: pthread_rwlock_wrlock: %s", strerror(rc));
    wr_held = mmu;
}

static void wr_unlock(struct vmar_mmu *mmu)
{
    int rc;

    wr_held = NULL;
    rc = pthread_rwlock_unlock(&mmu->lock);
    if (rc != 0)
        vmar_sim__die("sim mmu: pthread_rwlock_unlock: %s", strerror(rc));
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
        vmar_sim__die("sim mmu: pthread_rwlock_rdlock: %s", strerror(rc));
    return true;
}

static void rd_unlock(const struct vmar_mmu *mmu, bool locked)
{
    int rc;

    if (!locked)
        return;
    rc = pthread_rwlock_unlock((pthread_rwlock_t *)&mmu->lock);
    if (rc != 0)
        vmar_sim__die("sim mmu: pthread_rwlock_unlock: %s", strerror(rc));
}

/* Count one operation (a member of the machine's stats) and fold the
 * walker's own counts into the machine-wide live counters: call with the
 * counts from before the operation. Unsigned wrap-around makes the
 * arithmetic right in both directions. => mmu->lock held for writing
 * (rx.tables and rx.leaves are stable). */
static void sync_counts(struct vmar_mmu *mmu, size_t *op, size_t tables0,
                        size_t leaves0)
{
    struct vmar_sim_stats *st = &mmu->sim->stats;

    vmar_sim__lock(&mmu->sim->lock);
    if (op != NULL)
        (*op)++;
    st->tables_live = st->tables_live - tables0 + mmu->rx.tables;
    st->leaves_live = st->leaves_live - leaves0 + mmu->rx.leaves;
    vmar_sim__unlock(&mmu->sim->lock);
}

/* Count one operation that changes no live counter. */
static void count(struct vmar_sim *sim, size_t *op)
{
    vmar_sim__lock(&sim->lock);
    (*op)++;
    vmar_sim__unlock(&sim->lock);
}

/* Ranges reach the backend validated by the core: a range beyond
 * user_top is a core bug, hence an assertion. */
static void check_user(const struct vmar_mmu *mmu, vmar_addr_t va,
                       vmar_size_t len)
{
    VMAR_ASSERT(mmu->rx.env,
                va <= VMAR_SIM_USER_TOP && len <= VMAR_SIM_USER_TOP - va);
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
    if (vmar_radix_init(&mmu->rx, &vmar_sim_pt_format, env) != 0) {
        pthread_rwlock_destroy(&mmu->lock);
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    mmu->sim = sim;
    sync_counts(mmu, NULL, 0, 0);
    *out = mmu;
    return 0;
}

static void sim_mmu_destroy(struct vmar_mmu *mmu)
{
    const struct vmar_env *env = mmu->rx.env;
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;

    /* The contract: a destroyed table is active on no CPU. A CPU still
     * running it would translate through freed table pages. */
    if (vmar_sim__mmu_active(mmu->sim, mmu))
        vmar_sim__die("destroying a page table that a simulated CPU still "
                      "runs (vmar_sim_cpu_switch(cpu, NULL) first)");
    wr_lock(mmu);
    vmar_radix_fini(&mmu->rx);
    sync_counts(mmu, NULL, tables0, leaves0);
    wr_unlock(mmu);
    /* Records left by missed flushes must not match a later table that
     * reuses this address. */
    vmar_sim__unflushed_flushed(mmu->sim, mmu, 0, 0);
    pthread_rwlock_destroy(&mmu->lock);
    env->free(env->ctx, mmu, sizeof(*mmu));
}

static int sim_mmu_prepare(struct vmar_mmu *mmu, vmar_addr_t va,
                           vmar_size_t len, enum vmar_mmu_prep what,
                           struct vmar_frame_list *resv)
{
    int rc;

    count(mmu->sim, &mmu->sim->stats.prepares);
    check_user(mmu, va, len);
    wr_lock(mmu);
    rc = vmar_radix_prepare(&mmu->rx, va, len, what, resv);
    wr_unlock(mmu);
    return rc;
}

static void sim_mmu_map(struct vmar_mmu *mmu, vmar_addr_t va,
                        const struct vmar_pte *pte,
                        struct vmar_frame_list *resv)
{
    size_t tables0, leaves0;

    check_user(mmu, va, VMAR_PAGE_SIZE);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar_radix_map(&mmu->rx, va, 0, pte, resv);
    sync_counts(mmu, &mmu->sim->stats.maps, tables0, leaves0);
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
    vmar_radix_map_range(&mmu->rx, va, pte, len, flags, resv);
    sync_counts(mmu, &mmu->sim->stats.maps, tables0, leaves0);
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
    vmar_sim__unflushed_mark(mmu->sim, mmu, va, va + len);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    pages = vmar_radix_unmap(&mmu->rx, va, len, resv, batch);
    sync_counts(mmu, &mmu->sim->stats.unmaps, tables0, leaves0);
    wr_unlock(mmu);
    vmar_sim__unflushed_settle(mmu->sim, mmu, va, va + len, batch);
    return pages;
}

static void sim_mmu_protect(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, unsigned prot,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0, leaves0;

    check_user(mmu, va, len);
    vmar_sim__unflushed_mark(mmu->sim, mmu, va, va + len); /* as unmap */
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar_radix_protect(&mmu->rx, va, len, prot, resv, batch);
    /* a split adds a table */
    sync_counts(mmu, &mmu->sim->stats.protects, tables0, leaves0);
    wr_unlock(mmu);
    vmar_sim__unflushed_settle(mmu->sim, mmu, va, va + len, batch);
}

static int sim_mmu_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                             vmar_addr_t end, struct vmar_pte *pte)
{
    int rc;

    bool locked;

    count(mmu->sim, &mmu->sim->stats.finds);
    locked = rd_lock(mmu);
    rc = vmar_radix_find_next(&mmu->rx, va, end, pte);
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
    need = vmar_radix_copy(&dst->rx, &src->rx, va, end, flags, resv, take, arg);
    sync_counts(dst, &dst->sim->stats.maps, tables0, leaves0);
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
    vmar_radix_move(&mmu->rx, va, len, to, resv, moved, arg);
    sync_counts(mmu, &mmu->sim->stats.maps, tables0, leaves0);
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
    vmar_sim__unflushed_mark(mmu->sim, mmu, va, va + VMAR_PAGE_SIZE);
    wr_lock(mmu);
    tables0 = mmu->rx.tables;
    leaves0 = mmu->rx.leaves;
    vmar_radix_replace(&mmu->rx, va, pte, batch);
    sync_counts(mmu, &mmu->sim->stats.maps, tables0, leaves0);
    wr_unlock(mmu);
    vmar_sim__unflushed_settle(mmu->sim, mmu, va, va + VMAR_PAGE_SIZE, batch);
}

static void sim_mmu_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    count(mmu->sim, &mmu->sim->stats.flushes);
    /* The CPUs first, the records after: until every CPU has dropped the
     * entries, a hit on them is still a legal race. */
    vmar_sim__tlb_flush_mmu(mmu->sim, mmu, va, len);
    vmar_sim__unflushed_flushed(mmu->sim, mmu, va, len);
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
