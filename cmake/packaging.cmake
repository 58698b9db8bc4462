# SPDX-License-Identifier: MIT
# Packaging tests (label "packaging"), run by scripts/check-packaging.sh:
#   packaging_install            cmake --install this build into
#                                <build>/packaging/prefix (fixture setup)
#   packaging_find_package       tests/packaging/consumer against that
#                                prefix with find_package(vmar 0.1)
#   packaging_pkg_config         ... with pkg-config (CMake and plain cc)
#   packaging_add_subdirectory   ... with add_subdirectory(<source>)
#   packaging_fetchcontent       ... with FetchContent (SOURCE_DIR)
# The static consumers also check that the program needs no libvmar .so.
# The shared libraries (VMAR_BUILD_SHARED, cmake/shared.cmake):
#   packaging_shared_install     only when this build has VMAR_BUILD_SHARED
#                                off: a second configure and build of the
#                                library alone with it on, installed into
#                                <build>/packaging/shared/prefix (fixture
#                                setup). With it on, packaging_install
#                                installs and checks the .so itself.
#   packaging_shared_find_package  the consumer against the .so with
#                                find_package (vmar::core_shared, ...)
#   packaging_shared_pkg_config  ... with pkg-config (CMake and plain cc)
# Both check NEEDED (libvmar_core.so.SOVERSION, libvmar_mmu_sim.so...)
# and where ldd finds them; the install checks SONAMEs, links and that
# only the public API is exported (nm -D).
# The consumer builds use this build's generator, compiler and sanitizer
# flags, so they also pass under the asan and tsan presets. The valgrind
# preset's memcheck run leaves them out (scripts/memcheck.sh excludes the
# label): valgrind would only watch bash and cmake.
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
set(_vmar_pkg_nm nm)
if(CMAKE_NM)
  set(_vmar_pkg_nm "${CMAKE_NM}")
endif()
set(_vmar_pkg_readelf readelf)
if(CMAKE_READELF)
  set(_vmar_pkg_readelf "${CMAKE_READELF}")
endif()
list(APPEND _vmar_pkg_env
  "VMAR_PKG_NM=${_vmar_pkg_nm}"
  "VMAR_PKG_READELF=${_vmar_pkg_readelf}")

# --- the kernel routes (docs/PORTING.md section 1) ---------------------------
# (before the VMAR_INSTALL check: they install libvmar themselves)
# tests/packaging/kernel-route.sh, per architecture:
#   kroute_<arch>_install   route 1: the shipped toolchain file, kernel-only,
#                           build, install into <build>/kroute/<arch>/prefix,
#                           check what was installed and `nm -u` (fixture
#                           setup; the QEMU kernels build against it too)
#   kroute_<arch>_package   a freestanding kmain.c linked against that
#                           install: find_package and pkg-config
#                           ... and with libvmar as its add_subdirectory()
#   kroute_<arch>_sources   the same kmain.c from Filelists.cmake,
#                           Filelists.mk and PORTING.md's plain lines
#   kroute_riscv64_errors   bad configurations fail with what to do (one
#                           architecture is enough)
# None of it sees the sanitizers, so under VMAR_SANITIZE only the install
# runs: tests/qemu builds its kernels against it (fixture vmar_kroute_<arch>).
foreach(_arch x86_64 riscv64)
  set(_dir ${PROJECT_BINARY_DIR}/kroute/${_arch})
  add_test(NAME kroute_${_arch}_install
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/tests/packaging/kernel-route.sh
      install ${_arch} ${PROJECT_SOURCE_DIR} ${_dir})
  set_tests_properties(kroute_${_arch}_install PROPERTIES
    LABELS packaging TIMEOUT 300 FIXTURES_SETUP vmar_kroute_${_arch}
    ENVIRONMENT "${_vmar_pkg_env}")
  if(NOT VMAR_SANITIZE)
    add_test(NAME kroute_${_arch}_package
      COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/tests/packaging/kernel-route.sh
        package ${_arch} ${PROJECT_SOURCE_DIR} ${_dir}/prefix ${_dir}/package)
    add_test(NAME kroute_${_arch}_sources
      COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/tests/packaging/kernel-route.sh
        sources ${_arch} ${PROJECT_SOURCE_DIR} ${_dir}/sources)
    set_tests_properties(kroute_${_arch}_package kroute_${_arch}_sources
      PROPERTIES LABELS packaging TIMEOUT 300 ENVIRONMENT "${_vmar_pkg_env}")
    set_tests_properties(kroute_${_arch}_package PROPERTIES
      FIXTURES_REQUIRED vmar_kroute_${_arch})
  endif()
