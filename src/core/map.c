/* SPDX-License-Identifier: MIT */
/*
 * vmar_map(): validate, place, check limits, prepare, commit.
 *
 * The phases are kept apart so that a failure can only happen before the
 * first change: validation has no side effects, preparation allocates
 * every node, table page and frame the commit will use, and the commit
 * (replace what was there, insert, populate, merge) cannot fail.
 */
#include "frame.h"
#include "mapping.h"
#include "objcall.h"
#include "placement.h"

#define KNOWN_MAP_FLAGS                                                        \
    (VMAR_MAP_SHARED | VMAR_MAP_POPULATE | VMAR_MAP_STACK |                    \
     VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN | VMAR_MAP_NO_RANDOM |             \
     VMAR_MAP_FAULT_AROUND | VMAR_MAP_DONTFORK | VMAR_MAP_SEQUENTIAL |         \
     VMAR_MAP_RANDOM | VMAR_MAP_EOF_FAULT | VMAR_MAP_GROWSDOWN |               \
     VMAR_MAP_SEALED | VMAR_MAP_DONTDUMP | VMAR_MAP_HUGEPAGE |                 \
     VMAR_MAP_NOHUGEPAGE | VMAR_MAP_WIPEONFORK | VMAR_MAP_LOCKED |             \
     VMAR_MAP_LOCKONFAULT)

static bool is_pow2(vmar_size_t x)
{
    return x && !(x & (x - 1));
}

/* What an object lets a mapping of it do: a shared mapping writes the
 * object's pages, a private one only its copies. */
static unsigned object_allows(const struct vmar_map_opts *o)
{
    if (o->backing != VMAR_BACKING_OBJECT)
        return VMAR_PROT_RWX;
    return o->flags & VMAR_MAP_SHARED
               ? o->object->max_prot
               : o->object->max_prot | (unsigned)VMAR_PROT_WRITE;
}

/* Memory whose frames may be shared between leaves and objects. */
static bool needs_refcounts(const struct vmar_map_opts *o)
{
    return o->backing == VMAR_BACKING_OBJECT ||
           (o->backing == VMAR_BACKING_ANON && o->flags & VMAR_MAP_SHARED);
}

/* Argument checks that need no look at the layout. */
static int map_validate(const struct vmar_space *space,
                        const struct vmar_map_opts *o, vmar_size_t *align)
{
    *align = o->align ? o->align : VMAR_PAGE_SIZE;
    if (!is_pow2(*align) || *align < VMAR_PAGE_SIZE)
        return VMAR_EINVAL;
    if (o->size == 0 || o->size & (*align - 1) ||
        o->size > space->user_hi - space->user_lo)
        return VMAR_EINVAL;
    if ((o->prot | o->deny_prot) & ~(unsigned)VMAR_PROT_RWX ||
        o->flags & ~(unsigned)KNOWN_MAP_FLAGS ||
        (o->flags & VMAR_MAP_BOTTOM_UP && o->flags & VMAR_MAP_TOP_DOWN))
        return VMAR_EINVAL;
    if ((unsigned)o->place > VMAR_PLACE_FIXED ||
        (unsigned)o->backing > VMAR_BACKING_DEVICE)
        return VMAR_EINVAL;
    if (o->place != VMAR_PLACE_ANY && o->addr & (*align - 1))
        return VMAR_EINVAL;
    if ((o->place == VMAR_PLACE_FIXED ||
         o->place == VMAR_PLACE_FIXED_NOREPLACE) &&
        vmar__check_range(space, o->addr, o->size))
        return VMAR_EINVAL;
    /* The placement window, checked in every mode (FIXED ignores it). */
    const vmar_addr_t wlo = o->window_lo ? o->window_lo : space->user_lo;
    const vmar_addr_t whi = o->window_hi ? o->window_hi : space->user_hi;
    if ((wlo | whi) & (VMAR_PAGE_SIZE - 1) || wlo >= whi ||
        wlo < space->user_lo || whi > space->user_hi)
        return VMAR_EINVAL;
    /* The whole range below pa_top: the leaves could not hold more. */
    if (o->backing == VMAR_BACKING_DEVICE &&
        (o->paddr & (VMAR_PAGE_SIZE - 1) || o->paddr + o->size < o->paddr ||
         o->paddr + o->size > vmar__pmap_pa_top(space) ||
         (unsigned)o->cache > VMAR_CACHE_UC || o->offset != 0))
        return VMAR_EINVAL;
    if (o->backing == VMAR_BACKING_ANON &&
        (o->offset != 0 || o->paddr != 0 || o->cache != VMAR_CACHE_WB))
        return VMAR_EINVAL;
    if (o->backing == VMAR_BACKING_OBJECT &&
        (!o->object || !vmar__obj_usable(o->object) ||
         o->offset & (*align - 1) || o->offset + o->size < o->offset ||
         o->paddr != 0 || o->cache != VMAR_CACHE_WB))
        return VMAR_EINVAL;
    if ((o->flags & VMAR_MAP_SEQUENTIAL && o->flags & VMAR_MAP_RANDOM) ||
        (o->flags & VMAR_MAP_LOCKONFAULT && !(o->flags & VMAR_MAP_LOCKED)) ||
        (o->flags & (VMAR_MAP_FAULT_AROUND | VMAR_MAP_EOF_FAULT) &&
         o->backing != VMAR_BACKING_OBJECT))
        return VMAR_EINVAL;
    /* Linux grows only private anonymous memory down, and wipes only it
     * on fork. */
    if (o->flags & (VMAR_MAP_GROWSDOWN | VMAR_MAP_WIPEONFORK) &&
        (o->backing != VMAR_BACKING_ANON || o->flags & VMAR_MAP_SHARED))
        return VMAR_EINVAL;
    if (o->flags & VMAR_MAP_HUGEPAGE && o->flags & VMAR_MAP_NOHUGEPAGE)
        return VMAR_EINVAL;
    if (o->prot & o->deny_prot || o->prot & ~object_allows(o))
        return VMAR_EACCES;
    if (needs_refcounts(o) && !space->env->frame_refcount)
        return VMAR_ENOTSUP;
    return 0;
}

