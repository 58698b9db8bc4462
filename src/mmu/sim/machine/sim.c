/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine's lifetime: create builds the pool and the envs,
 * destroy takes everything down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>

#include "machine.h"

#define VMAR_SIM_DEFAULT_NFRAMES   4096u
#define VMAR_SIM_DEFAULT_PHYS_BASE ((vmar_paddr_t)0x100000000)

int vmar_sim_create(const struct vmar_sim_opts *opts, struct vmar_sim **out)
{
    struct vmar_sim_opts o = {0};
    struct vmar_sim *sim;

    if (out == NULL)
        return VMAR_EINVAL;
    if (opts != NULL)
        o = *opts;
    if (o.nframes == 0)
        o.nframes = VMAR_SIM_DEFAULT_NFRAMES;
    if (o.phys_base == 0)
        o.phys_base = VMAR_SIM_DEFAULT_PHYS_BASE;
    /* The whole pool lies below VMAR_SIM_PHYS_LIMIT. */
    if (o.phys_base % VMAR_PAGE_SIZE != 0 ||
        o.nframes > VMAR_SIM_PHYS_LIMIT / VMAR_PAGE_SIZE ||
        o.phys_base > VMAR_SIM_PHYS_LIMIT - o.nframes * VMAR_PAGE_SIZE)
        return VMAR_EINVAL;

    /* Line aligned, as its layout expects (machine.h). */
    sim = aligned_alloc(_Alignof(struct vmar_sim), sizeof(*sim));
    if (sim == NULL)
        return VMAR_ENOMEM;
    memset(sim, 0, sizeof(*sim));
    if (pthread_mutex_init(&sim->lock, NULL) != 0) {
        free(sim);
        return VMAR_ENOMEM;
    }
    if (pthread_mutex_init(&sim->cpus_lock, NULL) != 0) {
        pthread_mutex_destroy(&sim->lock);
        free(sim);
        return VMAR_ENOMEM;
    }
    if (vmar__sim_pool_init(sim, o.nframes, o.phys_base, o.huge_pages) != 0) {
        pthread_mutex_destroy(&sim->cpus_lock);
        pthread_mutex_destroy(&sim->lock);
        free(sim);
        return VMAR_ENOMEM;
    }
    sim->verbose = o.verbose;
    vmar__sim_env_init(sim, o.with_random, o.seed, !o.no_frame_refcount);
    *out = sim;
    return 0;
}

void vmar_sim_destroy(struct vmar_sim *sim)
{
    struct vmar_sim_stats st;

    if (sim == NULL)
        return;
    /* Not fatal: a failed test may get here half way; its own failure is
     * the interesting one. Leak-checking tests compare the stats. Frames
     * in threads' caches are free. */
    vmar_sim_stats(sim, &st);
    if (st.frames_live != 0 || st.allocs_live != 0)
        fprintf(stderr,
                "vmar sim: destroyed with %zu frames and %zu metadata "
                "blocks (%zu bytes) still allocated\n",
                st.frames_live, st.allocs_live, st.alloc_bytes_live);
    vmar__sim_cpus_fini(sim);
    vmar__sim_pool_fini(sim);
    vmar__sim_unflushed_fini(sim);
    pthread_mutex_destroy(&sim->cpus_lock);
    pthread_mutex_destroy(&sim->lock);
    free(sim);
}

const struct vmar_env *vmar_sim_env(struct vmar_sim *sim)
{
    return &sim->env;
}
