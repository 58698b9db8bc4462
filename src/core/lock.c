/* SPDX-License-Identifier: MIT */
/* The space lock (the embedder's, through the env) and the page-table
 * lock (a spinlock of the core's). */
#include "atomic.h"
#include "space.h"

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
