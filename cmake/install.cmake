# SPDX-License-Identifier: MIT
# Install and export (issue 11), included at the end of CMakeLists.txt.
#
# `cmake --install <build> [--prefix P]` puts:
#   include/vmar/*.h                      the public headers
#   lib/libvmar_core.a, libvmar_mmu_radix.a, libvmar_mmu_sim.a,
#     libvmar_sim_machine.a, libvmar_linux.a, and libvmar_mmu_x86_64.a / libvmar_mmu_riscv64.a
#     when those targets exist
#   lib/cmake/vmar/vmarConfig.cmake, vmarConfigVersion.cmake,
#     vmarTargets*.cmake                  find_package(vmar 0.1 REQUIRED)
#   lib/pkgconfig/vmar.pc                 pkg-config --cflags --libs vmar
#   lib/pkgconfig/vmar-sim.pc             ... vmar-sim (hosted builds: vmar
#                                         plus the sim and -pthread)
#   share/doc/vmar/                       README, CHANGELOG, LICENSE, docs
# ("lib" is CMAKE_INSTALL_LIBDIR.) Imported targets: vmar::core,
# vmar::radix, vmar::sim (the sim backend, which links the simulated
# machine vmar::sim_machine), vmar::linux, vmar::x86_64, vmar::riscv64 (when
# built) and the umbrella vmar::vmar (the backends built, walker and core;
# never the sim, which a user asks for as vmar::sim) -- the same names the
# alias targets give an add_subdirectory() or FetchContent user.
#
# With VMAR_BUILD_SHARED=ON (cmake/shared.cmake) also lib/libvmar_*.so,
# .so.MAJOR.MINOR and .so.VERSION next to each archive, exported as
# vmar::core_shared, vmar::radix_shared, vmar::sim_shared, the backends'
# vmar::x86_64_shared / vmar::riscv64_shared and vmar::vmar_shared. vmar.pc
# stays as it is: its -l flags then resolve to the .so.
#
# A kernel-only build (VMAR_KERNEL_ONLY, cmake/kernel.cmake) has and
# installs only libvmar_core.a, libvmar_mmu_radix.a, VMAR_ARCH's backend
# (and libvmar_linux.a with VMAR_BUILD_LINUX): no sim, no pthread, neither
# in vmar.pc nor in vmarConfig.cmake, and no vmar-sim.pc.
#
# Version compatibility is SameMinorVersion, not SameMajorVersion: while the
# major version is 0 every minor release may break the API (semver §4), so
# find_package(vmar 0.1) accepts 0.1.x (x >= requested) and refuses 0.2.

# The version macros in vmar/vmar.h are the C side of project(VERSION); a
# release that bumps one must bump the other.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/vmar/vmar.h _vmar_version_lines
  REGEX "^#define VMAR_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
