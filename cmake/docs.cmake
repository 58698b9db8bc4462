# SPDX-License-Identifier: MIT
# The API reference: docs/Doxyfile.in -> <build>/docs/Doxyfile, output in
# <build>/docs/doxygen/html. The ctest test `docs` (label "docs") runs
# scripts/check-docs.sh: Doxygen must report no warning (undocumented
# declaration, member, parameter or return value) and every public
# function's comment needs Returns:, Locking: and On failure: lines.
# scripts/test.sh installs doxygen; without it the test is registered
# anyway and fails, so CI cannot skip it silently. `cmake --build <dir>
# --target vmar_docs` builds the reference alone.
option(VMAR_DOCS_CHECK "Register the Doxygen check as a ctest test" ON)
find_program(VMAR_DOXYGEN NAMES doxygen)
mark_as_advanced(VMAR_DOXYGEN)
set(VMAR_DOXYGEN_OUT ${PROJECT_BINARY_DIR}/docs/doxygen)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in
  ${PROJECT_BINARY_DIR}/docs/Doxyfile @ONLY)

if(VMAR_DOXYGEN)
  add_custom_target(vmar_docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMAR_DOXYGEN_OUT}
    COMMAND ${VMAR_DOXYGEN} ${PROJECT_BINARY_DIR}/docs/Doxyfile
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/docs
    COMMENT "Doxygen: ${VMAR_DOXYGEN_OUT}/html/index.html"
    VERBATIM)
endif()

if(VMAR_DOCS_CHECK AND VMAR_BUILD_TESTS)
  set(_vmar_doxygen "${VMAR_DOXYGEN}")
  if(NOT _vmar_doxygen)
    set(_vmar_doxygen doxygen) # fails at test time, naming the tool
  endif()
  add_test(NAME docs
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-docs.sh
      ${_vmar_doxygen} ${PROJECT_BINARY_DIR}/docs/Doxyfile
      ${PROJECT_SOURCE_DIR}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
  set_tests_properties(docs PROPERTIES LABELS docs TIMEOUT 300)
endif()
