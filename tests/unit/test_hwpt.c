/* SPDX-License-Identifier: MIT */
/*
 * Bit-exact checks of the hardware backends (src/mmu/x86_64, riscv64):
 * the raw leaf words for each prot, the CR3 / satp values, and the TLB
 * hook (range vs full flush). Independent of VMAR_TEST_BACKEND: it picks
 * its backends itself. Expected words are written from the manuals'
 * bit positions (Intel SDM Vol. 3A Table 4-20; RISC-V privileged spec,
 * Sv48 PTE format), not from the backends' constants.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

struct flush_rec {
    int calls;
    int full; /* calls with len == 0 */
    uint64_t root;
    vmar_addr_t va;
    vmar_size_t len;
};

static struct flush_rec rec;

static void hook(void *ctx, uint64_t root, vmar_addr_t va, vmar_size_t len)
{
    (void)ctx;
    rec.calls++;
    rec.full += len == 0;
    rec.root = root;
    rec.va = va;
    rec.len = len;
}

/* The raw level-0 word for `va` (tables reached through the pool). */
static uint64_t raw_pte(const struct vmar_env *env, uint64_t root_pa,
                        unsigned levels, uint64_t pa_mask, unsigned pa_shift,
                        vmar_addr_t va)
{
    uint64_t table = root_pa;

    for (unsigned l = levels; l-- > 0;) {
        const uint64_t *t = env->phys_to_virt(env->ctx, table);
        uint64_t w = t[(va >> (12 + 9 * l)) & 511];
        if (l == 0)
            return w;
        table = (w & pa_mask) >> pa_shift << 12;
    }
    return 0;
}

struct hw {
    struct vmar_sim *sim;
    struct vmar_env env; /* the sim's env plus the TLB hook */
    struct vmar_space *space;
    struct vmar_mmu *mmu;
};

static void hw_setup(struct hw *h, const struct vmar_mmu_ops *ops,
                     const void *cfg)
{
    struct vmar_sim_opts so = {.nframes = 256};
    struct vmar_space_opts o = {0};

    memset(h, 0, sizeof(*h));
    assert_int_equal(vmar_sim_create(&so, &h->sim), 0);
    h->env = *vmar_sim_env(h->sim);
    h->env.tlb_flush = hook;
    o.env = &h->env;
    o.mmu = ops;
    o.mmu_config = cfg;
    assert_int_equal(vmar_space_create(&o, &h->space), 0);
    memset(&rec, 0, sizeof(rec));
}

static void hw_teardown(struct hw *h)
{
    struct vmar_sim_stats st;

    vmar_space_destroy(h->space);
    vmar_sim_stats(h->sim, &st);
    assert_int_equal(st.frames_live, 0);
    vmar_sim_destroy(h->sim);
}

static void map_pop(struct hw *h, vmar_addr_t va, vmar_size_t len,
                    unsigned prot)
{
    struct vmar_map_opts o = {.addr = va,
                              .size = len,
                              .prot = prot,
                              .place = VMAR_PLACE_FIXED,
                              .flags = VMAR_MAP_POPULATE};
    vmar_addr_t got;

    assert_int_equal(vmar_map(h->space, &o, &got), 0);
}

#define X86_ADDR ((uint64_t)0x000ffffffffff000)

