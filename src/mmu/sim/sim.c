/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine's lifetime, counters, failure injection and the
 * record of unflushed ranges that lets the stale-TLB detector tell a race
 * with a flush in flight from a missing flush.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/mmu.h>

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

void vmar_sim__lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);

    if (rc != 0)
        vmar_sim__die("pthread_mutex_lock: %s", strerror(rc));
}

void vmar_sim__unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);

    if (rc != 0)
        vmar_sim__die("pthread_mutex_unlock: %s", strerror(rc));
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
    if (pthread_mutex_init(&sim->lock, NULL) != 0) {
        free(sim);
        return VMAR_ENOMEM;
    }
    if (pthread_mutex_init(&sim->cpus_lock, NULL) != 0) {
        pthread_mutex_destroy(&sim->lock);
        free(sim);
        return VMAR_ENOMEM;
    }
    if (vmar_sim__pool_init(sim, o.nframes, o.phys_base, o.huge_pages) != 0) {
        pthread_mutex_destroy(&sim->cpus_lock);
        pthread_mutex_destroy(&sim->lock);
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
    free(sim->unflushed);
    pthread_mutex_destroy(&sim->cpus_lock);
    pthread_mutex_destroy(&sim->lock);
    free(sim);
}

const struct vmar_env *vmar_sim_env(struct vmar_sim *sim)
{
    return &sim->env;
}

void vmar_sim_stats(const struct vmar_sim *sim, struct vmar_sim_stats *out)
{
    /* The lock is state, not part of the machine's value: const callers
     * may still take it. */
    struct vmar_sim *s = (struct vmar_sim *)sim;

    vmar_sim__lock(&s->lock);
    *out = s->stats;
    vmar_sim__unlock(&s->lock);
}

void vmar_sim_fail_after(struct vmar_sim *sim, size_t n, unsigned mask,
                         bool persistent)
{
    vmar_sim__lock(&sim->lock);
    sim->fail.mask = n != 0 ? (mask & (VMAR_SIM_FAIL_ANY | VMAR_SIM_FAIL_DATA |
                                       VMAR_SIM_FAIL_TABLE))
                            : 0;
    sim->fail.countdown = n;
    sim->fail.persistent = persistent;
    sim->fail.tripped = false;
    vmar_sim__unlock(&sim->lock);
}

