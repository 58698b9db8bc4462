/* SPDX-License-Identifier: MIT */
/*
 * vmar_remap() (mremap) and vmar_resize(): shrink, grow in place, or move.
 *
 * Every check and every allocation comes before the first change. The
 * reference shrinks the old mapping before it knows whether the move will
 * succeed, and loses it when the move fails; here a failed remap leaves
 * the space as it was.
 *
 * A move keeps the frames. With the backend's transfer, one pass moves
 * each leaf word from the source to the target, its reference with it
 * (whole leaf tables relinked where source and target are aligned alike).
 * Otherwise, and whenever a piece is device memory, leaves are re-entered
 * at the target with the same frame, permissions and flags, and removed
 * from the source with a batch in transfer mode (their references move
 * with them, nothing is freed); device ranges are re-installed from their
 * physical address.
 *
 *   source  [old ........ old+old_size)        target [new .. new+new_size)
 *   pieces  | A | B |  (a pure move may span several mappings)
 *   after:  hole (or, with DONTUNMAP, A and B mapped but empty)
 *           target | A' | B' | (+ growth of the last piece)
 */
#include "fault.h"
#include "frame.h"
#include "mapping.h"
#include "placement.h"

#define KNOWN_REMAP                                                            \
    (VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP)

/* Span of one last-level page table: table reservations are made once per
 * span the moved leaves land in. */
#define TABLE_SPAN ((vmar_size_t)1 << 21)

struct remap {
    vmar_addr_t old, new_addr;
    vmar_size_t old_size, new_size;
    unsigned flags;
    struct vmar__mapping *first; /* mapping at `old` */
    size_t pieces;               /* mappings meeting [old, old+old_size) */
    /* Mappings the source's ends cut (0 to 2): each adds a node, and the
     * count limit charges them, as vmar_map() charges its cuts. By the
     * form of the node (vmar__prep_nodes). */
    unsigned cuts[2];
    bool device; /* a piece is device memory (installed anew at the target) */
    struct vmar__carve_cost cost; /* of the FIXED target */
    /* Nodes for DONTUNMAP's target copies, chained through node.leaf_bits. */
    struct vmar__mapping *spare;
    /* The mapping grew and is locked: its new pages are populated after
     * the call (Linux's mremap mm_populate()s them). */
    bool populate;
};

static vmar_size_t round_page(vmar_size_t x, bool *overflow)
{
    vmar_size_t r = (x + VMAR_PAGE_SIZE - 1) & ~(VMAR_PAGE_SIZE - 1);
    *overflow = r < x;
    return r;
}

/* Argument checks with Linux's errno for each (mm/mremap.c order). */
static int remap_validate(const struct vmar_space *space, struct remap *r)
{
    bool o1, o2;

    if (r->flags & ~(unsigned)KNOWN_REMAP)
        return VMAR_EINVAL;
    if (r->flags & (VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP) &&
        !(r->flags & VMAR_REMAP_MAYMOVE))
        return VMAR_EINVAL;
    if (r->flags & VMAR_REMAP_DONTUNMAP && r->old_size != r->new_size)
        return VMAR_EINVAL;
    if (r->old & (VMAR_PAGE_SIZE - 1))
        return VMAR_EINVAL;
    r->old_size = round_page(r->old_size, &o1);
    r->new_size = round_page(r->new_size, &o2);
    if (o1 || o2 || r->old_size == 0 || r->new_size == 0)
        return VMAR_EINVAL;
    if (r->flags & VMAR_REMAP_FIXED) {
        if (r->new_addr & (VMAR_PAGE_SIZE - 1) ||
            vmar__check_range(space, r->new_addr, r->new_size))
            return VMAR_EINVAL;
        if (r->new_addr < r->old + r->old_size &&
            r->old < r->new_addr + r->new_size)
            return VMAR_EINVAL; /* overlapping target */
    }
    return 0;
}

/* The source: mapped from `old` on, without holes, by one mapping when
 * the size changes (several for a pure move).
 * => caller holds the space lock exclusively. */
