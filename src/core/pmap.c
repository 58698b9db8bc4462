/* SPDX-License-Identifier: MIT */
/*
 * The seam to the backend (pmap.h): the operations with a fallback for
 * an optional vmar_mmu_ops member, the backend check and the deferred
 * TLB flush.
 *
 * The flush's rule: unhook, invalidate, then free. A frame or table page
 * queued on a batch reaches env->frame_free only after ops->flush has
 * covered every range recorded before it.
 */
#include "pmap.h"

#include "atomic.h"
#include "frame.h"

/* ---- the backend's description ------------------------------------------ */

/* Each policy stored as a policy, and RAM's write-back as itself. */
static bool cache_as_valid(const struct vmar_mmu_ops *ops)
{
    for (unsigned c = 0; c < VMAR_CACHE_POLICIES; c++)
        if (ops->cache_as[c] > VMAR_CACHE_UC)
            return false;
    return ops->cache_as[VMAR_CACHE_WB] == VMAR_CACHE_WB;
}

int vmar__pmap_usable(const struct vmar_env *env,
                      const struct vmar_mmu_ops *ops)
{
    if (!ops || ops->abi == 0)
        return VMAR_EINVAL;
    /* A backend built against a newer <vmar/mmu.h> may rely on members or
     * rules this core does not know: refuse it by name, not as bad input.
     * An older ABI keeps working: members appended later are read only
     * when ops->abi reaches the ABI that appended them. */
    if (ops->abi > VMAR_MMU_ABI) {
        vmar__log(env, VMAR_LOG_ERROR,
                  "vmar_space_create: the MMU backend was built for a newer "
                  "VMAR_MMU_ABI than this libvmar's; rebuild it against "
                  "this <vmar/mmu.h>");
        return VMAR_ENOTSUP;
    }
    if (!ops->create || !ops->destroy || !ops->prepare || !ops->map ||
        !ops->unmap || !ops->protect || !ops->find_next || !ops->flush ||
        !ops->replace || ops->user_top == 0 ||
        (ops->user_top & (VMAR_PAGE_SIZE - 1)) != 0 || ops->pa_top == 0 ||
        (ops->pa_top & (VMAR_PAGE_SIZE - 1)) != 0 || !cache_as_valid(ops))
        return VMAR_EINVAL;
    /* Markers are kept with guard and found with find_guard: both or
     * neither. */
    if (ops->abi >= VMAR_MMU_ABI_GUARD && !ops->guard != !ops->find_guard)
        return VMAR_EINVAL;
    return 0;
}

vmar_size_t vmar__pmap_range_span(const struct vmar_space *space)
{
    const struct vmar_mmu_ops *ops = space->ops;

    if (!ops->map_range)
        return 0;
    if (ops->caps & VMAR_MMU_CAP_HUGE_1G)
        return (vmar_size_t)1 << 30;
    if (ops->caps & VMAR_MMU_CAP_HUGE_2M)
        return (vmar_size_t)1 << 21;
    return VMAR_PAGE_SIZE;
}

/* ---- operations ------------------------------------------------------------
 */

int vmar__pmap_map_empty(struct vmar_space *space, vmar_addr_t va,
                         const struct vmar_pte *pte,
                         struct vmar_frame_list *resv, struct vmar_pte *found)
{
    vmar_addr_t at = va;

    if (space->ops->map_empty)
        return space->ops->map_empty(space->mmu, va, pte, resv, found);
    if (space->ops->find_next(space->mmu, &at, va + VMAR_PAGE_SIZE, found) == 0)
        return VMAR_EEXIST;
    if (vmar__pmap_find_guard(space, &at, va + VMAR_PAGE_SIZE) == 0) {
        *found = (struct vmar_pte){.flags = VMAR_PTE_GUARD};
        return VMAR_EEXIST;
    }
    space->ops->map(space->mmu, va, pte, resv);
    return 0;
}

void vmar__pmap_map_range(struct vmar_space *space, vmar_addr_t va,
                          const struct vmar_pte *pte, vmar_size_t len,
                          unsigned flags, struct vmar_frame_list *resv)
{
    struct vmar_pte page = *pte;

    if (space->ops->map_range) {
        space->ops->map_range(space->mmu, va, pte, len, flags, resv);
        return;
    }
    for (vmar_size_t off = 0; off < len; off += VMAR_PAGE_SIZE) {
        page.pa = pte->pa + off;
        space->ops->map(space->mmu, va + off, &page, resv);
    }
}

void vmar__pmap_unmap(struct vmar_space *space, vmar_addr_t va, vmar_size_t len,
                      struct vmar_frame_list *resv, struct vmar__tlb *t)
{
    const size_t anon = t->put_anon, file = t->put_file;

