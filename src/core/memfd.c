/* SPDX-License-Identifier: MIT */
/*
 * The built-in anonymous shared-memory object (memfd, shmem).
 *
 * A flat slot array, one physical address per page, allocated with the
 * object and resized by truncate. A page is created on first use and
 * published with a compare-and-swap, so get_page needs no lock: two
 * faults (in one space or several) that race on the same page both
 * allocate, one wins the slot, the loser frees its frame. Each slot
 * holds one frame reference (the object's); get_page adds the caller's.
 *
 * Pages beyond `size` are beyond the end: ENXIO, which a shared mapping
 * turns into the SIGBUS error and a private one into zero-fill.
 */
#include <vmar/object.h>

#include "atomic.h"
#include "frame.h"

struct memfd {
    struct vmar_object obj; /* first: the object is the memfd */
    const struct vmar_env *env;
    uint64_t size;          /* bytes, page multiple */
    size_t nslots;          /* pages the slot array covers */
    volatile size_t *slots; /* frame of each page, 0 = not yet */
};

static const struct vmar_object_ops memfd_ops;

static struct memfd *memfd_of(struct vmar_object *obj)
{
    return (struct memfd *)(void *)obj;
}

static uint64_t memfd_size(struct vmar_object *obj)
{
    return memfd_of(obj)->size;
}

static int memfd_get_page(struct vmar_object *obj, uint64_t index,
                          unsigned flags, vmar_paddr_t *pa)
{
    struct memfd *f = memfd_of(obj);
    vmar_paddr_t page;
    size_t have;

    if (index >= f->size >> VMAR_PAGE_SHIFT)
        return VMAR_ENXIO;
    have = vmar__atomic_load(&f->slots[index]);
    if (!have) {
        if (flags & VMAR_OBJECT_GET_PRESENT)
            return VMAR_ENOENT;
        if (vmar_frame_new(f->env, &page) != 0)
            return VMAR_ENOMEM;
        if (vmar__atomic_cas(&f->slots[index], 0, (size_t)page)) {
            have = (size_t)page;
        } else {
            /* Lost the race: never visible to anyone, just drop it. */
            vmar_frame_put(f->env, page);
            have = vmar__atomic_load(&f->slots[index]);
        }
    }
    vmar_frame_get(f->env, (vmar_paddr_t)have);
    *pa = (vmar_paddr_t)have;
    return 0;
}

/* Drop the object's references to pages [from, to) of the slot array. */
static void memfd_drop(struct memfd *f, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        size_t pa = f->slots[i];
        if (pa) {
            f->slots[i] = 0;
            vmar_frame_put(f->env, (vmar_paddr_t)pa);
        }
    }
}

/* Punch a hole: forget the pages of [offset, offset+len) (within the
 * array), so that they are created again, zeroed, on their next use. A
 * slot is taken with a compare-and-swap: a racing get_page either got
 * the old frame with its own reference first, or sees the empty slot. */
static void memfd_punch(struct vmar_object *obj, uint64_t offset, uint64_t len)
{
    struct memfd *f = memfd_of(obj);
    const uint64_t first = offset >> VMAR_PAGE_SHIFT;
    const uint64_t end = first + (len >> VMAR_PAGE_SHIFT);

    for (uint64_t i = first; i < end && i < f->nslots; i++) {
        size_t pa = vmar__atomic_load(&f->slots[i]);
        if (pa && vmar__atomic_cas(&f->slots[i], pa, 0))
            vmar_frame_put(f->env, (vmar_paddr_t)pa);
    }
}

static void memfd_release(struct vmar_object *obj)
{
    struct memfd *f = memfd_of(obj);
    const struct vmar_env *env = f->env;

    memfd_drop(f, 0, f->nslots);
    if (f->nslots)
        env->free(env->ctx, (void *)(uintptr_t)f->slots,
                  f->nslots * sizeof(size_t));
    env->free(env->ctx, f, sizeof(*f));
}

static const struct vmar_object_ops memfd_ops = {
    .abi = VMAR_OBJECT_ABI,
    .size = memfd_size,
    .get_page = memfd_get_page,
    .release = memfd_release,
    .punch = memfd_punch,
};

/* Pages of a byte size, rounded up; false when it does not fit. */
static bool page_count(uint64_t size, size_t *pages)
{
    uint64_t n =
        (size >> VMAR_PAGE_SHIFT) + ((size & (VMAR_PAGE_SIZE - 1)) != 0);

    if (n > (uint64_t)(SIZE_MAX / sizeof(size_t)))
        return false;
    *pages = (size_t)n;
    return true;
}

static volatile size_t *slots_alloc(const struct vmar_env *env, size_t n)
{
    volatile size_t *s;

    if (n == 0)
        return NULL;
    s = env->alloc(env->ctx, n * sizeof(size_t), _Alignof(size_t));
    if (s)
        for (size_t i = 0; i < n; i++)
            s[i] = 0;
    return s;
}

int vmar_memfd_create(const struct vmar_env *env, uint64_t size,
                      struct vmar_object **out)
{
    struct memfd *f;
    size_t pages;

    if (!env || !out || !page_count(size, &pages))
        return VMAR_EINVAL;
    if (!env->frame_refcount)
        return VMAR_ENOTSUP;
    f = env->alloc(env->ctx, sizeof(*f), _Alignof(struct memfd));
    if (!f)
        return VMAR_ENOMEM;
    f->slots = slots_alloc(env, pages);
    if (pages && !f->slots) {
        env->free(env->ctx, f, sizeof(*f));
        return VMAR_ENOMEM;
    }
    vmar_object_init(&f->obj, &memfd_ops, VMAR_PROT_RWX);
    f->env = env;
    f->nslots = pages;
    f->size = (uint64_t)pages << VMAR_PAGE_SHIFT;
    *out = &f->obj;
    return 0;
}

int vmar_memfd_truncate(struct vmar_object *obj, uint64_t size)
{
    struct memfd *f;
    size_t pages;

    if (!obj || obj->ops != &memfd_ops || !page_count(size, &pages))
        return VMAR_EINVAL;
    f = memfd_of(obj);
    if (pages > f->nslots) {
        const struct vmar_env *env = f->env;
        volatile size_t *grown = slots_alloc(env, pages);
        if (!grown)
            return VMAR_ENOMEM;
        for (size_t i = 0; i < f->nslots; i++)
            grown[i] = f->slots[i];
        if (f->nslots)
            env->free(env->ctx, (void *)(uintptr_t)f->slots,
                      f->nslots * sizeof(size_t));
        f->slots = grown;
        f->nslots = pages;
    } else {
        /* Keep the array; pages past the end go. */
        memfd_drop(f, pages, f->nslots);
    }
    f->size = (uint64_t)pages << VMAR_PAGE_SHIFT;
    return 0;
}
