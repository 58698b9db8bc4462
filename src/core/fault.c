/* SPDX-License-Identifier: MIT */
/*
 * The page-fault handler.
 *
 * Order of decisions, each cheaper than the next:
 *   1. which mapping (O(log n) tree lookup, no allocation);
 *   2. may the mapping be accessed this way (else a signal);
 *   3. is the leaf already good enough (a spurious fault: another CPU or
 *      an earlier retry fixed it; a stale TLB entry was already flushed);
 *   4. present but narrower than the mapping: a write to a copy-on-write
 *      page copies it, or reuses it in place when the frame's reference
 *      count shows this leaf is its only user; anything else widens the
 *      leaf to what the mapping allows;
 *   5. absent: demand-zero (anonymous memory, private pages past the end of
 *      an object), the object's page (shared, or private on a read), or a
 *      private copy of it (private, on a write); then fault-around.
 * Whatever can fail (page-table pages, frames, the object's get_page) is
 * obtained before the first change, so a failed fault leaves the space as
 * it was.
 */
#include "fault.h"

#include "frame.h"
#include "mapping.h"

/* Pages fault-around considers, as one aligned window (64 KiB, Linux's
 * fault_around_bytes). A window never crosses a last-level table. */
#define FAULT_AROUND_PAGES 16u

static bool leaf_at(const struct vmar_space *space, vmar_addr_t va,
                    struct vmar_pte *pte)
{
    vmar_addr_t at = va;

    return space->ops->find_next(space->mmu, &at, va + VMAR_PAGE_SIZE, pte) ==
           0;
}

static uint64_t page_index(const struct vmar_mapping *m, vmar_addr_t va)
{
    return vmar__mapping_offset_of(m, va) >> VMAR_PAGE_SHIFT;
}

static bool past_end(const struct vmar_mapping *m, vmar_addr_t va)
{
    return page_index(m, va) >= m->object->ops->size(m->object) >>
           VMAR_PAGE_SHIFT;
}

/* A zeroed (or copied) private frame with one reference, anonymous. */
static int new_anon_frame(struct vmar_space *space, vmar_paddr_t copy_from,
                          vmar_paddr_t *pa)
{
    const struct vmar_env *env = space->env;
    struct vmar_frame_list one = {0, 0};

    if (vmar_frame_list_fill(env, &one, 1, copy_from ? 0 : VMAR_FRAME_ZERO))
        return VMAR_ENOMEM;
    *pa = vmar_frame_list_pop(env, &one);
    if (copy_from)
        vmar__memcpy(env->phys_to_virt(env->ctx, *pa),
                     env->phys_to_virt(env->ctx, copy_from), VMAR_PAGE_SIZE);
    vmar__frame_adopt(env, *pa, true);
    return 0;
}

static void install(struct vmar_space *space, vmar_addr_t va, vmar_paddr_t pa,
                    unsigned prot, bool anon, struct vmar_frame_list *tables,
                    struct vmar_pte *pte)
{
    pte->pa = pa;
    pte->prot = prot;
    pte->flags = VMAR_PTE_MANAGED;
    pte->cache = VMAR_CACHE_WB;
    space->ops->map(space->mmu, va, pte, tables);
    vmar__rss_add(space, anon ? 1u : 0u, anon ? 0u : 1u);
}

/*
 * Map up to FAULT_AROUND_PAGES - 1 object pages around `va` that the
 * object already holds, where no leaf is. The window is aligned, inside
 * the mapping and before the object's end; its page-table pages were
 * reserved with the faulting page's (same last-level table), so this
 * cannot fail. Private mappings get them read-only, as a read fault would.
 */
