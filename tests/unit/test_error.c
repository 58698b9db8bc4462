/* SPDX-License-Identifier: MIT */
/* Error codes: errno values, names and messages from the one list. */
#include "harness.h"

#include <string.h>

static void test_values_mirror_errno(void **state)
{
    (void)state;
    /* Linux's numbers, so a syscall layer can return them as they are. */
    assert_int_equal(VMAR_EPERM, -1);
    assert_int_equal(VMAR_ENOENT, -2);
    assert_int_equal(VMAR_ENOMEM, -12);
    assert_int_equal(VMAR_EACCES, -13);
    assert_int_equal(VMAR_EFAULT, -14);
    assert_int_equal(VMAR_EBUSY, -16);
    assert_int_equal(VMAR_EEXIST, -17);
    assert_int_equal(VMAR_EINVAL, -22);
    assert_int_equal(VMAR_EOVERFLOW, -75);
    assert_int_equal(VMAR_ENOTSUP, -95);
    assert_int_equal(VMAR_ECORRUPT, -117);
}

static void test_names_and_messages(void **state)
{
    static const int codes[] = {
#define X(name, num, msg) VMAR_##name,
        VMAR_ERRNO_MAP(X)
#undef X
    };
    (void)state;
    assert_string_equal(vmar_errname(VMAR_ENOMEM), "VMAR_ENOMEM");
    assert_string_equal(vmar_errname(0), "VMAR_OK");
    assert_string_equal(vmar_strerror(0), "success");
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_true(codes[i] < 0);
        assert_string_not_equal(vmar_strerror(codes[i]), "unknown error");
        assert_string_not_equal(vmar_errname(codes[i]), "VMAR_E?");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(vmar_errname(codes[i]),
                                    vmar_errname(codes[j]));
        }
    }
    assert_string_equal(vmar_strerror(-4095), "unknown error");
    assert_string_equal(vmar_strerror(7), "unknown error");
    assert_string_equal(vmar_errname(-4095), "VMAR_E?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_mirror_errno),
        cmocka_unit_test(test_names_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
