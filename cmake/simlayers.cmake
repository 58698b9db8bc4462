# SPDX-License-Identifier: MIT
# ctest `sim_layers` (label "lint"): scripts/check-sim-layers.sh holds the
# boundary between the simulated machine (src/mmu/sim/machine/) and the
# sim backend (src/mmu/sim/backend/): the machine includes only public
# headers and names no backend, the backend only public headers and the
# walker's radix.h, and no two of their files call or include each other
# in a loop. It reads the two targets' object files with nm, so it runs
# on what was built.
if(NOT VMAR_BUILD_TESTS)
  return()
endif()
set(_vmar_layers_nm nm)
if(CMAKE_NM)
  set(_vmar_layers_nm "${CMAKE_NM}")
endif()
add_test(NAME sim_layers
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-sim-layers.sh
    ${PROJECT_SOURCE_DIR} ${_vmar_layers_nm}
    $<TARGET_OBJECTS:vmar_sim_machine> -- $<TARGET_OBJECTS:vmar_mmu_sim>)
set_tests_properties(sim_layers PROPERTIES LABELS lint TIMEOUT 60)
