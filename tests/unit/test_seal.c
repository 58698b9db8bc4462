/* SPDX-License-Identifier: MIT */
/*
 * vmar_seal() and VMAR_MAP_SEALED (Linux's mseal): sealing cuts mappings
 * at the range's ends and merges sealed neighbours; a sealed mapping
 * refuses unmap, FIXED replacement, remap (source or target), resize,
 * protect and discarding advice on read-only private anonymous memory with
 * VMAR_EPERM and the space unchanged; other advice and contents work;
 * fork keeps the seal, clear drops sealed mappings; bad input, holes, the
 * count limit and every allocation failure leave the space unchanged.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R  ((unsigned)VMAR_PROT_READ)
#define W  ((unsigned)VMAR_PROT_WRITE)
#define RW (R | W)

#define FIXED VMAR_PLACE_FIXED
#define BASE  ((vmar_addr_t)0x40000000)

static int seal(struct vt *vt, vmar_addr_t addr, vmar_size_t size)
{
    int rc = vmar_seal(vt->space, addr, size);
    VT_CHECK(vt);
    return rc;
}

/* `call` must fail with `want` and change nothing at all. */
#define EXPECT_FAILS(vt, call, want)                                           \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        VT_EXPECT_RC((call), (want));                                          \
        VT_CHECK(vt);                                                          \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

/* Whether the mapping at `at` (which must exist) is sealed. */
static bool sealed_at(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info = {0};

    assert_int_equal(vmar_query(vt->space, at, &info), 0);
    return (info.flags & VMAR_MAP_SEALED) != 0;
}

static size_t count(struct vt *vt)
{
    return vt_space_stats(vt).map_count;
}

/* Sealing the middle cuts; sealing the rest merges; sealing again is a
 * no-op. Sealed and unsealed neighbours stay apart. */
static void test_split_merge(void **state)
{
    struct vmar_mapping_info info;
    (void)state;
    struct vt vt;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    VT_EXPECT_RC(seal(&vt, BASE + 2 * PG, 3 * PG), 0);
    assert_int_equal(count(&vt), 3);
    assert_false(sealed_at(&vt, BASE));
    assert_true(sealed_at(&vt, BASE + 4 * PG));
    VT_EXPECT_RC(vmar_query(vt.space, BASE + 2 * PG, &info), 0);
    assert_int_equal(info.start, BASE + 2 * PG);
    assert_int_equal(info.end, BASE + 5 * PG);
    /* Already sealed: nothing changes, nothing is allocated. */
    {
        struct vt_snap snap;
        vt_snap_take(&vt, &snap);
        VT_EXPECT_RC(seal(&vt, BASE + 3 * PG, PG), 0);
        VT_EXPECT_UNCHANGED(&vt, &snap);
    }
    VT_EXPECT_RC(seal(&vt, BASE, 3 * PG), 0);
    assert_int_equal(count(&vt), 2);
    VT_EXPECT_RC(seal(&vt, BASE, 8 * PG), 0);
    assert_int_equal(count(&vt), 1);
    /* A new mapping sealed from birth merges with it; an unsealed one
     * beside it does not. */
    VT_EXPECT_RC(
        vt_map(&vt, BASE + 8 * PG, 2 * PG, RW, FIXED, VMAR_MAP_SEALED, NULL),
        0);
    assert_int_equal(count(&vt), 1);
    vt_map_fixed(&vt, BASE + 10 * PG, 2, RW, 0);
    assert_int_equal(count(&vt), 2);
    vt_teardown(&vt);
}

/* Every operation that would change a sealed mapping's layout or
 * permissions is refused, whole: a range that only touches it too. */
static void test_refusals(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 5);
    VT_EXPECT_RC(vt_protect(&vt, BASE, 8 * PG, R), 0);
    VT_EXPECT_RC(seal(&vt, BASE + 2 * PG, 4 * PG), 0);
    vt_map_fixed(&vt, BASE + 16 * PG, 4, RW, 0);

    /* unmap: inside, touching, covering, and with a hole around it. */
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE + 3 * PG, PG), VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE + 5 * PG, 2 * PG), VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE, 8 * PG), VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE, 32 * PG), VMAR_EPERM);
    /* map FIXED over it; FIXED_NOREPLACE stays EEXIST. */
    EXPECT_FAILS(&vt, vt_map(&vt, BASE + 5 * PG, 2 * PG, RW, FIXED, 0, NULL),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt,
                 vt_map(&vt, BASE + 5 * PG, 2 * PG, RW,
                        VMAR_PLACE_FIXED_NOREPLACE, 0, NULL),
                 VMAR_EEXIST);
    /* protect: new permissions, and the same ones. */
    EXPECT_FAILS(&vt, vmar_protect(vt.space, BASE + 2 * PG, 4 * PG, R),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_protect(vt.space, BASE, 3 * PG, RW), VMAR_EPERM);
    /* A mapping's EACCES comes before its EPERM. */
    {
        struct vmar_map_opts o = {.addr = BASE + 24 * PG,
                                  .size = PG,
                                  .prot = R,
                                  .deny_prot = W,
                                  .place = FIXED,
                                  .flags = VMAR_MAP_SEALED};
        VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
        EXPECT_FAILS(&vt, vmar_protect(vt.space, BASE + 24 * PG, PG, RW),
                     VMAR_EACCES);
        EXPECT_FAILS(&vt, vmar_protect(vt.space, BASE + 24 * PG, PG, R),
                     VMAR_EPERM);
    }
    /* remap: shrink, grow, move; resize; a FIXED target over it. */
    EXPECT_FAILS(&vt,
                 vmar_remap(vt.space, BASE + 2 * PG, 4 * PG, 2 * PG, 0, 0, &at),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt,
                 vmar_remap(vt.space, BASE + 2 * PG, 4 * PG, 8 * PG,
                            VMAR_REMAP_MAYMOVE, 0, &at),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt,
                 vmar_remap(vt.space, BASE + 2 * PG, 4 * PG, 4 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 40 * PG, &at),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt,
                 vmar_remap(vt.space, BASE, 8 * PG, 8 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 40 * PG, &at),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt,
                 vmar_remap(vt.space, BASE + 16 * PG, 2 * PG, 2 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED,
                            BASE + 5 * PG, &at),
                 VMAR_EPERM);
    vt_teardown(&vt);
}

