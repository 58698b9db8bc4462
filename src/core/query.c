/* SPDX-License-Identifier: MIT */
/* Lookups: O(log n), allocation free, under the shared lock (and every
 * page-table lock stripe for vmar_resident's leaf walk). */
#include "mapping.h"

void vmar__mapping_info(const struct vmar__mapping *m,
                        struct vmar_mapping_info *info)
{
    info->start = m->node.start;
    info->end = m->node.end;
    info->prot = m->prot;
    info->max_prot = m->max_prot;
    info->flags = m->flags & VMAR_MAPPING_KEPT_FLAGS;
    info->backing = (enum vmar_backing)m->backing;
    info->offset = vmar__mapping_offset(m);
    info->cache = (enum vmar_cache)m->cache;
    info->object = vmar__mapping_object(m);
}

int vmar_query(struct vmar_space *h, vmar_addr_t addr,
               struct vmar_mapping_info *info)
{
    struct vmar_space *space = vmar__base(h);
    if (!space || !info)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    struct vmar__iset_node *n = vmar__iset_find(&space->set, addr);
    if (n)
        vmar__mapping_info(vmar__mapping_of(n), info);
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return n ? 0 : VMAR_ENOENT;
}

int vmar_iterate(struct vmar_space *h, vmar_addr_t lo, vmar_addr_t hi,
                 vmar_iterate_fn fn, void *arg)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar_mapping_info info;
    int rc = 0;

    if (!space || !fn || lo > hi)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi);
         m && !rc; m = vmar__mapping_next_in(m, hi)) {
        vmar__mapping_info(m, &info);
        rc = fn(arg, &info);
    }
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return rc;
}

int vmar_resident(struct vmar_space *h, vmar_addr_t lo, vmar_addr_t hi,
                  vmar_size_t *bytes)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar_pte pte;
    vmar_size_t pages = 0;

    if (!space || !bytes || lo > hi || (lo | hi) & (VMAR_PAGE_SIZE - 1))
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    vmar__pt_lock_all(space);
    hi = VMAR_MIN(hi, vmar__pmap_user_top(space));
    while (lo < hi && vmar__pmap_find_next(space, &lo, hi, &pte) == 0) {
        pages++;
        lo += VMAR_PAGE_SIZE;
    }
    vmar__pt_unlock_all(space);
    vmar__unlock(space, VMAR_LOCK_SHARED);
    *bytes = pages << VMAR_PAGE_SHIFT;
    return 0;
}
