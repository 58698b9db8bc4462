/* SPDX-License-Identifier: MIT */
/*
 * The vmar_mmu_sim backend: real radix tables in the frames of a
 * simulated machine (the generic walker over the sim format). It reports
 * to the machine through the public functions of vmar/sim.h: every
 * operation the core asks for is counted (vmar_sim_count), every change
 * of translations is recorded until its flush (vmar_sim_change_begin and
 * _end), and flush() reaches the simulated CPUs (vmar_sim_tlb_flush).
 * The machine knows the table by its activation value, the root's
 * physical address. Hosted code that sees only public headers and the
 * walker's radix.h.
 *
 * Thread safety: the core calls as vmar/mmu.h says. Under its shared
 * space lock it runs find_next, prepare, map, protect, replace and flush
 * at once on different 2 MiB leaf blocks (VMAR_MMU_CAP_SPLIT_PT), the
 * other calls alone; and the simulated CPUs walk the table at any time,
 * as hardware does (vmar_space_translate() takes no lock). None of it
 * needs a lock here:
 *  - the walker reads and writes every entry as one atomic word, with
 *    release and acquire where a word publishes a table or a frame, and
 *    links a missing table with a compare-and-swap (src/mmu/radix.c,
 *    "Concurrency"), so a CPU's walk sees each word whole;
 *  - a CPU walks under its own mutex, which a flush takes (cpu.c), so
 *    once the flush before a table page's free has run, no walk is left
 *    in that page: the pool may poison and hand it out again;
 *  - the counts reach the machine as each call's own change: what map
 *    and protect return (the walker's counters are shared by the calls
 *    running beside them), and for a call that runs alone how the
 *    walker's counters moved across it.
 * The stale-TLB detector's records (vmar_sim_change_begin and _end) are
 * per thread, and a flush by one thread leaves alone the changes other
 * threads have under way (machine/unflushed.c).
 */
#include <stddef.h>

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
};

/* The name the machine and its CPUs know the table by (activation). */
static uint64_t table_of(const struct vmar_mmu *mmu)
{
    return mmu->rx.root;
}

/* The walker's counters before a call that runs alone (anything but
 * find_next, prepare, map, protect, replace and flush). */
struct counts {
    size_t tables, leaves;
};

static struct counts counts_of(const struct vmar_mmu *mmu)
{
    return (struct counts){
        __atomic_load_n(&mmu->rx.tables, __ATOMIC_RELAXED),
        __atomic_load_n(&mmu->rx.leaves, __ATOMIC_RELAXED),
    };
}

/* Count one operation that ran alone and fold how it moved the walker's
 * counters into the machine's live counters. */
static void count_since(struct vmar_mmu *mmu, enum vmar_sim_op op,
                        struct counts before)
{
    struct counts now = counts_of(mmu);

    vmar_sim_count(mmu->sim, op, (ptrdiff_t)(now.tables - before.tables),
                   (ptrdiff_t)(now.leaves - before.leaves));
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
    if (vmar__radix_init(&mmu->rx, &vmar__sim_pt_format, env) != 0) {
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    mmu->sim = sim;
    count_since(mmu, VMAR_SIM_OP_NONE, (struct counts){0, 0});
    *out = mmu;
    return 0;
}

static void sim_mmu_destroy(struct vmar_mmu *mmu)
{
    const struct vmar_env *env = mmu->rx.env;
    const uint64_t table = table_of(mmu);
    const struct counts before = counts_of(mmu);

    /* The contract: a destroyed table is active on no CPU. A CPU still
     * running it would translate through freed table pages. */
    if (vmar_sim_table_running(mmu->sim, table))
        env->panic(env->ctx, "sim mmu: destroying a page table that a "
                             "simulated CPU still runs "
                             "(vmar_sim_cpu_switch(cpu, NULL) first)");
    vmar__radix_fini(&mmu->rx);
    count_since(mmu, VMAR_SIM_OP_NONE, before);
    /* Records left by missed flushes must not match a later table that
     * reuses this root (no CPU runs this one: nothing else happens). */
    vmar_sim_tlb_flush(mmu->sim, table, 0, 0);
    env->free(env->ctx, mmu, sizeof(*mmu));
}

static int sim_mmu_prepare(struct vmar_mmu *mmu, vmar_addr_t va,
                           vmar_size_t len, enum vmar_mmu_prep what,
                           struct vmar_frame_list *resv)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_PREPARE, 0, 0);
    check_user(mmu, va, len);
    return vmar__radix_prepare(&mmu->rx, va, len, what, resv);
}

