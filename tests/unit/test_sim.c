/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine and the vmar_mmu_sim backend, driven through the
 * mmu ops directly (no core space): frame pool, env, failure injection,
 * digest. The generic radix walker underneath, driven directly:
 * tests/whitebox/test_radix.c.
 */
/* cmocka needs these first; its own block keeps include sorting away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <vmar/error.h>
#include <vmar/mmu.h>
#include <vmar/object.h>
#include <vmar/sim.h>

#include "death.h"

#define PAGE    ((vmar_addr_t)VMAR_PAGE_SIZE)
#define MIB     ((vmar_addr_t)1 << 20)
#define GIB     ((vmar_addr_t)1 << 30)
#define TOP     ((vmar_addr_t)0x7ffffffff000) /* vmar_mmu_sim.user_top */
#define MAXPAGE 600u

static const struct vmar_mmu_ops *const ops = &vmar_mmu_sim;

/* ---- fixture ------------------------------------------------------------- */

struct fx {
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar_mmu *mmu;
    struct vmar_sim_stats base; /* before the mmu was created */
};

static struct vmar_sim_stats stats_of(const struct fx *f)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(f->sim, &s);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL || vmar_sim_create(NULL, &f->sim) != 0)
        return -1;
    f->env = vmar_sim_env(f->sim);
    f->base = stats_of(f);
    if (ops->create(f->env, f->sim, &f->mmu) != 0)
        return -1;
    *state = f;
    return 0;
}

/* Robust against a test that failed half way: drop every leaf first. */
static int teardown(void **state)
{
    struct fx *f = *state;
    struct vmar_tlb_batch b;

    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    ops->unmap(f->mmu, 0, TOP, NULL, &b);
    vmar_tlb_batch_finish(&b);
    ops->destroy(f->mmu);
    vmar_sim_destroy(f->sim);
    free(f);
    return 0;
}

static vmar_paddr_t new_frame(const struct fx *f, unsigned flags)
{
    vmar_paddr_t pa = 0;

    assert_int_equal(f->env->frame_alloc(f->env->ctx, flags, &pa), 0);
    /* One reference, as the core gives a frame it maps: removing a
     * managed leaf drops it (vmar_tlb_batch_defer_put). */
    *f->env->frame_refcount(f->env->ctx, pa) = 1;
    return pa;
}

/* Give back a frame from new_frame(): drop its one reference. */
static void drop_frame(const struct fx *f, vmar_paddr_t pa)
{
    vmar_frame_put(f->env, pa);
}

static unsigned char *bytes_of(const struct fx *f, vmar_paddr_t pa)
{
    return f->env->phys_to_virt(f->env->ctx, pa);
}

static bool all_bytes(const unsigned char *p, int value)
{
    for (size_t i = 0; i < VMAR_PAGE_SIZE; i++)
        if (p[i] != (unsigned char)value)
            return false;
    return true;
}

/* Prepare [va, va + n pages), check the reservation, map every page to a
 * fresh managed frame (pas[i]) and check that map used all of it. */
static void map_pages(const struct fx *f, vmar_addr_t va, size_t n,
                      size_t want_tables, vmar_paddr_t *pas)
{
    struct vmar_frame_list resv = {0};

    assert_int_equal(ops->prepare(f->mmu, va, n * PAGE, VMAR_PREP_MAP, &resv),
                     0);
    assert_int_equal(resv.count, want_tables);
    for (size_t i = 0; i < n; i++) {
        struct vmar_pte pte = {.pa = new_frame(f, 0),
                               .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                               .flags = VMAR_PTE_MANAGED,
                               .cache = VMAR_CACHE_WB};

        pas[i] = pte.pa;
        ops->map(f->mmu, va + i * PAGE, &pte, &resv);
    }
    assert_int_equal(resv.count, 0);
    assert_int_equal(resv.head, 0);
}

static size_t unmap_range(const struct fx *f, vmar_addr_t va, vmar_size_t len)
{
    struct vmar_tlb_batch b;
    size_t n;

    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    n = ops->unmap(f->mmu, va, len, NULL, &b);
    vmar_tlb_batch_finish(&b);
    return n;
}

/* The frames on a reservation, through their link words. */
static size_t list_frames(const struct fx *f, const struct vmar_frame_list *l,
                          vmar_paddr_t *out)
{
    vmar_paddr_t pa = l->head;

    for (size_t i = 0; i < l->count; i++) {
        out[i] = pa;
        memcpy(&pa, bytes_of(f, pa), sizeof(pa));
    }
    return l->count;
}

/* ---- create / destroy ---------------------------------------------------- */

static void test_ops_header(void **state)
{
    (void)state;
    assert_int_equal(ops->abi, VMAR_MMU_ABI);
    assert_string_equal(ops->name, "sim");
    assert_int_equal(ops->caps, VMAR_MMU_CAP_NX | VMAR_MMU_CAP_HUGE_2M |
                                    VMAR_MMU_CAP_HUGE_1G |
                                    VMAR_MMU_CAP_SPLIT_PT);
    assert_non_null(ops->map_range);
    assert_int_equal(ops->user_top, TOP);
}