    space->ops->unmap(space->mmu, va, len, resv, &t->b);
    vmar__rss_add(space, anon - t->put_anon, file - t->put_file);
}

/* Without ops->copy or ops->move: the markers of [va, end) of `src`
 * given to `dst` at to + (x - va), one at a time (prepare, then an
 * install that finds nothing to remove). */
static int guard_pages(struct vmar_space *dst, const struct vmar_space *src,
                       vmar_addr_t va, vmar_addr_t end, vmar_addr_t to,
                       struct vmar_frame_list *resv)
{
    for (vmar_addr_t g = va;
         g < end && vmar__pmap_find_guard(src, &g, end) == 0;
         g += VMAR_PAGE_SIZE) {
        const vmar_addr_t t = to + (g - va);
        struct vmar_tlb_batch b;
        int rc =
            vmar__pmap_prepare(dst, t, VMAR_PAGE_SIZE, VMAR_PREP_MAP, resv);

        if (rc)
            return rc;
        vmar_tlb_batch_init(&b, dst->env, dst->ops, dst->mmu);
        (void)dst->ops->guard(dst->mmu, t, VMAR_PAGE_SIZE, VMAR_GUARD_INSTALL,
                              resv, &b);
        dst->guarded = true;
    }
    return 0;
}

/* Without ops->copy: one leaf at a time (find_next, prepare, map), then
 * the markers. */
static int copy_pages(struct vmar_space *dst, const struct vmar_space *src,
                      vmar_addr_t va, vmar_addr_t end, unsigned flags,
                      struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                      void *arg)
{
    const vmar_addr_t start = va;
    struct vmar_pte pte;

    while (va < end && vmar__pmap_find_next(src, &va, end, &pte) == 0) {
        /* One walk per leaf; the tables it adds serve the next ones. */
        int rc =
            vmar__pmap_prepare(dst, va, VMAR_PAGE_SIZE, VMAR_PREP_MAP, resv);
        if (rc)
            return rc;
        if (pte.flags & VMAR_PTE_MANAGED)
            take(arg, pte.pa);
        if (flags & VMAR_COPY_COW)
            pte.prot &= ~(unsigned)VMAR_PROT_WRITE;
        vmar__pmap_map(dst, va, &pte, resv);
        va += VMAR_PAGE_SIZE;
    }
    return guard_pages(dst, src, start, end, start, resv);
}

int vmar__pmap_copy(struct vmar_space *dst, const struct vmar_space *src,
                    vmar_addr_t va, vmar_addr_t end, unsigned flags,
                    struct vmar_frame_list *resv, vmar_mmu_take_fn *take,
                    void *arg)
{
    const struct vmar_mmu_ops *ops = dst->ops;
    size_t need;

    if (ops->copy == NULL)
        return copy_pages(dst, src, va, end, flags, resv, take, arg);
    /* The backend stops only when `dst` lacks tables for the leaf at va,
     * which one prepare of that page provides. */
    while ((need = ops->copy(dst->mmu, src->mmu, &va, end, flags, resv, take,
                             arg)) != 0) {
        int rc =
            ops->prepare(dst->mmu, va, VMAR_PAGE_SIZE, VMAR_PREP_MAP, resv);
        if (rc)
            return rc;
        /* else the backend would stop at va again, for ever */
        VMAR_ASSERT(dst->env, resv->count >= need);
    }
    return 0;
}

void vmar__pmap_move(struct vmar_space *space, vmar_addr_t va, vmar_size_t len,
                     vmar_addr_t to, struct vmar_frame_list *resv,
                     vmar_mmu_take_fn *moved, void *arg)
{
    const vmar_addr_t end = va + len;
    vmar_addr_t s = va;
    struct vmar_pte pte;

    if (space->ops->move != NULL) {
        space->ops->move(space->mmu, va, len, to, resv, moved, arg);
        return;
    }
    while (s < end && space->ops->find_next(space->mmu, &s, end, &pte) == 0) {
        space->ops->map(space->mmu, to + (s - va), &pte, resv);
        moved(arg, pte.pa);
        s += VMAR_PAGE_SIZE;
    }
    /* The target's tables are reserved (the caller prepared every span
     * a leaf or a marker lands in): cannot fail. */
    (void)guard_pages(space, space, va, end, to, resv);
}

/* ---- the deferred TLB flush (public half: vmar/mmu.h) ---------------------
 */

/* Bit 0 of a queued page: drop a reference instead of freeing. */
#define QUEUED_PUT ((vmar_paddr_t)1)

