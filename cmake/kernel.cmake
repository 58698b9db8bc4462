# SPDX-License-Identifier: MIT
# What this build is: hosted (everything: the sim, tests, demo,
# benchmarks, both hardware backends) or kernel-only (docs/PORTING.md,
# section 1). Included right after project().
#
#   VMAR_KERNEL_ONLY   ON: build only what a kernel links -- vmar_core,
#                      vmar_mmu_radix and the backend of VMAR_ARCH (plus
#                      vmar_linux with VMAR_BUILD_LINUX) -- compiled
#                      freestanding; nothing hosted (no sim, no pthread),
#                      no tests, demo, benchmarks or checks. `cmake
#                      --install` then installs exactly those archives,
#                      the headers, the CMake package and a vmar.pc
#                      without sim or -pthread. Defaults to ON when the
#                      toolchain targets no operating system
#                      (CMAKE_SYSTEM_NAME Generic, as both files of
#                      cmake/toolchains/ say).
#   VMAR_ARCH          the backend of a kernel-only build: x86_64,
#                      riscv64, or none (core and walker only, for a
#                      kernel bringing its own backend). Defaults to
#                      CMAKE_SYSTEM_PROCESSOR.
#   VMAR_BUILD_LINUX   kernel-only: also build the freestanding Linux
#                      syscall layer (vmar_linux, docs/LINUX.md). A hosted
#                      build always has it.
#   VMAR_X86_64_INLINE_TLB, VMAR_RISCV64_INLINE_TLB
#                      kernel-only: compile the backend with its inline
#                      local flush (invlpg / CR3 reload, sfence.vma) used
#                      when env->tlb_flush is NULL (PORTING.md section 4).
#                      Privileged instructions, so never in a hosted build.
#
# A cross build (CMAKE_CROSSCOMPILING) cannot run what it builds, so the
# tests, demo and benchmarks default to OFF there whatever the mode.

set(_vmar_kernel_default OFF)
if(CMAKE_SYSTEM_NAME STREQUAL "Generic")
  set(_vmar_kernel_default ON)
endif()
option(VMAR_KERNEL_ONLY
  "Build only the freestanding archives a kernel links (core, walker, VMAR_ARCH's backend)"
  ${_vmar_kernel_default})

set(_vmar_known_arches x86_64 riscv64)
set(_vmar_arch_default "${CMAKE_SYSTEM_PROCESSOR}")
if(_vmar_arch_default MATCHES "^(x86_64|AMD64|amd64|x64)$")
  set(_vmar_arch_default x86_64)
elseif(_vmar_arch_default MATCHES "^(riscv64|rv64)")
  set(_vmar_arch_default riscv64)
endif()
set(VMAR_ARCH "${_vmar_arch_default}" CACHE STRING
  "Backend of a kernel-only build: x86_64, riscv64 or none")
set_property(CACHE VMAR_ARCH PROPERTY STRINGS x86_64 riscv64 none)

include(CMakeDependentOption)
cmake_dependent_option(VMAR_BUILD_LINUX
  "Kernel-only: also build the Linux syscall layer (vmar_linux)" OFF
  "VMAR_KERNEL_ONLY" ON)
cmake_dependent_option(VMAR_X86_64_INLINE_TLB
  "Kernel-only: the x86_64 backend flushes the local TLB itself (invlpg, CR3)"
  OFF "VMAR_KERNEL_ONLY" OFF)
cmake_dependent_option(VMAR_RISCV64_INLINE_TLB
  "Kernel-only: the riscv64 backend flushes the local TLB itself (sfence.vma)"
  OFF "VMAR_KERNEL_ONLY" OFF)

# The backends this build compiles.
set(VMAR_BACKENDS ${_vmar_known_arches})
if(VMAR_KERNEL_ONLY)
  if(VMAR_ARCH STREQUAL "none")
    set(VMAR_BACKENDS "")
  elseif(VMAR_ARCH IN_LIST _vmar_known_arches)
    set(VMAR_BACKENDS ${VMAR_ARCH})
  else()
    message(FATAL_ERROR "VMAR_ARCH is '${VMAR_ARCH}', which has no libvmar "
      "page-table backend. Set -DVMAR_ARCH=x86_64 or -DVMAR_ARCH=riscv64 "
      "(or set CMAKE_SYSTEM_PROCESSOR in your toolchain file; the ones in "
      "cmake/toolchains/ do), or -DVMAR_ARCH=none to build the core and "
      "the walker for a backend of your own. A hosted build for this "
      "machine: -DVMAR_KERNEL_ONLY=OFF.")
  endif()
endif()
foreach(_arch x86_64 riscv64)
  string(TOUPPER ${_arch} _ARCH)
  if(VMAR_${_ARCH}_INLINE_TLB AND NOT _arch IN_LIST VMAR_BACKENDS)
    message(FATAL_ERROR "VMAR_${_ARCH}_INLINE_TLB is ON but this build "
      "has no ${_arch} backend (VMAR_ARCH is '${VMAR_ARCH}')")
  endif()
endforeach()