static void test_create_destroy_no_leak(void **state)
{
    struct vmar_sim *sim, *other;
    struct vmar_mmu *mmu = NULL;
    struct vmar_sim_stats s0, s;

    (void)state;
    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    assert_int_equal(vmar_sim_create(NULL, &other), 0);
    vmar_sim_stats(sim, &s0);
    assert_int_equal(s0.allocs_live, 0);
    assert_int_equal(s0.frames_live, 0);

    assert_int_equal(ops->create(vmar_sim_env(sim), sim, &mmu), 0);
    vmar_sim_stats(sim, &s);
    assert_int_equal(s.allocs_live, 1);
    assert_int_equal(s.frames_live, 1); /* the root */
    assert_int_equal(s.tables_live, 1);
    ops->destroy(mmu);
    vmar_sim_stats(sim, &s);
    assert_int_equal(s.allocs_live, 0);
    assert_int_equal(s.alloc_bytes_live, 0);
    assert_int_equal(s.frames_live, 0);
    assert_int_equal(s.tables_live, 0);

    /* No config, or an env that is not this machine's: EINVAL, no effect. */
    assert_int_equal(ops->create(vmar_sim_env(sim), NULL, &mmu), VMAR_EINVAL);
    assert_int_equal(ops->create(vmar_sim_env(other), sim, &mmu), VMAR_EINVAL);
    vmar_sim_stats(sim, &s);
    assert_int_equal(s.allocs_live, 0);
    assert_int_equal(s.frames_live, 0);
    vmar_sim_destroy(other);
    vmar_sim_destroy(sim);
}

static void test_create_bad_opts(void **state)
{
    struct vmar_sim *sim = NULL;
    struct vmar_sim_opts o = {.nframes = 8, .phys_base = 0x100000800};

    (void)state;
    assert_int_equal(vmar_sim_create(&o, &sim), VMAR_EINVAL);
    o.phys_base = (vmar_paddr_t)1 << 52; /* beyond the sim PTE's pa field */
    assert_int_equal(vmar_sim_create(&o, &sim), VMAR_EINVAL);
    assert_int_equal(vmar_sim_create(NULL, NULL), VMAR_EINVAL);
    assert_null(sim);

    o.phys_base = 0x40000000;
    assert_int_equal(vmar_sim_create(&o, &sim), 0);
    assert_false(vmar_sim_frame_live(sim, 0x40000000));
    {
        const struct vmar_env *env = vmar_sim_env(sim);
        vmar_paddr_t pa[9];

        for (int i = 0; i < 8; i++)
            assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[i]), 0);
        assert_int_equal(pa[0], 0x40000000); /* frame 0 comes first */
        assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[8]), VMAR_ENOMEM);
        for (int i = 0; i < 8; i++)
            env->frame_free(env->ctx, pa[i]);
    }
    vmar_sim_destroy(sim);
}

/* ---- map, find, unmap round trips ---------------------------------------- */

/* Pages around table boundaries; `tables` is what the empty tree lacks. */
static const struct crossing {
    const char *what;
    vmar_addr_t va;
    size_t pages;
    size_t tables;
} crossings[] = {
    {"first page", 0, 1, 3},
    {"2 MiB boundary", 2 * MIB - 2 * PAGE, 4, 4},     /* L2 L1 L0 L0 */
    {"1 GiB boundary", GIB - 2 * PAGE, 4, 5},         /* L2 L1 L1 L0 L0 */
    {"512 GiB boundary", 512 * GIB - 2 * PAGE, 4, 6}, /* two of each */
    {"three L0 tables", 2 * MIB - PAGE, 514, 5},      /* L2 L1 L0 L0 L0 */
    {"top of user space", TOP - 4 * PAGE, 4, 3},
};

static void test_round_trip_crossings(void **state)
{
    struct fx *f = *state;
    static vmar_paddr_t pas[MAXPAGE];

    for (size_t c = 0; c < sizeof(crossings) / sizeof(crossings[0]); c++) {
        const struct crossing *x = &crossings[c];
        struct vmar_sim_stats s0 = stats_of(f), s;
        struct vmar_frame_list again = {0};
        struct vmar_tlb_batch b;
        vmar_addr_t va = 0;
        struct vmar_pte pte;

        print_message("case: %s\n", x->what);
        map_pages(f, x->va, x->pages, x->tables, pas);
        s = stats_of(f);
        assert_int_equal(s.tables_live, s0.tables_live + x->tables);
        assert_int_equal(s.leaves_live, x->pages);
        assert_int_equal(s.frames_live, s0.frames_live + x->tables + x->pages);

        /* Everything is there now: a second prepare needs nothing. */
        assert_int_equal(
            ops->prepare(f->mmu, x->va, x->pages * PAGE, VMAR_PREP_MAP, &again),
            0);
        assert_int_equal(again.count, 0);

        /* find_next from 0 walks exactly our pages, in order. */
        for (size_t i = 0; i < x->pages; i++) {
            assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), 0);
            assert_int_equal(va, x->va + i * PAGE);
            assert_int_equal(pte.pa, pas[i]);
            assert_int_equal(pte.prot, VMAR_PROT_READ | VMAR_PROT_WRITE);
            assert_int_equal(pte.flags, VMAR_PTE_MANAGED);
            assert_int_equal(pte.cache, VMAR_CACHE_WB);
            va += PAGE;
        }
        assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), VMAR_ENOENT);

        /* Unmap: nothing is freed before the flush, everything after. */
        vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
        assert_int_equal(ops->unmap(f->mmu, x->va, x->pages * PAGE, NULL, &b),
                         x->pages);
        s = stats_of(f);
        assert_int_equal(s.leaves_live, 0);
        assert_int_equal(s.tables_live, s0.tables_live);
        assert_true(vmar_sim_frame_live(f->sim, pas[x->pages - 1]));
        vmar_tlb_batch_finish(&b);
        s = stats_of(f);
        for (size_t i = 0; i < x->pages; i++)
            assert_false(vmar_sim_frame_live(f->sim, pas[i]));
        assert_int_equal(s.frames_live, s0.frames_live);
        assert_true(s.flushes > s0.flushes);
        va = 0;
        assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), VMAR_ENOENT);
    }
}