void vmar_tlb_batch_init(struct vmar_tlb_batch *batch,
                         const struct vmar_env *env,
                         const struct vmar_mmu_ops *ops, struct vmar_mmu *mmu)
{
    batch->env = env;
    batch->ops = ops;
    batch->mmu = mmu;
    batch->lo = 1;
    batch->hi = 0;
    batch->nfree = 0;
    batch->core = NULL;
}

void vmar_tlb_batch_add_range(struct vmar_tlb_batch *batch, vmar_addr_t va,
                              vmar_size_t len)
{
    if (len == 0)
        return;
    if (batch->lo >= batch->hi) {
        batch->lo = va;
        batch->hi = va + len;
        return;
    }
    batch->lo = VMAR_MIN(batch->lo, va);
    batch->hi = VMAR_MAX(batch->hi, va + len);
}

void vmar_tlb_batch_defer_free(struct vmar_tlb_batch *batch, vmar_paddr_t pa)
{
    /* Full: pay for an early flush rather than fail or allocate. */
    if (batch->nfree == VMAR_TLB_BATCH_FRAMES)
        vmar_tlb_batch_finish(batch);
    batch->frames[batch->nfree++] = pa;
}

void vmar_tlb_batch_defer_put(struct vmar_tlb_batch *batch, vmar_paddr_t pa)
{
    struct vmar__tlb *t = batch->core;

    if (t) {
        /* Classified now, while our reference keeps the frame ours to
         * read. */
        if (vmar__frame_is_anon(batch->env, pa))
            t->put_anon++;
        else
            t->put_file++;
        if (t->transfer)
            return;
    }
    vmar_tlb_batch_defer_free(batch, pa | QUEUED_PUT);
}

void vmar_tlb_batch_finish(struct vmar_tlb_batch *batch)
{
    const struct vmar_env *env = batch->env;

    if (batch->lo < batch->hi &&
        batch->hi - batch->lo <= VMAR_TLB_BATCH_RANGE_MAX * VMAR_PAGE_SIZE)
        batch->ops->flush(batch->mmu, batch->lo, batch->hi - batch->lo);
    else if (batch->lo < batch->hi)
        /* Past the threshold one full flush is cheaper than page-by-page
         * invalidation (Linux: tlb_single_page_flush_ceiling = 33). */
        batch->ops->flush(batch->mmu, 0, 0);
    else if (batch->nfree)
        /* Frames queued with no recorded range (e.g. an emptied table
         * whose leaves were gone already): flush everything to also drop
         * paging-structure caches. */
        batch->ops->flush(batch->mmu, 0, 0);
    /* The frames to free, gathered in place at the array's front: table
     * pages, and frames whose last reference goes here. */
    size_t n = 0;
    for (size_t i = 0; i < batch->nfree; i++) {
        vmar_paddr_t pa = batch->frames[i];
        if (!(pa & QUEUED_PUT))
            batch->frames[n++] = pa;
        else if (vmar__frame_release(env, pa & ~QUEUED_PUT))
            batch->frames[n++] = pa & ~QUEUED_PUT;
    }
    vmar__frames_free(env, batch->frames, n);
    batch->lo = 1;
    batch->hi = 0;
    batch->nfree = 0;
}

/* ---- the wrappers pmap.h declares -------------------------------------- */

void vmar__tlb_init(struct vmar__tlb *t, struct vmar_space *space)
{
    vmar_tlb_batch_init(&t->b, space->env, space->ops, space->mmu);
    t->b.core = t;
    t->put_anon = 0;
    t->put_file = 0;
    t->transfer = false;
}

bool vmar__pmap_split(const struct vmar_space *space)
{
    return (space->ops->caps & VMAR_MMU_CAP_SPLIT_PT) != 0;
}

vmar_addr_t vmar__pmap_ops_user_top(const struct vmar_mmu_ops *ops)
{
    return ops->user_top;
}

vmar_addr_t vmar__pmap_user_top(const struct vmar_space *space)
{
    return vmar__pmap_ops_user_top(space->ops);
}

vmar_paddr_t vmar__pmap_pa_top(const struct vmar_space *space)
{
    return space->ops->pa_top;
}

enum vmar_cache vmar__pmap_cache_as(const struct vmar_space *space,
                                    enum vmar_cache c)
{
    return (enum vmar_cache)space->ops->cache_as[c];
}

int vmar__pmap_create(const struct vmar_env *env,
                      const struct vmar_mmu_ops *ops, const void *config,
                      struct vmar_mmu **out)
{
    return ops->create(env, config, out);
}

void vmar__pmap_destroy(struct vmar_space *space)
{
    space->ops->destroy(space->mmu);
}

