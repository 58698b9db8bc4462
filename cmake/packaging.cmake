# SPDX-License-Identifier: MIT
# Packaging tests (label "packaging"), run by scripts/check-packaging.sh:
#   packaging_install            cmake --install this build into
#                                <build>/packaging/prefix (fixture setup)
#   packaging_find_package       tests/packaging/consumer against that
#                                prefix with find_package(vmar 0.1)
#   packaging_pkg_config         ... with pkg-config (CMake and plain cc)
#   packaging_add_subdirectory   ... with add_subdirectory(<source>)
#   packaging_fetchcontent       ... with FetchContent (SOURCE_DIR)
# The consumer builds use this build's generator, compiler and sanitizer
# flags, so they also pass under the asan and tsan presets. The valgrind
# preset's memcheck run leaves them out (scripts/memcheck.sh excludes the
# label): valgrind would only watch bash and cmake.
if(NOT VMAR_INSTALL)
  return()
endif()

set(_vmar_pkg_dir ${PROJECT_BINARY_DIR}/packaging)
set(_vmar_pkg_flags "")
set(_vmar_pkg_ldflags "")
if(VMAR_SANITIZE)
  set(_vmar_pkg_flags
    "-fsanitize=${VMAR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all")
  set(_vmar_pkg_ldflags "-fsanitize=${VMAR_SANITIZE}")
endif()
set(_vmar_pkg_env
  "VMAR_PKG_GENERATOR=${CMAKE_GENERATOR}"
  "VMAR_PKG_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
  "VMAR_PKG_CC=${CMAKE_C_COMPILER}"
  "VMAR_PKG_CFLAGS=${_vmar_pkg_flags}"
  "VMAR_PKG_LDFLAGS=${_vmar_pkg_ldflags}")

add_test(NAME packaging_install
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-packaging.sh
    install ${PROJECT_BINARY_DIR} $<CONFIG> ${_vmar_pkg_dir}/prefix
    ${PROJECT_SOURCE_DIR})
set_tests_properties(packaging_install PROPERTIES
  LABELS packaging TIMEOUT 120 FIXTURES_SETUP vmar_installed)

foreach(_mode package pkgconfig subdirectory fetchcontent)
  set(_name ${_mode})
  if(_mode STREQUAL "package")
    set(_name find_package)
  elseif(_mode STREQUAL "pkgconfig")
    set(_name pkg_config)
  elseif(_mode STREQUAL "subdirectory")
    set(_name add_subdirectory)
  endif()
  add_test(NAME packaging_${_name}
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-packaging.sh
      consumer ${_mode} ${PROJECT_SOURCE_DIR} ${_vmar_pkg_dir}/prefix
      ${_vmar_pkg_dir}/${_name})
  set_tests_properties(packaging_${_name} PROPERTIES
    LABELS packaging TIMEOUT 600 ENVIRONMENT "${_vmar_pkg_env}")
  if(_mode MATCHES "^(package|pkgconfig)$")
    set_tests_properties(packaging_${_name} PROPERTIES
      FIXTURES_REQUIRED vmar_installed)
  endif()
endforeach()
