/* SPDX-License-Identifier: MIT */
/* The space lock (the embedder's, through the env), the page-table lock
 * stripes (spinlocks of the core's) and the RSS counters they carry. */
#include "atomic.h"
#include "pmap.h"

/* The stripes of the blocks meeting [lo, hi), as a mask. */
static size_t stripes_of(const struct vmar_space *space, vmar_addr_t lo,
                         vmar_addr_t hi)
{
    const size_t all = ((size_t)2 << space->pt_mask) - 1;
    const vmar_addr_t first = lo / VMAR_MMU_LEAF_BLOCK;
    const vmar_addr_t last = (hi - 1) / VMAR_MMU_LEAF_BLOCK;
    size_t mask = 0;

    if (hi <= lo || last - first >= space->pt_mask)
        return all;
    for (vmar_addr_t b = first; b <= last; b++)
        mask |= (size_t)1 << (b & space->pt_mask);
    return mask;
}

/* Close the stripes in `mask` that are open, and the index, and wait
 * until no fault is inside them. Each stripe's sequence goes odd with a
 * full barrier before its count is read, and a fault adds itself (full
 * barrier) before it reads the sequence: of the two, at least one sees
 * the other, so no fault is inside once the count reads zero, and none
 * enters until gate_open. The index likewise with gate_seq and
 * `lookups`. Only then is a stripe's cache cleared: a fault inside may
 * still have been filling it. A fault never sleeps inside, so the wait is
 * short.
 * => caller holds the space lock exclusively. */
static void gate_close(struct vmar_space *space, size_t mask)
{
    const size_t fresh = mask & ~space->closed;

    if (!fresh)
        return;
    for (size_t i = 0; i <= space->pt_mask; i++)
        if (fresh >> i & 1)
            vmar__atomic_add(&space->pt[i].seq, 1);
    if (!space->closed)
        vmar__atomic_add(&space->gate_seq, 1);
    space->closed |= fresh;
    for (size_t i = 0; i <= space->pt_mask; i++) {
        if (!(fresh >> i & 1))
            continue;
        while (vmar__atomic_load(&space->pt[i].readers))
            ; /* a fault finishing its round */
        vmar__atomic_store(&space->pt[i].cache, 0);
    }
    while (vmar__atomic_load(&space->lookups))
        ; /* a fault finishing its lookup */
}

/* => caller holds the space lock exclusively. */
static void gate_open(struct vmar_space *space)
{
    for (size_t i = 0; i <= space->pt_mask; i++)
        if (space->closed >> i & 1)
            vmar__atomic_add(&space->pt[i].seq, 1);
    vmar__atomic_add(&space->gate_seq, 1);
    space->closed = 0;
}

static void gate_close_all(struct vmar_space *space)
{
    gate_close(space, ((size_t)2 << space->pt_mask) - 1);
}

void vmar__lock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (vmar__gated(space)) {
        env->lock(env->ctx, space->lock, mode);
        if (mode == VMAR_LOCK_EXCLUSIVE)
            gate_close_all(space);
    } else if (env->lock_held) {
        VMAR_ASSERT(env, env->lock_held(env->ctx, space->lock, mode));
    }
}

void vmar__unlock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (vmar__gated(space)) {
        if (mode == VMAR_LOCK_EXCLUSIVE && space->closed)
            gate_open(space);
        env->unlock(env->ctx, space->lock, mode);
    }
}

void vmar__lock_layout(struct vmar_space *space)
{
    const struct vmar_env *env = space->env;

    if (!vmar__gated(space) || !vmar__pmap_split(space)) {
        vmar__lock(space, VMAR_LOCK_EXCLUSIVE);
        return;
    }
    env->lock(env->ctx, space->lock, VMAR_LOCK_EXCLUSIVE);
}

void vmar__gate_commit(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi)
{
    if (vmar__gated(space))
        gate_close(space, stripes_of(space, lo, hi));
}

/* Whether a leaf or a leaf table may be in [lo, hi): probed block by
 * block, at most as many blocks as there are stripes (more: assumed). */
static bool has_tables(const struct vmar_space *space, vmar_addr_t lo,
                       vmar_addr_t hi)
{
    struct vmar_pte pte;
    size_t missing;

    if (stripes_of(space, lo, hi) == ((size_t)2 << space->pt_mask) - 1)
        return true;
    for (vmar_addr_t va = lo; va < hi;
         va = (va / VMAR_MMU_LEAF_BLOCK + 1) * VMAR_MMU_LEAF_BLOCK) {
        if (vmar__pmap_probe(space, va, &pte, &missing) == 0 || missing == 0 ||
            missing == VMAR__MISSING_UNKNOWN)
            return true;
    }
    return false;
}

