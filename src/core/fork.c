/* SPDX-License-Identifier: MIT */
/*
 * vmar_fork(): copy a space, private memory copy-on-write; vmar_clear():
 * empty a space for exec.
 *
 * Fork builds the whole child first, while the parent is only read: the
 * child's nodes, page tables and leaves (each leaf takes a reference to
 * the parent's frame). The child is not visible to anyone, so building it
 * is the prepare phase: on any failure the child is destroyed, which drops
 * exactly the references it took, and the parent was never changed. Only
 * then does the commit write-protect the parent's private leaves, which
 * allocates nothing, with one flush at the end.
 *
 *   parent leaf  rw- frame F (count 1)       after fork:
 *                                            parent r-- F (count 2)
 *                                            child  r-- F
 *   the first write on either side copies F (or reuses it once the other
 *   side has copied and F's count is back to 1).
 */
#include "atomic.h"
#include "frame.h"
#include "mapping.h"
#include "pmap.h"
#include "prep.h"

/* => caller holds the space lock exclusively. */
static int child_create(struct vmar_space *parent,
                        const struct vmar_fork_opts *o, unsigned rights,
                        struct vmar_space **out)
{
    const struct vmar_env *env = parent->env;
    const void *config = o ? o->mmu_config : NULL;
    struct vmar_space *c;
    int rc;

    c = env->alloc(env->ctx, sizeof(*c), _Alignof(struct vmar_space));

    if (!c)
        return VMAR_ENOMEM;
    VMAR_MEMSET(c, 0, sizeof(*c));
    c->env = env;
    c->ops = parent->ops;
    c->mmu_configured = config != NULL;
    c->lock = o ? o->lock : NULL;
    c->user_lo = parent->user_lo;
    c->user_hi = parent->user_hi;
    c->as_limit = parent->as_limit;
    c->max_map_count = parent->max_map_count;
    c->stack_guard = parent->stack_guard;
    c->stack_limit = parent->stack_limit;
    c->mlock_limit = parent->mlock_limit;
    c->mlock_limited = parent->mlock_limited;
    c->aslr_bits = parent->aslr_bits;
    c->flags = parent->flags;
    c->base = c;
    c->rights = rights; /* the parent handle's: fork cannot add any */
    c->handles = 1;
    vmar__iset_init(&c->set);
    c->set.guard = c->stack_guard;
    rc = vmar__pt_init(c);
    if (rc) {
        env->free(env->ctx, c, sizeof(*c));
        return rc;
    }
    rc = vmar__pmap_create(env, c->ops, config, &c->mmu);
    if (rc) {
        vmar__pt_fini(c);
        env->free(env->ctx, c, sizeof(*c));
        return rc;
    }
    *out = c;
    return 0;
}

/* A child leaf's reference (vmar__pmap_copy()'s callback), counted for
 * the child's RSS in a struct vmar__rss_tally. vmar_fork checked that
 * env->frame_refcount is set. */
static void fork_take(void *arg, vmar_paddr_t pa)
{
    struct vmar__rss_tally *t = arg;

    vmar__rss_tally_add(t, vmar__frame_share(t->env, pa));
}

/* Give the child a leaf for every present leaf of `m` in the parent: the
 * same frame with one more reference, read-only in private memory. What
 * was copied before a failure stays, as the child's own references: its
 * destruction drops them.
 * => caller holds the parent's space lock exclusively. */
static int copy_leaves(struct vmar_space *parent, struct vmar_space *child,
                       const struct vmar__mapping *m)
{
    const struct vmar_env *env = parent->env;
    struct vmar_frame_list tables = {0, 0};
    struct vmar__rss_tally t = {env, 0, 0};
    int rc = 0;

    if (m->backing == VMAR_BACKING_DEVICE) {
        rc = vmar__pmap_prepare(
            child, m->node.start, vmar__mapping_size(m),
            vmar__device_prep(child, m->node.start, m->ext.offset, false),
            &tables);
        if (!rc)
            vmar__device_install(child, m, m->node.start, m->node.end, &tables);
        vmar_frame_list_release(env, &tables);
        return rc;
    }
    rc = vmar__pmap_copy(child, parent, m->node.start, m->node.end,
                         vmar__mapping_cow(m) ? VMAR_COPY_COW : 0u, &tables,
                         fork_take, &t);
    vmar__rss_add(child, t.anon, t.file);
    vmar_frame_list_release(env, &tables);
    return rc;
}

