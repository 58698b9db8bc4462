/* SPDX-License-Identifier: MIT */
/*
 * The RISC-V backends: the generic walker over the Sv39/Sv48/Sv57 formats
 * (pte.c) through the shared glue in hwpt.h. What is RISC-V here: the
 * satp value, the user tops of the three modes, and sfence.vma. The
 * kernel half (root entries 256..511 in every mode) is hwpt.h's.
 */
#include <vmar/backend.h>
#include <vmar/error.h>
#include <vmar/riscv64.h>

#include "hwpt.h"
#include "radix.h"
#include "rv_pte.h"

/* One page below the top of the lower half: bits 63..va_bits-1 must all
 * equal bit va_bits-1 ("Sv39": "bits 63-39 must all equal bit 38"). */
#define RV_USER_TOP_SV39 ((vmar_addr_t)0x3ffffff000)
#define RV_USER_TOP_SV48 ((vmar_addr_t)0x7ffffffff000)
#define RV_USER_TOP_SV57 ((vmar_addr_t)0xfffffffffff000)

/* satp for RV64 (privileged spec, "Supervisor Address Translation and
 * Protection (satp) Register"): MODE 63:60, ASID 59:44, PPN 43:0. */
#define RV_SATP_MODE_SHIFT 60u
#define RV_SATP_MODE_SV39  8u
#define RV_SATP_MODE_SV48  9u
#define RV_SATP_MODE_SV57  10u
#define RV_SATP_ASID_SHIFT 44u
#define RV_SATP_ASID_MASK  ((uint64_t)0xffff << RV_SATP_ASID_SHIFT)
#define RV_SATP_PPN_MASK   ((uint64_t)0x00000fffffffffff)

#ifdef VMAR_RISCV64_INLINE_TLB
/*
 * The calling hart only ("SFENCE.VMA" in the privileged spec): with an
 * address, the leaf entries of that page in the ASID; with rs1 = x0, every
 * entry of the ASID, non-leaf ones included. rs2 != x0 keeps global
 * entries, which user spaces do not have. Other harts need
 * env->tlb_flush (an IPI or SBI remote fence).
 */
static void rv_local_flush(uint64_t satp, vmar_addr_t va, vmar_size_t len)
{
    uint64_t asid = (satp & RV_SATP_ASID_MASK) >> RV_SATP_ASID_SHIFT;

    if (len == 0) {
        __asm__ volatile("sfence.vma zero, %0" : : "r"(asid) : "memory");
        return;
    }
    for (vmar_size_t off = 0; off < len; off += VMAR_PAGE_SIZE)
        __asm__ volatile("sfence.vma %0, %1"
                         :
                         : "r"(va + off), "r"(asid)
                         : "memory");
}
#define RV_LOCAL_FLUSH rv_local_flush
#else
#define RV_LOCAL_FLUSH NULL /* hosted: count only */
#endif

static const struct vmar__hwpt_arch rv_arch = {
    .full_flush_after_table_free = true,
    .local_flush = RV_LOCAL_FLUSH,
};

static int rv_create(const struct vmar_env *env, const void *config,
                     const struct vmar__pt_format *fmt, vmar_addr_t user_top,
                     uint64_t mode, struct vmar_mmu **out)
{
    const struct vmar_riscv64_config *cfg = config;
    uint64_t asid = cfg != NULL ? cfg->asid : 0;
    vmar_paddr_t kernel_root = cfg != NULL ? cfg->kernel_root : 0;
    struct vmar_mmu *mmu;
    int rc;

    /* satp holds the root's PPN, so a root is page aligned. */
    if (env == NULL || out == NULL || kernel_root % VMAR_PAGE_SIZE != 0)
        return VMAR_EINVAL;
    rc = vmar__hwpt_create(env, fmt, &rv_arch, user_top, kernel_root, &mmu);
    if (rc != 0)
        return rc;
    mmu->root = mode << RV_SATP_MODE_SHIFT |
                ((asid << RV_SATP_ASID_SHIFT) & RV_SATP_ASID_MASK) |
                ((mmu->rx.root >> 12) & RV_SATP_PPN_MASK);
    *out = mmu;
    return 0;
}

static int rv_create_sv39(const struct vmar_env *env, const void *config,
                          struct vmar_mmu **out)
{
    return rv_create(env, config, &vmar__rv_pt_format_sv39, RV_USER_TOP_SV39,
                     RV_SATP_MODE_SV39, out);
}

static int rv_create_sv48(const struct vmar_env *env, const void *config,
                          struct vmar_mmu **out)
{
    return rv_create(env, config, &vmar__rv_pt_format_sv48, RV_USER_TOP_SV48,
                     RV_SATP_MODE_SV48, out);
}

static int rv_create_sv57(const struct vmar_env *env, const void *config,
                          struct vmar_mmu **out)
{
    return rv_create(env, config, &vmar__rv_pt_format_sv57, RV_USER_TOP_SV57,
                     RV_SATP_MODE_SV57, out);
}

/* No HW_AD: A and D are preset (Svade), see vmar/riscv64.h. Megapages
 * and gigapages in every mode (see rv_pte.h). SPLIT_PT: the walker and
 * hwpt.h allow calls on different leaf blocks at once (radix.c,
 * "Concurrency"). */
#define RV_CAPS                                                                \
    (VMAR_MMU_CAP_NX | VMAR_MMU_CAP_HUGE_2M | VMAR_MMU_CAP_HUGE_1G |           \
     VMAR_MMU_CAP_SPLIT_PT)
/* What pbmt_of() (pte.c) makes of each policy, as cache_of() reads it
 * back: Svpbmt has no write-through type, so WT is stored as NC (WC). */
#define RV_CACHE_AS                                                            \
    {                                                                          \
        VMAR_CACHE_WB, VMAR_CACHE_WC, VMAR_CACHE_WC, VMAR_CACHE_UC             \
    }
#define RV_OPS(name_, top_, create_)                                           \
    {                                                                          \
        .abi = VMAR_MMU_ABI, .name = name_, .caps = RV_CAPS, .user_top = top_, \
        .create = create_, .destroy = vmar__hwpt_destroy,                      \
        .prepare = vmar__hwpt_prepare, .map = vmar__hwpt_map,                  \
        .unmap = vmar__hwpt_unmap, .protect = vmar__hwpt_protect,              \
        .find_next = vmar__hwpt_find_next, .flush = vmar__hwpt_flush,          \
        .probe = vmar__hwpt_probe, .map_empty = vmar__hwpt_map_empty,          \
        .map_range = vmar__hwpt_map_range, .copy = vmar__hwpt_copy,            \
        .move = vmar__hwpt_move, .replace = vmar__hwpt_replace,                \
        .transfer = vmar__hwpt_transfer, .pa_top = VMAR_RV_PA_TOP,             \
        .cache_as = RV_CACHE_AS, .activation = vmar__hwpt_activation,          \
        .guard = vmar__hwpt_guard, .find_guard = vmar__hwpt_find_guard,        \
    }

const struct vmar_mmu_ops vmar_mmu_riscv64_sv39 =
    RV_OPS("riscv64-sv39", RV_USER_TOP_SV39, rv_create_sv39);
const struct vmar_mmu_ops vmar_mmu_riscv64_sv48 =
    RV_OPS("riscv64-sv48", RV_USER_TOP_SV48, rv_create_sv48);
const struct vmar_mmu_ops vmar_mmu_riscv64_sv57 =
    RV_OPS("riscv64-sv57", RV_USER_TOP_SV57, rv_create_sv57);
