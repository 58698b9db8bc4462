/* SPDX-License-Identifier: MIT */
/*
 * The generic radix walker (src/mmu/radix.h) driven directly over the sim
 * machine's pool, with the sim page-table format
 * (src/mmu/sim/backend/sim_pte.h): what no backend's ops expose. How many
 * tables find_next enters, 2 MiB leaves in a format that allows them, the
 * abort when a walk would have to cut a huge leaf it holds no table for,
 * and the calls that may run at once on different 2 MiB leaf blocks
 * (VMAR_MMU_CAP_SPLIT_PT): a lost table link, deterministic, and threads
 * racing to link the upper tables they share, in the sim and the x86-64
 * formats (label concurrency: the tsan preset runs it).
 * White-box: the walker's counters and its format descriptor are internal. The
 * sim backend's ops over the same walker: tests/unit/test_sim.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <vmar/error.h>
#include <vmar/mmu.h>
#include <vmar/sim.h>

#include "death.h"
#include "mmu/riscv64/rv_pte.h"
#include "mmu/sim/backend/sim_pte.h"
#include "mmu/x86_64/x86_pte.h"
#include "radix.h"

#define PAGE ((vmar_addr_t)VMAR_PAGE_SIZE)
#define MIB  ((vmar_addr_t)1 << 20)
#define GIB  ((vmar_addr_t)1 << 30)
#define TOP  ((vmar_addr_t)0x7ffffffff000) /* the sim format's user top */

/* The batches' flushes: no backend, no TLB; counted. */
static size_t flushes;

static void count_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    (void)mmu;
    (void)va;
    (void)len;
    flushes++;
}

static const struct vmar_mmu_ops no_tlb = {.flush = count_flush};

static size_t frames_live(struct vmar_sim *sim)
{
    struct vmar_sim_stats s;

    vmar_sim_stats(sim, &s);
    return s.frames_live;
}

/* A new machine, and in *env a copy of its env whose phys_to_virt is
 * `ptv`, which reaches the machine's through *real. */
static struct vmar_sim *sim_hooked(struct vmar_env *env,
                                   void *(*ptv)(void *ctx, vmar_paddr_t pa),
                                   const struct vmar_env **real)
{
    struct vmar_sim *sim;

    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    *real = vmar_sim_env(sim);
    *env = **real;
    env->phys_to_virt = ptv;
    return sim;
}

/* ---- find_next enters only populated tables ------------------------------ */

/* Counts phys_to_virt calls: one per table the walker enters. */
static struct {
    const struct vmar_env *real;
    size_t calls;
} ptv;

static void *counting_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    ptv.calls++;
    return ptv.real->phys_to_virt(ctx, pa);
}

static void test_find_next_cost(void **state)
{
    const vmar_addr_t at[3] = {PAGE, 256 * GIB + 5 * PAGE, TOP - PAGE};
    struct vmar_sim *sim;
    struct vmar_env counting;
    struct vmar__radix rx;
    struct vmar_frame_list resv = {0};
    struct vmar_tlb_batch b;
    struct vmar_pte pte;
    vmar_paddr_t pas[3];
    vmar_addr_t va;
    (void)state;

    sim = sim_hooked(&counting, counting_phys_to_virt, &ptv.real);
    for (int i = 0; i < 3; i++)
        assert_int_equal(counting.frame_alloc(counting.ctx, 0, &pas[i]), 0);

    /* Walking 128 TiB enters only populated tables. An empty tree is one
     * read of the root. */
    assert_int_equal(vmar__radix_init(&rx, &vmar__sim_pt_format, &counting), 0);
    va = 0;
    ptv.calls = 0;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &pte), VMAR_ENOENT);
    assert_int_equal(ptv.calls, 1);
    for (int i = 0; i < 3; i++) {
        struct vmar_pte p = {.pa = pas[i], .prot = VMAR_PROT_READ};

        assert_int_equal(
            vmar__radix_prepare(&rx, at[i], PAGE, VMAR_PREP_MAP, &resv), 0);
        vmar__radix_map(&rx, at[i], 0, &p, &resv);
    }
    assert_int_equal(resv.count, 0);
    for (va = 0;; va += PAGE) {
        ptv.calls = 0;
        if (vmar__radix_find_next(&rx, &va, TOP, &pte) != 0)
            break;
        assert_true(ptv.calls <= 2 * 4); /* at most two root-to-leaf paths */
    }
    assert_int_equal(va, TOP);

    /* Unmanaged leaves: unmap frees the tables, not the frames. */
    vmar_tlb_batch_init(&b, &counting, &no_tlb, NULL);
    assert_int_equal(vmar__radix_unmap(&rx, 0, TOP, NULL, &b), 3);
    vmar_tlb_batch_finish(&b);
    vmar__radix_fini(&rx);
    assert_int_equal(rx.tables, 0);
    assert_int_equal(frames_live(sim), 3);
    for (int i = 0; i < 3; i++)
        counting.frame_free(counting.ctx, pas[i]);
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

/* ---- huge leaves in the walker (format with 2 MiB leaves) ---------------- */

