/* SPDX-License-Identifier: MIT */
/*
 * The generic radix walker (src/mmu/radix.h) driven directly over the sim
 * machine's pool, with the sim page-table format
 * (src/mmu/sim/backend/sim_pte.h): what no backend's ops expose. How many
 * tables find_next enters, 2 MiB leaves in a format that allows them, and the
 * abort when a walk would have to cut a huge leaf it holds no table for.
 * White-box: the walker's counters and its format descriptor are internal. The
 * sim backend's ops over the same walker: tests/unit/test_sim.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include <vmar/error.h>
#include <vmar/mmu.h>
#include <vmar/sim.h>

#include "death.h"
#include "mmu/sim/backend/sim_pte.h"
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

    assert_int_equal(vmar_sim_create(NULL, &sim), 0);
    counting = *vmar_sim_env(sim);
    ptv.real = vmar_sim_env(sim);
    counting.phys_to_virt = counting_phys_to_virt;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_next_cost),
        cmocka_unit_test(test_walker_huge_leaf),
        cmocka_unit_test(test_huge_split_unprepared_aborts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
