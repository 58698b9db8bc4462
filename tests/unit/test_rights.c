/* SPDX-License-Identifier: MIT */
/*
 * Rights on space handles (the reference's Vmar<Rights>): a missing right
 * is VMAR_EACCES with the space unchanged; handles can only drop rights;
 * the space lives until its last handle goes.
 */
#include "harness.h"

#define A   ((vmar_addr_t)0x40000000)
#define R   VMAR_PROT_READ
#define RW  (VMAR_PROT_READ | VMAR_PROT_WRITE)
#define RWX VMAR_PROT_RWX

static void test_default_all(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_rights(vt.space), VMAR_RIGHTS_ALL);
    assert_int_equal(vmar_space_rights(NULL), 0);
    vt_teardown(&vt);
}

/* A read-only handle: may map read-only memory whose maximum it covers,
 * may read, may not write, protect upwards or map writable memory. */
static void test_read_only_handle(void **state)
{
    struct vt vt;
    struct vmar_space *ro;
    struct vt_snap snap;
    unsigned char b = 0;
    size_t done = 99;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vt_map(&vt, A, 4 * PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt.space, A, "x", 1, NULL), 0);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &ro), 0);
    assert_int_equal(vmar_space_rights(ro), VMAR_RIGHT_READ | VMAR_RIGHT_DUP);

    vt_snap_take(&vt, &snap);
    assert_int_equal(vmar_write(ro, A, "y", 1, &done), VMAR_EACCES);
    assert_int_equal(done, 0);
    assert_int_equal(vmar_fill_zero(ro, A, 1, NULL), VMAR_EACCES);
    assert_int_equal(vmar_protect(ro, A, PG, RW), VMAR_EACCES);
    /* prot R, but the maximum (RWX by default) is not covered. */
    assert_int_equal(
        vmar_map(ro, &(struct vmar_map_opts){.size = PG, .prot = R}, NULL),
        VMAR_EACCES);
    assert_int_equal(
        vmar_map(
            ro, &(struct vmar_map_opts){.size = PG, .prot = RW, .deny_prot = 4},
            NULL),
        VMAR_EACCES);
    VT_EXPECT_UNCHANGED(&vt, &snap);

    /* What the handle covers works, on the same space. */
    assert_int_equal(vmar_read(ro, A, &b, 1, NULL), 0);
    assert_int_equal(b, 'x');
    vmar_addr_t at;
    assert_int_equal(
        vmar_map(ro,
                 &(struct vmar_map_opts){.size = PG,
                                         .prot = R,
                                         .deny_prot =
                                             VMAR_PROT_WRITE | VMAR_PROT_EXEC},
                 &at),
        0);
    VT_CHECK(&vt);
    struct vmar_mapping_info info;
    assert_int_equal(vmar_query(vt.space, at, &info), 0);
    assert_int_equal(info.max_prot, R);
    assert_int_equal(vmar_protect(ro, A, PG, R), 0);
    assert_int_equal(vmar_unmap(ro, at, PG), 0);
    VT_CHECK(&vt);
    vmar_space_destroy(ro);
    vt_teardown(&vt);
}

/* Duplicating needs the DUP right and never adds rights. */
static void test_dup_rules(void **state)
{
    struct vt vt;
    struct vmar_space *a, *b, *c;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_dup(vt.space, RW, &a), 0); /* no DUP */
    assert_int_equal(vmar_space_dup(a, R, &b), VMAR_EACCES);
    assert_int_equal(
        vmar_space_dup(vt.space, VMAR_RIGHT_READ | VMAR_RIGHT_DUP, &b), 0);
    assert_int_equal(vmar_space_dup(b, VMAR_RIGHT_READ | VMAR_RIGHT_WRITE, &c),
                     VMAR_EACCES);
    assert_int_equal(vmar_space_dup(b, 1u << 4, &c), VMAR_EINVAL);
    assert_int_equal(vmar_space_dup(NULL, R, &c), VMAR_EINVAL);
    assert_int_equal(vmar_space_dup(b, 0, &c), 0); /* no rights at all */
    assert_int_equal(vmar_space_rights(c), 0);
    vmar_space_destroy(c);
    vmar_space_destroy(b);
    vmar_space_destroy(a);
    vt_teardown(&vt);
}

/* The space lives until its last handle goes, whichever that is. */
static void test_last_handle(void **state)
{
    struct vt vt;
    struct vmar_space *d;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vt_map(&vt, A, PG, RW, VMAR_PLACE_FIXED, 0, NULL), 0);
    assert_int_equal(vmar_write(vt.space, A, "z", 1, NULL), 0);
    assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHTS_ALL, &d), 0);
    vmar_space_destroy(vt.space); /* the creator's handle goes first */
    vt.space = NULL;
    assert_int_equal(vmar_read(d, A, &b, 1, NULL), 0);
    assert_int_equal(b, 'z');
    assert_int_equal(vmar_check(d), 0);
    vmar_space_destroy(d); /* now the space goes */
    vt_teardown(&vt);      /* asserts nothing leaked */
}

/* A fork through a restricted handle gives a child with those rights. */
static void test_fork_keeps_rights(void **state)
{
    struct vt vt;
    struct vmar_space *h, *child;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_space_dup(vt.space, VMAR_RIGHT_READ, &h), 0);
    assert_int_equal(
        vmar_fork(h, &(struct vmar_fork_opts){.mmu_config = vt.sim}, &child),
        0);
    assert_int_equal(vmar_space_rights(child), VMAR_RIGHT_READ);
    vmar_space_destroy(child);
    vmar_space_destroy(h);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_all),
        cmocka_unit_test(test_read_only_handle),
        cmocka_unit_test(test_dup_rules),
        cmocka_unit_test(test_last_handle),
        cmocka_unit_test(test_fork_keeps_rights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
