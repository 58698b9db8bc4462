/* SPDX-License-Identifier: MIT */
/*
 * vmar_protect(): change permissions over a range, atomically; and the
 * in-place change it shares with vmar_advise() (vmar__attr_change).
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
#include "fault.h"
#include "frame.h"
#include "mapping.h"

static unsigned attr_flags(const struct vmar__mapping *m,
                           const struct vmar__attr_change *c)
{
    return ((m->flags & VMAR_MAPPING_KEPT_FLAGS) & ~c->clear) | c->set;
}

static bool attr_differs(const struct vmar__mapping *m,
                         const struct vmar__attr_change *c)
{
    switch (c->kind) {
    case VMAR_ATTR_PROT:
        return m->prot != c->prot;
    case VMAR_ATTR_FLAGS:
        if (c->lock && m->backing == VMAR_BACKING_DEVICE)
            return false;
        return attr_flags(m, c) != (m->flags & VMAR_MAPPING_KEPT_FLAGS);
    default:
        return false;
    }
}

/* Walk [lo, hi): VMAR_ENOMEM at a hole, else the first refusal, else 0
 * with `pos` located at lo, the splits the ends need in `cuts`, by the
 * form of the node each takes (an end mapping that keeps its attributes
 * is not cut), and in `tables` whether a
 * cut may split a huge leaf. Reads only.
 * => caller holds the space lock exclusively. */
