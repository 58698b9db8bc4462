/* SPDX-License-Identifier: MIT */
/*
 * Private to src/mmu/sim/machine/: the machine behind the opaque struct
 * vmar_sim and the seams between its files.
 *
 * The machine sees only the public headers (<vmar/...>) and libc: it runs
 * spaces of any backend through vmar_space_activation(),
 * vmar_space_translate() and vmar_fault(), and a backend reports to it
 * through the functions of vmar/sim.h, "backends reporting to the
 * machine". It never names a backend. The ctest test `sim_layers`
 * (scripts/check-sim-layers.sh) holds both, and that its files call each
 * other in one direction only, lowest first:
 *
 *   base.c       the abort path, counters, failure injection (calls
 *                nothing of the machine)
 *   pool.c       physical frames                      (base)
 *   unflushed.c  records of changes not yet flushed   (base)
 *   cpu.c        CPUs and TLBs, the flush entry point (base, pool,
 *                                                      unflushed)
 *   env.c        the vmar_env callbacks and locks     (base, pool,
 *                                                      unflushed, cpu)
 *   sim.c        create and destroy                   (all of the above)
 *
 * Hosted code: uses libc and pthreads. Thread safe: a kernel runs many
 * threads in one address space, so the machine takes concurrent faults,
 * accesses and layout changes.
 *
 * Locks, in the order they nest (a thread holding one may take only those
 * below it):
 *   1. the locks of the library and of a backend (the space lock, the
 *      page-table locks; the sim backend keeps none): held around table
 *      changes, which report to the machine and may flush. A walk
 *      (vmar_space_translate()) takes none of them.
 *   2. vmar_sim::cpus_lock: the CPU list.
 *   3. vmar_sim_cpu::lock (cpu.c): one CPU's TLB, space and counters. An
 *      access holds it from its translation, walk included, to its copy,
 *      so a flush (which takes it) waits for the accesses and walks in
 *      flight, like a shootdown IPI. It is not held across vmar_fault(),
 *      which takes the locks of 1.
 *   4. vmar_sim::lock: everything else of the machine (the counters
 *      of vmar_sim::stats, which the backend-reported ones reach as
 *      atomics from threads without a cache; metadata allocator, the
 *      frame pool's free stack and cache list, failure injection, random
 *      source, violation count, unflushed records). No callback runs
 *      under it; only 5 is taken under it.
 *   5. vmar__sim_cache::lock (pool.c): one thread's frame cache. Its
 *      thread takes it alone on the fast path; a refill, drain, reclaim
 *      or read of the counters takes sim->lock first. A leaf: a thread
 *      holds at most one cache's lock. The cache's counters take no lock:
 *      only its thread writes them (relaxed atomics), readers sum.
 *
 * Cache lines: a fault in one thread writes only lines of its own (its
 * cache, its frames and their records), so that threads faulting in
 * parallel do not pull lines from each other. What every fault reads
 * (the envs, the pool's geometry, the key) sits on lines that only
 * setup and rare changes write; what the slow paths write starts on a
 * line of its own (vmar_sim::lock).
 */
#ifndef VMAR_SIM_MACHINE_H
#define VMAR_SIM_MACHINE_H

#include <pthread.h>
#include <string.h>

#include <vmar/sim.h>

/* Per-frame state: vmar__sim_frame::state. */
enum {
    VMAR_SIM_FRAME_FREE = 0,
    VMAR_SIM_FRAME_LIVE = 1,
};

/* Poison bytes: freed frames (and frames never allocated) and freed
 * metadata blocks, so stale reads show up as recognisable garbage. */
#define VMAR_SIM_FRAME_POISON 0x5a
#define VMAR_SIM_ALLOC_POISON 0x6b

/* One past the highest physical address of the pool: 52 bits, the most
 * an x86-64 entry holds and what the sim backend's entries hold too, so
 * that every backend can map every frame. */
#define VMAR_SIM_PHYS_LIMIT ((vmar_paddr_t)1 << 52)

/* A range of a table (by activation value) whose translations changed
 * and whose flush has not been done yet, by thread `owner`. A stale TLB
 * hit there on another thread races with that change and is legal; see
 * unflushed.c. `changing`: the owner's change is still under way
 * (between vmar_sim_change_begin and _end), so only the owner's flushes
 * drop it. */
struct vmar__sim_unflushed {
    uint64_t table;
    vmar_addr_t lo, hi;
    pthread_t owner;
    bool changing;
};

/* Frames one thread's cache holds at most; a full cache drains half of
 * them to the free stack, an empty one refills half from it. */
#define VMAR_SIM_CACHE_MAX 64u

