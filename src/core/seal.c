/* SPDX-License-Identifier: MIT */
/*
 * vmar_seal() (Linux's mseal): mark every mapping of a range sealed. The
 * seal is the kept flag VMAR_MAP_SEALED; the operations it refuses check
 * it in their survey, before any change (mapping.h: vmar__carve_cost,
 * vmar__attr_change; remap.c: the source and a FIXED target).
 */
#include "mapping.h"

int vmar_seal(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size)
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
        rc = vmar__attr_change(space, addr, addr + size,
                               &(struct vmar__attr_change){
                                   .kind = VMAR_ATTR_FLAGS,
                                   .set = VMAR_MAP_SEALED,
                               });
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
