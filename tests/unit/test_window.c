/* SPDX-License-Identifier: MIT */
/*
 * The placement window (vmar_map_opts::window_lo, window_hi): VMAR_PLACE_ANY
 * and VMAR_PLACE_HINT place inside it, top-down and bottom-up, with ASLR,
 * alignment and a stack's guard, and a full window is VMAR_ENOMEM with
 * no fallback; FIXED and FIXED_NOREPLACE map where asked even outside it;
 * a malformed window is VMAR_EINVAL for every kind of mapping, with the
 * space unchanged.
 */
#include "harness.h"

#include <string.h>

#include <vmar/error.h>
#include <vmar/object.h>

#define RW    (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define WLO   ((vmar_addr_t)0x40000000) /* 1 GiB: inside every backend */
#define WHI   (WLO + 16 * PG)
#define GUARD (4 * PG)

static void setup(struct vt *vt, unsigned flags, unsigned aslr_bits)
{
    struct vmar_space_opts o = {
        .stack_guard = GUARD, .flags = flags, .aslr_bits = aslr_bits};

    vt_setup(vt, &o, 512);
}

static int map_win(struct vt *vt, vmar_size_t size, enum vmar_place place,
                   vmar_addr_t addr, unsigned flags, vmar_addr_t lo,
                   vmar_addr_t hi, vmar_addr_t *out)
{
    struct vmar_map_opts o = {.size = size,
                              .addr = addr,
                              .place = place,
                              .prot = RW,
                              .flags = flags,
                              .window_lo = lo,
                              .window_hi = hi};
    return vt_map_opts(vt, &o, out);
}

/* Fill the window page by page; each map lands at the next highest (or
 * lowest) page, and the next one after it is full fails, unchanged. */
static void fill_window(unsigned space_flags, unsigned map_flags, bool down)
{
    struct vt vt;
    vmar_addr_t at;
    (void)down;

    setup(&vt, space_flags, 0);
    /* Neighbours just outside: the search must not use them. */
    vt_map_fixed(&vt, WLO - 4 * PG, 2, RW, VMAR_MAP_SHARED);
    vt_map_fixed(&vt, WHI + 2 * PG, 2, RW, VMAR_MAP_SHARED);
    for (unsigned i = 0; i < 16; i++) {
        VT_EXPECT_RC(
            map_win(&vt, PG, VMAR_PLACE_ANY, 0, map_flags, WLO, WHI, &at), 0);
        assert_int_equal(at, down ? WHI - (i + 1) * PG : WLO + i * PG);
        VT_CHECK(&vt);
    }
    struct vt_snap snap;
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_ANY, 0, map_flags, WLO, WHI, &at),
                 VMAR_ENOMEM);
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_HINT, WLO, map_flags, WLO, WHI, &at),
        VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* The rest of the space is free, and used without a window. */
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_ANY, 0, map_flags, 0, 0, &at), 0);
    assert_true(at < WLO || at >= WHI);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_fill_top_down(void **state)
{
    (void)state;
    fill_window(0, 0, true);
    fill_window(VMAR_SPACE_BOTTOM_UP, VMAR_MAP_TOP_DOWN, true);
}

static void test_fill_bottom_up(void **state)
{
    (void)state;
    fill_window(VMAR_SPACE_BOTTOM_UP, 0, false);
    fill_window(0, VMAR_MAP_BOTTOM_UP, false);
}

