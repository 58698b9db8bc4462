/* SPDX-License-Identifier: MIT */
/*
 * vmar_map(): every placement mode (ANY top-down and bottom-up, HINT,
 * FIXED_NOREPLACE, FIXED overwriting), alignment, populate, the stack
 * guard, ASLR, exhaustion, and the read side (vmar_query, vmar_iterate,
 * vmar_resident, vmar_stats) plus vmar_set_limits.
 *
 * Most tests use a small explicit user range [LO, HI) so that the expected
 * layouts are literal /proc/pid/maps text. Every layout-changing call goes
 * through the harness wrappers, which run vmar_check() afterwards; every
 * failing call is wrapped in a snapshot that proves it changed nothing.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((vmar_size_t)1 << 20)
#define GIB ((vmar_size_t)1 << 30)

/* The default test range: 1 MiB .. 1 GiB, so addresses print in 8 digits. */
#define LO ((vmar_addr_t)0x100000)
#define HI ((vmar_addr_t)0x40000000)

#define R   ((unsigned)VMAR_PROT_READ)
#define RW  ((unsigned)(VMAR_PROT_READ | VMAR_PROT_WRITE))
#define RX  ((unsigned)(VMAR_PROT_READ | VMAR_PROT_EXEC))
#define X   ((unsigned)VMAR_PROT_EXEC)
#define RWX ((unsigned)VMAR_PROT_RWX)

#define ANY    VMAR_PLACE_ANY
#define HINT   VMAR_PLACE_HINT
#define NOREPL VMAR_PLACE_FIXED_NOREPLACE
#define FIXED  VMAR_PLACE_FIXED

/* Expected layouts are /proc/pid/maps text. A stack's line ends in
 * "[stack]" after padding to column 73; with 8-digit addresses the line
 * before the padding is 39 characters, so the padding is 34 spaces. */
#define STK "                                  [stack]"

/* ---- helpers ------------------------------------------------------------- */

static void setup_range(struct vt *vt, vmar_addr_t lo, vmar_addr_t hi,
                        unsigned flags, vmar_size_t guard)
{
    struct vmar_space_opts o = {
        .user_lo = lo, .user_hi = hi, .flags = flags, .stack_guard = guard};

    vt_setup_tracked(vt, &o, 0);
}

/* Map and assert success; returns the address. */
static vmar_addr_t map_ok_at(struct vt *vt, const struct vmar_map_opts *o,
                             const char *file, int line)
{
    vmar_addr_t got = 0x5a5a5000;
    int rc = vt_map_opts(vt, o, &got);

    vt_expect_rc_at(rc, 0, "vmar_map", file, line);
    return got;
}
/* (Parameter names must not be field names: they would replace the
 * designators.) */
#define MAP(vt_, a_, sz_, pr_, pl_, fl_)                                       \
    map_ok_at((vt_),                                                           \
              &(struct vmar_map_opts){.addr = (a_),                            \
                                      .size = (sz_),                           \
                                      .prot = (pr_),                           \
                                      .place = (pl_),                          \
                                      .flags = (fl_)},                         \
              __FILE__, __LINE__)
#define MAP_ALIGNED(vt_, a_, sz_, al_, pr_, pl_, fl_)                          \
    map_ok_at((vt_),                                                           \
              &(struct vmar_map_opts){.addr = (a_),                            \
                                      .size = (sz_),                           \
                                      .align = (al_),                          \
                                      .prot = (pr_),                           \
                                      .place = (pl_),                          \
                                      .flags = (fl_)},                         \
              __FILE__, __LINE__)

/* Map expecting the error `want`, and prove the space did not change. */
static void map_fails_at(struct vt *vt, const struct vmar_map_opts *o, int want,
                         const char *file, int line)
{
    struct vt_snap snap;
    vmar_addr_t got = 0x5a5a5000;

    vt_snap_take(vt, &snap);
    int rc = vt_map_opts(vt, o, &got);
    vt_expect_rc_at(rc, want, "vmar_map", file, line);
    _assert_int_equal(got, 0x5a5a5000, file, line); /* *out untouched */
    vt_expect_unchanged_at(vt, &snap, file, line);
}
#define MAP_FAILS(vt, want, ...)                                               \
    map_fails_at((vt), &(struct vmar_map_opts){__VA_ARGS__}, (want), __FILE__, \
                 __LINE__)

static struct vmar_stats get_stats(struct vt *vt)
{
    struct vmar_stats s;

    memset(&s, 0xa5, sizeof(s));
    vmar_stats(vt->space, &s);
    return s;
}

/* Backend-aware: real backends' counters come from the harness. */
static struct vmar_sim_stats sim_stats(struct vt *vt)
{
    return vt_stats(vt);
}

static void expect_stats_at(struct vt *vt, size_t count, vmar_size_t total,
                            vmar_size_t resident, const char *file, int line)
{
    struct vmar_stats s = get_stats(vt);

    _assert_int_equal(s.map_count, count, file, line);
    _assert_int_equal(s.total_vm, total, file, line);
    _assert_int_equal(s.resident, resident, file, line);
}
#define EXPECT_STATS(vt, count, total, resident)                               \
    expect_stats_at((vt), (count), (total), (resident), __FILE__, __LINE__)

static struct vmar_mapping_info query_ok_at(struct vt *vt, vmar_addr_t addr,
                                            const char *file, int line)
{
    struct vmar_mapping_info info;

    memset(&info, 0xa5, sizeof(info));
    vt_expect_rc_at(vmar_query(vt->space, addr, &info), 0, "vmar_query", file,
                    line);
    return info;
}
#define QUERY(vt, addr) query_ok_at((vt), (addr), __FILE__, __LINE__)

static void unmap_ok_at(struct vt *vt, vmar_addr_t a, vmar_size_t s,
                        const char *file, int line)
{
    vt_expect_rc_at(vt_unmap(vt, a, s), 0, "vmar_unmap", file, line);
}
#define UNMAP(vt, a, s) unmap_ok_at((vt), (a), (s), __FILE__, __LINE__)

/* ---- ANY: direction ------------------------------------------------------ */

/* Top-down is the default: each ANY takes the highest fit under user_hi,
 * `addr` is ignored, and a hole that exactly fits is the highest fit. */