static int remap_source(const struct vmar_space *space, struct remap *r)
{
    const vmar_addr_t hi = r->old + r->old_size;
    vmar_addr_t covered = r->old;
    struct vmar__iset_node *n;

    if (hi < r->old || r->old < space->user_lo || hi > space->user_hi)
        return VMAR_EFAULT;
    n = vmar__iset_find(&space->set, r->old);
    if (!n)
        return VMAR_EFAULT;
    r->first = vmar__mapping_of(n);
    r->pieces = 0;
    r->device = false;
    const struct vmar__mapping *last = r->first;
    for (struct vmar__mapping *m = r->first; m;
         m = vmar__mapping_next_in(m, hi)) {
        if (m->node.start > covered)
            return VMAR_EFAULT; /* a hole */
        if (vmar__mapping_sealed(m))
            return VMAR_EPERM;
        if (r->flags & VMAR_REMAP_DONTUNMAP && vmar__mapping_full(m))
            return VMAR_EINVAL; /* private anonymous only */
        covered = m->node.end;
        last = m;
        r->pieces++;
        r->device |= m->backing == VMAR_BACKING_DEVICE;
    }
    if (covered < hi)
        return VMAR_EFAULT;
    /* The last piece ends at `covered`, the first starts at or before old. */
    r->cuts[0] = r->cuts[1] = 0;
    if (r->first->node.start < r->old)
        r->cuts[vmar__mapping_full(r->first)]++;
    if (covered > hi)
        r->cuts[vmar__mapping_full(last)]++;
    if (r->pieces > 1 && r->old_size != r->new_size)
        return VMAR_EFAULT;
    if (r->new_size > r->old_size && r->first->backing == VMAR_BACKING_DEVICE)
        return VMAR_EFAULT; /* device ranges never grow */
    return 0;
}

/* => caller holds the space lock exclusively. */
static bool grows_in_place(const struct vmar_space *space,
                           const struct remap *r)
{
    const vmar_addr_t end = r->old + r->old_size;

    return r->first->node.end == end &&
           r->new_size - r->old_size <= space->user_hi - end &&
           !vmar__mapping_first_in(space, end, r->old + r->new_size);
}

/* Address-space and count limits: only growth is refused.
 * => caller holds the space lock exclusively. */
static int remap_limits(const struct vmar_space *space, const struct remap *r,
                        bool move)
{
    vmar_size_t added = r->new_size - VMAR_MIN(r->new_size, r->old_size);
    size_t count = space->set.count;

    if (move) {
        if (r->flags & VMAR_REMAP_DONTUNMAP) {
            added += r->old_size;
            count += r->pieces;
        }
        added -= VMAR_MIN(added, r->cost.mapped);
        /* Counted before merging, like vmar_map(): the source's cuts and
         * a target cut in two; mappings the target replaces go. A FIXED
         * carve that trims the source's own mapping may make a cut
         * unnecessary; then this charges one too many, never too few. */
        count += r->cuts[0] + r->cuts[1] + (r->cost.needs_node ? 1u : 0u);
        count -= VMAR_MIN(count, r->cost.removed);
    }
    return vmar__check_growth(space, added, count);
}

/* ---- shrink and grow in place -------------------------------------------
 * => caller holds the space lock exclusively. */
static int remap_grow_in_place(struct vmar_space *space, struct remap *r)
{
    struct vmar__mapping *m = r->first;
    int rc = remap_limits(space, r, false);

    if (rc)
        return rc;
    space->total_vm += r->new_size - r->old_size;
    vmar__locked_add(space, m, r->new_size - r->old_size);
    m->node.end = r->old + r->new_size;
    vmar__iset_update(&space->set, &m->node);
    vmar__coalesce(space, m->node.start, m->node.end);
    return 0;
}

/* ---- move -----------------------------------------------------------------
 * => caller holds the space lock exclusively. */