static void test_one_edge(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    setup(&vt, 0, 0);
    /* window_lo alone: top-down still picks the top of the user range;
     * bottom-up starts at window_lo. */
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_ANY, 0, VMAR_MAP_BOTTOM_UP, WLO, 0, &at),
        0);
    assert_int_equal(at, WLO);
    /* window_hi alone: below it, top-down. */
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_ANY, 0, 0, 0, WHI, &at), 0);
    assert_int_equal(at, WHI - PG);
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_ANY, 0, VMAR_MAP_BOTTOM_UP, 0, WHI, &at),
        0);
    assert_int_equal(at, vt_space_stats(&vt).user_lo);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_hint(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    setup(&vt, 0, 0);
    /* Inside and free: taken. */
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_HINT, WLO + 3 * PG, 0, WLO, WHI, &at), 0);
    assert_int_equal(at, WLO + 3 * PG);
    /* Outside, or straddling an edge: placed in the window instead. */
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_HINT, WHI + 8 * PG, 0, WLO, WHI, &at), 0);
    assert_int_equal(at, WHI - PG);
    VT_EXPECT_RC(
        map_win(&vt, 2 * PG, VMAR_PLACE_HINT, WLO - PG, 0, WLO, WHI, &at), 0);
    assert_int_equal(at, WHI - 3 * PG);
    VT_EXPECT_RC(map_win(&vt, 2 * PG, VMAR_PLACE_HINT, WHI - PG,
                         VMAR_MAP_BOTTOM_UP, WLO, WHI, &at),
                 0);
    assert_int_equal(at, WLO);
    /* Inside but taken: the search. */
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_HINT, WLO + 3 * PG,
                         VMAR_MAP_BOTTOM_UP, WLO, WHI, &at),
                 0);
    assert_int_equal(at, WLO + 2 * PG);
    /* A stack's hint whose guard would leave the window: the search,
     * which keeps the guard inside. */
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_HINT, WLO + 4 * PG,
                         VMAR_MAP_STACK | VMAR_MAP_BOTTOM_UP, WLO + 4 * PG, WHI,
                         &at),
                 0);
    assert_int_equal(at, WLO + 4 * PG + GUARD);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_guard_and_align(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    struct vt_snap snap;
    (void)state;

    setup(&vt, 0, 0);
    /* A window of exactly size + guard holds a stack, bottom-up and
     * top-down alike; a page less does not. */
    VT_EXPECT_RC(map_win(&vt, 2 * PG, VMAR_PLACE_ANY, 0, VMAR_MAP_GROWSDOWN,
                         WLO, WLO + 2 * PG + GUARD, &at),
                 0);
    assert_int_equal(at, WLO + GUARD);
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(map_win(&vt, 2 * PG, VMAR_PLACE_ANY, 0, VMAR_MAP_STACK, WHI,
                         WHI + 2 * PG + GUARD - PG, &at),
                 VMAR_ENOMEM);
    /* Too small for the size itself. */
    VT_EXPECT_RC(
        map_win(&vt, 4 * PG, VMAR_PLACE_ANY, 0, 0, WHI, WHI + 3 * PG, &at),
        VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    /* Another mapping may not take the stack's guard, inside a window
     * that holds nothing else. */
    VT_EXPECT_RC(
        map_win(&vt, PG, VMAR_PLACE_ANY, 0, 0, WLO, WLO + 2 * PG + GUARD, &at),
        VMAR_ENOMEM);
    /* Alignment: the highest 64 KiB multiple inside an unaligned
     * window. */
    const vmar_size_t al = 16 * PG;
    struct vmar_map_opts o = {.size = al,
                              .align = al,
                              .prot = RW,
                              .window_lo = WHI + PG,
                              .window_hi = WHI + 4 * al - PG};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, &at), 0);
    assert_int_equal(at, WHI + 2 * al);
    o.flags = VMAR_MAP_BOTTOM_UP;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, &at), 0);
    assert_int_equal(at, WHI + al);
    vt_snap_take(&vt, &snap);
    VT_EXPECT_RC(vt_map_opts(&vt, &o, &at), VMAR_ENOMEM);
    VT_EXPECT_UNCHANGED(&vt, &snap);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

