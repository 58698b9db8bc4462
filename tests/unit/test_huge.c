/* SPDX-License-Identifier: MIT */
/*
 * Huge leaves (2 MiB, 1 GiB) in the generic walker, driven through the
 * backend ops directly (no core space) on the backend VMAR_TEST_BACKEND
 * names (sim by default; ctest runs test_huge@<backend> for the others),
 * with the sim machine's pool as physical memory:
 *  - map_range with VMAR_MAP_RANGE_HUGE picks the largest aligned leaves,
 *    and prepare(VMAR_PREP_MAP_HUGE) reserves exactly what it takes;
 *  - protect and unmap of part of a huge leaf split it (prepare
 *    (VMAR_PREP_CHANGE) reserves exactly the tables), keep every other
 *    translation, and record the huge leaf's whole span for the flush;
 *  - a failed prepare changes nothing and leaks nothing; table pages and
 *    managed frames are freed only after the flush.
 * Device ranges use a fake physical address beyond the pool: the walker
 * and the decoders never dereference a leaf's frame. Translations of the
 * hardware formats come from the reference decoders
 * (tests/support/refdecode_*.c); the sim format is decoded here from its
 * layout in src/mmu/sim/backend/sim_pte.h.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/mmu.h>

#define MIB ((vmar_addr_t)1 << 20)
#define GIB ((vmar_addr_t)1 << 30)
/* 1 GiB aligned and below every backend's user_top (Sv39: 256 GiB). */
#define VA ((vmar_addr_t)4 * GIB)
/* Fake device memory, 1 GiB aligned, outside the pool. */
#define DEV ((vmar_paddr_t)1 << 40)

#define RW (VMAR_PROT_READ | VMAR_PROT_WRITE)

/* The machine's pool: 2048 frames from 4 GiB. */
#define POOL_FRAMES 2048u
#define POOL_BASE   ((vmar_paddr_t)1 << 32)

struct fx {
    struct vmar_sim *sim;
    struct vmar_env env; /* the sim's env, TLB hook counting */
    const struct vt_backend *be;
    struct vmar_mmu *mmu;
    struct vt_mmu_cfg cfg;
    struct vt_ref_machine ref;
    vmar_paddr_t sim_root; /* the sim backend's root table (sim only) */
    size_t frames0;        /* frames_live before create */
};

static size_t hook_calls;

static void count_flush(void *ctx, uint64_t root, vmar_addr_t va,
                        vmar_size_t len)
{
    (void)ctx;
    (void)root;
    (void)va;
    (void)len;
    hook_calls++;
}

static struct vmar_sim_stats stats(const struct fx *f)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(f->sim, &s);
    return s;
}

/*
 * The one frame of the pool in use right after create(): a radix
 * backend's root table. So the sim format is decoded here from its root
 * without reading the backend's private struct (the hardware backends
 * report their roots through the public info functions). 0 when not
 * exactly one frame is live.
 */
static vmar_paddr_t only_live_frame(const struct fx *f)
{
    vmar_paddr_t found = 0;

    if (stats(f).frames_live != 1)
        return 0;
    for (vmar_paddr_t i = 0; i < POOL_FRAMES; i++)
        if (vmar_sim_frame_live(f->sim, POOL_BASE + i * VMAR_PAGE_SIZE))
            found = POOL_BASE + i * VMAR_PAGE_SIZE;
    return found;
}

/* Flushes the backend asked for: the env hook (hardware formats) or the
 * sim backend's own counter. */
static size_t flushes(const struct fx *f)
{
    return hook_calls + stats(f).flushes;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vmar_sim_opts so = {.nframes = POOL_FRAMES, .phys_base = POOL_BASE};
    const void *cfg;

    if (f == NULL || vmar_sim_create(&so, &f->sim) != 0)
        return -1;
    f->env = *vmar_sim_env(f->sim);
    f->env.tlb_flush = count_flush;
    f->be = vt_backend();
    f->frames0 = stats(f).frames_live;
    hook_calls = 0;
    if (!f->be->real)
        cfg = f->sim;
    else if (f->be->ref_mode == VT_REF_X86_4L ||
             f->be->ref_mode == VT_REF_X86_5L)
        cfg = &f->cfg.x86;
    else
        cfg = &f->cfg.rv;
    if (f->be->ops->create(&f->env, cfg, &f->mmu) != 0)
        return -1;
    if (!f->be->real && (f->sim_root = only_live_frame(f)) == 0)
        return -1;
    if (f->be->real) {
        struct vmar_mmu_activation act;

        f->be->ops->activation(f->mmu, &act);
        f->ref.mode = f->be->ref_mode;
        f->ref.phys_to_virt = f->env.phys_to_virt;
        f->ref.ctx = f->env.ctx;
        f->ref.root = act.value; /* CR3 or satp */
    }
    *state = f;
    return 0;
}

