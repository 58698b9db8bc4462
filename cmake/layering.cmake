# SPDX-License-Identifier: MIT
# ctest `layering` (label "lint"): scripts/check-layering.sh reads the
# file-level call graph of the core from the symbols of libvmar_core.a
# (for each member, the vmar symbols it uses that another member defines)
# and fails on a cycle: no two core files may call each other, directly
# or around a loop (docs/DESIGN.md, "Source layout").
if(NOT VMAR_BUILD_TESTS)
  return()
endif()
# The toolchain's nm (CMake finds it with the compiler), else the host's.
set(_vmar_layering_nm nm)
if(CMAKE_NM)
  set(_vmar_layering_nm "${CMAKE_NM}")
endif()
add_test(NAME layering
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-layering.sh
    ${_vmar_layering_nm} $<TARGET_FILE:vmar_core>)
set_tests_properties(layering PROPERTIES LABELS lint TIMEOUT 60)
