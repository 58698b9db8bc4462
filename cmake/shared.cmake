# SPDX-License-Identifier: MIT
# Optional shared libraries (VMAR_BUILD_SHARED, issue 11), included by
# cmake/install.cmake once every static target and its EXPORT_NAME exist.
#
# The static archives stay what they are, and stay what vmar::core,
# vmar::radix, vmar::sim, vmar::x86_64, vmar::riscv64 and vmar::vmar name.
# VMAR_BUILD_SHARED=ON adds, for each exported archive vmar_X, a twin
# vmar_X_shared built from the same sources with the same include
# directories, definitions and warnings, plus -fPIC:
#   libvmar_core.so, libvmar_mmu_radix.so, libvmar_mmu_sim.so,
#   libvmar_sim_machine.so,
#   libvmar_mmu_x86_64.so, libvmar_mmu_riscv64.so (the backends when built)
# exported as vmar::core_shared, vmar::radix_shared, vmar::sim_shared,
# vmar::x86_64_shared, vmar::riscv64_shared and the umbrella
# vmar::vmar_shared (backends + walker + core, as vmar::vmar), each
# linking the shared twins of what its archive links (vmar::sim_shared ->
# sim_machine_shared, radix_shared; vmar::sim_machine_shared ->
# core_shared, Threads). The same names exist as ALIAS targets for
# add_subdirectory() and FetchContent users.
#
# Versions: VERSION is the project version; SOVERSION is MAJOR.MINOR
# while the major version is 0 (a minor release may break the ABI, as
# the package's SameMinorVersion check says), MAJOR from 1.0 on. So
# libvmar_core.so -> libvmar_core.so.0.1 (the SONAME) -> .so.0.1.0.
#
# Exports: the linker version script cmake/vmar.map.in exports the
# functions and objects declared in include/vmar/*.h and hides the rest:
# vmar__* internals, vmar__sim_*, the interval set (vmar__iset_*), the
# page-table formats. The one exception, needed across libvmar's own
# libraries, is vmar__radix_* (the walker). This
# needs no export macros in the headers; the cost is that calls inside a
# library to an exported function go through the PLT.
#
# The core is freestanding, but as a shared library it is a hosted
# artifact: it is linked like any other .so, against libc, which
# provides the only functions it calls (memcpy, memset). libatomic_ops is
# header-only for what the core uses, so no -latomic_ops. Each library is
# linked with -z defs (no undefined symbol left unlisted; not with
# sanitizers, whose runtime lives in the executable) and has RUNPATH
# $ORIGIN, so libvmar_mmu_sim.so finds libvmar_mmu_radix.so next to it
# whatever the executable's RUNPATH says.

# The option itself is declared in the top-level CMakeLists.txt (its
# default is BUILD_SHARED_LIBS).
if(NOT VMAR_BUILD_SHARED)
  return()
endif()
if(NOT CMAKE_EXECUTABLE_FORMAT STREQUAL "ELF")
  message(FATAL_ERROR "VMAR_BUILD_SHARED needs an ELF target (the exports "
    "are chosen with a GNU-style linker version script); this one is "
    "'${CMAKE_EXECUTABLE_FORMAT}'")
endif()

