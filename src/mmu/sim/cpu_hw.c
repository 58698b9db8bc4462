/* SPDX-License-Identifier: MIT */
/*
 * The one place where sim code looks inside a hardware-format backend's
 * page table (src/mmu/hwpt.h): to learn the CR3 / satp value that its
 * flushes will name in env->tlb_flush, so that a simulated CPU running
 * such a space can recognise the flushes meant for it.
 *
 * A file of its own because hwpt.h defines its own struct vmar_mmu, which
 * must not meet the sim backend's in one translation unit.
 */
#include "hwpt.h"
#include "sim_impl.h"

bool vmar_sim__hw_root(const struct vmar_mmu *mmu, uint64_t *root)
{
    if (mmu == NULL)
        return false;
    *root = mmu->root;
    return true;
}
