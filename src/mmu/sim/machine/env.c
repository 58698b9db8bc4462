/* SPDX-License-Identifier: MIT */
/*
 * The vmar_env of a simulated machine: a counting, checking metadata
 * allocator over malloc, the frame pool, a seeded random source, logging
 * and a panic that aborts, and a TLB hook into the simulated CPUs. The
 * plain env has no lock hooks (its users serialise themselves); the locked
 * env adds reader-writer locks for spaces given a vmar_sim_lock.
 */
/* pthread_rwlockattr_setkind_np (writer preference). */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>

#include "machine.h"

/*
 * Every metadata block is preceded by a header of VMAR_SIM_HDR bytes (the
 * largest alignment env->alloc serves, so the user part keeps any
 * alignment up to 64). The header lets free() check the contract: the
 * pointer came from alloc, was not freed before, and the size matches.
 * The record sits at the end of the header, right below the user part:
 * malloc keeps its own free-list links at the start of a freed chunk, so
 * the "dead" mark survives there long enough to catch a double free.
 *
 * Live blocks are also linked by their base addresses from sim->blocks:
 * a test that aborts on purpose leaves them reachable (not "lost" to
 * valgrind), while a machine destroyed with blocks still live leaks them
 * for real, so leak checkers still see the core's leaks.
 */
#define VMAR_SIM_HDR        64u
#define VMAR_SIM_MAX_ALIGN  64u
#define VMAR_SIM_MAGIC_LIVE ((uint64_t)0x766d61722d6c6976) /* "vmar-liv" */
#define VMAR_SIM_MAGIC_DEAD ((uint64_t)0x766d61722d646561) /* "vmar-dea" */

struct block_hdr {
    uint64_t magic;
    size_t size;
    unsigned char *prev, *next; /* bases of the neighbouring live blocks */
};

#define HDR_AT (VMAR_SIM_HDR - sizeof(struct block_hdr))

_Static_assert(sizeof(struct block_hdr) <= VMAR_SIM_HDR / 2,
               "the record stays clear of malloc's free-list links");

static struct block_hdr get_hdr(const unsigned char *base)
{
    struct block_hdr hdr;

    memcpy(&hdr, base + HDR_AT, sizeof(hdr));
    return hdr;
}

static void put_hdr(unsigned char *base, const struct block_hdr *hdr)
{
    memcpy(base + HDR_AT, hdr, sizeof(*hdr));
}

static void set_link(unsigned char *base, bool next, unsigned char *to)
{
    struct block_hdr hdr = get_hdr(base);

    if (next)
        hdr.next = to;
    else
        hdr.prev = to;
    put_hdr(base, &hdr);
}

static void *sim_alloc(void *ctx, size_t size, size_t align)
{
    struct vmar_sim *sim = ctx;
    struct block_hdr hdr = {VMAR_SIM_MAGIC_LIVE, size, NULL, NULL};
    size_t total;
    unsigned char *base;

    if (align == 0 || (align & (align - 1)) != 0 || align > VMAR_SIM_MAX_ALIGN)
        vmar__sim_die("alloc(%zu, align %zu): alignment must be a power "
                      "of two of at most %u",
                      size, align, VMAR_SIM_MAX_ALIGN);
    vmar__sim_lock(&sim->lock);
    sim->stats.alloc_calls++;
    if (vmar__sim_inject(sim, VMAR_SIM_FAIL_ALLOC) ||
        size > SIZE_MAX - 2 * VMAR_SIM_HDR) {
        vmar__sim_unlock(&sim->lock);
        return NULL;
    }
    /* aligned_alloc wants a multiple of the alignment. */
    total = (VMAR_SIM_HDR + size + VMAR_SIM_MAX_ALIGN - 1) &
            ~(size_t)(VMAR_SIM_MAX_ALIGN - 1);
    base = aligned_alloc(VMAR_SIM_MAX_ALIGN, total);
    if (base == NULL) {
        vmar__sim_unlock(&sim->lock);
        return NULL;
    }
    hdr.next = sim->blocks;
    put_hdr(base, &hdr);
    if (sim->blocks != NULL)
        set_link(sim->blocks, false, base);
    sim->blocks = base;
    sim->stats.allocs_live++;
    sim->stats.alloc_bytes_live += size;
    vmar__sim_unlock(&sim->lock);
    return base + VMAR_SIM_HDR;
}

