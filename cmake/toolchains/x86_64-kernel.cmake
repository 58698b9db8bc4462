# SPDX-License-Identifier: MIT
# CMake toolchain file for x86-64 kernel code (docs/PORTING.md, section 1):
#
#   cmake -S libvmar -B build-k -DCMAKE_TOOLCHAIN_FILE=libvmar/cmake/toolchains/x86_64-kernel.cmake \
#         -DCMAKE_BUILD_TYPE=Release
#
# No operating system (CMAKE_SYSTEM_NAME Generic), so libvmar builds
# kernel-only: core, walker and the x86_64 backend (cmake/kernel.cmake).
# The flags are those of a kernel linked in the top 2 GiB:
#   -ffreestanding                no hosted library assumed
#   -mno-red-zone                 interrupts push onto the current stack
#   -mgeneral-regs-only           no SSE/x87 (a kernel that never enables
#                                 them would take #UD)
#   -mcmodel=kernel -fno-pic -fno-pie
#   -fno-stack-protector, -fno-asynchronous-unwind-tables, -fno-common
# The compiler: CMAKE_C_COMPILER when given (-DCMAKE_C_COMPILER=clang
# works too), else the first of x86_64-elf-gcc, x86_64-linux-gnu-gcc, gcc
# on PATH (Debian's gcc on an x86-64 host is x86_64-linux-gnu-gcc).
# Add your own flags with -DCMAKE_C_FLAGS=...; they come after these.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

if(NOT CMAKE_C_COMPILER)
  find_program(VMAR_X86_64_KERNEL_CC
    NAMES x86_64-elf-gcc x86_64-linux-gnu-gcc gcc
    DOC "C compiler for x86-64 kernel code")
  if(NOT VMAR_X86_64_KERNEL_CC)
    message(FATAL_ERROR "x86_64-kernel.cmake: no x86_64-elf-gcc, "
      "x86_64-linux-gnu-gcc or gcc on PATH (Debian: apt-get install gcc); "
      "or pass -DCMAKE_C_COMPILER=<compiler>")
  endif()
  set(CMAKE_C_COMPILER "${VMAR_X86_64_KERNEL_CC}")
endif()

set(CMAKE_C_FLAGS_INIT "-ffreestanding -mno-red-zone -mgeneral-regs-only -mcmodel=kernel -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fno-common")
# Assembler sources (boot code, trap stubs) get the same target flags.
set(CMAKE_ASM_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie")
include(${CMAKE_CURRENT_LIST_DIR}/generic-common.cmake)
