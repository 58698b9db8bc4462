/* SPDX-License-Identifier: MIT */
/*
 * The sim page-table format: 4 levels of 9 bits over 4 KiB pages (48-bit
 * addresses, like x86-64 4-level), with a neutral word layout chosen for
 * readability in dumps rather than after any real machine:
 *
 *   63     52 51                 12 11 10 9  8 7 6 5 4 3 2 1 0
 *   |  zero  |  physical frame     | 0  0|cache|D|A|M| prot|L|P|
 *
 *   P      present
 *   L      leaf (clear: the word points to the next table)
 *   prot   vmar_prot bits (R = bit 2, W = bit 3, X = bit 4)
 *   M      VMAR_PTE_MANAGED, A accessed, D dirty
 *   cache  enum vmar_cache
 *
 * A guard marker (vmar_mmu_ops::guard) is the level-0 word with only G
 * (bit 62) set: not present, not 0.
 *
 * Table pointers are P plus the frame. Leaves sit at levels 0, 1 and 2
 * (4 KiB, 2 MiB, 1 GiB) with the same layout; a huge leaf's frame is
 * aligned to its span.
 * Every field of struct vmar_pte has its own bits, so decode then encode
 * gives back the word (the round trip radix.h asks for).
 */
#ifndef VMAR_MMU_SIM_PTE_H
#define VMAR_MMU_SIM_PTE_H

#include <stdint.h>

#include "radix.h"

#define VMAR_SIM_PTE_PRESENT     ((uint64_t)1 << 0)
#define VMAR_SIM_PTE_GUARD       ((uint64_t)1 << 62)
#define VMAR_SIM_PTE_LEAF        ((uint64_t)1 << 1)
#define VMAR_SIM_PTE_PROT_SHIFT  2u
#define VMAR_SIM_PTE_PROT_MASK   ((uint64_t)7 << VMAR_SIM_PTE_PROT_SHIFT)
#define VMAR_SIM_PTE_MANAGED     ((uint64_t)1 << 5)
#define VMAR_SIM_PTE_ACCESSED    ((uint64_t)1 << 6)
#define VMAR_SIM_PTE_DIRTY       ((uint64_t)1 << 7)
#define VMAR_SIM_PTE_CACHE_SHIFT 8u
#define VMAR_SIM_PTE_CACHE_MASK  ((uint64_t)3 << VMAR_SIM_PTE_CACHE_SHIFT)
#define VMAR_SIM_PTE_PA_MASK     ((uint64_t)0x000ffffffffff000)

/* One past the highest physical address the format can hold. */
#define VMAR_SIM_PA_LIMIT ((uint64_t)1 << 52)

/* The format vmar_mmu_sim uses (also handy for walker tests). */
extern const struct vmar__pt_format vmar__sim_pt_format;

#endif /* VMAR_MMU_SIM_PTE_H */
