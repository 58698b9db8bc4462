/* SPDX-License-Identifier: MIT */
/*
 * The page-fault handler.
 *
 * Order of decisions, each cheaper than the next:
 *   1. which mapping (O(log n) tree lookup, no allocation);
 *   2. may the mapping be accessed this way (else a signal);
 *   3. is the leaf already good enough (a spurious fault: another CPU or
 *      an earlier retry fixed it; a stale TLB entry was already flushed);
 *   4. present but narrower than the mapping: widen the leaf;
 *   5. absent: prepare a zeroed frame and any page-table pages, then map.
 * Only step 5 allocates, and it allocates before it changes anything, so
 * an ENOMEM fault leaves the space as it was.
 */
#include "fault.h"

#include "mapping.h"

static bool leaf_at(const struct vmar_space *space, vmar_addr_t va,
                    struct vmar_pte *pte)
{
    vmar_addr_t at = va;

    return space->ops->find_next(space->mmu, &at, va + VMAR_PAGE_SIZE, pte) ==
           0;
}

/* Demand-zero: the frame and the tables come first, then one map(). */
static int fault_in_anon(struct vmar_space *space, const struct vmar_mapping *m,
                         vmar_addr_t va, struct vmar_pte *pte)
{
    const struct vmar_env *env = space->env;
    struct vmar_frame_list tables = {0, 0}, frame = {0, 0};
    int rc;

    rc = space->ops->prepare(space->mmu, va, VMAR_PAGE_SIZE, VMAR_PREP_MAP,
                             &tables);
    if (!rc)
        rc = vmar_frame_list_fill(env, &frame, 1, VMAR_FRAME_ZERO);
    if (!rc) {
        pte->pa = vmar_frame_list_pop(env, &frame);
        pte->prot = m->prot;
        pte->flags = VMAR_PTE_MANAGED;
        pte->cache = VMAR_CACHE_WB;
        space->ops->map(space->mmu, va, pte, &tables);
        space->resident++;
    }
    vmar_frame_list_release(env, &tables);
    return rc;
}

int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte)
{
    const vmar_addr_t va = addr & ~(VMAR_PAGE_SIZE - 1);
    const unsigned need = vmar_access_prot(access);
    struct vmar_iset_node *n = vmar_iset_find(&space->set, addr);
    struct vmar_mapping *m;

    if (!n)
        return VMAR_ENOENT;
    m = vmar__mapping_of(n);
    if (!(m->prot & need))
        return VMAR_EACCES;
    if (!leaf_at(space, va, pte))
        /* Device pages are present from map to unmap; a missing one has
         * nothing to page in. */
        return m->backing == VMAR_BACKING_DEVICE
                   ? VMAR_EFAULT
                   : fault_in_anon(space, m, va, pte);
    if (pte->prot & need)
        return 0;
    /*
     * Present but narrower than its mapping. Today every frame belongs to
     * one space, so widening is safe; copy-on-write frames (fork) will
     * decide here between reusing and copying.
     */
    struct vmar_tlb_batch batch;
    vmar_tlb_batch_init(&batch, space->env, space->ops, space->mmu);
    space->ops->protect(space->mmu, va, VMAR_PAGE_SIZE, m->prot, NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    pte->prot = m->prot;
    return 0;
}

int vmar_fault(struct vmar_space *space, vmar_addr_t addr, unsigned access,
               unsigned flags)
{
    struct vmar_pte pte;

    if (!space || flags & ~(unsigned)VMAR_FAULT_USER ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC))
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    int rc = vmar__fault_locked(space, addr, access, &pte);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