static void fault_around(struct vmar_space *space, const struct vmar_mapping *m,
                         vmar_addr_t va, struct vmar_frame_list *tables)
{
    const vmar_size_t span = (vmar_size_t)FAULT_AROUND_PAGES * VMAR_PAGE_SIZE;
    vmar_addr_t lo = VMAR_MAX(va & ~(span - 1), m->node.start);
    vmar_addr_t hi = VMAR_MIN((va & ~(span - 1)) + span, m->node.end);
    struct vmar_pte pte;

    for (vmar_addr_t at = lo; at < hi; at += VMAR_PAGE_SIZE) {
        vmar_paddr_t pa;
        if (at == va || past_end(m, at) || leaf_at(space, at, &pte))
            continue;
        if (m->object->ops->get_page(m->object, page_index(m, at),
                                     VMAR_OBJECT_GET_PRESENT, &pa) != 0)
            continue;
        install(space, at, pa, vmar__mapping_leaf_prot(m, false, false), false,
                tables, &pte);
    }
}

static bool wants_fault_around(const struct vmar_mapping *m, unsigned access)
{
    return m->flags & VMAR_MAP_FAULT_AROUND && access != VMAR_ACCESS_WRITE;
}

/* An absent page: find or make its frame, then map it. */
static int fault_absent(struct vmar_space *space, const struct vmar_mapping *m,
                        vmar_addr_t va, unsigned access, struct vmar_pte *pte)
{
    const struct vmar_env *env = space->env;
    struct vmar_object *obj = m->object;
    struct vmar_frame_list tables = {0, 0};
    const bool around = obj && wants_fault_around(m, access);
    const vmar_size_t span = (vmar_size_t)FAULT_AROUND_PAGES * VMAR_PAGE_SIZE;
    vmar_paddr_t pa = 0, page = 0;
    bool anon = true;
    int rc;

    /* Device pages are present from map to unmap; a missing one has
     * nothing to page in. */
    if (m->backing == VMAR_BACKING_DEVICE)
        return VMAR_EFAULT;
    rc = space->ops->prepare(space->mmu, around ? va & ~(span - 1) : va,
                             around ? span : VMAR_PAGE_SIZE, VMAR_PREP_MAP,
                             &tables);
    if (rc)
        return rc;
    const bool eof_zero =
        !vmar__mapping_shared(m) && !(m->flags & VMAR_MAP_EOF_FAULT);
    if (!obj || (eof_zero && past_end(m, va))) {
        rc = new_anon_frame(space, 0, &pa); /* demand-zero */
    } else if (past_end(m, va)) {
        rc = VMAR_ENXIO; /* beyond the end: SIGBUS */
    } else {
        const bool write = access == VMAR_ACCESS_WRITE;
        const bool shared = vmar__mapping_shared(m);
        const uint64_t index = page_index(m, va);
        rc = obj->ops->get_page(
            obj, index, shared && write ? VMAR_OBJECT_GET_WRITE : 0u, &page);
        if (!rc && shared && write && obj->ops->notify_write)
            rc = obj->ops->notify_write(obj, index);
        if (!rc && !shared && write) {
            /* Private write: copy now; the object's page is never mapped
             * here, so its reference goes back without a flush. */
            rc = new_anon_frame(space, page, &pa);
            vmar_frame_put(env, page);
        } else if (!rc) {
            pa = page;
            anon = false;
        } else if (page) {
            vmar_frame_put(env, page);
        }
    }
    if (!rc) {
        install(space, va, pa,
                vmar__mapping_leaf_prot(m, anon, access == VMAR_ACCESS_WRITE),
                anon, &tables, pte);
        if (around && m->backing == VMAR_BACKING_OBJECT)
            fault_around(space, m, va, &tables);
    }
    vmar_frame_list_release(env, &tables);
    return rc;
}

/* Replace the present leaf at `va` with `pa` (the commit of a copy). The
 * old leaf's reference is dropped after the flush. */
static void replace_leaf(struct vmar_space *space, vmar_addr_t va,
                         vmar_paddr_t pa, unsigned prot,
                         struct vmar_frame_list *tables, struct vmar_pte *pte)
{
    struct vmar_tlb_batch batch;

    vmar_tlb_batch_init(&batch, space->env, space->ops, space->mmu);
    vmar__unmap_leaves(space, va, VMAR_PAGE_SIZE, tables, &batch);
    install(space, va, pa, prot, true, tables, pte);
    vmar_tlb_batch_finish(&batch);
}

