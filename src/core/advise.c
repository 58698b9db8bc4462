/* SPDX-License-Identifier: MIT */
/*
 * vmar_advise() (madvise): drop pages, or set per-mapping hints.
 *
 * Like vmar_protect(), the whole range is checked before anything
 * changes; hint changes cut mappings at the range's ends and merge
 * afterwards, so a hint set and cleared again leaves one mapping.
 */
#include "mapping.h"

/* The kept flags `m` has after `advice`. */
static unsigned advised_flags(const struct vmar_mapping *m, int advice)
{
    const unsigned f = m->flags & VMAR_MAPPING_KEPT_FLAGS;

    switch (advice) {
    case VMAR_ADVISE_NORMAL:
        return f & ~(unsigned)(VMAR_MAP_SEQUENTIAL | VMAR_MAP_RANDOM);
    case VMAR_ADVISE_RANDOM:
        return (f & ~(unsigned)VMAR_MAP_SEQUENTIAL) | VMAR_MAP_RANDOM;
    case VMAR_ADVISE_SEQUENTIAL:
        return (f & ~(unsigned)VMAR_MAP_RANDOM) | VMAR_MAP_SEQUENTIAL;
    case VMAR_ADVISE_DONTFORK:
        return f | VMAR_MAP_DONTFORK;
    case VMAR_ADVISE_DOFORK:
        return f & ~(unsigned)VMAR_MAP_DONTFORK;
    default:
        return f;
    }
}

static bool known(int advice)
{
    switch (advice) {
    case VMAR_ADVISE_NORMAL:
    case VMAR_ADVISE_RANDOM:
    case VMAR_ADVISE_SEQUENTIAL:
    case VMAR_ADVISE_WILLNEED:
    case VMAR_ADVISE_DONTNEED:
    case VMAR_ADVISE_FREE:
    case VMAR_ADVISE_DONTFORK:
    case VMAR_ADVISE_DOFORK:
        return true;
    default:
        return false;
    }
}

static bool drops(int advice)
{
    return advice == VMAR_ADVISE_DONTNEED || advice == VMAR_ADVISE_FREE;
}

/* What the commit gets: the advice, and where the survey found lo (the
 * set does not change in between). */
struct advise_arg {
    int advice;
    struct vmar_range_pos pos;
};

/* Holes are VMAR_ENOMEM, dropping device pages VMAR_EINVAL; counts the
 * cuts a hint change needs at the two ends. */
static int advise_survey(const struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi, struct advise_arg *a, unsigned *cuts)
{
    const int advice = a->advice;
    vmar_addr_t covered = lo;
    const struct vmar_mapping *first = NULL, *last = NULL;

    vmar__range_locate(space, lo, &a->pos);
    for (struct vmar_mapping *m = vmar__range_first_in(&a->pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (m->node.start > covered)
            return VMAR_ENOMEM;
        if (drops(advice) && m->backing == VMAR_BACKING_DEVICE)
            return VMAR_EINVAL;
        covered = m->node.end;
        if (!first)
            first = m;
        last = m;
    }
    if (covered < hi)
        return VMAR_ENOMEM;
    *cuts = 0;
    if (drops(advice) || advice == VMAR_ADVISE_WILLNEED)
        return 0;
    if (first->node.start < lo && advised_flags(first, advice) !=
                                      (first->flags & VMAR_MAPPING_KEPT_FLAGS))
        (*cuts)++;
    if (last->node.end > hi &&
        advised_flags(last, advice) != (last->flags & VMAR_MAPPING_KEPT_FLAGS))
        (*cuts)++;
    return 0;
}

static void advise_hints(struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi, const struct advise_arg *a,
                         struct vmar_prep *prep)
{
    const int advice = a->advice;

    for (struct vmar_mapping *m = vmar__range_first_in(&a->pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        const unsigned want = advised_flags(m, advice);
        if (want == (m->flags & VMAR_MAPPING_KEPT_FLAGS))
            continue;
        m = vmar__mapping_isolate(space, m, lo, hi, prep);
        vmar__mapping_set_flags(m, want);
    }
    /* Only splits happened: the position still tells where to start. */
    vmar__coalesce_from(space, vmar__coalesce_start(&a->pos, lo), hi);
}

/* The commit of vmar__change_range(): drop the leaves or set the hints. */
static void advise_commit(struct vmar_space *space, vmar_addr_t lo,
                          vmar_addr_t hi, const void *arg,
                          struct vmar_prep *prep, struct vmar_tlb_batch *batch)
{
    const struct advise_arg *a = arg;

    if (drops(a->advice))
        vmar__unmap_leaves(space, lo, hi - lo, &prep->tables, batch);
    else
        advise_hints(space, lo, hi, a, prep);
}

static int advise_locked(struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi, int advice)
{
    struct advise_arg a = {.advice = advice};
    unsigned cuts = 0;
    int rc = advise_survey(space, lo, hi, &a, &cuts);

    if (rc || advice == VMAR_ADVISE_WILLNEED)
        return rc;
    /* Dropping refuses device mappings, the only ones with huge leaves,
     * so no change here splits one: no page-table pages to prepare. */
    return vmar__change_range(space, lo, hi, cuts, false, advise_commit, &a);
}

int vmar_advise(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                int advice)
{
    struct vmar_space *space = vmar__base(h);
    if (!space)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    int rc = vmar__check_range(space, addr, size);
    if (!rc && !known(advice))
        rc = VMAR_EINVAL;
    if (!rc)
        rc = advise_locked(space, addr, addr + size, advice);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
