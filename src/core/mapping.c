/* SPDX-License-Identifier: MIT */
/*
 * Split, trim, merge and carve: the layout changes every operation is
 * built from. All of them run in the commit phase, with the space lock
 * held exclusively, and cannot fail: nodes they need were prepared.
 */
#include "mapping.h"

bool vmar__mapping_can_merge(const struct vmar__mapping *a,
                             const struct vmar__mapping *b)
{
    if (a->node.end != b->node.start || a->prot != b->prot ||
        a->max_prot != b->max_prot ||
        (a->flags ^ b->flags) & ~VMAR_MAPPING_COW_SHARED ||
        a->backing != b->backing)
        return false;
    switch (a->backing) {
    case VMAR_BACKING_ANON:
        if (!vmar__mapping_full(a) && !vmar__mapping_full(b))
            return true;
        /* Shared anonymous memory: one object each mmap (Linux shmem). */
        /* fall through */
    case VMAR_BACKING_OBJECT:
        /* The same object, continued where `a` ends (Linux's vm_pgoff
         * rule); the cache policy plays no part for objects. */
        return vmar__mapping_object(a) == vmar__mapping_object(b) &&
               vmar__mapping_offset_of(a, a->node.end) ==
                   vmar__mapping_offset(b);
    case VMAR_BACKING_DEVICE:
    default:
        return false;
    }
}

struct vmar__mapping *vmar__mapping_first_in(const struct vmar_space *space,
                                             vmar_addr_t lo, vmar_addr_t hi)
{
    struct vmar__iset_node *n;

    if (lo >= hi)
        return NULL; /* an empty range meets nothing */
    n = vmar__iset_lower_bound(&space->set, lo);
    return n && n->start < hi ? vmar__mapping_of(n) : NULL;
}

struct vmar__mapping *vmar__mapping_next_in(const struct vmar__mapping *m,
                                            vmar_addr_t hi)
{
    struct vmar__iset_node *n;

    /* Whatever follows starts at or above m's end: no need to find it. */
    if (m->node.end >= hi)
        return NULL;
    n = vmar__iset_next(&m->node);
    return n && n->start < hi ? vmar__mapping_of(n) : NULL;
}

void vmar__range_locate(const struct vmar_space *space, vmar_addr_t lo,
                        struct vmar__range_pos *pos)
{
    pos->next = vmar__iset_lower_bound_pred(&space->set, lo, &pos->pred);
}

/* `piece` becomes m's attributes from `at` on (m.start < at < m.end), with
 * its own reference on m's object; the index is the caller's. */
static void mapping_copy_from(const struct vmar__mapping *m, vmar_addr_t at,
                              struct vmar__mapping *piece)
{
    vmar__mapping_copy(piece, m); /* same attributes and form */
    piece->node.start = at;
    if (vmar__mapping_object(m))
        vmar_object_ref(m->ext.object);
    if (vmar__mapping_has_offset(m))
        piece->ext.offset = vmar__mapping_offset_of(m, at);
}

void vmar__mapping_split(struct vmar_space *space, struct vmar__mapping *m,
                         vmar_addr_t at, struct vmar__mapping *tail)
{
    VMAR_ASSERT(space->env, m->node.start < at && at < m->node.end);
    /*
     *   before:  |m.start ............................. m.end|
     *   after:   |m.start ...... at)|[at (tail) ........ m.end|
     * Every stack piece keeps the guard: below the tail it lies inside m
     * and costs nothing, and it matters again if m is unmapped.
     */
    mapping_copy_from(m, at, tail);
    vmar__iset_split(&space->set, &m->node, at, &tail->node);
}

