/* SPDX-License-Identifier: MIT */
/**
 * @file object.h
 * @brief Memory objects (what a file, a page cache or shared memory looks
 *        like to a mapping), frame reference counts, and the built-in
 *        anonymous shared-memory object (memfd-like).
 *
 * A memory object is embedder-owned: the embedder embeds a
 * `struct vmar_object` in its own file or cache structure, points it at a
 * constant `vmar_object_ops`, and hands it to vmar_map() with
 * VMAR_BACKING_OBJECT. Every mapping of the object holds a reference to it
 * (vmar_object_ref()); the last vmar_object_unref() calls ops->release.
 *
 * Frames are reference counted through env->frame_refcount (vmar/env.h):
 * every present leaf that maps a frame holds one reference, the object's
 * page cache holds its own, and the frame returns to env->frame_free when
 * the count reaches zero (after the TLB flush that removed its last
 * translation). Private mappings copy an object page on the first write
 * (copy-on-write); shared mappings map the object's own frame.
 */
#ifndef VMAR_OBJECT_H
#define VMAR_OBJECT_H

#include <vmar/env.h>
#include <vmar/error.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version of struct vmar_object_ops this header describes: 2 added
 *  `punch`. Objects of ABI 1 are still accepted (without `punch`). */
#define VMAR_OBJECT_ABI 2u

struct vmar_object;

/** Flags of vmar_object_ops::get_page. */
enum vmar_object_get_flags {
    /** The page will be written through a shared mapping: an object that
     *  tracks dirty pages marks it now. */
    VMAR_OBJECT_GET_WRITE = 1u << 0,
    /** Fault-around: return the page only if it is already in memory;
     *  never allocate, read or wait. VMAR_ENOENT otherwise. */
    VMAR_OBJECT_GET_PRESENT = 1u << 1,
};

/**
 * What a memory object does, as constant data. "Required" members must be
 * non-NULL (vmar_object_init() panics otherwise, through no env: it is a
 * programming error, so vmar_map() returns VMAR_EINVAL for such an
 * object). Callbacks may run with the space lock of any space that maps
 * the object held, shared or exclusive: they must not call into a space.
 */
struct vmar_object_ops {
    /** VMAR_OBJECT_ABI at the time the object type was written. */
    uint32_t abi;

    /** Required. The object's size in bytes now (it may change, e.g. by
     *  truncation). Pages at or past it are "beyond the end". */
    uint64_t (*size)(struct vmar_object *obj);

    /**
     * Required. The frame that holds page `index` (byte offset
     * index * VMAR_PAGE_SIZE) of the object, allocating or reading it if
     * needed. On success store it in *pa with one reference taken for the
     * caller (vmar_frame_get()), which libvmar drops when the leaf that
     * maps it goes away or, for a private copy, right after the copy.
     * `flags`: vmar_object_get_flags.
     * Returns: 0; VMAR_ENXIO when the page is beyond the end; VMAR_ENOENT
     *  (only with VMAR_OBJECT_GET_PRESENT) when it is not in memory;
     *  VMAR_ENOMEM; VMAR_EIO (a read failed). Any error reaches the
     *  faulting thread (a kernel turns ENXIO and EIO into SIGBUS).
     *
     * The frame must be an object page: a page-aligned, non-zero frame
     * whose count includes the reference handed over, and never one that
     * libvmar marked as private anonymous memory (a frame of some
     * space's anonymous mapping, saved and offered again: copy it into a
     * frame of the object's own instead). libvmar checks what it cheaply
     * can and refuses the page with VMAR_EIO ("the memory object could
     * not supply a page": SIGBUS for the fault, the error of a
     * VMAR_MAP_POPULATE map; fault-around just skips it), the space
     * unchanged:
     *  - a frame with the private-anonymous marker: the reference handed
     *    over is dropped (vmar_frame_put());
     *  - *pa 0 or not page aligned, or a count of 0 (no reference handed
     *    over), or env->frame_refcount returning NULL for it: nothing is
     *    dropped (there is no reference libvmar could name);
     *  - a positive return (not a VMAR_E* code): VMAR_EIO; no page.
     * Mistakes it cannot see (a page-table page, a frame whose count
     * lacks the caller's reference but holds the object's) break
     * invariants later.
     *
     * The frame must lie below the pa_top of every backend that maps
     * the object (vmar/mmu.h): libvmar drops the reference of one at or
     * above it and fails the fault or populate with VMAR_EIO (fault-around
     * leaves it out), rather than let the entry truncate it to another
     * frame.
     */
    int (*get_page)(struct vmar_object *obj, uint64_t index, unsigned flags,
                    vmar_paddr_t *pa);

    /**
     * Optional. Make [offset, offset+len) resident now (Zircon's commit,
     * Linux's populate), called by vmar_map() with VMAR_MAP_POPULATE before
     * it changes anything. Returns 0 or an error that fails the map (a
     * positive value becomes VMAR_EIO).
     */
    int (*commit)(struct vmar_object *obj, uint64_t offset, uint64_t len);

    /**
     * Optional. Page `index` is about to become writable through a shared
     * mapping (Linux's page_mkwrite): the object may mark it dirty. An
     * object with this hook gets its pages mapped read-only on a read
     * fault, so that the first write faults and calls it. Returns 0, or an
     * error that the write fault returns (the page stays read-only; a
     * positive value becomes VMAR_EIO).
     */
    int (*notify_write)(struct vmar_object *obj, uint64_t index);

    /** Required. The last reference was dropped: free the object. Its
     *  page references are the object's to drop (vmar_frame_put()). */
    void (*release)(struct vmar_object *obj);