static void test_any_top_down_default(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    assert_int_equal(MAP(&vt, 0x12345000, 2 * PG, RW, ANY, 0), HI - 2 * PG);
    assert_int_equal(MAP(&vt, LO, PG, R, ANY, 0), HI - 3 * PG);
    assert_int_equal(MAP(&vt, 0, 3 * PG, RW, ANY, 0), HI - 6 * PG);
    VT_EXPECT_LAYOUT(&vt, "3fffa000-3fffd000 rw-p 00000000 00:00 0\n"
                          "3fffd000-3fffe000 r--p 00000000 00:00 0\n"
                          "3fffe000-40000000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 6 * PG, 0);

    /* Reopen the one-page hole: a one-page request fills it (highest fit)
     * and, being compatible with both neighbours, merges them. */
    UNMAP(&vt, HI - 3 * PG, PG);
    assert_int_equal(MAP(&vt, 0, PG, RW, ANY, 0), HI - 3 * PG);
    VT_EXPECT_LAYOUT(&vt, "3fffa000-40000000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 6 * PG, 0);

    /* A two-page request cannot use a one-page hole. */
    UNMAP(&vt, HI - 4 * PG, PG);
    assert_int_equal(MAP(&vt, 0, 2 * PG, R, ANY, 0), HI - 8 * PG);
    VT_EXPECT_LAYOUT(&vt, "3fff8000-3fffa000 r--p 00000000 00:00 0\n"
                          "3fffa000-3fffc000 rw-p 00000000 00:00 0\n"
                          "3fffd000-40000000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* With no explicit range the space spans [VMAR_DEFAULT_USER_LO,
 * mmu->user_top) and ANY lands just under the backend's top. */
static void test_any_default_user_range(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup_tracked(&vt, NULL, 0);
    struct vmar_stats s = get_stats(&vt);
    assert_int_equal(s.user_lo, VMAR_DEFAULT_USER_LO);
    assert_int_equal(s.user_hi, VT_USER_TOP);
    assert_int_equal(MAP(&vt, 0, 4 * PG, RW, ANY, 0), VT_USER_TOP - 4 * PG);
    assert_int_equal(MAP(&vt, 0, PG, R, ANY, VMAR_MAP_BOTTOM_UP),
                     VMAR_DEFAULT_USER_LO);
    EXPECT_STATS(&vt, 2, 5 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* VMAR_SPACE_BOTTOM_UP makes ANY take the lowest fit; VMAR_MAP_TOP_DOWN
 * overrides it for one call. */
static void test_space_bottom_up(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, VMAR_SPACE_BOTTOM_UP, 0);
    assert_int_equal(MAP(&vt, 0, 2 * PG, RW, ANY, 0), LO);
    assert_int_equal(MAP(&vt, 0, PG, R, ANY, 0), LO + 2 * PG);
    assert_int_equal(MAP(&vt, 0, PG, RW, ANY, VMAR_MAP_TOP_DOWN), HI - PG);
    assert_int_equal(MAP(&vt, 0, PG, RW, ANY, 0), LO + 3 * PG);
    VT_EXPECT_LAYOUT(&vt, "00100000-00102000 rw-p 00000000 00:00 0\n"
                          "00102000-00103000 r--p 00000000 00:00 0\n"
                          "00103000-00104000 rw-p 00000000 00:00 0\n"
                          "3ffff000-40000000 rw-p 00000000 00:00 0\n");
    /* A hole at the bottom is the lowest fit. */
    UNMAP(&vt, LO, PG);
    assert_int_equal(MAP(&vt, 0, PG, RX, ANY, 0), LO);
    /* ... unless it is too small. */
    assert_int_equal(MAP(&vt, 0, 2 * PG, RX, ANY, 0), LO + 4 * PG);
    VT_EXPECT_LAYOUT(&vt, "00100000-00101000 r-xp 00000000 00:00 0\n"
                          "00101000-00102000 rw-p 00000000 00:00 0\n"
                          "00102000-00103000 r--p 00000000 00:00 0\n"
                          "00103000-00104000 rw-p 00000000 00:00 0\n"
                          "00104000-00106000 r-xp 00000000 00:00 0\n"
                          "3ffff000-40000000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* Per-call direction flags in a top-down space; they do not persist in the
 * mapping, and asking for both is invalid. */
static void test_per_call_direction(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    vmar_addr_t a = MAP(&vt, 0, 2 * PG, RW, ANY, VMAR_MAP_BOTTOM_UP);
    assert_int_equal(a, LO);
    assert_int_equal(MAP(&vt, 0, PG, R, ANY, VMAR_MAP_TOP_DOWN), HI - PG);
    assert_int_equal(MAP(&vt, 0, PG, R, ANY, VMAR_MAP_BOTTOM_UP), LO + 2 * PG);
    assert_int_equal(MAP(&vt, 0, PG, RW, ANY, 0), HI - 2 * PG);
    assert_int_equal(QUERY(&vt, a).flags, 0);
    assert_int_equal(QUERY(&vt, HI - PG).flags, 0);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R, .place = ANY,
              .flags = VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R, .place = HINT,
              .addr = 0x20000000,
              .flags = VMAR_MAP_BOTTOM_UP | VMAR_MAP_TOP_DOWN);
    VT_EXPECT_LAYOUT(&vt, "00100000-00102000 rw-p 00000000 00:00 0\n"
                          "00102000-00103000 r--p 00000000 00:00 0\n"
                          "3fffe000-3ffff000 rw-p 00000000 00:00 0\n"
                          "3ffff000-40000000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* ---- HINT ---------------------------------------------------------------- */

static void test_hint(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    /* Straddling user_hi: not usable, falls back to the top-down fit. */
    assert_int_equal(MAP(&vt, HI - PG, 2 * PG, R, HINT, 0), HI - 2 * PG);
    /* Free: taken exactly. */
    assert_int_equal(MAP(&vt, 0x20000000, 2 * PG, RW, HINT, 0), 0x20000000);
    /* Overlapping the previous one from above, then from below. */
    assert_int_equal(MAP(&vt, 0x20001000, 2 * PG, RX, HINT, 0), HI - 4 * PG);
    assert_int_equal(MAP(&vt, 0x1ffff000, 2 * PG, RX, HINT, 0), HI - 6 * PG);
    /* Free and touching an existing mapping: still exact. */
    assert_int_equal(MAP(&vt, 0x1fffe000, 2 * PG, RX, HINT, 0), 0x1fffe000);
    /* Below user_lo, above user_hi, wrapping: fall back. */
    assert_int_equal(MAP(&vt, 0x1000, PG, RW, HINT, 0), HI - 7 * PG);
    assert_int_equal(MAP(&vt, 0x50000000, PG, R, HINT, 0), HI - 8 * PG);
    assert_int_equal(
        MAP(&vt, UINT64_C(0xfffffffffffff000), 2 * PG, RW, HINT, 0),
        HI - 10 * PG);
    /* Unaligned hint: invalid, not a fallback. */
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = 0x20000800, .size = PG, .prot = R,
              .place = HINT);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = 0x20001000, .size = 2 * MIB,
              .align = 2 * MIB, .prot = R, .place = HINT);
    /* Occupied with a per-call bottom-up fallback. */
    assert_int_equal(MAP(&vt, 0x20000000, PG, RX, HINT, VMAR_MAP_BOTTOM_UP),
                     LO);
    /* Exactly at user_lo + page, free. */
    assert_int_equal(MAP(&vt, LO + PG, PG, R, HINT, 0), LO + PG);
    VT_EXPECT_LAYOUT(&vt, "00100000-00101000 r-xp 00000000 00:00 0\n"
                          "00101000-00102000 r--p 00000000 00:00 0\n"
                          "1fffe000-20000000 r-xp 00000000 00:00 0\n"
                          "20000000-20002000 rw-p 00000000 00:00 0\n"
                          "3fff6000-3fff8000 rw-p 00000000 00:00 0\n"
                          "3fff8000-3fff9000 r--p 00000000 00:00 0\n"
                          "3fff9000-3fffa000 rw-p 00000000 00:00 0\n"
                          "3fffa000-3fffe000 r-xp 00000000 00:00 0\n"
                          "3fffe000-40000000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* A hint in a bottom-up space that is free is exact; occupied falls back
 * bottom-up. */
static void test_hint_bottom_up_space(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, VMAR_SPACE_BOTTOM_UP, 0);
    assert_int_equal(MAP(&vt, 0x30000000, 4 * PG, RW, HINT, 0), 0x30000000);
    assert_int_equal(MAP(&vt, 0x30002000, 4 * PG, R, HINT, 0), LO);
    assert_int_equal(MAP(&vt, 0x30002000, PG, R, HINT, VMAR_MAP_TOP_DOWN),
                     HI - PG);
    VT_EXPECT_LAYOUT(&vt, "00100000-00104000 r--p 00000000 00:00 0\n"
                          "30000000-30004000 rw-p 00000000 00:00 0\n"
                          "3ffff000-40000000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* ---- FIXED_NOREPLACE ----------------------------------------------------- */

static void test_fixed_noreplace(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    assert_int_equal(MAP(&vt, 0x20000000, 4 * PG, RW, NOREPL, 0), 0x20000000);
    /* Any overlap, of one page or all of it, is VMAR_EEXIST. */
    MAP_FAILS(&vt, VMAR_EEXIST, .addr = 0x20003000, .size = 2 * PG, .prot = R,
              .place = NOREPL);
    MAP_FAILS(&vt, VMAR_EEXIST, .addr = 0x1ffff000, .size = 2 * PG, .prot = R,
              .place = NOREPL);
    MAP_FAILS(&vt, VMAR_EEXIST, .addr = 0x1fff0000, .size = 64 * PG, .prot = R,
              .place = NOREPL);
    MAP_FAILS(&vt, VMAR_EEXIST, .addr = 0x20001000, .size = PG, .prot = RW,
              .place = NOREPL);
    /* Leaving the user range is invalid. */
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = HI - PG, .size = 2 * PG, .prot = R,
              .place = NOREPL);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = LO - PG, .size = 2 * PG, .prot = R,
              .place = NOREPL);
    /* Adjacent is fine; compatible neighbours merge. */
    assert_int_equal(MAP(&vt, 0x20004000, 2 * PG, R, NOREPL, 0), 0x20004000);
    assert_int_equal(MAP(&vt, 0x20006000, PG, R, NOREPL, 0), 0x20006000);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n"
                          "20004000-20007000 r--p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 7 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* ---- FIXED: overwriting -------------------------------------------------- */

/* A FIXED over the start of a mapping (and the free space below it), then
 * over its end (and the free space above it). */
static void test_fixed_overwrite_prefix_suffix(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, 0x20000000, 8 * PG, RW, FIXED, 0);
    assert_int_equal(MAP(&vt, 0x1fffe000, 4 * PG, R, FIXED, 0), 0x1fffe000);
    VT_EXPECT_LAYOUT(&vt, "1fffe000-20002000 r--p 00000000 00:00 0\n"
                          "20002000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 10 * PG, 0);
    assert_int_equal(MAP(&vt, 0x20006000, 4 * PG, RX, FIXED, 0), 0x20006000);
    VT_EXPECT_LAYOUT(&vt, "1fffe000-20002000 r--p 00000000 00:00 0\n"
                          "20002000-20006000 rw-p 00000000 00:00 0\n"
                          "20006000-2000a000 r-xp 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 12 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* A FIXED strictly inside one mapping splits it into three; mapping the
 * original attributes back over the middle merges them again. */
static void test_fixed_overwrite_middle(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, 0x20000000, 8 * PG, RW, FIXED, 0);
    assert_int_equal(MAP(&vt, 0x20002000, 2 * PG, R, FIXED, 0), 0x20002000);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 rw-p 00000000 00:00 0\n"
                          "20002000-20004000 r--p 00000000 00:00 0\n"
                          "20004000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 8 * PG, 0);
    MAP(&vt, 0x20002000, 2 * PG, RW, FIXED, 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* A FIXED over exactly one mapping replaces it (attributes and flags). */
static void test_fixed_overwrite_exact(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, 0x20000000, 4 * PG, RW, FIXED, 0);
    MAP(&vt, 0x20008000, 4 * PG, RW, FIXED, 0);
    assert_int_equal(MAP(&vt, 0x20000000, 4 * PG, R, FIXED, 0), 0x20000000);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 r--p 00000000 00:00 0\n"
                          "20008000-2000c000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 8 * PG, 0);
    MAP(&vt, 0x20008000, 4 * PG, RW, FIXED, VMAR_MAP_STACK | VMAR_MAP_SHARED);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 r--p 00000000 00:00 0\n"
                          "20008000-2000c000 rw-s 00000000 00:00 0" STK "\n");
    EXPECT_STATS(&vt, 2, 8 * PG, 0);
    struct vmar_mapping_info i = QUERY(&vt, 0x2000b000);
    assert_int_equal(i.flags, VMAR_MAP_STACK | VMAR_MAP_SHARED);
    vt_teardown_tracked(&vt);
}

/* A FIXED spanning several mappings and the holes between them: the first
 * and last are cut, the inner ones replaced. */
static void test_fixed_overwrite_several(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, a, 2 * PG, RW, FIXED, 0);
    MAP(&vt, a + 3 * PG, PG, R, FIXED, 0);
    MAP(&vt, a + 6 * PG, 2 * PG, RX, FIXED, 0);
    MAP(&vt, a + 9 * PG, 2 * PG, RW, FIXED, 0);
    EXPECT_STATS(&vt, 4, 7 * PG, 0);
    assert_int_equal(MAP(&vt, a + PG, 9 * PG, X, FIXED, 0), a + PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20001000 rw-p 00000000 00:00 0\n"
                          "20001000-2000a000 --xp 00000000 00:00 0\n"
                          "2000a000-2000b000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 3, 11 * PG, 0);
    /* The same range with the outer pieces' attributes: one mapping. */
    MAP(&vt, a + PG, 9 * PG, RW, FIXED, 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-2000b000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 11 * PG, 0);
    vt_teardown_tracked(&vt);
}

/* A FIXED that is invalid replaces nothing. */
static void test_fixed_invalid_range(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, HI - 4 * PG, 4 * PG, RW, FIXED, 0);
    MAP(&vt, LO, 4 * PG, RW, FIXED, 0);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = HI - 2 * PG, .size = 4 * PG, .prot = R,
              .place = FIXED);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = LO - 2 * PG, .size = 4 * PG, .prot = R,
              .place = FIXED);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = UINT64_C(0xffffffffffffe000),
              .size = 4 * PG, .prot = R, .place = FIXED);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = LO + 0x800, .size = PG, .prot = R,
              .place = FIXED);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = LO + PG, .size = 2 * MIB,
              .align = 2 * MIB, .prot = R, .place = FIXED);
    VT_EXPECT_LAYOUT(&vt, "00100000-00104000 rw-p 00000000 00:00 0\n"
                          "3fffc000-40000000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* Argument checks: each bad option is refused with the documented code and
 * changes nothing. */
static void test_map_invalid_args(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, 0x20000000, 4 * PG, RW, FIXED, 0);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = 0, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG + 1, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = HI - LO + PG, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = 3 * PG, .align = 3 * PG, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .align = PG / 2, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = MIB, .align = 2 * MIB, .prot = R);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = 1u << 3);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R, .deny_prot = 1u << 4);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R, .flags = 1u << 30);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R,
              .place = (enum vmar_place)4);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R,
              .backing = (enum vmar_backing)3);
    MAP_FAILS(&vt, VMAR_EACCES, .size = PG, .prot = RW,
              .deny_prot = VMAR_PROT_WRITE);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R,
              .backing = VMAR_BACKING_OBJECT);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = PG, .prot = R,
              .backing = VMAR_BACKING_DEVICE, .paddr = 0x100000010);
    /* A failing FIXED replaces nothing. */
    MAP_FAILS(&vt, VMAR_EACCES, .addr = 0x20000000, .size = 4 * PG, .prot = RW,
              .deny_prot = VMAR_PROT_WRITE, .place = FIXED);
    /* out_addr may be NULL on success. */
    assert_int_equal(vt_map(&vt, 0, PG, R, ANY, 0, NULL), 0);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 rw-p 00000000 00:00 0\n"
                          "3ffff000-40000000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* ---- alignment ----------------------------------------------------------- */

