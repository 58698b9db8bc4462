/* SPDX-License-Identifier: MIT */
/*
 * What a CPU needs of a space: the value it loads to run it
 * (pmap_activate(9)) and the leaf its walker finds for a page
 * (pmap_extract(9)). Neither takes the space lock: the first reads what
 * never changes, the second reads the table as hardware does.
 */
#include "pmap.h"
#include "space.h"

int vmar_space_activation(struct vmar_space *h, struct vmar_mmu_activation *out)
{
    struct vmar_space *space = vmar__base(h);

    if (space == NULL || out == NULL)
        return VMAR_EINVAL;
    return vmar__pmap_activation(space, out);
}

int vmar_space_translate(struct vmar_space *h, vmar_addr_t va,
                         struct vmar_pte *out)
{
    struct vmar_space *space = vmar__base(h);
    vmar_addr_t page = va & ~(VMAR_PAGE_SIZE - 1), at = page;
    struct vmar_pte pte;

    if (space == NULL || out == NULL)
        return VMAR_EINVAL;
    /* Above user_top the backend translates nothing, and its walker may
     * not be asked. page < user_top, so page + VMAR_PAGE_SIZE cannot wrap. */
    if (page >= vmar__pmap_user_top(space))
        return VMAR_ENOENT;
    if (vmar__pmap_walk(space, &at, page + VMAR_PAGE_SIZE, &pte) != 0 ||
        at != page)
        return VMAR_ENOENT;
    *out = pte;
    return 0;
}