static void test_x86_words(void **state)
{
    struct hw h;
    struct vmar_x86_64_config cfg = {.pcid = 0x123};
    struct vmar_mmu_activation in;
    const vmar_addr_t va = 0x400000;
    uint64_t w, pa;
    (void)state;

    hw_setup(&h, &vmar_mmu_x86_64_4l, &cfg);
    assert_int_equal(vmar_space_activation(h.space, &in), 0);
    assert_int_equal(in.root % PG, 0);
    assert_int_equal(in.value, in.root | 0x123); /* CR3: root | PCID */
    map_pop(&h, va, 40 * PG, VMAR_PROT_READ | VMAR_PROT_WRITE);
    w = raw_pte(&h.env, in.root, 4, X86_ADDR, 12, va);
    pa = w & X86_ADDR;
    /* P bit 0, R/W bit 1, U/S bit 2, XD bit 63; bit 9 = managed (SW). */
    assert_int_equal(w, pa | 0x7 | 1u << 9 | (uint64_t)1 << 63);

    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_WRITE), 0);
    /* W alone: R comes with P; SW bit 10 records that R was not asked. */
    assert_int_equal(raw_pte(&h.env, in.root, 4, X86_ADDR, 12, va),
                     pa | 0x7 | 3u << 9 | (uint64_t)1 << 63);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.root, in.value);
    assert_int_equal(rec.va, va);
    assert_int_equal(rec.len, PG);

    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_EXEC), 0);
    assert_int_equal(raw_pte(&h.env, in.root, 4, X86_ADDR, 12, va),
                     pa | 0x5 | 3u << 9);
    /* PROT_NONE: P clear, frame kept, SW bit 11 marks the leaf. */
    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_NONE), 0);
    assert_int_equal(raw_pte(&h.env, in.root, 4, X86_ADDR, 12, va),
                     pa | 1u << 9 | 1u << 11);
    /* A range longer than 32 pages goes out as a full flush (the batch
     * flushes early once 32 frames wait, then the rest as a range). */
    assert_int_equal(vmar_unmap(h.space, va, 40 * PG), 0);
    assert_int_equal(rec.full, 1);
    assert_true(rec.calls >= 4);
    hw_teardown(&h);
}

#define RV_PPN ((uint64_t)0x003ffffffffffc00)

static void test_riscv_words(void **state)
{
    struct hw h;
    struct vmar_riscv64_config cfg = {.asid = 0x4567};
    struct vmar_mmu_activation in;
    const vmar_addr_t va = 0x400000;
    uint64_t w, ppn;
    (void)state;

    hw_setup(&h, &vmar_mmu_riscv64_sv48, &cfg);
    assert_int_equal(vmar_space_activation(h.space, &in), 0);
    /* satp: MODE 9 (Sv48), the ASID, the root's PPN. */
    assert_int_equal(in.value, (uint64_t)9 << 60 | (uint64_t)0x4567 << 44 |
                                   in.root >> 12);
    map_pop(&h, va, 2 * PG, VMAR_PROT_READ | VMAR_PROT_WRITE);
    w = raw_pte(&h.env, in.root, 4, RV_PPN, 10, va);
    ppn = w & RV_PPN;
    /* V0 R1 W2 U4 A6 D7, RSW bit 8 = managed. */
    assert_int_equal(w, ppn | 0xd7 | 1u << 8);
    /* W alone is reserved: mapped R|W, RSW bit 9 records it. */
    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_WRITE), 0);
    assert_int_equal(raw_pte(&h.env, in.root, 4, RV_PPN, 10, va),
                     ppn | 0xd7 | 3u << 8);
    assert_int_equal(rec.root, in.value);
    assert_int_equal(rec.len, PG);
    /* X alone is native; D stays from before. */
    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_EXEC), 0);
    assert_int_equal(raw_pte(&h.env, in.root, 4, RV_PPN, 10, va),
                     ppn | 0xd9 | 1u << 8);
    /* PROT_NONE: V clear, marker in the G position, frame kept. */
    assert_int_equal(vmar_protect(h.space, va, PG, VMAR_PROT_NONE), 0);
    assert_int_equal(raw_pte(&h.env, in.root, 4, RV_PPN, 10, va),
                     ppn | 0xe0 | 1u << 8);
    /* Two pages, but the unmap frees table pages: sfence.vma with an
     * address keeps non-leaf entries, so the flush is for the ASID. */
    assert_int_equal(vmar_unmap(h.space, va, 2 * PG), 0);
    assert_int_equal(rec.len, 0);
    assert_int_equal(rec.root, in.value);
    hw_teardown(&h);
}

static void test_config_checked(void **state)
{
    struct vmar_sim *sim;
    struct vmar_x86_64_config cfg = {.pcid = 0x1000};
    struct vmar_space *sp = NULL;
    struct vmar_sim_opts so = {.nframes = 16};
    (void)state;

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    struct vmar_space_opts o = {.env = vmar_sim_env(sim),
                                .mmu = &vmar_mmu_x86_64_5l,
                                .mmu_config = &cfg};
    assert_int_equal(vmar_space_create(&o, &sp), VMAR_EINVAL);
    cfg.pcid = 0;
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    vmar_space_destroy(sp);
    vmar_sim_destroy(sim);
}