static void test_aslr(void **state)
{
    struct vt vt;
    vmar_addr_t at, first = 0;
    bool varied = false;
    (void)state;

    for (unsigned bu = 0; bu < 2; bu++) {
        setup(&vt, bu ? VMAR_SPACE_BOTTOM_UP : 0, 5);
        for (unsigned i = 0; i < 12; i++) {
            VT_EXPECT_RC(
                map_win(&vt, PG, VMAR_PLACE_ANY, 0, 0, WLO, WLO + 64 * PG, &at),
                0);
            assert_true(at >= WLO && at < WLO + 64 * PG);
            if (i == 0)
                first = at;
            varied |= at != first;
        }
        /* A shift larger than the window falls back to the window. */
        VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_ANY, 0, 0, WHI + 64 * PG,
                             WHI + 65 * PG, &at),
                     0);
        assert_int_equal(at, WHI + 64 * PG);
        VT_CHECK(&vt);
        vt_teardown(&vt);
    }
    assert_true(varied);
}

static void test_fixed_ignores(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    setup(&vt, 0, 0);
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_FIXED, WHI + PG, 0, WLO, WHI, &at),
                 0);
    assert_int_equal(at, WHI + PG);
    VT_EXPECT_RC(map_win(&vt, PG, VMAR_PLACE_FIXED_NOREPLACE, WLO - PG, 0, WLO,
                         WHI, &at),
                 0);
    assert_int_equal(at, WLO - PG);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* ---- bad windows, every kind of mapping ------------------------------- */

enum kind {
    K_PRIVATE,
    K_SHARED,
    K_OBJECT,
    K_DEVICE,
    K_COUNT
};

struct bad_case {
    vmar_addr_t lo, hi;
    int want; /* for ANY / HINT */
    int want_fixed;
};

static void test_bad_windows(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    vmar_paddr_t pa = 0;
    (void)state;

    setup(&vt, 0, 0);
    vt_without_refdecoder(&vt);
    const vmar_addr_t ulo = vt_space_stats(&vt).user_lo;
    const vmar_addr_t uhi = vt_space_stats(&vt).user_hi;
    const struct bad_case cases[] = {
        {WLO + 1, WHI, VMAR_EINVAL, VMAR_EINVAL},
        {WLO, WHI - 1, VMAR_EINVAL, VMAR_EINVAL},
        {WHI, WLO, VMAR_EINVAL, VMAR_EINVAL},
        {WLO, WLO, VMAR_EINVAL, VMAR_EINVAL},
        {ulo - PG, WHI, VMAR_EINVAL, VMAR_EINVAL},
        {WLO, uhi + PG, VMAR_EINVAL, VMAR_EINVAL},
        {uhi, 0, VMAR_EINVAL, VMAR_EINVAL}, /* lo at user_hi: empty */
        {0, ulo, VMAR_EINVAL, VMAR_EINVAL}, /* hi at user_lo: empty */
        {WLO, WLO + PG, VMAR_ENOMEM, 0},    /* too small (not device) */
        {WLO + 8 * PG, WLO + 10 * PG, VMAR_ENOMEM, 0}, /* full */
    };
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    assert_int_equal(vt.env->frame_alloc(vt.env->ctx, VMAR_FRAME_ZERO, &pa), 0);
    /* Something mapped, so that "unchanged" means something. */
    vt_map_fixed(&vt, WLO + 8 * PG, 2, RW, 0);
    vt_fill_pages(&vt, WLO + 8 * PG, 2, 7);
    for (unsigned k = 0; k < K_COUNT; k++) {
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            for (unsigned place = VMAR_PLACE_ANY; place <= VMAR_PLACE_FIXED;
                 place++) {
                struct vmar_map_opts o = {.size = 2 * PG,
                                          .addr = WLO + 8 * PG,
                                          .place = (enum vmar_place)place,
                                          .prot = RW,
                                          .window_lo = cases[c].lo,
                                          .window_hi = cases[c].hi};
                if (k == K_SHARED)
                    o.flags = VMAR_MAP_SHARED;
                if (k == K_OBJECT) {
                    o.backing = VMAR_BACKING_OBJECT;
                    o.object = obj;
                }
                if (k == K_DEVICE) {
                    o.backing = VMAR_BACKING_DEVICE;
                    o.paddr = pa;
                    o.size = PG;
                }
                const bool fixed = place == VMAR_PLACE_FIXED ||
                                   place == VMAR_PLACE_FIXED_NOREPLACE;
                int want = fixed ? cases[c].want_fixed : cases[c].want;
                if (k == K_DEVICE && c == 8)
                    want = 0; /* one page fits one page */
                if (want == 0)
                    continue; /* maps: not a bad case */
                struct vt_snap snap;
                vt_snap_take(&vt, &snap);
                VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), want);
                VT_EXPECT_UNCHANGED(&vt, &snap);
            }
        }
    }
    VT_EXPECT_PAGES(&vt, WLO + 8 * PG, 2, 7);
    vmar_object_unref(obj);
    vt.env->frame_free(vt.env->ctx, pa);
    vt_teardown(&vt);
}

