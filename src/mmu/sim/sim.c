/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine's lifetime, counters and failure injection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmar/error.h>

#include "sim_impl.h"
#include "sim_pte.h"

#define VMAR_SIM_DEFAULT_NFRAMES   4096u
#define VMAR_SIM_DEFAULT_PHYS_BASE ((vmar_paddr_t)0x100000000)

void vmar_sim__die(const char *fmt, ...)
{
    va_list ap;

    fputs("vmar sim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

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
    /* The pool must fit the sim PTE's 52-bit frame field. */
    if (o.phys_base % VMAR_PAGE_SIZE != 0 ||
        o.nframes > VMAR_SIM_PA_LIMIT / VMAR_PAGE_SIZE ||
        o.phys_base > VMAR_SIM_PA_LIMIT - o.nframes * VMAR_PAGE_SIZE)
        return VMAR_EINVAL;

    sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return VMAR_ENOMEM;
    if (vmar_sim__pool_init(sim, o.nframes, o.phys_base) != 0) {
        free(sim);
        return VMAR_ENOMEM;
    }
    sim->verbose = o.verbose;
    vmar_sim__env_init(sim, o.with_random, o.seed, !o.no_frame_refcount);
    *out = sim;
    return 0;
}

void vmar_sim_destroy(struct vmar_sim *sim)
{
    if (sim == NULL)
        return;
    /* Not fatal: a failed test may get here half way; its own failure is
     * the interesting one. Leak-checking tests compare the stats. */
    if (sim->stats.frames_live != 0 || sim->stats.allocs_live != 0)
        fprintf(stderr,
                "vmar sim: destroyed with %zu frames and %zu metadata "
                "blocks (%zu bytes) still allocated\n",
                sim->stats.frames_live, sim->stats.allocs_live,
                sim->stats.alloc_bytes_live);
    vmar_sim__cpus_fini(sim);
    vmar_sim__pool_fini(sim);
    free(sim);
}

const struct vmar_env *vmar_sim_env(struct vmar_sim *sim)
{
    return &sim->env;
}

void vmar_sim_stats(const struct vmar_sim *sim, struct vmar_sim_stats *out)
{
    *out = sim->stats;
}

void vmar_sim_fail_after(struct vmar_sim *sim, size_t n, unsigned mask,
                         bool persistent)
{
    sim->fail.mask = n != 0 ? (mask & VMAR_SIM_FAIL_ANY) : 0;
    sim->fail.countdown = n;
    sim->fail.persistent = persistent;
    sim->fail.tripped = false;
}

/* Allocations that do not match the mask neither fail nor count. */
bool vmar_sim__inject(struct vmar_sim *sim, unsigned kind)
{
    if ((sim->fail.mask & kind) == 0)
        return false;
    if (!sim->fail.tripped) {
        if (--sim->fail.countdown != 0)
            return false;
        if (sim->fail.persistent)
            sim->fail.tripped = true;
        else
            sim->fail.mask = 0; /* one-shot: injection is over */
    }
    sim->stats.fails_injected++;
    return true;
}