/* Map 1 GiB of device memory, 1 GiB aligned, with huge leaves allowed:
 * the leaf level the reference decoder finds is 2 (1 GiB) by default and
 * 1 (2 MiB) with no_1g_pages. */
static unsigned x86_leaf_level_for(bool no_1g)
{
    const vmar_size_t gib = (vmar_size_t)1 << 30;
    struct vmar_sim *sim;
    struct vmar_sim_opts so = {.nframes = 64};
    struct vmar_mmu *mmu = NULL;
    struct vmar_x86_64_config cfg = {.no_1g_pages = no_1g};
    struct vmar_frame_list resv = {0, 0};
    struct vmar_tlb_batch b;
    struct vmar_mmu_activation in;
    struct vt_ref_tr tr;
    const struct vmar_mmu_ops *ops = &vmar_mmu_x86_64_4l;
    /* Unmanaged, at 1 TiB: nothing dereferences a device address. */
    struct vmar_pte pte = {.pa = (vmar_paddr_t)1 << 40,
                           .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                           .cache = VMAR_CACHE_UC};

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    const struct vmar_env *env = vmar_sim_env(sim);
    assert_int_equal(ops->create(env, &cfg, &mmu), 0);
    assert_int_equal(ops->prepare(mmu, gib, gib, VMAR_PREP_MAP_HUGE, &resv), 0);
    ops->map_range(mmu, gib, &pte, gib, VMAR_MAP_RANGE_HUGE, &resv);
    assert_int_equal(resv.count, 0); /* the reservation was exact */
    ops->activation(mmu, &in);
    struct vt_ref_machine m = {.mode = VT_REF_X86_4L,
                               .root = in.value,
                               .phys_to_virt = env->phys_to_virt,
                               .ctx = env->ctx};
    vt_ref_translate(&m, gib + 0x12345678, &tr);
    assert_true(tr.present && !tr.bad);
    assert_int_equal(tr.pa, pte.pa + 0x12345678);
    vmar_tlb_batch_init(&b, env, ops, mmu);
    ops->unmap(mmu, gib, gib, NULL, &b);
    vmar_tlb_batch_finish(&b);
    ops->destroy(mmu);
    vmar_sim_destroy(sim);
    return tr.level;
}

static void test_x86_no_1g_pages(void **state)
{
    (void)state;
    assert_int_equal(x86_leaf_level_for(false), 2);
    assert_int_equal(x86_leaf_level_for(true), 1);
}

/* vmar_space_activation() through any handle, its argument checks, the
 * sim backend's value (no register: the root's address), and a backend
 * without the operation. */
static void test_activation_accessor(void **state)
{
    struct vmar_sim *sim;
    struct vmar_sim_opts so = {.nframes = 16};
    struct vmar_mmu_ops none = vmar_mmu_sim;
    struct vmar_space *sp, *dup;
    struct vmar_mmu_activation act, again, untouched = {1, 2};
    (void)state;

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    struct vmar_space_opts o = {
        .env = vmar_sim_env(sim), .mmu = &vmar_mmu_sim, .mmu_config = sim};
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    assert_int_equal(vmar_space_activation(NULL, &act), VMAR_EINVAL);
    assert_int_equal(vmar_space_activation(sp, NULL), VMAR_EINVAL);
    assert_int_equal(vmar_space_activation(sp, &act), 0);
    assert_int_equal(act.root % PG, 0);
    assert_true(vmar_sim_frame_live(sim, act.root));
    assert_int_equal(act.value, act.root);
    /* A handle without rights names the same table. */
    assert_int_equal(vmar_space_dup(sp, 0, &dup), 0);
    assert_int_equal(vmar_space_activation(dup, &again), 0);
    assert_memory_equal(&again, &act, sizeof(act));
    vmar_space_destroy(dup);
    vmar_space_destroy(sp);

    none.activation = NULL;
    o.mmu = &none;
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    act = untouched;
    assert_int_equal(vmar_space_activation(sp, &act), VMAR_ENOTSUP);
    assert_memory_equal(&act, &untouched, sizeof(act));
    vmar_space_destroy(sp);
    vmar_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x86_words),
        cmocka_unit_test(test_riscv_words),
        cmocka_unit_test(test_config_checked),
        cmocka_unit_test(test_x86_no_1g_pages),
        cmocka_unit_test(test_activation_accessor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