static void test_prepare_counts_exactly(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    vmar_paddr_t pa[4];
    struct vmar_sim_stats s0;
    struct {
        vmar_addr_t va;
        vmar_size_t len;
        size_t want;
    } const cases[] = {
        {2 * PAGE, PAGE, 0},               /* same level-0 table */
        {0, 2 * MIB, 0},                   /* exactly that table */
        {2 * MIB, PAGE, 1},                /* a new level-0 table */
        {0, 4 * MIB + PAGE, 2},            /* two more level-0 tables */
        {GIB, PAGE, 2},                    /* level 1 and level 0 */
        {512 * GIB, PAGE, 3},              /* level 2, 1 and 0 */
        {256 * GIB, 3 * GIB, 3 + 3 * 512}, /* L2 present: 3 L1, 1536 L0 */
        /* Not 1 GiB aligned, under the last root slot: 1 L2, 4 L1 and
         * 1 + 1535 + 1 L0 tables. */
        {TOP - 3 * GIB, 3 * GIB, 1 + 4 + 1537},
        {PAGE, 0, 0}, /* empty range */
    };

    map_pages(f, PAGE, 1, 3, pa);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ops->prepare(f->mmu, cases[i].va, cases[i].len,
                                      VMAR_PREP_MAP, &resv),
                         0);
        assert_int_equal(resv.count, cases[i].want);
        vmar_frame_list_release(f->env, &resv);
        /* Base pages only: unmap and protect never need a table. */
        assert_int_equal(ops->prepare(f->mmu, cases[i].va, cases[i].len,
                                      VMAR_PREP_CHANGE, &resv),
                         0);
        assert_int_equal(resv.count, 0);
    }

    /* Map only part of a prepared range: the rest stays on resv, and
     * releasing it returns every reserved frame. */
    s0 = stats_of(f);
    assert_int_equal(
        ops->prepare(f->mmu, 4 * MIB, 4 * MIB, VMAR_PREP_MAP, &resv), 0);
    assert_int_equal(resv.count, 2);
    {
        struct vmar_pte pte = {.pa = new_frame(f, 0), .prot = VMAR_PROT_READ};

        pte.flags = VMAR_PTE_MANAGED;
        ops->map(f->mmu, 4 * MIB, &pte, &resv);
    }
    assert_int_equal(resv.count, 1);
    vmar_frame_list_release(f->env, &resv);
    assert_int_equal(stats_of(f).frames_live, s0.frames_live + 2);
    assert_int_equal(stats_of(f).tables_live, s0.tables_live + 1);
}

/* A fixed overwrite that populates: prepare, unmap (which frees every
 * table under the range), then map again from the same reservation. */
static void test_prepare_remap_survives_unmap(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    vmar_paddr_t old[2];
    struct vmar_tlb_batch b;
    const vmar_addr_t va = GIB - PAGE;
    struct vmar_pte pte;
    vmar_addr_t at = 0;

    map_pages(f, va, 2, 5, old);
    /* MAP sees the tables that are there; REMAP counts them all. */
    assert_int_equal(ops->prepare(f->mmu, va, 2 * PAGE, VMAR_PREP_MAP, &resv),
                     0);
    assert_int_equal(resv.count, 0);
    assert_int_equal(ops->prepare(f->mmu, va, 2 * PAGE, VMAR_PREP_REMAP, &resv),
                     0);
    assert_int_equal(resv.count, 5);

    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, va, 2 * PAGE, NULL, &b), 2);
    assert_int_equal(stats_of(f).tables_live, 1);
    for (int i = 0; i < 2; i++) {
        pte = (struct vmar_pte){.pa = new_frame(f, 0),
                                .prot = VMAR_PROT_READ,
                                .flags = VMAR_PTE_MANAGED};
        ops->map(f->mmu, va + (vmar_addr_t)i * PAGE, &pte, &resv);
    }
    assert_int_equal(resv.count, 0);
    vmar_tlb_batch_finish(&b);
    assert_int_equal(stats_of(f).tables_live, 6);
    assert_false(vmar_sim_frame_live(f->sim, old[0]));
    assert_int_equal(ops->find_next(f->mmu, &at, TOP, &pte), 0);
    assert_int_equal(at, va);
    assert_int_equal(pte.prot, VMAR_PROT_READ);
}

/* ---- unmap and the batch ------------------------------------------------- */

