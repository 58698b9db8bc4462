/* SPDX-License-Identifier: MIT */
/* Creating and destroying spaces, locking, limits and counters. */
#include "atomic.h"
#include "mapping.h"

void vmar__pt_lock(struct vmar_space *space)
{
    while (!vmar__atomic_cas(&space->pt_lock, 0, 1))
        while (vmar__atomic_load(&space->pt_lock))
            ; /* spin on a read: no cache-line ping-pong */
}

void vmar__pt_unlock(struct vmar_space *space)
{
    vmar__atomic_store(&space->pt_lock, 0);
}

void vmar__rss_add(struct vmar_space *space, size_t anon, size_t file)
{
    if (anon)
        vmar__atomic_add(&space->rss_anon, anon);
    if (file)
        vmar__atomic_add(&space->rss_file, file);
}

void vmar__unmap_leaves(struct vmar_space *space, vmar_addr_t va,
                        vmar_size_t len, struct vmar_frame_list *resv,
                        struct vmar_tlb_batch *batch)
{
    const size_t anon = batch->put_anon, file = batch->put_file;

    space->ops->unmap(space->mmu, va, len, resv, batch);
    vmar__rss_add(space, anon - batch->put_anon, file - batch->put_file);
}

void vmar__lock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (env->lock && space->lock)
        env->lock(env->ctx, space->lock, mode);
    else if (env->lock_held)
        VMAR_ASSERT(env, env->lock_held(env->ctx, space->lock, mode));
}

void vmar__unlock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (env->lock && space->lock)
        env->unlock(env->ctx, space->lock, mode);
}

int vmar__check_growth(const struct vmar_space *space, vmar_size_t added,
                       size_t count)
{
    if (space->as_limit && added &&
        (space->total_vm > space->as_limit ||
         added > space->as_limit - space->total_vm))
        return VMAR_ENOMEM;
    if (count > space->max_map_count && count > space->set.count)
        return VMAR_ENOMEM;
    return 0;
}

int vmar__check_range(const struct vmar_space *space, vmar_addr_t addr,
                      vmar_size_t size)
{
    if (size == 0 || (addr | size) & (VMAR_PAGE_SIZE - 1))
        return VMAR_EINVAL;
    if (addr < space->user_lo || addr > space->user_hi ||
        size > space->user_hi - addr)
        return VMAR_EINVAL;
    return 0;
}

static bool env_complete(const struct vmar_env *env)
{
    if (!env || !env->alloc || !env->free || !env->frame_alloc ||
        !env->frame_free || !env->phys_to_virt)
        return false;
    /* lock and unlock come as a pair or not at all. */
    return !env->lock == !env->unlock;
}

/* Each policy stored as a policy, and RAM's write-back as itself. */
static bool cache_as_valid(const struct vmar_mmu_ops *ops)
{
    for (unsigned c = 0; c < VMAR_CACHE_POLICIES; c++)
        if (ops->cache_as[c] > VMAR_CACHE_UC)
            return false;
    return ops->cache_as[VMAR_CACHE_WB] == VMAR_CACHE_WB;
}

static bool mmu_usable(const struct vmar_mmu_ops *ops)
{
    /* Exactly this ABI: ABI 3 changed what unmap does with managed frames
     * (references, not frees), so an older backend would free shared
     * frames; ABI 4 appended copy and ABI 5 move (both optional: NULL is
     * fine), ABI 6 the required replace (copy-on-write breaks use it),
     * pa_top and cache_as, and every in-tree backend is rebuilt with the
     * header, so accepting only the newest costs nothing and keeps one
     * contract. */
    return ops && ops->abi == VMAR_MMU_ABI && ops->create && ops->destroy &&
           ops->prepare && ops->map && ops->unmap && ops->protect &&
           ops->find_next && ops->flush && ops->replace && ops->user_top != 0 &&
           (ops->user_top & (VMAR_PAGE_SIZE - 1)) == 0 && ops->pa_top != 0 &&
           (ops->pa_top & (VMAR_PAGE_SIZE - 1)) == 0 && cache_as_valid(ops);
}

/* Validate `o` and fill the limits of `s`. No side effects. */
static int space_configure(struct vmar_space *s,
                           const struct vmar_space_opts *o)
{
    const vmar_addr_t lo = o->user_lo ? o->user_lo : VMAR_DEFAULT_USER_LO;
    const vmar_addr_t hi = o->user_hi ? o->user_hi : o->mmu->user_top;

    if ((lo | hi) & (VMAR_PAGE_SIZE - 1) || lo >= hi || hi > o->mmu->user_top)
        return VMAR_EINVAL;
    if (o->stack_guard & (VMAR_PAGE_SIZE - 1) || o->stack_guard > hi - lo)
        return VMAR_EINVAL;
    if (o->aslr_bits > 40 || (o->aslr_bits && !o->env->random))
        return VMAR_EINVAL;
    if (o->flags & ~(unsigned)VMAR_SPACE_BOTTOM_UP)
        return VMAR_EINVAL;
    s->env = o->env;
    s->ops = o->mmu;
    s->lock = o->lock;
    s->mmu_configured = o->mmu_config != NULL;
    s->user_lo = lo;
    s->user_hi = hi;
    s->as_limit = o->as_limit;
    s->max_map_count =
        o->max_map_count ? o->max_map_count : VMAR_DEFAULT_MAX_MAP_COUNT;
    s->stack_guard = o->stack_guard;
    s->aslr_bits = o->aslr_bits;
    s->flags = o->flags;
    return 0;
}

