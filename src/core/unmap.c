/* SPDX-License-Identifier: MIT */
/* vmar_unmap(): cut [addr, addr+size) out of the layout. */
#include "mapping.h"

int vmar__unmap_range(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi)
{
    struct vmar__prep prep = {0};
    struct vmar__carve_cost cost;
    struct vmar__range_pos pos;
    struct vmar__tlb batch;
    int rc = 0;

    vmar__carve_cost_at(space, lo, hi, &cost, &pos);
    if (cost.mapped == 0)
        return 0;
    /* Punching a hole in one mapping is the only way unmap adds one. */
    if (cost.needs_node && space->set.count + 1 > space->max_map_count)
        return VMAR_ENOMEM;
    /* After the count limit, as Linux's vms_gather_munmap_vmas(). */
    if (cost.sealed)
        return VMAR_EPERM;
    rc = vmar__prep_nodes(space, &prep, cost.nodes);
    if (!rc && cost.tables)
        rc = vmar__pmap_prepare(space, lo, hi - lo, VMAR_PREP_CHANGE,
                                &prep.tables);
    if (!rc) {
        prep.no_table = !vmar__commit_begin(space, lo, hi, true);
        vmar__tlb_init(&batch, space);
        (void)vmar__carve_at(space, lo, hi, &pos, &prep, &batch);
        vmar__tlb_finish(&batch);
    }
    vmar__prep_release(space, &prep);
    return rc;
}

int vmar_unmap(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size)
{
    struct vmar_space *space = vmar__base(h);
    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock_layout(space);
    rc = vmar__check_range(space, addr, size);
    if (!rc)
        rc = vmar__unmap_range(space, addr, addr + size);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