static void test_walker_huge_leaf(void **state)
{
    struct vmar__pt_format huge = vmar__sim_pt_format;
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar__radix rx;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.pa = (vmar_paddr_t)64 * GIB, /* device memory */
                           .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                           .flags = 0,
                           .cache = VMAR_CACHE_UC};
    struct vmar_tlb_batch b;
    vmar_addr_t va;
    (void)state;

    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    env = vmar_sim_env(sim);
    huge.leaf_levels = (1u << 0) | (1u << 1);
    assert_int_equal(vmar__radix_init(&rx, &huge, env), 0);
    /* prepare counts for base pages, so it over-reserves the L0 table. */
    assert_int_equal(
        vmar__radix_prepare(&rx, 2 * MIB, 2 * MIB, VMAR_PREP_MAP, &resv), 0);
    assert_int_equal(resv.count, 3);
    /* The L2 and L1 tables; the leaf is the caller's to count. */
    vmar__radix_map(&rx, 2 * MIB, 1, &pte, &resv);
    assert_int_equal(resv.count, 1);
    vmar_frame_list_release(env, &resv);
    assert_int_equal(rx.tables, 3);
    assert_int_equal(rx.leaves, 0);
    assert_int_equal(
        vmar__radix_count_missing(&rx, 2 * MIB, 2 * MIB, VMAR_PREP_MAP), 0);

    va = 2 * MIB + 3 * PAGE;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &pte), 0);
    assert_int_equal(va, 2 * MIB + 3 * PAGE);
    assert_int_equal(pte.pa, 64 * GIB + 3 * PAGE);
    va = 0;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &pte), 0);
    assert_int_equal(va, 2 * MIB);

    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    vmar__radix_protect(&rx, 0, GIB, VMAR_PROT_READ, NULL, &b);
    assert_int_equal(b.lo, 2 * MIB);
    assert_int_equal(b.hi, 4 * MIB);
    flushes = 0;
    vmar_tlb_batch_finish(&b);
    assert_int_equal(flushes, 1);
    va = 0;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &pte), 0);
    assert_int_equal(pte.prot, VMAR_PROT_READ);
    assert_int_equal(pte.cache, VMAR_CACHE_UC);

    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    assert_int_equal(vmar__radix_unmap(&rx, 0, GIB, NULL, &b), 512);
    assert_int_equal(b.nfree, 2); /* L1 and L2 tables; the frame is not ours */
    vmar_tlb_batch_finish(&b);
    assert_int_equal(rx.tables, 1);
    /* A net count: unmap took off the leaf that map did not count. */
    assert_int_equal(rx.leaves, (size_t)-1);
    vmar__radix_fini(&rx);
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

/* ---- probe and map_empty: one descent each ------------------------------- */

/* probe's count of missing tables is prepare's for the page, at every
 * depth the path can stop at; map_empty installs into an empty slot and
 * reports the leaf it finds otherwise (a base leaf, and a page inside a
 * huge leaf), changing nothing then. */
/* With `masks` false the walker calls the format's functions instead of
 * testing its bits inline. */
static void probe_map_empty(bool masks)
{
    struct vmar__pt_format huge = vmar__sim_pt_format;
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar__radix rx;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                           .flags = 0,
                           .cache = VMAR_CACHE_WB};
    struct vmar_pte got;
    size_t missing = 99;
    const vmar_addr_t pages[] = {GIB + 5 * PAGE, GIB + 6 * PAGE,
                                 GIB + 2 * MIB + 7 * PAGE,
                                 512 * GIB + 9 * PAGE};
    const size_t expect[] = {3, 0, 1, 3};

    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    env = vmar_sim_env(sim);
    huge.leaf_levels = (1u << 0) | (1u << 1);
    if (!masks)
        huge.table_pa_mask = 0;
    assert_int_equal(vmar__radix_init(&rx, &huge, env), 0);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        const vmar_addr_t va = pages[i];
        const size_t want =
            vmar__radix_count_missing(&rx, va, PAGE, VMAR_PREP_MAP);
        /* A fresh root slot lacks 3 tables, a page beside a leaf none, a
         * new 2 MiB block under a present L1 table one. */
        assert_int_equal(want, expect[i]);
        assert_int_equal(vmar__radix_probe(&rx, va, &got, &missing),
                         VMAR_ENOENT);
        assert_int_equal(missing, want);
        assert_int_equal(
            vmar__radix_prepare(&rx, va, PAGE, VMAR_PREP_MAP, &resv), 0);
        assert_int_equal(resv.count, want);
        pte.pa = (vmar_paddr_t)(i + 1) * 16 * PAGE;
        assert_int_equal(vmar__radix_map_empty(&rx, va, &pte, &resv, &got), 0);
        assert_int_equal(resv.count, 0); /* it linked what was missing */
        assert_int_equal(vmar__radix_probe(&rx, va, &got, &missing), 0);
        assert_int_equal(got.pa, pte.pa);
        assert_int_equal(got.prot, pte.prot);
        /* Taken now: reported, nothing changed. */
        struct vmar_pte other = pte;
        other.pa += PAGE;
        assert_int_equal(vmar__radix_map_empty(&rx, va, &other, &resv, &got),
                         VMAR_EEXIST);
        assert_int_equal(got.pa, pte.pa);
        assert_int_equal(vmar__radix_probe(&rx, va, &got, &missing), 0);
        assert_int_equal(got.pa, pte.pa);
    }
    /* A 2 MiB leaf: every page inside is found, with its own frame. */
    pte.pa = 64 * GIB;
    assert_int_equal(
        vmar__radix_prepare(&rx, 4 * GIB, 2 * MIB, VMAR_PREP_MAP, &resv), 0);
    vmar__radix_map(&rx, 4 * GIB, 1, &pte, &resv);
    vmar_frame_list_release(env, &resv);
    assert_int_equal(vmar__radix_probe(&rx, 4 * GIB + 3 * PAGE, &got, &missing),
                     0);
    assert_int_equal(got.pa, 64 * GIB + 3 * PAGE);
    assert_int_equal(
        vmar__radix_map_empty(&rx, 4 * GIB + 3 * PAGE, &pte, &resv, &got),
        VMAR_EEXIST);
    assert_int_equal(got.pa, 64 * GIB + 3 * PAGE);
    assert_int_equal(got.cache, VMAR_CACHE_WB);

    struct vmar_tlb_batch b;
    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    vmar__radix_unmap(&rx, 0, 1024 * GIB, NULL, &b);
    vmar_tlb_batch_finish(&b);
    assert_int_equal(rx.tables, 1);
    vmar__radix_fini(&rx);
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