/* Drop every leaf, destroy, and check that every frame came back. */
static int teardown(void **state)
{
    struct fx *f = *state;
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_tlb_batch b;
    size_t live;

    vmar_tlb_batch_init(&b, &f->env, ops, f->mmu);
    ops->unmap(f->mmu, 0, ops->user_top, NULL, &b);
    vmar_tlb_batch_finish(&b);
    ops->destroy(f->mmu);
    live = stats(f).frames_live;
    vmar_sim_destroy(f->sim);
    free(f);
    return live == 0 ? 0 : -1;
}

/* Table levels of the backend under test. */
static size_t levels(const struct fx *f)
{
    if (!f->be->real)
        return 4;
    switch (f->be->ref_mode) {
    case VT_REF_SV39:
        return 3;
    case VT_REF_X86_5L:
    case VT_REF_SV57:
        return 5;
    default:
        return 4;
    }
}

/* The sim format (src/mmu/sim/backend/sim_pte.h): P bit 0, L bit 1, prot bits
 * 4:2 (R, W, X), frame bits 51:12; 4 levels of 9 bits. */
static void sim_translate(const struct fx *f, uint64_t root, vmar_addr_t va,
                          struct vt_ref_tr *out)
{
    uint64_t table = root;

    *out = (struct vt_ref_tr){0};
    for (unsigned l = 4; l-- > 0;) {
        const uint64_t *t = f->env.phys_to_virt(f->env.ctx, table);
        uint64_t w = t[(va >> (12 + 9 * l)) & 511];
        uint64_t pa = w & 0x000ffffffffff000;

        if (!(w & 1))
            return;
        if (l == 0 || (w & 2)) {
            vmar_size_t span = (vmar_size_t)1 << (12 + 9 * l);

            assert_true(w & 2);
            assert_int_equal(pa % span, 0);
            out->present = true;
            out->level = l;
            out->pa = pa | (va & (span - 1));
            out->readable = (w >> 2) & 1;
            out->writable = (w >> 3) & 1;
            out->executable = (w >> 4) & 1;
            return;
        }
        table = pa;
    }
}

static void translate(const struct fx *f, vmar_addr_t va, struct vt_ref_tr *out)
{
    if (f->be->real) {
        vt_ref_translate(&f->ref, va, out);
        if (out->bad)
            fail_msg("%s: reserved encoding at %#llx: %s", f->be->name,
                     (unsigned long long)va, out->why);
        return;
    }
    sim_translate(f, f->sim_root, va, out);
}

/* va must translate to pa with a leaf at `level` and the given write
 * right. */
static void expect_at(const struct fx *f, vmar_addr_t va, vmar_paddr_t pa,
                      unsigned level, bool writable)
{
    struct vt_ref_tr t;

    translate(f, va, &t);
    if (!t.present)
        fail_msg("%s: %#llx not mapped", f->be->name, (unsigned long long)va);
    assert_int_equal(t.pa, pa);
    assert_int_equal(t.level, level);
    assert_int_equal(t.writable, writable);
    assert_true(t.readable);
    assert_false(t.executable);
}

static void expect_hole(const struct fx *f, vmar_addr_t va)
{
    struct vt_ref_tr t;

    translate(f, va, &t);
    assert_false(t.present);
}

/* prepare(MAP_HUGE) then map_range(HUGE): the reservation must be used
 * up exactly, and every table it held must be linked. */
static void map_huge(struct fx *f, vmar_addr_t va, vmar_paddr_t pa,
                     vmar_size_t len, unsigned pte_flags)
{
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_frame_list resv = {0};
    struct vmar_frame_list base = {0};
    struct vmar_pte pte = {
        .pa = pa, .prot = RW, .flags = pte_flags, .cache = VMAR_CACHE_UC};

    assert_int_equal(ops->prepare(f->mmu, va, len, VMAR_PREP_MAP_HUGE, &resv),
                     0);
    /* Base pages need every table a huge leaf needs, and more. */
    assert_int_equal(ops->prepare(f->mmu, va, len, VMAR_PREP_MAP, &base), 0);
    assert_true(base.count >= resv.count);
    vmar_frame_list_release(&f->env, &base);
    ops->map_range(f->mmu, va, &pte, len, VMAR_MAP_RANGE_HUGE, &resv);
    assert_int_equal(resv.count, 0);
}