static void sim_free(void *ctx, void *ptr, size_t size)
{
    struct vmar_sim *sim = ctx;
    unsigned char *base;
    struct block_hdr hdr;

    if (ptr == NULL)
        return;
    base = (unsigned char *)ptr - VMAR_SIM_HDR;
    /* The header and the links are the list's: check and unlink under
     * the lock, so two frees of one block cannot both pass the check. */
    vmar__sim_lock(&sim->lock);
    hdr = get_hdr(base);
    if (hdr.magic == VMAR_SIM_MAGIC_DEAD)
        vmar__sim_die("free(%p, %zu): double free", ptr, size);
    if (hdr.magic != VMAR_SIM_MAGIC_LIVE)
        vmar__sim_die("free(%p, %zu): not a block from env->alloc", ptr, size);
    if (hdr.size != size)
        vmar__sim_die("free(%p, %zu): size mismatch, the block was "
                      "allocated with %zu bytes",
                      ptr, size, hdr.size);
    if (hdr.prev != NULL)
        set_link(hdr.prev, true, hdr.next);
    else
        sim->blocks = hdr.next;
    if (hdr.next != NULL)
        set_link(hdr.next, false, hdr.prev);
    hdr.magic = VMAR_SIM_MAGIC_DEAD;
    put_hdr(base, &hdr);
    memset(ptr, VMAR_SIM_ALLOC_POISON, size);
    sim->stats.allocs_live--;
    sim->stats.alloc_bytes_live -= size;
    vmar__sim_unlock(&sim->lock);
    free(base);
}

/* splitmix64: tiny, seedable, and every seed gives a full-period stream. */
static uint64_t sim_random(void *ctx)
{
    struct vmar_sim *sim = ctx;
    uint64_t z;

    vmar__sim_lock(&sim->lock);
    z = (sim->rng += 0x9e3779b97f4a7c15u);
    vmar__sim_unlock(&sim->lock);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void sim_log(void *ctx, enum vmar_log_level level, const char *msg)
{
    const struct vmar_sim *sim = ctx;
    static const char *const names[] = {"error", "warn", "debug"};
    unsigned l = (unsigned)level;

    if (sim->verbose)
        fprintf(stderr, "vmar %s: %s\n", l < 3 ? names[l] : "?", msg);
}

/* Backends that flush through the env (the hardware-format ones) name
 * the table by its activation value (CR3, satp); the CPUs that run that
 * table drop the entries, as the shootdown IPIs would. Such backends
 * record no changes (vmar/sim.h), so there are no records to drop. */
static void sim_tlb_flush(void *ctx, uint64_t root, vmar_addr_t va,
                          vmar_size_t len)
{
    vmar__sim_cpus_invalidate(ctx, root, va, len);
}

_Noreturn static void sim_panic(void *ctx, const char *msg)
{
    (void)ctx;
    vmar__sim_die("panic: %s", msg);
}

/* ---- the locked env ------------------------------------------------ */

struct vmar_sim_lock {
    pthread_rwlock_t rw;
};

/* The locks this thread holds, for lock_held: a thread holds few locks at
 * once (one space's, or a parent's during fork). */
#define HELD_MAX 8u
static _Thread_local struct {
    const struct vmar_sim_lock *lock;
    enum vmar_lock_mode mode;
} held[HELD_MAX];
static _Thread_local unsigned nheld;

int vmar_sim_lock_create(struct vmar_sim_lock **out)
{
    struct vmar_sim_lock *l;
    pthread_rwlockattr_t attr;
    int rc;

    if (out == NULL)
        return VMAR_EINVAL;
    l = calloc(1, sizeof(*l));
    if (l == NULL || pthread_rwlockattr_init(&attr) != 0) {
        free(l);
        return VMAR_ENOMEM;
    }
    /* glibc's default prefers readers: with faults arriving back to back
     * on several CPUs, a layout change would starve. Kernels favour the
     * writer (Linux's mmap_lock is a fair rwsem). */
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&l->rw, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(l);
        return VMAR_ENOMEM;
    }
    *out = l;
    return 0;
}

