/* SPDX-License-Identifier: MIT */
/**
 * @file env.h
 * @brief The embedder's side of the porting surface: memory, frames,
 *        locking and diagnostics, supplied per instance.
 *
 * A kernel fills one `struct vmar_env` with designated initializers and
 * passes it to vmar_space_create(). libvmar never calls libc and never uses
 * a global: everything it needs from the outside world comes through here.
 * The env must outlive every space created with it. Several spaces may
 * share one env.
 */
#ifndef VMAR_ENV_H
#define VMAR_ENV_H

#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Flags for vmar_env::frame_alloc. */
enum vmar_frame_flags {
    /** The frame must be zero-filled when returned. */
    VMAR_FRAME_ZERO = 1u << 0,
    /** The frame will hold a page table (a backend may want it from a
     *  special pool, e.g. below 4 GiB for a 32-bit CR3). */
    VMAR_FRAME_TABLE = 1u << 1,
};

/** Lock modes passed to vmar_env::lock and friends. */
enum vmar_lock_mode {
    VMAR_LOCK_SHARED = 1,    /**< faults and queries */
    VMAR_LOCK_EXCLUSIVE = 2, /**< map, unmap, protect and every layout change */
};

/** Severity passed to vmar_env::log. */
enum vmar_log_level {
    VMAR_LOG_ERROR = 0,
    VMAR_LOG_WARN = 1,
    VMAR_LOG_DEBUG = 2,
};

/**
 * The environment: what the embedder provides.
 *
 * Required members must be non-NULL; vmar_space_create() returns
 * VMAR_EINVAL otherwise. Every callback receives `ctx` as its first
 * argument and may be called with the space lock held (so it must not call
 * back into the same space).
 */
struct vmar_env {
    /** Opaque pointer handed back to every callback. */
    void *ctx;

    /**
     * Required. Allocate `size` bytes of metadata aligned to `align` (a power
     * of two, at most 64). Returns NULL on failure; libvmar then fails the
     * operation with VMAR_ENOMEM and changes nothing. Never called on the
     * fault path of an already-populated page or on a lookup.
     */
    void *(*alloc)(void *ctx, size_t size, size_t align);

    /** Required. Free what alloc returned; `size` is the size passed to
     *  alloc (a sized free suits slab allocators). */
    void (*free)(void *ctx, void *ptr, size_t size);

    /**
     * Required. Allocate one physical frame of VMAR_PAGE_SIZE bytes, page
     * aligned, and store its address in `*pa`. `flags` is a mask of
     * vmar_frame_flags. Returns 0 or VMAR_ENOMEM. The frame must lie
     * below the pa_top of every backend used with this env (vmar/mmu.h:
     * 2^52 on x86-64, 2^56 on RISC-V): libvmar panics when a frame it is
     * about to enter into a page table (a data or table page) does not.
     */
    int (*frame_alloc)(void *ctx, unsigned flags, vmar_paddr_t *pa);

    /**
     * Required. Return a frame. libvmar calls this only after the TLB flush
     * that removed every translation to it has completed (the TLB rule in
     * docs/CONTRACT.md).
     */
    void (*frame_free)(void *ctx, vmar_paddr_t pa);

    /**
     * Required. A kernel virtual address through which libvmar (and the
     * backend) may read and write the frame at `pa`, for example a direct
     * map. Physical addresses are never dereferenced directly.
     */
    void *(*phys_to_virt)(void *ctx, vmar_paddr_t pa);

    /**
     * Optional, both or neither (vmar_space_create() returns VMAR_EINVAL
     * for one without the other). Acquire `lock`, the opaque per-space
     * lock object given in vmar_space_opts::lock, in `mode`.
     * When `lock` is NULL the embedder serialises calls itself (see
     * docs/DESIGN.md, "Locking").
     */
    void (*lock)(void *ctx, void *lock, enum vmar_lock_mode mode);
    /** Optional, with `lock`: release `lock`, held in `mode`. */
    void (*unlock)(void *ctx, void *lock, enum vmar_lock_mode mode);