/* prepare(CHANGE) must reserve `want` tables; then unmap (prot < 0) or
 * protect; the reservation must be used up. Returns the batch's range
 * before the flush in *lo, *hi and checks that a flush happened. */
static size_t change(struct fx *f, vmar_addr_t va, vmar_size_t len, int prot,
                     size_t want, vmar_addr_t *lo, vmar_addr_t *hi)
{
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_frame_list resv = {0};
    struct vmar_tlb_batch b;
    size_t fl = flushes(f), pages = 0;

    assert_int_equal(ops->prepare(f->mmu, va, len, VMAR_PREP_CHANGE, &resv), 0);
    assert_int_equal(resv.count, want);
    vmar_tlb_batch_init(&b, &f->env, ops, f->mmu);
    if (prot < 0)
        pages = ops->unmap(f->mmu, va, len, &resv, &b);
    else
        ops->protect(f->mmu, va, len, (unsigned)prot, &resv, &b);
    assert_int_equal(resv.count, 0);
    if (lo != NULL) {
        *lo = b.lo;
        *hi = b.hi;
    }
    vmar_tlb_batch_finish(&b);
    assert_true(flushes(f) > fl);
    return pages;
}

/* ---- map_range ----------------------------------------------------------- */

static void test_map_range_levels(void **state)
{
    struct fx *f = *state;
    /* 4K + 2M + 1G + 2M + 4K around the 1 GiB boundary VA + 1G. */
    const vmar_addr_t va0 = VA + GIB - 2 * MIB - PG;
    const vmar_paddr_t pa0 = DEV + GIB - 2 * MIB - PG;
    const vmar_size_t len = PG + 2 * MIB + GIB + 2 * MIB + PG;
    struct {
        vmar_addr_t off;
        unsigned level;
    } const at[] = {
        {0, 0},
        {PG, 1},
        {PG + MIB, 1},
        {PG + 2 * MIB - PG, 1},
        {PG + 2 * MIB, 2},
        {PG + 2 * MIB + GIB / 2 + 5 * PG, 2},
        {PG + 2 * MIB + GIB - PG, 2},
        {PG + 2 * MIB + GIB, 1},
        {PG + 4 * MIB + GIB - PG, 1},
        {len - PG, 0},
    };
    vmar_addr_t va = 0;
    struct vmar_pte pte;

    map_huge(f, va0, pa0, len, 0);
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
        expect_at(f, va0 + at[i].off, pa0 + at[i].off, at[i].level, true);
    expect_hole(f, va0 - PG);
    expect_hole(f, va0 + len);
    /* find_next sees the pages inside huge leaves. */
    va = va0 + PG + 7 * PG;
    assert_int_equal(f->be->ops->find_next(f->mmu, &va, VA + 8 * GIB, &pte), 0);
    assert_int_equal(va, va0 + 8 * PG);
    assert_int_equal(pte.pa, pa0 + 8 * PG);
    assert_int_equal(pte.cache, VMAR_CACHE_UC);
}

/* A pa aligned to 2 MiB only: 1 GiB of 2 MiB leaves. MAP_HUGE assumes a
 * congruent pa, so this one is prepared with MAP (an upper bound). */
static void test_map_range_pa_alignment_rules(void **state)
{
    struct fx *f = *state;
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {
        .pa = DEV + 2 * MIB, .prot = RW, .cache = VMAR_CACHE_WB};

    assert_int_equal(ops->prepare(f->mmu, VA, GIB, VMAR_PREP_MAP, &resv), 0);
    ops->map_range(f->mmu, VA, &pte, GIB, VMAR_MAP_RANGE_HUGE, &resv);
    vmar_frame_list_release(&f->env, &resv);
    expect_at(f, VA, DEV + 2 * MIB, 1, true);
    expect_at(f, VA + GIB - PG, DEV + 2 * MIB + GIB - PG, 1, true);
    /* Without VMAR_MAP_RANGE_HUGE: base pages, counted by MAP exactly. */
    pte.pa = DEV;
    assert_int_equal(
        ops->prepare(f->mmu, VA + GIB, 2 * MIB, VMAR_PREP_MAP, &resv), 0);
    ops->map_range(f->mmu, VA + GIB, &pte, 2 * MIB, 0, &resv);
    assert_int_equal(resv.count, 0);
    expect_at(f, VA + GIB + 3 * PG, DEV + 3 * PG, 0, true);
}

