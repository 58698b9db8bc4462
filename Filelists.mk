# SPDX-License-Identifier: MIT
# libvmar's sources, include folders and defines for a kernel's own
# Makefile (docs/PORTING.md, section 1, route 2; Filelists.cmake is the
# same for CMake). GNU make.
#
#   VMAR_DIR  := third_party/libvmar
#   VMAR_ARCH := riscv64            # x86_64, riscv64 or none
#   include $(VMAR_DIR)/Filelists.mk
#
# Set before including (defaults after ?=):
#   VMAR_DIR         the libvmar source tree (default: this file's folder)
#   VMAR_ARCH        the backend: x86_64, riscv64, or none (core + walker)
#   VMAR_INLINE_TLB  1: the backend flushes the local TLB itself
#                    (invlpg / sfence.vma) when env->tlb_flush is NULL
#   VMAR_LINUX       1: add the Linux syscall layer (docs/LINUX.md)
#   VMAR_ATOMIC_OPS_INCLUDE_DIR  the folder holding libatomic_ops'
#                    atomic_ops.h (Debian: libatomic-ops-dev, /usr/include)
#   VMAR_DEPS_DIR    where $(VMAR_DEPS) is made (default: vmar-deps)
# Defines:
#   VMAR_SRCS        every C source to compile for VMAR_ARCH
#   VMAR_CORE_SRCS, VMAR_RADIX_SRCS, VMAR_X86_64_SRCS, VMAR_RISCV64_SRCS,
#   VMAR_LINUX_SRCS  the same, by part
#   VMAR_CPPFLAGS    -I and -D for libvmar's sources (the deps folder
#                    first, then include/, src/, src/mmu/, the backend's)
#   VMAR_INCLUDES    -I for your code: include/
#   VMAR_DEPS        $(VMAR_DEPS_DIR)/assert.h, and the rule that makes
#                    the folder: links to just atomic_ops.h and
#                    atomic_ops/ (never the whole host include folder,
#                    whose libc stdint.h would shadow the compiler's) and
#                    an assert.h that maps assert() to nothing, since
#                    atomic_ops.h includes <assert.h> and a bare-metal
#                    compiler has none. Make every libvmar object depend
#                    on it: `$(VMAR_OBJS): | $(VMAR_DEPS)`.
# Compile with your kernel's flags plus -std=c11 -ffreestanding
# (PORTING.md lists them per architecture). Several files share a base
# name across folders: keep the objects apart (e.g. mirror the folders).

VMAR_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VMAR_ATOMIC_OPS_INCLUDE_DIR ?= /usr/include
VMAR_DEPS_DIR ?= vmar-deps

VMAR_CORE_SRCS := $(sort $(wildcard $(VMAR_DIR)/src/core/*.c))
VMAR_RADIX_SRCS := $(VMAR_DIR)/src/mmu/radix.c
VMAR_X86_64_SRCS := $(sort $(wildcard $(VMAR_DIR)/src/mmu/x86_64/*.c))
VMAR_RISCV64_SRCS := $(sort $(wildcard $(VMAR_DIR)/src/mmu/riscv64/*.c))
VMAR_LINUX_SRCS := $(VMAR_DIR)/src/linux/linux.c $(VMAR_DIR)/src/linux/mlock.c

VMAR_INCLUDES := -I$(VMAR_DIR)/include
VMAR_CPPFLAGS := -I$(VMAR_DEPS_DIR) $(VMAR_INCLUDES) -I$(VMAR_DIR)/src \
    -I$(VMAR_DIR)/src/mmu
VMAR_SRCS := $(VMAR_CORE_SRCS) $(VMAR_RADIX_SRCS)

ifneq ($(filter x86_64 riscv64,$(VMAR_ARCH)),)
VMAR_SRCS += $(sort $(wildcard $(VMAR_DIR)/src/mmu/$(VMAR_ARCH)/*.c))
VMAR_CPPFLAGS += -I$(VMAR_DIR)/src/mmu/$(VMAR_ARCH)
ifeq ($(VMAR_INLINE_TLB),1)
VMAR_CPPFLAGS += -DVMAR_$(if $(filter x86_64,$(VMAR_ARCH)),X86_64,RISCV64)_INLINE_TLB
endif
else ifneq ($(VMAR_ARCH),none)
$(error libvmar: VMAR_ARCH is '$(VMAR_ARCH)'; set it to x86_64 or riscv64 (the backends), or none for the core and walker alone)
endif
ifeq ($(VMAR_LINUX),1)
VMAR_SRCS += $(VMAR_LINUX_SRCS)
endif

ifeq ($(wildcard $(VMAR_ATOMIC_OPS_INCLUDE_DIR)/atomic_ops.h),)
$(error libvmar: no atomic_ops.h in VMAR_ATOMIC_OPS_INCLUDE_DIR ($(VMAR_ATOMIC_OPS_INCLUDE_DIR)); install libatomic_ops' headers (Debian/Ubuntu: apt-get install libatomic-ops-dev) or set VMAR_ATOMIC_OPS_INCLUDE_DIR to the folder holding atomic_ops.h)
endif

# The rule must not become the includer's default goal.
vmar_saved_goal := $(.DEFAULT_GOAL)
VMAR_DEPS := $(VMAR_DEPS_DIR)/assert.h
$(VMAR_DEPS):
	mkdir -p $(VMAR_DEPS_DIR)
	ln -sfn $(abspath $(VMAR_ATOMIC_OPS_INCLUDE_DIR))/atomic_ops.h $(VMAR_DEPS_DIR)/atomic_ops.h
	ln -sfn $(abspath $(VMAR_ATOMIC_OPS_INCLUDE_DIR))/atomic_ops $(VMAR_DEPS_DIR)/atomic_ops
	printf '%s\n' '/* libvmar (Filelists.mk): libatomic_ops asserts compile to nothing. */' \
	    '#ifndef assert' '#define assert(e) ((void)0)' '#endif' > $@
.DEFAULT_GOAL := $(vmar_saved_goal)