/* Decide the address and what replacing it costs.
 * => caller holds the space lock exclusively. */
static int map_locate(const struct vmar_space *space,
                      const struct vmar_map_opts *o, vmar_size_t align,
                      vmar_addr_t *addr, struct vmar__carve_cost *cost,
                      struct vmar__range_pos *pos, struct vmar__iset_hint *hint)
{
    *cost = (struct vmar__carve_cost){0};
    pos->pred = NULL;
    pos->next = NULL;
    switch (o->place) {
    case VMAR_PLACE_FIXED:
        *addr = o->addr;
        vmar__carve_cost_at(space, o->addr, o->addr + o->size, cost, pos);
        return cost->sealed ? VMAR_EPERM : 0;
    case VMAR_PLACE_FIXED_NOREPLACE:
        *addr = o->addr;
        vmar__range_locate(space, o->addr, pos);
        return vmar__range_first_in(pos, o->addr + o->size) ? VMAR_EEXIST : 0;
    default:
        return vmar__place(space, o, align, addr, hint);
    }
}

/*
 * The address-space and mapping-count limits charge what a map adds: an
 * overwrite pays only for the bytes and mappings it adds (counted before
 * merging, as Linux's split_vma counts). Growth past a limit is refused;
 * a map that adds nothing passes even when the limit was lowered below
 * current use (Linux refuses that case too; nothing grows, so we don't).
 * => caller holds the space lock exclusively. */
static int map_check_limits(const struct vmar_space *space, vmar_size_t size,
                            const struct vmar__carve_cost *cost)
{
    const vmar_size_t added = size - cost->mapped;
    const size_t count =
        space->set.count - cost->removed + 1 + (cost->needs_node ? 1u : 0u);

    return vmar__check_growth(space, added, count);
}

/* The lock limit, after placement as Linux's do_mmap() checks it: an
 * explicit VMAR_MAP_LOCKED needs a non-zero limit (VMAR_EPERM), and a
 * locked map, explicit or by VMAR_MLOCKALL_FUTURE, must fit it whole
 * (VMAR_EAGAIN; an overwrite is charged in full, as Linux's
 * mlock_future_ok()). `asked`: the caller's flags; `o`: with the space's
 * future lock flags added.
 * => caller holds the space lock exclusively. */
static int map_check_mlock(const struct vmar_space *space, unsigned asked,
                           const struct vmar_map_opts *o)
{
    if (asked & VMAR_MAP_LOCKED && vmar__check_mlock_allowed(space))
        return VMAR_EPERM;
    if (o->flags & VMAR_MAP_LOCKED && !vmar__mlock_fits(space, o->size))
        return VMAR_EAGAIN;
    return 0;
}