struct vmar__mapping *vmar__mapping_isolate(struct vmar_space *space,
                                            struct vmar__mapping *m,
                                            vmar_addr_t lo, vmar_addr_t hi,
                                            struct vmar__prep *prep)
{
    if (m->node.start < lo && m->node.end > hi) {
        /* Both cuts inside m (a change in its middle): the two new pieces
         * enter the index together, one slot shift for both. */
        const bool full = vmar__mapping_full(m);
        struct vmar__mapping *mid = vmar__prep_take(space, prep, full);
        struct vmar__mapping *tail = vmar__prep_take(space, prep, full);

        mapping_copy_from(m, lo, mid);
        mapping_copy_from(m, hi, tail);
        vmar__iset_split3(&space->set, &m->node, lo, &mid->node, hi,
                          &tail->node);
        return mid;
    }
    if (m->node.start < lo) {
        /* Keep [start, lo) as is; continue with the new tail. */
        struct vmar__mapping *tail =
            vmar__prep_take(space, prep, vmar__mapping_full(m));
        vmar__mapping_split(space, m, lo, tail);
        m = tail;
    }
    if (m->node.end > hi)
        vmar__mapping_split(
            space, m, hi, vmar__prep_take(space, prep, vmar__mapping_full(m)));
    return m;
}

void vmar__mapping_trim_front(struct vmar_space *space, struct vmar__mapping *m,
                              vmar_addr_t at)
{
    VMAR_ASSERT(space->env, m->node.start < at && at < m->node.end);
    if (vmar__mapping_has_offset(m))
        m->ext.offset = vmar__mapping_offset_of(m, at);
    m->node.start = at;
    vmar__iset_update(&space->set, &m->node);
}

void vmar__mapping_free(struct vmar_space *space, struct vmar__mapping *m)
{
    const struct vmar_env *env = space->env;

    if (vmar__mapping_object(m))
        vmar_object_unref(m->ext.object);
    env->free(env->ctx, m, vmar__mapping_bytes(vmar__mapping_full(m)));
}

void vmar__mapping_destroy(struct vmar_space *space, struct vmar__mapping *m)
{
    vmar__iset_remove(&space->set, &m->node);
    space->total_vm -= vmar__mapping_size(m);
    vmar__locked_add(space, m, (vmar_size_t)0 - vmar__mapping_size(m));
    vmar__mapping_free(space, m);
    vmar__index_slack(space);
}

void vmar__coalesce(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi)
{
    struct vmar__range_pos pos;

    /* Start one mapping early so the pair straddling `lo` is seen. */
    vmar__range_locate(space, lo, &pos);
    vmar__coalesce_from(space, pos.pred ? pos.pred : pos.next, hi);
}

/* Absorb b, a's successor, into a when the two can merge; whether it did.
 * => caller holds the space lock exclusively. */
static bool coalesce_pair(struct vmar_space *space, struct vmar__mapping *a,
                          struct vmar__mapping *b)
{
    if (!vmar__mapping_can_merge(a, b))
        return false;
    /* a keeps its start, offset and guard, and the bytes stay mapped, so
     * total_vm does not change. */
    a->flags |= b->flags & VMAR_MAPPING_COW_SHARED;
    vmar__iset_merge_next(&space->set, &a->node, &b->node);
    vmar__mapping_free(space, b);
    vmar__index_slack(space);
    return true;
}

void vmar__coalesce_new(struct vmar_space *space, struct vmar__iset_node *pred,
                        struct vmar__mapping *m)
{
    const vmar_addr_t hi = m->node.end; /* m is freed if pred absorbs it */
    struct vmar__iset_node *n = &m->node;

    if (pred && coalesce_pair(space, vmar__mapping_of(pred), m))
        n = pred;
    vmar__coalesce_from(space, n, hi);
}

void vmar__coalesce_from(struct vmar_space *space, struct vmar__iset_node *n,
                         vmar_addr_t hi)
{
    /* Only a pair that meets at or below `hi` can have become mergeable:
     * a mapping that still ends above hi was not changed (a change cuts
     * at hi), nor was its successor, so the two were apart before and
     * still are. Stopping there keeps a random split or merge from
     * reading the untouched neighbour's mapping, a cache miss among many
     * mappings. */
    while (n && n->end <= hi) {
        struct vmar__iset_node *next = vmar__iset_next(n);
        if (!next)
            break;
        if (!coalesce_pair(space, vmar__mapping_of(n), vmar__mapping_of(next)))
            n = next;
    }
}

void vmar__carve_cost(const struct vmar_space *space, vmar_addr_t lo,
                      vmar_addr_t hi, struct vmar__carve_cost *cost)
{
    struct vmar__range_pos pos;

    vmar__carve_cost_at(space, lo, hi, cost, &pos);
}