static void test_probe_map_empty(void **state)
{
    (void)state;
    probe_map_empty(true);
    probe_map_empty(false);
}

/* ---- the formats' masks agree with their functions ---------------------- */

static void expect_masks_agree(const struct vmar__pt_format *f, uint64_t w)
{
    const bool present = f->present(w);

    assert_true(f->table_pa_mask != 0);
    assert_int_equal((w & f->present_bits) != 0, present);
    for (unsigned level = 1; present && level < f->levels; level++) {
        const bool table = !f->is_leaf(w, level);
        assert_int_equal((w & f->table_bits) == f->table_value, table);
        if (table)
            assert_int_equal((w & f->table_pa_mask) << f->table_pa_shift,
                             f->table_decode(w, level));
    }
}

/* Every format of the tree: random words, and the words it encodes
 * (leaves of every permission at every leaf level, table pointers). */
static void test_format_masks(void **state)
{
    const struct vmar__pt_format *const fmts[] = {
        &vmar__sim_pt_format,         &vmar__x86_pt_format_4l,
        &vmar__x86_pt_format_4l_no1g, &vmar__x86_pt_format_5l,
        &vmar__x86_pt_format_5l_no1g, &vmar__rv_pt_format_sv39,
        &vmar__rv_pt_format_sv48,     &vmar__rv_pt_format_sv57};
    uint64_t rng = 0x9e3779b97f4a7c15u;
    (void)state;

    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        const struct vmar__pt_format *f = fmts[i];
        for (unsigned n = 0; n < 100000; n++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            expect_masks_agree(f, rng);
        }
        expect_masks_agree(f, 0);
        for (unsigned level = 0; level < f->levels; level++) {
            const vmar_paddr_t pa = (vmar_paddr_t)1 << (30 + level);
            if (level > 0)
                expect_masks_agree(f, f->table_encode(pa, level));
            if (!(f->leaf_levels >> level & 1))
                continue;
            for (unsigned prot = 0; prot <= VMAR_PROT_RWX; prot++) {
                struct vmar_pte pte = {.pa = pa,
                                       .prot = prot,
                                       .flags = VMAR_PTE_MANAGED,
                                       .cache = VMAR_CACHE_WB};
                expect_masks_agree(f, f->leaf_encode(&pte, level));
            }
        }
    }
}

/* ---- a huge leaf cut without a reserved table aborts --------------------- */

static void cut_huge_leaf_unprepared(int how)
{
    struct vmar__pt_format huge = vmar__sim_pt_format;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.prot = VMAR_PROT_READ};
    const struct vmar_env *env;
    struct vmar_sim *sim;
    struct vmar__radix rx;
    struct vmar_tlb_batch b;

    (void)how;
    if (vmar_sim_create(NULL, &sim) != 0)
        return;
    env = vmar_sim_env(sim);
    huge.leaf_levels = 3;
    vmar__radix_init(&rx, &huge, env);
    vmar__radix_prepare(&rx, 0, 2 * MIB, VMAR_PREP_MAP, &resv);
    pte.pa = 0;
    vmar__radix_map(&rx, 0, 1, &pte, &resv);
    /* Cutting the 2 MiB leaf needs a table that was not reserved
     * (prepare(VMAR_PREP_CHANGE) was skipped): an empty reservation says
     * no huge leaf straddles an edge, so the walk meets the 2 MiB leaf
     * only partly covered, and refuses to remove it. */
    vmar_frame_list_release(env, &resv);
    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    vmar__radix_unmap(&rx, PAGE, PAGE, &resv, &b);
}

static void test_huge_split_unprepared_aborts(void **state)
{
    (void)state;
    vt_expect_death(cut_huge_leaf_unprepared, 0, "covers_whole_leaf");
}