/* Populated at map time: asked for, or locked, but not when locked on
 * fault (Linux's populate_vma_page_range() skips VM_LOCKONFAULT even
 * for MAP_POPULATE); never a PROT_NONE mapping (as Linux, whose
 * population of one fails and is ignored). */
static bool populates(const struct vmar_map_opts *o)
{
    return o->flags & (VMAR_MAP_POPULATE | VMAR_MAP_LOCKED) &&
           !(o->flags & VMAR_MAP_LOCKONFAULT) && o->prot != VMAR_PROT_NONE;
}

/* Private anonymous pages to allocate now (VMAR_MAP_POPULATE). */
static bool wants_frames(const struct vmar_map_opts *o)
{
    return o->backing == VMAR_BACKING_ANON && !(o->flags & VMAR_MAP_SHARED) &&
           populates(o);
}

/* Object pages (shared anonymous memory included) to map now. */
static bool wants_pages(const struct vmar_map_opts *o)
{
    return needs_refcounts(o) && populates(o);
}

/* Leaves to install at map time: populated memory, and device memory
 * always (it has no fault path: every page is present from map to unmap,
 * whatever its permissions). */
static bool maps_now(const struct vmar_map_opts *o)
{
    return wants_frames(o) || wants_pages(o) ||
           o->backing == VMAR_BACKING_DEVICE;
}

/*
 * Take a reference to every object page the mapping covers, up to the
 * object's end (pages past it stay absent: zero-fill or SIGBUS on their
 * first touch, as for a fault). The object's commit first, when it has one.
 * => caller holds the space lock exclusively. */
static int get_object_pages(struct vmar_space *space,
                            const struct vmar_map_opts *o,
                            struct vmar__prep *prep)
{
    const struct vmar_env *env = space->env;
    struct vmar_object *obj = prep->object;
    const uint64_t offset = o->backing == VMAR_BACKING_OBJECT ? o->offset : 0;
    const uint64_t end = VMAR_MIN(offset + o->size, vmar__obj_size(obj));
    const uint64_t want = end > offset ? (end - offset) >> VMAR_PAGE_SHIFT : 0;
    int rc = 0;

    if (want == 0)
        return 0;
    rc = vmar__obj_commit(obj, offset, end - offset);
    if (rc)
        return rc;
    if (want > SIZE_MAX / sizeof(vmar_paddr_t))
        return VMAR_ENOMEM;
    prep->pages = env->alloc(env->ctx, (size_t)want * sizeof(vmar_paddr_t),
                             _Alignof(vmar_paddr_t));
    if (!prep->pages)
        return VMAR_ENOMEM;
    prep->pages_cap = (size_t)want;
    for (uint64_t i = 0; i < want && !rc; i++) {
        vmar_paddr_t pa = 0;
        rc = vmar__obj_get_page(env, vmar__pmap_pa_top(space), obj,
                                (offset >> VMAR_PAGE_SHIFT) + i, 0, &pa);
        if (!rc)
            prep->pages[prep->npages++] = pa;
    }
    return rc;
}

/*
 * What to reserve for installing the new mapping's leaves. A fixed
 * overwrite may free tables in the same commit (REMAP). A device range
 * that the backend maps with huge leaves gets the exact count when its
 * physical address is congruent to its address modulo the largest leaf;
 * otherwise the base-page count, which is always enough.
 */
static enum vmar_mmu_prep map_prep_kind(const struct vmar_space *space,
                                        const struct vmar_map_opts *o,
                                        vmar_addr_t addr)
{
    if (o->backing == VMAR_BACKING_DEVICE)
        return vmar__device_prep(space, addr, o->paddr,
                                 o->place == VMAR_PLACE_FIXED);
    return o->place == VMAR_PLACE_FIXED ? VMAR_PREP_REMAP : VMAR_PREP_MAP;
}

/* Whether the new mapping has the full form (mapping.h): all but private
 * anonymous memory. */
static bool map_full(const struct vmar_map_opts *o)
{
    return o->backing != VMAR_BACKING_ANON || o->flags & VMAR_MAP_SHARED;
}

/* => caller holds the space lock exclusively. */
static int map_prepare(struct vmar_space *space, const struct vmar_map_opts *o,
                       vmar_addr_t addr, const struct vmar__carve_cost *cost,
                       struct vmar__prep *prep)
{
    const struct vmar_env *env = space->env;
    unsigned nodes[2] = {cost->nodes[0], cost->nodes[1]};
    nodes[map_full(o)]++;
    int rc = vmar__prep_nodes(space, prep, nodes);