int vmar__pmap_prepare(struct vmar_space *space, vmar_addr_t va,
                       vmar_size_t len, enum vmar_mmu_prep what,
                       struct vmar_frame_list *resv)
{
    return space->ops->prepare(space->mmu, va, len, what, resv);
}

void vmar__pmap_map(struct vmar_space *space, vmar_addr_t va,
                    const struct vmar_pte *pte, struct vmar_frame_list *resv)
{
    space->ops->map(space->mmu, va, pte, resv);
}

void vmar__pmap_protect(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, unsigned prot,
                        struct vmar_frame_list *resv, struct vmar__tlb *t)
{
    space->ops->protect(space->mmu, va, len, prot, resv, &t->b);
}

int vmar__pmap_find_next(const struct vmar_space *space, vmar_addr_t *va,
                         vmar_addr_t end, struct vmar_pte *pte)
{
    return space->ops->find_next(space->mmu, va, end, pte);
}

int vmar__pmap_probe(const struct vmar_space *space, vmar_addr_t va,
                     struct vmar_pte *pte, size_t *missing)
{
    vmar_addr_t at = va;

    if (space->ops->probe)
        return space->ops->probe(space->mmu, va, pte, missing);
    *missing = VMAR__MISSING_UNKNOWN;
    if (space->ops->find_next(space->mmu, &at, va + VMAR_PAGE_SIZE, pte) == 0)
        return 0;
    if (vmar__pmap_find_guard(space, &at, va + VMAR_PAGE_SIZE) != 0)
        return VMAR_ENOENT;
    *pte = (struct vmar_pte){.flags = VMAR_PTE_GUARD};
    return 0;
}

int vmar__pmap_walk(const struct vmar_space *space, vmar_addr_t *va,
                    vmar_addr_t end, struct vmar_pte *pte)
{
    return space->ops->find_next(space->mmu, va, end, pte);
}

int vmar__pmap_activation(const struct vmar_space *space,
                          struct vmar_mmu_activation *out)
{
    if (space->ops->activation == NULL)
        return VMAR_ENOTSUP;
    space->ops->activation(space->mmu, out);
    return 0;
}

void vmar__pmap_replace(struct vmar_space *space, vmar_addr_t va,
                        const struct vmar_pte *pte)
{
    struct vmar_tlb_batch b;

    vmar_tlb_batch_init(&b, space->env, space->ops, space->mmu);
    space->ops->replace(space->mmu, va, pte, &b);
}

bool vmar__pmap_has_transfer(const struct vmar_space *space)
{
    return space->ops->transfer != NULL;
}

void vmar__pmap_transfer(struct vmar_space *space, vmar_addr_t va,
                         vmar_size_t len, vmar_addr_t to,
                         struct vmar_frame_list *resv, struct vmar__tlb *t)
{
    space->ops->transfer(space->mmu, va, len, to, resv, &t->b);
}

/* ---- guard markers --------------------------------------------------------
 */

bool vmar__pmap_has_guard(const struct vmar_space *space)
{
    return space->ops->abi >= VMAR_MMU_ABI_GUARD && space->ops->guard != NULL;
}

size_t vmar__pmap_guard(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, enum vmar_mmu_guard_op op,
                        struct vmar_frame_list *resv, struct vmar__tlb *t)
{
    const size_t anon = t->put_anon, file = t->put_file;
    size_t n = space->ops->guard(space->mmu, va, len, op, resv, &t->b);

    vmar__rss_add(space, anon - t->put_anon, file - t->put_file);
    if (op == VMAR_GUARD_INSTALL)
        space->guarded = true;
    return n;
}

int vmar__pmap_find_guard(const struct vmar_space *space, vmar_addr_t *va,
                          vmar_addr_t end)
{
    if (!vmar__pmap_has_guard(space))
        return VMAR_ENOENT;
    return space->ops->find_guard(space->mmu, va, end);
}

int vmar__pmap_find_used(const struct vmar_space *space, vmar_addr_t *va,
                         vmar_addr_t end)
{
    vmar_addr_t leaf = *va, mark = *va;
    struct vmar_pte pte;
    const bool found = vmar__pmap_find_next(space, &leaf, end, &pte) == 0;

    /* A marker below the leaf, if the space has any. */
    if (space->guarded &&
        vmar__pmap_find_guard(space, &mark, found ? leaf : end) == 0) {
        *va = mark;
        return 0;
    }
    if (!found)
        return VMAR_ENOENT;
    *va = leaf;
    return 0;
}

void vmar__pmap_unguard(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, struct vmar__tlb *t)
{
    if (space->guarded)
        (void)space->ops->guard(space->mmu, va, len, VMAR_GUARD_REMOVE, NULL,
                                &t->b);
}
