/* SPDX-License-Identifier: MIT */
/**
 * @file x86_64.h
 * @brief The x86-64 page-table backends: 4-level (48-bit) and 5-level
 *        (LA57, 57-bit) paging, Intel SDM Vol. 3A ch. 4.
 *
 * Two constant ops tables share all code and differ in their table depth
 * and user_top (the space's default upper bound, one page below the top
 * of the lower canonical half, so that no user range ends at the
 * non-canonical hole):
 *  - vmar_mmu_x86_64_4l: CR4.LA57 = 0, user_top 0x7ffffffff000;
 *  - vmar_mmu_x86_64_5l: CR4.LA57 = 1, user_top 0xfffffffffff000.
 *
 * The config (vmar_space_opts::mmu_config) is a
 * `const struct vmar_x86_64_config *`, or NULL for the defaults.
 *
 * The kernel half: libvmar owns the lower half of every root (entries
 * 0..255) and never walks or frees what the upper half (256..511) holds. Set
 * vmar_x86_64_config::kernel_root and every new root starts with the
 * kernel's upper-half entries, so the kernel stays mapped while a space's
 * CR3 is loaded.
 *
 * What the embedder must set up (the backend cannot check it):
 *  - IA32_EFER.NXE = 1 (execute-disable, bit 63 of every entry, is used
 *    for every page mapped without VMAR_PROT_EXEC);
 *  - IA32_PAT programmed as Linux does (SDM Vol. 3A, "Page Attribute
 *    Table"): PAT0 WB, PAT1 WC, PAT2 UC-, PAT3 UC, PAT4 WB, PAT5 WP,
 *    PAT6 UC-, PAT7 WT. Cache policies map to PAT entries 0 (WB),
 *    1 (WC), 3 (UC) and 7 (WT). With the power-on PAT only WB and UC are
 *    what they say;
 *  - CR0.WP = 1, so that ring-0 writes honour read-only entries: with
 *    WP = 0 (the power-on state) a kernel write straight to a user
 *    address (a copy_to_user that does not use vmar_write()) goes
 *    through a read-only or copy-on-write page without the fault that
 *    vmar_fault() must see, into a frame parent and child share.
 *
 * Physical addresses: pa_top is 2^52, the architectural maximum of
 * MAXPHYADDR (entry bits 51:12), so vmar_map() refuses device memory
 * reaching past it. A CPU's own MAXPHYADDR (CPUID.80000008H:EAX[7:0]) may
 * be smaller; the bits from it to 51 are reserved, and an access through
 * such a leaf raises a page fault with the RSVD flag rather than reach
 * another frame. Device addresses between the two are the embedder's to
 * refuse.
 *
 * Permissions: x86 has no write-only or execute-only page (a present
 * page is readable, SDM Vol. 3A §4.6), so W and X imply R in hardware.
 * The leaf remembers in a software bit that R was not asked for, so the
 * space reports exactly what the caller asked for. PROT_NONE leaves keep
 * their frame with P clear (see src/mmu/x86_64/x86_pte.h).
 *
 * TLB: env->tlb_flush when set; else, in builds with
 * -DVMAR_X86_64_INLINE_TLB, invlpg per page or a CR3 reload on the calling
 * CPU (only right for the CPU's current table); else nothing (hosted
 * builds, where no CPU runs the table).
 */
#ifndef VMAR_X86_64_H
#define VMAR_X86_64_H

#include <vmar/mmu.h>
#include <vmar/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** 4-level paging (48-bit linear addresses). */
extern const struct vmar_mmu_ops vmar_mmu_x86_64_4l;
/** 5-level paging (LA57, 57-bit linear addresses). */
extern const struct vmar_mmu_ops vmar_mmu_x86_64_5l;
/** The common case: 4-level paging. */
#define vmar_mmu_x86_64 vmar_mmu_x86_64_4l

/** Highest PCID (CR3 bits 11:0 when CR4.PCIDE = 1, SDM Vol. 3A §4.10.1). */
#define VMAR_X86_64_PCID_MAX 0xfffu

/**
 * Configuration of one space; zero-initialise, then set what you need.
 * Read only during create (vmar_space_create(), vmar_fork()): libvmar keeps
 * no pointer to it. A child of vmar_fork() needs a config of its own (its
 * own PCID). vmar_space_activation() gives the space's CR3 value.
 */
struct vmar_x86_64_config {
    /** PCID of the space (0..VMAR_X86_64_PCID_MAX), placed in CR3 bits
     *  11:0. Use 0 when CR4.PCIDE = 0. */
    uint16_t pcid;
    /** Set when CPUID.80000001H:EDX.Page1GB[bit 26] is 0 (SDM Vol. 3A
     *  §4.1.4): map_range then uses 4 KiB and 2 MiB leaves only. Default
     *  (false): 1 GiB leaves too. */
    bool no_1g_pages;
    /** Physical address of a root table (the kernel's own PML4, or PML5
     *  with 5-level paging) whose kernel-half entries every new root of
     *  this backend gets, or 0 for none (the kernel half stays empty).
     *  The kernel half is root entries 256..511, the upper canonical
     *  half: 0xffff800000000000 and up with 4-level paging,
     *  0xff00000000000000 and up with 5-level paging. create copies those
     *  256 words once. After that no operation reads or follows them and
     *  the kernel tables they point to are never written or freed:
     *  destroy frees the lower half's tables only, then zeroes the copies
     *  and frees the root. Later changes to the kernel's own root entries
     *  are not propagated: give every kernel-half root entry its
     *  next-level table before the first space is created (as Linux
     *  preallocates its kernel PGD/P4D entries), so the shared words
     *  never change. Read through env->phys_to_virt; must be page
     *  aligned, else create fails with VMAR_EINVAL. vmar_fork() builds
     *  the child's root from vmar_fork_opts::mmu_config like any create:
     *  set kernel_root there too. */
    vmar_paddr_t kernel_root;
};

#ifdef __cplusplus
}
#endif

#endif /* VMAR_X86_64_H */