static void test_align_2m(void **state)
{
    struct vt vt;
    vmar_addr_t a;
    (void)state;

    setup_range(&vt, VMAR_DEFAULT_USER_LO, HI, 0, 0);
    a = MAP_ALIGNED(&vt, 0, 2 * MIB, 2 * MIB, RW, ANY, 0);
    assert_int_equal(a, HI - 2 * MIB);
    /* One page just below: the next 2 MiB slot down is taken too. */
    MAP(&vt, HI - 2 * MIB - PG, PG, R, FIXED, 0);
    a = MAP_ALIGNED(&vt, 0, 2 * MIB, 2 * MIB, RX, ANY, 0);
    assert_int_equal(a, HI - 6 * MIB);
    /* Bottom-up: the first 2 MiB boundary above user_lo (64 KiB). */
    a = MAP_ALIGNED(&vt, 0, 4 * MIB, 2 * MIB, RW, ANY, VMAR_MAP_BOTTOM_UP);
    assert_int_equal(a, 2 * MIB);
    /* A page-sized request is unaffected by the 2 MiB mappings. */
    assert_int_equal(MAP(&vt, 0, PG, RW, ANY, VMAR_MAP_BOTTOM_UP),
                     VMAR_DEFAULT_USER_LO);
    /* Hints: exact when free, an aligned fallback when occupied. */
    a = MAP_ALIGNED(&vt, 0x10000000, 2 * MIB, 2 * MIB, RW, HINT, 0);
    assert_int_equal(a, 0x10000000);
    a = MAP_ALIGNED(&vt, 0x10000000, 2 * MIB, 2 * MIB, R, HINT, 0);
    assert_int_equal(a, HI - 8 * MIB);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = 0x10100000, .size = 2 * MIB,
              .align = 2 * MIB, .prot = R, .place = HINT);
    VT_EXPECT_LAYOUT(&vt, "00010000-00011000 rw-p 00000000 00:00 0\n"
                          "00200000-00600000 rw-p 00000000 00:00 0\n"
                          "10000000-10200000 rw-p 00000000 00:00 0\n"
                          "3f800000-3fa00000 r--p 00000000 00:00 0\n"
                          "3fa00000-3fc00000 r-xp 00000000 00:00 0\n"
                          "3fdff000-3fe00000 r--p 00000000 00:00 0\n"
                          "3fe00000-40000000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

static void test_align_1g(void **state)
{
    struct vt vt;
    vmar_addr_t a;
    const vmar_addr_t top = 64 * GIB;
    (void)state;

    setup_range(&vt, VMAR_DEFAULT_USER_LO, top, 0, 0);
    a = MAP_ALIGNED(&vt, 0, GIB, GIB, RW, ANY, 0);
    assert_int_equal(a, 63 * GIB);
    a = MAP_ALIGNED(&vt, 0, 2 * GIB, GIB, R, ANY, 0);
    assert_int_equal(a, 61 * GIB);
    a = MAP_ALIGNED(&vt, 0, GIB, GIB, RW, ANY, VMAR_MAP_BOTTOM_UP);
    assert_int_equal(a, GIB);
    /* One page at 2 GiB + 4 KiB spoils the [2 GiB, 3 GiB) slot. */
    MAP(&vt, 2 * GIB + PG, PG, RX, NOREPL, 0);
    a = MAP_ALIGNED(&vt, 0, GIB, GIB, R, ANY, VMAR_MAP_BOTTOM_UP);
    assert_int_equal(a, 3 * GIB);
    /* Hints. */
    a = MAP_ALIGNED(&vt, 10 * GIB, GIB, GIB, RX, HINT, 0);
    assert_int_equal(a, 10 * GIB);
    a = MAP_ALIGNED(&vt, 10 * GIB, GIB, GIB, RX, HINT, 0);
    assert_int_equal(a, 60 * GIB);
    a = MAP_ALIGNED(&vt, 10 * GIB, GIB, GIB, RW, HINT, VMAR_MAP_BOTTOM_UP);
    assert_int_equal(a, 4 * GIB);
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = 11 * GIB + 2 * MIB, .size = GIB,
              .align = GIB, .prot = R, .place = HINT);
    /* A FIXED 1 GiB-aligned request must be aligned too. */
    MAP_FAILS(&vt, VMAR_EINVAL, .addr = 20 * GIB + PG, .size = GIB,
              .align = GIB, .prot = R, .place = FIXED);
    VT_EXPECT_LAYOUT(&vt, "40000000-80000000 rw-p 00000000 00:00 0\n"
                          "80001000-80002000 r-xp 00000000 00:00 0\n"
                          "c0000000-100000000 r--p 00000000 00:00 0\n"
                          "100000000-140000000 rw-p 00000000 00:00 0\n"
                          "280000000-2c0000000 r-xp 00000000 00:00 0\n"
                          "f00000000-f40000000 r-xp 00000000 00:00 0\n"
                          "f40000000-fc0000000 r--p 00000000 00:00 0\n"
                          "fc0000000-1000000000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 8, 8 * GIB + PG, 0);
    vt_teardown_tracked(&vt);
}

/* ---- populate ------------------------------------------------------------ */

static void test_populate(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    assert_int_equal(s0.leaves_live, 0);
    MAP(&vt, a, 8 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    EXPECT_STATS(&vt, 1, 8 * PG, 8 * PG);
    assert_int_equal(s1.leaves_live, 8);
    assert_int_equal(s1.maps - s0.maps, 8);
    /* Eight data frames plus the tables on the path to them. */
    assert_true(s1.frames_live >= s0.frames_live + 8 + 1);
    assert_int_equal(s1.tables_live - s0.tables_live,
                     s1.frames_live - s0.frames_live - 8);
    /* POPULATE is not a kept flag. */
    assert_int_equal(QUERY(&vt, a).flags, 0);

    /* ANY with populate, elsewhere. */
    vmar_addr_t b = MAP(&vt, 0, 3 * PG, R, ANY, VMAR_MAP_POPULATE);
    assert_int_equal(b, HI - 3 * PG);
    EXPECT_STATS(&vt, 2, 11 * PG, 11 * PG);
    assert_int_equal(sim_stats(&vt).leaves_live, 11);

    /* Unmapping returns those frames. */
    UNMAP(&vt, b, 3 * PG);
    EXPECT_STATS(&vt, 1, 8 * PG, 8 * PG);
    assert_int_equal(sim_stats(&vt).frames_live, s1.frames_live);
    assert_int_equal(sim_stats(&vt).leaves_live, 8);
    vt_teardown_tracked(&vt);
}

/* Populate needs a frame per page; when the machine has too few, the map
 * fails with VMAR_ENOMEM and changes nothing. */
static void test_populate_out_of_frames(void **state)
{
    struct vt vt;
    struct vmar_space_opts o = {.user_lo = LO, .user_hi = HI};
    (void)state;

    vt_setup_tracked(&vt, &o, 64);
    MAP_FAILS(&vt, VMAR_ENOMEM, .addr = 0x20000000, .size = 100 * PG,
              .prot = RW, .place = FIXED, .flags = VMAR_MAP_POPULATE);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = 100 * PG, .prot = RW,
              .flags = VMAR_MAP_POPULATE);
    /* What fits still works afterwards. */
    MAP(&vt, 0x20000000, 40 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    EXPECT_STATS(&vt, 1, 40 * PG, 40 * PG);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = 40 * PG, .prot = RW,
              .flags = VMAR_MAP_POPULATE);
    vt_teardown_tracked(&vt);
}

/* A FIXED over populated pages unmaps them and, after the flush, frees
 * their frames (and page-table pages that became empty). */
static void test_fixed_frees_populated_frames(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    MAP(&vt, a, 8 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    assert_int_equal(s1.leaves_live, 8);

    /* The middle four pages, same attributes, not populated: the mapping
     * stays one, four frames come back, the tables stay. */
    MAP(&vt, a + 2 * PG, 4 * PG, RW, FIXED, 0);
    struct vmar_sim_stats s2 = sim_stats(&vt);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 4 * PG);
    assert_int_equal(s2.leaves_live, 4);
    assert_int_equal(s2.frames_live, s1.frames_live - 4);
    assert_int_equal(s2.tables_live, s1.tables_live);
    assert_true(s2.flushes > s1.flushes);
    assert_true(s2.unmaps > s1.unmaps);

    /* All of it with other attributes: nothing resident, every frame and
     * the emptied tables freed. */
    MAP(&vt, a, 8 * PG, R, FIXED, 0);
    struct vmar_sim_stats s3 = sim_stats(&vt);
    VT_EXPECT_LAYOUT(&vt, "20000000-20008000 r--p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 8 * PG, 0);
    assert_int_equal(s3.leaves_live, 0);
    assert_int_equal(s3.frames_live, s0.frames_live);
    assert_int_equal(s3.tables_live, s0.tables_live);
    assert_true(s3.flushes > s2.flushes);
    vt_teardown_tracked(&vt);
}

/*
 * FIXED | POPULATE over populated pages: the unmap inside the commit empties
 * (and frees) page tables that exist at prepare time, and the populate that
 * follows needs them again, so prepare must reserve them (VMAR_PREP_REMAP).
 * Before that existed this panicked in vmar_frame_list_pop().
 */
static void test_fixed_populate_over_populated(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    struct vmar_sim_stats s0 = sim_stats(&vt);
    /* Every leaf of its page tables is in the range. */
    MAP(&vt, a, 4 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    struct vmar_sim_stats s1 = sim_stats(&vt);
    MAP(&vt, a, 4 * PG, R, FIXED, VMAR_MAP_POPULATE);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 r--p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 1, 4 * PG, 4 * PG);
    struct vmar_sim_stats s2 = sim_stats(&vt);
    assert_int_equal(s2.leaves_live, 4);
    assert_int_equal(s2.frames_live, s1.frames_live);
    assert_int_equal(s2.tables_live, s1.tables_live);

    /* Partly over populated pages, partly over free space. */
    MAP(&vt, a + 2 * PG, 4 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    VT_EXPECT_LAYOUT(&vt, "20000000-20002000 r--p 00000000 00:00 0\n"
                          "20002000-20006000 rw-p 00000000 00:00 0\n");
    EXPECT_STATS(&vt, 2, 6 * PG, 6 * PG);
    assert_int_equal(sim_stats(&vt).leaves_live, 6);
    assert_int_equal(sim_stats(&vt).frames_live, s1.frames_live + 2);

    /* Unpopulated over all of it gives every frame and table back. */
    MAP(&vt, a, 6 * PG, RW, FIXED, 0);
    EXPECT_STATS(&vt, 1, 6 * PG, 0);
    assert_int_equal(sim_stats(&vt).frames_live, s0.frames_live);
    assert_int_equal(sim_stats(&vt).tables_live, s0.tables_live);
    vt_teardown_tracked(&vt);
}

/* ---- stack guard --------------------------------------------------------- */

#define GUARD (16 * PG)

static void test_stack_guard_top_down(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, GUARD);
    /* A stack at the top: its guard [HI-24P, HI-8P) is free. */
    vmar_addr_t s = MAP(&vt, 0, 8 * PG, RW, ANY, VMAR_MAP_STACK);
    assert_int_equal(s, HI - 8 * PG);
    /* Other mappings stay below the guard. */
    assert_int_equal(MAP(&vt, 0, 4 * PG, RW, ANY, 0), HI - 28 * PG);
    /* A hint inside the guard is not free for placement: fallback. */
    assert_int_equal(MAP(&vt, HI - 12 * PG, 2 * PG, R, HINT, 0), HI - 30 * PG);
    /* FIXED (and FIXED_NOREPLACE) may map inside the guard. */
    assert_int_equal(MAP(&vt, HI - 10 * PG, PG, RX, FIXED, 0), HI - 10 * PG);
    assert_int_equal(MAP(&vt, HI - 9 * PG, PG, R, NOREPL, 0), HI - 9 * PG);
    /* The guard clips only the gap directly below the stack: the gap under
     * the mapping now inside it is free again (as in Linux). */
    assert_int_equal(MAP(&vt, 0, PG, RX, ANY, 0), HI - 11 * PG);
    /* A second stack keeps its own guard free too, so the 13-page gap
     * [HI-24P, HI-11P) is too small for 4 pages plus 16 of guard ... */
    vmar_addr_t s2 = MAP(&vt, 0, 4 * PG, RW, ANY, VMAR_MAP_STACK);
    assert_int_equal(s2, HI - 34 * PG);
    /* ... while a plain 2-page request fits there. */
    assert_int_equal(MAP(&vt, 0, 2 * PG, R, ANY, 0), HI - 13 * PG);
    /* Anything larger goes below the second stack's guard [HI-50P, HI-34P). */
    assert_int_equal(MAP(&vt, 0, 16 * PG, R, ANY, 0), HI - 66 * PG);
    VT_EXPECT_LAYOUT(&vt, "3ffbe000-3ffce000 r--p 00000000 00:00 0\n"
                          "3ffde000-3ffe2000 rw-p 00000000 00:00 0" STK "\n"
                          "3ffe2000-3ffe4000 r--p 00000000 00:00 0\n"
                          "3ffe4000-3ffe8000 rw-p 00000000 00:00 0\n"
                          "3fff3000-3fff5000 r--p 00000000 00:00 0\n"
                          "3fff5000-3fff7000 r-xp 00000000 00:00 0\n"
                          "3fff7000-3fff8000 r--p 00000000 00:00 0\n"
                          "3fff8000-40000000 rw-p 00000000 00:00 0" STK "\n");
    assert_int_equal(QUERY(&vt, s).flags, VMAR_MAP_STACK);
    assert_int_equal(QUERY(&vt, s2).flags, VMAR_MAP_STACK);

    /* Unmapping the first stack (and what is inside its guard) frees the
     * guard for placement. */
    UNMAP(&vt, HI - 13 * PG, 13 * PG);
    assert_int_equal(MAP(&vt, 0, 24 * PG, R, ANY, 0), HI - 24 * PG);
    vt_teardown_tracked(&vt);
}

static void test_stack_guard_bottom_up(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, VMAR_SPACE_BOTTOM_UP, GUARD);
    /* In an empty space a stack's guard must still lie in the user range. */
    vmar_addr_t s = MAP(&vt, 0, 4 * PG, RW, ANY, VMAR_MAP_STACK);
    assert_int_equal(s, LO + GUARD);
    UNMAP(&vt, s, 4 * PG);

    MAP(&vt, LO, 2 * PG, RW, FIXED, 0);
    /* The stack leaves 16 pages free between it and the mapping below. */
    s = MAP(&vt, 0, 4 * PG, RW, ANY, VMAR_MAP_STACK);
    assert_int_equal(s, LO + 2 * PG + GUARD);
    /* The guard region is not a free gap: the next mapping goes above. */
    assert_int_equal(MAP(&vt, 0, PG, R, ANY, 0), LO + 22 * PG);
    VT_EXPECT_LAYOUT(&vt, "00100000-00102000 rw-p 00000000 00:00 0\n"
                          "00112000-00116000 rw-p 00000000 00:00 0" STK "\n"
                          "00116000-00117000 r--p 00000000 00:00 0\n");
    /* Two stacks that touch are one mapping (same attributes). */
    assert_int_equal(
        MAP(&vt, LO + 22 * PG - GUARD - PG, PG, RW, FIXED, VMAR_MAP_STACK),
        LO + 5 * PG);
    MAP(&vt, LO + 6 * PG, 12 * PG, RW, FIXED, VMAR_MAP_STACK);
    VT_EXPECT_LAYOUT(&vt, "00100000-00102000 rw-p 00000000 00:00 0\n"
                          "00105000-00116000 rw-p 00000000 00:00 0" STK "\n"
                          "00116000-00117000 r--p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* A stack hint is taken only when its guard is free too. */
static void test_stack_guard_hint(void **state)
{
    struct vt vt;
    (void)state;

    setup_range(&vt, LO, HI, 0, GUARD);
    MAP(&vt, HI - 20 * PG, PG, R, FIXED, 0);
    /* [HI-10P, HI-8P) is free but its guard [HI-26P, HI-10P) is not: the
     * top-down fallback keeps [HI-18P, HI-2P) free below the stack. */
    assert_int_equal(MAP(&vt, HI - 10 * PG, 2 * PG, RW, HINT, VMAR_MAP_STACK),
                     HI - 2 * PG);
    /* A hint whose guard [HI-56P, HI-40P) is free is exact. */
    assert_int_equal(MAP(&vt, HI - 40 * PG, 2 * PG, RW, HINT, VMAR_MAP_STACK),
                     HI - 40 * PG);
    /* A non-stack hint inside that guard falls back to the highest fit:
     * the one page [HI-19P, HI-18P) left below the top stack's guard. */
    assert_int_equal(MAP(&vt, HI - 45 * PG, PG, RX, HINT, 0), HI - 19 * PG);
    /* A stack hint whose guard would reach below user_lo falls back; the
     * 18-page gap [HI-38P, HI-20P) holds one page plus its guard. */
    assert_int_equal(MAP(&vt, LO + 4 * PG, PG, RW, HINT, VMAR_MAP_STACK),
                     HI - 21 * PG);
    VT_EXPECT_LAYOUT(&vt, "3ffd8000-3ffda000 rw-p 00000000 00:00 0" STK "\n"
                          "3ffeb000-3ffec000 rw-p 00000000 00:00 0" STK "\n"
                          "3ffec000-3ffed000 r--p 00000000 00:00 0\n"
                          "3ffed000-3ffee000 r-xp 00000000 00:00 0\n"
                          "3fffe000-40000000 rw-p 00000000 00:00 0" STK "\n");
    vt_teardown_tracked(&vt);
}

/* ---- ASLR ---------------------------------------------------------------- */

#define ASLR_BITS 16u
#define ASLR_TOP  (UINT64_C(1) << 37) /* 128 GiB: inside Sv39 too */

static size_t count_distinct(const vmar_addr_t *v, size_t n)
{
    size_t d = 0;

    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && v[j] != v[i])
            j++;
        d += j == i;
    }
    return d;
}

static void test_aslr_varies_within_range(void **state)
{
    struct vt vt;
    vmar_addr_t got[64];
    const vmar_size_t span = (UINT64_C(1) << ASLR_BITS) * PG;
    (void)state;

    struct vmar_space_opts o = {.user_hi = ASLR_TOP, .aslr_bits = ASLR_BITS};
    vt_setup_tracked(&vt, &o, 0);
    const vmar_addr_t lo = VMAR_DEFAULT_USER_LO;

    /* Top-down: a page-aligned address within span below the top. */
    for (size_t i = 0; i < 64; i++) {
        got[i] = MAP(&vt, 0, PG, RW, ANY, 0);
        assert_int_equal(got[i] % PG, 0);
        assert_true(got[i] <= ASLR_TOP - PG);
        assert_true(got[i] > ASLR_TOP - PG - span);
        UNMAP(&vt, got[i], PG);
    }
    assert_true(count_distinct(got, 64) >= 48);

    /* Bottom-up: within span above user_lo. */
    for (size_t i = 0; i < 32; i++) {
        got[i] = MAP(&vt, 0, 3 * PG, RW, ANY, VMAR_MAP_BOTTOM_UP);
        assert_true(got[i] >= lo && got[i] < lo + span);
        assert_int_equal(got[i] % PG, 0);
        UNMAP(&vt, got[i], 3 * PG);
    }
    assert_true(count_distinct(got, 32) >= 24);

    /* Aligned requests stay aligned. */
    for (size_t i = 0; i < 16; i++) {
        got[i] = MAP_ALIGNED(&vt, 0, 2 * MIB, 2 * MIB, RW, ANY, 0);
        assert_int_equal(got[i] % (2 * MIB), 0);
        assert_true(got[i] <= ASLR_TOP - 2 * MIB);
        assert_true(got[i] >= ASLR_TOP - span - 4 * MIB);
        UNMAP(&vt, got[i], 2 * MIB);
    }
    assert_true(count_distinct(got, 16) >= 8);

    /* VMAR_MAP_NO_RANDOM: deterministic, the plain highest/lowest fit. */
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(MAP(&vt, 0, PG, RW, ANY, VMAR_MAP_NO_RANDOM),
                         ASLR_TOP - PG);
        UNMAP(&vt, ASLR_TOP - PG, PG);
        assert_int_equal(
            MAP(&vt, 0, PG, RW, ANY, VMAR_MAP_NO_RANDOM | VMAR_MAP_BOTTOM_UP),
            lo);
        UNMAP(&vt, lo, PG);
    }
    /* NO_RANDOM is not kept. */
    vmar_addr_t a = MAP(&vt, 0, PG, RW, ANY, VMAR_MAP_NO_RANDOM);
    assert_int_equal(QUERY(&vt, a).flags, 0);
    /* A free hint is still exact under ASLR. */
    assert_int_equal(MAP(&vt, 0x40000000, PG, R, HINT, 0), 0x40000000);
    /* FIXED is not randomised. */
    assert_int_equal(MAP(&vt, 0x50000000, PG, R, FIXED, 0), 0x50000000);
    vt_teardown_tracked(&vt);
}

