# SPDX-License-Identifier: MIT
# ctest `format` (label "lint"): scripts/check-format.sh runs
# `clang-format --dry-run -Werror` with the repository's .clang-format over
# every tracked .c/.h file and fails on any difference. clang-format 14 is
# the pinned version (Debian 12); a missing clang-format fails the test
# rather than skipping it.
option(VMAR_FORMAT_CHECK "Register the clang-format check as a ctest test" ON)
if(NOT VMAR_FORMAT_CHECK OR NOT VMAR_BUILD_TESTS)
  return()
endif()
find_program(VMAR_CLANG_FORMAT NAMES clang-format-14 clang-format)
add_test(NAME format
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-format.sh
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(format PROPERTIES LABELS lint TIMEOUT 120)
if(VMAR_CLANG_FORMAT)
  set_tests_properties(format PROPERTIES
    ENVIRONMENT "CLANG_FORMAT=${VMAR_CLANG_FORMAT}")
endif()
