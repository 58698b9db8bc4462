/* SPDX-License-Identifier: MIT */
/*
 * Device (I/O) memory: a physical range mapped eagerly, with a cache
 * policy, never reference counted, never resident. Map, fork and remap
 * install device leaves the same way, through here.
 */
#include "mapping.h"
#include "pmap.h"

enum vmar_mmu_prep vmar__device_prep(const struct vmar_space *space,
                                     vmar_addr_t va, vmar_paddr_t paddr,
                                     bool after_unmap)
{
    const vmar_size_t span = vmar__pmap_range_span(space);

    if (after_unmap)
        return VMAR_PREP_REMAP;
    if (span && ((paddr - va) & (span - 1)) == 0)
        return VMAR_PREP_MAP_HUGE;
    return VMAR_PREP_MAP;
}

void vmar__device_install(struct vmar_space *space,
                          const struct vmar__mapping *m, vmar_addr_t lo,
                          vmar_addr_t hi, struct vmar_frame_list *tables)
{
    struct vmar_pte pte = {
        .pa = vmar__mapping_offset_of(m, lo),
        .prot = m->prot,
        .flags = 0,
        .cache = (enum vmar_cache)m->cache,
    };

    /* Contiguous physical memory: huge leaves where aligned. */
    vmar__pmap_map_range(space, lo, &pte, hi - lo, VMAR_MAP_RANGE_HUGE, tables);
}