/* ---- a table link lost to another call -------------------------------- */

/* Another map runs on the same upper path right after this one found the
 * slot absent: phys_to_virt of the page about to be popped for that slot
 * (vmar_frame_list_pop reaches its link word) maps the other block first,
 * as a thread on another leaf block may under the shared lock. */
static struct {
    const struct vmar_env *real;
    struct vmar__radix *rx;
    vmar_paddr_t armed; /* the page whose pop triggers the other map */
    vmar_addr_t other_va;
    struct vmar_frame_list *other_resv;
} race;

static void *racing_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    if (race.armed != 0 && pa == race.armed) {
        struct vmar_pte p = {.pa = 64 * GIB + PAGE, .prot = VMAR_PROT_READ};

        race.armed = 0;
        vmar__radix_map(race.rx, race.other_va, 0, &p, race.other_resv);
    }
    return race.real->phys_to_virt(ctx, pa);
}

static void test_lost_link_returns_page(void **state)
{
    /* Two blocks of one 1 GiB under one 512 GiB: they share the level-2
     * and level-1 tables, and both are missing. */
    const vmar_addr_t a = 512 * GIB + 4 * MIB, b = 512 * GIB + 6 * MIB;
    struct vmar_frame_list ra = {0}, rb = {0};
    struct vmar_pte p = {.pa = 64 * GIB, .prot = VMAR_PROT_READ};
    struct vmar_env env;
    struct vmar_sim *sim;
    struct vmar__radix rx;
    struct vmar_tlb_batch batch;
    struct vmar_pte out;
    vmar_addr_t va;
    (void)state;

    sim = sim_hooked(&env, racing_phys_to_virt, &race.real);
    assert_int_equal(vmar__radix_init(&rx, &vmar__sim_pt_format, &env), 0);
    assert_int_equal(vmar__radix_prepare(&rx, a, PAGE, VMAR_PREP_MAP, &ra), 0);
    assert_int_equal(vmar__radix_prepare(&rx, b, PAGE, VMAR_PREP_MAP, &rb), 0);
    assert_int_equal(ra.count, 3);
    assert_int_equal(rb.count, 3);
    assert_int_equal(frames_live(sim), 7);

    race.rx = &rx;
    race.armed = ra.head; /* the level-2 table's page */
    race.other_va = b;
    race.other_resv = &rb;
    /* a's walk finds the level-2 slot absent and pops a page; meanwhile
     * b's map links all three of its tables. a's swap fails: its page
     * goes back and a goes on under b's tables, linking only its leaf
     * table. */
    vmar__radix_map(&rx, a, 0, &p, &ra);
    assert_int_equal(race.armed, 0);
    assert_int_equal(rb.count, 0); /* b linked three tables */
    assert_int_equal(rx.lost_links, 1);
    assert_int_equal(rx.tables, 1 + 3 + 1);
    /* a linked one: the lost page is back, whole: a zero page as prepare
     * gave it, but for the list's link in its first word. */
    assert_int_equal(ra.count, 2);
    for (vmar_paddr_t f = ra.head; f != 0;) {
        const uint64_t *w = race.real->phys_to_virt(race.real->ctx, f);

        for (size_t i = 1; i < 512; i++)
            assert_int_equal(w[i], 0);
        f = w[0];
    }
    vmar_frame_list_release(&env, &ra);
    assert_int_equal(frames_live(sim), rx.tables);

    va = a;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &out), 0);
    assert_int_equal(va, a);
    assert_int_equal(out.pa, 64 * GIB);
    va += PAGE;
    assert_int_equal(vmar__radix_find_next(&rx, &va, TOP, &out), 0);
    assert_int_equal(va, b);
    assert_int_equal(out.pa, 64 * GIB + PAGE);

    vmar_tlb_batch_init(&batch, &env, &no_tlb, NULL);
    assert_int_equal(vmar__radix_unmap(&rx, 0, TOP, NULL, &batch), 2);
    vmar_tlb_batch_finish(&batch);
    vmar__radix_fini(&rx);
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

/* ---- threads on different leaf blocks ---------------------------------- */

/*
 * MT_THREADS threads, each with its own reservation, map MT_PAGES pages
 * in one 2 MiB block of each of MT_GIBS consecutive 1 GiB regions of a
 * 512 GiB region that is empty at the start of a round: every level-1
 * table (one per GiB) and the level-2 table are shared by all of them
 * and missing, so the threads race to link them. Then each one reads its
 * blocks back, write-protects them, replaces a page in each, and looks at
 * another thread's page meanwhile, as a CPU's walk would. Between rounds
 * the main thread, alone, checks the table and empties it. The threads
 * leave a spin barrier together, and a thread that pops a table page
 * (after it read the slot absent, before its swap) yields the CPU, so
 * that the links race even on few cores; the test runs rounds until some
 * link was lost (at most MT_MAX).
 */
#define MT_THREADS 4u
#define MT_GIBS    4u
#define MT_PAGES   8u
#define MT_ROUNDS  200u
#define MT_MAX     5000u
#define MT_BASE    (512 * GIB)
#define MT_LEAVES  (MT_THREADS * MT_GIBS * MT_PAGES)