static void test_unmap_frees_tables_after_flush(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    vmar_paddr_t tables[5], data[2];
    struct vmar_tlb_batch b;
    size_t live;
    const vmar_addr_t a = GIB - PAGE;

    /* Two pages on either side of 1 GiB: L2 shared, L1 and L0 each. */
    assert_int_equal(ops->prepare(f->mmu, a, 2 * PAGE, VMAR_PREP_MAP, &resv),
                     0);
    assert_int_equal(list_frames(f, &resv, tables), 5);
    for (int i = 0; i < 2; i++) {
        struct vmar_pte pte = {.pa = new_frame(f, 0),
                               .prot = VMAR_PROT_READ,
                               .flags = VMAR_PTE_MANAGED};

        data[i] = pte.pa;
        ops->map(f->mmu, a + (vmar_addr_t)i * PAGE, &pte, &resv);
    }
    assert_int_equal(stats_of(f).tables_live, 6);

    /* Unmap the lower page with a wide range: only the page's own range is
     * recorded, its L1 and L0 tables go, the shared L2 stays. */
    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, 0, GIB, NULL, &b), 1);
    assert_int_equal(b.lo, a);
    assert_int_equal(b.hi, a + PAGE);
    assert_int_equal(b.nfree, 3); /* the data frame and two tables */
    assert_int_equal(stats_of(f).tables_live, 4);
    for (int i = 0; i < 5; i++)
        assert_true(vmar_sim_frame_live(f->sim, tables[i]));
    assert_true(vmar_sim_frame_live(f->sim, data[0]));
    vmar_tlb_batch_finish(&b);
    live = 0;
    for (int i = 0; i < 5; i++)
        live += vmar_sim_frame_live(f->sim, tables[i]);
    assert_int_equal(live, 3);
    assert_false(vmar_sim_frame_live(f->sim, data[0]));
    assert_true(vmar_sim_frame_live(f->sim, data[1]));

    /* Nothing present: nothing recorded, nothing queued. */
    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, 2 * GIB, 100 * GIB, NULL, &b), 0);
    assert_true(b.lo >= b.hi);
    assert_int_equal(b.nfree, 0);
    vmar_tlb_batch_finish(&b);

    /* The last page takes every remaining table but the root with it. */
    assert_int_equal(unmap_range(f, 0, TOP), 1);
    for (int i = 0; i < 5; i++)
        assert_false(vmar_sim_frame_live(f->sim, tables[i]));
    assert_int_equal(stats_of(f).tables_live, 1);
    assert_int_equal(stats_of(f).frames_live, f->base.frames_live + 1);
}

static void test_unmap_partial_keeps_table(void **state)
{
    struct fx *f = *state;
    vmar_paddr_t pas[3];
    struct vmar_pte pte;
    vmar_addr_t va = 0;

    map_pages(f, 8 * PAGE, 3, 3, pas);
    assert_int_equal(unmap_range(f, 9 * PAGE, PAGE), 1);
    assert_int_equal(stats_of(f).tables_live, 4);
    assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), 0);
    assert_int_equal(va, 8 * PAGE);
    va += PAGE;
    assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), 0);
    assert_int_equal(va, 10 * PAGE);
    assert_int_equal(pte.pa, pas[2]);
    assert_int_equal(unmap_range(f, 0, 2 * MIB), 2);
    assert_int_equal(stats_of(f).tables_live, 1);
}

/*
 * The TLB rule, checked from outside: a data frame may reach frame_free
 * only after a flush that ran once its leaf was gone and whose range
 * covered its page. A flush marks such pages; the batch's env frees
 * through a wrapper that checks the mark. This holds whichever way the
 * batch orders its early flush against queueing the frame.
 */
static struct {
    const struct fx *f;
    const vmar_paddr_t *pas;
    vmar_addr_t va0;
    size_t n, flushes, checked;
    bool flushed[100];
} rule;

static bool page_present(const struct fx *f, vmar_addr_t page)
{
    struct vmar_pte pte;
    vmar_addr_t at = page;

    return ops->find_next(f->mmu, &at, page + PAGE, &pte) == 0;
}

static void checking_flush(struct vmar_mmu *mmu, vmar_addr_t va,
                           vmar_size_t len)
{
    for (size_t p = 0; p < rule.n; p++) {
        vmar_addr_t page = rule.va0 + p * PAGE;
        bool covered = len == 0 || (page >= va && page + PAGE <= va + len);

        if (covered && !page_present(rule.f, page))
            rule.flushed[p] = true;
    }
    rule.flushes++;
    vmar_mmu_sim.flush(mmu, va, len);
}

static void checking_frame_free(void *ctx, vmar_paddr_t pa)
{
    for (size_t p = 0; p < rule.n; p++)
        if (rule.pas[p] == pa) {
            assert_true(rule.flushed[p]);
            rule.checked++;
        }
    rule.f->env->frame_free(ctx, pa);
}

static void test_unmap_early_flush_covers_frames(void **state)
{
    struct fx *f = *state;
    static vmar_paddr_t pas[100];
    struct vmar_mmu_ops checking = vmar_mmu_sim;
    struct vmar_env env = *f->env;
    struct vmar_tlb_batch b;
    const vmar_addr_t va = 2 * MIB - 50 * PAGE;

    checking.flush = checking_flush;
    env.frame_free = checking_frame_free;
    env.frame_free_batch = NULL; /* every free through the check */
    map_pages(f, va, 100, 4, pas);
    memset(&rule, 0, sizeof(rule));
    rule.f = f;
    rule.pas = pas;
    rule.va0 = va;
    rule.n = 100;
    vmar_tlb_batch_init(&b, &env, &checking, f->mmu);
    assert_int_equal(ops->unmap(f->mmu, va, 100 * PAGE, NULL, &b), 100);
    vmar_tlb_batch_finish(&b);
    /* 104 frames through a 32-entry batch: at least four flushes. */
    assert_true(rule.flushes >= 4);
    assert_int_equal(rule.checked, 100);
    assert_int_equal(stats_of(f).frames_live, f->base.frames_live + 1);
}

