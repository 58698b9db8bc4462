/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 PTE formats (layout and citations in x86_pte.h). Pure
 * functions over the word: the generic walker in radix.c does the rest.
 * 4-level and 5-level paging share every entry format and differ only in
 * the number of levels (SDM Vol. 3A §4.5).
 */
#include "x86_pte.h"

#include <vmar/mmu.h>

/* The PAT bit of a leaf at `level`: bit 7 in a PTE, bit 12 above. */
static uint64_t pat_bit(unsigned level)
{
    return level == 0 ? VMAR_X86_PTE_PAT_4K : VMAR_X86_PTE_PAT_BIG;
}

/* The address bits of a leaf at `level` (2M/1G frames are aligned; bit
 * 12 of a huge leaf is PAT). */
static uint64_t leaf_addr_mask(unsigned level)
{
    return VMAR_X86_PTE_ADDR & ~(((uint64_t)1 << (12 + 9 * level)) - 1);
}

static bool x86_present(uint64_t w)
{
    return (w & (VMAR_X86_PTE_P | VMAR_X86_PTE_SW_PROTNONE)) != 0;
}

static bool x86_is_leaf(uint64_t w, unsigned level)
{
    (void)level;
    /* A PROT_NONE leaf has P clear, so PS means nothing there. */
    return (w & (VMAR_X86_PTE_PS | VMAR_X86_PTE_SW_PROTNONE)) != 0;
}

static uint64_t cache_bits(enum vmar_cache cache, unsigned level)
{
    unsigned idx;

    switch (cache) {
    case VMAR_CACHE_WT:
        idx = VMAR_X86_PAT_WT;
        break;
    case VMAR_CACHE_WC:
        idx = VMAR_X86_PAT_WC;
        break;
    case VMAR_CACHE_UC:
        idx = VMAR_X86_PAT_UC;
        break;
    default:
        idx = VMAR_X86_PAT_WB;
        break;
    }
    return ((idx & 1u) ? VMAR_X86_PTE_PWT : 0) |
           ((idx & 2u) ? VMAR_X86_PTE_PCD : 0) |
           ((idx & 4u) ? pat_bit(level) : 0);
}

static enum vmar_cache cache_of(uint64_t w, unsigned level)
{
    unsigned idx = ((w & VMAR_X86_PTE_PWT) ? 1u : 0u) |
                   ((w & VMAR_X86_PTE_PCD) ? 2u : 0u) |
                   ((w & pat_bit(level)) ? 4u : 0u);

    /* Entries 2, 4, 5 and 6 are never written by this backend. */
    switch (idx) {
    case VMAR_X86_PAT_WT:
        return VMAR_CACHE_WT;
    case VMAR_X86_PAT_WC:
        return VMAR_CACHE_WC;
    case VMAR_X86_PAT_UC:
        return VMAR_CACHE_UC;
    default:
        return VMAR_CACHE_WB;
    }
}

static uint64_t x86_leaf_encode(const struct vmar_pte *pte, unsigned level)
{
    uint64_t w =
        (pte->pa & leaf_addr_mask(level)) | cache_bits(pte->cache, level);

    if (pte->flags & VMAR_PTE_MANAGED)
        w |= VMAR_X86_PTE_SW_MANAGED;
    if (pte->flags & VMAR_PTE_ACCESSED)
        w |= VMAR_X86_PTE_A;
    if (pte->flags & VMAR_PTE_DIRTY)
        w |= VMAR_X86_PTE_D;
    if (level > 0)
        w |= VMAR_X86_PTE_PS;
    if ((pte->prot & VMAR_PROT_RWX) == 0)
        return w | VMAR_X86_PTE_SW_PROTNONE; /* P clear */
    /* User leaves: US set; never G (global is for kernel mappings). */
    w |= VMAR_X86_PTE_P | VMAR_X86_PTE_US;
    if (pte->prot & VMAR_PROT_WRITE)
        w |= VMAR_X86_PTE_RW;
    if (!(pte->prot & VMAR_PROT_EXEC))
        w |= VMAR_X86_PTE_XD;
    if (!(pte->prot & VMAR_PROT_READ))
        w |= VMAR_X86_PTE_SW_NOREAD; /* R comes with P anyway */
    return w;
}