/* ---- splits -------------------------------------------------------------- */

static void test_protect_splits_2m(void **state)
{
    struct fx *f = *state;
    const vmar_addr_t mid = VA + MIB;
    vmar_addr_t lo, hi, va;
    struct vmar_pte pte;

    map_huge(f, VA, DEV, 2 * MIB, 0);
    expect_at(f, mid, DEV + MIB, 1, true);
    change(f, mid, PG, VMAR_PROT_READ, 1, &lo, &hi);
    /* The flush covers the old 2 MiB translation whole. */
    assert_true(lo <= VA && hi >= VA + 2 * MIB);
    for (vmar_addr_t off = 0; off < 2 * MIB; off += PG)
        expect_at(f, VA + off, DEV + off, 0, VA + off != mid);
    /* The split leaves kept the cache policy (x86: PAT moved from bit 12
     * to bit 7, see pte.c). */
    va = mid;
    assert_int_equal(f->be->ops->find_next(f->mmu, &va, mid + PG, &pte), 0);
    assert_int_equal(pte.cache, VMAR_CACHE_UC);
    assert_int_equal(pte.prot, VMAR_PROT_READ);
    /* Already split: a second change needs nothing. */
    change(f, mid, PG, RW, 0, NULL, NULL);
    expect_at(f, mid, DEV + MIB, 0, true);
}

/* One page at a huge leaf's first or last page: one of its edges is a
 * boundary of the leaf already, the other is not, so the split must still
 * happen (a one-page range looks its page up once only when no huge leaf
 * holds it). */
static void test_one_page_at_leaf_ends(void **state)
{
    struct fx *f = *state;
    const vmar_addr_t last = VA + 4 * MIB - PG;

    map_huge(f, VA, DEV, 4 * MIB, 0);
    change(f, VA, PG, VMAR_PROT_READ, 1, NULL, NULL);
    expect_at(f, VA, DEV, 0, false);
    expect_at(f, VA + PG, DEV + PG, 0, true);
    expect_at(f, VA + 2 * MIB, DEV + 2 * MIB, 1, true);
    assert_int_equal(change(f, last, PG, -1, 1, NULL, NULL), 1);
    expect_hole(f, last);
    expect_at(f, last - PG, DEV + 4 * MIB - 2 * PG, 0, true);
    /* Base pages now: one page needs no table. */
    change(f, VA + PG, PG, VMAR_PROT_READ, 0, NULL, NULL);
    expect_at(f, VA + PG, DEV + PG, 0, false);
}

static void test_protect_splits_1g(void **state)
{
    struct fx *f = *state;
    const vmar_addr_t mid = VA + GIB / 2 + 3 * PG;
    vmar_addr_t lo, hi;

    map_huge(f, VA, DEV, GIB, 0);
    expect_at(f, mid, DEV + GIB / 2 + 3 * PG, 2, true);
    /* A 1 GiB leaf cut at 4 KiB edges: a 2 MiB-level table and a 4 KiB
     * one (both edges in the same 2 MiB block share them). */
    change(f, mid, PG, VMAR_PROT_READ, 2, &lo, &hi);
    assert_true(lo <= VA && hi >= VA + GIB);
    expect_at(f, mid, DEV + GIB / 2 + 3 * PG, 0, false);
    expect_at(f, mid - PG, DEV + GIB / 2 + 2 * PG, 0, true);
    expect_at(f, mid + PG, DEV + GIB / 2 + 4 * PG, 0, true);
    expect_at(f, VA, DEV, 1, true);
    expect_at(f, VA + GIB - PG, DEV + GIB - PG, 1, true);
    expect_at(f, VA + GIB / 2 - PG, DEV + GIB / 2 - PG, 1, true);
    /* Edges in different 2 MiB blocks of one 2 MiB-level table: the lo
     * edge needs a 4 KiB table, the hi edge another; the 2 MiB-level
     * table exists already. */
    change(f, VA + 2 * MIB + PG, 4 * MIB - 2 * PG, VMAR_PROT_READ, 2, NULL,
           NULL);
    expect_at(f, VA + 2 * MIB, DEV + 2 * MIB, 0, true);
    expect_at(f, VA + 2 * MIB + PG, DEV + 2 * MIB + PG, 0, false);
    expect_at(f, VA + 4 * MIB, DEV + 4 * MIB, 0, false);
    expect_at(f, VA + 6 * MIB - PG, DEV + 6 * MIB - PG, 0, true);
    expect_at(f, VA + 6 * MIB, DEV + 6 * MIB, 1, true);
}

