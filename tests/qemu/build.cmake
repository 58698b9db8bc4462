# SPDX-License-Identifier: MIT
# ctest qemu_<arch>_kernel (tests/qemu/CMakeLists.txt), run with cmake -P:
# configure SOURCE_DIR (kernel/) in BUILD_DIR with libvmar's TOOLCHAIN file
# and the kernel-only install in PREFIX, then build kernel.elf/kernel.bin.
# -D: SOURCE_DIR BUILD_DIR ARCH TOOLCHAIN PREFIX GENERATOR MAKE_PROGRAM
# WERROR WARNINGS (comma-separated) BROKEN (VMAR_QEMU_BROKEN_SHOOTDOWN).
if(NOT EXISTS "${PREFIX}/lib/cmake/vmar/vmarConfig.cmake")
  message(FATAL_ERROR "no kernel-only libvmar install in ${PREFIX} "
    "(ctest kroute_${ARCH}_install makes it)")
endif()
string(REPLACE "," ";" WARNINGS "${WARNINGS}")
set(gen "")
if(GENERATOR)
  set(gen -G "${GENERATOR}")
  if(MAKE_PROGRAM)
    list(APPEND gen "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR}
    ${gen} -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_FIND_ROOT_PATH=${PREFIX}
    -DVMAR_QEMU_ARCH=${ARCH} -DVMAR_QEMU_WERROR=${WERROR}
    "-DVMAR_QEMU_WARNINGS=${WARNINGS}"
    -DVMAR_QEMU_BROKEN_SHOOTDOWN=${BROKEN}
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR}
  COMMAND_ERROR_IS_FATAL ANY)
