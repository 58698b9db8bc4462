/* SPDX-License-Identifier: MIT */
/*
 * vmar_check(): recompute every cached or derived fact and compare.
 *
 * It trusts nothing the operations maintain incrementally: the tree's
 * augmented fields, the counters and the page table are all re-derived.
 * The first broken rule is reported through env->log with the address
 * where it was found; then VMAR_ECORRUPT is returned.
 */
#include "atomic.h"
#include "fmt.h"
#include "frame.h"
#include "mapping.h"

static int report(const struct vmar_space *space, const char *rule,
                  vmar_addr_t where)
{
    struct vmar__line l;

    vmar__line_reset(&l);
    vmar__line_str(&l, "vmar_check: ");
    vmar__line_str(&l, rule);
    vmar__line_str(&l, " at 0x");
    vmar__line_hex(&l, where, 1);
    vmar__log(space->env, VMAR_LOG_ERROR, l.buf);
    return VMAR_ECORRUPT;
}

/* => caller holds the space lock, shared or exclusive. */
static const char *mapping_rule(const struct vmar_space *space,
                                const struct vmar__mapping *m)
{
    const vmar_addr_t s = m->node.start, e = m->node.end;

    if ((s | e) & (VMAR_PAGE_SIZE - 1) || s >= e)
        return "mapping unaligned or empty";
    if (s < space->user_lo || e > space->user_hi)
        return "mapping outside the user range";
    if (m->prot & ~m->max_prot || m->max_prot & ~(unsigned)VMAR_PROT_RWX)
        return "prot beyond max_prot";
    if (m->flags & ~(unsigned)(VMAR_MAPPING_KEPT_FLAGS |
                               VMAR_MAPPING_COW_SHARED | VMAR_MAPPING_FULL))
        return "unknown mapping flag";
    /* The short form is private anonymous memory, and only it. */
    if (vmar__mapping_full(m) ==
        (m->backing == VMAR_BACKING_ANON && !vmar__mapping_shared(m)))
        return "mapping form does not match its backing";
    if (vmar__iset_node_guarded(&m->node) != vmar__mapping_guarded(m->flags))
        return "guard does not match the stack flag";
    if (m->cache > VMAR_CACHE_UC ||
        (m->backing != VMAR_BACKING_DEVICE && m->cache != VMAR_CACHE_WB))
        return "unknown cache policy, or one on memory";
    const struct vmar_object *obj = vmar__mapping_object(m);
    if ((m->backing == VMAR_BACKING_OBJECT) != (obj != NULL) &&
        !(m->backing == VMAR_BACKING_ANON && vmar__mapping_shared(m)))
        return "object pointer does not match the backing";
    if (m->backing == VMAR_BACKING_ANON && vmar__mapping_shared(m) && !obj)
        return "shared anonymous mapping without its object";
    if (obj && vmar__atomic_load(&obj->refs) == 0)
        return "mapping holds an object with no reference";
    if (m->flags & VMAR_MAP_LOCKONFAULT && !vmar__mapping_locked(m))
        return "lock on fault without the lock";
    if (m->backing == VMAR_BACKING_DEVICE && vmar__mapping_locked(m))
        return "locked device mapping";
    return NULL;
}

/* Mappings one by one, neighbours pairwise, counters as sums.
 * => caller holds the space lock, shared or exclusive. */
static int check_mappings(const struct vmar_space *space)
{
    vmar_size_t total = 0, locked = 0;
    size_t count = 0;
    const char *why;

    for (struct vmar__iset_node *n = vmar__iset_first(&space->set); n;
         n = vmar__iset_next(n)) {
        const struct vmar__mapping *m = vmar__mapping_of(n);
        struct vmar__iset_node *next = vmar__iset_next(n);
        if ((why = mapping_rule(space, m)) != NULL)
            return report(space, why, n->start);
        if (next && vmar__mapping_can_merge(m, vmar__mapping_of(next)))
            return report(space, "mergeable neighbours left apart", n->end);
        total += n->end - n->start;
        if (vmar__mapping_locked(m))
            locked += n->end - n->start;
        count++;
    }
    if (locked != space->locked_vm)
        return report(space, "locked_vm differs from the locked mappings",
                      locked);
    if (total != space->total_vm)
        return report(space, "total_vm differs from the sum of sizes", total);
    if (count != space->set.count)
        return report(space, "map_count differs from the mappings", count);
    return 0;
}

/* A managed leaf's frame and write permission agree with its mapping:
 * a writable leaf of private memory is an anonymous frame no one else
 * holds (else a write would leak into another space or the object); a
 * shared mapping never maps anonymous frames.
 * => caller holds the space lock, shared or exclusive, and the
 *    page-table lock. */