void vmar_sim_set_frame_hook(struct vmar_sim *sim, vmar_sim_frame_hook hook,
                             void *arg)
{
    vmar_sim__lock(&sim->lock);
    sim->frame_hook = hook;
    sim->frame_hook_arg = arg;
    vmar_sim__unlock(&sim->lock);
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

/* ---- unflushed ranges ----------------------------------------------- */

/*
 * Why: with several threads, a simulated CPU may hit a TLB entry of a page
 * whose leaf another thread has just changed and not yet flushed. Hardware
 * allows that (the flush has not completed, so the access is ordered
 * before it); only a hit after the flush is a bug. The sim backend records
 * each changed range from just before the change until the flush that
 * covers it, and the detector excuses hits inside another thread's
 * records. A hit inside the thread's own record is never excused: between
 * two calls of one thread nothing may be unflushed, which keeps the
 * single-threaded detector exactly as strict as before. A record still
 * there when its thread releases the space lock is a missed flush.
 */

static bool same_thread(pthread_t a, pthread_t b)
{
    return pthread_equal(a, b) != 0;
}

/* => sim->lock held. */
static void unflushed_add(struct vmar_sim *sim, const struct vmar_mmu *mmu,
                          vmar_addr_t lo, vmar_addr_t hi, pthread_t owner)
{
    if (lo >= hi)
        return;
    if (sim->nunflushed == sim->unflushed_cap) {
        size_t cap = sim->unflushed_cap ? 2 * sim->unflushed_cap : 16;
        void *p = realloc(sim->unflushed, cap * sizeof(*sim->unflushed));

        if (p == NULL)
            vmar_sim__die("out of host memory for unflushed ranges");
        sim->unflushed = p;
        sim->unflushed_cap = cap;
    }
    sim->unflushed[sim->nunflushed++] =
        (struct vmar_sim_unflushed){mmu, lo, hi, owner};
}

/* Take [lo, hi) out of the records of `mmu` (only `owner`'s when
 * only_owner). => sim->lock held. */
static void unflushed_cut(struct vmar_sim *sim, const struct vmar_mmu *mmu,
                          vmar_addr_t lo, vmar_addr_t hi, bool only_owner,
                          pthread_t owner)
{
    size_t n = sim->nunflushed, out = 0;

    for (size_t i = 0; i < n; i++) {
        struct vmar_sim_unflushed u = sim->unflushed[i];

        if (u.mmu != mmu || (only_owner && !same_thread(u.owner, owner)) ||
            u.hi <= lo || u.lo >= hi) {
            sim->unflushed[out++] = u;
            continue;
        }
        /* What stays left of the cut keeps the slot; what stays right of
         * it goes to the end, past the part still to scan. */
        if (u.lo < lo)
            sim->unflushed[out++] =
                (struct vmar_sim_unflushed){u.mmu, u.lo, lo, u.owner};
        if (u.hi > hi)
            unflushed_add(sim, u.mmu, hi, u.hi, u.owner);
    }
    /* Move the right-hand pieces appended past n down behind the kept. */
    if (sim->nunflushed > n)
        memmove(sim->unflushed + out, sim->unflushed + n,
                (sim->nunflushed - n) * sizeof(*sim->unflushed));
    sim->nunflushed = out + (sim->nunflushed - n);
}

void vmar_sim__unflushed_mark(struct vmar_sim *sim, const struct vmar_mmu *mmu,
                              vmar_addr_t lo, vmar_addr_t hi)
{
    vmar_sim__lock(&sim->lock);
    if (sim->track_unflushed)
        unflushed_add(sim, mmu, lo, hi, pthread_self());
    vmar_sim__unlock(&sim->lock);
}

void vmar_sim__unflushed_settle(struct vmar_sim *sim,
                                const struct vmar_mmu *mmu, vmar_addr_t lo,
                                vmar_addr_t hi,
                                const struct vmar_tlb_batch *batch)
{
    pthread_t self = pthread_self();

    vmar_sim__lock(&sim->lock);
    if (sim->track_unflushed) {
        /* Both in one critical section: a walker must never find the
         * change made and the record gone. */
        unflushed_cut(sim, mmu, lo, hi, true, self);
        if (batch != NULL && batch->lo < batch->hi)
            unflushed_add(sim, mmu, batch->lo, batch->hi, self);
    }
    vmar_sim__unlock(&sim->lock);
}

void vmar_sim__unflushed_flushed(struct vmar_sim *sim,
                                 const struct vmar_mmu *mmu, vmar_addr_t va,
                                 vmar_size_t len)
{
    vmar_addr_t hi =
        len == 0 || len > ~(vmar_addr_t)0 - va ? ~(vmar_addr_t)0 : va + len;

    vmar_sim__lock(&sim->lock);
    unflushed_cut(sim, mmu, len == 0 ? 0 : va, hi, false, pthread_self());
    vmar_sim__unlock(&sim->lock);
}

bool vmar_sim__unflushed_excused(struct vmar_sim *sim,
                                 const struct vmar_mmu *mmu, vmar_addr_t page)
{
    pthread_t self = pthread_self();
    bool excused = false;

    vmar_sim__lock(&sim->lock);
    for (size_t i = 0; i < sim->nunflushed && !excused; i++) {
        const struct vmar_sim_unflushed *u = &sim->unflushed[i];

        excused = u->mmu == mmu && !same_thread(u->owner, self) &&
                  u->lo <= page && page < u->hi;
    }
    vmar_sim__unlock(&sim->lock);
    return excused;
}

void vmar_sim__unflushed_missed(struct vmar_sim *sim)
{
    pthread_t self = pthread_self();
    size_t out = 0;

    vmar_sim__lock(&sim->lock);
    for (size_t i = 0; i < sim->nunflushed; i++) {
        struct vmar_sim_unflushed u = sim->unflushed[i];

        if (!same_thread(u.owner, self)) {
            sim->unflushed[out++] = u;
            continue;
        }
        sim->violations++;
        fprintf(stderr,
                "vmar sim: MISSED FLUSH: [%#llx, %#llx) changed and still "
                "not flushed when the space lock was released\n",
                (unsigned long long)u.lo, (unsigned long long)u.hi);
    }
    sim->nunflushed = out;
    vmar_sim__unlock(&sim->lock);
}