static void spare_release(struct vmar_space *space, struct remap *r)
{
    while (r->spare) {
        struct vmar__mapping *m = r->spare;
        r->spare = (struct vmar__mapping *)m->node.leaf_bits;
        space->env->free(space->env->ctx, m, VMAR_MAPPING_SHORT);
    }
}

/* DONTUNMAP moves private anonymous memory only: the copies are short.
 * => caller holds the space lock exclusively. */
static int spare_fill(struct vmar_space *space, struct remap *r, size_t n)
{
    const struct vmar_env *env = space->env;

    for (size_t i = 0; i < n; i++) {
        struct vmar__mapping *m = env->alloc(env->ctx, VMAR_MAPPING_SHORT,
                                             _Alignof(struct vmar__mapping));
        if (!m)
            return VMAR_ENOMEM;
        m->node.leaf_bits = (uintptr_t)r->spare;
        r->spare = m;
    }
    return 0;
}

/* Whether the move goes through the backend's one-pass transfer: not
 * when a piece is device memory, which is installed anew (it may take or
 * lose huge leaves at the target) and needs the unmap's edge splits. */
static bool transfers(const struct vmar_space *space, const struct remap *r)
{
    return !r->device && vmar__pmap_has_transfer(space);
}

/* Whether the commit unmaps anything before it installs the target's
 * leaves: a FIXED target's old contents, or the tail a shrinking move
 * drops. Either may free a table the target needs (the target may share
 * a last-level table with the source's tail), so the target's tables must
 * then all count as missing (REMAP), not be read from the table as it is
 * now. */
static bool carves_first(const struct remap *r)
{
    return r->cost.mapped != 0 || r->old_size > r->new_size;
}

/* Reserve the target's page tables: once per last-level table span that a
 * moved leaf or guard marker lands in (the whole piece for device
 * memory).
 * => caller holds the space lock exclusively. */
static int prepare_target(struct vmar_space *space, const struct remap *r,
                          vmar_addr_t to, struct vmar_frame_list *tables)
{
    const vmar_addr_t lo = r->old,
                      hi = r->old + VMAR_MIN(r->old_size, r->new_size);
    const enum vmar_mmu_prep kind =
        carves_first(r) ? VMAR_PREP_REMAP : VMAR_PREP_MAP;
    vmar_addr_t done = 0; /* target span already reserved, 0: none */
    int rc = 0;

    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi);
         m && !rc; m = vmar__mapping_next_in(m, hi)) {
        vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        vmar_addr_t e = VMAR_MIN(m->node.end, hi);

        if (m->backing == VMAR_BACKING_DEVICE) {
            rc = vmar__pmap_prepare(
                space, to + (s - lo), e - s,
                carves_first(r)
                    ? VMAR_PREP_REMAP
                    : vmar__device_prep(space, to + (s - lo),
                                        vmar__mapping_offset_of(m, s), false),
                tables);
            continue;
        }
        /* Leaves and guard markers alike need the target's tables. */
        while (!rc && s < e && vmar__pmap_find_used(space, &s, e) == 0) {
            vmar_addr_t t = to + (s - lo);
            vmar_addr_t span = t & ~(TABLE_SPAN - 1);
            if (span + 1 != done) {
                vmar_addr_t a = VMAR_MAX(span, to);
                vmar_addr_t b = VMAR_MIN(span + TABLE_SPAN, to + (hi - lo));
                rc = vmar__pmap_prepare(space, a, b - a, kind, tables);
                done = span + 1;
            }
            /* The rest of this target span is reserved: go on from the
             * source page that lands past it (one find_next per span). */
            s = VMAR_MAX(s + VMAR_PAGE_SIZE, lo + (span + TABLE_SPAN - to));
        }
    }
    return rc;
}

