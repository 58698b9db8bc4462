/* SPDX-License-Identifier: MIT */
/* Frame reference counts: the core's view (public half in vmar/object.h). */
#ifndef VMAR_CORE_FRAME_H
#define VMAR_CORE_FRAME_H

#include <vmar/object.h>

#include "deps.h"

/* Take ownership of a frame fresh from env->frame_alloc: its count becomes
 * 1 (the caller's reference), marked anonymous when `anon`. */
void vmar__frame_adopt(const struct vmar_env *env, vmar_paddr_t pa, bool anon);

/* vmar_frame_get() and vmar__frame_is_anon() in one atomic step (fork's
 * per-leaf path): take a reference and say whether the frame is private
 * anonymous memory. The marker cannot change while the caller's mapping
 * holds the frame, so the value before the increment classifies it.
 * Needs env->frame_refcount. */
bool vmar__frame_share(const struct vmar_env *env, vmar_paddr_t pa);

/* The frame is private anonymous memory (always true without
 * env->frame_refcount). */
bool vmar__frame_is_anon(const struct vmar_env *env, vmar_paddr_t pa);

/* The frame's reference count, pins not included (1 without
 * env->frame_refcount). A count of 1 read by the holder of that reference
 * cannot grow behind its back: no one else can reach the frame to take
 * another. */
size_t vmar__frame_refs(const struct vmar_env *env, vmar_paddr_t pa);

/* Vet what an object's get_page returned: `rc` and, when it is 0, the
 * frame `pa` with the caller's reference (vmar/object.h). Returns 0 when
 * the page may be mapped; otherwise the error for the operation, with
 * the space untouched and the reference given back where there is one:
 *  - rc < 0: rc itself (the object's error; no page);
 *  - rc > 0, not a VMAR_E* code: VMAR_EIO;
 *  - pa 0 or not page aligned (names no frame): VMAR_EIO, nothing
 *    dropped (no frame to drop it on, and frame_refcount is never
 *    called on it);
 *  - with env->frame_refcount: no word for pa (NULL), or a count of 0
 *    (no reference was handed over): VMAR_EIO, nothing dropped;
 *  - the private-anonymous marker (a frame of some space's anonymous
 *    memory, which an object page must never be: RSS and vmar_check
 *    tell the two apart by it), or pa at or above `pa_top` (the
 *    backend's vmar_mmu_ops::pa_top: no entry can hold it): VMAR_EIO,
 *    the reference dropped with vmar_frame_put() (the last one frees the
 *    frame).
 * Cost: one load of the count word and one compare. */
int vmar__object_page(const struct vmar_env *env, vmar_paddr_t pa_top, int rc,
                      vmar_paddr_t pa);

/* vmar_frame_put() without the free: drop the caller's reference and
 * return true when it was the last (no reference and no pin left; the
 * count word is clean), so that the caller frees the frame, perhaps with
 * others (vmar__frames_free). Always true without env->frame_refcount. */
bool vmar__frame_release(const struct vmar_env *env, vmar_paddr_t pa);

/* Give `n` frames (at most VMAR_FRAMES_BATCH) back to the env: one
 * env->frame_free_batch call when it has one, else frame_free for each.
 * Only for frames no translation reaches any more (the TLB rule). */
#define VMAR_FRAMES_BATCH 32u
_Static_assert(VMAR_TLB_BATCH_FRAMES <= VMAR_FRAMES_BATCH,
               "a TLB batch frees its frames in one call");
void vmar__frames_free(const struct vmar_env *env, const vmar_paddr_t *pa,
                       size_t n);

/* Pin a frame for a user copy: it stays allocated until the unpin, but
 * the pin is no reference (vmar__frame_refs does not count it). Taken
 * with the page-table lock held, from a present leaf that maps the frame
 * (so no pin appears on a frame that no leaf of the pinning space maps).
 * Needs env->frame_refcount.
 * => caller holds the space lock shared and the page-table lock. */
void vmar__frame_pin(const struct vmar_env *env, vmar_paddr_t pa);

/* Drop a pin; frees the frame when neither a reference nor a pin is left.
 * A full barrier: the copy's accesses to the frame come before it. */
void vmar__frame_unpin(const struct vmar_env *env, vmar_paddr_t pa);

/* Pin a frame for DMA (vmar_pin): like vmar__frame_pin, but a field of
 * its own, which vmar__frame_cow does not count as a user (the frame is
 * its space's own) and vmar__frame_dma_pinned reports. Taken as
 * vmar__frame_pin; dropped by vmar__frame_unpin_dma under no lock (the
 * frame may be unmapped by then: the last drop frees it).
 * Needs env->frame_refcount. */
void vmar__frame_pin_dma(const struct vmar_env *env, vmar_paddr_t pa);
void vmar__frame_unpin_dma(const struct vmar_env *env, vmar_paddr_t pa);

/* Whether the frame holds a DMA pin (false without env->frame_refcount).
 * A pin cannot appear while the caller holds the space lock exclusively
 * and the frame is this space's own. */
bool vmar__frame_dma_pinned(const struct vmar_env *env, vmar_paddr_t pa);

/* What a copy-on-write break may do with the frame its leaf maps. */
enum vmar__cow {
    /* Private anonymous memory, the caller's reference is the only
     * reference and no copy pins it, or a DMA pin does (the frame is the
     * space's own, its copy pins the space's copies): write it in place. */
    VMAR__COW_REUSE,
    /* Copy it; the frame is private anonymous memory (another space or
     * a pin still holds it). */
    VMAR__COW_COPY_ANON,
    /* Copy it; the frame is an object's page. */
    VMAR__COW_COPY_FILE,
};

/* Which of the three the frame is (VMAR__COW_REUSE without
 * env->frame_refcount), from one acquire load of its word: a copy that
 * unpinned before it finished reading first. With the page-table lock of
 * the only space whose leaf maps the frame held, neither a reference nor
 * a pin can appear afterwards; and the marker cannot change while the
 * caller's leaf holds the frame, so the kind stays right for the RSS
 * count of the copy that replaces it.
 * => caller holds the page-table lock of a leaf that maps `pa`. */
enum vmar__cow vmar__frame_cow(const struct vmar_env *env, vmar_paddr_t pa);

#endif /* VMAR_CORE_FRAME_H */