    if (!rc && o->backing == VMAR_BACKING_OBJECT) {
        vmar_object_ref(o->object);
        prep->object = o->object;
    } else if (!rc && needs_refcounts(o)) {
        rc = vmar_memfd_create(env, o->size, &prep->object);
    }
    if (!rc && wants_pages(o))
        rc = get_object_pages(space, o, prep);
    if (!rc && cost->tables)
        rc = vmar__pmap_prepare(space, addr, o->size, VMAR_PREP_CHANGE,
                                &prep->tables);
    if (!rc && maps_now(o))
        rc = vmar__pmap_prepare(space, addr, o->size,
                                map_prep_kind(space, o, addr), &prep->tables);
    if (!rc && wants_frames(o))
        rc = vmar_frame_list_fill(env, &prep->frames,
                                  (size_t)(o->size >> VMAR_PAGE_SHIFT),
                                  VMAR_FRAME_ZERO);
    return rc;
}

/* Map the object pages get_object_pages() took, from the mapping's start:
 * they are file memory (RSS), read-only where a write must fault.
 * => caller holds the space lock exclusively. */
static void map_object_pages(struct vmar_space *space,
                             const struct vmar__mapping *m,
                             struct vmar__prep *prep)
{
    struct vmar_pte pte = {
        .prot = vmar__mapping_leaf_prot(m, false, false),
        .flags = VMAR_PTE_MANAGED,
        .cache = VMAR_CACHE_WB,
    };

    for (size_t i = 0; i < prep->npages; i++) {
        pte.pa = prep->pages[i];
        vmar__pmap_map(space,
                       m->node.start + ((vmar_addr_t)i << VMAR_PAGE_SHIFT),
                       &pte, &prep->tables);
    }
    vmar__rss_add(space, 0, prep->npages);
    prep->npages = 0;
}

/* Install every leaf of a new mapping: prepared zeroed frames for
 * anonymous memory (resident, freed on unmap), or the device range
 * (unmanaged: never freed, never resident).
 * => caller holds the space lock exclusively. */
static void map_populate(struct vmar_space *space,
                         const struct vmar__mapping *m, struct vmar__prep *prep)
{
    struct vmar_pte pte = {
        .prot = m->prot,
        .flags = VMAR_PTE_MANAGED,
        .cache = VMAR_CACHE_WB,
    };

    if (m->backing == VMAR_BACKING_DEVICE) {
        vmar__device_install(space, m, m->node.start, m->node.end,
                             &prep->tables);
        return;
    }
    for (vmar_addr_t va = m->node.start; va < m->node.end;
         va += VMAR_PAGE_SIZE) {
        pte.pa = vmar_frame_list_pop(space->env, &prep->frames);
        vmar__check_new_frame(space, pte.pa);
        vmar__frame_adopt(space->env, pte.pa, true);
        vmar__pmap_map(space, va, &pte, &prep->tables);
    }
    vmar__rss_add(space, (size_t)(vmar__mapping_size(m) >> VMAR_PAGE_SHIFT), 0);
}

/*
 * A fixed map knows the new mapping's predecessor from map_locate()'s
 * descent (the set is unchanged since; the carve says what precedes addr
 * after it), and a placed one where the search found its hole, so neither
 * the insert nor the coalescing descends again.
 * => caller holds the space lock exclusively. */
static void map_commit(struct vmar_space *space, const struct vmar_map_opts *o,
                       vmar_addr_t addr, const struct vmar__range_pos *pos,
                       const struct vmar__iset_hint *hint,
                       struct vmar__prep *prep, struct vmar__tlb *batch)
{
    const bool fixed =
        o->place == VMAR_PLACE_FIXED || o->place == VMAR_PLACE_FIXED_NOREPLACE;
    struct vmar__iset_node *pred = pos->pred;

    if (o->place == VMAR_PLACE_FIXED)
        pred = vmar__carve_at(space, addr, addr + o->size, pos, prep, batch);