    /**
     * Optional (ABI 2). Punch a hole (Linux's fallocate PUNCH_HOLE with
     * KEEP_SIZE): forget the pages of [offset, offset+len), both page
     * aligned, so that the next get_page of one gives a zero page; the
     * size stays. Called by vmar_advise(VMAR_ADVISE_REMOVE) under the
     * space lock, after that space's leaves of the range are gone (other
     * mappings' leaves keep their frames alive through their own
     * references). Cannot fail. Without it REMOVE is VMAR_ENOTSUP.
     */
    void (*punch)(struct vmar_object *obj, uint64_t offset, uint64_t len);
};

/**
 * The part of a memory object libvmar reads. Embed it in the embedder's
 * structure and set it up with vmar_object_init().
 */
struct vmar_object {
    /** The operations; constant data. */
    const struct vmar_object_ops *ops;
    /** References: one per mapping and one per vmar_object_ref(); only
     *  changed with atomic operations. */
    volatile size_t refs;
    /**
     * What a shared mapping of the object may ever be allowed
     * (vmar_prot bits). A shared mapping loses every permission not in it
     * from its maximum at map time (the reference's MAY_WRITE rule: a file
     * opened read-only gives shared mappings that can never be made
     * writable). A private mapping may always write (to its own copies)
     * but loses READ and EXEC likewise.
     */
    unsigned max_prot;
};

/**
 * Set up an embedded object with one reference (the caller's).
 *
 * @param obj       the object.
 * @param ops       its operations; constant data that outlives it.
 * @param max_prot  vmar_prot bits shared mappings may have (see
 *                  vmar_object::max_prot).
 * Locking: none (the object is not shared yet).
 * On failure: cannot fail.
 */
void vmar_object_init(struct vmar_object *obj,
                      const struct vmar_object_ops *ops, unsigned max_prot);

/**
 * Take a reference.
 *
 * @param obj  an object with at least one reference.
 * Locking: none; atomic.
 * On failure: cannot fail.
 */
void vmar_object_ref(struct vmar_object *obj);

/**
 * Drop a reference; the last one calls ops->release.
 *
 * @param obj  the object; invalid afterwards if this was the last
 *             reference.
 * Locking: none; atomic. Called by libvmar under a space lock when a
 *  mapping goes away, so release must not call into a space.
 * On failure: cannot fail.
 */
void vmar_object_unref(struct vmar_object *obj);

/**
 * Take one more reference to a frame (env->frame_refcount).
 *
 * @param env  the environment whose frame_refcount hook counts it.
 * @param pa   a frame with at least one reference.
 * Locking: none; atomic.
 * On failure: cannot fail.
 */
void vmar_frame_get(const struct vmar_env *env, vmar_paddr_t pa);

/**
 * Drop a reference to a frame; the last one returns it to
 * env->frame_free. The caller guarantees that no TLB may still hold a
 * translation that this reference stood for, and that it holds the
 * reference: dropping one that does not exist (a count of 0) is a broken
 * invariant, reported through env->panic.
 *
 * @param env  the environment.
 * @param pa   the frame.
 * Locking: none; atomic.
 * On failure: cannot fail.
 */
void vmar_frame_put(const struct vmar_env *env, vmar_paddr_t pa);

/**
 * Allocate a zeroed frame with one reference (the caller's): what an object
 * implementation uses for its pages.
 *
 * @param env  the environment (frame_alloc, frame_refcount).
 * @param pa   receives the frame.
 * Returns: 0; VMAR_ENOMEM; VMAR_ENOTSUP when env->frame_refcount is NULL.
 * Locking: none.
 * On failure: nothing allocated, *pa untouched.
 */
int vmar_frame_new(const struct vmar_env *env, vmar_paddr_t *pa);

/**
 * Create the built-in anonymous shared-memory object (Linux memfd_create,
 * shmem): pages are zero-filled frames from env, allocated on first use
 * and installed lock-free, so faults from several spaces may race. It
 * starts with one reference (the caller's) and allows every permission.
 * It has `punch` (vmar_advise(VMAR_ADVISE_REMOVE)).
 *
 * @param env   the environment; needs frame_refcount; must outlive it.
 * @param size  its size in bytes (rounded up to a page); may be 0.
 * @param out   receives the object.
 * Returns: 0; VMAR_ENOMEM; VMAR_ENOTSUP without env->frame_refcount;
 *  VMAR_EINVAL for a NULL argument or a size whose page count does not fit
 *  in size_t.
 * Locking: none.
 * On failure: nothing allocated, *out untouched.
 */
int vmar_memfd_create(const struct vmar_env *env, uint64_t size,
                      struct vmar_object **out);

/**
 * Change the size of a built-in object (ftruncate). Pages beyond the new
 * end are dropped from the object (a mapping that still maps one keeps its
 * frame alive through its own reference until it is unmapped); growing
 * adds zero pages on demand.
 *
 * @param obj   an object from vmar_memfd_create().
 * @param size  the new size in bytes (rounded up to a page).
 * Returns: 0; VMAR_ENOMEM (the page table of a grown object could not be
 *  allocated); VMAR_EINVAL (not a built-in object).
 * Locking: the caller serialises it against get_page on the same object
 *  (no fault on any space that maps it may run during the call).
 * On failure: the object is unchanged.
 */
int vmar_memfd_truncate(struct vmar_object *obj, uint64_t size);

#ifdef __cplusplus
}
#endif

#endif /* VMAR_OBJECT_H */