/* The threads and the main one wait for each other. */
struct spin_barrier {
    unsigned n;
    unsigned arrived;
    unsigned gen;
};

static void spin_wait(struct spin_barrier *b)
{
    unsigned gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);

    if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->gen, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    for (unsigned spins = 0; __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen;
         spins++)
        if (spins > 1000)
            sched_yield(); /* fewer cores than threads */
}

/* The env of the threads: the machine's, but for a yield when a thread
 * pops a page off its reservation (vmar_frame_list_pop reaches the page
 * through phys_to_virt), which in a map is between reading a slot absent
 * and linking a table there. */
static const struct vmar_env *mt_real;
static _Thread_local const struct vmar_frame_list *mt_resv;

static void *mt_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    if (mt_resv != NULL && pa == mt_resv->head)
        sched_yield();
    return mt_real->phys_to_virt(ctx, pa);
}

/* The batches' flushes from several threads: nothing to count. */
static void quiet_flush(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len)
{
    (void)mmu;
    (void)va;
    (void)len;
}

static const struct vmar_mmu_ops quiet_tlb = {.flush = quiet_flush};

struct mt {
    struct vmar__radix *rx;
    const struct vmar_env *env; /* the machine's with mt_phys_to_virt */
    struct spin_barrier bar;
    bool stop;      /* set by main between rounds */
    unsigned round; /* set by main between rounds */
};

struct mt_thread {
    struct mt *mt;
    unsigned id;
    size_t linked;   /* tables its maps linked, over the run */
    unsigned errors; /* its failed checks (cmocka asserts on main only) */
    pthread_t th;
};

static vmar_addr_t mt_block(unsigned id, unsigned gib)
{
    return MT_BASE + (vmar_addr_t)gib * GIB + (vmar_addr_t)id * 2 * MIB;
}

/* The frame a page maps: distinct per round, thread, region and page;
 * `again` after the replace. No pool frame: the leaves are unmanaged. */
static vmar_paddr_t mt_pa(unsigned round, unsigned id, unsigned gib,
                          unsigned page, bool again)
{
    vmar_paddr_t n = ((id * MT_GIBS + gib) * MT_PAGES + page) * 2u + again;

    return (vmar_paddr_t)1 << 40 | (vmar_paddr_t)(round % 64) << 32 | n << 12;
}

/* One page found as expected: the page itself, its frame and its prot. */
static bool mt_found(const struct vmar__radix *rx, vmar_addr_t page,
                     vmar_paddr_t pa, unsigned prot)
{
    vmar_addr_t at = page;
    struct vmar_pte pte;

    return vmar__radix_find_next(rx, &at, page + PAGE, &pte) == 0 &&
           at == page && pte.pa == pa && pte.prot == prot;
}

/* Another thread's page 0 of region `g` while that thread changes it:
 * absent (a replace breaks it for a moment), or one of its two frames. */
static bool mt_other_ok(const struct vmar__radix *rx, unsigned round,
                        unsigned id, unsigned g)
{
    vmar_addr_t page = mt_block(id, g), at = page;
    struct vmar_pte pte;

    if (vmar__radix_find_next(rx, &at, page + PAGE, &pte) != 0)
        return true;
    return at == page && (pte.pa == mt_pa(round, id, g, 0, false) ||
                          pte.pa == mt_pa(round, id, g, 0, true));
}

static void mt_round(struct mt_thread *t, unsigned round)
{
    struct vmar__radix *rx = t->mt->rx;
    const struct vmar_env *env = t->mt->env;
    const unsigned next = (t->id + 1) % MT_THREADS;
    struct vmar_frame_list resv = {0};
    struct vmar_tlb_batch b;
    size_t spare;

    mt_resv = &resv;
    for (unsigned g = 0; g < MT_GIBS; g++)
        if (vmar__radix_prepare(rx, mt_block(t->id, g), MT_PAGES * PAGE,
                                VMAR_PREP_MAP, &resv) != 0)
            t->errors++;
    spin_wait(&t->mt->bar); /* go: every thread at once */
    spare = resv.count;
    for (unsigned g = 0; g < MT_GIBS; g++)
        for (unsigned p = 0; p < MT_PAGES; p++) {
            struct vmar_pte pte = {.pa = mt_pa(round, t->id, g, p, false),
                                   .prot = VMAR_PROT_READ | VMAR_PROT_WRITE};

            vmar__radix_map(rx, mt_block(t->id, g) + p * PAGE, 0, &pte, &resv);
        }
    /* What the maps took from resv are the tables they linked. */
    t->linked += spare - resv.count;
    for (unsigned g = 0; g < MT_GIBS; g++) {
        const vmar_addr_t blk = mt_block(t->id, g);
        struct vmar_pte pte = {.pa = mt_pa(round, t->id, g, 0, true),
                               .prot = VMAR_PROT_READ};

        for (unsigned p = 0; p < MT_PAGES; p++)
            if (!mt_found(rx, blk + p * PAGE, mt_pa(round, t->id, g, p, false),
                          VMAR_PROT_READ | VMAR_PROT_WRITE))
                t->errors++;
        vmar_tlb_batch_init(&b, env, &quiet_tlb, NULL);
        vmar__radix_protect(rx, blk, MT_PAGES * PAGE, VMAR_PROT_READ, NULL, &b);
        vmar_tlb_batch_finish(&b);
        vmar_tlb_batch_init(&b, env, &quiet_tlb, NULL);
        vmar__radix_replace(rx, blk, &pte, &b);
        if (!mt_other_ok(rx, round, next, g))
            t->errors++;
    }
    /* What prepare counted and another thread linked first goes back. */
    mt_resv = NULL;
    vmar_frame_list_release(env, &resv);
}