/* Both edges inside one untouched 1 GiB leaf, in different 2 MiB blocks:
 * the shared 2 MiB-level table is counted once (3, not 4). */
static void test_split_count_shared(void **state)
{
    struct fx *f = *state;

    map_huge(f, VA, DEV, GIB, 0);
    change(f, VA + 2 * MIB + PG, 4 * MIB - 2 * PG, VMAR_PROT_READ, 3, NULL,
           NULL);
    expect_at(f, VA + 2 * MIB - PG, DEV + 2 * MIB - PG, 1, true);
    expect_at(f, VA + 2 * MIB, DEV + 2 * MIB, 0, true);
    expect_at(f, VA + 3 * MIB, DEV + 3 * MIB, 0, false);
    expect_at(f, VA + 6 * MIB - PG, DEV + 6 * MIB - PG, 0, true);
    expect_at(f, VA + 6 * MIB, DEV + 6 * MIB, 1, true);
    /* Edges on 2 MiB boundaries inside the 1 GiB leaf... already split;
     * on a fresh leaf they take one table. */
    map_huge(f, VA + GIB, DEV + GIB, GIB, 0);
    change(f, VA + GIB + 2 * MIB, 2 * MIB, VMAR_PROT_READ, 1, NULL, NULL);
    expect_at(f, VA + GIB + 2 * MIB, DEV + GIB + 2 * MIB, 1, false);
    expect_at(f, VA + GIB, DEV + GIB, 1, true);
    /* Whole leaves: nothing to split. */
    change(f, VA + GIB, GIB, RW, 0, NULL, NULL);
    expect_at(f, VA + GIB + 2 * MIB, DEV + GIB + 2 * MIB, 1, true);
}

static void test_unmap_splits_hole(void **state)
{
    struct fx *f = *state;
    const vmar_addr_t mid = VA + GIB + 5 * MIB + 7 * PG;

    map_huge(f, VA, DEV, 2 * GIB, 0);
    expect_at(f, mid, DEV + GIB + 5 * MIB + 7 * PG, 2, true);
    assert_int_equal(change(f, mid, PG, -1, 2, NULL, NULL), 1);
    expect_hole(f, mid);
    expect_at(f, mid - PG, DEV + GIB + 5 * MIB + 6 * PG, 0, true);
    expect_at(f, mid + PG, DEV + GIB + 5 * MIB + 8 * PG, 0, true);
    expect_at(f, VA + GIB, DEV + GIB, 1, true);
    expect_at(f, VA, DEV, 2, true); /* the other 1 GiB leaf */
    /* Unmapping the rest of the 2 MiB block empties the 4 KiB table. */
    assert_int_equal(change(f, VA + GIB + 4 * MIB, 2 * MIB, -1, 0, NULL, NULL),
                     511);
    expect_hole(f, VA + GIB + 4 * MIB);
    expect_at(f, VA + GIB + 6 * MIB, DEV + GIB + 6 * MIB, 1, true);
}

/* Managed frames: physically contiguous pool frames taken before any
 * table, so the run is 2 MiB aligned. */
