/* SPDX-License-Identifier: MIT */
/* A space's life: creating, duplicating handles, emptying and
 * destroying it; its statistics and limits. */
#include "atomic.h"
#include "mapping.h"
#include "pmap.h"
#include "prep.h"

static bool env_complete(const struct vmar_env *env)
{
    if (!env || !env->alloc || !env->free || !env->frame_alloc ||
        !env->frame_free || !env->phys_to_virt)
        return false;
    /* lock and unlock come as a pair or not at all. */
    return !env->lock == !env->unlock;
}

/* Validate `o` and fill the limits of `s`. No side effects. */
static int space_configure(struct vmar_space *s,
                           const struct vmar_space_opts *o)
{
    const vmar_addr_t lo = o->user_lo ? o->user_lo : VMAR_DEFAULT_USER_LO;
    const vmar_addr_t top = vmar__pmap_ops_user_top(o->mmu);
    const vmar_addr_t hi = o->user_hi ? o->user_hi : top;

    if ((lo | hi) & (VMAR_PAGE_SIZE - 1) || lo >= hi || hi > top)
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
    s->stack_limit = o->stack_limit;
    s->mlock_limit = o->mlock_limit;
    s->mlock_limited = o->mlock_limited;
    s->aslr_bits = o->aslr_bits;
    s->flags = o->flags;
    return 0;
}

int vmar_space_create(const struct vmar_space_opts *opts,
                      struct vmar_space **out)
{
    struct vmar_space tmp;
    int rc;

    if (!opts || !out || !env_complete(opts->env))
        return VMAR_EINVAL;
    rc = vmar__pmap_usable(opts->env, opts->mmu);
    if (rc)
        return rc;
    VMAR_MEMSET(&tmp, 0, sizeof(tmp));
    rc = space_configure(&tmp, opts);
    if (rc)
        return rc;
    vmar__iset_init(&tmp.set);
    tmp.set.guard = tmp.stack_guard;

    const struct vmar_env *env = opts->env;
    struct vmar_space *s =
        env->alloc(env->ctx, sizeof(*s), _Alignof(struct vmar_space));
    if (!s)
        return VMAR_ENOMEM;
    rc = vmar__pt_init(&tmp);
    if (rc) {
        env->free(env->ctx, s, sizeof(*s));
        return rc;
    }
    rc = vmar__pmap_create(env, opts->mmu, opts->mmu_config, &tmp.mmu);
    if (rc) {
        vmar__pt_fini(&tmp);
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
    struct vmar__tlb batch;
    struct vmar__iset_node *n;

    /* One unmap over the whole user range: its ends cut no leaf, so it
     * needs no reservation, and empty tables go in the same flush. */
    vmar__tlb_init(&batch, space);
    vmar__pmap_unmap(space, space->user_lo, space->user_hi - space->user_lo,
                     NULL, &batch);
    vmar__pmap_unguard(space, space->user_lo, space->user_hi - space->user_lo,
                       &batch);
    space->guarded = false;
    vmar__tlb_finish(&batch);
    while ((n = vmar__iset_last(&space->set)) != NULL)
        vmar__mapping_destroy(space, vmar__mapping_of(n));
    size_t anon, file;
    vmar__rss_read(space, &anon, &file);
    VMAR_ASSERT(env, anon == 0 && file == 0 && space->total_vm == 0 &&
                         space->locked_vm == 0);
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

void vmar_space_destroy(struct vmar_space *h)
{
    struct vmar_space *space = h->base;
    const struct vmar_env *env = space->env;

    if (h != space)
        env->free(env->ctx, h, sizeof(*h));
    /* The space goes with its last handle. */
    if (vmar__atomic_add(&space->handles, (size_t)-1) != 1)
        return;
    /* vmar_unpin() counts on the space: pins must be given back first. */
    VMAR_ASSERT(env, vmar__atomic_load(&space->pinned) == 0);
    vmar__space_empty(space);
    vmar__index_trim(space, 0);
    vmar__pmap_destroy(space);
    vmar__pt_fini(space);
    env->free(env->ctx, space, sizeof(*space));
}

void vmar_stats(struct vmar_space *h, struct vmar_stats *out)
{
    struct vmar_space *space = h->base;
    VMAR_MEMSET(out, 0, sizeof(*out)); /* no stale padding to compare */
    vmar__lock(space, VMAR_LOCK_SHARED);
    out->map_count = space->set.count;
    out->total_vm = space->total_vm;
    size_t anon, file;
    vmar__rss_read(space, &anon, &file);
    out->resident_anon = (vmar_size_t)anon << VMAR_PAGE_SHIFT;
    out->resident_file = (vmar_size_t)file << VMAR_PAGE_SHIFT;
    out->resident = out->resident_anon + out->resident_file;
    out->user_lo = space->user_lo;
    out->user_hi = space->user_hi;
    out->index_nodes = space->set.nodes + space->set.nspare;
    out->index_node_size = sizeof(struct vmar__iset_index);
    out->stack_growths = space->stack_growths;
    out->locked = space->locked_vm;
    out->pinned = vmar__atomic_load(&space->pinned);
    out->mlock_limit = space->mlock_limit;
    out->mlock_limited = space->mlock_limited;
    out->lock_future = space->lock_future;
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

void vmar_set_stack_limit(struct vmar_space *h, vmar_size_t limit)
{
    struct vmar_space *space = h->base;
    vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
    space->stack_limit = limit;
    vmar__unlock(space, VMAR_LOCK_EXCLUSIVE);
}
