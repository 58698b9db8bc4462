/* SPDX-License-Identifier: MIT */
/*
 * Split and merge: vmar_unmap() and vmar_protect() cutting mappings at the
 * ends of their range, vmar_protect() and vmar_map() merging compatible
 * neighbours afterwards (the merge predicate itself, on hand-built
 * mappings: tests/whitebox/test_merge_predicate.c).
 *
 * Layouts are compared as /proc/pid/maps text; every call goes through the
 * harness wrappers, which run vmar_check() (no overlap, no mergeable
 * neighbours left apart, counters equal to sums, leaves within their
 * mapping's permissions) after it.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define R    ((unsigned)VMAR_PROT_READ)
#define W    ((unsigned)VMAR_PROT_WRITE)
#define X    ((unsigned)VMAR_PROT_EXEC)
#define RW   (R | W)
#define RX   (R | X)
#define RWX  ((unsigned)VMAR_PROT_RWX)
#define NONE ((unsigned)VMAR_PROT_NONE)

#define LO ((vmar_addr_t)0x100000)
#define HI ((vmar_addr_t)0x40000000)
/* The mappings under test start here. */
#define A ((vmar_addr_t)0x20000000)

/* Expected layouts are /proc/pid/maps text. A stack's line ends in
 * "[stack]" after padding to column 73; with 8-digit addresses the line
 * before the padding is 39 characters, so the padding is 34 spaces. */
#define STK "                                  [stack]"

/* ---- helpers ------------------------------------------------------------- */

static void setup(struct vt *vt, vmar_size_t guard)
{
    struct vmar_space_opts o = {
        .user_lo = LO, .user_hi = HI, .stack_guard = guard};

    vt_setup_tracked(vt, &o, 0);
}

/* Fixed map with all options; asserts success. */
static void map_at(struct vt *vt, vmar_addr_t addr, vmar_size_t size,
                   unsigned prot, unsigned deny, unsigned flags,
                   const char *file, int line)
{
    struct vmar_map_opts o = {.addr = addr,
                              .size = size,
                              .prot = prot,
                              .deny_prot = deny,
                              .place = VMAR_PLACE_FIXED,
                              .flags = flags};
    vmar_addr_t got = 0;

    vt_expect_rc_at(vt_map_opts(vt, &o, &got), 0, "vmar_map", file, line);
    _assert_int_equal(got, addr, file, line);
}
#define MAPF(vt, a_, s_, p_, fl_)                                              \
    map_at((vt), (a_), (s_), (p_), 0, (fl_), __FILE__, __LINE__)
#define MAPD(vt, a_, s_, p_, d_, fl_)                                          \
    map_at((vt), (a_), (s_), (p_), (d_), (fl_), __FILE__, __LINE__)

#define UNMAP(vt, a_, s_)                                                      \
    vt_expect_rc_at(vt_unmap((vt), (a_), (s_)), 0, "vmar_unmap", __FILE__,     \
                    __LINE__)
#define PROTECT(vt, a_, s_, p_)                                                \
    vt_expect_rc_at(vt_protect((vt), (a_), (s_), (p_)), 0, "vmar_protect",     \
                    __FILE__, __LINE__)

/* A call that must fail with `want` and change nothing observable. */
#define UNMAP_FAILS(vt, want, a_, s_)                                          \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        vt_expect_rc_at(vt_unmap((vt), (a_), (s_)), (want), "vmar_unmap",      \
                        __FILE__, __LINE__);                                   \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)
#define PROTECT_FAILS(vt, want, a_, s_, p_)                                    \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        vt_expect_rc_at(vt_protect((vt), (a_), (s_), (p_)), (want),            \
                        "vmar_protect", __FILE__, __LINE__);                   \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

static void expect_stats_at(struct vt *vt, size_t count, vmar_size_t total,
                            vmar_size_t resident, const char *file, int line)
{
    struct vmar_stats s;

    vmar_stats(vt->space, &s);
    _assert_int_equal(s.map_count, count, file, line);
    _assert_int_equal(s.total_vm, total, file, line);
    _assert_int_equal(s.resident, resident, file, line);
}
#define EXPECT_STATS(vt, count, total, resident)                               \
    expect_stats_at((vt), (count), (total), (resident), __FILE__, __LINE__)

