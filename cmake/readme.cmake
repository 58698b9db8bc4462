# SPDX-License-Identifier: MIT
# The README's embedding example must compile and run (issue 11). The ctest
# test `readme_example` (label "docs") runs scripts/check-readme-example.sh:
# it extracts the first ```c block under "## Using it" from README.md at
# test time, compiles it with -Wall -Wextra -Wpedantic -Werror against
# include/ and this build's static archives, and runs it. The build's
# sanitizer flags are passed on, so it also passes under the asan and tsan
# presets; the valgrind preset's memcheck run leaves the label out
# (scripts/memcheck.sh).
set(_vmar_readme_flags "")
if(VMAR_SANITIZE)
  set(_vmar_readme_flags "-fsanitize=${VMAR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all")
endif()
add_test(NAME readme_example
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-readme-example.sh
    ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_BINARY_DIR}/readme-example
    ${CMAKE_C_COMPILER} "${_vmar_readme_flags}" ${PROJECT_SOURCE_DIR}/include
    $<TARGET_FILE:vmar_mmu_sim> $<TARGET_FILE:vmar_sim_machine>
    $<TARGET_FILE:vmar_mmu_radix>
    $<TARGET_FILE:vmar_core>)
set_tests_properties(readme_example PROPERTIES LABELS docs TIMEOUT 60)