static void test_unmanaged_frame_not_freed(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.pa = new_frame(f, 0),
                           .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                           .flags = 0,
                           .cache = VMAR_CACHE_UC};

    assert_int_equal(ops->prepare(f->mmu, 0, PAGE, VMAR_PREP_MAP, &resv), 0);
    ops->map(f->mmu, 0, &pte, &resv);
    assert_int_equal(unmap_range(f, 0, PAGE), 1);
    assert_true(vmar_sim_frame_live(f->sim, pte.pa));
    drop_frame(f, pte.pa);
}

/* ---- protect ------------------------------------------------------------- */

static void test_protect_changes_prot_only(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    struct vmar_pte in[8], out;
    struct vmar_tlb_batch b;
    const vmar_addr_t va = 64 * PAGE;
    struct vmar_sim_stats s0;
    uint64_t d0;

    /* Every other page, with a mix of flags and cache modes. */
    assert_int_equal(ops->prepare(f->mmu, va, 16 * PAGE, VMAR_PREP_MAP, &resv),
                     0);
    for (unsigned i = 0; i < 8; i++) {
        in[i] = (struct vmar_pte){
            .pa = new_frame(f, 0),
            .prot = VMAR_PROT_RWX,
            .flags = VMAR_PTE_MANAGED |
                     (i & 1 ? VMAR_PTE_ACCESSED | VMAR_PTE_DIRTY : 0),
            .cache = (enum vmar_cache)(i % 4),
        };
        ops->map(f->mmu, va + 2 * i * PAGE, &in[i], &resv);
    }
    s0 = stats_of(f);
    d0 = vmar_sim_digest(f->sim);

    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    ops->protect(f->mmu, 0, 2 * MIB, VMAR_PROT_READ, NULL, &b);
    assert_int_equal(b.lo, va);
    assert_int_equal(b.hi, va + 15 * PAGE);
    assert_int_equal(b.nfree, 0);
    vmar_tlb_batch_finish(&b);
    assert_int_not_equal(vmar_sim_digest(f->sim), d0); /* tables changed */
    assert_int_equal(stats_of(f).frames_live, s0.frames_live);
    assert_int_equal(stats_of(f).leaves_live, 8);

    for (unsigned i = 0; i < 8; i++) {
        vmar_addr_t at = va + 2 * i * PAGE;

        assert_int_equal(ops->find_next(f->mmu, &at, TOP, &out), 0);
        assert_int_equal(at, va + 2 * i * PAGE);
        assert_int_equal(out.prot, VMAR_PROT_READ);
        assert_int_equal(out.pa, in[i].pa);
        assert_int_equal(out.flags, in[i].flags);
        assert_int_equal(out.cache, in[i].cache);
    }

    /* Same prot again, or a range without leaves: nothing to flush. */
    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    ops->protect(f->mmu, va, 16 * PAGE, VMAR_PROT_READ, NULL, &b);
    assert_true(b.lo >= b.hi);
    ops->protect(f->mmu, GIB, GIB, VMAR_PROT_NONE, NULL, &b);
    assert_true(b.lo >= b.hi);
    /* A narrower change records only its own page. */
    ops->protect(f->mmu, va + 2 * PAGE, 2 * PAGE, VMAR_PROT_NONE, NULL, &b);
    assert_int_equal(b.lo, va + 2 * PAGE);
    assert_int_equal(b.hi, va + 3 * PAGE);
    vmar_tlb_batch_finish(&b);
    {
        vmar_addr_t at = va + 2 * PAGE;

        assert_int_equal(ops->find_next(f->mmu, &at, TOP, &out), 0);
        assert_int_equal(out.prot, VMAR_PROT_NONE); /* still present */
        assert_int_equal(out.pa, in[1].pa);
    }
}

/* ---- find_next ----------------------------------------------------------- */

static void test_find_next_skips_holes(void **state)
{
    struct fx *f = *state;
    const vmar_addr_t at[3] = {PAGE, 256 * GIB + 5 * PAGE, TOP - PAGE};
    vmar_paddr_t pas[3];
    struct vmar_pte pte = {0}, keep;
    vmar_addr_t va;

    for (int i = 0; i < 3; i++)
        map_pages(f, at[i], 1, i == 0 ? 3 : (i == 1 ? 2 : 3), &pas[i]);

    va = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), 0);
        assert_int_equal(va, at[i]);
        assert_int_equal(pte.pa, pas[i]);
        va += PAGE;
    }
    keep = pte;
    assert_int_equal(va, TOP);
    assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), VMAR_ENOENT);
    assert_int_equal(va, TOP); /* unchanged on ENOENT */
    assert_memory_equal(&pte, &keep, sizeof(pte));

    /* end is exclusive; an end past the table is clamped, not an error. */
    va = 2 * PAGE;
    assert_int_equal(ops->find_next(f->mmu, &va, at[1], &pte), VMAR_ENOENT);
    assert_int_equal(ops->find_next(f->mmu, &va, at[1] + PAGE, &pte), 0);
    assert_int_equal(va, at[1]);
    va = at[2];
    assert_int_equal(ops->find_next(f->mmu, &va, UINT64_MAX, &pte), 0);
    assert_int_equal(va, at[2]);
}

/* ---- failure injection --------------------------------------------------- */