/* When the randomly narrowed window has no room, placement falls back to
 * the whole range: ASLR never turns a fit into VMAR_ENOMEM. */
static void test_aslr_narrow_window_falls_back(void **state)
{
    struct vt vt;
    vmar_addr_t got[48];
    const vmar_addr_t lo = 0x10000, hi = 0x10000 + 64 * PG;
    struct vmar_space_opts o = {.user_lo = lo, .user_hi = hi, .aslr_bits = 5};
    size_t narrowed = 0;
    (void)state;

    vt_setup_tracked(&vt, &o, 0);
    /* 40 of 64 pages: the window [lo, hi - shift) holds it only for a
     * shift of at most 24 pages (of 0..31). */
    for (size_t i = 0; i < 48; i++) {
        got[i] = MAP(&vt, 0, 40 * PG, RW, ANY, 0);
        assert_true(got[i] >= lo && got[i] <= hi - 40 * PG);
        narrowed += got[i] < hi - 40 * PG;
        UNMAP(&vt, got[i], 40 * PG);
    }
    assert_true(count_distinct(got, 48) >= 4);
    assert_true(narrowed >= 8 && narrowed < 48);
    /* Bottom-up likewise. */
    for (size_t i = 0; i < 48; i++) {
        got[i] = MAP(&vt, 0, 40 * PG, RW, ANY, VMAR_MAP_BOTTOM_UP);
        assert_true(got[i] >= lo && got[i] <= hi - 40 * PG);
        UNMAP(&vt, got[i], 40 * PG);
    }
    assert_true(count_distinct(got, 48) >= 4);
    /* The whole range still fits in one request. */
    assert_int_equal(MAP(&vt, 0, 64 * PG, RW, ANY, 0), lo);
    vt_teardown_tracked(&vt);
}