int vmar_space_create(const struct vmar_space_opts *opts,
                      struct vmar_space **out)
{
    struct vmar_space tmp;
    int rc;

    if (!opts || !out || !env_complete(opts->env) || !mmu_usable(opts->mmu))
        return VMAR_EINVAL;
    VMAR_MEMSET(&tmp, 0, sizeof(tmp));
    rc = space_configure(&tmp, opts);
    if (rc)
        return rc;
    vmar_iset_init(&tmp.set);

    const struct vmar_env *env = opts->env;
    struct vmar_space *s =
        env->alloc(env->ctx, sizeof(*s), _Alignof(struct vmar_space));
    if (!s)
        return VMAR_ENOMEM;
    rc = opts->mmu->create(env, opts->mmu_config, &tmp.mmu);
    if (rc) {
        env->free(env->ctx, s, sizeof(*s));
        return rc;
    }
    *s = tmp;
    s->base = s;
    s->rights = VMAR_RIGHTS_ALL;
    s->handles = 1;
    *out = s;
    return 0;
}

void vmar__space_empty(struct vmar_space *space)
{
    const struct vmar_env *env = space->env;
    struct vmar_tlb_batch batch;
    struct vmar_iset_node *n;

    /* One unmap over the whole user range: its ends cut no leaf, so it
     * needs no reservation, and empty tables go in the same flush. */
    vmar_tlb_batch_init(&batch, env, space->ops, space->mmu);
    vmar__unmap_leaves(space, space->user_lo, space->user_hi - space->user_lo,
                       NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    while ((n = vmar_iset_last(&space->set)) != NULL)
        vmar__mapping_destroy(space, vmar__mapping_of(n));
    VMAR_ASSERT(env, space->rss_anon == 0 && space->rss_file == 0 &&
                         space->total_vm == 0);
}

int vmar_space_dup(struct vmar_space *h, unsigned rights,
                   struct vmar_space **out)
{
    struct vmar_space *space = vmar__base(h);
    struct vmar_space *d;
    int rc;

    if (!space || !out || rights & ~(unsigned)VMAR_RIGHTS_ALL)
        return VMAR_EINVAL;
    rc = vmar__check_rights(h, VMAR_RIGHT_DUP | rights);
    if (rc)
        return rc;
    d = space->env->alloc(space->env->ctx, sizeof(*d),
                          _Alignof(struct vmar_space));
    if (!d)
        return VMAR_ENOMEM;
    /* The constant fields, for readers of a handle's env/ops/mmu; the
     * rest is the base's alone. */
    VMAR_MEMSET(d, 0, sizeof(*d));
    d->env = space->env;
    d->ops = space->ops;
    d->mmu = space->mmu;
    d->lock = space->lock;
    d->base = space;
    d->rights = rights;
    vmar__atomic_add(&space->handles, 1);
    *out = d;
    return 0;
}

unsigned vmar_space_rights(const struct vmar_space *h)
{
    return h ? h->rights : 0u;
}

/* map, protect and vmar_fault ask for rights by permission bits. */
_Static_assert((unsigned)VMAR_RIGHT_READ == (unsigned)VMAR_PROT_READ &&
                   (unsigned)VMAR_RIGHT_WRITE == (unsigned)VMAR_PROT_WRITE &&
                   (unsigned)VMAR_RIGHT_EXEC == (unsigned)VMAR_PROT_EXEC,
               "vmar_rights and vmar_prot bits differ");

int vmar__check_rights(const struct vmar_space *h, unsigned need)
{
    return need & ~h->rights ? VMAR_EACCES : 0;
}

void vmar_space_destroy(struct vmar_space *h)
{
    struct vmar_space *space = h->base;
    const struct vmar_env *env = space->env;

    if (h != space)
        env->free(env->ctx, h, sizeof(*h));
    /* The space goes with its last handle. */
    if (vmar__atomic_add(&space->handles, (size_t)-1) != 1)
        return;
    vmar__space_empty(space);
    vmar__index_trim(space, 0);
    space->ops->destroy(space->mmu);
    env->free(env->ctx, space, sizeof(*space));
}

void vmar_stats(struct vmar_space *h, struct vmar_stats *out)
{
    struct vmar_space *space = h->base;
    vmar__lock(space, VMAR_LOCK_SHARED);
    out->map_count = space->set.count;
    out->total_vm = space->total_vm;
    const size_t anon = vmar__atomic_load(&space->rss_anon);
    const size_t file = vmar__atomic_load(&space->rss_file);
    out->resident_anon = (vmar_size_t)anon << VMAR_PAGE_SHIFT;
    out->resident_file = (vmar_size_t)file << VMAR_PAGE_SHIFT;
    out->resident = out->resident_anon + out->resident_file;
    out->user_lo = space->user_lo;
    out->user_hi = space->user_hi;
    out->index_nodes = space->set.nodes + space->set.nspare;
    out->index_node_size = sizeof(struct vmar_iset_index);
    vmar__unlock(space, VMAR_LOCK_SHARED);
}

void vmar_set_limits(struct vmar_space *h, vmar_size_t as_limit,
                     size_t max_map_count)
{
    struct vmar_space *space = h->base;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    space->as_limit = as_limit;
    space->max_map_count =
        max_map_count ? max_map_count : VMAR_DEFAULT_MAX_MAP_COUNT;
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
}

/* Free the n spares on top of the list. */
static void vmar__index_drop(struct vmar_space *space, size_t n)
{
    while (n--)
        space->env->free(space->env->ctx, vmar_iset_spare_take(&space->set),
                         sizeof(struct vmar_iset_index));
}

int vmar__index_reserve(struct vmar_space *space, size_t inserts)
{
    const struct vmar_env *env = space->env;
    const size_t had = space->set.nspare;
    size_t k = vmar_iset_spares_needed(&space->set, inserts);

    space->index_keep = VMAR_MAX(space->index_keep, inserts);
    if (!space->index_added)
        space->index_gen = space->set.gen;
    while (k--) {
        struct vmar_iset_index *x =
            env->alloc(env->ctx, sizeof(*x), _Alignof(struct vmar_iset_index));
        if (!x) {
            const size_t added = space->set.nspare - had;
            vmar__index_drop(space, added);
            space->index_added -= added;
            return VMAR_ENOMEM;
        }
        vmar_iset_spare_add(&space->set, x);
        space->index_added++;
    }
    return 0;
}

void vmar__index_trim(struct vmar_space *space, size_t inserts)
{
    const size_t keep =
        inserts ? vmar_iset_spares_for(&space->set, inserts) : 0;

    if (space->set.nspare > keep)
        vmar__index_drop(space, space->set.nspare - keep);
}

void vmar__index_slack(struct vmar_space *space)
{
    const size_t keep = VMAR_MAX(space->index_keep, (size_t)VMAR_PREP_NODES);

    if (space->set.nspare > 2 * vmar_iset_spares_for(&space->set, keep))
        vmar__index_trim(space, keep);
}

int vmar__prep_nodes(struct vmar_space *space, struct vmar_prep *prep,
                     unsigned n)
{
    const struct vmar_env *env = space->env;
    unsigned had = prep->nnodes;

    VMAR_ASSERT(env, had + n <= VMAR_PREP_NODES);
    for (unsigned i = 0; i < n; i++) {
        struct vmar_mapping *m =
            env->alloc(env->ctx, sizeof(*m), _Alignof(struct vmar_mapping));
        if (!m) {
            while (prep->nnodes > had)
                env->free(env->ctx, prep->nodes[--prep->nnodes], sizeof(*m));
            return VMAR_ENOMEM;
        }
        prep->nodes[prep->nnodes++] = m;
    }
    if (n && vmar__index_reserve(space, prep->nnodes)) {
        while (prep->nnodes > had)
            env->free(env->ctx, prep->nodes[--prep->nnodes],
                      sizeof(struct vmar_mapping));
        return VMAR_ENOMEM;
    }
    return 0;
}

struct vmar_mapping *vmar__prep_take(struct vmar_space *space,
                                     struct vmar_prep *prep)
{
    VMAR_ASSERT(space->env, prep->nnodes > 0);
    struct vmar_mapping *m = prep->nodes[--prep->nnodes];
    VMAR_MEMSET(m, 0, sizeof(*m));
    return m;
}

void vmar__prep_release(struct vmar_space *space, struct vmar_prep *prep)
{
    const struct vmar_env *env = space->env;

    while (prep->nnodes)
        env->free(env->ctx, prep->nodes[--prep->nnodes],
                  sizeof(struct vmar_mapping));
    /* An operation that failed (or changed nothing) gives back the spares
     * it added: they are on top of the list, untouched, since only a
     * change of the set takes or returns spares. */
    if (space->index_added && space->set.gen == space->index_gen)
        vmar__index_drop(space, space->index_added);
    space->index_added = 0;
    space->index_keep = 0;
    vmar_frame_list_release(env, &prep->tables);
    vmar_frame_list_release(env, &prep->frames);
    while (prep->npages)
        vmar_frame_put(env, prep->pages[--prep->npages]);
    if (prep->pages)
        env->free(env->ctx, prep->pages,
                  prep->pages_cap * sizeof(*prep->pages));
    if (prep->object)
        vmar_object_unref(prep->object);
    prep->pages = NULL;
    prep->object = NULL;
}
