# SPDX-License-Identifier: MIT
# What both of libvmar's toolchain files set after their compiler and
# flags: a kernel target with no C library and no operating system.
set(CMAKE_POSITION_INDEPENDENT_CODE OFF)
# Compiler checks build archives: there is no C library to link a program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# Programs (ar, nm, objcopy) come from the host; libraries, headers and
# packages only from CMAKE_FIND_ROOT_PATH when one is set (libvmar itself
# looks for libatomic_ops' headers on the host as well:
# cmake/atomic_ops.cmake).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
