/* SPDX-License-Identifier: MIT */
/*
 * Grow-down stacks (VMAR_MAP_GROWSDOWN): a fault below such a mapping,
 * where no mapping is, first extends it down to the faulting page, with
 * the checks of Linux's expand_downwards() and acct_stack_growth(). The
 * fault path asks vmar__stack_below() whether a hole is such a place, and
 * grows the mapping with vmar__stack_grow() under the exclusive lock.
 */
#include "mapping.h"

bool vmar__stack_below(const struct vmar_space *space, vmar_addr_t addr)
{
    const struct vmar__iset_node *n = vmar__iset_lower_bound(&space->set, addr);

    return n && n->start > addr &&
           vmar__mapping_of(n)->flags & VMAR_MAP_GROWSDOWN;
}

/* Whether `below`, the mapping under a stack that would start at `lo`,
 * keeps the stack guard from it: Linux asks it only of a mapping that is
 * accessible and does not grow down itself. */
static bool guard_kept(const struct vmar_space *space,
                       const struct vmar__mapping *below, vmar_addr_t lo)
{
    if (!below || below->flags & VMAR_MAP_GROWSDOWN ||
        !(below->prot & VMAR_PROT_RWX))
        return true;
    return lo - below->node.end >= space->stack_guard;
}

int vmar__stack_grow(struct vmar_space *space, vmar_addr_t addr)
{
    const vmar_addr_t lo = addr & ~(VMAR_PAGE_SIZE - 1);
    struct vmar__iset_node *pred;
    struct vmar__iset_node *n =
        vmar__iset_lower_bound_pred(&space->set, addr, &pred);

    if (n && n->start <= addr)
        return 0; /* a mapping is there now */
    if (!n || !(vmar__mapping_of(n)->flags & VMAR_MAP_GROWSDOWN))
        return VMAR_ENOENT;
    struct vmar__mapping *m = vmar__mapping_of(n);
    struct vmar__mapping *below = pred ? vmar__mapping_of(pred) : NULL;
    const vmar_size_t grow = m->node.start - lo;

    if (lo < space->user_lo || !guard_kept(space, below, lo))
        return VMAR_ENOENT;
    if (space->stack_limit && m->node.end - lo > space->stack_limit)
        return VMAR_ENOENT;
    if (vmar__check_growth(space, grow, space->set.count))
        return VMAR_ENOENT;
    if (vmar__mapping_locked(m) && !vmar__mlock_fits(space, grow))
        return VMAR_ENOENT; /* Linux's acct_stack_growth() */
    /* Anonymous memory: its offset stays 0, nothing else moves. The
     * index entry keeps its place (nothing lies between). */
    m->node.start = lo;
    vmar__iset_update(&space->set, &m->node);
    space->total_vm += grow;
    vmar__locked_add(space, m, grow);
    space->stack_growths++;
    /* Only a grow-down or inaccessible neighbour may now touch it, and
     * may merge with it (no adjacent pair that could merge is left). */
    if (below && below->node.end == lo)
        vmar__coalesce_from(space, &below->node, m->node.end);
    return 0;
}
