/* SPDX-License-Identifier: MIT */
/*
 * Glue shared by the hardware page-table backends (src/mmu/x86_64/,
 * src/mmu/riscv64/): their struct vmar_mmu and the vmar_mmu_ops members
 * that are the same on every machine, so that an architecture folder
 * holds only its PTE format, its constants, its root value (CR3, satp)
 * and its inline TLB instructions.
 *
 * Every walk goes through the generic walker in radix.c; what is here is
 * bookkeeping around it: range checks against the user top, the kernel
 * half of the root, and the choice between a range and a full TLB
 * flush.
 *
 * The functions are static inline so that each backend's ops table can
 * point at them without a second library target; each is small.
 *
 * Freestanding: compiler headers, <vmar/...> and radix.h only.
 */
#ifndef VMAR_MMU_HWPT_H
#define VMAR_MMU_HWPT_H

#include <vmar/backend.h>
#include <vmar/error.h>
#include <vmar/mmu.h>

#include "radix.h"

/* Longest range invalidated page by page; beyond it one full flush is
 * cheaper (Linux x86 tlb_single_page_flush_ceiling is 33 pages). */
#define VMAR_HWPT_FLUSH_PAGES 32u

/* What differs between machines in the glue. Constant data. */
struct vmar__hwpt_arch {
    /* True when a range invalidation may leave a freed table page in a
     * paging-structure cache, so a flush after unhooking a table must be
     * full. RISC-V: "sfence.vma rs1" orders only leaf entries for that
     * address (privileged spec, "Supervisor Memory-Management Fence
     * Instruction"). x86: INVLPG also drops every paging-structure-cache
     * entry of the current PCID (SDM Vol. 3A §4.10.4.1), so false. */
    bool full_flush_after_table_free;
    /* The calling CPU's invalidation (len 0: the whole table) when the
     * backend was built with its inline-TLB option; NULL: count only. */
    void (*local_flush)(uint64_t root, vmar_addr_t va, vmar_size_t len);
};

/* One address space of a hardware backend. Fields other than rx are
 * private to hwpt.h and the backend that created it.
 *
 * Concurrency (VMAR_MMU_CAP_SPLIT_PT, which both backends set): the walk
 * is radix.c's, safe for calls on different leaf blocks at once. The
 * glue adds no counter that such calls would share: a map's leaf is
 * counted nowhere (radix.h), and the only state written after create,
 * unhooked_seen, changes only when unmap has unhooked a table, which it
 * does alone (the exclusive lock), its flushes included. */
struct vmar_mmu {
    struct vmar__radix rx;
    const struct vmar__hwpt_arch *arch;
    vmar_addr_t user_top; /* the ops table's user_top */
    uint64_t root;        /* hardware root value: CR3 or satp */
    size_t unhooked_seen; /* rx.unhooked at the last flush */
};

/*
 * Allocate the mmu and a root table whose lower half is empty and whose
 * upper half (root entries 256..511 with 9 bits per level) is the kernel
 * half: copied from the root table at `kernel_root` when it is not 0, and
 * never walked or freed (radix.h, "The kernel half"). On x86-64 and
 * RISC-V the upper half of the root is exactly the upper (negative)
 * canonical half, which no user range reaches (user_top is below it).
 * The caller validated kernel_root's alignment and sets ->root.
 */
static inline int
vmar__hwpt_create(const struct vmar_env *env, const struct vmar__pt_format *fmt,
                  const struct vmar__hwpt_arch *arch, vmar_addr_t user_top,
                  vmar_paddr_t kernel_root, struct vmar_mmu **out)
{
    vmar_addr_t user_end = vmar__radix_limit(fmt) / 2;
    struct vmar_mmu *mmu;

    VMAR_ASSERT(env, user_top <= user_end);
    mmu = env->alloc(env->ctx, sizeof(*mmu), _Alignof(struct vmar_mmu));
    if (mmu == NULL)
        return VMAR_ENOMEM;
    VMAR_MEMSET(mmu, 0, sizeof(*mmu));
    if (vmar__radix_init_split(&mmu->rx, fmt, env, user_end, kernel_root) !=
        0) {
        env->free(env->ctx, mmu, sizeof(*mmu));
        return VMAR_ENOMEM;
    }
    mmu->arch = arch;
    mmu->user_top = user_top;
    mmu->unhooked_seen = mmu->rx.unhooked;
    *out = mmu;
    return 0;
}