void vmar__carve_cost_at(const struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi, struct vmar__carve_cost *cost,
                         struct vmar__range_pos *pos)
{
    const struct vmar__mapping *first = NULL, *last = NULL;

    *cost = (struct vmar__carve_cost){0};
    vmar__range_locate(space, lo, pos);
    for (struct vmar__mapping *m = vmar__range_first_in(pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (!first)
            first = m;
        last = m;
        vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        vmar_addr_t e = VMAR_MIN(m->node.end, hi);
        cost->mapped += e - s;
        cost->sealed |= vmar__mapping_sealed(m);
        if (m->node.start < lo && m->node.end > hi) {
            cost->needs_node = true;
            cost->nodes[vmar__mapping_full(m)] = 1;
        } else if (m->node.start >= lo && m->node.end <= hi)
            cost->removed++;
    }
    cost->tables = vmar__edges_may_split(first, last, lo, hi);
}

void vmar__carve(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                 struct vmar__prep *prep, struct vmar__tlb *batch)
{
    struct vmar__range_pos pos;

    vmar__range_locate(space, lo, &pos);
    (void)vmar__carve_at(space, lo, hi, &pos, prep, batch);
}

struct vmar__iset_node *vmar__carve_at(struct vmar_space *space, vmar_addr_t lo,
                                       vmar_addr_t hi,
                                       const struct vmar__range_pos *pos,
                                       struct vmar__prep *prep,
                                       struct vmar__tlb *batch)
{
    struct vmar__mapping *m = vmar__range_first_in(pos, hi);
    /* Only the first mapping can start below lo; it keeps [start, lo)
     * and becomes lo's predecessor. Every other one ends above lo. */
    struct vmar__iset_node *pred =
        m && m->node.start < lo ? &m->node : pos->pred;

    /* One backend call for the whole range: holes hold no leaves. */
    if (!prep->no_table) {
        vmar__pmap_unmap(space, lo, hi - lo, &prep->tables, batch);
        vmar__pmap_unguard(space, lo, hi - lo, batch);
    }

    while (m) {
        struct vmar__mapping *next = vmar__mapping_next_in(m, hi);
        vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        vmar_addr_t e = VMAR_MIN(m->node.end, hi);

        if (m->node.start < lo && m->node.end > hi) {
            /* |m ... [lo  hi) ... m|: keep both ends, one new node. */
            vmar__mapping_split(
                space, m, hi,
                vmar__prep_take(space, prep, vmar__mapping_full(m)));
            m->node.end = lo;
            vmar__iset_update(&space->set, &m->node);
        } else if (m->node.start < lo) {
            m->node.end = lo;
            vmar__iset_update(&space->set, &m->node);
        } else if (m->node.end > hi) {
            vmar__mapping_trim_front(space, m, hi);
        } else {
            vmar__mapping_destroy(space, m);
            m = next;
            continue;
        }
        space->total_vm -= e - s;
        vmar__locked_add(space, m, (vmar_size_t)0 - (e - s));
        m = next;
    }
    return pred;
}

vmar_size_t vmar__device_bytes(const struct vmar_space *space, vmar_addr_t lo,
                               vmar_addr_t hi)
{
    vmar_size_t bytes = 0;

    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi); m;
         m = vmar__mapping_next_in(m, hi))
        if (m->backing == VMAR_BACKING_DEVICE)
            bytes += VMAR_MIN(m->node.end, hi) - VMAR_MAX(m->node.start, lo);
    return bytes;
}

bool vmar__commit_begin(struct vmar_space *space, vmar_addr_t lo,
                        vmar_addr_t hi, bool unmaps)
{
    vmar_addr_t slo = lo, shi = hi;
    struct vmar__iset_node *n;

    if (!vmar__gated(space))
        return true;
    /* What a cut trims or a merge joins meets the range or adjoins it. */
    if (lo > 0 && (n = vmar__iset_find(&space->set, lo - 1)) != NULL)
        slo = n->start;
    if ((n = vmar__iset_find(&space->set, hi)) != NULL)
        shi = n->end;
    vmar__gate_commit(space, slo, shi);
    return !unmaps || vmar__gate_unmap(space, lo, hi);
}