/* Backend-aware: real backends' counters come from the harness. */
static struct vmar_sim_stats sim_stats(struct vt *vt)
{
    return vt_stats(vt);
}

/* The permissions of the present leaf at `va`, read through the backend's
 * find_next (the core's own view of the page table). */
static unsigned leaf_prot_at(struct vt *vt, vmar_addr_t va, const char *file,
                             int line)
{
    struct vmar_pte pte;
    vmar_addr_t at = va;

    _assert_int_equal(vt->opts.mmu->find_next(vt->table, &at, va + PG, &pte), 0,
                      file, line);
    _assert_int_equal(at, va, file, line);
    return pte.prot;
}
#define LEAF_PROT(vt, va) leaf_prot_at((vt), (va), __FILE__, __LINE__)

/* ---- unmap --------------------------------------------------------------- */

/* A hole in one mapping splits it; the leaves in the hole go and their
 * frames are freed. */
static void test_unmap_hole(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, VMAR_MAP_POPULATE);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    UNMAP(&vt, A + 2 * PG, 2 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0\n"
                          "20004000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 6 * PG, 6 * PG);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    assert_int_equal(s1.leaves_live, 6);
    assert_int_equal(s1.frames_live, s0.frames_live - 2);
    assert_true(s1.flushes > s0.flushes);
    /* Both pieces keep their leaves. */
    assert_int_equal(LEAF_PROT(&vt, A + PG), RW);
    assert_int_equal(LEAF_PROT(&vt, A + 4 * PG), RW);
    /* A one-page hole at the edge of a piece. */
    UNMAP(&vt, A + 4 * PG, PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0\n"
                          "20005000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 5 * PG, 5 * PG);
    vt_teardown_tracked(&vt);
}

static void test_unmap_prefix(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, 0);
    /* The range may start in free space below the mapping. */
    UNMAP(&vt, A - 4 * PG, 6 * PG);
    VT_EXPECT_LAYOUT(&vt, "20002000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 6 * PG, 0);
    UNMAP(&vt, A + 2 * PG, PG);
    VT_EXPECT_LAYOUT(&vt, "20003000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 5 * PG, 0);
    vt_teardown_tracked(&vt);
}

static void test_unmap_suffix(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RX, VMAR_MAP_POPULATE);
    UNMAP(&vt, A + 6 * PG, 2 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20006000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 6 * PG, 6 * PG);
    /* ... and reaching into free space above. */
    UNMAP(&vt, A + 5 * PG, 100 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20005000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 5 * PG, 5 * PG);
    assert_int_equal(sim_stats(&vt).leaves_live, 5);
    vt_teardown_tracked(&vt);
}

/* One range across several mappings and the holes between them: the outer
 * two are cut, the inner ones removed. */
static void test_unmap_across_several(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 2 * PG, RW, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 3 * PG, 2 * PG, R, 0);
    MAPF(&vt, A + 6 * PG, 2 * PG, RX, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 9 * PG, PG, RW, 0);
    EXPECT_STATS(&vt, 4, 7 * PG, 4 * PG);
    UNMAP(&vt, A + PG, 6 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20001000 rw-p 00000000 00:00 0\n"
                          "20007000-20008000 r-xp 00000000 00:00 0\n"
                          "20009000-2000a000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 3 * PG, 2 * PG);
    assert_int_equal(sim_stats(&vt).leaves_live, 2);
    vt_teardown_tracked(&vt);
}

/* Unmapping where nothing is mapped succeeds and does nothing at all. */
static void test_unmap_nothing_mapped(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    (void)state;

    setup(&vt, 0);
    /* Empty space, the whole user range. */
    vt_snap_take(&vt, &snap);
    UNMAP(&vt, LO, HI - LO);
    VT_EXPECT_UNCHANGED(&vt, &snap);

    MAPF(&vt, A, 2 * PG, RW, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 8 * PG, 2 * PG, RW, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    vt_snap_take(&vt, &snap);
    UNMAP(&vt, A + 2 * PG, 6 * PG); /* exactly the hole between them */
    UNMAP(&vt, LO, A - LO);         /* everything below */
    UNMAP(&vt, A + 10 * PG, PG);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    assert_int_equal(s1.alloc_calls, s0.alloc_calls);
    assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls);
    assert_int_equal(s1.flushes, s0.flushes);
    vt_teardown_tracked(&vt);
}

static void test_unmap_whole(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    MAPF(&vt, A, 4 * PG, RW, VMAR_MAP_POPULATE);
    UNMAP(&vt, A, 4 * PG);
    VT_EXPECT_LAYOUT(&vt, "");
    EXPECT_STATS(&vt, 0, 0, 0);
    /* Every frame and emptied page table is back. */
    assert_int_equal(sim_stats(&vt).frames_live, s0.frames_live);
    assert_int_equal(sim_stats(&vt).tables_live, s0.tables_live);

    /* Several whole mappings by one covering range. */
    MAPF(&vt, A, 2 * PG, RW, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 2 * PG, 2 * PG, R, 0);
    MAPF(&vt, A + 5 * PG, PG, RW, VMAR_MAP_STACK);
    UNMAP(&vt, A, 6 * PG);
    VT_EXPECT_LAYOUT(&vt, "");
    EXPECT_STATS(&vt, 0, 0, 0);
    assert_int_equal(sim_stats(&vt).frames_live, s0.frames_live);
    vt_teardown_tracked(&vt);
}

static void test_unmap_invalid(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 4 * PG, RW, 0);
    UNMAP_FAILS(&vt, VMAR_EINVAL, A + 1, PG);
    UNMAP_FAILS(&vt, VMAR_EINVAL, A, PG + 1);
    UNMAP_FAILS(&vt, VMAR_EINVAL, A, 0);
    UNMAP_FAILS(&vt, VMAR_EINVAL, LO - PG, 2 * PG);
    UNMAP_FAILS(&vt, VMAR_EINVAL, HI - PG, 2 * PG);
    UNMAP_FAILS(&vt, VMAR_EINVAL, UINT64_C(0xfffffffffffff000), 2 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* A hole in a stack leaves two stack pieces, each with the guard below it:
 * the hole lies in the upper piece's guard and is not a free gap. */
static void test_unmap_hole_in_stack(void **state)
{
    struct vt vt;
    vmar_addr_t got;
    (void)state;

    setup(&vt, 16 * PG);
    MAPF(&vt, HI - 8 * PG, 8 * PG, RW, VMAR_MAP_STACK);
    UNMAP(&vt, HI - 6 * PG, 2 * PG);
    VT_EXPECT_LAYOUT(&vt, "3fff8000-3fffa000 rw-p 00000000 00:00 0" STK "\n"
                          "3fffc000-40000000 rw-p 00000000 00:00 0" STK "\n");
    assert_int_equal(vt_map(&vt, 0, PG, R, VMAR_PLACE_ANY, 0, &got), 0);
    assert_int_equal(got, HI - 25 * PG);
    vt_teardown_tracked(&vt);
}

/* ---- protect ------------------------------------------------------------- */

/* The demo scenario: protect the middle of a mapping (one becomes three),
 * then protect it back (three become one). */
static void test_protect_middle_then_back(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, 0);
    PROTECT(&vt, A + 2 * PG, 2 * PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0\n"
                          "20002000-20004000 r--p 00000000 00:00 0\n"
                          "20004000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 8 * PG, 0);
    struct vmar_mapping_info i;
    assert_int_equal(vmar_query(vt.space, A + 3 * PG, &i), 0);
    assert_int_equal(i.start, A + 2 * PG);
    assert_int_equal(i.end, A + 4 * PG);
    assert_int_equal(i.prot, R);
    assert_int_equal(i.max_prot, RWX);
    PROTECT(&vt, A + 2 * PG, 2 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 0);
    vt_teardown_tracked(&vt);
}

static void test_protect_prefix_suffix(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, 0);
    PROTECT(&vt, A, 2 * PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n"
                          "20002000-20008000 rw-p 00000000 00:00 0\n");
    PROTECT(&vt, A + 6 * PG, 2 * PG, RX);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n"
                          "20002000-20006000 rw-p 00000000 00:00 0\n"
                          "20006000-20008000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 8 * PG, 0);
    /* Growing the R prefix moves the boundary: still three. */
    PROTECT(&vt, A + 2 * PG, PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20003000 r--p 00000000 00:00 0\n"
                          "20003000-20006000 rw-p 00000000 00:00 0\n"
                          "20006000-20008000 r-xp 00000000 00:00 0\n");
    PROTECT(&vt, A, 3 * PG, RW);
    PROTECT(&vt, A + 6 * PG, 2 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* Adjacent mappings that differ only in prot become mergeable when one
 * protect covers them all; they must merge (Linux leaves them apart). */
static void test_protect_across_adjacent_merges(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 2 * PG, R, 0);
    MAPF(&vt, A + 2 * PG, 2 * PG, RW, 0);
    MAPF(&vt, A + 4 * PG, 2 * PG, RX, 0);
    MAPF(&vt, A + 6 * PG, 2 * PG, NONE, 0);
    EXPECT_STATS(&vt, 4, 8 * PG, 0);
    /* Partial ends: the outer two are cut, the inner ones all become RW. */
    PROTECT(&vt, A + PG, 6 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20001000 r--p 00000000 00:00 0\n"
                          "20001000-20007000 rw-p 00000000 00:00 0\n"
                          "20007000-20008000 ---p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 8 * PG, 0);
    /* All of it. */
    PROTECT(&vt, A, 8 * PG, RX);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 0);
    vt_teardown_tracked(&vt);
}

/*
 * Asterinas #2917: mprotect over several adjacent mappings where changing
 * the first makes it merge with the next one, which the loop then visits
 * again. Here: the re-protect must succeed and leave one mapping.
 */
static void test_protect_reprotect_split_range(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    /* The reproducer: two pages, protect the first, then both back. */
    MAPF(&vt, A, 2 * PG, RW, VMAR_MAP_POPULATE);
    PROTECT(&vt, A, PG, R);
    EXPECT_STATS(&vt, 2, 2 * PG, 2 * PG);
    PROTECT(&vt, A, 2 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 2 * PG, 2 * PG);
    assert_int_equal(LEAF_PROT(&vt, A), RW);
    /* The mirror image: the second changes and merges with the first. */
    PROTECT(&vt, A + PG, PG, R);
    PROTECT(&vt, A, 2 * PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 2 * PG, 2 * PG);

    /* Three pieces r / rw / r re-protected whole, both ways. */
    MAPF(&vt, A + 16 * PG, 4 * PG, RW, 0);
    PROTECT(&vt, A + 17 * PG, PG, R);
    PROTECT(&vt, A + 19 * PG, PG, R);
    EXPECT_STATS(&vt, 5, 6 * PG, 2 * PG);
    PROTECT(&vt, A + 16 * PG, 4 * PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n"
                          "20010000-20014000 r--p 00000000 00:00 0\n");
    PROTECT(&vt, A + 18 * PG, PG, RW);
    EXPECT_STATS(&vt, 4, 6 * PG, 2 * PG);
    PROTECT(&vt, A + 16 * PG, 4 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n"
                          "20010000-20014000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 6 * PG, 2 * PG);
    vt_teardown_tracked(&vt);
}

/* Protecting to the permissions a range already has splits nothing,
 * allocates nothing and touches no page table. */
static void test_protect_noop_allocates_nothing(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 8 * PG, 4 * PG, R, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    vt_snap_take(&vt, &snap);
    PROTECT(&vt, A + 2 * PG, 2 * PG, RW); /* inside one mapping */
    PROTECT(&vt, A, 8 * PG, RW);          /* exactly one mapping */
    PROTECT(&vt, A + 9 * PG, PG, R);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    assert_int_equal(s1.alloc_calls, s0.alloc_calls);
    assert_int_equal(s1.frame_alloc_calls, s0.frame_alloc_calls);
    assert_int_equal(s1.protects, s0.protects);
    assert_int_equal(s1.flushes, s0.flushes);
    /* A range over two mappings of which only one changes splits only
     * that one: one node allocated (and freed again by the merge). */
    PROTECT(&vt, A + 6 * PG, 4 * PG, RW);
    assert_int_equal(sim_stats(&vt).alloc_calls, s1.alloc_calls + 1);
    VT_EXPECT_LAYOUT(&vt, "20000000-2000a000 rw-p 00000000 00:00 0\n"
                          "2000a000-2000c000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* Protect rewrites the leaves of populated pages: they follow the mapping
 * down and up, stay present (resident unchanged) and vmar_check (which
 * rejects a leaf granting more than its mapping) stays clean. */
static void test_protect_populated_leaves(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 8 * PG, RW, VMAR_MAP_POPULATE);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    PROTECT(&vt, A + 2 * PG, 4 * PG, R);
    EXPECT_STATS(&vt, 3, 8 * PG, 8 * PG);
    assert_true(sim_stats(&vt).protects > s0.protects);
    assert_true(sim_stats(&vt).flushes > s0.flushes);
    assert_int_equal(LEAF_PROT(&vt, A + PG), RW);
    for (vmar_addr_t va = A + 2 * PG; va < A + 6 * PG; va += PG)
        assert_int_equal(LEAF_PROT(&vt, va), R);
    assert_int_equal(LEAF_PROT(&vt, A + 6 * PG), RW);

    PROTECT(&vt, A + 3 * PG, 2 * PG, NONE);
    EXPECT_STATS(&vt, 5, 8 * PG, 8 * PG);
    assert_int_equal(LEAF_PROT(&vt, A + 3 * PG), NONE);
    assert_int_equal(LEAF_PROT(&vt, A + 2 * PG), R);

    /* Up again, beyond the original (RWX is within max_prot). */
    PROTECT(&vt, A, 8 * PG, RWX);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rwxp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 8 * PG);
    for (vmar_addr_t va = A; va < A + 8 * PG; va += PG)
        assert_int_equal(LEAF_PROT(&vt, va), RWX);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    assert_int_equal(s1.leaves_live, 8);
    assert_int_equal(s1.frames_live, s0.frames_live);
    vt_teardown_tracked(&vt);
}

/* Failing protects change nothing: a hole, a permission beyond a
 * mapping's maximum (even after mappings that could change), bad input. */
static void test_protect_errors(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 4 * PG, RW, 0);
    MAPD(&vt, A + 4 * PG, 4 * PG, R, W, 0); /* max r-x */
    MAPF(&vt, A + 10 * PG, 2 * PG, RW, 0);
    PROTECT_FAILS(&vt, VMAR_ENOMEM, A + 6 * PG, 6 * PG, R); /* hole at 8-10 */
    PROTECT_FAILS(&vt, VMAR_ENOMEM, A - PG, 2 * PG, R);
    PROTECT_FAILS(&vt, VMAR_ENOMEM, A + 20 * PG, PG, R);
    PROTECT_FAILS(&vt, VMAR_EACCES, A + PG, 6 * PG, RW);
    PROTECT_FAILS(&vt, VMAR_EACCES, A + 5 * PG, PG, RWX);
    PROTECT_FAILS(&vt, VMAR_EINVAL, A, PG, 1u << 3);
    PROTECT_FAILS(&vt, VMAR_EINVAL, A + 1, PG, R);
    PROTECT_FAILS(&vt, VMAR_EINVAL, A, 0, R);
    PROTECT_FAILS(&vt, VMAR_EINVAL, HI - PG, 2 * PG, R);
    /* Within the maximum works, including exec (only write is denied). */
    PROTECT(&vt, A + 4 * PG, 4 * PG, RX);
    PROTECT(&vt, A + 4 * PG, PG, NONE);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n"
                          "20004000-20005000 ---p 00000000 00:00 0\n"
                          "20005000-20008000 r-xp 00000000 00:00 0\n"
                          "2000a000-2000c000 rw-p 00000000 00:00 0\n");
    struct vmar_mapping_info i;
    assert_int_equal(vmar_query(vt.space, A + 4 * PG, &i), 0);
    assert_int_equal(i.max_prot, RX);
    vt_teardown_tracked(&vt);
}

/* A stack cut by protect keeps [stack] (and its guard) in every piece and
 * re-merges. */
static void test_protect_stack(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 16 * PG);
    MAPF(&vt, A, 8 * PG, RW, VMAR_MAP_STACK);
    PROTECT(&vt, A + 2 * PG, 2 * PG, R);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0" STK "\n"
                          "20002000-20004000 r--p 00000000 00:00 0" STK "\n"
                          "20004000-20008000 rw-p 00000000 00:00 0" STK "\n");
    PROTECT(&vt, A, 8 * PG, RW);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rw-p 00000000 00:00 0" STK "\n");
    vt_teardown_tracked(&vt);
}