/* Whether the parent's leaf `pte` of `m` maps a DMA-pinned private
 * anonymous frame, which fork does not share (Linux's
 * page_needs_cow_for_dma()).
 * => caller holds the parent's space lock exclusively. */
static bool pinned_anon(const struct vmar_space *parent,
                        const struct vmar__mapping *m,
                        const struct vmar_pte *pte)
{
    return vmar__mapping_cow(m) && pte->flags & VMAR_PTE_MANAGED &&
           vmar__frame_is_anon(parent->env, pte->pa) &&
           vmar__frame_dma_pinned(parent->env, pte->pa);
}

/* Give the child its own copy of every DMA-pinned private anonymous page
 * of `m`, in place of the shared frame copy_leaves() gave it, so that
 * the parent's page is never shared copy-on-write: a later write by the
 * parent would copy it and leave the device writing a frame the parent
 * no longer maps. The child's copy gets the mapping's permissions.
 * VMAR_ENOMEM when a frame cannot be had (the child, destroyed then,
 * drops what it took).
 * => caller holds the parent's space lock exclusively. */
static int copy_pinned(struct vmar_space *parent, struct vmar_space *child,
                       const struct vmar__mapping *m)
{
    const struct vmar_env *env = parent->env;
    vmar_addr_t va = m->node.start;
    struct vmar_pte pte;

    while (va < m->node.end &&
           vmar__pmap_find_next(parent, &va, m->node.end, &pte) == 0) {
        if (pinned_anon(parent, m, &pte)) {
            vmar_paddr_t pa;
            if (env->frame_alloc(env->ctx, 0, &pa) != 0)
                return VMAR_ENOMEM;
            vmar__check_new_frame(child, pa);
            VMAR_MEMCPY(env->phys_to_virt(env->ctx, pa),
                        env->phys_to_virt(env->ctx, pte.pa), VMAR_PAGE_SIZE);
            vmar__frame_adopt(env, pa, true);
            pte.pa = pa;
            pte.prot = m->prot;
            /* Drops the child's reference to the parent's frame; both
             * are anonymous, so the child's RSS stays. */
            vmar__pmap_replace(child, va, &pte);
        }
        va += VMAR_PAGE_SIZE;
    }
    return 0;
}

/* Build the child's layout and tables; the parent is only read.
 * => caller holds the space lock exclusively. */
static int fork_build(struct vmar_space *parent, struct vmar_space *child)
{
    const struct vmar_env *env = parent->env;
    struct vmar__iset_node *last = NULL; /* the child's, in address order */

    /* The copies carry the parent's guard markers. */
    child->guarded = parent->guarded;

    for (struct vmar__iset_node *n = vmar__iset_first(&parent->set); n;
         n = vmar__iset_next(n)) {
        const struct vmar__mapping *m = vmar__mapping_of(n);
        if (m->flags & VMAR_MAP_DONTFORK)
            continue;
        if (vmar__index_reserve(child, 1))
            return VMAR_ENOMEM;
        struct vmar__mapping *c =
            env->alloc(env->ctx, vmar__mapping_bytes(vmar__mapping_full(m)),
                       _Alignof(struct vmar__mapping));
        if (!c)
            return VMAR_ENOMEM;
        vmar__mapping_copy(c, m);
        /* Linux's dup_mmap() clears VM_LOCKED_MASK: locks are the
         * parent's (the child's lock_future starts clear too). */
        c->flags &= ~(uint32_t)VMAR_MAPPING_LOCK_FLAGS;
        if (vmar__mapping_object(c))
            vmar_object_ref(vmar__mapping_object(c));
        /* Appended: the parent's order is the child's. */
        vmar__iset_insert_after(&child->set, last, &c->node);
        last = &c->node;
        child->total_vm += vmar__mapping_size(c);
        /* A wiped mapping comes empty: it shares no frame with anyone
         * (the parent's own flag stays as it was). */
        if (m->flags & VMAR_MAP_WIPEONFORK) {
            c->flags &= ~VMAR_MAPPING_COW_SHARED;
            continue;
        }
        if (vmar__mapping_cow(m))
            c->flags |= VMAR_MAPPING_COW_SHARED;
        int rc = copy_leaves(parent, child, m);
        if (!rc && vmar__atomic_load(&parent->pinned) && vmar__mapping_cow(m))
            rc = copy_pinned(parent, child, m);
        if (rc)
            return rc;
    }
    /* DONTFORK holes and cleared locks may leave compatible neighbours:
     * merge them. */
    vmar__coalesce(child, child->user_lo, child->user_hi);
    child->index_added = child->index_keep = 0; /* the child keeps them */
    return 0;
}