/* Different machine seeds give different layouts; the same seed the same. */
static void test_aslr_seeds(void **state)
{
    struct vt vt;
    vmar_addr_t first[6], again;
    struct vmar_space_opts o = {.user_hi = ASLR_TOP, .aslr_bits = ASLR_BITS};
    (void)state;

    for (uint64_t seed = 1; seed <= 6; seed++) {
        vt_setup_seeded_tracked(&vt, &o, 0, seed);
        first[seed - 1] = MAP(&vt, 0, PG, RW, ANY, 0);
        assert_true(first[seed - 1] >=
                    ASLR_TOP - (UINT64_C(1) << ASLR_BITS) * PG);
        vt_teardown_tracked(&vt);
    }
    assert_true(count_distinct(first, 6) >= 4);
    vt_setup_seeded_tracked(&vt, &o, 0, 3);
    again = MAP(&vt, 0, PG, RW, ANY, 0);
    vt_teardown_tracked(&vt);
    assert_int_equal(again, first[2]);
}

/* aslr_bits needs env->random and is at most 40. */
static void test_aslr_create_invalid(void **state)
{
    struct vmar_sim *sim;
    struct vmar_space *sp = NULL;
    struct vmar_sim_stats st;
    struct vmar_sim_opts so = {.seed = 1, .with_random = false};
    (void)state;

    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    vt_live_set(sim, NULL);
    struct vmar_space_opts o = {.env = vmar_sim_env(sim),
                                .mmu = &vmar_mmu_sim,
                                .mmu_config = sim,
                                .aslr_bits = 8};
    assert_int_equal(vmar_space_create(&o, &sp), VMAR_EINVAL);
    assert_null(sp);
    o.aslr_bits = 0;
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    vt_live_set(sim, NULL);
    vmar_space_destroy(sp);
    vmar_sim_stats(sim, &st);
    assert_int_equal(st.allocs_live, 0);
    assert_int_equal(st.frames_live, 0);
    vt_live_drop(sim);
    vmar_sim_destroy(sim);

    so.with_random = true;
    assert_int_equal(vmar_sim_create(&so, &sim), 0);
    vt_live_set(sim, NULL);
    o.env = vmar_sim_env(sim);
    o.mmu_config = sim;
    o.aslr_bits = 41;
    sp = NULL;
    assert_int_equal(vmar_space_create(&o, &sp), VMAR_EINVAL);
    assert_null(sp);
    o.aslr_bits = 40;
    assert_int_equal(vmar_space_create(&o, &sp), 0);
    vmar_space_destroy(sp);
    vmar_sim_stats(sim, &st);
    assert_int_equal(st.allocs_live, 0);
    assert_int_equal(st.frames_live, 0);
    vt_live_drop(sim);
    vmar_sim_destroy(sim);
}

