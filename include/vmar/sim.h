/* SPDX-License-Identifier: MIT */
/**
 * @file sim.h
 * @brief The simulated machine: a pool of physical frames, an environment
 *        over it and the `vmar_mmu_sim` backend. Hosted (uses libc); for
 *        tests, the demo and benchmarks, never for kernels.
 *
 * One `struct vmar_sim` is one simulated machine. vmar_sim_env() returns a
 * `struct vmar_env` whose metadata allocator counts and can be made to
 * fail, whose frames come from the pool (freed frames are poisoned and
 * double frees abort), and whose phys_to_virt points into the pool. The
 * backend `vmar_mmu_sim` keeps real radix page tables in pool frames
 * (the generic walker of src/mmu/ with a simple neutral PTE format) and
 * counts every operation the core asks of it.
 */
#ifndef VMAR_SIM_H
#define VMAR_SIM_H

#include <vmar/env.h>
#include <vmar/mmu.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A simulated machine. Opaque. */
struct vmar_sim;

/** Options for vmar_sim_create(); zero means default. */
struct vmar_sim_opts {
    /** Frames in the physical pool. 0: 4096 (16 MiB). */
    size_t nframes;
    /** Physical address of frame 0 (page aligned, non-zero).
     *  0: 0x100000000 (so that 0 is never a valid frame). */
    vmar_paddr_t phys_base;
    /** Seed for env->random. */
    uint64_t seed;
    /** Provide env->random (enables ASLR in spaces that ask for it). */
    bool with_random;
    /** Print env->log messages to stderr. */
    bool verbose;
};

/** Create a machine. Returns 0, VMAR_EINVAL or VMAR_ENOMEM. */
int vmar_sim_create(const struct vmar_sim_opts *opts, struct vmar_sim **out);

/** Destroy a machine. Every space using it must be destroyed first. */
void vmar_sim_destroy(struct vmar_sim *sim);

/** The environment of this machine (lives as long as the machine). */
const struct vmar_env *vmar_sim_env(struct vmar_sim *sim);

/** The sim backend; its mmu_config is the `struct vmar_sim *`. */
extern const struct vmar_mmu_ops vmar_mmu_sim;

/** Counters, cumulative since creation unless marked "live". */
struct vmar_sim_stats {
    size_t alloc_calls;      /**< env->alloc calls (failed ones included) */
    size_t allocs_live;      /**< metadata blocks not yet freed */
    size_t alloc_bytes_live; /**< their total size */
    size_t frame_alloc_calls;
    size_t frames_live;    /**< frames allocated (tables included) */
    size_t tables_live;    /**< page-table pages held by sim backends */
    size_t fails_injected; /**< allocations failed on purpose */
    size_t prepares, maps, unmaps, protects, finds, flushes;
    size_t leaves_live; /**< present leaves over all sim backends */
};

/** Read the counters. */
void vmar_sim_stats(const struct vmar_sim *sim, struct vmar_sim_stats *out);

/** vmar_sim_fail_after() mask: which allocations count. */
enum vmar_sim_fail_mask {
    VMAR_SIM_FAIL_ALLOC = 1u << 0, /**< env->alloc */
    VMAR_SIM_FAIL_FRAME = 1u << 1, /**< env->frame_alloc */
    VMAR_SIM_FAIL_ANY = VMAR_SIM_FAIL_ALLOC | VMAR_SIM_FAIL_FRAME,
};

/**
 * Make the n-th next allocation matching `mask` fail (n = 1: the very
 * next). With `persistent`, every matching allocation after it fails too.
 * n = 0 turns injection off.
 */
void vmar_sim_fail_after(struct vmar_sim *sim, size_t n, unsigned mask,
                         bool persistent);

/**
 * A 64-bit digest of the machine's state: which frames are allocated and
 * the content of each allocated frame (page tables included). Two equal
 * digests around a failed call mean it changed no page table and no data.
 */
uint64_t vmar_sim_digest(const struct vmar_sim *sim);

/** True when `pa` is an allocated frame of this machine. */
bool vmar_sim_frame_live(const struct vmar_sim *sim, vmar_paddr_t pa);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_SIM_H */
