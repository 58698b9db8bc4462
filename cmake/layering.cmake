# SPDX-License-Identifier: MIT
# The layering lint tests (label "lint"), read from what was built with nm
# (the toolchain's, which CMake finds with the compiler, else the host's):
#  - `layering`: scripts/check-layering.sh reads the file-level call graph
#    of the core from the symbols of libvmar_core.a (for each member, the
#    vmar symbols it uses that another member defines) and fails on a
#    cycle: no two core files may call each other, directly or around a
#    loop (docs/DESIGN.md, "Source layout").
#  - `sim_layers`: scripts/check-sim-layers.sh holds the boundary between
#    the simulated machine (src/mmu/sim/machine/) and the sim backend
#    (src/mmu/sim/backend/): the machine includes only public headers and
#    names no backend, the backend only public headers and the walker's
#    radix.h, and no two of their files call or include each other in a
#    loop.
if(NOT VMAR_BUILD_TESTS)
  return()
endif()
set(_vmar_lint_nm nm)
if(CMAKE_NM)
  set(_vmar_lint_nm "${CMAKE_NM}")
endif()
add_test(NAME layering
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-layering.sh
    ${_vmar_lint_nm} $<TARGET_FILE:vmar_core>)
set_tests_properties(layering PROPERTIES LABELS lint TIMEOUT 60)
add_test(NAME sim_layers
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-sim-layers.sh
    ${PROJECT_SOURCE_DIR} ${_vmar_lint_nm}
    $<TARGET_OBJECTS:vmar_sim_machine> -- $<TARGET_OBJECTS:vmar_mmu_sim>)
set_tests_properties(sim_layers PROPERTIES LABELS lint TIMEOUT 60)