/* Discarding advice: refused on sealed read-only private anonymous
 * memory only; hints pass; contents stay. */
static void test_advice(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 7);
    VT_EXPECT_RC(vt_protect(&vt, BASE, 4 * PG, R), 0);
    VT_EXPECT_RC(seal(&vt, BASE, 4 * PG), 0);
    EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE, 4 * PG, VMAR_ADVISE_DONTNEED),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE + PG, PG, VMAR_ADVISE_FREE),
                 VMAR_EPERM);
    EXPECT_FAILS(&vt, vmar_advise(vt.space, BASE, PG, VMAR_ADVISE_DONTFORK),
                 VMAR_EPERM);
    static const int hints[] = {VMAR_ADVISE_RANDOM, VMAR_ADVISE_SEQUENTIAL,
                                VMAR_ADVISE_NORMAL, VMAR_ADVISE_WILLNEED,
                                VMAR_ADVISE_DOFORK};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        VT_EXPECT_RC(vmar_advise(vt.space, BASE + PG, PG, hints[i]), 0);
        VT_CHECK(&vt);
    }
    assert_int_equal(count(&vt), 1);
    VT_EXPECT_PAGES(&vt, BASE, 4, 7);

    /* Writable: the caller could zero it anyway, so DONTNEED passes. */
    vt_map_fixed(&vt, BASE + 8 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE + 8 * PG, 2, 9);
    VT_EXPECT_RC(seal(&vt, BASE + 8 * PG, 2 * PG), 0);
    VT_EXPECT_RC(
        vmar_advise(vt.space, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_ZERO(&vt, BASE + 8 * PG, 2);
    VT_EXPECT_RC(vmar_advise(vt.space, BASE + 8 * PG, PG, VMAR_ADVISE_DONTFORK),
                 0);
    assert_int_equal(count(&vt), 3);

    /* Read-only object memory (private and shared): allowed. */
    assert_int_equal(vmar_memfd_create(vt.env, 2 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE + 16 * PG,
                              .size = 2 * PG,
                              .prot = R,
                              .place = FIXED,
                              .flags = VMAR_MAP_SEALED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    o.addr = BASE + 20 * PG;
    o.flags |= VMAR_MAP_SHARED;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    vmar_object_unref(obj);
    VT_EXPECT_RC(
        vmar_advise(vt.space, BASE + 16 * PG, 2 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_EXPECT_RC(
        vmar_advise(vt.space, BASE + 20 * PG, 2 * PG, VMAR_ADVISE_DONTNEED), 0);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* What stays possible: unmapping and replacing the unsealed parts beside
 * it, writing its contents, moving other mappings next to it. */
static void test_neighbours(void **state)
{
    struct vt vt;
    vmar_addr_t at;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    VT_EXPECT_RC(seal(&vt, BASE + 2 * PG, 4 * PG), 0);
    vt_fill_pages(&vt, BASE + 2 * PG, 4, 3);
    VT_EXPECT_RC(vt_unmap(&vt, BASE, 2 * PG), 0);
    VT_EXPECT_RC(vt_map(&vt, BASE + 6 * PG, 2 * PG, R, FIXED, 0, NULL), 0);
    VT_EXPECT_RC(vt_protect(&vt, BASE + 6 * PG, 2 * PG, RW), 0);
    vt_map_fixed(&vt, BASE + 32 * PG, 2, RW, 0);
    VT_EXPECT_RC(vmar_remap(vt.space, BASE + 32 * PG, 2 * PG, 2 * PG,
                            VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, BASE, &at),
                 0);
    VT_CHECK(&vt);
    assert_int_equal(at, BASE);
    assert_int_equal(count(&vt), 3);
    VT_EXPECT_PAGES(&vt, BASE + 2 * PG, 4, 3);
    /* A non-sealed mapping cannot grow into it. */
    EXPECT_FAILS(&vt, vmar_resize(vt.space, BASE, 2 * PG, 4 * PG), VMAR_ENOMEM);
    vt_teardown(&vt);
}

/* Bad input, holes, rights, the count limit: VMAR_E* and nothing changed. */
static void test_bad_input(void **state)
{
    struct vt vt;
    struct vmar_space *ro;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 6 * PG, 3, RW, 0);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE + 1, PG), VMAR_EINVAL);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE, PG + 1), VMAR_EINVAL);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE, 0), VMAR_EINVAL);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE, (vmar_size_t)0 - PG),
                 VMAR_EINVAL);
    EXPECT_FAILS(&vt, vmar_seal(NULL, BASE, PG), VMAR_EINVAL);
    /* A hole anywhere: the whole range or nothing. */
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE, 8 * PG), VMAR_ENOMEM);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE + 4 * PG, PG), VMAR_ENOMEM);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE + 2 * PG, 6 * PG), VMAR_ENOMEM);
    /* A handle without WRITE. */
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &ro), 0);
    EXPECT_FAILS(&vt, vmar_seal(ro, BASE, PG), VMAR_EACCES);
    vmar_space_destroy(ro);
    /* The mapping-count limit: cutting one mapping in three needs two. */
    vmar_set_limits(vt.space, 0, 3);
    EXPECT_FAILS(&vt, vmar_seal(vt.space, BASE + PG, PG), VMAR_ENOMEM);
    VT_EXPECT_RC(seal(&vt, BASE, PG), 0); /* one cut: 3 mappings */
    /* Unmap's count check comes before its seal check, as Linux's. */
    VT_EXPECT_RC(seal(&vt, BASE + 6 * PG, 3 * PG), 0);
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE + 7 * PG, PG), VMAR_ENOMEM);
    EXPECT_FAILS(&vt, vmar_unmap(vt.space, BASE + 7 * PG, 2 * PG), VMAR_EPERM);
    vmar_set_limits(vt.space, 0, 0);
    vt_teardown(&vt);
}