/* What one host cache line holds; the unit of sharing between CPUs. */
#define VMAR_SIM_LINE 64u

/* One thread's state in a machine (pool.c): a frame cache, a magazine of
 * free frames its thread allocates from and frees to under `lock` alone,
 * so that threads faulting in parallel share no lock until a cache runs
 * empty or full, and the thread's share of the counters. Frames in a
 * cache are free (state FREE, poisoned) and count as free in the stats.
 * Owned by the machine (in sim->caches, under sim->lock); returned, its
 * counts added to sim->stats, at thread exit (the key's destructor) or
 * machine destroy. Line aligned: no other thread's data shares its
 * lines. */
struct vmar__sim_cache {
    _Alignas(VMAR_SIM_LINE) struct vmar_sim *sim;
    struct vmar__sim_cache *prev, *next; /* sim->caches; under sim->lock */
    /* The thread's counts since the cache was made: vmar_sim_count()'s
     * and the frame_alloc_calls its cache served. Written by its thread
     * only, as relaxed atomics (a load and a store); vmar_sim_stats()
     * adds them up. */
    struct vmar_sim_stats counts;
    pthread_mutex_t lock; /* what follows */
    size_t n;             /* frames held; top = next out */
    size_t frames[VMAR_SIM_CACHE_MAX];
};

/* One frame's record: its state and the word env->frame_refcount hands
 * out, side by side, so that the records of frames two threads own share
 * a line only where their runs of frames meet (a state byte array would
 * put 64 frames' states on each line). */
struct vmar__sim_frame {
    size_t refcount;     /* libvmar's, written by it with atomics */
    unsigned char state; /* VMAR_SIM_FRAME_*, relaxed atomics */
};

/* Allocated line aligned (vmar_sim_create): the members aligned below
 * begin lines of their own. */
struct vmar_sim {
    /* ---- read on every fault, written at setup (and frame_slow
     * rarely) ---- */
    struct vmar_env env;        /* ctx == this machine */
    struct vmar_env env_locked; /* env plus the lock hooks (env.c) */
    bool verbose;

    /* The physical pool: frame i is at phys_base + i * VMAR_PAGE_SIZE and
     * its bytes at mem + i * VMAR_PAGE_SIZE. */
    unsigned char *mem;
    size_t nframes;
    vmar_paddr_t phys_base;
    struct vmar__sim_frame *frames; /* per frame */
    /* Per-thread caches: the key's value is the thread's cache for this
     * machine (none while has_key is false: every allocation takes
     * sim->lock and counts go to sim->stats). The free stack and the
     * caches stacked on it behave as one stack to a single thread (see
     * pool.c). */
    pthread_key_t cache_key;
    bool has_key;
    uint64_t pool_id; /* unique among the process's machines (pool.c) */
    /* Set (atomically, under lock) while a frame hook is installed or
     * failure injection is armed: allocations then take the locked path,
     * which counts every call in order. */
    bool frame_slow;

    /* ---- written on slow paths ---- */
    _Alignas(VMAR_SIM_LINE) pthread_mutex_t lock; /* see the lock order */
    /* The counts of threads without a cache, of caches returned, and those
     * the machine keeps itself (under lock); the backend-reported ones
     * are relaxed atomics (vmar__sim_count_into). */
    struct vmar_sim_stats stats;
    uint64_t rng;          /* splitmix64 state for env->random */
    unsigned char *blocks; /* live metadata blocks (env.c), by base */
    size_t *free_stack;    /* indices of free frames; top = next out */
    size_t nfree;
    struct vmar__sim_cache *caches; /* under lock */

    unsigned cpu_ids;  /* ids handed out, for reports; under lock */
    size_t violations; /* stale TLB hits, CPUs destroyed since included */

    /* Unflushed records (under lock), kept once a CPU exists (before, no
     * TLB can hold anything). */
    bool track_unflushed;
    struct vmar__sim_unflushed *unflushed;
    size_t nunflushed, unflushed_cap;

    /* vmar_sim_set_frame_hook(); under lock, called outside it. */
    vmar_sim_frame_hook frame_hook;
    void *frame_hook_arg;

    /* vmar_sim_fail_after() state. */
    struct {
        unsigned mask;    /* VMAR_SIM_FAIL_* kinds that count; 0: off */
        size_t countdown; /* matching allocations until the first failure */
        bool persistent;  /* keep failing after the first failure */
        bool tripped;     /* persistent and already failing */
    } fail;

    /* Simulated CPUs (cpu.c), newest first; under cpus_lock, which
     * every flush takes. */
    _Alignas(VMAR_SIM_LINE) pthread_mutex_t cpus_lock;
    struct vmar_sim_cpu *cpus;
};