static void test_managed_frames_freed_after_flush(void **state)
{
    struct fx *f = *state;
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_frame_list resv = {0};
    struct vmar_tlb_batch b;
    vmar_paddr_t run, pa, pre[512];
    size_t live, npre = 0;

    /* 512 contiguous, 2 MiB aligned pool frames: a fresh pool hands its
     * frames out in address order from a 1 GiB aligned base, so skip to
     * the next 2 MiB boundary and take the run that starts there. */
    for (;;) {
        assert_int_equal(f->env.frame_alloc(f->env.ctx, 0, &pa), 0);
        if (pa % (2 * MIB) == 0)
            break;
        assert_true(npre < 512);
        pre[npre++] = pa;
    }
    run = pa;
    for (vmar_size_t off = PG; off < 2 * MIB; off += PG) {
        assert_int_equal(f->env.frame_alloc(f->env.ctx, 0, &pa), 0);
        assert_int_equal(pa, run + off);
    }
    while (npre > 0)
        f->env.frame_free(f->env.ctx, pre[--npre]);
    /* One reference each, as the core gives the frames it maps. */
    for (vmar_size_t off = 0; off < 2 * MIB; off += PG)
        *f->env.frame_refcount(f->env.ctx, run + off) = 1;
    map_huge(f, VA, run, 2 * MIB, VMAR_PTE_MANAGED);
    expect_at(f, VA + 9 * PG, run + 9 * PG, 1, true);

    /* A page out of the middle: its frame waits for the flush. */
    assert_int_equal(
        ops->prepare(f->mmu, VA + 9 * PG, PG, VMAR_PREP_CHANGE, &resv), 0);
    assert_int_equal(resv.count, 1);
    vmar_tlb_batch_init(&b, &f->env, ops, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, VA + 9 * PG, PG, &resv, &b), 1);
    assert_true(vmar_sim_frame_live(f->sim, run + 9 * PG));
    vmar_tlb_batch_finish(&b);
    assert_false(vmar_sim_frame_live(f->sim, run + 9 * PG));
    assert_true(vmar_sim_frame_live(f->sim, run + 10 * PG));
    expect_hole(f, VA + 9 * PG);

    /* The rest: frames and the emptied tables only after the flush. */
    live = stats(f).frames_live;
    vmar_tlb_batch_init(&b, &f->env, ops, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, VA, 2 * MIB, NULL, &b), 511);
    /* What the batch still holds (it flushes and frees early every 32
     * entries: 511 frames, then the tables) is live until the
     * flush. */
    assert_true(b.nfree > 0);
    for (size_t i = 0; i < b.nfree; i++)
        assert_true(vmar_sim_frame_live(f->sim, b.frames[i]));
    pa = b.frames[b.nfree - 1];
    vmar_tlb_batch_finish(&b);
    assert_false(vmar_sim_frame_live(f->sim, pa));
    /* 511 frames and every table but the root. */
    assert_int_equal(stats(f).frames_live, live - 511 - (levels(f) - 1));
    assert_int_equal(stats(f).frames_live, f->frames0 + 1); /* the root */
}

static void test_prepare_failure_changes_nothing(void **state)
{
    struct fx *f = *state;
    const struct vmar_mmu_ops *ops = f->be->ops;
    struct vmar_frame_list resv = {0};
    const vmar_addr_t mid = VA + GIB / 2 + 3 * PG;
    uint64_t digest;
    size_t live;

    map_huge(f, VA, DEV, GIB, 0);
    digest = vmar_sim_digest(f->sim);
    live = stats(f).frames_live;
    /* The second of the two tables fails: the first goes back. */
    vmar_sim_fail_after(f->sim, 2, VMAR_SIM_FAIL_FRAME, false);
    assert_int_equal(ops->prepare(f->mmu, mid, PG, VMAR_PREP_CHANGE, &resv),
                     VMAR_ENOMEM);
    assert_int_equal(resv.count, 0);
    assert_int_equal(vmar_sim_digest(f->sim), digest);
    assert_int_equal(stats(f).frames_live, live);
    expect_at(f, mid, DEV + GIB / 2 + 3 * PG, 2, true);
    /* Same for map_range's prepare. */
    vmar_sim_fail_after(f->sim, 1, VMAR_SIM_FAIL_FRAME, false);
    assert_int_equal(
        ops->prepare(f->mmu, VA + GIB + PG, 2 * MIB, VMAR_PREP_MAP_HUGE, &resv),
        VMAR_ENOMEM);
    assert_int_equal(resv.count, 0);
    assert_int_equal(vmar_sim_digest(f->sim), digest);
    /* Then it works. */
    change(f, mid, PG, VMAR_PROT_READ, 2, NULL, NULL);
    expect_at(f, mid, DEV + GIB / 2 + 3 * PG, 0, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_range_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_range_pa_alignment_rules,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_protect_splits_2m, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_page_at_leaf_ends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protect_splits_1g, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_split_count_shared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmap_splits_hole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_managed_frames_freed_after_flush,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_failure_changes_nothing,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