/* Rewrite the permissions of the present leaf at `va`. */
static void set_leaf_prot(struct vmar_space *space, vmar_addr_t va,
                          unsigned prot, struct vmar_pte *pte)
{
    struct vmar_tlb_batch batch;

    vmar_tlb_batch_init(&batch, space->env, space->ops, space->mmu);
    space->ops->protect(space->mmu, va, VMAR_PAGE_SIZE, prot, NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    pte->prot = prot;
}

/* A write to a present, read-only leaf of a private mapping. */
static int cow_break(struct vmar_space *space, const struct vmar_mapping *m,
                     vmar_addr_t va, struct vmar_pte *pte)
{
    const struct vmar_env *env = space->env;
    struct vmar_frame_list tables = {0, 0};
    vmar_paddr_t pa;
    int rc;

    /* Our reference is the only one: no one else can see a write. */
    if (vmar__frame_is_anon(env, pte->pa) &&
        vmar__frame_refs(env, pte->pa) == 1) {
        set_leaf_prot(space, va, m->prot, pte);
        return 0;
    }
    /* REMAP: the unmap of the old leaf may free the table the new one
     * goes into. A huge leaf is split by that unmap with these tables. */
    rc = space->ops->prepare(space->mmu, va, VMAR_PAGE_SIZE, VMAR_PREP_REMAP,
                             &tables);
    if (!rc)
        rc = space->ops->prepare(space->mmu, va, VMAR_PAGE_SIZE,
                                 VMAR_PREP_CHANGE, &tables);
    if (!rc)
        rc = new_anon_frame(space, pte->pa, &pa);
    if (!rc)
        replace_leaf(space, va, pa, m->prot, &tables, pte);
    vmar_frame_list_release(env, &tables);
    return rc;
}

/* A shared object page mapped read-only so that its first write tells the
 * object (notify_write). */
static int shared_write(struct vmar_space *space, const struct vmar_mapping *m,
                        vmar_addr_t va, struct vmar_pte *pte)
{
    struct vmar_object *obj = m->object;

    if (obj && obj->ops->notify_write) {
        int rc = obj->ops->notify_write(obj, page_index(m, va));
        if (rc)
            return rc;
    }
    set_leaf_prot(space, va, m->prot, pte);
    return 0;
}

int vmar__fault_locked(struct vmar_space *space, vmar_addr_t addr,
                       unsigned access, struct vmar_pte *pte)
{
    const vmar_addr_t va = addr & ~(VMAR_PAGE_SIZE - 1);
    const unsigned need = vmar_access_prot(access);
    struct vmar_iset_node *n = vmar_iset_find(&space->set, addr);
    struct vmar_mapping *m;

    if (!n)
        return VMAR_ENOENT;
    m = vmar__mapping_of(n);
    if (!(m->prot & need))
        return VMAR_EACCES;
    if (!leaf_at(space, va, pte))
        return fault_absent(space, m, va, access, pte);
    if (pte->prot & need)
        return 0; /* spurious */
    if (need == VMAR_PROT_WRITE && vmar__mapping_cow(m))
        return cow_break(space, m, va, pte);
    if (need == VMAR_PROT_WRITE)
        return shared_write(space, m, va, pte);
    /* Read or execute on a narrower leaf (after a protect that widened
     * the mapping): widen it, but never to writable where a write must
     * still fault. */
    set_leaf_prot(space, va,
                  (m->prot & ~(unsigned)VMAR_PROT_WRITE) |
                      (pte->prot & VMAR_PROT_WRITE),
                  pte);
    return 0;
}

int vmar_fault(struct vmar_space *space, vmar_addr_t addr, unsigned access,
               unsigned flags)
{
    struct vmar_pte pte;

    if (!space || flags & ~(unsigned)VMAR_FAULT_USER ||
        (access != VMAR_ACCESS_READ && access != VMAR_ACCESS_WRITE &&
         access != VMAR_ACCESS_EXEC))
        return VMAR_EINVAL;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    int rc = vmar__fault_locked(space, addr, access, &pte);
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
    return rc;
}