/* The pages of `resv` (NULL: none); what a call took from it is the
 * tables it linked. */
static size_t spare_of(const struct vmar_frame_list *resv)
{
    return resv != NULL ? resv->count : 0;
}

/* The walker counts neither the leaf nor, shared as its counter is, the
 * tables for this call alone. A map whose tables are all there may get
 * no reservation: the walker then never looks at it. */
static void sim_mmu_map(struct vmar_mmu *mmu, vmar_addr_t va,
                        const struct vmar_pte *pte,
                        struct vmar_frame_list *resv)
{
    const size_t spare = spare_of(resv);

    check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar__radix_map(&mmu->rx, va, 0, pte, resv);
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_MAP,
                   (ptrdiff_t)(spare - spare_of(resv)), 1);
}

/* Counted as map when it installs, as find_next when it finds a leaf. */
static int sim_mmu_map_empty(struct vmar_mmu *mmu, vmar_addr_t va,
                             const struct vmar_pte *pte,
                             struct vmar_frame_list *resv,
                             struct vmar_pte *found)
{
    const size_t spare = spare_of(resv);
    int rc;

    check_user(mmu, va, VMAR_PAGE_SIZE);
    rc = vmar__radix_map_empty(&mmu->rx, va, pte, resv, found);
    if (rc == 0)
        vmar_sim_count(mmu->sim, VMAR_SIM_OP_MAP,
                       (ptrdiff_t)(spare - spare_of(resv)), 1);
    else
        vmar_sim_count(mmu->sim, VMAR_SIM_OP_FIND, 0, 0);
    return rc;
}

/* Counted in stats.maps as one call (map counts one per page). */
static void sim_mmu_map_range(struct vmar_mmu *mmu, vmar_addr_t va,
                              const struct vmar_pte *pte, vmar_size_t len,
                              unsigned flags, struct vmar_frame_list *resv)
{
    const struct counts before = counts_of(mmu);

    check_user(mmu, va, len);
    vmar__radix_map_range(&mmu->rx, va, pte, len, flags, resv);
    count_since(mmu, VMAR_SIM_OP_MAP, before);
}

static size_t sim_mmu_unmap(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    const struct counts before = counts_of(mmu);
    size_t pages;

    check_user(mmu, va, len);
    /* Recorded before the change, settled to what the batch still has to
     * flush after it; an early flush inside the walker (a full batch)
     * clears its part in between. */
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len);
    pages = vmar__radix_unmap(&mmu->rx, va, len, resv, batch);
    count_since(mmu, VMAR_SIM_OP_UNMAP, before);
    change_end(mmu, va, va + len, batch);
    return pages;
}

/* Under the shared lock, beside other blocks' calls: the splits protect
 * reports are its whole change of the counts (a table each, and one leaf
 * become a table's worth). */
static void sim_mmu_protect(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, unsigned prot,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    const size_t per_split = ((size_t)1 << mmu->rx.fmt->bits_per_level) - 1;
    size_t splits;

    check_user(mmu, va, len);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len); /* as unmap */
    splits = vmar__radix_protect(&mmu->rx, va, len, prot, resv, batch);
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_PROTECT, (ptrdiff_t)splits,
                   (ptrdiff_t)(splits * per_split));
    change_end(mmu, va, va + len, batch);
}

/* Counted as a find_next: the same question of one page. */
static int sim_mmu_probe(const struct vmar_mmu *mmu, vmar_addr_t va,
                         struct vmar_pte *pte, size_t *missing)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FIND, 0, 0);
    return vmar__radix_probe(&mmu->rx, va, pte, missing);
}

static int sim_mmu_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                             vmar_addr_t end, struct vmar_pte *pte)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FIND, 0, 0);
    return vmar__radix_find_next(&mmu->rx, va, end, pte);
}

/* Counted in stats.maps as one call, like map_range. Empty slots only,
 * so nothing is left unflushed. */
static size_t sim_mmu_copy(struct vmar_mmu *dst, const struct vmar_mmu *src,
                           vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                           struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                           void *arg)
{
    const struct counts before = counts_of(dst);
    size_t need;

    check_user(dst, *va, end - *va);
    need =
        vmar__radix_copy(&dst->rx, &src->rx, va, end, flags, resv, take, arg);
    count_since(dst, VMAR_SIM_OP_MAP, before);
    return need;
}