static void test_prepare_failure_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct vmar_frame_list resv = {0};
    vmar_paddr_t pa;
    struct vmar_sim_stats s0, s;
    uint64_t d0;

    map_pages(f, PAGE, 1, 3, &pa);
    s0 = stats_of(f);
    d0 = vmar_sim_digest(f->sim);

    /* The first, then the third of three table frames fails. */
    for (size_t n = 1; n <= 3; n += 2) {
        vmar_sim_fail_after(f->sim, n, VMAR_SIM_FAIL_FRAME, false);
        assert_int_equal(
            ops->prepare(f->mmu, 512 * GIB, PAGE, VMAR_PREP_MAP, &resv),
            VMAR_ENOMEM);
        assert_int_equal(resv.count, 0);
        assert_int_equal(resv.head, 0);
        assert_int_equal(vmar_sim_digest(f->sim), d0);
        s = stats_of(f);
        assert_int_equal(s.frames_live, s0.frames_live);
        assert_int_equal(s.tables_live, s0.tables_live);
        assert_int_equal(s.leaves_live, s0.leaves_live);
        assert_int_equal(s.allocs_live, s0.allocs_live);
        assert_int_equal(s.fails_injected, s0.fails_injected + (n + 1) / 2);
    }
    /* One-shot: the next attempt works. */
    assert_int_equal(
        ops->prepare(f->mmu, 512 * GIB, PAGE, VMAR_PREP_MAP, &resv), 0);
    assert_int_equal(resv.count, 3);
    vmar_frame_list_release(f->env, &resv);
    assert_int_equal(vmar_sim_digest(f->sim), d0);
}

static void test_fail_after_modes(void **state)
{
    struct fx *f = *state;
    const struct vmar_env *env = f->env;
    vmar_paddr_t pa[4];
    void *p;
    size_t fails0 = stats_of(f).fails_injected;

    /* Persistent from the second frame on, until turned off. */
    vmar_sim_fail_after(f->sim, 2, VMAR_SIM_FAIL_FRAME, true);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[0]), 0);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[1]), VMAR_ENOMEM);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[1]), VMAR_ENOMEM);
    /* Metadata allocations are not in the mask. */
    p = env->alloc(env->ctx, 16, 8);
    assert_non_null(p);
    env->free(env->ctx, p, 16);
    vmar_sim_fail_after(f->sim, 0, VMAR_SIM_FAIL_ANY, true);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[1]), 0);
    assert_int_equal(stats_of(f).fails_injected, fails0 + 2);

    /* Metadata only: frames unaffected; alloc fails once. */
    vmar_sim_fail_after(f->sim, 1, VMAR_SIM_FAIL_ALLOC, false);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[2]), 0);
    assert_null(env->alloc(env->ctx, 16, 8));
    p = env->alloc(env->ctx, 16, 8);
    assert_non_null(p);
    env->free(env->ctx, p, 16);
    assert_int_equal(stats_of(f).fails_injected, fails0 + 3);

    /* ANY counts both kinds towards n. */
    vmar_sim_fail_after(f->sim, 2, VMAR_SIM_FAIL_ANY, false);
    p = env->alloc(env->ctx, 16, 8);
    assert_non_null(p);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[3]), VMAR_ENOMEM);
    env->free(env->ctx, p, 16);

    /* TABLE counts page-table pages only, DATA data frames only. */
    vmar_sim_fail_after(f->sim, 1, VMAR_SIM_FAIL_TABLE, false);
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa[3]), 0);
    env->frame_free(env->ctx, pa[3]);
    assert_int_equal(env->frame_alloc(env->ctx, VMAR_FRAME_TABLE, &pa[3]),
                     VMAR_ENOMEM);
    vmar_sim_fail_after(f->sim, 1, VMAR_SIM_FAIL_DATA, false);
    assert_int_equal(env->frame_alloc(env->ctx, VMAR_FRAME_TABLE, &pa[3]), 0);
    env->frame_free(env->ctx, pa[3]);
    assert_int_equal(env->frame_alloc(env->ctx, VMAR_FRAME_ZERO, &pa[3]),
                     VMAR_ENOMEM);
    assert_int_equal(stats_of(f).fails_injected, fails0 + 6);
    for (int i = 0; i < 3; i++)
        env->frame_free(env->ctx, pa[i]);
}

static void test_create_failure_no_leak(void **state)
{
    struct fx *f = *state;
    struct vmar_mmu *mmu = NULL;
    struct vmar_sim_stats s0 = stats_of(f), s;
    const unsigned masks[2] = {VMAR_SIM_FAIL_ALLOC, VMAR_SIM_FAIL_FRAME};

    for (int i = 0; i < 2; i++) {
        vmar_sim_fail_after(f->sim, 1, masks[i], false);
        assert_int_equal(ops->create(f->env, f->sim, &mmu), VMAR_ENOMEM);
        s = stats_of(f);
        assert_int_equal(s.allocs_live, s0.allocs_live);
        assert_int_equal(s.frames_live, s0.frames_live);
        assert_int_equal(s.tables_live, s0.tables_live);
    }
    assert_null(mmu);
}

/* ---- digest, poison, env ------------------------------------------------- */