/* ---- base.c --------------------------------------------------------- */

/* Print "vmar sim: <message>" on stderr and abort. For broken contracts
 * (double free, foreign address) that must stop a test loudly. */
_Noreturn void vmar__sim_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Lock and unlock that abort on error (a broken mutex is a test bug).
 * Inline: the machine takes its lock on every allocation and count. */
static inline void vmar__sim_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);

    if (rc != 0)
        vmar__sim_die("pthread_mutex_lock: %s", strerror(rc));
}

static inline void vmar__sim_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);

    if (rc != 0)
        vmar__sim_die("pthread_mutex_unlock: %s", strerror(rc));
}

/* Decide whether this allocation of `kind` (VMAR_SIM_FAIL_ALLOC or
 * VMAR_SIM_FAIL_FRAME) fails on purpose; counts it when it does.
 * => sim->lock held. */
bool vmar__sim_inject(struct vmar_sim *sim, unsigned kind);

/* vmar_sim_count() into the counters `st`: `shared` when other threads
 * add to them too (atomic additions), else only the calling thread
 * writes them (relaxed loads and stores). Aborts on an unknown op. */
void vmar__sim_count_into(struct vmar_sim_stats *st, bool shared,
                          enum vmar_sim_op op, ptrdiff_t tables,
                          ptrdiff_t leaves);

/* Add the counters `from` (read with relaxed atomic loads) to `to`:
 * with atomic additions when `shared`, else plainly (`to` is the
 * caller's). */
void vmar__sim_stats_sum(struct vmar_sim_stats *to,
                         const struct vmar_sim_stats *from, bool shared);

/* Recompute sim->frame_slow from the hook and the injection state.
 * => sim->lock held. */
void vmar__sim_frame_slow_update(struct vmar_sim *sim);

/* ---- pool.c --------------------------------------------------------- */

/* init returns 0 or VMAR_ENOMEM; fini frees the pool. The rest are the
 * env's frame callbacks (ctx is the machine). */
int vmar__sim_pool_init(struct vmar_sim *sim, size_t nframes,
                        vmar_paddr_t phys_base, bool huge_pages);
void vmar__sim_pool_fini(struct vmar_sim *sim);
int vmar__sim_frame_alloc(void *ctx, unsigned flags, vmar_paddr_t *pa);
void vmar__sim_frame_free(void *ctx, vmar_paddr_t pa);
void *vmar__sim_phys_to_virt(void *ctx, vmar_paddr_t pa);
size_t *vmar__sim_frame_refcount(void *ctx, vmar_paddr_t pa);
/* Whether `pa` lies in the pool (any byte, allocated or not). */
bool vmar__sim_in_pool(const struct vmar_sim *sim, vmar_paddr_t pa);

/* ---- unflushed.c ---------------------------------------------------- */

/* vmar_sim_change_begin/_end are the public half. flushed: a flush of
 * [va, va+len) (len 0: all) of `table` completed on every CPU: the
 * records there go, but those of other threads' changes still under way
 * (their stores may follow the flush). excused: whether a stale hit on
 * `page` races with another thread's unflushed change. missed: at the end of a
 * locked call, the calling thread's leftovers are missed flushes:
 * reported, counted as violations, dropped. Each takes sim->lock. fini
 * frees the records. */
void vmar__sim_unflushed_flushed(struct vmar_sim *sim, uint64_t table,
                                 vmar_addr_t va, vmar_size_t len);
bool vmar__sim_unflushed_excused(struct vmar_sim *sim, uint64_t table,
                                 vmar_addr_t page);
void vmar__sim_unflushed_missed(struct vmar_sim *sim);
void vmar__sim_unflushed_fini(struct vmar_sim *sim);

/* ---- cpu.c ---------------------------------------------------------- */

/* Free the CPUs a test left behind. invalidate: drop the entries of
 * [va, va+len) (len 0: all) of `table` on every CPU that runs it, the
 * change records left alone: env->tlb_flush's half of
 * vmar_sim_tlb_flush(), for backends that record no changes. */
void vmar__sim_cpus_fini(struct vmar_sim *sim);
void vmar__sim_cpus_invalidate(struct vmar_sim *sim, uint64_t table,
                               vmar_addr_t va, vmar_size_t len);

/* ---- env.c ---------------------------------------------------------- */

/* Fill sim->env and sim->env_locked (frame callbacks from pool.c). */
void vmar__sim_env_init(struct vmar_sim *sim, bool with_random, uint64_t seed,
                        bool with_refcount);

#endif /* VMAR_SIM_MACHINE_H */