static void x86_leaf_decode(uint64_t w, unsigned level, struct vmar_pte *out)
{
    out->pa = w & leaf_addr_mask(level);
    out->cache = cache_of(w, level);
    out->flags = 0;
    if (w & VMAR_X86_PTE_SW_MANAGED)
        out->flags |= VMAR_PTE_MANAGED;
    if (w & VMAR_X86_PTE_A)
        out->flags |= VMAR_PTE_ACCESSED;
    if (w & VMAR_X86_PTE_D)
        out->flags |= VMAR_PTE_DIRTY;
    out->prot = 0;
    if (!(w & VMAR_X86_PTE_P))
        return; /* PROT_NONE */
    if (!(w & VMAR_X86_PTE_SW_NOREAD))
        out->prot |= VMAR_PROT_READ;
    if (w & VMAR_X86_PTE_RW)
        out->prot |= VMAR_PROT_WRITE;
    if (!(w & VMAR_X86_PTE_XD))
        out->prot |= VMAR_PROT_EXEC;
}

static uint64_t x86_table_encode(vmar_paddr_t pa, unsigned level)
{
    (void)level;
    return VMAR_X86_PTE_TABLE | (pa & VMAR_X86_PTE_ADDR);
}

static vmar_paddr_t x86_table_decode(uint64_t w, unsigned level)
{
    (void)level;
    return w & VMAR_X86_PTE_ADDR;
}

/* 9 index bits per level over 4 KiB pages (SDM §4.5.1). Leaves at levels
 * 0..2: 4 KiB PTEs, 2 MiB PDEs and 1 GiB PDPTEs with PS = 1 (Tables 4-16,
 * 4-18); PS is reserved in a PML4E / PML5E (Tables 4-14, 4-15). */
#define X86_FORMAT(name_, levels_, leaves_)                                    \
    {                                                                          \
        .name = name_, .levels = levels_, .bits_per_level = 9,                 \
        .page_shift = VMAR_PAGE_SHIFT, .va_bits = 12 + 9 * (levels_),          \
        .leaf_levels = leaves_, .present = x86_present,                        \
        .is_leaf = x86_is_leaf, .leaf_encode = x86_leaf_encode,                \
        .leaf_decode = x86_leaf_decode, .table_encode = x86_table_encode,      \
        .table_decode = x86_table_decode, .pa_top = VMAR_X86_PA_TOP,           \
        .present_bits = VMAR_X86_PTE_P | VMAR_X86_PTE_SW_PROTNONE,             \
        .table_bits = VMAR_X86_PTE_PS | VMAR_X86_PTE_SW_PROTNONE,              \
        .table_value = 0, .table_pa_mask = VMAR_X86_PTE_ADDR,                  \
        .table_pa_shift = 0, .guard_word = VMAR_X86_PTE_GUARD,                 \
    }

const struct vmar__pt_format vmar__x86_pt_format_4l =
    X86_FORMAT("x86_64-4l", 4, 7u);
const struct vmar__pt_format vmar__x86_pt_format_5l =
    X86_FORMAT("x86_64-5l", 5, 7u);
/* For CPUs without 1 GiB pages (CPUID Page1GB = 0): leaves at 0..1. */
const struct vmar__pt_format vmar__x86_pt_format_4l_no1g =
    X86_FORMAT("x86_64-4l-no1g", 4, 3u);
const struct vmar__pt_format vmar__x86_pt_format_5l_no1g =
    X86_FORMAT("x86_64-5l-no1g", 5, 3u);
