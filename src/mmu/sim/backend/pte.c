/* SPDX-License-Identifier: MIT */
/*
 * The sim PTE format (layout in sim_pte.h). Pure functions over the word:
 * the generic walker in radix.c does everything else.
 */
#include "sim_pte.h"

#include <vmar/mmu.h>

static bool sim_present(uint64_t w)
{
    return (w & VMAR_SIM_PTE_PRESENT) != 0;
}

static bool sim_is_leaf(uint64_t w, unsigned level)
{
    (void)level;
    return (w & VMAR_SIM_PTE_LEAF) != 0;
}

static uint64_t sim_leaf_encode(const struct vmar_pte *pte, unsigned level)
{
    uint64_t w = VMAR_SIM_PTE_PRESENT | VMAR_SIM_PTE_LEAF;

    (void)level;
    w |= ((uint64_t)pte->prot << VMAR_SIM_PTE_PROT_SHIFT) &
         VMAR_SIM_PTE_PROT_MASK;
    if (pte->flags & VMAR_PTE_MANAGED)
        w |= VMAR_SIM_PTE_MANAGED;
    if (pte->flags & VMAR_PTE_ACCESSED)
        w |= VMAR_SIM_PTE_ACCESSED;
    if (pte->flags & VMAR_PTE_DIRTY)
        w |= VMAR_SIM_PTE_DIRTY;
    w |= ((uint64_t)pte->cache << VMAR_SIM_PTE_CACHE_SHIFT) &
         VMAR_SIM_PTE_CACHE_MASK;
    return w | (pte->pa & VMAR_SIM_PTE_PA_MASK);
}

static void sim_leaf_decode(uint64_t w, unsigned level, struct vmar_pte *out)
{
    (void)level;
    out->pa = w & VMAR_SIM_PTE_PA_MASK;
    out->prot =
        (unsigned)((w & VMAR_SIM_PTE_PROT_MASK) >> VMAR_SIM_PTE_PROT_SHIFT);
    out->flags = 0;
    if (w & VMAR_SIM_PTE_MANAGED)
        out->flags |= VMAR_PTE_MANAGED;
    if (w & VMAR_SIM_PTE_ACCESSED)
        out->flags |= VMAR_PTE_ACCESSED;
    if (w & VMAR_SIM_PTE_DIRTY)
        out->flags |= VMAR_PTE_DIRTY;
    out->cache = (enum vmar_cache)((w & VMAR_SIM_PTE_CACHE_MASK) >>
                                   VMAR_SIM_PTE_CACHE_SHIFT);
}

static uint64_t sim_table_encode(vmar_paddr_t pa, unsigned level)
{
    (void)level;
    return VMAR_SIM_PTE_PRESENT | (pa & VMAR_SIM_PTE_PA_MASK);
}

static vmar_paddr_t sim_table_decode(uint64_t w, unsigned level)
{
    (void)level;
    return w & VMAR_SIM_PTE_PA_MASK;
}

const struct vmar__pt_format vmar__sim_pt_format = {
    .name = "sim-4level",
    .levels = 4,
    .bits_per_level = 9,
    .page_shift = VMAR_PAGE_SHIFT,
    .va_bits = 48,
    /* 4 KiB, 2 MiB and 1 GiB leaves, as on x86-64; no 512 GiB ones */
    .leaf_levels = (1u << 0) | (1u << 1) | (1u << 2),
    .pa_top = VMAR_SIM_PA_LIMIT,
    .present = sim_present,
    .is_leaf = sim_is_leaf,
    .leaf_encode = sim_leaf_encode,
    .leaf_decode = sim_leaf_decode,
    .table_encode = sim_table_encode,
    .table_decode = sim_table_decode,
    .present_bits = VMAR_SIM_PTE_PRESENT,
    .table_bits = VMAR_SIM_PTE_LEAF,
    .table_value = 0,
    .table_pa_mask = VMAR_SIM_PTE_PA_MASK,
    .table_pa_shift = 0,
    .guard_word = VMAR_SIM_PTE_GUARD,
};