    /**
     * Optional, for assertions only. Return true when the current thread
     * holds `lock` in at least `mode`. With external locking (lock == NULL)
     * libvmar calls it with the space's lock object at every public entry
     * and panics when it returns false.
     */
    bool (*lock_held)(void *ctx, void *lock, enum vmar_lock_mode mode);

    /** Optional. Uniform random 64-bit values; enables randomised
     *  placement (vmar_space_opts::aslr_bits). */
    uint64_t (*random)(void *ctx);

    /** Optional. A diagnostic line, without a trailing newline. */
    void (*log)(void *ctx, enum vmar_log_level level, const char *msg);

    /**
     * Optional. Called when an internal invariant is broken (never for bad
     * input). Must not return. When NULL libvmar executes a trap
     * instruction (__builtin_trap).
     */
    void (*panic)(void *ctx, const char *msg);

    /* The members below are optional: an env that leaves them zero
     * (designated initializers) gets the default each one states. */

    /**
     * Optional. TLB maintenance for the real page-table backends
     * (vmar_mmu_x86_64_*, vmar_mmu_riscv64_*). Invalidate the cached
     * translations of [va, va+len) of the page table whose hardware root
     * value is `root` (vmar_mmu_activation::value of vmar_space_activation():
     * the CR3 value with its PCID, or the satp value with its ASID), on every
     * CPU where that table is or was active, and return when the
     * invalidation has completed everywhere (send the shootdown IPIs and
     * wait for them). `len == 0`: the whole table, paging-structure caches
     * included. A backend passes 0 when a range flush would not drop what
     * it must (RISC-V after freeing table pages) or when the range is
     * long.
     *
     * When NULL, a backend compiled with its inline-TLB option
     * (VMAR_X86_64_INLINE_TLB: invlpg / mov cr3; VMAR_RISCV64_INLINE_TLB:
     * sfence.vma) invalidates on the calling CPU only, which is enough on a
     * uniprocessor whose current table is this one; without that option
     * (hosted builds, tests) it only counts the request.
     */
    void (*tlb_flush)(void *ctx, uint64_t root, vmar_addr_t va,
                      vmar_size_t len);

    /**
     * Optional, but fork (vmar_fork()), memory objects and copy-on-write
     * need it: without it they return VMAR_ENOTSUP and every managed
     * frame has exactly one owner. The address of frame `pa`'s reference
     * count: one size_t per frame that the embedder reserves (in its page
     * array, as Linux's struct page holds _refcount) and that only libvmar
     * and memory objects touch, always with atomic operations, while the
     * frame is out of the allocator. libvmar sets it to 1 when it takes a
     * data frame from frame_alloc and calls frame_free when it drops to 0.
     * Treat the value as opaque: besides the references it holds marks of
     * libvmar's own (private anonymous memory; the pins of user copies in
     * progress, docs/DESIGN.md). Page-table pages do not use it.
     */
    size_t *(*frame_refcount)(void *ctx, vmar_paddr_t pa);

    /**
     * Optional. Return `n` frames at once (1 <= n <= 32), as `n` calls of
     * frame_free would, under the same rule (after the flush that removed
     * every translation to them). libvmar gives back the frames a TLB
     * batch frees (an unmap's, a space's teardown: up to
     * VMAR_TLB_BATCH_FRAMES per flush) and the spare frames of a
     * reservation this way, so that a kernel can put them on its per-CPU
     * free list under one acquisition of whatever guards it (Linux's
     * release_pages()). When NULL, frame_free is called per frame.
     *
     * frame_alloc and frame_free are called from every CPU at once (one
     * data frame per demand-zero or copy-on-write fault, outside every
     * libvmar lock); a kernel serves them from per-CPU page lists.
     */
    void (*frame_free_batch)(void *ctx, const vmar_paddr_t *pa, size_t n);
};

#ifdef __cplusplus
}
#endif

#endif /* VMAR_ENV_H */
