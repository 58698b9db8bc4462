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

static void cache_exit(void *p);
static void caches_fini(struct vmar_sim *sim);

/* Machine ids handed out: one per pool, never reused. */
static uint64_t pool_ids;

/* The calling thread's cache in the machine it used last, by the
 * machine's id: every fault asks for it a few times, and this is cheaper
 * than pthread_getspecific. An id is never reused, so a destroyed
 * machine's entry matches no machine; the thread's own key destructor
 * clears it before the cache goes. */
static _Thread_local struct {
    uint64_t id;
    struct vmar__sim_cache *c;
} last;

static struct vmar__sim_cache *remember_last(const struct vmar_sim *sim,
                                             struct vmar__sim_cache *c)
{
    last.id = sim->pool_id;
    last.c = c;
    return c;
}

static void forget_last(void)
{
    last.id = 0;
    last.c = NULL;
}

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
    sim->frames = calloc(nframes, sizeof(*sim->frames));
    sim->free_stack = calloc(nframes, sizeof(size_t));
    if (sim->mem == NULL || sim->frames == NULL || sim->free_stack == NULL) {
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
    sim->pool_id = __atomic_add_fetch(&pool_ids, 1, __ATOMIC_RELAXED);
    /* Without a key (the host ran out), every thread uses the stack. */
    sim->has_key = pthread_key_create(&sim->cache_key, cache_exit) == 0;
    return 0;
}

