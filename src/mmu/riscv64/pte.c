/* SPDX-License-Identifier: MIT */
/*
 * The RISC-V Sv39/Sv48/Sv57 PTE formats (layout and citations in
 * rv_pte.h). Pure functions over the word: the generic walker in radix.c
 * does the rest.
 */
#include "rv_pte.h"

#include <vmar/mmu.h>

/* The physical address bits of a leaf at `level` (a superpage's PPN must
 * be aligned: misaligned superpages fault). */
static uint64_t leaf_pa_mask(unsigned level)
{
    uint64_t all = VMAR_RV_PTE_PPN_MASK << (12u - VMAR_RV_PTE_PPN_SHIFT);

    return all & ~(((uint64_t)1 << (12 + 9 * level)) - 1);
}

static uint64_t pa_to_ppn(vmar_paddr_t pa)
{
    return (pa >> 12 << VMAR_RV_PTE_PPN_SHIFT) & VMAR_RV_PTE_PPN_MASK;
}

static vmar_paddr_t ppn_to_pa(uint64_t w)
{
    return (w & VMAR_RV_PTE_PPN_MASK) >> VMAR_RV_PTE_PPN_SHIFT << 12;
}

static bool rv_present(uint64_t w)
{
    return (w & (VMAR_RV_PTE_V | VMAR_RV_PTE_SW_PROTNONE)) != 0;
}

static bool rv_is_leaf(uint64_t w, unsigned level)
{
    (void)level;
    /* R or X set: a leaf. A PROT_NONE leaf has V clear (only a V = 1 word
     * with R = W = X = 0 points to a table). */
    return !(w & VMAR_RV_PTE_V) || (w & VMAR_RV_PTE_RWX) != 0;
}

static uint64_t pbmt_of(enum vmar_cache cache)
{
    unsigned t;

    switch (cache) {
    case VMAR_CACHE_UC:
        t = VMAR_RV_PBMT_IO;
        break;
    case VMAR_CACHE_WC:
    case VMAR_CACHE_WT: /* no write-through type: non-cacheable */
        t = VMAR_RV_PBMT_NC;
        break;
    default:
        t = VMAR_RV_PBMT_PMA;
        break;
    }
    return (uint64_t)t << VMAR_RV_PTE_PBMT_SHIFT;
}

static enum vmar_cache cache_of(uint64_t w)
{
    switch ((w & VMAR_RV_PTE_PBMT_MASK) >> VMAR_RV_PTE_PBMT_SHIFT) {
    case VMAR_RV_PBMT_IO:
        return VMAR_CACHE_UC;
    case VMAR_RV_PBMT_NC:
        return VMAR_CACHE_WC;
    default:
        return VMAR_CACHE_WB;
    }
}

static uint64_t rv_leaf_encode(const struct vmar_pte *pte, unsigned level)
{
    uint64_t w = pa_to_ppn(pte->pa & leaf_pa_mask(level)) | pbmt_of(pte->cache);

    if (pte->flags & VMAR_PTE_MANAGED)
        w |= VMAR_RV_PTE_SW_MANAGED;
    /* A always, D when writable: see "Svade" in vmar/riscv64.h. */
    w |= VMAR_RV_PTE_A;
    if ((pte->flags & VMAR_PTE_DIRTY) || (pte->prot & VMAR_PROT_WRITE))
        w |= VMAR_RV_PTE_D;
    if ((pte->prot & VMAR_PROT_RWX) == 0)
        return w | VMAR_RV_PTE_SW_PROTNONE; /* V clear */
    w |= VMAR_RV_PTE_V | VMAR_RV_PTE_U;     /* user leaves; never G */
    if (pte->prot & VMAR_PROT_READ)
        w |= VMAR_RV_PTE_R;
    if (pte->prot & VMAR_PROT_EXEC)
        w |= VMAR_RV_PTE_X;
    if (pte->prot & VMAR_PROT_WRITE) {
        w |= VMAR_RV_PTE_W;
        if (!(pte->prot & VMAR_PROT_READ))
            w |= VMAR_RV_PTE_R | VMAR_RV_PTE_SW_NOREAD; /* W needs R */
    }
    return w;
}

static void rv_leaf_decode(uint64_t w, unsigned level, struct vmar_pte *out)
{
    out->pa = ppn_to_pa(w) & leaf_pa_mask(level);
    out->cache = cache_of(w);
    out->flags = 0;
    if (w & VMAR_RV_PTE_SW_MANAGED)
        out->flags |= VMAR_PTE_MANAGED;
    if (w & VMAR_RV_PTE_A)
        out->flags |= VMAR_PTE_ACCESSED;
    if (w & VMAR_RV_PTE_D)
        out->flags |= VMAR_PTE_DIRTY;
    out->prot = 0;
    if (!(w & VMAR_RV_PTE_V))
        return; /* PROT_NONE */
    if ((w & VMAR_RV_PTE_R) && !(w & VMAR_RV_PTE_SW_NOREAD))
        out->prot |= VMAR_PROT_READ;
    if (w & VMAR_RV_PTE_W)
        out->prot |= VMAR_PROT_WRITE;
    if (w & VMAR_RV_PTE_X)
        out->prot |= VMAR_PROT_EXEC;
}

/* A pointer to the next table: V and the PPN; R = W = X = 0, and D, A, U
 * reserved 0. G stays 0: user tables are per ASID. */
static uint64_t rv_table_encode(vmar_paddr_t pa, unsigned level)
{
    (void)level;
    return VMAR_RV_PTE_V | pa_to_ppn(pa);
}

static vmar_paddr_t rv_table_decode(uint64_t w, unsigned level)
{
    (void)level;
    return ppn_to_pa(w);
}

/* 9 VPN bits per level over 4 KiB pages. Leaves at levels 0..2: pages,
 * megapages and gigapages ("Sv39": "any level of PTE may be a leaf").
 * Sv48 terapages and Sv57 petapages (levels 3, 4) are legal too but not
 * enabled: no capability bit names them, x86-64 has no such size, and a
 * 512 GiB aligned device range is not a use case here; adding bit 3 (4)
 * to leaf_levels is all it would take. */
#define RV_FORMAT(name_, levels_)                                              \
    {                                                                          \
        .name = name_, .levels = levels_, .bits_per_level = 9,                 \
        .page_shift = VMAR_PAGE_SHIFT, .va_bits = 12 + 9 * (levels_),          \
        .leaf_levels = 7u, .present = rv_present, .is_leaf = rv_is_leaf,       \
        .leaf_encode = rv_leaf_encode, .leaf_decode = rv_leaf_decode,          \
        .table_encode = rv_table_encode, .table_decode = rv_table_decode,      \
        .pa_top = VMAR_RV_PA_TOP,                                              \
        .present_bits = VMAR_RV_PTE_V | VMAR_RV_PTE_SW_PROTNONE,               \
        .table_bits = VMAR_RV_PTE_V | VMAR_RV_PTE_RWX,                         \
        .table_value = VMAR_RV_PTE_V, .table_pa_mask = VMAR_RV_PTE_PPN_MASK,   \
        .table_pa_shift = 12 - VMAR_RV_PTE_PPN_SHIFT,                          \
        .guard_word = VMAR_RV_PTE_GUARD,                                       \
    }

const struct vmar__pt_format vmar__rv_pt_format_sv39 = RV_FORMAT("sv39", 3);
const struct vmar__pt_format vmar__rv_pt_format_sv48 = RV_FORMAT("sv48", 4);
const struct vmar__pt_format vmar__rv_pt_format_sv57 = RV_FORMAT("sv57", 5);