/* ---- exhaustion ---------------------------------------------------------- */

static void test_exhaustion(void **state)
{
    struct vt vt;
    const vmar_addr_t lo = 0x10000, hi = 0x10000 + 16 * PG;
    (void)state;

    setup_range(&vt, lo, hi, 0, 0);
    /* The whole range in one request fits an empty space. */
    assert_int_equal(MAP(&vt, 0, 16 * PG, RW, ANY, 0), lo);
    UNMAP(&vt, lo, 16 * PG);
    assert_int_equal(MAP(&vt, 0, 4 * PG, RW, ANY, 0), hi - 4 * PG);
    assert_int_equal(MAP(&vt, 0, 4 * PG, R, ANY, 0), hi - 8 * PG);
    assert_int_equal(MAP(&vt, 0, 4 * PG, RW, ANY, 0), hi - 12 * PG);
    assert_int_equal(MAP(&vt, 0, 4 * PG, R, ANY, 0), lo);
    EXPECT_STATS(&vt, 4, 16 * PG, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW,
              .flags = VMAR_MAP_BOTTOM_UP);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW, .place = HINT,
              .addr = lo);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW,
              .flags = VMAR_MAP_STACK);
    MAP_FAILS(&vt, VMAR_EINVAL, .size = 17 * PG, .prot = RW);
    /* One free page: a one-page request takes it, two pages do not fit. */
    UNMAP(&vt, lo + 5 * PG, PG);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = 2 * PG, .prot = RW);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = 2 * PG, .align = 2 * PG, .prot = RW);
    assert_int_equal(MAP(&vt, 0, PG, X, ANY, 0), lo + 5 * PG);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    VT_EXPECT_LAYOUT(&vt, "00010000-00014000 r--p 00000000 00:00 0\n"
                          "00014000-00015000 rw-p 00000000 00:00 0\n"
                          "00015000-00016000 --xp 00000000 00:00 0\n"
                          "00016000-00018000 rw-p 00000000 00:00 0\n"
                          "00018000-0001c000 r--p 00000000 00:00 0\n"
                          "0001c000-00020000 rw-p 00000000 00:00 0\n");
    vt_teardown_tracked(&vt);
}

/* ---- query and iterate --------------------------------------------------- */

