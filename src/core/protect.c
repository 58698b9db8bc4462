/* SPDX-License-Identifier: MIT */
/*
 * vmar_protect(): change permissions over a range, atomically.
 *
 * Linux changes mappings one by one and may stop half-way (a hole is
 * ENOMEM after earlier mappings changed). Here every mapping is checked
 * first, so a failure changes nothing:
 *
 *   before:  [ A: r-- ............................ ]
 *   protect(rw-) over the middle:
 *   split:   [ A: r-- ][ B: r-- ][ C: r-- ]
 *   change:  [ A: r-- ][ B: rw- ][ C: r-- ]
 *   protect(r--) back: B changes, then coalescing merges A, B, C again.
 */
#include "mapping.h"

/* What the commit gets: the permissions, and where the survey found lo
 * (the set does not change in between). */
struct protect_arg {
    unsigned prot;
    bool tables; /* a huge leaf may straddle a cut end */
    struct vmar_range_pos pos;
};

/* Walk [lo, hi) in address order and report the first problem: a hole
 * (VMAR_ENOMEM) or a permission beyond a mapping's maximum (VMAR_EACCES).
 * Also count the splits needed at the ends. */
static int protect_survey(const struct vmar_space *space, vmar_addr_t lo,
                          vmar_addr_t hi, struct protect_arg *a,
                          unsigned *splits)
{
    const unsigned prot = a->prot;
    vmar_addr_t covered = lo;
    const struct vmar_mapping *first = NULL, *last = NULL;

    vmar__range_locate(space, lo, &a->pos);
    for (struct vmar_mapping *m = vmar__range_first_in(&a->pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (m->node.start > covered)
            return VMAR_ENOMEM;
        if (prot & ~m->max_prot)
            return VMAR_EACCES;
        covered = m->node.end;
        if (!first)
            first = m;
        last = m;
    }
    if (covered < hi)
        return VMAR_ENOMEM;
    /* Only a mapping whose permissions change needs cutting at an end. */
    *splits = 0;
    if (first->node.start < lo && first->prot != prot)
        (*splits)++;
    if (last->node.end > hi && last->prot != prot)
        (*splits)++;
    /* An end mapping whose permissions stay is not cut, so its leaves
     * are not touched at lo or hi. */
    a->tables = vmar__edges_may_split(first->prot != prot ? first : NULL,
                                      last->prot != prot ? last : NULL, lo, hi);
    return 0;
}

static void protect_commit(struct vmar_space *space, vmar_addr_t lo,
                           vmar_addr_t hi, const void *arg,
                           struct vmar_prep *prep, struct vmar_tlb_batch *batch)
{
    const struct protect_arg *a = arg;
    const unsigned prot = a->prot;

    for (struct vmar_mapping *m = vmar__range_first_in(&a->pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (m->prot == prot)
            continue;
        m = vmar__mapping_isolate(space, m, lo, hi, prep);
        vmar__mapping_set_prot(m, prot);
        space->ops->protect(space->mmu, m->node.start, vmar__mapping_size(m),
                            prot | (vmar__mapping_keep_ro(m)
                                        ? (unsigned)VMAR_PROTECT_KEEP_RO
                                        : 0u),
                            &prep->tables, batch);
    }
    /* Only splits happened: the position still tells where to start. */
    vmar__coalesce_from(space, vmar__coalesce_start(&a->pos, lo), hi);
}

static int protect_locked(struct vmar_space *space, vmar_addr_t lo,
                          vmar_addr_t hi, unsigned prot)
{
    struct protect_arg a = {.prot = prot};
    unsigned splits = 0;
    int rc = protect_survey(space, lo, hi, &a, &splits);

    return rc ? rc
              : vmar__change_range(space, lo, hi, splits, a.tables,
                                   protect_commit, &a);
}

int vmar_protect(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                 unsigned prot)
{
    struct vmar_space *space = vmar__base(h);
    if (!space)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    int rc = vmar__check_range(space, addr, size);
    if (!rc && prot & ~(unsigned)VMAR_PROT_RWX)
        rc = VMAR_EINVAL;
    if (!rc && !vmar__has_rights(h, prot))
        rc = VMAR_EACCES;
    if (!rc)
        rc = protect_locked(space, addr, addr + size, prot);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