static void test_digest_tracks_frames(void **state)
{
    struct fx *f = *state;
    uint64_t d0 = vmar_sim_digest(f->sim), d1;
    vmar_paddr_t pa = new_frame(f, VMAR_FRAME_ZERO), spare;
    unsigned char *p = bytes_of(f, pa);

    d1 = vmar_sim_digest(f->sim);
    assert_int_not_equal(d1, d0);
    p[4095] = 1;
    assert_int_not_equal(vmar_sim_digest(f->sim), d1);
    p[4095] = 0;
    assert_int_equal(vmar_sim_digest(f->sim), d1);

    /* Free frames are not part of the state. */
    spare = new_frame(f, 0);
    drop_frame(f, spare);
    bytes_of(f, spare)[7] = 0x11;
    assert_int_equal(vmar_sim_digest(f->sim), d1);
    bytes_of(f, spare)[7] = 0x5a;

    drop_frame(f, pa);
    assert_int_equal(vmar_sim_digest(f->sim), d0);
}

static void test_poison_after_free(void **state)
{
    struct fx *f = *state;
    vmar_paddr_t pa = new_frame(f, 0), again;

    assert_true(all_bytes(bytes_of(f, pa), 0x5a)); /* never zeroed */
    memset(bytes_of(f, pa), 0x33, VMAR_PAGE_SIZE);
    drop_frame(f, pa);
    assert_false(vmar_sim_frame_live(f->sim, pa));
    assert_true(all_bytes(bytes_of(f, pa), 0x5a));

    again = new_frame(f, 0); /* last freed, first reused */
    assert_int_equal(again, pa);
    assert_true(all_bytes(bytes_of(f, again), 0x5a));
    drop_frame(f, again);
    again = new_frame(f, VMAR_FRAME_ZERO | VMAR_FRAME_TABLE);
    assert_true(all_bytes(bytes_of(f, again), 0));
    drop_frame(f, again);
}

/* huge_pages changes where the pool lives (2 MiB aligned), not what it
 * does: every frame is handed out once, in the same order, poisoned until
 * zeroed on request, and the pool leaks nothing. An odd frame count
 * checks that the rounding up to 2 MiB is the host's, not the pool's. */
static void test_huge_pages_pool(void **state)
{
    const size_t n = 515; /* 2 MiB + 12 KiB */
    struct vmar_sim_opts o = {.nframes = n, .huge_pages = true};
    struct vmar_sim *sim;
    struct vmar_sim_stats st;
    vmar_paddr_t pa, first = 0;

    (void)state;
    assert_int_equal(vmar_sim_create(&o, &sim), 0);
    const struct vmar_env *env = vmar_sim_env(sim);
    vmar_paddr_t *all = calloc(n, sizeof(*all));
    assert_non_null(all);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
            env->frame_alloc(env->ctx, i % 2 ? VMAR_FRAME_ZERO : 0, &all[i]),
            0);
        const unsigned char *b = env->phys_to_virt(env->ctx, all[i]);
        if (i == 0) {
            first = all[i];
            assert_int_equal((uintptr_t)b % ((uintptr_t)2 << 20), 0);
        }
        /* Frames in address order from the pool's base, contiguous. */
        assert_int_equal(all[i], first + i * VMAR_PAGE_SIZE);
        assert_true(all_bytes(b, i % 2 ? 0 : 0x5a));
    }
    assert_int_equal(env->frame_alloc(env->ctx, 0, &pa), VMAR_ENOMEM);
    vmar_sim_stats(sim, &st);
    assert_int_equal(st.frames_live, n);
    for (size_t i = 0; i < n; i++)
        env->frame_free(env->ctx, all[i]);
    vmar_sim_stats(sim, &st);
    assert_int_equal(st.frames_live, 0);
    free(all);
    vmar_sim_destroy(sim);
}

static void test_env_alloc_counting(void **state)
{
    struct fx *f = *state;
    const struct vmar_env *env = f->env;
    struct vmar_sim_stats s0 = stats_of(f), s;
    const size_t sizes[3] = {24, 100, 1}, aligns[3] = {8, 64, 1};
    unsigned char *p[3];

    for (int i = 0; i < 3; i++) {
        p[i] = env->alloc(env->ctx, sizes[i], aligns[i]);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % aligns[i], 0);
        memset(p[i], 0xee, sizes[i]);
    }
    s = stats_of(f);
    assert_int_equal(s.alloc_calls, s0.alloc_calls + 3);
    assert_int_equal(s.allocs_live, s0.allocs_live + 3);
    assert_int_equal(s.alloc_bytes_live, s0.alloc_bytes_live + 125);
    env->free(env->ctx, p[1], 100);
    s = stats_of(f);
    assert_int_equal(s.allocs_live, s0.allocs_live + 2);
    assert_int_equal(s.alloc_bytes_live, s0.alloc_bytes_live + 25);
    env->free(env->ctx, p[0], 24);
    env->free(env->ctx, p[2], 1);

    vmar_sim_fail_after(f->sim, 1, VMAR_SIM_FAIL_ALLOC, false);
    assert_null(env->alloc(env->ctx, 8, 8));
    s = stats_of(f);
    assert_int_equal(s.alloc_calls, s0.alloc_calls + 4); /* failed counts */
    assert_int_equal(s.allocs_live, s0.allocs_live);
    assert_int_equal(s.alloc_bytes_live, s0.alloc_bytes_live);
}