foreach(_part MAJOR MINOR PATCH)
  set(_vmar_h_${_part} "")
  foreach(_line IN LISTS _vmar_version_lines)
    if(_line MATCHES "^#define VMAR_VERSION_${_part} +([0-9]+)")
      set(_vmar_h_${_part} "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(NOT "${_vmar_h_${_part}}" STREQUAL "${PROJECT_VERSION_${_part}}")
    message(FATAL_ERROR "include/vmar/vmar.h: VMAR_VERSION_${_part} is "
      "'${_vmar_h_${_part}}' but project(vmar VERSION ${PROJECT_VERSION}) "
      "says '${PROJECT_VERSION_${_part}}'; change both together")
  endif()
endforeach()

option(VMAR_INSTALL "Generate libvmar's install rules" ${VMAR_TOP_LEVEL})

# Export names: vmar_core -> vmar::core, and so on. Set whether or not
# install rules are generated, so every spelling stays consistent.
set(_vmar_export_targets vmar_core vmar_mmu_radix)
if(TARGET vmar_mmu_sim)
  list(APPEND _vmar_export_targets vmar_sim_machine vmar_mmu_sim)
  set_target_properties(vmar_mmu_sim PROPERTIES EXPORT_NAME sim)
  set_target_properties(vmar_sim_machine PROPERTIES EXPORT_NAME sim_machine)
endif()
set(_vmar_pc_libs "")
set(_vmar_pc_linux "")
# The Linux syscall layer (src/linux, vmar/linux.h): vmar::linux, first on
# vmar.pc's link line since it calls the core.
if(TARGET vmar_linux)
  list(APPEND _vmar_export_targets vmar_linux)
  set_target_properties(vmar_linux PROPERTIES EXPORT_NAME linux)
  set(_vmar_pc_linux "-lvmar_linux ")
endif()
foreach(arch x86_64 riscv64)
  if(TARGET vmar_mmu_${arch})
    list(APPEND _vmar_export_targets vmar_mmu_${arch})
    string(APPEND _vmar_pc_libs " -lvmar_mmu_${arch}")
  endif()
endforeach()
set_target_properties(vmar_core PROPERTIES EXPORT_NAME core)
set_target_properties(vmar_mmu_radix PROPERTIES EXPORT_NAME radix)
foreach(arch x86_64 riscv64)
  if(TARGET vmar_mmu_${arch})
    set_target_properties(vmar_mmu_${arch} PROPERTIES EXPORT_NAME ${arch})
  endif()
endforeach()
set_target_properties(vmar_all PROPERTIES EXPORT_NAME vmar)

# VMAR_BUILD_SHARED: the shared twins (vmar::core_shared, ...), appended to
# _vmar_export_targets, and their umbrella to _vmar_export_interfaces.
set(_vmar_export_interfaces vmar_all)
include(${PROJECT_SOURCE_DIR}/cmake/shared.cmake)

# The test test_version compares vmar_version() with project(VERSION).
if(TARGET test_version)
  target_compile_definitions(test_version PRIVATE
    VMAR_PROJECT_VERSION="${PROJECT_VERSION}")
endif()

# vmar-uninstalled.pc (and vmar-sim-uninstalled.pc in a hosted build) in
# the build tree: pkg-config's convention for a package used where it was
# built (PKG_CONFIG_PATH=<build>; `pkg-config --cflags --libs vmar` then
# prefers it). The archives by their full paths, in the same order as
# vmar.pc and vmar-sim.pc; made whether or not install rules are.
set(_vmar_unin_libs "")
foreach(_t vmar_linux vmar_mmu_x86_64 vmar_mmu_riscv64 vmar_mmu_radix
    vmar_core)
  if(TARGET ${_t})
    string(APPEND _vmar_unin_libs " $<TARGET_FILE:${_t}>")
  endif()
endforeach()
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/vmar-uninstalled.pc CONTENT
"# SPDX-License-Identifier: MIT
# Generated by libvmar's cmake/install.cmake: libvmar where it was built.
Name: vmar
Description: libvmar, uninstalled (${PROJECT_BINARY_DIR})
Version: ${PROJECT_VERSION}
Cflags: -I${PROJECT_SOURCE_DIR}/include
Libs:${_vmar_unin_libs}
")
if(TARGET vmar_mmu_sim)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/vmar-sim-uninstalled.pc CONTENT
"# SPDX-License-Identifier: MIT
# Generated by libvmar's cmake/install.cmake: libvmar's simulated machine
# where it was built.
Name: vmar-sim
Description: libvmar's sim backend and simulated machine, uninstalled (${PROJECT_BINARY_DIR})
Version: ${PROJECT_VERSION}
Requires: vmar = ${PROJECT_VERSION}
Libs: $<TARGET_FILE:vmar_mmu_sim> $<TARGET_FILE:vmar_sim_machine> -pthread
")
endif()

# In a subproject (add_subdirectory, FetchContent) only what the parent
# links is built: a kernel's cross build never compiles the hosted sim.
# With VMAR_INSTALL everything is built, since everything is installed.
if(NOT VMAR_TOP_LEVEL AND NOT VMAR_INSTALL)
  set_target_properties(${_vmar_export_targets} PROPERTIES
    EXCLUDE_FROM_ALL ON)
endif()

if(NOT VMAR_INSTALL)
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(VMAR_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/vmar CACHE STRING
  "Where vmarConfig.cmake is installed (relative to the prefix)")
mark_as_advanced(VMAR_INSTALL_CMAKEDIR)

# The headers of what was built: a kernel-only install has no vmar/sim.h,
# no vmar/linux.h without VMAR_BUILD_LINUX, and only its backend's header.
set(_vmar_skip_headers "")
foreach(_h sim:vmar_mmu_sim linux:vmar_linux x86_64:vmar_mmu_x86_64
    riscv64:vmar_mmu_riscv64)
  string(REPLACE ":" ";" _h "${_h}")
  list(GET _h 1 _t)
  if(NOT TARGET ${_t})
    list(GET _h 0 _n)
    list(APPEND _vmar_skip_headers PATTERN "${_n}.h" EXCLUDE)
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vmar
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" ${_vmar_skip_headers})

install(TARGETS ${_vmar_export_targets} ${_vmar_export_interfaces}
  EXPORT vmarTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT vmarTargets
  NAMESPACE vmar::
  DESTINATION ${VMAR_INSTALL_CMAKEDIR})

# vmar::sim_machine links Threads::Threads; a kernel-only install has no sim.
set(VMAR_CONFIG_DEPENDENCIES "")
if(TARGET vmar_mmu_sim)
  set(VMAR_CONFIG_DEPENDENCIES
    "find_dependency(Threads) # vmar::sim_machine links Threads::Threads")
endif()
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/vmarConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vmarConfig.cmake
  INSTALL_DESTINATION ${VMAR_INSTALL_CMAKEDIR}
  NO_SET_AND_CHECK_MACRO)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/vmarConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/vmarConfig.cmake
  ${PROJECT_BINARY_DIR}/vmarConfigVersion.cmake
  DESTINATION ${VMAR_INSTALL_CMAKEDIR})