static void test_query(void **state)
{
    struct vt vt;
    struct vmar_mapping_info i;
    const vmar_addr_t a = 0x20000000, c = 0x30000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, a, 2 * PG, RW, FIXED, 0);
    assert_int_equal(
        vt_map_opts(&vt,
                    &(struct vmar_map_opts){.addr = a + 2 * PG,
                                            .size = 3 * PG,
                                            .prot = R,
                                            .place = FIXED,
                                            .deny_prot = VMAR_PROT_WRITE |
                                                         VMAR_PROT_EXEC},
                    NULL),
        0);
    MAP(&vt, c, PG, RW, FIXED,
        VMAR_MAP_SHARED | VMAR_MAP_STACK | VMAR_MAP_BOTTOM_UP);

    i = QUERY(&vt, a);
    assert_int_equal(i.start, a);
    assert_int_equal(i.end, a + 2 * PG);
    assert_int_equal(i.prot, RW);
    assert_int_equal(i.max_prot, RWX);
    assert_int_equal(i.flags, 0);
    assert_int_equal(i.backing, VMAR_BACKING_ANON);
    assert_int_equal(i.offset, 0);
    /* Any byte inside, including the last. */
    i = QUERY(&vt, a + 2 * PG - 1);
    assert_int_equal(i.start, a);
    i = QUERY(&vt, a + 2 * PG);
    assert_int_equal(i.start, a + 2 * PG);
    assert_int_equal(i.end, a + 5 * PG);
    assert_int_equal(i.prot, R);
    assert_int_equal(i.max_prot, R);
    i = QUERY(&vt, c + 123);
    assert_int_equal(i.start, c);
    assert_int_equal(i.end, c + PG);
    assert_int_equal(i.flags, VMAR_MAP_SHARED | VMAR_MAP_STACK);

    memset(&i, 0x5a, sizeof(i));
    assert_int_equal(vmar_query(vt.space, a + 5 * PG, &i), VMAR_ENOENT);
    assert_int_equal(vmar_query(vt.space, a - 1, &i), VMAR_ENOENT);
    assert_int_equal(vmar_query(vt.space, 0, &i), VMAR_ENOENT);
    assert_int_equal(vmar_query(vt.space, c + PG, &i), VMAR_ENOENT);
    assert_int_equal(vmar_query(vt.space, UINT64_MAX, &i), VMAR_ENOENT);
    vt_teardown_tracked(&vt);
}

static vmar_size_t resident_at(struct vt *vt, vmar_addr_t lo, vmar_addr_t hi,
                               const char *file, int line)
{
    vmar_size_t bytes = 0x5a5a5a5a;

    vt_expect_rc_at(vmar_resident(vt->space, lo, hi, &bytes), 0,
                    "vmar_resident", file, line);
    return bytes;
}
#define RESIDENT(vt, lo, hi) resident_at((vt), (lo), (hi), __FILE__, __LINE__)

/* vmar_resident(): bytes of [lo, hi) with a present translation. */
static void test_resident(void **state)
{
    struct vt vt;
    vmar_size_t bytes = 0x5a5a5a5a;
    const vmar_addr_t a = 0x20000000, b = 0x30000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    assert_int_equal(RESIDENT(&vt, 0, VT_USER_TOP), 0);
    MAP(&vt, a, 4 * PG, RW, FIXED, VMAR_MAP_POPULATE);
    MAP(&vt, b, 4 * PG, RW, FIXED, 0);
    MAP(&vt, b + 8 * PG, 2 * PG, R, FIXED, VMAR_MAP_POPULATE);
    assert_int_equal(RESIDENT(&vt, a, a + 4 * PG), 4 * PG);
    assert_int_equal(RESIDENT(&vt, b, b + 4 * PG), 0);
    assert_int_equal(RESIDENT(&vt, a + PG, a + 3 * PG), 2 * PG);
    assert_int_equal(RESIDENT(&vt, a + 3 * PG, b + 9 * PG), 2 * PG);
    assert_int_equal(RESIDENT(&vt, 0, VT_USER_TOP), 6 * PG);
    /* Beyond the backend's top: clamped, not an error. */
    assert_int_equal(RESIDENT(&vt, 0, UINT64_C(0xfffffffffffff000)), 6 * PG);
    assert_int_equal(RESIDENT(&vt, a, a), 0);
    assert_int_equal(RESIDENT(&vt, a + PG, a + PG), 0);
    /* It agrees with vmar_stats(). */
    EXPECT_STATS(&vt, 3, 10 * PG, 6 * PG);
    /* Half of the populated mapping replaced by an unpopulated one. */
    MAP(&vt, a, 2 * PG, R, FIXED, 0);
    assert_int_equal(RESIDENT(&vt, a, a + 2 * PG), 0);
    assert_int_equal(RESIDENT(&vt, a + 2 * PG, a + 4 * PG), 2 * PG);
    /* Protect keeps pages resident, unmap drops them. */
    assert_int_equal(vt_protect(&vt, a, 4 * PG, RX), 0);
    assert_int_equal(RESIDENT(&vt, a, a + 4 * PG), 2 * PG);
    UNMAP(&vt, a + 3 * PG, PG);
    assert_int_equal(RESIDENT(&vt, a, a + 4 * PG), PG);
    /* Bad ranges. */
    assert_int_equal(vmar_resident(vt.space, a + PG, a, &bytes), VMAR_EINVAL);
    assert_int_equal(vmar_resident(vt.space, a + 1, a + PG, &bytes),
                     VMAR_EINVAL);
    assert_int_equal(vmar_resident(vt.space, a, a + PG + 1, &bytes),
                     VMAR_EINVAL);
    assert_int_equal(bytes, 0x5a5a5a5a);
    vt_teardown_tracked(&vt);
}

struct collect {
    struct vmar_mapping_info v[8];
    size_t n;
    size_t stop_after; /* return `stop_rc` after this many; 0: never */
    int stop_rc;
};

static int collect_fn(void *arg, const struct vmar_mapping_info *info)
{
    struct collect *c = arg;

    assert_true(c->n < 8);
    c->v[c->n++] = *info;
    return c->stop_after && c->n == c->stop_after ? c->stop_rc : 0;
}