/* => caller holds the space lock exclusively. */
static int remap_prepare(struct vmar_space *space, struct remap *r,
                         vmar_addr_t to, struct vmar__prep *prep)
{
    const vmar_size_t len = VMAR_MIN(r->old_size, r->new_size);
    /* The source's cuts, and one for a target inside a mapping. */
    const unsigned nodes[2] = {r->cuts[0] + r->cost.nodes[0],
                               r->cuts[1] + r->cost.nodes[1]};
    int rc = vmar__prep_nodes(space, prep, nodes);

    if (!rc && r->flags & VMAR_REMAP_DONTUNMAP)
        rc = spare_fill(space, r, r->pieces);
    /* The move inserts every piece again at the target (or a copy of it). */
    if (!rc)
        rc = vmar__index_reserve(space, prep->nnodes + r->pieces);
    /* The source is unmapped as two ranges when the move also shrinks: the
     * dropped tail first, then the moved part. A huge leaf (device) that
     * straddles old+len is split by the first, so both ranges need their
     * own edge reservations. A transfer moves the part without unmapping
     * it, and no huge leaf is in it. */
    if (!rc && !transfers(space, r))
        rc = vmar__pmap_prepare(space, r->old, len, VMAR_PREP_CHANGE,
                                &prep->tables);
    if (!rc && r->old_size > len)
        rc = vmar__pmap_prepare(space, r->old + len, r->old_size - len,
                                VMAR_PREP_CHANGE, &prep->tables);
    if (!rc && r->cost.tables)
        rc = vmar__pmap_prepare(space, to, r->new_size, VMAR_PREP_CHANGE,
                                &prep->tables);
    if (!rc)
        rc = prepare_target(space, r, to, &prep->tables);
    return rc;
}

/* Cut the source's first and last mappings at the range's ends.
 * => caller holds the space lock exclusively. */
static void split_source(struct vmar_space *space, const struct remap *r,
                         struct vmar__prep *prep)
{
    const vmar_addr_t hi = r->old + r->old_size;
    /* Looked up again: carving a FIXED target out of the source's own
     * mapping (before the source) may have cut r->first in two. */
    struct vmar__mapping *m =
        vmar__mapping_of(vmar__iset_find(&space->set, r->old));

    if (m->node.start < r->old) {
        struct vmar__mapping *tail =
            vmar__prep_take(space, prep, vmar__mapping_full(m));
        vmar__mapping_split(space, m, r->old, tail);
    }
    m = vmar__mapping_of(vmar__iset_find(&space->set, hi - 1));
    if (m->node.end > hi)
        vmar__mapping_split(
            space, m, hi, vmar__prep_take(space, prep, vmar__mapping_full(m)));
}

/* vmar__pmap_move()'s callback: the page's RSS moves with it (the transfer-mode
 * unmap of the source takes it off again), tallied in a struct
 * vmar__rss_tally and added once per move_leaves. */
static void move_count(void *arg, vmar_paddr_t pa)
{
    struct vmar__rss_tally *t = arg;

    vmar__rss_tally_add(t, vmar__frame_is_anon(t->env, pa));
}

/* Re-enter every present leaf of [lo, hi) at `to`, same frame (device
 * ranges from their physical address).
 * => caller holds the space lock exclusively. */
static void move_leaves(struct vmar_space *space, vmar_addr_t lo,
                        vmar_addr_t hi, vmar_addr_t to, struct vmar__prep *prep)
{
    struct vmar__rss_tally rss = {space->env, 0, 0};

    for (struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi); m;
         m = vmar__mapping_next_in(m, hi)) {
        const vmar_addr_t s = VMAR_MAX(m->node.start, lo);
        const vmar_addr_t e = VMAR_MIN(m->node.end, hi);

        if (m->backing == VMAR_BACKING_DEVICE) {
            /* A device range is its physical address: install it anew. */
            struct vmar__mapping at = *m;
            at.node.start = to + (m->node.start - lo);
            vmar__device_install(space, &at, to + (s - lo), to + (e - lo),
                                 &prep->tables);
            continue;
        }
        vmar__pmap_move(space, s, e - s, to + (s - lo), &prep->tables,
                        move_count, &rss);
    }
    vmar__rss_add(space, rss.anon, rss.file);
}

