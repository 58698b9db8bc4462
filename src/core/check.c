/* SPDX-License-Identifier: MIT */
/*
 * vmar_check(): recompute every cached or derived fact and compare.
 *
 * It trusts nothing the operations maintain incrementally: the tree's
 * augmented fields, the counters and the page table are all re-derived.
 * The first broken rule is reported through env->log with the address
 * where it was found; then VMAR_ECORRUPT is returned.
 */
#include "fmt.h"
#include "mapping.h"

static int report(const struct vmar_space *space, const char *rule,
                  vmar_addr_t where)
{
    struct vmar_line l;

    vmar__line_reset(&l);
    vmar__line_str(&l, "vmar_check: ");
    vmar__line_str(&l, rule);
    vmar__line_str(&l, " at 0x");
    vmar__line_hex(&l, where, 1);
    vmar__log(space->env, VMAR_LOG_ERROR, l.buf);
    return VMAR_ECORRUPT;
}

static const char *mapping_rule(const struct vmar_space *space,
                                const struct vmar_mapping *m)
{
    const vmar_addr_t s = m->node.start, e = m->node.end;

    if ((s | e) & (VMAR_PAGE_SIZE - 1) || s >= e)
        return "mapping unaligned or empty";
    if (s < space->user_lo || e > space->user_hi)
        return "mapping outside the user range";
    if (m->prot & ~m->max_prot || m->max_prot & ~(unsigned)VMAR_PROT_RWX)
        return "prot beyond max_prot";
    if (m->flags & ~(unsigned)VMAR_MAPPING_KEPT_FLAGS)
        return "unknown mapping flag";
    if (m->node.guard != ((m->flags & VMAR_MAP_STACK) ? space->stack_guard : 0))
        return "guard does not match the stack flag";
    if (m->backing == VMAR_BACKING_ANON && m->offset != 0)
        return "anonymous mapping with an offset";
    return NULL;
}

/* Mappings one by one, neighbours pairwise, counters as sums. */
static int check_mappings(const struct vmar_space *space)
{
    vmar_size_t total = 0;
    size_t count = 0;
    const char *why;

    for (struct vmar_iset_node *n = vmar_iset_first(&space->set); n;
         n = vmar_iset_next(n)) {
        const struct vmar_mapping *m = vmar__mapping_of(n);
        struct vmar_iset_node *next = vmar_iset_next(n);
        if ((why = mapping_rule(space, m)) != NULL)
            return report(space, why, n->start);
        if (next && vmar__mapping_can_merge(m, vmar__mapping_of(next)))
            return report(space, "mergeable neighbours left apart", n->end);
        total += n->end - n->start;
        count++;
    }
    if (total != space->total_vm)
        return report(space, "total_vm differs from the sum of sizes", total);
    if (count != space->set.count)
        return report(space, "map_count differs from the mappings", count);
    return 0;
}

/* Every present leaf lies in a mapping and grants no more than it; device
 * leaves translate to the mapping's physical range with its cache policy;
 * the managed ones are counted by the resident counter. A merge join:
 * O(mappings + leaves). */
static int check_leaves(const struct vmar_space *space)
{
    struct vmar_iset_node *n = vmar_iset_first(&space->set);
    vmar_addr_t va = 0;
    vmar_size_t pages = 0, device = 0;
    struct vmar_pte pte;

    while (space->ops->find_next(space->mmu, &va, space->ops->user_top, &pte) ==
           0) {
        while (n && n->end <= va)
            n = vmar_iset_next(n);
        if (!n || n->start > va)
            return report(space, "present leaf outside every mapping", va);
        const struct vmar_mapping *m = vmar__mapping_of(n);
        if (pte.prot & ~m->prot)
            return report(space, "leaf grants more than its mapping", va);
        if (m->backing == VMAR_BACKING_DEVICE) {
            if (pte.flags & VMAR_PTE_MANAGED ||
                pte.pa != m->offset + (va - n->start) || pte.cache != m->cache)
                return report(space, "device leaf differs from its mapping",
                              va);
            device++;
        } else if (!(pte.flags & VMAR_PTE_MANAGED)) {
            return report(space, "unmanaged leaf in anonymous memory", va);
        } else {
            pages++;
        }
        va += VMAR_PAGE_SIZE;
        if (va >= space->ops->user_top)
            break;
    }
    if (pages != space->resident)
        return report(space, "resident differs from present leaves", pages);
    if (device << VMAR_PAGE_SHIFT !=
        vmar__device_bytes(space, space->user_lo, space->user_hi))
        return report(space, "a device page has no leaf", device);
    return 0;
}

int vmar_check(struct vmar_space *space)
{
    const char *why;
    int rc;

    if (!space)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    why = vmar_iset_check(&space->set);
    rc = why ? report(space, why, 0) : check_mappings(space);
    if (!rc)
        rc = check_leaves(space);
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return rc;
}
