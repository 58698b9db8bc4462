/* SPDX-License-Identifier: MIT */
/* The space lock (the embedder's, through the env), the page-table lock
 * stripes (spinlocks of the core's) and the RSS counters they carry. */
#include "atomic.h"
#include "pmap.h"

/* Close the fault gate and wait until no fault is inside. The sequence
 * goes odd with a full barrier before the counts are read, and a fault
 * adds itself (full barrier) before it reads the sequence: of the two,
 * at least one sees the other, so no fault is inside once every count
 * reads zero, and none enters until gate_open. A fault never sleeps
 * inside, so the wait is short.
 * => caller holds the space lock exclusively. */
static void gate_close(struct vmar_space *space)
{
    vmar__atomic_add(&space->gate_seq, 1);
    for (size_t i = 0; i <= space->pt_mask; i++)
        while (vmar__atomic_load(&space->pt[i].readers))
            ; /* a fault finishing its round */
}

/* => caller holds the space lock exclusively and closed the gate. */
static void gate_open(struct vmar_space *space)
{
    vmar__atomic_add(&space->gate_seq, 1);
}

void vmar__lock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (vmar__gated(space)) {
        env->lock(env->ctx, space->lock, mode);
        if (mode == VMAR_LOCK_EXCLUSIVE)
            gate_close(space);
    } else if (env->lock_held) {
        VMAR_ASSERT(env, env->lock_held(env->ctx, space->lock, mode));
    }
}

void vmar__unlock(struct vmar_space *space, enum vmar_lock_mode mode)
{
    const struct vmar_env *env = space->env;

    if (vmar__gated(space)) {
        if (mode == VMAR_LOCK_EXCLUSIVE &&
            vmar__atomic_load(&space->gate_seq) & 1)
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

void vmar__gate_commit(struct vmar_space *space)
{
    if (vmar__gated(space) && !(vmar__atomic_load(&space->gate_seq) & 1))
        gate_close(space);
}

bool vmar__gate_enter(struct vmar_space *space, vmar_addr_t va, size_t *seq)
{
    struct vmar__pt_stripe *st = vmar__pt_stripe(space, va);

    vmar__atomic_add(&st->readers, 1);
    *seq = vmar__atomic_load(&space->gate_seq);
    if (!(*seq & 1))
        return true;
    vmar__atomic_add(&st->readers, (size_t)-1);
    return false;
}

bool vmar__gate_wait(const struct vmar_space *space)
{
    for (unsigned i = 0; i < VMAR__GATE_SPIN; i++)
        if (!(vmar__atomic_load(&space->gate_seq) & 1))
            return true;
    return false;
}

void vmar__gate_exit(struct vmar_space *space, vmar_addr_t va)
{
    vmar__atomic_add(&vmar__pt_stripe(space, va)->readers, (size_t)-1);
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

static void rss_add_to(struct vmar__pt_stripe *st, size_t anon, size_t file)
{
    if (anon)
        vmar__atomic_add(&st->rss_anon, anon);
    if (file)
        vmar__atomic_add(&st->rss_file, file);
}

void vmar__rss_add_at(struct vmar_space *space, vmar_addr_t va, size_t anon,
                      size_t file)
{
    rss_add_to(vmar__pt_stripe(space, va), anon, file);
}

void vmar__rss_add(struct vmar_space *space, size_t anon, size_t file)
{
    rss_add_to(&space->pt[0], anon, file);
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