    struct vmar__mapping *m = vmar__prep_take(space, prep, map_full(o));
    vmar__mapping_init(m, map_full(o));
    m->node.start = addr;
    m->node.end = addr + o->size;
    vmar__mapping_set_flags(m, o->flags);
    vmar__iset_node_set_guarded(&m->node, vmar__mapping_guarded(m->flags));
    vmar__mapping_set_prot(m, o->prot);
    m->max_prot = (uint8_t)(VMAR_PROT_RWX & ~o->deny_prot & object_allows(o));
    m->backing = (uint8_t)o->backing;
    m->cache = (uint8_t)o->cache;
    if (vmar__mapping_full(m)) {
        m->ext.offset =
            o->backing == VMAR_BACKING_DEVICE ? o->paddr : o->offset;
        m->ext.object = prep->object; /* the prepared reference moves here */
        prep->object = NULL;
    }
    if (fixed) {
        vmar__iset_insert_after(&space->set, pred, &m->node);
    } else {
        vmar__iset_insert_hinted(&space->set, hint, &m->node);
        pred = vmar__iset_prev(&m->node);
    }
    space->total_vm += o->size;
    vmar__locked_add(space, m, o->size);
    if (wants_pages(o))
        map_object_pages(space, m, prep);
    else if (maps_now(o))
        map_populate(space, m, prep);
    /* m is the first mapping that ends above addr, pred's successor. */
    vmar__coalesce_new(space, pred, m);
}

/* The rights a map needs (vmar.h, "Rights"): its permissions and its
 * maximum, and WRITE for FIXED, which replaces what is there. */
static unsigned map_rights(const struct vmar_map_opts *o)
{
    return o->prot | (VMAR_PROT_RWX & ~o->deny_prot & object_allows(o)) |
           (o->place == VMAR_PLACE_FIXED ? (unsigned)VMAR_RIGHT_WRITE : 0u);
}

/* The options with the flags the space adds: the future lock flags
 * (VMAR_MLOCKALL_FUTURE, Linux's def_flags), except on a reservation
 * that may never gain a permission (deny_prot covering RWX: no memory
 * ever lies behind it; a syscall layer holds a place with one) and on
 * device memory, which is never locked (Linux's VM_SPECIAL; dropped
 * after the limit check).
 * => caller holds the space lock exclusively. */
static void map_effective(const struct vmar_space *space,
                          const struct vmar_map_opts *o,
                          struct vmar_map_opts *eff)
{
    /* VMAR_MAP_LOCKED under mlockall(FUTURE | ONFAULT) locks on fault,
     * as Linux's def_flags make it. */
    *eff = *o;
    if ((o->deny_prot & VMAR_PROT_RWX) != VMAR_PROT_RWX)
        eff->flags |= space->lock_future;
}

/* => caller holds the space lock exclusively. */
static int map_locked(struct vmar_space *space, const struct vmar_map_opts *ob,
                      const struct vmar_space *h, vmar_addr_t *out_addr)
{
    struct vmar_map_opts eff;
    const struct vmar_map_opts *o = &eff;
    struct vmar__prep prep = {0};
    struct vmar__carve_cost cost;
    struct vmar__range_pos pos;
    struct vmar__iset_hint hint; /* set by placement, read only after it */
    struct vmar__tlb batch;
    vmar_size_t align;
    vmar_addr_t addr;
    int rc;

    rc = map_validate(space, ob, &align);
    map_effective(space, ob, &eff);
    if (!rc)
        rc = vmar__check_rights(h, map_rights(o));
    if (!rc)
        rc = map_locate(space, o, align, &addr, &cost, &pos, &hint);
    if (!rc)
        rc = map_check_mlock(space, ob->flags, o);
    if (!rc && o->backing == VMAR_BACKING_DEVICE)
        eff.flags &= ~(unsigned)VMAR_MAPPING_LOCK_FLAGS;
    if (!rc)
        rc = map_check_limits(space, o->size, &cost);
    if (!rc)
        rc = map_prepare(space, o, addr, &cost, &prep);
    if (!rc) {
        prep.no_table = !vmar__commit_begin(space, addr, addr + o->size,
                                            o->place == VMAR_PLACE_FIXED);
        vmar__tlb_init(&batch, space);
        map_commit(space, o, addr, &pos, &hint, &prep, &batch);
        vmar__tlb_finish(&batch);
        if (out_addr)
            *out_addr = addr;
    }
    vmar__prep_release(space, &prep);
    return rc;
}

int vmar_map(struct vmar_space *h, const struct vmar_map_opts *opts,
             vmar_addr_t *out_addr)
{
    struct vmar_space *space = vmar__base(h);
    if (!space || !opts)
        return VMAR_EINVAL;
    vmar__lock_layout(space);
    int rc = map_locked(space, opts, h, out_addr);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
