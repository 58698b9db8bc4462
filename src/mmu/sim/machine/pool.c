/* SPDX-License-Identifier: MIT */
/*
 * The physical frame pool: nframes frames of VMAR_PAGE_SIZE bytes at
 * physical addresses phys_base + i * VMAR_PAGE_SIZE, backed by one host
 * allocation. A per-frame state byte catches double and foreign frees; a
 * stack of free indices hands frames out (last freed, first reused, which
 * makes a use-after-free hit live data quickly). Free frames hold poison,
 * so only VMAR_FRAME_ZERO promises zeros.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vmar/error.h>

#include "machine.h"

#define VMAR_SIM_HUGE ((size_t)2 << 20)

/* The pool's host memory: page aligned, or with `huge` 2 MiB aligned and
 * a multiple of 2 MiB (aligned_alloc wants a multiple of the alignment)
 * with the kernel asked for huge pages. Only a hint: the pool works on
 * whatever pages the host gives it. */
static unsigned char *pool_mem(size_t bytes, bool huge)
{
    if (!huge)
        return aligned_alloc((size_t)VMAR_PAGE_SIZE, bytes);
    bytes = (bytes + VMAR_SIM_HUGE - 1) & ~(VMAR_SIM_HUGE - 1);
    unsigned char *mem = aligned_alloc(VMAR_SIM_HUGE, bytes);
#ifdef MADV_HUGEPAGE
    if (mem != NULL)
        (void)madvise(mem, bytes, MADV_HUGEPAGE);
#endif
    return mem;
}

int vmar__sim_pool_init(struct vmar_sim *sim, size_t nframes,
                        vmar_paddr_t phys_base, bool huge_pages)
{
    size_t bytes = nframes * (size_t)VMAR_PAGE_SIZE;

    sim->mem = pool_mem(bytes, huge_pages);
    sim->frame_state = calloc(nframes, 1);
    sim->free_stack = calloc(nframes, sizeof(size_t));
    sim->refcount = calloc(nframes, sizeof(size_t));
    if (sim->mem == NULL || sim->frame_state == NULL ||
        sim->free_stack == NULL || sim->refcount == NULL) {
        vmar__sim_pool_fini(sim);
        return VMAR_ENOMEM;
    }
    memset(sim->mem, VMAR_SIM_FRAME_POISON, bytes);
    sim->nframes = nframes;
    sim->phys_base = phys_base;
    /* Push in reverse so that frame 0 is handed out first. */
    for (size_t i = 0; i < nframes; i++)
        sim->free_stack[i] = nframes - 1 - i;
    sim->nfree = nframes;
    return 0;
}

void vmar__sim_pool_fini(struct vmar_sim *sim)
{
    free(sim->mem);
    free(sim->frame_state);
    free(sim->free_stack);
    free(sim->refcount);
    sim->refcount = NULL;
    sim->mem = NULL;
    sim->frame_state = NULL;
    sim->free_stack = NULL;
    sim->nframes = 0;
    sim->nfree = 0;
}

bool vmar__sim_in_pool(const struct vmar_sim *sim, vmar_paddr_t pa)
{
    return pa >= sim->phys_base &&
           (pa - sim->phys_base) / VMAR_PAGE_SIZE < sim->nframes;
}

static size_t frame_index(const struct vmar_sim *sim, vmar_paddr_t pa)
{
    return (size_t)((pa - sim->phys_base) / VMAR_PAGE_SIZE);
}

static unsigned char *frame_bytes(const struct vmar_sim *sim, size_t i)
{
    return sim->mem + i * (size_t)VMAR_PAGE_SIZE;
}

int vmar__sim_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    struct vmar_sim *sim = ctx;
    vmar_sim_frame_hook hook;
    void *hook_arg;
    size_t i;

    if ((flags & ~(unsigned)(VMAR_FRAME_ZERO | VMAR_FRAME_TABLE)) != 0)
        vmar__sim_die("frame_alloc: unknown flags %#x", flags);
    vmar__sim_lock(&sim->lock);
    hook = sim->frame_hook;
    hook_arg = sim->frame_hook_arg;
    vmar__sim_unlock(&sim->lock);
    /* Outside the lock: the hook may block (a test lining threads up). */
    if (hook != NULL)
        hook(hook_arg, flags);
    vmar__sim_lock(&sim->lock);
    sim->stats.frame_alloc_calls++;
    /* FRAME counts every frame; DATA and TABLE one kind each. */
    if (vmar__sim_inject(sim,
                         VMAR_SIM_FAIL_FRAME |
                             (flags & VMAR_FRAME_TABLE ? VMAR_SIM_FAIL_TABLE
                                                       : VMAR_SIM_FAIL_DATA)) ||
        sim->nfree == 0) {
        vmar__sim_unlock(&sim->lock);
        return VMAR_ENOMEM;
    }
    i = sim->free_stack[--sim->nfree];
    sim->frame_state[i] = VMAR_SIM_FRAME_LIVE;
    sim->stats.frames_live++;
    vmar__sim_unlock(&sim->lock);
    /* The frame is the caller's from here on. */
    if (flags & VMAR_FRAME_ZERO)
        memset(frame_bytes(sim, i), 0, (size_t)VMAR_PAGE_SIZE);
    *pa = sim->phys_base + (vmar_paddr_t)i * VMAR_PAGE_SIZE;
    return 0;
}

