/* SPDX-License-Identifier: MIT */
/*
 * Frame reference counts (env->frame_refcount) and the anonymous marker.
 *
 * The word env->frame_refcount returns holds four fields: the reference
 * count in its low half, above it the copy pins and the DMA pins, and
 * VMAR_FRAME_ANON in its top bit. libvmar sets the marker on the frames it
 * allocates for private anonymous memory (demand-zero pages, copies made
 * by copy-on-write) and never on object pages. That marker is what makes
 * the anonymous/file split of RSS exact without a page-table bit (RISC-V
 * has no spare one) and what tells a write fault on a private object
 * mapping whether the page is the object's (copy) or its own (reuse when
 * no one else holds it), as Linux's PageAnon does.
 *
 * References are the owners: every leaf that maps the frame, an object's
 * cache, a fault's page in hand. Pins are a user copy's short hold
 * (vmar_read/vmar_write/vmar_fill_zero, vmar__fault_pin): they keep the
 * frame alive, but they are not sharing, so vmar_check counts references
 * only (a private writable leaf holds the only reference, whatever copies
 * are running). A copy-on-write break reuses a frame only when it holds
 * the only reference and there is no pin (vmar__frame_cow): a pin
 * can be another space's, whose leaf a break of its own replaced while
 * its copy still reads the frame; writing in place would show it this
 * space's later data. Both fields live in one word so that one atomic
 * operation reads them together and the one that brings both to zero
 * frees the frame.
 *
 * DMA pins (vmar_pin) are the long holds of Linux's FOLL_PIN: they keep
 * the frame too, but a DMA-pinned private anonymous frame is always its
 * space's own (vmar_pin unshares it first when another leaf maps it or a
 * copy pins it, and fork copies it for the child instead of sharing it),
 * so neither they nor the copy pins beside them (that space's own copies)
 * stop a copy-on-write break from reusing it: a copy would leave the
 * device writing a frame the space no longer maps. They are a field of
 * their own so that the reuse decision can tell them from copy pins in
 * the same one load.
 *
 * Without frame_refcount every managed frame has one owner: a put frees
 * (and nothing pins: nothing replaces a frame under the shared lock).
 */
#include "frame.h"

#include "atomic.h"

#define VMAR_FRAME_ANON ((size_t)1 << (sizeof(size_t) * 8 - 1))
/* 32 bits of references, 15 of copy pins and 16 of DMA pins with a 64-bit
 * size_t (16, 7 and 8 with a 32-bit one). */
#define FRAME_PIN_SHIFT (sizeof(size_t) * 4)
#define FRAME_DMA_SHIFT (FRAME_PIN_SHIFT + (FRAME_PIN_SHIFT - 1) / 2)
#define FRAME_PIN       ((size_t)1 << FRAME_PIN_SHIFT)
#define FRAME_DMA       ((size_t)1 << FRAME_DMA_SHIFT)
#define FRAME_REFS      (FRAME_PIN - 1)
#define FRAME_PINS      (FRAME_DMA - FRAME_PIN)
#define FRAME_DMAS      (~VMAR_FRAME_ANON & ~(FRAME_DMA - 1))

static volatile size_t *word_of(const struct vmar_env *env, vmar_paddr_t pa)
{
    return env->frame_refcount(env->ctx, pa);
}

void vmar_frame_get(const struct vmar_env *env, vmar_paddr_t pa)
{
    vmar__atomic_add(word_of(env, pa), 1);
}

/* Drop `one` (1: a reference, FRAME_PIN or FRAME_DMA: a pin) from its
 * `field`; true
 * for the drop that leaves neither references nor pins, which cleans the
 * word: the caller then frees the frame. */
static bool frame_drop_last(const struct vmar_env *env, vmar_paddr_t pa,
                            size_t one, size_t field)
{
    size_t old = vmar__atomic_add(word_of(env, pa), (size_t)0 - one);

    VMAR_ASSERT(env, (old & field) != 0);
    if ((old & ~VMAR_FRAME_ANON) != one)
        return false;
    /* Leave the word clean for the frame's next owner. */
    vmar__atomic_store(word_of(env, pa), 0);
    return true;
}

static void frame_drop(const struct vmar_env *env, vmar_paddr_t pa, size_t one,
                       size_t field)
{
    if (frame_drop_last(env, pa, one, field))
        env->frame_free(env->ctx, pa);
}

bool vmar__frame_release(const struct vmar_env *env, vmar_paddr_t pa)
{
    return !env->frame_refcount || frame_drop_last(env, pa, 1, FRAME_REFS);
}

void vmar_frame_put(const struct vmar_env *env, vmar_paddr_t pa)
{
    if (vmar__frame_release(env, pa))
        env->frame_free(env->ctx, pa);
}

