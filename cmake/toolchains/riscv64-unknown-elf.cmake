# SPDX-License-Identifier: MIT
# CMake toolchain file for RISC-V 64 kernel code with a bare-metal
# compiler (docs/PORTING.md, section 1):
#
#   cmake -S libvmar -B build-k -DCMAKE_TOOLCHAIN_FILE=libvmar/cmake/toolchains/riscv64-unknown-elf.cmake \
#         -DCMAKE_BUILD_TYPE=Release
#
# No operating system (CMAKE_SYSTEM_NAME Generic), so libvmar builds
# kernel-only: core, walker and the riscv64 backend (cmake/kernel.cmake).
# The compiler is <prefix>gcc, the prefix riscv64-unknown-elf- (Debian:
# gcc-riscv64-unknown-elf) unless -DVMAR_RISCV64_TOOLCHAIN_PREFIX=... says
# another (riscv64-linux-gnu- works too); ar and nm come with it.
# Flags: -march=rv64gc -mabi=lp64d (rv64gc includes zicsr and zifencei)
# -mcmodel=medany (code linked at 0x80000000 and up, e.g. after OpenSBI
# at 0x80200000; medlow cannot reach it) -ffreestanding -fno-pic, no stack
# protector, -fno-common. Another ISA or ABI: -DCMAKE_C_FLAGS="-march=...
# -mabi=..." (later flags win).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

set(VMAR_RISCV64_TOOLCHAIN_PREFIX "riscv64-unknown-elf-" CACHE STRING
  "Prefix of the RISC-V tools (<prefix>gcc, <prefix>ar, ...)")
if(NOT CMAKE_C_COMPILER)
  find_program(VMAR_RISCV64_CC ${VMAR_RISCV64_TOOLCHAIN_PREFIX}gcc
    DOC "C compiler for RISC-V 64 kernel code")
  if(NOT VMAR_RISCV64_CC)
    message(FATAL_ERROR "riscv64-unknown-elf.cmake: no "
      "${VMAR_RISCV64_TOOLCHAIN_PREFIX}gcc on PATH (Debian: apt-get install "
      "gcc-riscv64-unknown-elf); or pass -DVMAR_RISCV64_TOOLCHAIN_PREFIX="
      "<prefix> or -DCMAKE_C_COMPILER=<compiler>")
  endif()
  set(CMAKE_C_COMPILER "${VMAR_RISCV64_CC}")
endif()

set(CMAKE_C_FLAGS_INIT "-march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding -fno-pic -fno-stack-protector -fno-common")
# Assembler sources (boot code, trap stubs) get the same target flags.
set(CMAKE_ASM_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static")
include(${CMAKE_CURRENT_LIST_DIR}/generic-common.cmake)
