/* SPDX-License-Identifier: MIT */
/*
 * vmar_linux_mm_init: the layer's state over a space. The layer gives
 * Linux's errnos, and Linux has no handle rights: a handle without
 * READ, WRITE and EXEC would turn munmap, MAP_FIXED or a fault into an
 * EACCES Linux never returns, so such a handle is refused up front.
 */
#include "harness.h"

#include <string.h>

#include <vmar/linux.h>

#define LO ((vmar_addr_t)0x10000)

static void test_init(void **state)
{
    struct vt vt;
    struct vmar_linux_mm mm;
    (void)state;

    vt_setup(&vt, NULL, 0);
    assert_int_equal(vmar_linux_mm_init(&mm, vt.space, vt.env, LO + PG, 0), 0);
    assert_ptr_equal(mm.space, vt.space);
    assert_int_equal(mm.brk, LO + PG);
    assert_int_equal(mm.max_map_count, VMAR_DEFAULT_MAX_MAP_COUNT);
    assert_int_equal(mm.as_limit, 0);
    assert_int_equal(vmar_linux_mm_init(NULL, vt.space, vt.env, LO, 0),
                     -VMAR_LINUX_EINVAL);
    assert_int_equal(vmar_linux_mm_init(&mm, vt.space, vt.env, LO + 1, 0),
                     -VMAR_LINUX_EINVAL);
    assert_int_equal(vmar_linux_mm_init(&mm, vt.space, vt.env, 0, 0),
                     -VMAR_LINUX_EINVAL);
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

/* Every handle lacking one of READ, WRITE, EXEC is refused; DUP is not
 * needed. *mm is untouched on failure. */
static void test_init_rights(void **state)
{
    const unsigned need = VMAR_RIGHT_READ | VMAR_RIGHT_WRITE | VMAR_RIGHT_EXEC;
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    for (unsigned r = 0; r <= VMAR_RIGHTS_ALL; r++) {
        struct vmar_space *h;
        struct vmar_linux_mm mm, before;

        memset(&mm, 0x5a, sizeof(mm));
        before = mm;
        assert_int_equal(vmar_space_dup(vt.space, r, &h), 0);
        int rc = vmar_linux_mm_init(&mm, h, vt.env, LO + PG, 0);
        if ((r & need) == need) {
            assert_int_equal(rc, 0);
            assert_ptr_equal(mm.space, h);
        } else {
            assert_int_equal(rc, -VMAR_LINUX_EINVAL);
            assert_memory_equal(&mm, &before, sizeof(mm));
        }
        vmar_space_destroy(h);
    }
    VT_CHECK(&vt);
    vt_teardown(&vt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_init_rights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