static void test_iterate(void **state)
{
    struct vt vt;
    struct collect c;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vmar_iterate(vt.space, 0, UINT64_MAX, collect_fn, &c), 0);
    assert_int_equal(c.n, 0);

    MAP(&vt, a, 2 * PG, RW, FIXED, 0);
    MAP(&vt, a + 2 * PG, PG, R, FIXED, VMAR_MAP_SHARED);
    MAP(&vt, a + 8 * PG, 4 * PG, RX, FIXED, 0);

    memset(&c, 0, sizeof(c));
    assert_int_equal(vmar_iterate(vt.space, 0, UINT64_MAX, collect_fn, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.v[0].start, a);
    assert_int_equal(c.v[0].end, a + 2 * PG);
    assert_int_equal(c.v[0].prot, RW);
    assert_int_equal(c.v[1].start, a + 2 * PG);
    assert_int_equal(c.v[1].end, a + 3 * PG);
    assert_int_equal(c.v[1].flags, VMAR_MAP_SHARED);
    assert_int_equal(c.v[2].start, a + 8 * PG);
    assert_int_equal(c.v[2].end, a + 12 * PG);
    assert_int_equal(c.v[2].prot, RX);
    assert_int_equal(c.v[2].max_prot, RWX);

    /* Only mappings that intersect [lo, hi): partial overlaps count,
     * touching ends do not. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(vmar_iterate(vt.space, a + PG, a + 9 * PG, collect_fn, &c),
                     0);
    assert_int_equal(c.n, 3);
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        vmar_iterate(vt.space, a + 3 * PG, a + 8 * PG, collect_fn, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(
        vmar_iterate(vt.space, a + 2 * PG, a + 8 * PG + 1, collect_fn, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[0].start, a + 2 * PG);
    assert_int_equal(c.v[1].start, a + 8 * PG);

    /* Early stop: the callback's value comes back, nothing more is visited. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    c.stop_rc = 42;
    assert_int_equal(vmar_iterate(vt.space, 0, UINT64_MAX, collect_fn, &c), 42);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    c.stop_rc = -7;
    assert_int_equal(vmar_iterate(vt.space, 0, UINT64_MAX, collect_fn, &c), -7);
    assert_int_equal(c.n, 2);
    /* A stop on the last one is still the callback's value. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 3;
    c.stop_rc = 1;
    assert_int_equal(vmar_iterate(vt.space, 0, UINT64_MAX, collect_fn, &c), 1);
    assert_int_equal(c.n, 3);

    memset(&c, 0, sizeof(c));
    assert_int_equal(vmar_iterate(vt.space, a + PG, a, collect_fn, &c),
                     VMAR_EINVAL);
    assert_int_equal(c.n, 0);
    vt_teardown_tracked(&vt);
}

/* [x, x) is empty, so it intersects no mapping, even one containing x. */
static void test_iterate_empty_range(void **state)
{
    struct vt vt;
    struct collect c;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    MAP(&vt, a, 4 * PG, RW, FIXED, 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(vmar_iterate(vt.space, a, a, collect_fn, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(vmar_iterate(vt.space, a + PG, a + PG, collect_fn, &c), 0);
    assert_int_equal(c.n, 0);
    vt_teardown_tracked(&vt);
}

/* ---- stats and limits ---------------------------------------------------- */

static void test_stats(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    setup_range(&vt, LO, HI, 0, 0);
    struct vmar_stats s = get_stats(&vt);
    assert_int_equal(s.map_count, 0);
    assert_int_equal(s.total_vm, 0);
    assert_int_equal(s.resident, 0);
    assert_int_equal(s.user_lo, LO);
    assert_int_equal(s.user_hi, HI);

    MAP(&vt, a, 2 * PG, R, FIXED, 0);
    MAP(&vt, a + 4 * PG, 3 * PG, R, FIXED, VMAR_MAP_POPULATE);
    MAP(&vt, a + 8 * PG, PG, RW, FIXED, VMAR_MAP_POPULATE);
    EXPECT_STATS(&vt, 3, 6 * PG, 4 * PG);
    /* Filling the hole between the two R mappings merges all three. */
    MAP(&vt, a + 2 * PG, 2 * PG, R, FIXED, 0);
    EXPECT_STATS(&vt, 2, 8 * PG, 4 * PG);
    /* Filling the last hole with RW merges with the RW one only. */
    MAP(&vt, a + 7 * PG, PG, RW, FIXED, 0);
    EXPECT_STATS(&vt, 2, 9 * PG, 4 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20007000 r--p 00000000 00:00 0\n"
                          "20007000-20009000 rw-p 00000000 00:00 0\n");
    /* A hole through a populated page. */
    UNMAP(&vt, a + 5 * PG, PG);
    EXPECT_STATS(&vt, 3, 8 * PG, 3 * PG);
    s = get_stats(&vt);
    assert_int_equal(s.user_lo, LO);
    assert_int_equal(s.user_hi, HI);
    vt_teardown_tracked(&vt);
}

static void test_set_limits_map_count(void **state)
{
    struct vt vt;
    struct vt_snap snap;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    struct vmar_space_opts o = {
        .user_lo = LO, .user_hi = HI, .max_map_count = 2};
    vt_setup_tracked(&vt, &o, 0);
    MAP(&vt, a, 4 * PG, RW, FIXED, 0);
    MAP(&vt, a + 8 * PG, 4 * PG, R, FIXED, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    /* Counted before merging: even a map that would merge is refused. */
    MAP_FAILS(&vt, VMAR_ENOMEM, .addr = a + 4 * PG, .size = PG, .prot = RW,
              .place = FIXED);
    /* Replacing one mapping exactly does not add one. */
    MAP(&vt, a, 4 * PG, RX, FIXED, 0);
    /* Cutting one in the middle would make four (two pieces, the new one
     * and the other mapping), even with room for three. */
    MAP_FAILS(&vt, VMAR_ENOMEM, .addr = a + PG, .size = PG, .prot = R,
              .place = FIXED);
    vmar_set_limits(vt.space, 0, 3);
    MAP_FAILS(&vt, VMAR_ENOMEM, .addr = a + PG, .size = PG, .prot = R,
              .place = FIXED);
    vmar_set_limits(vt.space, 0, 2);
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_unmap(&vt, a + PG, PG), VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_protect(&vt, a + PG, PG, R), VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* A FIXED over both whole mappings replaces two by one. */
    MAP(&vt, a, 12 * PG, R, FIXED, 0);
    EXPECT_STATS(&vt, 1, 12 * PG, 0);
    MAP(&vt, a, 4 * PG, RX, FIXED, 0);
    EXPECT_STATS(&vt, 2, 12 * PG, 0);
    UNMAP(&vt, a + 4 * PG, 4 * PG);
    VT_EXPECT_LAYOUT(&vt, "20000000-20004000 r-xp 00000000 00:00 0\n"
                          "20008000-2000c000 r--p 00000000 00:00 0\n");
    /* Trimming an end or removing a whole mapping is allowed. */
    UNMAP(&vt, a + 8 * PG, PG);
    UNMAP(&vt, a + 9 * PG, 3 * PG);
    EXPECT_STATS(&vt, 1, 4 * PG, 0);
    MAP(&vt, a + 8 * PG, PG, RW, FIXED, 0);

    /* Lowering below the current count keeps what exists. */
    vmar_set_limits(vt.space, 0, 1);
    VT_CHECK(&vt);
    EXPECT_STATS(&vt, 2, 5 * PG, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    /* Zero means the default limit again. */
    vmar_set_limits(vt.space, 0, 0);
    for (int i = 0; i < 8; i++)
        MAP(&vt, 0, PG, (i & 1) ? R : RW, ANY, 0);
    EXPECT_STATS(&vt, 10, 13 * PG, 0);
    vt_teardown_tracked(&vt);
}

static void test_set_limits_as_limit(void **state)
{
    struct vt vt;
    const vmar_addr_t a = 0x20000000;
    (void)state;

    struct vmar_space_opts o = {
        .user_lo = LO, .user_hi = HI, .as_limit = 8 * PG};
    vt_setup_tracked(&vt, &o, 0);
    MAP(&vt, a, 6 * PG, RW, FIXED, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = 3 * PG, .prot = RW);
    MAP(&vt, 0, 2 * PG, RW, ANY, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    /* An overwrite is charged only the bytes it adds. */
    MAP(&vt, a, 6 * PG, R, FIXED, 0);
    MAP(&vt, a + 2 * PG, 4 * PG, RX, FIXED, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .addr = a + 4 * PG, .size = 4 * PG, .prot = R,
              .place = FIXED);
    EXPECT_STATS(&vt, 3, 8 * PG, 0);

    /* Lowering the limit keeps existing mappings; only growth fails. */
    vmar_set_limits(vt.space, 4 * PG, 0);
    VT_CHECK(&vt);
    EXPECT_STATS(&vt, 3, 8 * PG, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    UNMAP(&vt, a, 6 * PG);
    EXPECT_STATS(&vt, 1, 2 * PG, 0);
    MAP(&vt, 0, 2 * PG, R, ANY, 0);
    MAP_FAILS(&vt, VMAR_ENOMEM, .size = PG, .prot = RW);
    /* Zero: no limit. */
    vmar_set_limits(vt.space, 0, 0);
    MAP(&vt, 0, 1000 * PG, RW, ANY, 0);
    EXPECT_STATS(&vt, 3, 1004 * PG, 0);
    vt_teardown_tracked(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_any_top_down_default, vt_cleanup),
        cmocka_unit_test_teardown(test_any_default_user_range, vt_cleanup),
        cmocka_unit_test_teardown(test_space_bottom_up, vt_cleanup),
        cmocka_unit_test_teardown(test_per_call_direction, vt_cleanup),
        cmocka_unit_test_teardown(test_hint, vt_cleanup),
        cmocka_unit_test_teardown(test_hint_bottom_up_space, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_noreplace, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_overwrite_prefix_suffix,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_overwrite_middle, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_overwrite_exact, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_overwrite_several, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_invalid_range, vt_cleanup),
        cmocka_unit_test_teardown(test_map_invalid_args, vt_cleanup),
        cmocka_unit_test_teardown(test_align_2m, vt_cleanup),
        cmocka_unit_test_teardown(test_align_1g, vt_cleanup),
        cmocka_unit_test_teardown(test_populate, vt_cleanup),
        cmocka_unit_test_teardown(test_populate_out_of_frames, vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_frees_populated_frames,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_fixed_populate_over_populated,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_stack_guard_top_down, vt_cleanup),
        cmocka_unit_test_teardown(test_stack_guard_bottom_up, vt_cleanup),
        cmocka_unit_test_teardown(test_stack_guard_hint, vt_cleanup),
        cmocka_unit_test_teardown(test_aslr_varies_within_range, vt_cleanup),
        cmocka_unit_test_teardown(test_aslr_narrow_window_falls_back,
                                  vt_cleanup),
        cmocka_unit_test_teardown(test_aslr_seeds, vt_cleanup),
        cmocka_unit_test_teardown(test_aslr_create_invalid, vt_cleanup),
        cmocka_unit_test_teardown(test_exhaustion, vt_cleanup),
        cmocka_unit_test_teardown(test_query, vt_cleanup),
        cmocka_unit_test_teardown(test_resident, vt_cleanup),
        cmocka_unit_test_teardown(test_iterate, vt_cleanup),
        cmocka_unit_test_teardown(test_iterate_empty_range, vt_cleanup),
        cmocka_unit_test_teardown(test_stats, vt_cleanup),
        cmocka_unit_test_teardown(test_set_limits_map_count, vt_cleanup),
        cmocka_unit_test_teardown(test_set_limits_as_limit, vt_cleanup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
