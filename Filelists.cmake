# SPDX-License-Identifier: MIT
# libvmar's sources, include folders and defines, for a kernel's own CMake
# build that compiles them itself (docs/PORTING.md, section 1, route 2;
# Filelists.mk is the same for make). libvmar's CMakeLists.txt reads its
# source lists from here too.
#
#   include(<libvmar>/Filelists.cmake)
#
# sets, with absolute paths:
#   VMAR_DIR                  the libvmar source tree
#   VMAR_CORE_SRCS            src/core/*.c          always
#   VMAR_RADIX_SRCS           src/mmu/radix.c       the generic walker
#   VMAR_X86_64_SRCS          src/mmu/x86_64/*.c    x86-64 backend
#   VMAR_RISCV64_SRCS         src/mmu/riscv64/*.c   RISC-V backend
#   VMAR_LINUX_SRCS           src/linux/linux.c, mlock.c  Linux syscall layer
#   VMAR_INCLUDE_DIRS         include/ (public: your code needs it too)
#   VMAR_PRIVATE_INCLUDE_DIRS src/, src/mmu/ (libvmar's sources only)
#   VMAR_X86_64_INCLUDE_DIRS, VMAR_RISCV64_INCLUDE_DIRS
#                             the backend's own folder (its sources only)
#   VMAR_X86_64_INLINE_TLB_DEFINES, VMAR_RISCV64_INLINE_TLB_DEFINES
#                             the define that makes the backend flush the
#                             local TLB itself (PORTING.md section 4)
# and vmar_add_kernel_library(<target> ARCH x86_64|riscv64|none
# [INLINE_TLB] [LINUX]): a static library of those sources with those
# folders, defines, -ffreestanding, and libatomic_ops' headers as libvmar's
# own build has them (cmake/atomic_ops.cmake: found on the host, linked
# into <build>/vmar-deps/include with the assert.h shim; never the whole
# host include folder). Your toolchain file gives the other flags.
set(VMAR_DIR ${CMAKE_CURRENT_LIST_DIR})
file(GLOB VMAR_CORE_SRCS CONFIGURE_DEPENDS ${VMAR_DIR}/src/core/*.c)
set(VMAR_RADIX_SRCS ${VMAR_DIR}/src/mmu/radix.c)
file(GLOB VMAR_X86_64_SRCS CONFIGURE_DEPENDS ${VMAR_DIR}/src/mmu/x86_64/*.c)
file(GLOB VMAR_RISCV64_SRCS CONFIGURE_DEPENDS ${VMAR_DIR}/src/mmu/riscv64/*.c)
set(VMAR_LINUX_SRCS ${VMAR_DIR}/src/linux/linux.c
    ${VMAR_DIR}/src/linux/mlock.c)
set(VMAR_INCLUDE_DIRS ${VMAR_DIR}/include)
set(VMAR_PRIVATE_INCLUDE_DIRS ${VMAR_DIR}/src ${VMAR_DIR}/src/mmu)
set(VMAR_X86_64_INCLUDE_DIRS ${VMAR_DIR}/src/mmu/x86_64)
set(VMAR_RISCV64_INCLUDE_DIRS ${VMAR_DIR}/src/mmu/riscv64)
set(VMAR_X86_64_INLINE_TLB_DEFINES VMAR_X86_64_INLINE_TLB)
set(VMAR_RISCV64_INLINE_TLB_DEFINES VMAR_RISCV64_INLINE_TLB)

function(vmar_add_kernel_library target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "INLINE_TLB;LINUX" "ARCH" "")
  if(NOT arg_ARCH MATCHES "^(x86_64|riscv64|none)$")
    message(FATAL_ERROR "vmar_add_kernel_library(${target}): ARCH is "
      "'${arg_ARCH}'; libvmar has backends for x86_64 and riscv64 (or "
      "say ARCH none for the core and walker alone)")
  endif()
  set(srcs ${VMAR_CORE_SRCS} ${VMAR_RADIX_SRCS})
  set(priv ${VMAR_PRIVATE_INCLUDE_DIRS})
  set(defs "")
  if(NOT arg_ARCH STREQUAL "none")
    string(TOUPPER ${arg_ARCH} ARCH)
    list(APPEND srcs ${VMAR_${ARCH}_SRCS})
    list(APPEND priv ${VMAR_${ARCH}_INCLUDE_DIRS})
    if(arg_INLINE_TLB)
      list(APPEND defs ${VMAR_${ARCH}_INLINE_TLB_DEFINES})
    endif()
  endif()
  if(arg_LINUX)
    list(APPEND srcs ${VMAR_LINUX_SRCS})
  endif()
  set(VMAR_DEPS_ASSERT_SHIM ON)
  include(${VMAR_DIR}/cmake/atomic_ops.cmake)
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} PUBLIC ${VMAR_INCLUDE_DIRS})
  target_include_directories(${target} BEFORE PRIVATE ${VMAR_DEPS_INCLUDE_DIR})
  target_include_directories(${target} PRIVATE ${priv})
  target_compile_definitions(${target} PRIVATE ${defs})
  target_compile_options(${target} PRIVATE -ffreestanding)
  set_target_properties(${target} PROPERTIES C_STANDARD 11
    C_STANDARD_REQUIRED ON)
endfunction()
