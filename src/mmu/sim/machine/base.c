/* SPDX-License-Identifier: MIT */
/*
 * What every other file of the machine uses and that uses nothing of the
 * machine: the abort path, the counters (those a backend reports
 * included) and failure injection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

void vmar__sim_die(const char *fmt, ...)
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

/* Where each vmar_sim_op counts in vmar_sim_stats: a table rather than
 * a switch, since the sim backend counts every operation it performs.
 * VMAR_SIM_OP_NONE counts nothing: its slot is never added to. */
static const size_t op_offset[] = {
    [VMAR_SIM_OP_PREPARE] = offsetof(struct vmar_sim_stats, prepares),
    [VMAR_SIM_OP_MAP] = offsetof(struct vmar_sim_stats, maps),
    [VMAR_SIM_OP_UNMAP] = offsetof(struct vmar_sim_stats, unmaps),
    [VMAR_SIM_OP_PROTECT] = offsetof(struct vmar_sim_stats, protects),
    [VMAR_SIM_OP_FIND] = offsetof(struct vmar_sim_stats, finds),
    [VMAR_SIM_OP_FLUSH] = offsetof(struct vmar_sim_stats, flushes),
};

_Static_assert(sizeof(struct vmar_sim_stats) % sizeof(size_t) == 0,
               "the stats are size_t counters only");

#define NWORDS (sizeof(struct vmar_sim_stats) / sizeof(size_t))

/* Add `by` to the counter `w`: atomically when other threads add to it
 * too, else as a relaxed load and store (no locked instruction). Relaxed
 * either way: readers sum without the writer's lock. */
static inline void count_add(size_t *w, size_t by, bool shared)
{
    if (shared)
        __atomic_fetch_add(w, by, __ATOMIC_RELAXED);
    else
        __atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) + by,
                         __ATOMIC_RELAXED);
}

void vmar__sim_count_into(struct vmar_sim_stats *st, bool shared,
                          enum vmar_sim_op op, ptrdiff_t tables,
                          ptrdiff_t leaves)
{
    if ((unsigned)op >= sizeof(op_offset) / sizeof(op_offset[0]))
        vmar__sim_die("vmar_sim_count: unknown operation %d", (int)op);
    if (op != VMAR_SIM_OP_NONE)
        count_add((size_t *)(void *)((unsigned char *)st + op_offset[op]), 1,
                  shared);
    /* Unsigned wrap-around adds a negative delta. */
    if (tables != 0)
        count_add(&st->tables_live, (size_t)tables, shared);
    if (leaves != 0)
        count_add(&st->leaves_live, (size_t)leaves, shared);
}

void vmar__sim_stats_sum(struct vmar_sim_stats *to,
                         const struct vmar_sim_stats *from, bool shared)
{
    const size_t *f = (const size_t *)(const void *)from;
    size_t *t = (size_t *)(void *)to;

    for (size_t i = 0; i < NWORDS; i++) {
        size_t v = __atomic_load_n(&f[i], __ATOMIC_RELAXED);

        if (v == 0)
            continue;
        if (shared)
            __atomic_fetch_add(&t[i], v, __ATOMIC_RELAXED);
        else
            t[i] += v;
    }
}

void vmar_sim_fail_after(struct vmar_sim *sim, size_t n, unsigned mask,
                         bool persistent)
{
    vmar__sim_lock(&sim->lock);
    sim->fail.mask = n != 0 ? (mask & (VMAR_SIM_FAIL_ANY | VMAR_SIM_FAIL_DATA |
                                       VMAR_SIM_FAIL_TABLE))
                            : 0;
    sim->fail.countdown = n;
    sim->fail.persistent = persistent;
    sim->fail.tripped = false;
    vmar__sim_frame_slow_update(sim);
    vmar__sim_unlock(&sim->lock);
}

void vmar_sim_set_frame_hook(struct vmar_sim *sim, vmar_sim_frame_hook hook,
                             void *arg)
{
    vmar__sim_lock(&sim->lock);
    sim->frame_hook = hook;
    sim->frame_hook_arg = arg;
    vmar__sim_frame_slow_update(sim);
    vmar__sim_unlock(&sim->lock);
}

void vmar__sim_frame_slow_update(struct vmar_sim *sim)
{
    __atomic_store_n(&sim->frame_slow,
                     sim->frame_hook != NULL || sim->fail.mask != 0,
                     __ATOMIC_RELAXED);
}

/* Allocations that do not match the mask neither fail nor count. */
bool vmar__sim_inject(struct vmar_sim *sim, unsigned kind)
{
    if ((sim->fail.mask & kind) == 0)
        return false;
    if (!sim->fail.tripped) {
        if (--sim->fail.countdown != 0)
            return false;
        if (sim->fail.persistent)
            sim->fail.tripped = true;
        else {
            sim->fail.mask = 0; /* one-shot: injection is over */
            vmar__sim_frame_slow_update(sim);
        }
    }
    sim->stats.fails_injected++;
    return true;
}