/* The child has its own copies of the parent's pinned pages (
 * copy_pinned()): the parent's stay its own, and writable.
 * => caller holds the parent's space lock exclusively. */
static void keep_pinned_writable(struct vmar_space *parent,
                                 const struct vmar__mapping *m,
                                 struct vmar__tlb *batch)
{
    vmar_addr_t va = m->node.start;
    struct vmar_pte pte;

    while (va < m->node.end &&
           vmar__pmap_find_next(parent, &va, m->node.end, &pte) == 0) {
        if (pinned_anon(parent, m, &pte) &&
            vmar__frame_refs(parent->env, pte.pa) == 1)
            vmar__pmap_protect(parent, va, VMAR_PAGE_SIZE, m->prot, NULL,
                               batch);
        va += VMAR_PAGE_SIZE;
    }
}

/* Make every private leaf of the parent read-only; one flush for all.
 * => caller holds the space lock exclusively. */
static void fork_commit(struct vmar_space *parent)
{
    struct vmar__tlb batch;

    vmar__tlb_init(&batch, parent);
    for (struct vmar__iset_node *n = vmar__iset_first(&parent->set); n;
         n = vmar__iset_next(n)) {
        struct vmar__mapping *m = vmar__mapping_of(n);
        if (!vmar__mapping_cow(m) ||
            m->flags & (VMAR_MAP_DONTFORK | VMAR_MAP_WIPEONFORK))
            continue;
        m->flags |= VMAR_MAPPING_COW_SHARED;
        /* A mapping's extent never cuts a managed leaf, so no split and
         * no reservation is needed. */
        if (!(m->prot & VMAR_PROT_WRITE))
            continue;
        vmar__pmap_protect(parent, m->node.start, vmar__mapping_size(m),
                           m->prot & ~(unsigned)VMAR_PROT_WRITE, NULL, &batch);
        if (vmar__atomic_load(&parent->pinned))
            keep_pinned_writable(parent, m, &batch);
    }
    vmar__tlb_finish(&batch);
}

int vmar_fork(struct vmar_space *h, const struct vmar_fork_opts *opts,
              struct vmar_space **out)
{
    struct vmar_space *parent = vmar__base(h);
    struct vmar_space *child = NULL;
    int rc;

    if (!parent || !out)
        return VMAR_EINVAL;
    /* A configured parent's config named its own identity (PCID/ASID,
     * handle) and need not live any more: the child's must be given. */
    if (parent->mmu_configured && !(opts && opts->mmu_config))
        return VMAR_EINVAL;
    rc = vmar__check_rights(h, VMAR_RIGHT_READ); /* the child is a copy */
    if (rc)
        return rc;
    if (!parent->env->frame_refcount)
        return VMAR_ENOTSUP;
    vmar__lock(parent, VMAR_LOCK_EXCLUSIVE);
    rc = child_create(parent, opts, h->rights, &child);
    if (!rc)
        rc = fork_build(parent, child);
    if (!rc)
        fork_commit(parent);
    vmar__unlock(parent, VMAR_LOCK_EXCLUSIVE);
    if (rc && child)
        vmar_space_destroy(child); /* drops what the child took */
    if (!rc)
        *out = child;
    return rc;
}

int vmar_clear(struct vmar_space *h)
{
    struct vmar_space *space = vmar__base(h);
    if (!space)
        return VMAR_EINVAL;
    int rc = vmar__check_rights(h, VMAR_RIGHT_WRITE);
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    vmar__space_empty(space);
    space->lock_future = 0; /* exec's new mm: def_flags lose VM_LOCKED */
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return 0;
}