/* Move the nodes of [lo, hi) to `to` (or copy them, DONTUNMAP).
 * => caller holds the space lock exclusively. */
static void move_nodes(struct vmar_space *space, struct remap *r,
                       vmar_addr_t lo, vmar_addr_t hi, vmar_addr_t to)
{
    struct vmar__mapping *m = vmar__mapping_first_in(space, lo, hi);

    while (m) {
        struct vmar__mapping *next = vmar__mapping_next_in(m, hi);
        struct vmar__mapping *t = m;
        if (r->flags & VMAR_REMAP_DONTUNMAP) {
            t = r->spare;
            r->spare = (struct vmar__mapping *)t->node.leaf_bits;
            VMAR_ASSERT(space->env, !vmar__mapping_full(m));
            vmar__mapping_copy(t, m);
            space->total_vm += vmar__mapping_size(t);
            /* The lock moves to the target; the source, left mapped but
             * empty, is unlocked (Linux clears its VM_LOCKED_MASK). */
            vmar__locked_add(space, t, vmar__mapping_size(t));
            vmar__locked_add(space, m, (vmar_size_t)0 - vmar__mapping_size(m));
            m->flags &= ~(uint32_t)VMAR_MAPPING_LOCK_FLAGS;
        } else {
            vmar__iset_remove(&space->set, &m->node);
        }
        t->node.start = to + (m->node.start - lo);
        t->node.end = to + (m->node.end - lo);
        vmar__iset_insert(&space->set, &t->node);
        m = next;
    }
}

/* => caller holds the space lock exclusively. */
static void remap_move_commit(struct vmar_space *space, struct remap *r,
                              vmar_addr_t to, struct vmar__prep *prep)
{
    const vmar_size_t len = VMAR_MIN(r->old_size, r->new_size);
    const vmar_addr_t lo = r->old, hi = r->old + len;
    struct vmar__tlb batch, moved;

    vmar__tlb_init(&batch, space);
    if (r->cost.mapped)
        vmar__carve(space, to, to + r->new_size, prep, &batch);
    split_source(space, r, prep);
    /* A move that also shrinks drops the source's tail first. */
    if (r->old_size > len)
        vmar__carve(space, hi, r->old + r->old_size, prep, &batch);
    vmar__tlb_init(&moved, space);
    if (transfers(space, r)) {
        vmar__pmap_transfer(space, lo, len, to, &prep->tables, &moved);
    } else {
        move_leaves(space, lo, hi, to, prep);
        moved.transfer = true;
        vmar__pmap_unmap(space, lo, len, &prep->tables, &moved);
        /* The markers were copied to the target too. */
        vmar__pmap_unguard(space, lo, len, &moved);
    }
    move_nodes(space, r, lo, hi, to);
    if (r->new_size > len) {
        /* Growth: one piece (checked), whose end moves out. */
        struct vmar__mapping *last =
            vmar__mapping_of(vmar__iset_find(&space->set, to + len - 1));
        last->node.end = to + r->new_size;
        vmar__iset_update(&space->set, &last->node);
        space->total_vm += r->new_size - len;
        vmar__locked_add(space, last, r->new_size - len);
    }
    vmar__coalesce(space, to, to + r->new_size);
    vmar__coalesce(space, lo, r->old + r->old_size);
    vmar__tlb_finish(&moved);
    vmar__tlb_finish(&batch);
}

/* => caller holds the space lock exclusively. */
static int remap_target(const struct vmar_space *space, struct remap *r,
                        vmar_addr_t *to)
{
    if (r->flags & VMAR_REMAP_FIXED) {
        *to = r->new_addr;
        vmar__carve_cost(space, *to, *to + r->new_size, &r->cost);
        return 0;
    }
    const struct vmar_map_opts o = {
        .size = r->new_size,
        .place = VMAR_PLACE_ANY,
        .flags = r->first->flags & (VMAR_MAP_STACK | VMAR_MAP_GROWSDOWN),
    };
    r->cost = (struct vmar__carve_cost){0};
    return vmar__place(space, &o, VMAR_PAGE_SIZE, to, NULL);
}