void vmar__sim_frame_free(void *ctx, vmar_paddr_t pa)
{
    struct vmar_sim *sim = ctx;
    size_t i;

    if (!vmar__sim_in_pool(sim, pa) || pa % VMAR_PAGE_SIZE != 0)
        vmar__sim_die("frame_free(%#llx): not a frame of this pool "
                      "[%#llx, %#llx)",
                      (unsigned long long)pa,
                      (unsigned long long)sim->phys_base,
                      (unsigned long long)(sim->phys_base +
                                           sim->nframes * VMAR_PAGE_SIZE));
    i = frame_index(sim, pa);
    /* Checked, poisoned and pushed in one critical section: two frees of
     * one frame cannot both pass the check. */
    vmar__sim_lock(&sim->lock);
    if (sim->frame_state[i] != VMAR_SIM_FRAME_LIVE)
        vmar__sim_die("frame_free(%#llx): double free (frame %zu is "
                      "already free)",
                      (unsigned long long)pa, i);
    /* libvmar clears the word when the last reference goes. The word is
     * libvmar's, written with atomics: read it the same way. */
    size_t refs = __atomic_load_n(&sim->refcount[i], __ATOMIC_ACQUIRE);
    if (refs != 0)
        vmar__sim_die("frame_free(%#llx): reference count word is %#zx, "
                      "not 0",
                      (unsigned long long)pa, refs);
    memset(frame_bytes(sim, i), VMAR_SIM_FRAME_POISON, (size_t)VMAR_PAGE_SIZE);
    sim->frame_state[i] = VMAR_SIM_FRAME_FREE;
    sim->free_stack[sim->nfree++] = i;
    sim->stats.frames_live--;
    vmar__sim_unlock(&sim->lock);
}

/* The reference-count word of a live frame; reaching one of a free frame
 * is a use-after-free in libvmar or an object. */
size_t *vmar__sim_frame_refcount(void *ctx, vmar_paddr_t pa)
{
    struct vmar_sim *sim = ctx;

    if (!vmar_sim_frame_live(sim, pa))
        vmar__sim_die("frame_refcount(%#llx): not a live frame",
                      (unsigned long long)pa);
    return &sim->refcount[frame_index(sim, pa)];
}

/* Any byte of the pool, free frames included (tests read the poison). */
void *vmar__sim_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    struct vmar_sim *sim = ctx;

    if (!vmar__sim_in_pool(sim, pa))
        vmar__sim_die("phys_to_virt(%#llx): outside the pool [%#llx, %#llx)",
                      (unsigned long long)pa,
                      (unsigned long long)sim->phys_base,
                      (unsigned long long)(sim->phys_base +
                                           sim->nframes * VMAR_PAGE_SIZE));
    return sim->mem + (size_t)(pa - sim->phys_base);
}

bool vmar_sim_frame_live(const struct vmar_sim *sim, vmar_paddr_t pa)
{
    struct vmar_sim *s = (struct vmar_sim *)sim; /* for the lock only */
    bool live;

    if (!vmar__sim_in_pool(sim, pa) || pa % VMAR_PAGE_SIZE != 0)
        return false;
    vmar__sim_lock(&s->lock);
    live = sim->frame_state[frame_index(sim, pa)] == VMAR_SIM_FRAME_LIVE;
    vmar__sim_unlock(&s->lock);
    return live;
}

/* FNV-1a over 64-bit words instead of bytes (eight times fewer steps), with
 * a rotation so high bits feed back into low ones. Each step is a
 * bijection of the state, so any single changed word changes the digest. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x100000001b3u;
    return (h << 31) | (h >> 33);
}

uint64_t vmar_sim_digest(const struct vmar_sim *sim)
{
    struct vmar_sim *s = (struct vmar_sim *)sim; /* for the lock only */
    uint64_t h = 0xcbf29ce484222325u;
    size_t live = 0;

    /* The lock keeps the set of frames still; their bytes are only still
     * when no other thread writes (see sim.h). */
    vmar__sim_lock(&s->lock);
    for (size_t i = 0; i < sim->nframes; i++) {
        const unsigned char *p = frame_bytes(sim, i);

        if (sim->frame_state[i] != VMAR_SIM_FRAME_LIVE)
            continue;
        live++;
        h = mix(h, (uint64_t)i);
        for (size_t off = 0; off < VMAR_PAGE_SIZE; off += sizeof(uint64_t)) {
            uint64_t w;

            memcpy(&w, p + off, sizeof(w));
            h = mix(h, w);
        }
    }
    vmar__sim_unlock(&s->lock);
    return mix(h, (uint64_t)live);
}