/* ---- allocation failure ------------------------------------------------ */

struct alloc_arg {
    struct vmar_object *obj;
    unsigned kind;
};

static int map_in_window(struct vt *vt, void *arg)
{
    const struct alloc_arg *a = arg;
    struct vmar_map_opts o = {.size = 2 * PG,
                              .prot = RW,
                              .flags = VMAR_MAP_POPULATE | VMAR_MAP_BOTTOM_UP,
                              .window_lo = WLO + 4 * PG,
                              .window_hi = WHI};
    vmar_addr_t at;

    if (a->kind == K_SHARED)
        o.flags |= VMAR_MAP_SHARED;
    if (a->kind == K_OBJECT) {
        o.backing = VMAR_BACKING_OBJECT;
        o.object = a->obj;
    }
    int rc = vmar_map(vt->space, &o, &at);
    if (rc == 0)
        assert_int_equal(at, WLO + 4 * PG);
    return rc;
}

static void test_alloc_failure(void **state)
{
    (void)state;
    for (unsigned k = K_PRIVATE; k <= K_OBJECT; k++) {
        struct vt vt;
        struct alloc_arg a = {.kind = k};
        setup(&vt, 0, 0);
        vt_without_refdecoder(&vt);
        assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &a.obj), 0);
        /* The memfd's pages exist before the sweep: pages an object
         * allocated for a failed call are the object's to keep, and
         * would change the snapshot's digest. */
        struct vmar_map_opts pre = {.size = 4 * PG,
                                    .addr = WHI + 16 * PG,
                                    .place = VMAR_PLACE_FIXED,
                                    .prot = RW,
                                    .flags =
                                        VMAR_MAP_SHARED | VMAR_MAP_POPULATE,
                                    .backing = VMAR_BACKING_OBJECT,
                                    .object = a.obj};
        VT_EXPECT_RC(vt_map_opts(&vt, &pre, NULL), 0);
        VT_EXPECT_RC(vt_unmap(&vt, WHI + 16 * PG, 4 * PG), 0);
        /* Mappings on both sides, so that the insert has neighbours. */
        vt_map_fixed(&vt, WLO, 4, RW, 0);
        vt_map_fixed(&vt, WHI, 4, RW, 0);
        assert_true(vt_fail_each_allocation(&vt, map_in_window, &a) > 0);
        VT_CHECK(&vt);
        vmar_object_unref(a.obj);
        vt_teardown(&vt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_top_down),
        cmocka_unit_test(test_fill_bottom_up),
        cmocka_unit_test(test_one_edge),
        cmocka_unit_test(test_hint),
        cmocka_unit_test(test_guard_and_align),
        cmocka_unit_test(test_aslr),
        cmocka_unit_test(test_fixed_ignores),
        cmocka_unit_test(test_bad_windows),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, vt_cleanup);
}