static const char *managed_rule(const struct vmar_space *space,
                                const struct vmar__mapping *m,
                                const struct vmar_pte *pte)
{
    const struct vmar_env *env = space->env;
    const bool anon = vmar__frame_is_anon(env, pte->pa);

    if (vmar__frame_refs(env, pte->pa) == 0)
        return "leaf maps a frame with no reference";
    if (vmar__mapping_shared(m) && anon && vmar__mapping_object(m))
        return "shared mapping maps an anonymous frame";
    if (vmar__mapping_cow(m) && pte->prot & VMAR_PROT_WRITE &&
        (!anon || vmar__frame_refs(env, pte->pa) != 1))
        return "writable leaf on a shared copy-on-write frame";
    if (!vmar__mapping_object(m) && !anon)
        return "anonymous memory maps an object page";
    return NULL;
}

/* Every present leaf lies in a mapping and grants no more than it; device
 * leaves translate to the mapping's physical range with its cache policy
 * as the backend stores it (vmar__pmap_cache_as());
 * the managed ones obey managed_rule() and are counted by the RSS
 * counters. A merge join: O(mappings + leaves).
 * => caller holds the space lock, shared or exclusive, and the
 *    page-table lock. */
static int check_leaves(const struct vmar_space *space)
{
    struct vmar__iset_node *n = vmar__iset_first(&space->set);
    vmar_addr_t va = 0;
    size_t anon = 0, file = 0;
    vmar_size_t device = 0;
    struct vmar_pte pte;
    const char *why;

    while (vmar__pmap_find_next(space, &va, vmar__pmap_user_top(space), &pte) ==
           0) {
        while (n && n->end <= va)
            n = vmar__iset_next(n);
        if (!n || n->start > va)
            return report(space, "present leaf outside every mapping", va);
        const struct vmar__mapping *m = vmar__mapping_of(n);
        if (pte.prot & ~m->prot)
            return report(space, "leaf grants more than its mapping", va);
        if (m->backing == VMAR_BACKING_DEVICE) {
            if (pte.flags & VMAR_PTE_MANAGED ||
                pte.pa != vmar__mapping_offset_of(m, va) ||
                pte.cache !=
                    vmar__pmap_cache_as(space, (enum vmar_cache)m->cache))
                return report(space, "device leaf differs from its mapping",
                              va);
            device++;
        } else if (!(pte.flags & VMAR_PTE_MANAGED)) {
            return report(space, "unmanaged leaf in anonymous memory", va);
        } else if ((why = managed_rule(space, m, &pte)) != NULL) {
            return report(space, why, va);
        } else if (vmar__frame_is_anon(space->env, pte.pa)) {
            anon++;
        } else {
            file++;
        }
        va += VMAR_PAGE_SIZE;
        if (va >= vmar__pmap_user_top(space))
            break;
    }
    size_t rss_anon, rss_file;
    vmar__rss_read(space, &rss_anon, &rss_file);
    if (anon != rss_anon)
        return report(space, "anonymous RSS differs from the leaves", anon);
    if (file != rss_file)
        return report(space, "file RSS differs from the leaves", file);
    if (device << VMAR_PAGE_SHIFT !=
        vmar__device_bytes(space, space->user_lo, space->user_hi))
        return report(space, "a device page has no leaf", device);
    return 0;
}

/* Every guard marker lies in a mapping that may hold one (not device
 * memory), and only in a space that knows it may hold markers (else
 * removing a mapping would leave it behind). A merge join: O(mappings +
 * markers).
 * => caller holds the space lock, shared or exclusive, and the
 *    page-table lock. */
static int check_guards(const struct vmar_space *space)
{
    struct vmar__iset_node *n = vmar__iset_first(&space->set);
    const vmar_addr_t top = vmar__pmap_user_top(space);
    vmar_addr_t va = 0;

    for (; va < top && vmar__pmap_find_guard(space, &va, top) == 0;
         va += VMAR_PAGE_SIZE) {
        if (!space->guarded)
            return report(space, "guard marker in a space without any", va);
        while (n && n->end <= va)
            n = vmar__iset_next(n);
        if (!n || n->start > va)
            return report(space, "guard marker outside every mapping", va);
        if (vmar__mapping_of(n)->backing == VMAR_BACKING_DEVICE)
            return report(space, "guard marker in device memory", va);
    }
    return 0;
}

int vmar_check(struct vmar_space *h)
{
    struct vmar_space *space = vmar__base(h);
    const char *why;
    int rc;

    if (!space)
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_SHARED);
    why = vmar__iset_check(&space->set);
    rc = why ? report(space, why, 0) : check_mappings(space);
    if (!rc) {
        vmar__pt_lock_all(space);
        rc = check_leaves(space);
        if (!rc)
            rc = check_guards(space);
        vmar__pt_unlock_all(space);
    }
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return rc;
}