static void *mt_main(void *arg)
{
    struct mt_thread *t = arg;
    struct mt *mt = t->mt;

    for (;;) {
        spin_wait(&mt->bar); /* start: the table is empty */
        if (__atomic_load_n(&mt->stop, __ATOMIC_RELAXED))
            return NULL;
        mt_round(t, __atomic_load_n(&mt->round, __ATOMIC_RELAXED));
        spin_wait(&mt->bar); /* done */
    }
}

/* Between rounds, alone: the table holds exactly what the threads left,
 * and every live frame is a table of the tree; then empty it again. */
static void mt_check_and_empty(struct vmar_sim *sim, struct vmar__radix *rx,
                               const struct vmar_env *env, unsigned round)
{
    const size_t tables = 1 + 1 + MT_GIBS + MT_THREADS * MT_GIBS;
    const size_t leaves0 = rx->leaves;
    size_t n = 0;
    struct vmar_tlb_batch b;

    for (vmar_addr_t va = 0;; va += PAGE) {
        struct vmar_pte pte;

        if (vmar__radix_find_next(rx, &va, TOP, &pte) != 0)
            break;
        n++;
    }
    assert_int_equal(n, MT_LEAVES);
    for (unsigned id = 0; id < MT_THREADS; id++)
        for (unsigned g = 0; g < MT_GIBS; g++)
            for (unsigned p = 0; p < MT_PAGES; p++)
                assert_true(mt_found(rx, mt_block(id, g) + p * PAGE,
                                     mt_pa(round, id, g, p, p == 0),
                                     VMAR_PROT_READ));
    assert_int_equal(rx->tables, tables);
    assert_int_equal(frames_live(sim), tables);

    vmar_tlb_batch_init(&b, env, &quiet_tlb, NULL);
    assert_int_equal(vmar__radix_unmap(rx, MT_BASE, MT_GIBS * GIB, NULL, &b),
                     MT_LEAVES);
    vmar_tlb_batch_finish(&b);
    assert_int_equal(leaves0 - rx->leaves, MT_LEAVES);
    assert_int_equal(rx->tables, 1);
    assert_int_equal(frames_live(sim), 1);
}

