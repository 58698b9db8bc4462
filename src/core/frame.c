/* SPDX-License-Identifier: MIT */
/*
 * Frame reference counts (env->frame_refcount) and the anonymous marker.
 *
 * The word env->frame_refcount returns holds the count in its low bits and
 * VMAR_FRAME_ANON in its top bit: libvmar sets the marker on the frames it
 * allocates for private anonymous memory (demand-zero pages, copies made
 * by copy-on-write) and never on object pages. That marker is what makes
 * the anonymous/file split of RSS exact without a page-table bit (RISC-V
 * has no spare one) and what tells a write fault on a private object
 * mapping whether the page is the object's (copy) or its own (reuse when
 * no one else holds it), as Linux's PageAnon does.
 *
 * Without frame_refcount every managed frame has one owner: a put frees.
 */
#include "frame.h"

#include "atomic.h"

#define VMAR_FRAME_ANON ((size_t)1 << (sizeof(size_t) * 8 - 1))

static volatile size_t *word_of(const struct vmar_env *env, vmar_paddr_t pa)
{
    return env->frame_refcount(env->ctx, pa);
}

void vmar_frame_get(const struct vmar_env *env, vmar_paddr_t pa)
{
    vmar__atomic_add(word_of(env, pa), 1);
}

void vmar_frame_put(const struct vmar_env *env, vmar_paddr_t pa)
{
    if (!env->frame_refcount) {
        env->frame_free(env->ctx, pa);
        return;
    }
    size_t old = vmar__atomic_add(word_of(env, pa), (size_t)-1);
    VMAR_ASSERT(env, (old & ~VMAR_FRAME_ANON) != 0);
    if ((old & ~VMAR_FRAME_ANON) == 1) {
        /* Leave the word clean for the frame's next owner. */
        vmar__atomic_store(word_of(env, pa), 0);
        env->frame_free(env->ctx, pa);
    }
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
    return vmar__atomic_load(word_of(env, pa)) & ~VMAR_FRAME_ANON;
}

int vmar__object_page(const struct vmar_env *env, int rc, vmar_paddr_t pa)
{
    volatile size_t *word;
    size_t v;

    if (rc)
        return rc < 0 ? rc : VMAR_EIO;
    if (pa == 0 || pa & (VMAR_PAGE_SIZE - 1))
        return VMAR_EIO;
    if (!env->frame_refcount)
        return 0;
    word = word_of(env, pa);
    if (!word)
        return VMAR_EIO;
    v = vmar__atomic_load(word);
    if ((v & ~VMAR_FRAME_ANON) == 0)
        return VMAR_EIO;
    if (v & VMAR_FRAME_ANON) {
        vmar_frame_put(env, pa);
        return VMAR_EIO;
    }
    return 0;
}