if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(VMAR_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(VMAR_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# --- the version script: the public names, read from the headers --------
file(GLOB _vmar_public_headers CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/include/vmar/*.h)
# Re-run this when a header changes, so a new function is exported.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${_vmar_public_headers})
set(_vmar_public_names "")
foreach(_h IN LISTS _vmar_public_headers)
  file(READ ${_h} _text)
  # Functions: a vmar_ name followed by "(" (declarations, and calls in
  # comments and macros, which name public functions too).
  string(REGEX MATCHALL "[^A-Za-z0-9_]vmar_[a-z0-9_]+[ \t\r\n]*\\("
    _calls "${_text}")
  foreach(_m IN LISTS _calls)
    string(REGEX MATCH "vmar_[a-z0-9_]+" _n "${_m}")
    list(APPEND _vmar_public_names ${_n})
  endforeach()
  # Objects: "extern [const] [struct] type vmar_name;" (the ";" is left
  # out of the match: it would split the list).
  string(REGEX MATCHALL
    "extern[ \t]+(const[ \t]+)?(struct[ \t]+)?[A-Za-z0-9_]+[ \t]+vmar_[a-z0-9_]+[ \t]*[;[]"
    _objects "${_text}")
  foreach(_m IN LISTS _objects)
    string(REGEX MATCH "vmar_[a-z0-9_]+[ \t]*[[]?$" _n "${_m}")
    string(REGEX REPLACE "[ \t[]" "" _n "${_n}")
    if(_n)
      list(APPEND _vmar_public_names ${_n})
    endif()
  endforeach()
endforeach()
# Internal names never are public, whatever a comment says.
list(FILTER _vmar_public_names EXCLUDE REGEX "__")
list(REMOVE_DUPLICATES _vmar_public_names)
list(SORT _vmar_public_names)
list(LENGTH _vmar_public_names _vmar_npublic)
if(_vmar_npublic EQUAL 0)
  message(FATAL_ERROR "cmake/shared.cmake found no public function in "
    "include/vmar/*.h")
endif()
list(JOIN _vmar_public_names ";\n    " VMAR_MAP_PUBLIC)
set(VMAR_MAP_PUBLIC "    ${VMAR_MAP_PUBLIC};")
set(VMAR_MAP_FILE ${PROJECT_BINARY_DIR}/vmar.map)
configure_file(${PROJECT_SOURCE_DIR}/cmake/vmar.map.in ${VMAR_MAP_FILE} @ONLY)

# The script names every library's exports, so each library sees names it
# does not define. GNU ld and gold ignore them; LLD 16+ refuses them
# unless told otherwise.
include(CheckLinkerFlag)
check_linker_flag(C "LINKER:--undefined-version"
  VMAR_LINKER_HAS_UNDEFINED_VERSION)

set(_vmar_shared_link_options "LINKER:--version-script=${VMAR_MAP_FILE}")
if(VMAR_LINKER_HAS_UNDEFINED_VERSION)
  list(APPEND _vmar_shared_link_options "LINKER:--undefined-version")
endif()
if(NOT VMAR_SANITIZE)
  list(APPEND _vmar_shared_link_options "LINKER:-z,defs")
endif()

# --- the shared twins ---------------------------------------------------
set(_vmar_static_targets ${_vmar_export_targets})
set(_vmar_shared_targets "")
foreach(_t IN LISTS _vmar_static_targets)
  get_target_property(_srcs ${_t} SOURCES)
  get_target_property(_srcdir ${_t} SOURCE_DIR)
  set(_abs "")
  foreach(_s IN LISTS _srcs)
    if(NOT IS_ABSOLUTE "${_s}")
      set(_s "${_srcdir}/${_s}")
    endif()
    list(APPEND _abs "${_s}")
  endforeach()
  add_library(${_t}_shared SHARED ${_abs})

  # Compile exactly as the archive is compiled (its own properties replace
  # what this directory would give the new target).
  foreach(_p INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES
      COMPILE_OPTIONS INTERFACE_COMPILE_OPTIONS
      COMPILE_DEFINITIONS INTERFACE_COMPILE_DEFINITIONS)
    get_target_property(_v ${_t} ${_p})
    if(_v)
      set_property(TARGET ${_t}_shared PROPERTY ${_p} "${_v}")
    else()
      set_property(TARGET ${_t}_shared PROPERTY ${_p} "")
    endif()
  endforeach()

  # Link the shared twin of each libvmar archive the archive links,
  # PUBLIC if the archive's users get it too, PRIVATE otherwise.
  get_target_property(_links ${_t} LINK_LIBRARIES)
  get_target_property(_ilinks ${_t} INTERFACE_LINK_LIBRARIES)
  if(NOT _links)
    set(_links "")
  endif()
  if(NOT _ilinks)
    set(_ilinks "")
  endif()
  foreach(_l IN LISTS _links)
    set(_scope PRIVATE)
    if(_l IN_LIST _ilinks)
      set(_scope PUBLIC)
    endif()
    if(_l IN_LIST _vmar_static_targets)
      target_link_libraries(${_t}_shared ${_scope} ${_l}_shared)
    else()
      target_link_libraries(${_t}_shared ${_scope} ${_l})
    endif()
  endforeach()

  get_target_property(_export ${_t} EXPORT_NAME)
  set_target_properties(${_t}_shared PROPERTIES
    OUTPUT_NAME ${_t}
    EXPORT_NAME ${_export}_shared
    VERSION ${PROJECT_VERSION}
    SOVERSION ${VMAR_SOVERSION}
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS ${VMAR_MAP_FILE}
    INSTALL_RPATH "\$ORIGIN")
  target_link_options(${_t}_shared PRIVATE ${_vmar_shared_link_options})
  add_library(vmar::${_export}_shared ALIAS ${_t}_shared)
  list(APPEND _vmar_shared_targets ${_t}_shared)
endforeach()

add_library(vmar_all_shared INTERFACE)
add_library(vmar::vmar_shared ALIAS vmar_all_shared)
foreach(arch x86_64 riscv64)
  if(TARGET vmar_mmu_${arch}_shared)
    target_link_libraries(vmar_all_shared INTERFACE vmar_mmu_${arch}_shared)
  endif()
endforeach()
target_link_libraries(vmar_all_shared INTERFACE vmar_mmu_radix_shared
  vmar_core_shared)
set_target_properties(vmar_all_shared PROPERTIES EXPORT_NAME vmar_shared)

list(APPEND _vmar_export_targets ${_vmar_shared_targets})
list(APPEND _vmar_export_interfaces vmar_all_shared)