bool vmar__gate_unmap(struct vmar_space *space, vmar_addr_t lo, vmar_addr_t hi)
{
    const size_t all = ((size_t)2 << space->pt_mask) - 1;

    if (!vmar__gated(space) || space->closed == all)
        return true;
    if (!has_tables(space, lo, hi))
        return false;
    gate_close_all(space);
    return true;
}

bool vmar__gate_enter(struct vmar_space *space, vmar_addr_t va, size_t *seq)
{
    struct vmar__pt_stripe *st = vmar__pt_stripe(space, va);

    vmar__atomic_add(&st->readers, 1);
    *seq = vmar__atomic_load(&st->seq);
    if (!(*seq & 1))
        return true;
    vmar__atomic_add(&st->readers, (size_t)-1);
    return false;
}

void vmar__gate_exit(struct vmar_space *space, vmar_addr_t va)
{
    vmar__atomic_add(&vmar__pt_stripe(space, va)->readers, (size_t)-1);
}

struct vmar__mapping *vmar__gate_cached(struct vmar_space *space,
                                        vmar_addr_t va)
{
    return (struct vmar__mapping *)vmar__atomic_load(
        &vmar__pt_stripe(space, va)->cache);
}

void vmar__gate_remember(struct vmar_space *space, vmar_addr_t va,
                         struct vmar__mapping *m)
{
    struct vmar__pt_stripe *st = vmar__pt_stripe(space, va);

    if (vmar__atomic_load(&st->cache) != (size_t)m)
        vmar__atomic_store(&st->cache, (size_t)m);
}

bool vmar__gate_index_enter(struct vmar_space *space)
{
    vmar__atomic_add(&space->lookups, 1);
    if (!(vmar__atomic_load(&space->gate_seq) & 1))
        return true;
    vmar__atomic_add(&space->lookups, (size_t)-1);
    return false;
}

void vmar__gate_index_exit(struct vmar_space *space)
{
    vmar__atomic_add(&space->lookups, (size_t)-1);
}

static bool spin_even(const volatile size_t *seq)
{
    for (unsigned i = 0; i < VMAR__GATE_SPIN; i++)
        if (!(vmar__atomic_load(seq) & 1))
            return true;
    return false;
}

bool vmar__gate_wait(const struct vmar_space *space, vmar_addr_t va)
{
    return spin_even(
        &space->pt[(va / VMAR_MMU_LEAF_BLOCK) & space->pt_mask].seq);
}

bool vmar__gate_index_wait(const struct vmar_space *space)
{
    return spin_even(&space->gate_seq);
}

int vmar__pt_init(struct vmar_space *space)
{
    const struct vmar_env *env = space->env;
    const size_t n = vmar__pmap_split(space) ? VMAR__PT_STRIPES : 1u;
    struct vmar__pt_stripe *pt =
        env->alloc(env->ctx, n * sizeof(*pt), VMAR__CACHE_LINE);

    if (!pt)
        return VMAR_ENOMEM;
    VMAR_MEMSET(pt, 0, n * sizeof(*pt));
    space->pt = pt;
    space->pt_mask = n - 1;
    return 0;
}

void vmar__pt_fini(struct vmar_space *space)
{
    const struct vmar_env *env = space->env;

    env->free(env->ctx, space->pt, (space->pt_mask + 1) * sizeof(*space->pt));
    space->pt = NULL;
}

static void stripe_lock(struct vmar__pt_stripe *st)
{
    while (!vmar__atomic_cas(&st->lock, 0, 1))
        while (vmar__atomic_load(&st->lock))
            ; /* spin on a read: no cache-line ping-pong */
}

static void stripe_unlock(struct vmar__pt_stripe *st)
{
    vmar__atomic_store(&st->lock, 0);
}

void vmar__pt_lock(struct vmar_space *space, vmar_addr_t va)
{
    stripe_lock(vmar__pt_stripe(space, va));
}

void vmar__pt_unlock(struct vmar_space *space, vmar_addr_t va)
{
    stripe_unlock(vmar__pt_stripe(space, va));
}

void vmar__pt_lock_all(struct vmar_space *space)
{
    for (size_t i = 0; i <= space->pt_mask; i++)
        stripe_lock(&space->pt[i]);
}

void vmar__pt_unlock_all(struct vmar_space *space)
{
    for (size_t i = space->pt_mask + 1; i-- > 0;)
        stripe_unlock(&space->pt[i]);
}

void vmar__rss_read(const struct vmar_space *space, size_t *anon, size_t *file)
{
    size_t a = 0, f = 0;

    for (size_t i = 0; i <= space->pt_mask; i++) {
        a += vmar__atomic_load(&space->pt[i].rss_anon);
        f += vmar__atomic_load(&space->pt[i].rss_file);
    }
    *anon = a;
    *file = f;
}
