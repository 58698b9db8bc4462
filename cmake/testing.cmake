# SPDX-License-Identifier: MIT
# ctest set-up, included before any add_test().
#
# Memcheck: the valgrind preset sets MEMORYCHECK_COMMAND (a program name or
# a path) and MEMORYCHECK_COMMAND_OPTIONS; include(CTest) writes them to
# DartConfiguration.tcl, where `ctest -T memcheck` reads them. ctest needs
# an absolute path there, so a bare name is resolved on PATH here.
#
# `ctest -T memcheck` marks a test failed only when the test process exits
# non-zero; defects it merely counts do not change its exit status. The
# valgrind preset therefore passes --error-exitcode=1 together with
# --errors-for-leak-kinds, so every memcheck error and every leak makes the
# test, and with it the whole ctest run, fail.
if(MEMORYCHECK_COMMAND AND NOT IS_ABSOLUTE "${MEMORYCHECK_COMMAND}")
  find_program(_vmar_memcheck_path NAMES "${MEMORYCHECK_COMMAND}")
  if(NOT _vmar_memcheck_path)
    message(FATAL_ERROR "MEMORYCHECK_COMMAND: '${MEMORYCHECK_COMMAND}' "
      "not found on PATH (apt-get install valgrind)")
  endif()
  set(MEMORYCHECK_COMMAND "${_vmar_memcheck_path}" CACHE FILEPATH
    "Memory checker for ctest -T memcheck" FORCE)
  unset(_vmar_memcheck_path CACHE)
endif()

# include(CTest) also adds a dozen dashboard targets (Experimental,
# NightlyMemCheck, ...) that this project never uses; keep them out.
set_property(GLOBAL PROPERTY CTEST_TARGETS_ADDED 1)
include(CTest)

find_program(VMAR_BASH NAMES bash)
mark_as_advanced(VMAR_BASH)

# A test preset cannot select ctest's memcheck mode, and `ctest --preset
# valgrind -T memcheck` looks for DartConfiguration.tcl in the source
# directory. So the valgrind preset sets VMAR_MEMCHECK, which registers one
# test, `memcheck`, that runs every other test (labels lint, packaging and
# docs excepted: scripts, cmake and doxygen gain nothing from valgrind)
# through `ctest -T memcheck` in this build directory (scripts/memcheck.sh);
# the test preset `valgrind` runs only that test. Any valgrind error or
# leak fails an inner test, hence `memcheck`, hence the run, and
# memcheck.sh prints valgrind's report of it.
option(VMAR_MEMCHECK "Register the ctest test `memcheck` (see above)" OFF)
if(VMAR_MEMCHECK)
  if(NOT MEMORYCHECK_COMMAND)
    message(FATAL_ERROR "VMAR_MEMCHECK needs MEMORYCHECK_COMMAND (valgrind)")
  endif()
  cmake_host_system_information(RESULT _vmar_ncpu
    QUERY NUMBER_OF_LOGICAL_CORES)
  add_test(NAME memcheck
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/memcheck.sh
      ${CMAKE_CTEST_COMMAND} ${PROJECT_BINARY_DIR} $<CONFIG> ${_vmar_ncpu})
  set_tests_properties(memcheck PROPERTIES LABELS memcheck TIMEOUT 1800)
endif()