static inline void vmar__hwpt_destroy(struct vmar_mmu *mmu)
{
    const struct vmar_env *env = mmu->rx.env;

    vmar__radix_fini(&mmu->rx);
    env->free(env->ctx, mmu, sizeof(*mmu));
}

/* Ranges reach the backend validated by the core: one beyond user_top is
 * a core bug, hence an assertion. */
static inline void vmar__hwpt_check_user(const struct vmar_mmu *mmu,
                                         vmar_addr_t va, vmar_size_t len)
{
    VMAR_ASSERT(mmu->rx.env, va <= mmu->user_top && len <= mmu->user_top - va);
}

/* Whether table pages were unhooked since the last flush: unmap counts
 * them in rx.unhooked before it queues them, so an early flush inside
 * unmap sees them too. (rx.tables cannot tell: a split in the same unmap
 * adds one.) Every unhook is followed by a flush before the exclusive
 * lock goes, so under the shared lock the two are equal and this only
 * reads: flushes of different blocks may run at once. */
static inline bool vmar__hwpt_tables_freed(struct vmar_mmu *mmu)
{
    size_t unhooked = mmu->rx.unhooked;

    if (unhooked == mmu->unhooked_seen)
        return false;
    mmu->unhooked_seen = unhooked;
    return true;
}

static inline int vmar__hwpt_prepare(struct vmar_mmu *mmu, vmar_addr_t va,
                                     vmar_size_t len, enum vmar_mmu_prep what,
                                     struct vmar_frame_list *resv)
{
    vmar__hwpt_check_user(mmu, va, len);
    return vmar__radix_prepare(&mmu->rx, va, len, what, resv);
}

/* The leaf is counted nowhere (radix.h): nothing here needs the count. */
static inline void vmar__hwpt_map(struct vmar_mmu *mmu, vmar_addr_t va,
                                  const struct vmar_pte *pte,
                                  struct vmar_frame_list *resv)
{
    vmar__hwpt_check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar__radix_map(&mmu->rx, va, 0, pte, resv);
}

static inline int vmar__hwpt_map_empty(struct vmar_mmu *mmu, vmar_addr_t va,
                                       const struct vmar_pte *pte,
                                       struct vmar_frame_list *resv,
                                       struct vmar_pte *found)
{
    vmar__hwpt_check_user(mmu, va, VMAR_PAGE_SIZE);
    return vmar__radix_map_empty(&mmu->rx, va, pte, resv, found);
}

static inline void vmar__hwpt_map_range(struct vmar_mmu *mmu, vmar_addr_t va,
                                        const struct vmar_pte *pte,
                                        vmar_size_t len, unsigned flags,
                                        struct vmar_frame_list *resv)
{
    vmar__hwpt_check_user(mmu, va, len);
    vmar__radix_map_range(&mmu->rx, va, pte, len, flags, resv);
}

static inline size_t vmar__hwpt_unmap(struct vmar_mmu *mmu, vmar_addr_t va,
                                      vmar_size_t len,
                                      struct vmar_frame_list *resv,
                                      struct vmar_tlb_batch *batch)
{
    vmar__hwpt_check_user(mmu, va, len);
    return vmar__radix_unmap(&mmu->rx, va, len, resv, batch);
}

static inline size_t
vmar__hwpt_copy(struct vmar_mmu *dst, const struct vmar_mmu *src,
                vmar_addr_t *va, vmar_addr_t end, unsigned flags,
                struct vmar_frame_list *resv, vmar_mmu_take_fn *take, void *arg)
{
    vmar__hwpt_check_user(dst, *va, end - *va);
    return vmar__radix_copy(&dst->rx, &src->rx, va, end, flags, resv, take,
                            arg);
}

static inline void vmar__hwpt_move(struct vmar_mmu *mmu, vmar_addr_t va,
                                   vmar_size_t len, vmar_addr_t to,
                                   struct vmar_frame_list *resv,
                                   vmar_mmu_take_fn *moved, void *arg)
{
    vmar__hwpt_check_user(mmu, va, len);
    vmar__hwpt_check_user(mmu, to, len);
    vmar__radix_move(&mmu->rx, va, len, to, resv, moved, arg);
}