static void race_blocks(const struct vmar__pt_format *fmt)
{
    struct mt_thread th[MT_THREADS];
    struct vmar_sim *sim;
    struct vmar__radix rx;
    struct vmar_env env;
    struct mt mt;
    size_t linked = 0;
    unsigned round;

    sim = sim_hooked(&env, mt_phys_to_virt, &mt_real);
    mt = (struct mt){.rx = &rx, .env = &env, .bar = {.n = MT_THREADS + 1}};
    assert_int_equal(vmar__radix_init(&rx, fmt, mt.env), 0);
    for (unsigned i = 0; i < MT_THREADS; i++) {
        th[i] = (struct mt_thread){.mt = &mt, .id = i};
        assert_int_equal(pthread_create(&th[i].th, NULL, mt_main, &th[i]), 0);
    }
    for (round = 0; round < MT_MAX; round++) {
        if (round >= MT_ROUNDS && rx.lost_links != 0)
            break;
        __atomic_store_n(&mt.round, round, __ATOMIC_RELAXED);
        spin_wait(&mt.bar); /* start */
        spin_wait(&mt.bar); /* go */
        spin_wait(&mt.bar); /* done */
        mt_check_and_empty(sim, &rx, mt.env, round);
    }
    __atomic_store_n(&mt.stop, true, __ATOMIC_RELAXED);
    spin_wait(&mt.bar);
    for (unsigned i = 0; i < MT_THREADS; i++) {
        assert_int_equal(pthread_join(th[i].th, NULL), 0);
        assert_int_equal(th[i].errors, 0);
        linked += th[i].linked;
    }
    /* Each table was linked by exactly one map; the losers linked none. */
    assert_int_equal(linked, (size_t)round * (1 + MT_GIBS * (1 + MT_THREADS)));
    print_message("%s: %u rounds, %zu table links lost\n", fmt->name, round,
                  rx.lost_links);
    assert_true(rx.lost_links > 0);
    vmar__radix_fini(&rx);
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

static void test_race_blocks_sim(void **state)
{
    (void)state;
    race_blocks(&vmar__sim_pt_format);
}

static void test_race_blocks_x86(void **state)
{
    (void)state;
    race_blocks(&vmar__x86_pt_format_4l);
}

/* ---- transfer: one pass, whole tables relinked --------------------------- */

#define XF_MAX 160

/* A transfer case: leaves at va + off[i] (unmanaged, frame XF_PA + i
 * pages), [va, va+len) moved to `to`; huge: one 2 MiB leaf at va
 * instead (off unused). */
struct xf_case {
    const char *what;
    vmar_addr_t va, len, to;
    size_t n;
    vmar_addr_t off[XF_MAX];
    bool huge;
    size_t freed;  /* table pages the transfer queues */
    size_t tables; /* rx.tables after it */
};

#define XF_PA ((vmar_paddr_t)64 * GIB)
#define XF(what_, va_, len_, to_)                                              \
    (struct xf_case)                                                           \
    {                                                                          \
        .what = (what_), .va = (va_), .len = (len_), .to = (to_)               \
    }

/* Reserve as the core does: prepare(MAP) once per target leaf-table span
 * that a leaf lands in, before the transfer. */
static void xf_reserve(struct vmar__radix *rx, const struct xf_case *c,
                       struct vmar_frame_list *resv)
{
    const vmar_addr_t span = 2 * MIB;
    vmar_addr_t done = 1;

    for (vmar_addr_t x = 0; x < c->len; x += PAGE) {
        bool lands = c->huge;
        for (size_t i = 0; !c->huge && i < c->n; i++)
            lands |= c->off[i] == x;
        const vmar_addr_t s = (c->to + x) & ~(span - 1);
        if (!lands || s == done)
            continue;
        const vmar_addr_t a = s < c->to ? c->to : s;
        const vmar_addr_t b =
            s + span > c->to + c->len ? c->to + c->len : s + span;
        assert_int_equal(vmar__radix_prepare(rx, a, b - a, VMAR_PREP_MAP, resv),
                         0);
        done = s;
    }
}

static void xf_run(const struct vmar__pt_format *base, const struct xf_case *c)
{
    struct vmar__pt_format fmt = *base;
    struct vmar_sim *sim;
    const struct vmar_env *env;
    struct vmar__radix rx;
    struct vmar_frame_list resv = {0};
    struct vmar_pte pte = {.prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                           .cache = VMAR_CACHE_UC};
    struct vmar_pte got;
    struct vmar_tlb_batch b;
    const size_t pages = c->huge ? 512 : c->n;
    size_t leaves0;
    vmar_addr_t at;

    print_message("transfer, %s: %s\n", fmt.name, c->what);
    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    env = vmar_sim_env(sim);
    if (c->huge)
        fmt.leaf_levels = (1u << 0) | (1u << 1);
    assert_int_equal(vmar__radix_init(&rx, &fmt, env), 0);
    if (c->huge) {
        pte.pa = XF_PA;
        assert_int_equal(
            vmar__radix_prepare(&rx, c->va, 2 * MIB, VMAR_PREP_MAP, &resv), 0);
        vmar__radix_map(&rx, c->va, 1, &pte, &resv);
    }
    for (size_t i = 0; i < c->n && !c->huge; i++) {
        pte.pa = XF_PA + i * PAGE;
        assert_int_equal(vmar__radix_prepare(&rx, c->va + c->off[i], PAGE,
                                             VMAR_PREP_MAP, &resv),
                         0);
        vmar__radix_map(&rx, c->va + c->off[i], 0, &pte, &resv);
    }
    vmar_frame_list_release(env, &resv);
    leaves0 = rx.leaves;

    xf_reserve(&rx, c, &resv);
    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    vmar__radix_transfer(&rx, c->va, c->len, c->to, &resv, &b);
    vmar_frame_list_release(env, &resv); /* relinks leave leaf tables */
    /* Every source page went to its target, with its frame and
     * attributes; the source range is empty and on the batch. */
    for (size_t i = 0; i < pages; i++) {
        const vmar_addr_t x = c->huge ? i * PAGE : c->off[i];
        at = c->to + x;
        assert_int_equal(vmar__radix_find_next(&rx, &at, at + PAGE, &got), 0);
        assert_int_equal(got.pa, XF_PA + i * PAGE);
        assert_int_equal(got.prot, VMAR_PROT_READ | VMAR_PROT_WRITE);
        assert_int_equal(got.cache, VMAR_CACHE_UC);
        assert_true(b.lo <= c->va + x && c->va + x < b.hi);
    }
    at = c->va;
    assert_int_equal(vmar__radix_find_next(&rx, &at, c->va + c->len, &got),
                     VMAR_ENOENT);
    at = c->to;
    for (size_t i = 0; i < pages; i++) {
        assert_int_equal(vmar__radix_find_next(&rx, &at, c->to + c->len, &got),
                         0);
        at += PAGE;
    }
    assert_int_equal(vmar__radix_find_next(&rx, &at, c->to + c->len, &got),
                     VMAR_ENOENT);
    assert_int_equal(b.nfree, c->freed);
    /* The cases count a 4-level table's; a 3-level one has no L2. */
    assert_int_equal(rx.tables, c->tables + fmt.levels - 4);
    /* A huge leaf became base pages; words moved are leaves still. */
    assert_int_equal(rx.leaves - leaves0, pages - (c->huge ? 1 : c->n));
    vmar_tlb_batch_finish(&b);

    vmar_tlb_batch_init(&b, env, &no_tlb, NULL);
    assert_int_equal(
        vmar__radix_unmap(&rx, 0, vmar__radix_limit(&fmt), NULL, &b), pages);
    vmar_tlb_batch_finish(&b);
    assert_int_equal(rx.tables, 1);
    vmar__radix_fini(&rx); /* asserts every table page was counted */
    assert_int_equal(frames_live(sim), 0);
    vmar_sim_destroy(sim);
}

/* Offsets i * step for i in [0, n). */
static void xf_fill(struct xf_case *c, size_t n, vmar_addr_t first,
                    vmar_addr_t step)
{
    c->n = n;
    for (size_t i = 0; i < n; i++)
        c->off[i] = first + i * step;
}

static void transfer_cases(const struct vmar__pt_format *fmt)
{
    const vmar_addr_t B = GIB; /* block 0 of the table, 2 MiB each */
    struct xf_case c;

    /* The benchmark's move: 64 pages to 1 MiB further, one leaf table
     * for both; no table is taken or freed (root, L2, L1, leaf table). */
    c = XF("same leaf table", B, 64 * PAGE, B + MIB);
    xf_fill(&c, 64, 0, PAGE);
    c.freed = 0, c.tables = 4;
    xf_run(fmt, &c);

    /* Two whole leaf tables, aligned alike, in the same GiB: relinked,
     * no table taken or freed. */
    c = XF("relink, same GiB", B + 4 * MIB, 4 * MIB, B + 64 * MIB);
    xf_fill(&c, 128, PAGE, 8 * PAGE);
    c.freed = 0, c.tables = 5;
    xf_run(fmt, &c);

    /* The same to another GiB: its L1 table comes from the reservation,
     * and the source's L1 table, left empty, goes. */
    c = XF("relink, other GiB", B + 4 * MIB, 4 * MIB, 5 * GIB + 4 * MIB);
    xf_fill(&c, 128, PAGE, 8 * PAGE);
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);

    /* A whole table and a part of the next, aligned alike: one relinked,
     * one moved word by word into a new leaf table. */
    c = XF("relink and part", B + 2 * MIB, 3 * MIB, B + 32 * MIB);
    xf_fill(&c, 96, 0, 8 * PAGE);
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);

    /* Unaligned, across a leaf-table boundary, partial tables, into a
     * GiB without tables: both source leaf tables and their L1 table go,
     * the target takes an L1 and a leaf table. */
    c = XF("unaligned, new GiB", B + 2 * MIB - 8 * PAGE, 16 * PAGE,
           7 * GIB + 7 * PAGE);
    xf_fill(&c, 8, PAGE, 2 * PAGE);
    c.freed = 3, c.tables = 4;
    xf_run(fmt, &c);

    /* The target straddles two target leaf tables from one source
     * table. */
    c = XF("one source table, two target tables", B + 8 * MIB, 2 * MIB,
           B + 32 * MIB + MIB);
    xf_fill(&c, 128, 0, 4 * PAGE);
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);

    /* The target below the source, sharing the source's first leaf
     * table: [B+1M, B+3M) <- [B+3M, B+5M). Block 1's table must stay
     * linked while block 2's words land in it (reserved as present);
     * block 2's goes. */
    c = XF("edge table kept", B + 3 * MIB, 2 * MIB, B + MIB);
    xf_fill(&c, 64, 0, 8 * PAGE);
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);

    /* The same with leaves in block 1 only: block 1's table, which the
     * target was to share, ends empty and goes after the pass. */
    c = XF("edge table empty", B + 3 * MIB, 2 * MIB, B + MIB);
    xf_fill(&c, 32, 0, 8 * PAGE);
    c.freed = 1, c.tables = 4;
    xf_run(fmt, &c);

    /* The target above the source, sharing its last leaf table. */
    c = XF("edge table above", B + MIB, 2 * MIB, B + 3 * MIB);
    xf_fill(&c, 64, 0, 8 * PAGE);
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);

    /* A 2 MiB leaf moved to an unaligned target: base pages in two new
     * leaf tables of another GiB; the source's L1 table goes. */
    c = XF("huge leaf", B + 2 * MIB, 2 * MIB, 2 * GIB + 5 * PAGE);
    c.huge = true;
    c.freed = 1, c.tables = 5;
    xf_run(fmt, &c);
}

static void test_transfer(void **state)
{
    (void)state;
    transfer_cases(&vmar__sim_pt_format);
    transfer_cases(&vmar__x86_pt_format_4l);
    transfer_cases(&vmar__rv_pt_format_sv39);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_next_cost),
        cmocka_unit_test(test_walker_huge_leaf),
        cmocka_unit_test(test_probe_map_empty),
        cmocka_unit_test(test_format_masks),
        cmocka_unit_test(test_huge_split_unprepared_aborts),
        cmocka_unit_test(test_lost_link_returns_page),
        cmocka_unit_test(test_race_blocks_sim),
        cmocka_unit_test(test_race_blocks_x86),
        cmocka_unit_test(test_transfer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
