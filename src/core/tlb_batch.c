/* SPDX-License-Identifier: MIT */
/*
 * The deferred TLB flush. The rule it enforces: unhook, invalidate, then
 * free. A frame or table page queued here reaches env->frame_free only
 * after ops->flush has covered every range recorded before it.
 */
#include <vmar/mmu.h>

#include "frame.h"

/* Bit 0 of a queued page: drop a reference instead of freeing. */
#define QUEUED_PUT ((vmar_paddr_t)1)

void vmar_tlb_batch_init(struct vmar_tlb_batch *batch,
                         const struct vmar_env *env,
                         const struct vmar_mmu_ops *ops, struct vmar_mmu *mmu)
{
    batch->env = env;
    batch->ops = ops;
    batch->mmu = mmu;
    batch->lo = 1;
    batch->hi = 0;
    batch->nfree = 0;
    batch->put_anon = 0;
    batch->put_file = 0;
    batch->transfer = false;
}

void vmar_tlb_batch_add_range(struct vmar_tlb_batch *batch, vmar_addr_t va,
                              vmar_size_t len)
{
    if (len == 0)
        return;
    if (batch->lo >= batch->hi) {
        batch->lo = va;
        batch->hi = va + len;
        return;
    }
    batch->lo = VMAR_MIN(batch->lo, va);
    batch->hi = VMAR_MAX(batch->hi, va + len);
}

void vmar_tlb_batch_defer_free(struct vmar_tlb_batch *batch, vmar_paddr_t pa)
{
    /* Full: pay for an early flush rather than fail or allocate. */
    if (batch->nfree == VMAR_TLB_BATCH_FRAMES)
        vmar_tlb_batch_finish(batch);
    batch->frames[batch->nfree++] = pa;
}

void vmar_tlb_batch_defer_put(struct vmar_tlb_batch *batch, vmar_paddr_t pa)
{
    /* Classified now, while our reference keeps the frame ours to read. */
    if (vmar__frame_is_anon(batch->env, pa))
        batch->put_anon++;
    else
        batch->put_file++;
    if (!batch->transfer)
        vmar_tlb_batch_defer_free(batch, pa | QUEUED_PUT);
}

void vmar_tlb_batch_finish(struct vmar_tlb_batch *batch)
{
    const struct vmar_env *env = batch->env;

    if (batch->lo < batch->hi &&
        batch->hi - batch->lo <= VMAR_TLB_BATCH_RANGE_MAX * VMAR_PAGE_SIZE)
        batch->ops->flush(batch->mmu, batch->lo, batch->hi - batch->lo);
    else if (batch->lo < batch->hi)
        /* Past the threshold one full flush is cheaper than page-by-page
         * invalidation (Linux: tlb_single_page_flush_ceiling = 33). */
        batch->ops->flush(batch->mmu, 0, 0);
    else if (batch->nfree)
        /* Frames queued with no recorded range (e.g. an emptied table
         * whose leaves were gone already): flush everything to also drop
         * paging-structure caches. */
        batch->ops->flush(batch->mmu, 0, 0);
    for (size_t i = 0; i < batch->nfree; i++) {
        vmar_paddr_t pa = batch->frames[i];
        if (pa & QUEUED_PUT)
            vmar_frame_put(env, pa & ~QUEUED_PUT);
        else
            env->frame_free(env->ctx, pa);
    }
    batch->lo = 1;
    batch->hi = 0;
    batch->nfree = 0;
}
