/* SPDX-License-Identifier: MIT */
/*
 * Device (I/O) memory: a physical range mapped eagerly, with a cache
 * policy, never reference counted, never resident. Map, fork and remap
 * install device leaves the same way, through here.
 */
#include "mapping.h"

/* Largest leaf span the backend may use, from its capabilities. */
static vmar_size_t largest_leaf(const struct vmar_mmu_ops *ops)
{
    if (ops->caps & VMAR_MMU_CAP_HUGE_1G)
        return (vmar_size_t)1 << 30;
    if (ops->caps & VMAR_MMU_CAP_HUGE_2M)
        return (vmar_size_t)1 << 21;
    return VMAR_PAGE_SIZE;
}

enum vmar_mmu_prep vmar__device_prep(const struct vmar_space *space,
                                     vmar_addr_t va, vmar_paddr_t paddr,
                                     bool after_unmap)
{
    if (after_unmap)
        return VMAR_PREP_REMAP;
    if (vmar__map_range_op(space->ops) &&
        ((paddr - va) & (largest_leaf(space->ops) - 1)) == 0)
        return VMAR_PREP_MAP_HUGE;
    return VMAR_PREP_MAP;
}

void vmar__device_install(struct vmar_space *space,
                          const struct vmar_mapping *m, vmar_addr_t lo,
                          vmar_addr_t hi, struct vmar_frame_list *tables)
{
    struct vmar_pte pte = {
        .pa = vmar__mapping_offset_of(m, lo),
        .prot = m->prot,
        .flags = 0,
        .cache = (enum vmar_cache)m->cache,
    };

    if (vmar__map_range_op(space->ops)) {
        /* Contiguous physical memory: huge leaves where aligned. */
        vmar__map_range_op(space->ops)(space->mmu, lo, &pte, hi - lo,
                                       VMAR_MAP_RANGE_HUGE, tables);
        return;
    }
    for (vmar_addr_t va = lo; va < hi; va += VMAR_PAGE_SIZE) {
        pte.pa = vmar__mapping_offset_of(m, va);
        space->ops->map(space->mmu, va, &pte, tables);
    }
}