# vmar.pc is relocatable: its prefix is ${pcfiledir}/<up to the prefix>, so
# `cmake --install --prefix P` works without reconfiguring. Static archives
# are linked in dependency order: layer, backends, then radix, then core.
# vmar-sim.pc (hosted builds) requires vmar and puts the sim backend and
# the machine before it; the machine locks with pthread rwlocks: -pthread,
# and vmarConfig.cmake's find_dependency(Threads).
if(TARGET vmar_mmu_sim)
  set(VMAR_PC_DESCRIPTION "core, radix walker and page-table backends")
else()
  set(VMAR_PC_DESCRIPTION "kernel-only: core, radix walker and page-table backend")
endif()
set(_vmar_pc_libs
  "${_vmar_pc_linux}${_vmar_pc_libs} -lvmar_mmu_radix -lvmar_core")
string(STRIP "${_vmar_pc_libs}" _vmar_pc_libs)
set(_vmar_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(VMAR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(VMAR_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(_vmar_pcdir ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig)
else()
  file(RELATIVE_PATH _vmar_up /vmar-root/${_vmar_pcdir} /vmar-root)
  string(REGEX REPLACE "/$" "" _vmar_up "${_vmar_up}")
  set(VMAR_PC_PREFIX "\${pcfiledir}/${_vmar_up}")
  set(VMAR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(VMAR_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(VMAR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(VMAR_PC_LIBS "${_vmar_pc_libs}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/vmar.pc.in
  ${PROJECT_BINARY_DIR}/vmar.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vmar.pc DESTINATION ${_vmar_pcdir})
if(TARGET vmar_mmu_sim)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/vmar-sim.pc.in
    ${PROJECT_BINARY_DIR}/vmar-sim.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/vmar-sim.pc DESTINATION ${_vmar_pcdir})
endif()

install(FILES
  ${PROJECT_SOURCE_DIR}/README.md
  ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md")
if(EXISTS ${PROJECT_SOURCE_DIR}/CHANGELOG.md)
  install(FILES ${PROJECT_SOURCE_DIR}/CHANGELOG.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()