static inline void vmar__hwpt_transfer(struct vmar_mmu *mmu, vmar_addr_t va,
                                       vmar_size_t len, vmar_addr_t to,
                                       struct vmar_frame_list *resv,
                                       struct vmar_tlb_batch *batch)
{
    vmar__hwpt_check_user(mmu, va, len);
    vmar__hwpt_check_user(mmu, to, len);
    vmar__radix_transfer(&mmu->rx, va, len, to, resv, batch);
}

static inline void vmar__hwpt_protect(struct vmar_mmu *mmu, vmar_addr_t va,
                                      vmar_size_t len, unsigned prot,
                                      struct vmar_frame_list *resv,
                                      struct vmar_tlb_batch *batch)
{
    vmar__hwpt_check_user(mmu, va, len);
    (void)vmar__radix_protect(&mmu->rx, va, len, prot, resv, batch);
}

static inline void vmar__hwpt_replace(struct vmar_mmu *mmu, vmar_addr_t va,
                                      const struct vmar_pte *pte,
                                      struct vmar_tlb_batch *batch)
{
    vmar__hwpt_check_user(mmu, va, VMAR_PAGE_SIZE);
    vmar__radix_replace(&mmu->rx, va, pte, batch);
}

/* vmar_mmu_ops::guard: markers cost no flush, and an unhooked table is
 * on the batch like unmap's (flush() widens for it). */
static inline size_t vmar__hwpt_guard(struct vmar_mmu *mmu, vmar_addr_t va,
                                      vmar_size_t len,
                                      enum vmar_mmu_guard_op op,
                                      struct vmar_frame_list *resv,
                                      struct vmar_tlb_batch *batch)
{
    vmar__hwpt_check_user(mmu, va, len);
    return vmar__radix_guard(&mmu->rx, va, len, op, resv, batch);
}

static inline int vmar__hwpt_find_guard(const struct vmar_mmu *mmu,
                                        vmar_addr_t *va, vmar_addr_t end)
{
    return vmar__radix_find_guard(&mmu->rx, va, end);
}

/* vmar_mmu_ops::activation: the root and the value the backend set at
 * create (CR3 or satp), the one its flushes name in env->tlb_flush. */
static inline void vmar__hwpt_activation(const struct vmar_mmu *mmu,
                                         struct vmar_mmu_activation *out)
{
    out->root = mmu->rx.root;
    out->value = mmu->root;
}

static inline int vmar__hwpt_probe(const struct vmar_mmu *mmu, vmar_addr_t va,
                                   struct vmar_pte *pte, size_t *missing)
{
    return vmar__radix_probe(&mmu->rx, va, pte, missing);
}

static inline int vmar__hwpt_find_next(const struct vmar_mmu *mmu,
                                       vmar_addr_t *va, vmar_addr_t end,
                                       struct vmar_pte *pte)
{
    return vmar__radix_find_next(&mmu->rx, va, end, pte);
}

/*
 * vmar_mmu_ops::flush: widen to a full flush when the range is long or
 * when a table page was unhooked on a machine whose range invalidation
 * keeps non-leaf entries, then hand it to env->tlb_flush, else to the
 * inline default, else do nothing (hosted builds).
 */
static inline void vmar__hwpt_flush(struct vmar_mmu *mmu, vmar_addr_t va,
                                    vmar_size_t len)
{
    const struct vmar_env *env = mmu->rx.env;

    if (vmar__hwpt_tables_freed(mmu) && mmu->arch->full_flush_after_table_free)
        len = 0;
    if (len > (vmar_size_t)VMAR_HWPT_FLUSH_PAGES * VMAR_PAGE_SIZE)
        len = 0;
    if (len == 0)
        va = 0;
    if (env->tlb_flush != NULL)
        env->tlb_flush(env->ctx, mmu->root, va, len);
    else if (mmu->arch->local_flush != NULL)
        mmu->arch->local_flush(mmu->root, va, len);
}

#endif /* VMAR_MMU_HWPT_H */
