# SPDX-License-Identifier: MIT
# The freestanding gate (aesthetics.md §2.8, shared/docs/freestanding.md).
#
# src/core/*.c and src/mmu/radix.c are compiled a second time, as a kernel
# would compile them, into the archive vmar_freestanding. Two ctest tests
# (label "lint") then check it with scripts/check-freestanding.sh:
#  - freestanding_core: `nm -u` on the archive, minus every symbol some
#    member of the archive defines, must name nothing outside the allowlist
#    memset, memcpy, memmove, memcmp (GCC may emit calls to those even with
#    -ffreestanding -fno-builtin). A forbidden symbol fails; "it compiled"
#    is not the test.
#  - freestanding_includes: these files include only <vmar/*.h> and the
#    compiler's <stdint.h>, <stddef.h>, <stdbool.h>; never a libc header.
#
# libatomic_ops: atomic_ops.h includes <assert.h>, which a bare-metal
# compiler lacks. The shim is a build-tree folder,
# ${PROJECT_BINARY_DIR}/freestanding-include/, holding an assert.h that
# maps assert() to nothing plus links to the host's atomic_ops.h and
# atomic_ops/; both freestanding builds put it first on their include
# path. Never add the whole host /usr/include: glibc's stdint.h would
# shadow the compiler's own.
#
# (The library targets themselves get the same kind of folder from
# cmake/atomic_ops.cmake; this one always has the shim, whatever the
# host compiler has.) The option only turns off the archive and its
# tests.
option(VMAR_FREESTANDING_CHECK
  "Build the core a second time freestanding and check its symbols" ON)

# -O2 whatever the build type: the gate checks what a kernel build emits
# (at -O2 GCC turns loops and struct copies into memset/memcpy calls).
# -nostdlib only matters when linking; clang warns about it on a compile
# step, which -Werror would turn into an error, so it is passed to GCC only.
# -fno-stack-protector: distributions that enable the protector by default
# would otherwise add __stack_chk_fail; a kernel chooses its own.
set(VMAR_FREESTANDING_FLAGS -ffreestanding -fno-builtin -fno-common
  -fno-stack-protector -O2)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND VMAR_FREESTANDING_FLAGS -nostdlib)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  list(APPEND VMAR_FREESTANDING_FLAGS -mno-red-zone)
endif()

# On an x86-64 host the archive also holds the x86-64 backend, compiled
# as a kernel would (-DVMAR_X86_64_INLINE_TLB: invlpg / mov cr3 inline).
set(VMAR_FREESTANDING_SOURCES ${VMAR_CORE_SOURCES}
  ${PROJECT_SOURCE_DIR}/src/mmu/radix.c)
set(_vmar_fs_x86 OFF)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$"
    AND TARGET vmar_mmu_x86_64)
  set(_vmar_fs_x86 ON)
  list(APPEND VMAR_FREESTANDING_SOURCES
    ${PROJECT_SOURCE_DIR}/src/mmu/x86_64/pte.c
    ${PROJECT_SOURCE_DIR}/src/mmu/x86_64/mmu.c)
endif()
set(_vmar_fs_inc ${PROJECT_BINARY_DIR}/freestanding-include)
file(MAKE_DIRECTORY ${_vmar_fs_inc})
file(WRITE ${_vmar_fs_inc}/assert.h
  "/* SPDX-License-Identifier: MIT */\n"
  "/* Generated: libatomic_ops' asserts compile to nothing here. */\n"
  "#ifndef assert\n#define assert(e) ((void)0)\n#endif\n")
file(CREATE_LINK ${VMAR_ATOMIC_OPS_INCLUDE_DIR}/atomic_ops.h
  ${_vmar_fs_inc}/atomic_ops.h SYMBOLIC)
file(CREATE_LINK ${VMAR_ATOMIC_OPS_INCLUDE_DIR}/atomic_ops
  ${_vmar_fs_inc}/atomic_ops SYMBOLIC)

