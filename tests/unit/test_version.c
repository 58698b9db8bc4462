/* SPDX-License-Identifier: MIT */
/* Version: the macros, the run-time functions and CMake's project version. */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <vmar/version.h>

static void test_string_matches_macros(void **state)
{
    char expect[32];
    (void)state;
    snprintf(expect, sizeof(expect), "%d.%d.%d", VMAR_VERSION_MAJOR,
             VMAR_VERSION_MINOR, VMAR_VERSION_PATCH);
    assert_non_null(vmar_version());
    assert_string_equal(vmar_version(), expect);
    assert_string_equal(vmar_version(), VMAR_VERSION_STRING);
    /* A static string: the same pointer every time. */
    assert_ptr_equal(vmar_version(), vmar_version());
}

static void test_number_matches_macros(void **state)
{
    (void)state;
    assert_int_equal(vmar_version_number(), VMAR_VERSION_NUMBER);
    assert_int_equal(vmar_version_number(),
                     ((unsigned)VMAR_VERSION_MAJOR << 16) |
                         ((unsigned)VMAR_VERSION_MINOR << 8) |
                         (unsigned)VMAR_VERSION_PATCH);
    /* Encoded numbers order like versions. */
    assert_true(VMAR_VERSION_ENCODE(0, 9, 255) < VMAR_VERSION_ENCODE(0, 10, 0));
    assert_true(VMAR_VERSION_ENCODE(0, 255, 255) <
                VMAR_VERSION_ENCODE(1, 0, 0));
}

static void test_matches_cmake_project(void **state)
{
    (void)state;
#ifdef VMAR_PROJECT_VERSION
    /* cmake/install.cmake passes project(VERSION) to this test. */
    assert_string_equal(vmar_version(), VMAR_PROJECT_VERSION);
#else
    fail_msg("built without VMAR_PROJECT_VERSION: the build lost the "
             "project version this test compares against");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_matches_macros),
        cmocka_unit_test(test_number_matches_macros),
        cmocka_unit_test(test_matches_cmake_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
