/* SPDX-License-Identifier: MIT */
/*
 * Pins for DMA (Linux's pin_user_pages() / unpin_user_pages()): each page
 * is faulted in and its frame pinned (frame.c: a DMA pin, a field of the
 * frame's count word beside the references and the user copies' pins),
 * so that it outlives unmap and is never replaced under the device: a
 * write fault reuses a pinned private anonymous frame, fork copies it for
 * the child instead of sharing it (fork.c), and a read pin first makes a
 * frame shared copy-on-write the space's own (fault.c). The space counts
 * the pins it handed out (vmar_stats::pinned).
 */
#include "atomic.h"
#include "fault.h"
#include "frame.h"

int vmar_pin(struct vmar_space *h, vmar_addr_t addr, size_t npages,
             unsigned flags, vmar_paddr_t *pages)
{
    struct vmar_space *space = vmar__base(h);
    const bool write = (flags & VMAR_PIN_WRITE) != 0;
    size_t i = 0;
    int rc;

    if (!space || !pages || flags & ~(unsigned)VMAR_PIN_WRITE || npages == 0 ||
        npages > (space->user_hi - space->user_lo) >> VMAR_PAGE_SHIFT)
        return VMAR_EINVAL;
    rc = vmar__check_range(space, addr, (vmar_size_t)npages << VMAR_PAGE_SHIFT);
    if (!rc)
        rc = vmar__check_rights(h, write ? VMAR_RIGHT_WRITE : VMAR_RIGHT_READ);
    if (!rc && !space->env->frame_refcount)
        rc = VMAR_ENOTSUP;
    if (rc)
        return rc;
    vmar__lock(space, VMAR_LOCK_SHARED);
    for (; i < npages && !rc; i++)
        rc = vmar__fault_pin_dma(space,
                                 addr + ((vmar_addr_t)i << VMAR_PAGE_SHIFT),
                                 write, &pages[i]);
    if (rc) {
        /* All or nothing: the pins taken so far go back (the page whose
         * pin failed took none). */
        for (size_t j = 0; j + 1 < i; j++)
            vmar__frame_unpin_dma(space->env, pages[j]);
    } else {
        vmar__atomic_add(&space->pinned, npages);
    }
    vmar__unlock(space, VMAR_LOCK_SHARED);
    return rc;
}

void vmar_unpin(struct vmar_space *h, const vmar_paddr_t *pages, size_t npages)
{
    struct vmar_space *space = h->base;

    for (size_t i = 0; i < npages; i++)
        vmar__frame_unpin_dma(space->env, pages[i]);
    VMAR_ASSERT(space->env, vmar__atomic_load(&space->pinned) >= npages);
    vmar__atomic_add(&space->pinned, (size_t)0 - npages);
}
