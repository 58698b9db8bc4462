/* SPDX-License-Identifier: MIT */
/**
 * @file riscv64.h
 * @brief The RISC-V page-table backends: Sv39, Sv48 and Sv57 (RISC-V
 *        privileged architecture, "Supervisor-Level ISA", sections
 *        "Sv32: Page-Based 32-bit Virtual-Memory Systems" for the common
 *        rules and "Sv39", "Sv48", "Sv57" for each mode).
 *
 * One constant ops table per mode, all sharing one code path; user_top
 * is one page below the top of the lower half (2^38, 2^47 or 2^56 minus
 * a page), so no user range ends at the non-canonical hole:
 *  - vmar_mmu_riscv64_sv39: user_top 0x3ffffff000;
 *  - vmar_mmu_riscv64_sv48: user_top 0x7ffffffff000 (the first-class mode);
 *  - vmar_mmu_riscv64_sv57: user_top 0xfffffffffff000.
 * In every mode pa_top is 2^56 (a 44-bit PPN): vmar_map() refuses device
 * memory reaching past it.
 *
 * The config (vmar_space_opts::mmu_config) is a
 * `const struct vmar_riscv64_config *`, or NULL for the defaults.
 *
 * Permissions. W without R is reserved (a page fault), so PROT_WRITE
 * alone is mapped R|W and PROT_WRITE|PROT_EXEC R|W|X; an RSW bit records
 * that R was not asked for, and the space reports exactly what the caller
 * asked for. Execute-only (X alone) is native. PROT_NONE leaves keep their
 * frame with V clear (see src/mmu/riscv64/rv_pte.h).
 *
 * A and D are set when a leaf is made (D when writable): without Svadu
 * (or with menvcfg.ADUE = 0) the hart raises a page fault on an access
 * with A = 0 or a store with D = 0 ("Svade"), and libvmar has no handler
 * for those faults. The cost is that A/D say nothing about real use.
 *
 * Cache policy: WB uses PBMT = 0 (the PMA), which every hart supports.
 * UC, WC and WT use Svpbmt (bits 62:61: UC -> IO, WC and WT -> NC, so WT
 * reads back as WC, which the ops tables declare in cache_as; the space
 * still reports WT); they require Svpbmt with menvcfg.PBMTE = 1, else the
 * bits are reserved and the access faults.
 *
 * The kernel half: libvmar owns the lower half of every root (entries
 * 0..255) and never walks or frees what the upper half (256..511) holds. Set
 * vmar_riscv64_config::kernel_root and every new root starts with the
 * kernel's upper-half entries, so the kernel stays mapped while a space's
 * satp is loaded. The kernel's leaves need U = 0 (S-mode only); G = 1
 * lets their translations survive the per-ASID flushes libvmar asks for.
 *
 * TLB: env->tlb_flush when set; else, in builds with
 * -DVMAR_RISCV64_INLINE_TLB, sfence.vma on the calling hart; else nothing
 * (hosted builds, where no hart runs the table). After table pages were freed
 * the flush is for the whole ASID: sfence.vma with an address need not drop
 * cached non-leaf entries.
 */
#ifndef VMAR_RISCV64_H
#define VMAR_RISCV64_H

#include <vmar/mmu.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Sv39: 3 levels, 39-bit virtual addresses. */
extern const struct vmar_mmu_ops vmar_mmu_riscv64_sv39;
/** Sv48: 4 levels, 48-bit virtual addresses. */
extern const struct vmar_mmu_ops vmar_mmu_riscv64_sv48;
/** Sv57: 5 levels, 57-bit virtual addresses. */
extern const struct vmar_mmu_ops vmar_mmu_riscv64_sv57;

/** Highest ASID (satp.ASID is 16 bits wide in RV64; a hart may implement
 *  fewer, see ASIDLEN in the privileged spec, "satp"). */
#define VMAR_RISCV64_ASID_MAX 0xffffu

/**
 * Configuration of one space; zero-initialise, then set what you need.
 * Read only during create (vmar_space_create(), vmar_fork()): libvmar keeps
 * no pointer to it. A child of vmar_fork() needs a config of its own (its
 * own ASID). vmar_space_activation() gives the space's satp value.
 */
struct vmar_riscv64_config {
    /** ASID of the space, placed in satp bits 59:44. */
    uint16_t asid;
    /** Physical address of a root table (the kernel's own, of the same
     *  mode) whose kernel-half entries every new root of this backend
     *  gets, or 0 for none (the kernel half stays empty). The kernel half
     *  is the upper half of the root, entries 256..511 in every mode: the
     *  addresses whose bit va_bits-1 is set, which are outside the
     *  backend's user range (0xffffffc000000000 and up for Sv39,
     *  0xffff800000000000 for Sv48, 0xff00000000000000 for Sv57). create
     *  copies those 256 words once. After that no operation reads or
     *  follows them and the kernel tables they point to are never written
     *  or freed: destroy frees the lower half's tables only, then zeroes
     *  the copies and frees the root. Later changes to the kernel's own
     *  root entries are not propagated: give every kernel-half root entry
     *  its next-level table (or make it a leaf) before the first space is
     *  created, so the shared words never change. Read through
     *  env->phys_to_virt; must be page aligned, else create fails with
     *  VMAR_EINVAL. vmar_fork() builds the child's root from
     *  vmar_fork_opts::mmu_config like any create: set kernel_root there
     *  too. */
    vmar_paddr_t kernel_root;
};

#ifdef __cplusplus
}
#endif

#endif /* VMAR_RISCV64_H */
