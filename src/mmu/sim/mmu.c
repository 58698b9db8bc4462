/* SPDX-License-Identifier: MIT */
/*
 * The vmar_mmu_sim backend: real radix tables in pool frames (the generic
 * walker over the sim format), plus counters for every operation the core
 * asks for. flush() counts and invalidates the simulated TLBs (cpu.c) of
 * every CPU running a space over this table.
 */
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
};

/* Fold the walker's own counts into the machine-wide live counters:
 * call with the counts from before the operation. Unsigned wrap-around
 * makes the arithmetic right in both directions. */
static void sync_counts(struct vmar_mmu *mmu, size_t tables0, size_t leaves0)
{
    struct vmar_sim_stats *st = &mmu->sim->stats;

    st->tables_live = st->tables_live - tables0 + mmu->rx.tables;
    st->leaves_live = st->leaves_live - leaves0 + mmu->rx.leaves;
}

/* Ranges reach the backend validated by the core: a range beyond
 * user_top is a core bug, hence an assertion. */
static void check_user(const struct vmar_mmu *mmu, vmar_addr_t va,
                       vmar_size_t len)
{
    VMAR_ASSERT(mmu->rx.env,
                va <= VMAR_SIM_USER_TOP && len <= VMAR_SIM_USER_TOP - va);
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
    if (vmar_radix_init(&mmu->rx, &vmar_sim_pt_format, env) != 0) {
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    mmu->sim = sim;
    sync_counts(mmu, 0, 0);
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
    vmar_radix_fini(&mmu->rx);
    sync_counts(mmu, tables0, leaves0);
    env->free(env->ctx, mmu, sizeof(*mmu));
}

static int sim_mmu_prepare(struct vmar_mmu *mmu, vmar_addr_t va,
                           vmar_size_t len, enum vmar_mmu_prep what,
                           struct vmar_frame_list *resv)
{
    mmu->sim->stats.prepares++;
    check_user(mmu, va, len);
    return vmar_radix_prepare(&mmu->rx, va, len, what, resv);
}

static void sim_mmu_map(struct vmar_mmu *mmu, vmar_addr_t va,
                        const struct vmar_pte *pte,
                        struct vmar_frame_list *resv)
{
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;

    mmu->sim->stats.maps++;
    check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar_radix_map(&mmu->rx, va, 0, pte, resv);
    sync_counts(mmu, tables0, leaves0);
}

/* Counted in stats.maps as one call (map counts one per page). */
static void sim_mmu_map_range(struct vmar_mmu *mmu, vmar_addr_t va,
                              const struct vmar_pte *pte, vmar_size_t len,
                              unsigned flags, struct vmar_frame_list *resv)
{
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;

    mmu->sim->stats.maps++;
    check_user(mmu, va, len);
    vmar_radix_map_range(&mmu->rx, va, pte, len, flags, resv);
    sync_counts(mmu, tables0, leaves0);
}

static size_t sim_mmu_unmap(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;
    size_t pages;

    mmu->sim->stats.unmaps++;
    check_user(mmu, va, len);
    pages = vmar_radix_unmap(&mmu->rx, va, len, resv, batch);
    sync_counts(mmu, tables0, leaves0);
    return pages;
}

static void sim_mmu_protect(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, unsigned prot,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    size_t tables0 = mmu->rx.tables, leaves0 = mmu->rx.leaves;

    mmu->sim->stats.protects++;
    check_user(mmu, va, len);
    vmar_radix_protect(&mmu->rx, va, len, prot, resv, batch);
    sync_counts(mmu, tables0, leaves0); /* a split adds a table */
}

static int sim_mmu_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                             vmar_addr_t end, struct vmar_pte *pte)
{
    mmu->sim->stats.finds++;
    return vmar_radix_find_next(&mmu->rx, va, end, pte);
}

static void sim_mmu_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    mmu->sim->stats.flushes++;
    vmar_sim__tlb_flush_mmu(mmu->sim, mmu, va, len);
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
};
