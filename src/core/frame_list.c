/* SPDX-License-Identifier: MIT */
/*
 * Lists of spare frames linked through the frames themselves, so that a
 * reservation of any size costs no metadata allocation (and so cannot fail
 * for a reason other than running out of frames).
 */
#include <vmar/mmu.h>

#include "deps.h"
#include "frame.h"

static vmar_paddr_t *link_of(const struct vmar_env *env, vmar_paddr_t pa)
{
    return (vmar_paddr_t *)env->phys_to_virt(env->ctx, pa);
}

int vmar_frame_list_fill(const struct vmar_env *env,
                         struct vmar_frame_list *list, size_t n, unsigned flags)
{
    struct vmar_frame_list added = {0, 0};

    while (added.count < n) {
        vmar_paddr_t pa;
        if (env->frame_alloc(env->ctx, flags, &pa) != 0) {
            vmar_frame_list_release(env, &added);
            return VMAR_ENOMEM;
        }
        *link_of(env, pa) = added.head;
        added.head = pa;
        added.count++;
    }
    /* Splice the new frames in front of what the list already held. */
    if (added.count) {
        vmar_paddr_t tail = added.head;
        vmar_paddr_t next;
        while ((next = *link_of(env, tail)) != 0)
            tail = next;
        *link_of(env, tail) = list->head;
        list->head = added.head;
        list->count += added.count;
    }
    return 0;
}

vmar_paddr_t vmar_frame_list_pop(const struct vmar_env *env,
                                 struct vmar_frame_list *list)
{
    VMAR_ASSERT(env, list->count > 0 && list->head != 0);
    vmar_paddr_t pa = list->head;
    vmar_paddr_t *link = link_of(env, pa);
    list->head = *link;
    list->count--;
    *link = 0;
    return pa;
}

void vmar_frame_list_release(const struct vmar_env *env,
                             struct vmar_frame_list *list)
{
    vmar_paddr_t pa[VMAR_FRAMES_BATCH];

    while (list->count) {
        size_t n = 0;
        while (list->count && n < VMAR_FRAMES_BATCH)
            pa[n++] = vmar_frame_list_pop(env, list);
        vmar__frames_free(env, pa, n);
    }
}