/* => caller holds the space lock exclusively. */
static int remap_locked(struct vmar_space *space, struct remap *r,
                        vmar_addr_t *out)
{
    struct vmar__prep prep = {0};
    vmar_addr_t to;
    int rc = remap_validate(space, r);

    if (!rc)
        rc = remap_source(space, r);
    if (rc)
        return rc;
    /* Growth of a locked mapping must fit the lock limit, checked before
     * the way to grow is chosen (Linux's resize_is_valid()). */
    if (r->new_size > r->old_size && vmar__mapping_locked(r->first)) {
        if (!vmar__mlock_fits(space, r->new_size - r->old_size))
            return VMAR_EAGAIN;
        r->populate = true;
    }
    const bool may_stay =
        !(r->flags & (VMAR_REMAP_FIXED | VMAR_REMAP_DONTUNMAP));
    if (may_stay && r->new_size <= r->old_size) {
        /* Shrink in place: an unmap of the tail. */
        if (r->new_size < r->old_size)
            rc = vmar__unmap_range(space, r->old + r->new_size,
                                   r->old + r->old_size);
        *out = r->old;
        return rc;
    }
    if (may_stay && grows_in_place(space, r)) {
        *out = r->old;
        return remap_grow_in_place(space, r);
    }
    if (!(r->flags & VMAR_REMAP_MAYMOVE))
        return VMAR_ENOMEM;
    rc = remap_target(space, r, &to);
    if (!rc)
        rc = remap_limits(space, r, true);
    if (!rc && r->cost.sealed) /* a FIXED target over a sealed mapping */
        rc = VMAR_EPERM;
    if (!rc)
        rc = remap_prepare(space, r, to, &prep);
    if (!rc) {
        remap_move_commit(space, r, to, &prep);
        *out = to;
    }
    spare_release(space, r);
    vmar__prep_release(space, &prep);
    return rc;
}

int vmar_remap(struct vmar_space *h, vmar_addr_t old_addr, vmar_size_t old_size,
               vmar_size_t new_size, unsigned flags, vmar_addr_t new_addr,
               vmar_addr_t *out_addr)
{
    struct vmar_space *space = vmar__base(h);
    struct remap r = {
        .old = old_addr,
        .new_addr = new_addr,
        .old_size = old_size,
        .new_size = new_size,
        .flags = flags,
    };
    vmar_addr_t at = 0;

    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    rc = remap_locked(space, &r, &at);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    if (!rc && r.populate)
        (void)vmar__populate_locked(space, at + r.old_size, at + r.new_size,
                                    true);
    if (!rc && out_addr)
        *out_addr = at;
    return rc;
}

int vmar_resize(struct vmar_space *h, vmar_addr_t addr, vmar_size_t old_size,
                vmar_size_t new_size)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar__iset_node *n;
    bool populate = false;
    int rc;

    if (!space)
        return VMAR_EINVAL;
    rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    rc = vmar__check_range(space, addr, old_size);
    if (!rc)
        rc = vmar__check_range(space, addr, new_size);
    if (!rc) {
        /* The reference's FIXME: [addr, addr+old_size) must be exactly one
         * mapping. A range inside a mapping would otherwise shrink by
         * punching a hole in it, which is no resize. */
        n = vmar__iset_find(&space->set, addr);
        if (!n || n->start != addr || n->end - addr != old_size)
            rc = VMAR_EFAULT;
    }
    if (!rc) {
        struct remap r = {.old = addr,
                          .old_size = old_size,
                          .new_size = new_size,
                          .flags = 0};
        vmar_addr_t at;
        rc = remap_locked(space, &r, &at);
        populate = !rc && r.populate;
    }
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    if (populate)
        (void)vmar__populate_locked(space, addr + old_size, addr + new_size,
                                    true);
    return rc;
}