static int attr_survey(const struct vmar_space *space, vmar_addr_t lo,
                       vmar_addr_t hi, const struct vmar__attr_change *c,
                       struct vmar__range_pos *pos, unsigned cuts[2],
                       bool *tables)
{
    vmar_addr_t covered = lo;
    const struct vmar__mapping *first = NULL, *last = NULL;

    vmar__range_locate(space, lo, pos);
    for (struct vmar__mapping *m = vmar__range_first_in(pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (m->node.start > covered)
            return VMAR_ENOMEM;
        if (c->kind == VMAR_ATTR_PROT && c->prot & ~m->max_prot)
            return VMAR_EACCES;
        if ((c->kind == VMAR_ATTR_PROT && vmar__mapping_sealed(m)) ||
            (c->discard && vmar__seal_refuses_discard(m)))
            return VMAR_EPERM;
        const unsigned kind = vmar__mapping_kind(m);
        if (kind & c->einval)
            return VMAR_EINVAL;
        if (kind & c->eacces)
            return VMAR_EACCES;
        if (c->punch &&
            !(vmar__mapping_object(m) && vmar__obj_can_punch(m->ext.object)))
            return VMAR_ENOTSUP;
        covered = m->node.end;
        if (!first)
            first = m;
        last = m;
    }
    /* With lo < hi, covered reaches hi only past a mapping: the NULL tests
     * add nothing but say so to the compiler. */
    if (covered < hi || !first || !last)
        return VMAR_ENOMEM;
    first = first->node.start < lo && attr_differs(first, c) ? first : NULL;
    last = last->node.end > hi && attr_differs(last, c) ? last : NULL;
    cuts[0] = cuts[1] = 0;
    if (first)
        cuts[vmar__mapping_full(first)]++;
    if (last)
        cuts[vmar__mapping_full(last)]++;
    /* Only new permissions touch leaves; an end not cut keeps its own.
     * Dropping refuses device mappings, the only ones with huge leaves,
     * so it splits none either. */
    *tables =
        c->kind == VMAR_ATTR_PROT && vmar__edges_may_split(first, last, lo, hi);
    return 0;
}

/* Give `m` its new flags, keeping the locked counter exact.
 * => caller holds the space lock exclusively. */
static void attr_set_flags(struct vmar_space *space, struct vmar__mapping *m,
                           const struct vmar__attr_change *c)
{
    const vmar_size_t size = vmar__mapping_size(m);

    vmar__locked_add(space, m, (vmar_size_t)0 - size);
    vmar__mapping_set_flags(m, attr_flags(m, c));
    vmar__locked_add(space, m, size);
}

/* Cut each mapping whose attributes differ to [lo, hi) (prepared nodes),
 * change it, coalesce. `pos` is the survey's: the set is unchanged.
 * => caller holds the space lock exclusively. */
static void attr_commit(struct vmar_space *space, vmar_addr_t lo,
                        vmar_addr_t hi, const struct vmar__attr_change *c,
                        const struct vmar__range_pos *pos,
                        struct vmar__prep *prep, struct vmar__tlb *batch)
{
    bool inside = false; /* one mapping, cut at both ends */

    for (struct vmar__mapping *m = vmar__range_first_in(pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if (!attr_differs(m, c))
            continue;
        inside = m->node.start < lo && m->node.end > hi;
        m = vmar__mapping_isolate(space, m, lo, hi, prep);
        if (c->kind == VMAR_ATTR_FLAGS) {
            attr_set_flags(space, m, c);
            continue;
        }
        vmar__mapping_set_prot(m, c->prot);
        vmar__pmap_protect(space, m->node.start, vmar__mapping_size(m),
                           c->prot | (vmar__mapping_keep_ro(m)
                                          ? (unsigned)VMAR_PROTECT_KEEP_RO
                                          : 0u),
                           &prep->tables, batch);
    }
    /* New permissions in the middle of one mapping: each cut leaves two
     * pieces whose permissions differ, and no other pair changed, so
     * there is nothing to merge (a split, the commonest protect). */
    if (inside && c->kind == VMAR_ATTR_PROT)
        return;
    /* Only splits happened: the position still tells where to start. */
    vmar__coalesce_from(space, vmar__coalesce_start(pos, lo), hi);
}

/* REMOVE: the other mappings of the punched objects in this space lose
 * their leaves of the punched pages too, as Linux's
 * unmap_mapping_range() zaps every mapping of the file range; a private
 * mapping keeps its own copies (Linux's even_cows is false), i.e. every
 * leaf that maps a private anonymous frame. Other spaces keep theirs
 * (vmar.h). `pos` is the survey's.
 * => caller holds the space lock exclusively, with every stripe of the
 *    gate closed. */
static void punch_zap(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                      const struct vmar__range_pos *pos,
                      struct vmar_frame_list *tables, struct vmar__tlb *batch)
{
    for (struct vmar__mapping *m = vmar__range_first_in(pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        const vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        const uint64_t olo = vmar__mapping_offset_of(m, s);
        const uint64_t ohi = olo + (VMAR_MIN(m->node.end, hi) - s);
        for (struct vmar__iset_node *n = vmar__iset_first(&space->set); n;
             n = vmar__iset_next(n)) {
            const struct vmar__mapping *o = vmar__mapping_of(n);
            if (o == m || vmar__mapping_object(o) != m->ext.object)
                continue;
            const uint64_t a = VMAR_MAX(olo, o->ext.offset);
            const uint64_t b =
                VMAR_MIN(ohi, o->ext.offset + vmar__mapping_size(o));
            if (a >= b)
                continue;
            vmar_addr_t va = o->node.start + (a - o->ext.offset);
            const vmar_addr_t end = va + (b - a);
            struct vmar_pte pte;
            if (vmar__mapping_shared(o)) {
                vmar__pmap_unmap(space, va, end - va, tables, batch);
                continue;
            }
            while (va < end &&
                   vmar__pmap_find_next(space, &va, end, &pte) == 0) {
                if (!vmar__frame_is_anon(space->env, pte.pa))
                    vmar__pmap_unmap(space, va, VMAR_PAGE_SIZE, tables, batch);
                va += VMAR_PAGE_SIZE;
            }
        }
    }
}

/* Punch each mapping's part of [lo, hi) out of its object, once the
 * space's leaves there are gone. `pos` is the survey's: the set is
 * unchanged (dropping changes no mapping).
 * => caller holds the space lock exclusively. */
static void attr_punch(vmar_addr_t lo, vmar_addr_t hi,
                       const struct vmar__range_pos *pos)
{
    for (struct vmar__mapping *m = vmar__range_first_in(pos, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        const vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        const vmar_addr_t e = VMAR_MIN(m->node.end, hi);
        vmar__obj_punch(m->ext.object, vmar__mapping_offset_of(m, s), e - s);
    }
}

int vmar__attr_change(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi,
                      const struct vmar__attr_change *c)
{
    struct vmar__range_pos pos;
    struct vmar__prep prep = {0};
    struct vmar__tlb batch;
    unsigned cuts[2];
    bool tables;
    int rc = attr_survey(space, lo, hi, c, &pos, cuts, &tables);

    if (rc || c->kind == VMAR_ATTR_CHECK)
        return rc;
    /* Only growth is refused (see docs/DESIGN.md, "Limits"). */
    if (cuts[0] + cuts[1] &&
        space->set.count + cuts[0] + cuts[1] > space->max_map_count)
        return VMAR_ENOMEM;
    rc = vmar__prep_nodes(space, &prep, cuts);
    if (!rc && tables)
        rc = vmar__pmap_prepare(space, lo, hi - lo, VMAR_PREP_CHANGE,
                                &prep.tables);
    /* Markers need every leaf table of the range. */
    if (!rc && c->kind == VMAR_ATTR_GUARD_INSTALL)
        rc =
            vmar__pmap_prepare(space, lo, hi - lo, VMAR_PREP_MAP, &prep.tables);
    if (!rc) {
        /* Dropping pages and markers change no mapping, only the table,
         * where the range has one (an install makes one). */
        const bool drop =
            c->kind != VMAR_ATTR_PROT && c->kind != VMAR_ATTR_FLAGS;
        /* A punch may zap leaves anywhere in the space: the whole gate. */
        const bool table = c->punch ? vmar__commit_begin(space, space->user_lo,
                                                         space->user_hi, true)
                                    : vmar__commit_begin(space, lo, hi, drop);
        vmar__tlb_init(&batch, space);
        if (!drop)
            attr_commit(space, lo, hi, c, &pos, &prep, &batch);
        else if (c->kind == VMAR_ATTR_GUARD_INSTALL)
            (void)vmar__pmap_guard(space, lo, hi - lo, VMAR_GUARD_INSTALL,
                                   &prep.tables, &batch);
        else if (table && c->kind == VMAR_ATTR_GUARD_REMOVE)
            vmar__pmap_unguard(space, lo, hi - lo, &batch);
        else if (table)
            vmar__pmap_unmap(space, lo, hi - lo, &prep.tables, &batch);
        if (c->punch && table)
            punch_zap(space, lo, hi, &pos, &prep.tables, &batch);
        vmar__tlb_finish(&batch);
        if (c->punch)
            attr_punch(lo, hi, &pos);
    }
    vmar__prep_release(space, &prep);
    return rc;
}

void vmar__attr_change_all(struct vmar_space *space,
                           const struct vmar__attr_change *c)
{
    for (struct vmar__iset_node *n = vmar__iset_first(&space->set); n;
         n = vmar__iset_next(n)) {
        struct vmar__mapping *m = vmar__mapping_of(n);
        if (attr_differs(m, c))
            attr_set_flags(space, m, c);
    }
    vmar__coalesce(space, space->user_lo, space->user_hi);
}

/* The pieces of [lo, hi) that protecting to `prot` makes writable while
 * they are locked private memory: Linux's mprotect_fixup() populates
 * them again, breaking copy-on-write. At most PROTECT_REFILL pieces are
 * kept; a last one then stretches to hi (more is populated than Linux
 * would, never less).
 * => caller holds the space lock. */
#define PROTECT_REFILL 8u
struct refill {
    vmar_addr_t lo[PROTECT_REFILL], hi[PROTECT_REFILL];
    unsigned n;
};

static void locked_gains_write(const struct vmar_space *space, vmar_addr_t lo,
                               vmar_addr_t hi, unsigned prot, struct refill *r)
{
    r->n = 0;
    /* No locked mapping in the space (locked_vm counts their bytes): no
     * walk, so a protect to writable costs one descent, not two. */
    if (!(prot & VMAR_PROT_WRITE) || !space->locked_vm)
        return;
    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        if ((m->flags & (VMAR_MAPPING_LOCK_FLAGS | VMAR_MAP_SHARED)) !=
                VMAR_MAP_LOCKED ||
            m->prot & VMAR_PROT_WRITE)
            continue;
        if (r->n == PROTECT_REFILL) {
            r->hi[r->n - 1] = hi;
            return;
        }
        r->lo[r->n] = VMAR_MAX(m->node.start, lo);
        r->hi[r->n] = VMAR_MIN(m->node.end, hi);
        r->n++;
    }
}

int vmar_protect(struct vmar_space *h, vmar_addr_t addr, vmar_size_t size,
                 unsigned prot)
{
    struct vmar_space *space = vmar__base(h);
    struct refill refill; /* only the first refill.n ranges are read */
    refill.n = 0;
    if (!space)
        return VMAR_EINVAL;
    vmar__lock_layout(space);
    int rc = vmar__check_range(space, addr, size);
    if (!rc && prot & ~(unsigned)VMAR_PROT_RWX)
        rc = VMAR_EINVAL;
    if (!rc) /* the new permissions only: lowering them needs no right */
        rc = vmar__check_rights(h, prot);
    if (!rc)
        locked_gains_write(space, addr, addr + size, prot, &refill);
    if (!rc)
        rc = vmar__attr_change(space, addr, addr + size,
                               &(struct vmar__attr_change){
                                   .kind = VMAR_ATTR_PROT,
                                   .prot = prot,
                               });
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    for (unsigned i = 0; !rc && i < refill.n; i++)
        (void)vmar__populate_locked(space, refill.lo[i], refill.hi[i], true);
    return rc;
}
