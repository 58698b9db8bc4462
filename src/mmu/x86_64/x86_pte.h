/* SPDX-License-Identifier: MIT */
/*
 * x86-64 paging-structure entries, Intel SDM Vol. 3A §4.5 ("4-Level
 * Paging and 5-Level Paging"): Table 4-14 (PML5E), 4-15 (PML4E), 4-17
 * (PDPTE referencing a page directory), 4-19 (PDE referencing a page
 * table) and 4-20 (PTE mapping a 4-KByte page); 4-16 and 4-18 for the
 * 1-GByte and 2-MByte leaves (PS = 1).
 *
 *   63 62  59 58  52 51                       12 11  9 8 7 6 5 4 3 2 1 0
 *   |XD| PK  |ignored|  physical address         | SW  |G|S|D|A|C|T|U|W|P|
 *
 * Non-leaf entries are P|RW|US: permissions are enforced at the leaf
 * (the effective right is the AND over all levels, SDM §4.6), and the
 * table entries must not take any away.
 *
 * Software bits (ignored by the processor, Tables 4-14..4-20 bits 11:9):
 *  - MANAGED: VMAR_PTE_MANAGED;
 *  - NOREAD: the caller did not ask for PROT_READ, but hardware grants
 *    it with P (x86 has no write- or execute-only page), so decode gives
 *    back exactly the requested prot;
 *  - GUARD: a guard marker (vmar_mmu_ops::guard) is a PTE with P and
 *    PROTNONE clear and only bit 52 ("Ignored" once P is 0) set, as
 *    Linux keeps its PTE markers in non-present entries;
 *  - PROTNONE: a PROT_NONE leaf. P is clear, so the processor ignores
 *    every other bit ("If the P flag is 0, ... software can use bits
 *    63:1", SDM §4.5) and the word keeps its frame, A/D and cache bits
 *    for a later protect(). The walker's present() treats it as a present
 *    leaf. Linux does the same with _PAGE_PROTNONE.
 */
#ifndef VMAR_MMU_X86_PTE_H
#define VMAR_MMU_X86_PTE_H

#include <stdint.h>

#include "radix.h"

/* Hardware bits, SDM Vol. 3A Tables 4-14..4-20. */
#define VMAR_X86_PTE_P   ((uint64_t)1 << 0) /* present */
#define VMAR_X86_PTE_RW  ((uint64_t)1 << 1) /* read/write */
#define VMAR_X86_PTE_US  ((uint64_t)1 << 2) /* user/supervisor */
#define VMAR_X86_PTE_PWT ((uint64_t)1 << 3) /* page-level write-through */
#define VMAR_X86_PTE_PCD ((uint64_t)1 << 4) /* page-level cache disable */
#define VMAR_X86_PTE_A   ((uint64_t)1 << 5) /* accessed */
#define VMAR_X86_PTE_D   ((uint64_t)1 << 6) /* dirty (leaves only) */
/* Bit 7: PS (page size) in a PDPTE/PDE, where 1 means a 1-GByte/2-MByte
 * leaf (Tables 4-16, 4-18); PAT in a 4-KByte PTE (Table 4-20). */
#define VMAR_X86_PTE_PS      ((uint64_t)1 << 7)
#define VMAR_X86_PTE_PAT_4K  ((uint64_t)1 << 7)
#define VMAR_X86_PTE_G       ((uint64_t)1 << 8)  /* global (leaves only) */
#define VMAR_X86_PTE_PAT_BIG ((uint64_t)1 << 12) /* PAT, 2M/1G leaves */
/* Address bits 51:12 (M-1:12 with MAXPHYADDR M <= 52, SDM §4.1.4). */
#define VMAR_X86_PTE_ADDR ((uint64_t)0x000ffffffffff000)
#define VMAR_X86_PTE_XD   ((uint64_t)1 << 63) /* execute-disable (NX) */
/* One past the highest physical address an entry holds: 2^52, the
 * architectural maximum of MAXPHYADDR. */
#define VMAR_X86_PA_TOP ((uint64_t)1 << 52)

/* Software bits, "Ignored" in Tables 4-14..4-20. */
#define VMAR_X86_PTE_SW_MANAGED  ((uint64_t)1 << 9)
#define VMAR_X86_PTE_SW_NOREAD   ((uint64_t)1 << 10)
#define VMAR_X86_PTE_SW_PROTNONE ((uint64_t)1 << 11)
#define VMAR_X86_PTE_GUARD       ((uint64_t)1 << 52)

/* The table entry's rights: none taken away (see above). */
#define VMAR_X86_PTE_TABLE (VMAR_X86_PTE_P | VMAR_X86_PTE_RW | VMAR_X86_PTE_US)

/*
 * PAT index = PAT << 2 | PCD << 1 | PWT (SDM Vol. 3A, "Selecting a Memory
 * Type from the PAT"), for the IA32_PAT programming that vmar/x86_64.h
 * requires (Linux's): WB 0, WC 1, UC 3, WT 7.
 */
#define VMAR_X86_PAT_WB 0u
#define VMAR_X86_PAT_WC 1u
#define VMAR_X86_PAT_UC 3u
#define VMAR_X86_PAT_WT 7u

extern const struct vmar__pt_format vmar__x86_pt_format_4l;
extern const struct vmar__pt_format vmar__x86_pt_format_4l_no1g;
extern const struct vmar__pt_format vmar__x86_pt_format_5l_no1g;
extern const struct vmar__pt_format vmar__x86_pt_format_5l;

#endif /* VMAR_MMU_X86_PTE_H */