void vmar_sim_lock_destroy(struct vmar_sim_lock *lock)
{
    if (lock == NULL)
        return;
    if (pthread_rwlock_destroy(&lock->rw) != 0)
        vmar__sim_die("vmar_sim_lock_destroy: the lock is held");
    free(lock);
}

static void sim_lock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct vmar_sim_lock *l = lock;
    int rc;

    (void)ctx;
    if (nheld == HELD_MAX)
        vmar__sim_die("lock: this thread holds %u space locks", nheld);
    rc = mode == VMAR_LOCK_EXCLUSIVE ? pthread_rwlock_wrlock(&l->rw)
                                     : pthread_rwlock_rdlock(&l->rw);
    if (rc != 0)
        vmar__sim_die("lock(%p, %d): %s", lock, (int)mode, strerror(rc));
    held[nheld].lock = l;
    held[nheld].mode = mode;
    nheld++;
}

static void sim_unlock(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    struct vmar_sim_lock *l = lock;
    unsigned i = nheld;
    int rc;

    while (i > 0 && (held[i - 1].lock != l || held[i - 1].mode != mode))
        i--;
    if (i == 0)
        vmar__sim_die("unlock(%p, %d): not held in that mode by this thread",
                      lock, (int)mode);
    /* Every flush of the call must be done before it lets go. */
    vmar__sim_unflushed_missed(ctx);
    held[i - 1] = held[--nheld];
    rc = pthread_rwlock_unlock(&l->rw);
    if (rc != 0)
        vmar__sim_die("unlock(%p, %d): %s", lock, (int)mode, strerror(rc));
}

static bool sim_lock_held(void *ctx, void *lock, enum vmar_lock_mode mode)
{
    (void)ctx;
    /* A space without a lock object: its user serialises, as with the
     * plain env; nothing to check. */
    if (lock == NULL)
        return true;
    for (unsigned i = 0; i < nheld; i++)
        if (held[i].lock == lock &&
            (held[i].mode == VMAR_LOCK_EXCLUSIVE || mode == VMAR_LOCK_SHARED))
            return true;
    return false;
}

/* frame_free_batch: the frames one by one, each checked as frame_free
 * checks it (a batch is a way of calling, not a different rule). */
static void sim_frame_free_batch(void *ctx, const vmar_paddr_t *pa, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vmar__sim_frame_free(ctx, pa[i]);
}

const struct vmar_env *vmar_sim_env_locked(struct vmar_sim *sim)
{
    return &sim->env_locked;
}

void vmar__sim_env_init(struct vmar_sim *sim, bool with_random, uint64_t seed,
                        bool with_refcount)
{
    sim->rng = seed;
    sim->env = (struct vmar_env){
        .ctx = sim,
        .alloc = sim_alloc,
        .free = sim_free,
        .frame_alloc = vmar__sim_frame_alloc,
        .frame_free = vmar__sim_frame_free,
        .phys_to_virt = vmar__sim_phys_to_virt,
        .lock = NULL,
        .unlock = NULL,
        .lock_held = NULL,
        .random = with_random ? sim_random : NULL,
        .log = sim_log,
        .panic = sim_panic,
        .tlb_flush = sim_tlb_flush,
        .frame_refcount = with_refcount ? vmar__sim_frame_refcount : NULL,
        .frame_free_batch = sim_frame_free_batch,
    };
    sim->env_locked = sim->env;
    sim->env_locked.lock = sim_lock;
    sim->env_locked.unlock = sim_unlock;
    sim->env_locked.lock_held = sim_lock_held;
}