/* Fork keeps the seal; DONTFORK still leaves a mapping out; clear
 * removes sealed mappings. */
static void test_fork_clear(void **state)
{
    struct vt vt, child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 4);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, R, 0);
    VT_EXPECT_RC(
        vmar_advise(vt.space, BASE + 8 * PG, 2 * PG, VMAR_ADVISE_DONTFORK), 0);
    VT_EXPECT_RC(seal(&vt, BASE + 8 * PG, 2 * PG), 0);
    VT_EXPECT_RC(seal(&vt, BASE + PG, 2 * PG), 0);
    vt_without_refdecoder(&vt);
    VT_EXPECT_RC(vt_fork(&vt, &child), 0);
    child.refcheck = false;
    assert_int_equal(count(&child), 3);
    assert_true(sealed_at(&child, BASE + PG));
    assert_false(sealed_at(&child, BASE));
    EXPECT_FAILS(&child, vmar_unmap(child.space, BASE, 4 * PG), VMAR_EPERM);
    EXPECT_FAILS(&child, vmar_protect(child.space, BASE + PG, PG, R),
                 VMAR_EPERM);
    VT_EXPECT_PAGES(&child, BASE, 4, 4);
    /* Writing into it is no layout change. */
    vt_fill_pages(&child, BASE + PG, 2, 6);
    VT_EXPECT_PAGES(&vt, BASE, 4, 4);
    VT_EXPECT_RC(vmar_clear(child.space), 0);
    VT_CHECK(&child);
    assert_int_equal(count(&child), 0);
    assert_int_equal(vt_space_stats(&child).total_vm, 0);
    vt_map_fixed(&child, BASE, 4, RW, 0);
    vt_child_destroy(&child);
    VT_EXPECT_RC(vmar_clear(vt.space), 0);
    VT_CHECK(&vt);
    assert_int_equal(count(&vt), 0);
    vt_teardown(&vt);
}

struct seal_arg {
    vmar_addr_t addr;
    vmar_size_t size;
};

static int op_seal(struct vt *vt, void *arg)
{
    const struct seal_arg *a = arg;

    return vmar_seal(vt->space, a->addr, a->size);
}

/* Sealing the middle of a mapping allocates its two cut nodes (and index
 * nodes): every failure is VMAR_ENOMEM with the space unchanged. */
static void test_oom_sweep(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 11);
    struct seal_arg a = {BASE + 2 * PG, 3 * PG};
    assert_true(vt_fail_each_allocation(&vt, op_seal, &a) >= 2);
    VT_CHECK(&vt);
    assert_int_equal(count(&vt), 3);
    /* Sealing the rest merges: nothing to allocate. */
    struct seal_arg b = {BASE, 8 * PG};
    assert_int_equal(vt_fail_each_allocation(&vt, op_seal, &b), 0);
    assert_int_equal(count(&vt), 1);
    VT_EXPECT_PAGES(&vt, BASE, 8, 11);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_merge), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_advice),      cmocka_unit_test(test_neighbours),
        cmocka_unit_test(test_bad_input),   cmocka_unit_test(test_fork_clear),
        cmocka_unit_test(test_oom_sweep),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