static void test_env_hooks(void **state)
{
    struct vmar_sim *a, *b, *c, *plain;
    struct vmar_sim_opts o = {.with_random = true, .seed = 42};
    const struct vmar_env *ea, *eb, *ec;
    uint64_t va[4], vb[4], vc[4];

    (void)state;
    assert_int_equal(vmar_sim_create(&o, &a), 0);
    assert_int_equal(vmar_sim_create(&o, &b), 0);
    o.seed = 43;
    assert_int_equal(vmar_sim_create(&o, &c), 0);
    assert_int_equal(vmar_sim_create(NULL, &plain), 0);
    ea = vmar_sim_env(a);
    eb = vmar_sim_env(b);
    ec = vmar_sim_env(c);
    assert_non_null(ea->random);
    assert_null(vmar_sim_env(plain)->random);
    assert_null(ea->lock);
    assert_null(ea->unlock);
    assert_null(ea->lock_held);
    assert_non_null(ea->panic);
    assert_ptr_equal(ea->ctx, a);
    for (int i = 0; i < 4; i++) {
        va[i] = ea->random(ea->ctx);
        vb[i] = eb->random(eb->ctx);
        vc[i] = ec->random(ec->ctx);
    }
    assert_memory_equal(va, vb, sizeof(va)); /* same seed, same stream */
    assert_memory_not_equal(va, vc, sizeof(va));
    assert_int_not_equal(va[0], va[1]);
    vmar_sim_destroy(a);
    vmar_sim_destroy(b);
    vmar_sim_destroy(c);
    vmar_sim_destroy(plain);
}

static void test_op_counters(void **state)
{
    struct fx *f = *state;
    struct vmar_sim_stats s0 = stats_of(f), s;
    vmar_paddr_t pa[2];
    struct vmar_tlb_batch b;
    struct vmar_pte pte;
    vmar_addr_t va = 0;

    map_pages(f, 0, 2, 3, pa); /* 1 prepare, 2 maps */
    vmar_tlb_batch_init(&b, f->env, ops, f->mmu);
    ops->protect(f->mmu, 0, 2 * PAGE, VMAR_PROT_READ, NULL, &b);
    vmar_tlb_batch_finish(&b);
    assert_int_equal(ops->find_next(f->mmu, &va, TOP, &pte), 0);
    assert_int_equal(unmap_range(f, 0, 2 * PAGE), 2);
    s = stats_of(f);
    assert_int_equal(s.prepares, s0.prepares + 1);
    assert_int_equal(s.maps, s0.maps + 2);
    assert_int_equal(s.protects, s0.protects + 1);
    assert_int_equal(s.finds, s0.finds + 1);
    assert_int_equal(s.unmaps, s0.unmaps + 1);
    assert_int_equal(s.flushes, s0.flushes + 2);
    assert_int_equal(s.frame_alloc_calls, s0.frame_alloc_calls + 5);
}

/* ---- contract violations abort loudly ------------------------------------ */

enum death {
    DIE_FRAME_DOUBLE_FREE,
    DIE_FRAME_FOREIGN,
    DIE_PHYS_TO_VIRT,
    DIE_FREE_SIZE,
    DIE_MAP_TWICE,
};

static void die_in_child(int how)
{
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar_mmu *mmu;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.prot = VMAR_PROT_READ};
    vmar_paddr_t pa;
    void *p;

    if (vmar_sim_create(NULL, &sim) != 0)
        return;
    env = vmar_sim_env(sim);
    switch ((enum death)how) {
    case DIE_FRAME_DOUBLE_FREE:
        env->frame_alloc(env->ctx, 0, &pa);
        env->frame_free(env->ctx, pa);
        env->frame_free(env->ctx, pa);
        break;
    case DIE_FRAME_FOREIGN:
        env->frame_free(env->ctx, 0x1000);
        break;
    case DIE_PHYS_TO_VIRT:
        env->phys_to_virt(env->ctx, 0x100000000 + 4096 * (vmar_paddr_t)4096);
        break;
    case DIE_FREE_SIZE:
        p = env->alloc(env->ctx, 32, 8);
        env->free(env->ctx, p, 16);
        break;
    case DIE_MAP_TWICE:
        ops->create(env, sim, &mmu);
        ops->prepare(mmu, 0, PAGE, VMAR_PREP_MAP, &resv);
        pte.pa = 0x100000000;
        ops->map(mmu, 0, &pte, &resv);
        ops->map(mmu, 0, &pte, &resv);
        break;
    }
}

static void test_contract_violations_abort(void **state)
{
    (void)state;
    vt_expect_death(die_in_child, DIE_FRAME_DOUBLE_FREE, "double free");
    vt_expect_death(die_in_child, DIE_FRAME_FOREIGN,
                    "not a frame of this pool");
    vt_expect_death(die_in_child, DIE_PHYS_TO_VIRT, "outside the pool");
    vt_expect_death(die_in_child, DIE_FREE_SIZE, "size mismatch");
    vt_expect_death(die_in_child, DIE_MAP_TWICE, "assertion failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_header),
        cmocka_unit_test(test_create_destroy_no_leak),
        cmocka_unit_test(test_create_bad_opts),
        cmocka_unit_test_setup_teardown(test_round_trip_crossings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_counts_exactly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_remap_survives_unmap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_frees_tables_after_flush,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_partial_keeps_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmap_early_flush_covers_frames,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmanaged_frame_not_freed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protect_changes_prot_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_find_next_skips_holes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prepare_failure_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_after_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_no_leak, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_digest_tracks_frames, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_poison_after_free, setup,
                                        teardown),
        cmocka_unit_test(test_huge_pages_pool),
        cmocka_unit_test_setup_teardown(test_env_alloc_counting, setup,
                                        teardown),
        cmocka_unit_test(test_env_hooks),
        cmocka_unit_test_setup_teardown(test_op_counters, setup, teardown),
        cmocka_unit_test(test_contract_violations_abort),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