void vmar__frames_free(const struct vmar_env *env, const vmar_paddr_t *pa,
                       size_t n)
{
    if (n && env->frame_free_batch) {
        env->frame_free_batch(env->ctx, pa, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        env->frame_free(env->ctx, pa[i]);
}

void vmar__frame_pin(const struct vmar_env *env, vmar_paddr_t pa)
{
    size_t old = vmar__atomic_add(word_of(env, pa), FRAME_PIN);

    VMAR_ASSERT(env, (old & FRAME_PINS) != FRAME_PINS); /* no overflow */
}

void vmar__frame_unpin(const struct vmar_env *env, vmar_paddr_t pa)
{
    frame_drop(env, pa, FRAME_PIN, FRAME_PINS);
}

void vmar__frame_pin_dma(const struct vmar_env *env, vmar_paddr_t pa)
{
    size_t old = vmar__atomic_add(word_of(env, pa), FRAME_DMA);

    VMAR_ASSERT(env, (old & FRAME_DMAS) != FRAME_DMAS); /* no overflow */
}

void vmar__frame_unpin_dma(const struct vmar_env *env, vmar_paddr_t pa)
{
    frame_drop(env, pa, FRAME_DMA, FRAME_DMAS);
}

bool vmar__frame_dma_pinned(const struct vmar_env *env, vmar_paddr_t pa)
{
    return env->frame_refcount &&
           (vmar__atomic_load(word_of(env, pa)) & FRAME_DMAS) != 0;
}

bool vmar__frame_share(const struct vmar_env *env, vmar_paddr_t pa)
{
    return (vmar__atomic_add(word_of(env, pa), 1) & VMAR_FRAME_ANON) != 0;
}

void vmar__frame_adopt(const struct vmar_env *env, vmar_paddr_t pa, bool anon)
{
    if (env->frame_refcount)
        vmar__atomic_store(word_of(env, pa), 1 | (anon ? VMAR_FRAME_ANON : 0));
}

int vmar_frame_new(const struct vmar_env *env, vmar_paddr_t *pa)
{
    vmar_paddr_t f;

    if (!env || !pa || !env->frame_refcount)
        return env && pa ? VMAR_ENOTSUP : VMAR_EINVAL;
    if (env->frame_alloc(env->ctx, VMAR_FRAME_ZERO, &f) != 0)
        return VMAR_ENOMEM;
    vmar__frame_adopt(env, f, false);
    *pa = f;
    return 0;
}

bool vmar__frame_is_anon(const struct vmar_env *env, vmar_paddr_t pa)
{
    return !env->frame_refcount ||
           (vmar__atomic_load(word_of(env, pa)) & VMAR_FRAME_ANON) != 0;
}

size_t vmar__frame_refs(const struct vmar_env *env, vmar_paddr_t pa)
{
    if (!env->frame_refcount)
        return 1;
    return vmar__atomic_load(word_of(env, pa)) & FRAME_REFS;
}

enum vmar__cow vmar__frame_cow(const struct vmar_env *env, vmar_paddr_t pa)
{
    size_t v;

    if (!env->frame_refcount)
        return VMAR__COW_REUSE;
    v = vmar__atomic_load(word_of(env, pa));
    if (!(v & VMAR_FRAME_ANON))
        return VMAR__COW_COPY_FILE;
    /* A DMA pin makes the frame its space's own even beside copy pins:
     * vmar_pin unshares a frame a copy pin may be another space's copy
     * of, and no other space can reach it afterwards (fork copies it),
     * so its copy pins are this space's copies. Copying it would leave
     * the device with a frame the space no longer maps. */
    if ((v & FRAME_REFS) == 1 && (!(v & FRAME_PINS) || v & FRAME_DMAS))
        return VMAR__COW_REUSE;
    return VMAR__COW_COPY_ANON;
}

int vmar__object_page(const struct vmar_env *env, vmar_paddr_t pa_top, int rc,
                      vmar_paddr_t pa)
{
    volatile size_t *word;
    size_t v;

    if (rc)
        return rc < 0 ? rc : VMAR_EIO;
    if (pa == 0 || pa & (VMAR_PAGE_SIZE - 1))
        return VMAR_EIO;
    if (!env->frame_refcount) {
        if (pa < pa_top)
            return 0;
        vmar_frame_put(env, pa);
        return VMAR_EIO;
    }
    word = word_of(env, pa);
    if (!word)
        return VMAR_EIO;
    v = vmar__atomic_load(word);
    if ((v & FRAME_REFS) == 0)
        return VMAR_EIO;
    if (v & VMAR_FRAME_ANON || pa >= pa_top) {
        vmar_frame_put(env, pa);
        return VMAR_EIO;
    }
    return 0;
}
