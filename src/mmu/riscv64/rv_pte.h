/* SPDX-License-Identifier: MIT */
/*
 * RISC-V Sv39/Sv48/Sv57 page-table entries (privileged spec,
 * "Supervisor-Level ISA": "Sv39: Page-Based 39-bit Virtual-Memory System"
 * (PTE format figure), "Sv48", "Sv57"; "Svpbmt" for PBMT). One format for
 * all three modes; they differ only in the number of levels.
 *
 *   63 62 61 60   54 53                10 9  8 7 6 5 4 3 2 1 0
 *   |N | PBMT|reserved|        PPN         |RSW |D|A|G|U|X|W|R|V|
 *
 * A PTE with V = 1 and R = W = X = 0 points to the next table; for it
 * D, A and U are reserved and must be 0. Any of R, X set: a leaf, at any
 * level (megapages, gigapages). W = 1 with R = 0 is reserved. A
 * superpage's PPN must be aligned to its size: PPN bits below the level
 * nonzero is a page fault ("Virtual Address Translation Process", step
 * 6, "misaligned superpage"); leaf_encode masks them off.
 *
 * RSW (bits 9:8, reserved for supervisor software):
 *  - MANAGED: VMAR_PTE_MANAGED;
 *  - NOREAD: R was set only because W needs it, so decode gives back
 *    exactly the requested prot.
 * PROTNONE: a PROT_NONE leaf. V is clear, so the hart ignores every other
 * bit ("If pte.v = 0 ... raise a page-fault exception"), and the word
 * keeps its PPN, RSW, A/D and PBMT for a later protect(); the marker is
 * the G bit position, as Linux's _PAGE_PROT_NONE. This backend never sets
 * G on a user leaf, so the marker cannot be confused with a real G.
 * GUARD: a guard marker (vmar_mmu_ops::guard) is a PTE with V and G
 * clear and only RSW bit 8 set: invalid to the hart, present to no
 * decode, distinct from an empty (0) entry.
 */
#ifndef VMAR_MMU_RV_PTE_H
#define VMAR_MMU_RV_PTE_H

#include <stdint.h>

#include "radix.h"

#define VMAR_RV_PTE_V   ((uint64_t)1 << 0) /* valid */
#define VMAR_RV_PTE_R   ((uint64_t)1 << 1) /* readable */
#define VMAR_RV_PTE_W   ((uint64_t)1 << 2) /* writable */
#define VMAR_RV_PTE_X   ((uint64_t)1 << 3) /* executable */
#define VMAR_RV_PTE_U   ((uint64_t)1 << 4) /* user-mode accessible */
#define VMAR_RV_PTE_G   ((uint64_t)1 << 5) /* global */
#define VMAR_RV_PTE_A   ((uint64_t)1 << 6) /* accessed */
#define VMAR_RV_PTE_D   ((uint64_t)1 << 7) /* dirty */
#define VMAR_RV_PTE_RWX (VMAR_RV_PTE_R | VMAR_RV_PTE_W | VMAR_RV_PTE_X)

/* RSW, bits 9:8. */
#define VMAR_RV_PTE_SW_MANAGED ((uint64_t)1 << 8)
#define VMAR_RV_PTE_SW_NOREAD  ((uint64_t)1 << 9)
#define VMAR_RV_PTE_GUARD      ((uint64_t)1 << 8)
/* Only with V = 0 (see above). */
#define VMAR_RV_PTE_SW_PROTNONE VMAR_RV_PTE_G

/* PPN, bits 53:10 (44 bits): PTE.PPN = pa >> 12. */
#define VMAR_RV_PTE_PPN_SHIFT 10u
#define VMAR_RV_PTE_PPN_MASK  ((uint64_t)0x003ffffffffffc00)
/* One past the highest physical address an entry holds: 2^(44 + 12). */
#define VMAR_RV_PA_TOP ((uint64_t)1 << 56)

/* Svpbmt, bits 62:61: 0 PMA, 1 NC (non-cacheable, idempotent, weakly
 * ordered), 2 IO (non-cacheable, non-idempotent, strongly ordered). */
#define VMAR_RV_PTE_PBMT_SHIFT 61u
#define VMAR_RV_PTE_PBMT_MASK  ((uint64_t)3 << VMAR_RV_PTE_PBMT_SHIFT)
#define VMAR_RV_PBMT_PMA       0u
#define VMAR_RV_PBMT_NC        1u
#define VMAR_RV_PBMT_IO        2u

/* N (Svnapot), bit 63: reserved 0 here (no NAPOT mappings). */
#define VMAR_RV_PTE_N ((uint64_t)1 << 63)

extern const struct vmar__pt_format vmar__rv_pt_format_sv39;
extern const struct vmar__pt_format vmar__rv_pt_format_sv48;
extern const struct vmar__pt_format vmar__rv_pt_format_sv57;

#endif /* VMAR_MMU_RV_PTE_H */
