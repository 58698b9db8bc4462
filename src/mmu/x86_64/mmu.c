/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 backends: the generic walker over the x86 formats (pte.c)
 * through the shared glue in hwpt.h. What is x86 here: the CR3 value, the
 * user tops of 4- and 5-level paging, and the inline TLB instructions.
 * The kernel half (PML4 / PML5 entries 256..511) is hwpt.h's.
 */
#include <vmar/backend.h>
#include <vmar/error.h>
#include <vmar/x86_64.h>

#include "hwpt.h"
#include "radix.h"
#include "x86_pte.h"

/* One page below the top of the lower canonical half (SDM Vol. 3A §3.3.7.1,
 * "Canonical Addressing"): 2^47 or 2^56 minus a page. */
#define X86_USER_TOP_4L ((vmar_addr_t)0x7ffffffff000)
#define X86_USER_TOP_5L ((vmar_addr_t)0xfffffffffff000)

/* CR3 (SDM Vol. 3A §4.5.2, Table 4-13 with CR4.PCIDE = 1): bits 11:0 PCID,
 * bits M-1:12 the physical address of the PML4 (PML5) table. */
#define X86_CR3_PCID ((uint64_t)VMAR_X86_64_PCID_MAX)
#define X86_CR3_ADDR VMAR_X86_PTE_ADDR

#ifdef VMAR_X86_64_INLINE_TLB
/*
 * The calling CPU only, and only right when the table is current there:
 * INVLPG invalidates the page's TLB entries and every paging-structure-
 * cache entry of the current PCID (SDM Vol. 3A §4.10.4.1); writing CR3
 * with its own value (bit 63 clear) drops the current PCID's non-global
 * entries. Other CPUs and other PCIDs need env->tlb_flush.
 */
static void x86_local_flush(uint64_t cr3, vmar_addr_t va, vmar_size_t len)
{
    (void)cr3;
    if (len == 0) {
        uint64_t cur;

        __asm__ volatile("mov %%cr3, %0" : "=r"(cur));
        __asm__ volatile("mov %0, %%cr3" : : "r"(cur) : "memory");
        return;
    }
    for (vmar_size_t off = 0; off < len; off += VMAR_PAGE_SIZE)
        __asm__ volatile("invlpg (%0)" : : "r"(va + off) : "memory");
}
#define X86_LOCAL_FLUSH x86_local_flush
#else
#define X86_LOCAL_FLUSH NULL /* hosted: count only */
#endif

static const struct vmar__hwpt_arch x86_arch = {
    .full_flush_after_table_free = false,
    .local_flush = X86_LOCAL_FLUSH,
};

static int x86_create(const struct vmar_env *env, const void *config,
                      const struct vmar__pt_format *fmt,
                      const struct vmar__pt_format *fmt_no1g,
                      vmar_addr_t user_top, struct vmar_mmu **out)
{
    const struct vmar_x86_64_config *cfg = config;
    uint16_t pcid = cfg != NULL ? cfg->pcid : 0;
    vmar_paddr_t kernel_root = cfg != NULL ? cfg->kernel_root : 0;
    struct vmar_mmu *mmu;
    int rc;

    if (cfg != NULL && cfg->no_1g_pages)
        fmt = fmt_no1g;
    /* CR3 holds bits M-1:12 of the root, so a root is page aligned. */
    if (env == NULL || out == NULL || pcid > VMAR_X86_64_PCID_MAX ||
        kernel_root % VMAR_PAGE_SIZE != 0)
        return VMAR_EINVAL;
    rc = vmar__hwpt_create(env, fmt, &x86_arch, user_top, kernel_root, &mmu);
    if (rc != 0)
        return rc;
    /* The root frame is page aligned, so the PCID bits are free. */
    mmu->root = (mmu->rx.root & X86_CR3_ADDR) | (pcid & X86_CR3_PCID);
    *out = mmu;
    return 0;
}

static int x86_create_4l(const struct vmar_env *env, const void *config,
                         struct vmar_mmu **out)
{
    return x86_create(env, config, &vmar__x86_pt_format_4l,
                      &vmar__x86_pt_format_4l_no1g, X86_USER_TOP_4L, out);
}

static int x86_create_5l(const struct vmar_env *env, const void *config,
                         struct vmar_mmu **out)
{
    return x86_create(env, config, &vmar__x86_pt_format_5l,
                      &vmar__x86_pt_format_5l_no1g, X86_USER_TOP_5L, out);
}

#define X86_CAPS                                                               \
    (VMAR_MMU_CAP_NX | VMAR_MMU_CAP_HW_AD | VMAR_MMU_CAP_HUGE_2M |             \
     VMAR_MMU_CAP_HUGE_1G | VMAR_MMU_CAP_SPLIT_PT)

#define X86_OPS(name_, top_, create_)                                          \
    {                                                                          \
        .abi = VMAR_MMU_ABI, .name = name_, .caps = X86_CAPS,                  \
        .user_top = top_, .create = create_, .destroy = vmar__hwpt_destroy,    \
        .prepare = vmar__hwpt_prepare, .map = vmar__hwpt_map,                  \
        .unmap = vmar__hwpt_unmap, .protect = vmar__hwpt_protect,              \
        .find_next = vmar__hwpt_find_next, .flush = vmar__hwpt_flush,          \
        .probe = vmar__hwpt_probe, .map_empty = vmar__hwpt_map_empty,          \
        .map_range = vmar__hwpt_map_range, .copy = vmar__hwpt_copy,            \
        .move = vmar__hwpt_move, .replace = vmar__hwpt_replace,                \
        .transfer = vmar__hwpt_transfer, .pa_top = VMAR_X86_PA_TOP,            \
        .cache_as = {VMAR_CACHE_WB, VMAR_CACHE_WT, VMAR_CACHE_WC,              \
                     VMAR_CACHE_UC}, /* every policy has its PAT entry */      \
            .activation = vmar__hwpt_activation, .guard = vmar__hwpt_guard,    \
        .find_guard = vmar__hwpt_find_guard,                                   \
    }

/* SPLIT_PT: the walker and hwpt.h allow calls on different leaf blocks at
 * once (radix.c, "Concurrency"). HW_AD: the processor sets A and D
 * itself (SDM Vol. 3A §4.8). HUGE_1G
 * is what the default formats use; on a CPU without
 * CPUID.80000001H:EDX.Page1GB[bit 26] (SDM Vol. 3A §4.1.4) the embedder
 * sets vmar_x86_64_config::no_1g_pages and map_range stops at 2 MiB
 * leaves (always there with 4- and 5-level paging). */
const struct vmar_mmu_ops vmar_mmu_x86_64_4l =
    X86_OPS("x86_64-4level", X86_USER_TOP_4L, x86_create_4l);
const struct vmar_mmu_ops vmar_mmu_x86_64_5l =
    X86_OPS("x86_64-5level", X86_USER_TOP_5L, x86_create_5l);