/* Counted in stats.maps as one call, like copy. Empty slots only, so
 * nothing is left unflushed. */
static void sim_mmu_move(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                         vmar_addr_t to, struct vmar_frame_list *resv,
                         vmar_mmu_take_fn *moved, void *arg)
{
    const struct counts before = counts_of(mmu);

    check_user(mmu, va, len);
    check_user(mmu, to, len);
    vmar__radix_move(&mmu->rx, va, len, to, resv, moved, arg);
    count_since(mmu, VMAR_SIM_OP_MAP, before);
}

/* Counted in stats.unmaps as one call: the change is the source's, which
 * is recorded as unflushed from before it, as unmap's; the target's slots
 * were empty. */
static void sim_mmu_transfer(struct vmar_mmu *mmu, vmar_addr_t va,
                             vmar_size_t len, vmar_addr_t to,
                             struct vmar_frame_list *resv,
                             struct vmar_tlb_batch *batch)
{
    const struct counts before = counts_of(mmu);

    check_user(mmu, va, len);
    check_user(mmu, to, len);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len);
    vmar__radix_transfer(&mmu->rx, va, len, to, resv, batch);
    count_since(mmu, VMAR_SIM_OP_UNMAP, before);
    change_end(mmu, va, va + len, batch);
}

/* Counted in stats.maps (one page installed; no table or leaf more). The
 * page is recorded as unflushed from before the change; the flush inside
 * clears it. */
static void sim_mmu_replace(struct vmar_mmu *mmu, vmar_addr_t va,
                            const struct vmar_pte *pte,
                            struct vmar_tlb_batch *batch)
{
    check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + VMAR_PAGE_SIZE);
    vmar__radix_replace(&mmu->rx, va, pte, batch);
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_MAP, 0, 0);
    change_end(mmu, va, va + VMAR_PAGE_SIZE, batch);
}

static void sim_mmu_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FLUSH, 0, 0);
    vmar_sim_tlb_flush(mmu->sim, table_of(mmu), va, len);
}

/* Counted in stats.unmaps as one call, alone as unmap: an install may
 * remove leaves (recorded as unflushed from before the change), a
 * removal may unhook tables. */
static size_t sim_mmu_guard(struct vmar_mmu *mmu, vmar_addr_t va,
                            vmar_size_t len, enum vmar_mmu_guard_op op,
                            struct vmar_frame_list *resv,
                            struct vmar_tlb_batch *batch)
{
    const struct counts before = counts_of(mmu);
    size_t n;

    check_user(mmu, va, len);
    vmar_sim_change_begin(mmu->sim, table_of(mmu), va, va + len);
    n = vmar__radix_guard(&mmu->rx, va, len, op, resv, batch);
    count_since(mmu, VMAR_SIM_OP_UNMAP, before);
    change_end(mmu, va, va + len, batch);
    return n;
}

static int sim_mmu_find_guard(const struct vmar_mmu *mmu, vmar_addr_t *va,
                              vmar_addr_t end)
{
    vmar_sim_count(mmu->sim, VMAR_SIM_OP_FIND, 0, 0);
    return vmar__radix_find_guard(&mmu->rx, va, end);
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
    .caps = VMAR_MMU_CAP_NX | VMAR_MMU_CAP_HUGE_2M | VMAR_MMU_CAP_HUGE_1G |
            VMAR_MMU_CAP_SPLIT_PT,
    .user_top = VMAR_SIM_USER_TOP,
    .create = sim_mmu_create,
    .destroy = sim_mmu_destroy,
    .prepare = sim_mmu_prepare,
    .map = sim_mmu_map,
    .unmap = sim_mmu_unmap,
    .protect = sim_mmu_protect,
    .find_next = sim_mmu_find_next,
    .probe = sim_mmu_probe,
    .map_empty = sim_mmu_map_empty,
    .flush = sim_mmu_flush,
    .map_range = sim_mmu_map_range,
    .copy = sim_mmu_copy,
    .move = sim_mmu_move,
    .replace = sim_mmu_replace,
    .pa_top = VMAR_SIM_PA_LIMIT,
    /* The PTE keeps the enum itself (sim_pte.h). */
    .cache_as = {VMAR_CACHE_WB, VMAR_CACHE_WT, VMAR_CACHE_WC, VMAR_CACHE_UC},
    .activation = sim_mmu_activation,
    .transfer = sim_mmu_transfer,
    .guard = sim_mmu_guard,
    .find_guard = sim_mmu_find_guard,
};
