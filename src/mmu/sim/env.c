/* SPDX-License-Identifier: MIT */
/*
 * The vmar_env of a simulated machine: a counting, checking metadata
 * allocator over malloc, the frame pool, a seeded random source, logging
 * and a panic that aborts, and a TLB hook into the simulated CPUs. No
 * lock hooks: tests serialise themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>

#include "sim_impl.h"

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
    struct block_hdr hdr = {VMAR_SIM_MAGIC_LIVE, size, NULL, sim->blocks};
    size_t total;
    unsigned char *base;

    sim->stats.alloc_calls++;
    if (align == 0 || (align & (align - 1)) != 0 || align > VMAR_SIM_MAX_ALIGN)
        vmar_sim__die("alloc(%zu, align %zu): alignment must be a power "
                      "of two of at most %u",
                      size, align, VMAR_SIM_MAX_ALIGN);
    if (vmar_sim__inject(sim, VMAR_SIM_FAIL_ALLOC))
        return NULL;
    if (size > SIZE_MAX - 2 * VMAR_SIM_HDR)
        return NULL;
    /* aligned_alloc wants a multiple of the alignment. */
    total = (VMAR_SIM_HDR + size + VMAR_SIM_MAX_ALIGN - 1) &
            ~(size_t)(VMAR_SIM_MAX_ALIGN - 1);
    base = aligned_alloc(VMAR_SIM_MAX_ALIGN, total);
    if (base == NULL)
        return NULL;
    put_hdr(base, &hdr);
    if (sim->blocks != NULL)
        set_link(sim->blocks, false, base);
    sim->blocks = base;
    sim->stats.allocs_live++;
    sim->stats.alloc_bytes_live += size;
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
    hdr = get_hdr(base);
    if (hdr.magic == VMAR_SIM_MAGIC_DEAD)
        vmar_sim__die("free(%p, %zu): double free", ptr, size);
    if (hdr.magic != VMAR_SIM_MAGIC_LIVE)
        vmar_sim__die("free(%p, %zu): not a block from env->alloc", ptr, size);
    if (hdr.size != size)
        vmar_sim__die("free(%p, %zu): size mismatch, the block was "
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
    free(base);
}

/* splitmix64: tiny, seedable, and every seed gives a full-period stream. */
static uint64_t sim_random(void *ctx)
{
    struct vmar_sim *sim = ctx;
    uint64_t z = (sim->rng += 0x9e3779b97f4a7c15u);

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

/* The hardware-format backends (x86_64-*, riscv64-*) running over this
 * pool send their flushes here, named by CR3 / satp value; the CPUs that
 * run that table drop the entries, as the shootdown IPIs would. */
static void sim_tlb_flush(void *ctx, uint64_t root, vmar_addr_t va,
                          vmar_size_t len)
{
    vmar_sim__tlb_flush_root(ctx, root, va, len);
}

_Noreturn static void sim_panic(void *ctx, const char *msg)
{
    (void)ctx;
    vmar_sim__die("panic: %s", msg);
}

void vmar_sim__env_init(struct vmar_sim *sim, bool with_random, uint64_t seed,
                        bool with_refcount)
{
    sim->rng = seed;
    sim->env = (struct vmar_env){
        .ctx = sim,
        .alloc = sim_alloc,
        .free = sim_free,
        .frame_alloc = vmar_sim__frame_alloc,
        .frame_free = vmar_sim__frame_free,
        .phys_to_virt = vmar_sim__phys_to_virt,
        .lock = NULL,
        .unlock = NULL,
        .lock_held = NULL,
        .random = with_random ? sim_random : NULL,
        .log = sim_log,
        .panic = sim_panic,
        .tlb_flush = sim_tlb_flush,
        .frame_refcount = with_refcount ? vmar_sim__frame_refcount : NULL,
    };
}