/* ---- map next to compatible mappings ------------------------------------- */

static void test_map_merge_left(void **state)
{
    struct vt vt;
    vmar_addr_t got;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, 2 * PG, RW, VMAR_MAP_POPULATE);
    MAPF(&vt, A + 2 * PG, 2 * PG, RW, 0); /* populate is not an attribute */
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 4 * PG, 2 * PG);
    /* Placement: ANY top-down lands right below the top mapping and merges
     * with it (the new one is on the left). */
    MAPF(&vt, HI - 2 * PG, 2 * PG, R, 0);
    assert_int_equal(vt_map(&vt, 0, 3 * PG, R, VMAR_PLACE_ANY, 0, &got), 0);
    assert_int_equal(got, HI - 5 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n"
                          "3fffb000-40000000 r--p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 9 * PG, 2 * PG);
    vt_teardown_tracked(&vt);
}

static void test_map_merge_right(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A + 2 * PG, 2 * PG, RX, 0);
    MAPF(&vt, A, 2 * PG, RX, 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 4 * PG, 0);
    /* NOREPLACE and HINT merge too. */
    struct vmar_map_opts o = {.addr = A - PG,
                              .size = PG,
                              .prot = RX,
                              .place = VMAR_PLACE_FIXED_NOREPLACE};
    assert_int_equal(vt_map_opts(&vt, &o, NULL), 0);
    o.addr = A - 2 * PG;
    o.place = VMAR_PLACE_HINT;
    assert_int_equal(vt_map_opts(&vt, &o, NULL), 0);
    VT_EXPECT_LAYOUT(&vt, "1fffe000-20004000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 6 * PG, 0);
    vt_teardown_tracked(&vt);
}