# The RISC-V cross build: core + radix + the riscv64 backend compiled with
# Debian's riscv64-unknown-elf-gcc (gcc-riscv64-unknown-elf, installed by
# scripts/test.sh) as a kernel would, with sfence.vma inline
# (-DVMAR_RISCV64_INLINE_TLB), then checked like the host archive with
# riscv64-unknown-elf-nm. The ctest test freestanding_riscv64 does the
# build itself, so a missing cross compiler fails the test (never a skip)
# without breaking the configure step of a machine that lacks it.
set(VMAR_RISCV64_PREFIX "riscv64-unknown-elf-" CACHE STRING
  "Tool prefix of the RISC-V freestanding cross build")
set(VMAR_RISCV64_FLAGS -march=rv64gc -mabi=lp64d -mcmodel=medany
  -ffreestanding -nostdlib -fno-builtin -fno-common -fno-stack-protector -O2
  -std=c11 ${VMAR_COMMON_WARNINGS} -Wconversion -Wsign-conversion -Werror
  -DVMAR_RISCV64_INLINE_TLB -I${_vmar_fs_inc}
  -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/src
  -I${PROJECT_SOURCE_DIR}/src/mmu -I${PROJECT_SOURCE_DIR}/src/mmu/riscv64)
set(VMAR_RISCV64_SOURCES ${VMAR_CORE_SOURCES}
  ${PROJECT_SOURCE_DIR}/src/mmu/radix.c
  ${PROJECT_SOURCE_DIR}/src/mmu/riscv64/pte.c
  ${PROJECT_SOURCE_DIR}/src/mmu/riscv64/mmu.c)

if(NOT VMAR_FREESTANDING_CHECK)
  return()
endif()

add_library(vmar_freestanding STATIC ${VMAR_FREESTANDING_SOURCES})
target_include_directories(vmar_freestanding BEFORE PRIVATE ${_vmar_fs_inc})
# Drop what add_compile_options() put on every target (the sanitizers):
# their runtime calls are exactly what the gate must not see.
set_property(TARGET vmar_freestanding PROPERTY COMPILE_OPTIONS "")
target_compile_options(vmar_freestanding PRIVATE ${VMAR_FREESTANDING_FLAGS})
# The same include paths and definitions as the hosted build of these files,
# whatever the source owners add to vmar_core and vmar_mmu_radix later.
target_include_directories(vmar_freestanding PRIVATE
  $<TARGET_PROPERTY:vmar_core,INCLUDE_DIRECTORIES>
  $<TARGET_PROPERTY:vmar_mmu_radix,INCLUDE_DIRECTORIES>)
target_compile_definitions(vmar_freestanding PRIVATE
  $<TARGET_PROPERTY:vmar_core,COMPILE_DEFINITIONS>
  $<TARGET_PROPERTY:vmar_mmu_radix,COMPILE_DEFINITIONS>)
if(_vmar_fs_x86)
  target_include_directories(vmar_freestanding PRIVATE
    ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/mmu/x86_64)
  target_compile_definitions(vmar_freestanding PRIVATE VMAR_X86_64_INLINE_TLB)
endif()
vmar_strict_warnings(vmar_freestanding)

if(VMAR_BUILD_TESTS)
  if(CMAKE_NM)
    set(_vmar_nm "${CMAKE_NM}")
  else()
    find_program(VMAR_NM NAMES nm REQUIRED)
    set(_vmar_nm "${VMAR_NM}")
  endif()
  add_test(NAME freestanding_core
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-freestanding.sh
      symbols ${_vmar_nm} $<TARGET_FILE:vmar_freestanding>)
  add_test(NAME freestanding_includes
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-freestanding.sh
      includes ${PROJECT_SOURCE_DIR})
  string(REPLACE ";" " " _vmar_rv_flags "${VMAR_RISCV64_FLAGS}")
  add_test(NAME freestanding_riscv64
    COMMAND ${VMAR_BASH} ${PROJECT_SOURCE_DIR}/scripts/check-freestanding.sh
      cross ${VMAR_RISCV64_PREFIX}
      ${CMAKE_CURRENT_BINARY_DIR}/freestanding-riscv64 "${_vmar_rv_flags}"
      ${VMAR_RISCV64_SOURCES})
  set_tests_properties(freestanding_core freestanding_includes
    freestanding_riscv64 PROPERTIES LABELS lint TIMEOUT 120)
endif()