void vmar__sim_pool_fini(struct vmar_sim *sim)
{
    caches_fini(sim);
    free(sim->mem);
    free(sim->frames);
    free(sim->free_stack);
    sim->mem = NULL;
    sim->frames = NULL;
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

/* ---- per-thread caches ----------------------------------------------
 *
 * To one thread, the free stack with its cache on top is one stack: a
 * refill moves the top of the free stack under the (empty) cache's
 * bottom, in order, and a drain moves the bottom of the cache onto the
 * top of the free stack, in order. So a single thread gets frames in
 * exactly the order the free stack alone would give (last freed, first
 * reused; frame 0 first on a new machine), whatever the cache size.
 *
 * Cache locks never nest: a thread holds at most one, under sim->lock or
 * (its own cache's, on the fast path) alone.
 *
 * Exhaustion: a thread whose cache and the free stack are empty reclaims
 * every other thread's cache into the free stack before it reports
 * VMAR_ENOMEM, so an allocation fails only when no frame is free
 * anywhere. */

static void cache_lock(struct vmar__sim_cache *c)
{
    vmar__sim_lock(&c->lock);
}

static void cache_unlock(struct vmar__sim_cache *c)
{
    vmar__sim_unlock(&c->lock);
}

/* Move the bottom `k` frames of `c` onto the free stack.
 * => sim->lock and c->lock held. */
static void cache_drain(struct vmar_sim *sim, struct vmar__sim_cache *c,
                        size_t k)
{
    memcpy(&sim->free_stack[sim->nfree], c->frames, k * sizeof(size_t));
    sim->nfree += k;
    memmove(c->frames, &c->frames[k], (c->n - k) * sizeof(size_t));
    c->n -= k;
}

/* Move every cache's frames onto the free stack, one cache lock at a
 * time. => sim->lock held, no cache lock. */
static void caches_reclaim(struct vmar_sim *sim)
{
    for (struct vmar__sim_cache *o = sim->caches; o != NULL; o = o->next) {
        cache_lock(o);
        cache_drain(sim, o, o->n);
        cache_unlock(o);
    }
}

/* Refill the empty cache `c` with up to half a cache from the top of the
 * free stack. => sim->lock and c->lock held. */
static void cache_refill(struct vmar_sim *sim, struct vmar__sim_cache *c)
{
    size_t k;

    k = sim->nfree < VMAR_SIM_CACHE_MAX / 2 ? sim->nfree
                                            : VMAR_SIM_CACHE_MAX / 2;
    sim->nfree -= k;
    memcpy(c->frames, &sim->free_stack[sim->nfree], k * sizeof(size_t));
    c->n = k;
}

/* Return cache `c` and its counts to its machine and free it. Its thread
 * counts no more (it exits, or the machine goes).
 * => sim->lock held. */
static void cache_retire(struct vmar_sim *sim, struct vmar__sim_cache *c)
{
    cache_lock(c);
    cache_drain(sim, c, c->n);
    cache_unlock(c);
    vmar__sim_stats_sum(&sim->stats, &c->counts, true);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        sim->caches = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The key's destructor: a thread that exits gives its frames back. */
static void cache_exit(void *p)
{
    struct vmar__sim_cache *c = p;
    struct vmar_sim *sim = c->sim;

    if (last.c == c)
        forget_last();
    vmar__sim_lock(&sim->lock);
    cache_retire(sim, c);
    vmar__sim_unlock(&sim->lock);
}

/* One more env->frame_alloc call served by `c`, its thread's cache (only
 * that thread writes the count; readers load it). */
static void cache_count_call(struct vmar__sim_cache *c)
{
    size_t *n = &c->counts.frame_alloc_calls;

    __atomic_store_n(n, __atomic_load_n(n, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
}

/* The calling thread's cache, created on its first use; NULL when the
 * machine has no key or the host is out of memory (the caller then works
 * on the free stack under sim->lock). */
static struct vmar__sim_cache *cache_get(struct vmar_sim *sim)
{
    struct vmar__sim_cache *c;

    if (last.id == sim->pool_id)
        return last.c;
    if (!sim->has_key)
        return NULL;
    c = pthread_getspecific(sim->cache_key);
    if (c != NULL)
        return remember_last(sim, c);
    /* Line aligned, its size a multiple of the line (the type's
     * alignment): no other allocation shares its lines. */
    c = aligned_alloc(_Alignof(struct vmar__sim_cache), sizeof(*c));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->sim = sim;
    vmar__sim_lock(&sim->lock);
    c->next = sim->caches;
    if (c->next != NULL)
        c->next->prev = c;
    sim->caches = c;
    vmar__sim_unlock(&sim->lock);
    if (pthread_setspecific(sim->cache_key, c) != 0) {
        vmar__sim_lock(&sim->lock);
        cache_retire(sim, c);
        vmar__sim_unlock(&sim->lock);
        return NULL;
    }
    return remember_last(sim, c);
}

static void caches_fini(struct vmar_sim *sim)
{
    if (!sim->has_key)
        return;
    /* After the delete no thread's destructor runs for this machine. */
    pthread_key_delete(sim->cache_key);
    sim->has_key = false;
    /* Nothing may ask for a cache now; should it, id 0 gives none. */
    if (last.id == sim->pool_id)
        forget_last();
    sim->pool_id = 0;
    vmar__sim_lock(&sim->lock);
    while (sim->caches != NULL)
        cache_retire(sim, sim->caches);
    vmar__sim_unlock(&sim->lock);
}

/* Counted in the calling thread's cache, a line no other thread writes,
 * rather than in the machine's counters, which every fault of every
 * thread would pull to its CPU. */
void vmar_sim_count(struct vmar_sim *sim, enum vmar_sim_op op, ptrdiff_t tables,
                    ptrdiff_t leaves)
{
    struct vmar__sim_cache *c = cache_get(sim);

    if (c != NULL)
        vmar__sim_count_into(&c->counts, false, op, tables, leaves);
    else
        vmar__sim_count_into(&sim->stats, true, op, tables, leaves);
}

void vmar_sim_stats(const struct vmar_sim *sim, struct vmar_sim_stats *out)
{
    /* The lock is state, not part of the machine's value: const callers
     * may still take it. */
    struct vmar_sim *s = (struct vmar_sim *)sim;
    size_t cached = 0;

    memset(out, 0, sizeof(*out));
    vmar__sim_lock(&s->lock);
    /* The machine's counters and every live thread's share (a returned
     * cache's share is in the machine's: under the lock, nothing is
     * counted twice or missed). */
    vmar__sim_stats_sum(out, &s->stats, false);
    for (struct vmar__sim_cache *c = s->caches; c != NULL; c = c->next) {
        vmar__sim_stats_sum(out, &c->counts, false);
        cache_lock(c);
        cached += c->n;
        cache_unlock(c);
    }
    /* Cached frames are free: live is what neither holds. */
    out->frames_live = s->nframes - s->nfree - cached;
    vmar__sim_unlock(&s->lock);
}

/* ---- allocation and free ------------------------------------------- */

/* Take a frame for the caller: from the cache `c` (NULL: none) or the free
 * stack. Returns the frame's index, or SIZE_MAX when no frame is free
 * anywhere. => sim->lock held. */
static size_t take_locked(struct vmar_sim *sim, struct vmar__sim_cache *c)
{
    size_t i = SIZE_MAX;

    if (c == NULL) {
        if (sim->nfree != 0)
            i = sim->free_stack[--sim->nfree];
        return i;
    }
    /* Only this thread fills c, and a reclaim only empties it, under
     * sim->lock, which this thread holds: empty now, empty below. */
    cache_lock(c);
    if (c->n != 0)
        i = c->frames[--c->n];
    cache_unlock(c);
    if (i != SIZE_MAX)
        return i;
    if (sim->nfree == 0)
        caches_reclaim(sim);
    cache_lock(c);
    cache_refill(sim, c);
    if (c->n != 0)
        i = c->frames[--c->n];
    cache_unlock(c);
    return i;
}

/* The locked path: the hook, failure injection, a refill. Every call is
 * counted in sim->stats, in order. Returns as take_locked(), or SIZE_MAX
 * for an injected failure. */
static size_t alloc_slow(struct vmar_sim *sim, struct vmar__sim_cache *c,
                         unsigned flags)
{
    vmar_sim_frame_hook hook;
    void *hook_arg;
    size_t i = SIZE_MAX;

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
    if (!vmar__sim_inject(sim,
                          VMAR_SIM_FAIL_FRAME |
                              (flags & VMAR_FRAME_TABLE ? VMAR_SIM_FAIL_TABLE
                                                        : VMAR_SIM_FAIL_DATA)))
        i = take_locked(sim, c);
    vmar__sim_unlock(&sim->lock);
    return i;
}

int vmar__sim_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa)
{
    struct vmar_sim *sim = ctx;
    struct vmar__sim_cache *c;
    size_t i = SIZE_MAX;

    if ((flags & ~(unsigned)(VMAR_FRAME_ZERO | VMAR_FRAME_TABLE)) != 0)
        vmar__sim_die("frame_alloc: unknown flags %#x", flags);
    c = cache_get(sim);
    /* The fast path: this thread's cache under its own lock. */
    if (c != NULL && !__atomic_load_n(&sim->frame_slow, __ATOMIC_RELAXED)) {
        cache_lock(c);
        if (c->n != 0) {
            i = c->frames[--c->n];
            cache_count_call(c);
        }
        cache_unlock(c);
    }
    if (i == SIZE_MAX)
        i = alloc_slow(sim, c, flags);
    if (i == SIZE_MAX)
        return VMAR_ENOMEM;
    /* Relaxed: the frame reaches another thread only through a lock or
     * libvmar's own ordering, which orders this store too. */
    __atomic_store_n(&sim->frames[i].state, VMAR_SIM_FRAME_LIVE,
                     __ATOMIC_RELAXED);
    /* The frame is the caller's from here on. */
    if (flags & VMAR_FRAME_ZERO)
        memset(frame_bytes(sim, i), 0, (size_t)VMAR_PAGE_SIZE);
    *pa = sim->phys_base + (vmar_paddr_t)i * VMAR_PAGE_SIZE;
    return 0;
}

void vmar__sim_frame_free(void *ctx, vmar_paddr_t pa)
{
    struct vmar_sim *sim = ctx;
    struct vmar__sim_cache *c;
    size_t i;

    if (!vmar__sim_in_pool(sim, pa) || pa % VMAR_PAGE_SIZE != 0)
        vmar__sim_die("frame_free(%#llx): not a frame of this pool "
                      "[%#llx, %#llx)",
                      (unsigned long long)pa,
                      (unsigned long long)sim->phys_base,
                      (unsigned long long)(sim->phys_base +
                                           sim->nframes * VMAR_PAGE_SIZE));
    i = frame_index(sim, pa);
    /* One atomic exchange: two frees of one frame cannot both pass. */
    if (__atomic_exchange_n(&sim->frames[i].state, VMAR_SIM_FRAME_FREE,
                            __ATOMIC_RELAXED) != VMAR_SIM_FRAME_LIVE)
        vmar__sim_die("frame_free(%#llx): double free (frame %zu is "
                      "already free)",
                      (unsigned long long)pa, i);
    /* libvmar clears the word when the last reference goes. The word is
     * libvmar's, written with atomics: read it the same way. */
    size_t refs = __atomic_load_n(&sim->frames[i].refcount, __ATOMIC_ACQUIRE);
    if (refs != 0)
        vmar__sim_die("frame_free(%#llx): reference count word is %#zx, "
                      "not 0",
                      (unsigned long long)pa, refs);
    /* Still ours: no cache or stack holds the frame yet. */
    memset(frame_bytes(sim, i), VMAR_SIM_FRAME_POISON, (size_t)VMAR_PAGE_SIZE);
    c = cache_get(sim);
    if (c != NULL) {
        cache_lock(c);
        if (c->n < VMAR_SIM_CACHE_MAX) {
            c->frames[c->n++] = i;
            cache_unlock(c);
            return;
        }
        cache_unlock(c);
    }
    vmar__sim_lock(&sim->lock);
    if (c != NULL) {
        cache_lock(c);
        if (c->n == VMAR_SIM_CACHE_MAX)
            cache_drain(sim, c, VMAR_SIM_CACHE_MAX / 2);
        c->frames[c->n++] = i;
        cache_unlock(c);
    } else {
        sim->free_stack[sim->nfree++] = i;
    }
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
    return &sim->frames[frame_index(sim, pa)].refcount;
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
    /* No lock: the state byte is atomic (env->frame_refcount asks this
     * on every reference taken or dropped). */
    if (!vmar__sim_in_pool(sim, pa) || pa % VMAR_PAGE_SIZE != 0)
        return false;
    return __atomic_load_n(&sim->frames[frame_index(sim, pa)].state,
                           __ATOMIC_RELAXED) == VMAR_SIM_FRAME_LIVE;
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

        if (__atomic_load_n(&sim->frames[i].state, __ATOMIC_RELAXED) !=
            VMAR_SIM_FRAME_LIVE)
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