static void test_map_merge_both(void **state)
{
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    MAPF(&vt, A, PG, RW, 0);
    MAPF(&vt, A + 3 * PG, PG, RW, 0);
    EXPECT_STATS(&vt, 2, 2 * PG, 0);
    MAPF(&vt, A + PG, 2 * PG, RW, 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 4 * PG, 0);
    /* Replacing the middle with other attributes cuts it into three;
     * replacing it back with matching ones joins all three again. */
    MAPF(&vt, A + PG, 2 * PG, R, 0);
    EXPECT_STATS(&vt, 3, 4 * PG, 0);
    MAPF(&vt, A + PG, 2 * PG, RW, 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 4 * PG, 0);
    vt_teardown_tracked(&vt);

    /* Shared anonymous memory is one object per map call (Linux's shmem):
     * neighbours from different calls never merge, the pieces of one call
     * merge again after a protect splits them. */
    setup(&vt, 0);
    MAPF(&vt, A, PG, RW, VMAR_MAP_SHARED);
    MAPF(&vt, A + PG, PG, RW, VMAR_MAP_SHARED);
    EXPECT_STATS(&vt, 2, 2 * PG, 0);
    MAPF(&vt, A + 2 * PG, 3 * PG, RW, VMAR_MAP_SHARED);
    assert_int_equal(vt_protect(&vt, A + 3 * PG, PG, R), 0);
    EXPECT_STATS(&vt, 5, 5 * PG, 0);
    assert_int_equal(vt_protect(&vt, A + 3 * PG, PG, RW), 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20001000 rw-s 00000000 00:00 0\n"
                          "20001000-20002000 rw-s 00000000 00:00 0\n"
                          "20002000-20005000 rw-s 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* Neighbours that differ in any kept attribute stay apart; identical ones
 * (for each attribute) merge. */
static void test_map_no_merge_incompatible(void **state)
{
    static const struct {
        unsigned prot, deny, flags; /* of the right-hand mapping */
        size_t count;               /* mappings afterwards */
    } rows[] = {
        {RW, 0, 0, 1},                 /* identical */
        {R, 0, 0, 2},                  /* prot */
        {RW, X, 0, 2},                 /* max_prot */
        {RW, 0, VMAR_MAP_SHARED, 2},   /* shared */
        {RW, 0, VMAR_MAP_STACK, 2},    /* stack */
        {RW, 0, VMAR_MAP_POPULATE, 1}, /* not kept */
        {RW, 0, VMAR_MAP_NO_RANDOM | VMAR_MAP_BOTTOM_UP, 1},
    };
    struct vt vt;
    (void)state;

    setup(&vt, 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        MAPF(&vt, A, 2 * PG, RW, 0);
        MAPD(&vt, A + 2 * PG, 2 * PG, rows[i].prot, rows[i].deny,
             rows[i].flags);
        struct vmar_stats s;
        vmar_stats(vt.space, &s);
        if (s.map_count != rows[i].count)
            fail_msg("row %zu: %zu mappings, expected %zu", i, s.map_count,
                     rows[i].count);
        UNMAP(&vt, A, 4 * PG);
    }
    /* Same on the other side, and with matching non-default attributes. */
    MAPD(&vt, A + 2 * PG, 2 * PG, R, W, VMAR_MAP_DONTFORK);
    MAPD(&vt, A, 2 * PG, R, W | X, VMAR_MAP_DONTFORK);
    EXPECT_STATS(&vt, 2, 4 * PG, 0);
    MAPD(&vt, A, 2 * PG, R, W, VMAR_MAP_DONTFORK);
    EXPECT_STATS(&vt, 1, 4 * PG, 0);
    MAPD(&vt, A - 2 * PG, 2 * PG, R, W, VMAR_MAP_DONTFORK | VMAR_MAP_STACK);
    VT_EXPECT_LAYOUT(&vt, "1fffe000-20000000 r--p 00000000 00:00 0" STK "\n"
                          "20000000-20004000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unmap_hole, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_prefix, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_suffix, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_across_several, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_nothing_mapped, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_whole, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_invalid, vt_cleanup),
        cmocka_unit_test_teardown(test_unmap_hole_in_stack, vt_cleanup),
        cmocka_unit_test_teardown(test_protect_middle_then_back, vt_cleanup),
        cmocka_unit_test_teardown(test_protect_prefix_suffix, vt_cleanup),
        cmocka_unit_test_teardown(test_protect_across_adjacent_merges,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_protect_reprotect_split_range,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_protect_noop_allocates_nothing,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_protect_populated_leaves, vt_cleanup),
        cmocka_unit_test_teardown(test_protect_errors, vt_cleanup),
        cmocka_unit_test_teardown(test_protect_stack, vt_cleanup),
        cmocka_unit_test_teardown(test_map_merge_left, vt_cleanup),
        cmocka_unit_test_teardown(test_map_merge_right, vt_cleanup),
        cmocka_unit_test_teardown(test_map_merge_both, vt_cleanup),
        cmocka_unit_test_teardown(test_map_no_merge_incompatible, vt_cleanup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