endforeach()

# packaging_uninstalled: the consumer's main.c linked with a plain compiler
# line from the build tree's vmar-sim-uninstalled.pc (which requires
# vmar-uninstalled.pc; cmake/install.cmake), then run; vmar alone must
# name neither the sim nor pthread.
file(MAKE_DIRECTORY ${_vmar_pkg_dir})
add_test(NAME packaging_uninstalled
  COMMAND sh -c "export PKG_CONFIG_PATH=\"$1\" PKG_CONFIG_LIBDIR=/nonexistent && l=$(pkg-config --libs vmar) && case \"$l\" in *sim*|*pthread*) echo \"vmar-uninstalled.pc names the sim: $l\"; exit 1;; esac && \"$2\" $3 \"$4\" $(pkg-config --cflags --libs vmar-sim) $5 -o \"$6\" && \"$6\""
    sh ${PROJECT_BINARY_DIR} ${CMAKE_C_COMPILER} "${_vmar_pkg_flags}"
    ${PROJECT_SOURCE_DIR}/tests/packaging/consumer/main.c
    "${_vmar_pkg_ldflags}" ${_vmar_pkg_dir}/uninstalled-consumer)
set_tests_properties(packaging_uninstalled PROPERTIES LABELS packaging
  TIMEOUT 120)

if(NOT VMAR_SANITIZE)
  add_test(NAME kroute_riscv64_errors
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/tests/packaging/kernel-route.sh
      errors riscv64 ${PROJECT_SOURCE_DIR}
      ${PROJECT_BINARY_DIR}/kroute/riscv64/errors)
  set_tests_properties(kroute_riscv64_errors PROPERTIES LABELS packaging
    TIMEOUT 300 ENVIRONMENT "${_vmar_pkg_env}")
endif()

if(NOT VMAR_INSTALL)
  return()
endif()

set(_vmar_pkg_kind static)
if(VMAR_BUILD_SHARED)
  set(_vmar_pkg_kind shared)
endif()
add_test(NAME packaging_install
  COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-packaging.sh
    install ${PROJECT_BINARY_DIR} $<CONFIG> ${_vmar_pkg_dir}/prefix
    ${PROJECT_SOURCE_DIR} ${_vmar_pkg_kind})
set_tests_properties(packaging_install PROPERTIES
  LABELS packaging TIMEOUT 120 FIXTURES_SETUP vmar_installed
  ENVIRONMENT "${_vmar_pkg_env}")

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

# --- the shared libraries ---------------------------------------------------
# ELF only (cmake/shared.cmake uses a linker version script).
if(NOT CMAKE_EXECUTABLE_FORMAT STREQUAL "ELF")
  return()
endif()
if(VMAR_BUILD_SHARED)
  set(_vmar_shared_prefix ${_vmar_pkg_dir}/prefix)
  set(_vmar_shared_fixture vmar_installed)
else()
  set(_vmar_shared_prefix ${_vmar_pkg_dir}/shared/prefix)
  set(_vmar_shared_fixture vmar_shared_installed)
  set(_vmar_pkg_build_type "${CMAKE_BUILD_TYPE}")
  if(NOT _vmar_pkg_build_type)
    set(_vmar_pkg_build_type Debug)
  endif()
  add_test(NAME packaging_shared_install
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-packaging.sh
      shared-install ${PROJECT_SOURCE_DIR} ${_vmar_shared_prefix}
      ${_vmar_pkg_dir}/shared/build)
  set_tests_properties(packaging_shared_install PROPERTIES
    LABELS packaging TIMEOUT 900 FIXTURES_SETUP vmar_shared_installed
    ENVIRONMENT "${_vmar_pkg_env};VMAR_PKG_BUILD_TYPE=${_vmar_pkg_build_type};VMAR_PKG_SANITIZE=${VMAR_SANITIZE};VMAR_PKG_WERROR=${VMAR_WERROR}")
endif()
foreach(_mode package pkgconfig)
  set(_name find_package)
  if(_mode STREQUAL "pkgconfig")
    set(_name pkg_config)
  endif()
  add_test(NAME packaging_shared_${_name}
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-packaging.sh
      consumer ${_mode}-shared ${PROJECT_SOURCE_DIR} ${_vmar_shared_prefix}
      ${_vmar_pkg_dir}/shared_${_name})
  set_tests_properties(packaging_shared_${_name} PROPERTIES
    LABELS packaging TIMEOUT 600 ENVIRONMENT "${_vmar_pkg_env}"
    FIXTURES_REQUIRED ${_vmar_shared_fixture})
endforeach()
